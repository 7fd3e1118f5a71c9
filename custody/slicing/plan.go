package slicing

import (
	"fmt"
	"math/big"
	"slices"
)

// Planner limits.
const (
	// DefaultMaxInstitutionSlices is the most slices Plan gives one
	// institution when Target.MaxInstitutionSlices is 0.
	DefaultMaxInstitutionSlices = 8
	// MaxPlanVectors bounds the institution weight vectors Plan tries,
	// (Max−Min+1)^institutions; each costs O(clients) cheap steps.
	MaxPlanVectors = 4096
	// MaxPlanInstitutions bounds the institutions Plan places: it weighs
	// each of the 2^institutions ways they can fail.
	MaxPlanInstitutions = 4
	// MaxPlanWork bounds vectors × 2^institutions × (2·clients + N), the
	// number of sums Plan evaluates, each 2^institutions products of
	// integers: the seed's example needs 63 200; the worst input the limits
	// allow (64-bit probabilities that all differ) takes about 2 s.
	MaxPlanWork = 1 << 22
)

// Target is what Plan must meet.
type Target struct {
	// Loss is the largest acceptable probability that the key is lost.
	Loss *big.Rat
	// Each institution gets between MinInstitutionSlices and
	// MaxInstitutionSlices slices (0 means DefaultMaxInstitutionSlices).
	// Whatever the range, the institutions together stay below t.
	MinInstitutionSlices, MaxInstitutionSlices int
}

// UnreachableError is returned by Plan when no placement of its family meets
// the loss target. It wraps ErrUnreachable.
type UnreachableError struct {
	Best *big.Rat // the lowest loss probability of the family
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%v: the lowest loss reachable is %s (%s)", ErrUnreachable, Pow2(e.Best), e.Best.FloatString(6))
}

func (e *UnreachableError) Unwrap() error { return ErrUnreachable }

// Plan chooses a threshold t and the slices of each node (the input's Slices
// are ignored) so that P(lost) ≤ target.Loss and the institutions together
// hold fewer than t slices, with the least P(compromised); ties go to fewer
// slices, then to the lower P(lost).
//
// The search is exact over this family, and a heuristic beyond it:
//   - each institution holds w_i slices, MinInstitutionSlices ≤ w_i ≤
//     MaxInstitutionSlices, every vector (w_1, …) tried;
//   - the clients, ranked by c/(1−l) (expected slices stolen per expected
//     slice surviving; ties to the lower loss, then input order), hold one
//     slice each for the first k of the ranking and none after, every k tried;
//   - t runs over every value with Σw_i < t ≤ N.
//
// When all clients have the same probabilities the ranking loses nothing, so
// Plan is optimal over every placement that gives clients at most one slice
// and institutions slices within the target's range. Placements that give a
// client more than one slice are outside the family: they put correlated
// slices on one node, which widens both tails (P(lost) is a low tail and
// P(compromised) a high one) for the same expected count; they usually lose,
// but that is not proved.
//
// Cost: for fixed weights and k, P(lost) grows and P(compromised) falls with
// t, so the best t is the largest that meets the target, and that t never
// falls as k grows. Plan walks k upward once, keeping the clients'
// distributions and their cumulative sums, and for each weight vector
// combines them with the 2^institutions outcomes of the institutions:
// O(clients² + vectors × (clients + N) × 2^institutions) integer operations.
func Plan(nodes []Node, target *Target) (*Placement, *Odds, error) {
	if len(nodes) == 0 || len(nodes) > MaxNodes {
		return nil, nil, fmt.Errorf("%w: %d nodes (limit %d)", ErrTooLarge, len(nodes), MaxNodes)
	}
	if err := validateNodes(nodes); err != nil {
		return nil, nil, err
	}
	if target == nil {
		return nil, nil, fmt.Errorf("%w: missing", ErrTarget)
	}
	if err := checkRat(target.Loss, MaxTargetBits); err != nil {
		return nil, nil, fmt.Errorf("%w: loss: %w", ErrTarget, err)
	}
	lo, hi := target.MinInstitutionSlices, target.MaxInstitutionSlices
	if hi == 0 {
		hi = max(DefaultMaxInstitutionSlices, lo)
	}
	if lo < 0 || hi < lo || hi > MaxNodeSlices {
		return nil, nil, fmt.Errorf("%w: institution slices %d..%d", ErrTarget, lo, hi)
	}
	var inst, clients []int
	for i, nd := range nodes {
		if nd.Kind == Institution {
			inst = append(inst, i)
		} else {
			clients = append(clients, i)
		}
	}
	if len(inst) > MaxPlanInstitutions {
		return nil, nil, fmt.Errorf("%w: %d institutions (limit %d)", ErrTooLarge, len(inst), MaxPlanInstitutions)
	}
	vectors := 1
	for range inst {
		vectors *= hi - lo + 1
		if vectors > MaxPlanVectors {
			return nil, nil, fmt.Errorf("%w: more than %d institution weight vectors", ErrTooLarge, MaxPlanVectors)
		}
	}
	maxN := len(inst)*hi + len(clients)
	if maxN > MaxSlices {
		return nil, nil, fmt.Errorf("%w: up to %d slices (limit %d)", ErrTooLarge, maxN, MaxSlices)
	}
	if work := vectors << len(inst) * (2*len(clients) + maxN); work > MaxPlanWork {
		return nil, nil, fmt.Errorf("%w: %d evaluations (limit %d)", ErrTooLarge, work, MaxPlanWork)
	}

	s := newSearch(nodes, inst, rankClients(nodes, clients), lo, hi, target.Loss)
	best := s.run()
	if best == nil {
		return nil, nil, &UnreachableError{Best: s.bestLoss}
	}
	p := &Placement{Threshold: best.t, Nodes: slices.Clone(nodes)}
	for i := range p.Nodes {
		p.Nodes[i].Slices = 0
	}
	for j, i := range inst {
		p.Nodes[i].Slices = s.vecs[best.v].w[j]
	}
	for _, i := range s.ranked[:best.k] {
		p.Nodes[i].Slices = 1
	}
	o, err := p.Odds()
	if err != nil {
		return nil, nil, err
	}
	return p, o, nil
}

// rankClients orders the clients by c/(1−l) ascending, then by loss, then
// by input order.
func rankClients(nodes []Node, clients []int) []int {
	r := slices.Clone(clients)
	slices.SortStableFunc(r, func(i, j int) int {
		ci, cj := nodes[i].Compromise, nodes[j].Compromise
		si, sj := survival(nodes[i].Loss), survival(nodes[j].Loss)
		// ci/si vs cj/sj, with x/0 = +∞ for x > 0 and 0/0 = +∞ too: a
		// client that never survives is useless.
		infI, infJ := si.Sign() == 0, sj.Sign() == 0
		switch {
		case infI && infJ:
		case infI:
			return 1
		case infJ:
			return -1
		default:
			a := new(big.Rat).Mul(ci, sj)
			b := new(big.Rat).Mul(cj, si)
			if c := a.Cmp(b); c != 0 {
				return c
			}
		}
		return nodes[i].Loss.Cmp(nodes[j].Loss)
	})
	return r
}

// vector is one choice of institution weights.
type vector struct {
	w    []int
	sum  int
	subW []int // slices of each subset of the institutions
	t    int   // largest feasible t so far, or sum when none
}

type candidate struct {
	v, k, t          int
	compNum, compDen *big.Int
	lossNum, lossDen *big.Int
	slices           int
}

type search struct {
	vecs   []vector
	ranked []int
	nodes  []Node
	target *big.Rat

	// The institutions: for each subset S (bit j for institution j),
	// P(exactly S survive) = survNum[S] / survDen, and
	// P(exactly S are broken into) = compNum[S] / compDen.
	survNum, compNum []*big.Int
	survDen, compDen *big.Int

	// The first k ranked clients: surv[x] = P(x survive) over sDen,
	// comp[x] = P(x broken into) over cDen; cdf and tail are their sums
	// P(≤ x) and P(≥ x).
	k                int
	surv, comp       []big.Int
	cdf, tail        []big.Int
	sDen, cDen       big.Int
	tmp, acc, lhs, r big.Int

	bestLoss *big.Rat
}

func newSearch(nodes []Node, inst, ranked []int, lo, hi int, target *big.Rat) *search {
	s := &search{ranked: ranked, nodes: nodes, target: target}
	n := 1 << len(inst)
	s.survNum = make([]*big.Int, n)
	s.compNum = make([]*big.Int, n)
	s.survDen, s.compDen = big.NewInt(1), big.NewInt(1)
	for S := range n {
		sn, cn := big.NewInt(1), big.NewInt(1)
		for j, i := range inst {
			l, c := nodes[i].Loss, nodes[i].Compromise
			if S&(1<<j) != 0 {
				sn.Mul(sn, new(big.Int).Sub(l.Denom(), l.Num()))
				cn.Mul(cn, c.Num())
			} else {
				sn.Mul(sn, l.Num())
				cn.Mul(cn, new(big.Int).Sub(c.Denom(), c.Num()))
			}
		}
		s.survNum[S], s.compNum[S] = sn, cn
	}
	for _, i := range inst {
		s.survDen.Mul(s.survDen, nodes[i].Loss.Denom())
		s.compDen.Mul(s.compDen, nodes[i].Compromise.Denom())
	}

	w := make([]int, len(inst))
	for j := range w {
		w[j] = lo
	}
	for {
		v := vector{w: slices.Clone(w), subW: make([]int, n)}
		for _, x := range w {
			v.sum += x
		}
		for S := range n {
			for j := range w {
				if S&(1<<j) != 0 {
					v.subW[S] += w[j]
				}
			}
		}
		v.t = v.sum
		s.vecs = append(s.vecs, v)
		j := 0
		for j < len(w) && w[j] == hi {
			w[j] = lo
			j++
		}
		if j == len(w) {
			break
		}
		w[j]++
	}

	m := len(ranked)
	s.surv, s.comp = make([]big.Int, m+1), make([]big.Int, m+1)
	s.cdf, s.tail = make([]big.Int, m+1), make([]big.Int, m+1)
	s.surv[0].SetInt64(1)
	s.comp[0].SetInt64(1)
	s.sDen.SetInt64(1)
	s.cDen.SetInt64(1)
	s.bestLoss = big.NewRat(1, 1)
	return s
}

// addClient folds the next ranked client (one slice) into surv and comp.
func (s *search) addClient() {
	nd := s.nodes[s.ranked[s.k]]
	s.k++
	step := func(dist []big.Int, den *big.Int, q *big.Rat) {
		a, b := q.Num(), q.Denom()
		var nq big.Int
		nq.Sub(b, a)
		for x := s.k; x >= 0; x-- { // top down: dist[x-1] is still old
			dist[x].Mul(&dist[x], &nq)
			if x > 0 {
				s.tmp.Mul(&dist[x-1], a)
				dist[x].Add(&dist[x], &s.tmp)
			}
		}
		den.Mul(den, b)
	}
	step(s.surv, &s.sDen, survival(nd.Loss))
	step(s.comp, &s.cDen, nd.Compromise)
	s.cdf[0].Set(&s.surv[0])
	for x := 1; x <= s.k; x++ {
		s.cdf[x].Add(&s.cdf[x-1], &s.surv[x])
	}
	s.tail[s.k].Set(&s.comp[s.k])
	for x := s.k - 1; x >= 0; x-- {
		s.tail[x].Add(&s.tail[x+1], &s.comp[x])
	}
}

// lossNum sets out to P(lost) for vector v and threshold t, over
// survDen × sDen.
func (s *search) lossNum(out *big.Int, v *vector, t int) {
	out.SetInt64(0)
	for S, p := range s.survNum {
		x := t - v.subW[S] - 1 // lost when the clients keep ≤ x
		switch {
		case x < 0:
			continue
		case x >= s.k:
			s.tmp.Mul(p, &s.sDen)
		default:
			s.tmp.Mul(p, &s.cdf[x])
		}
		out.Add(out, &s.tmp)
	}
}

// compNumAt sets out to P(compromised) for vector v and threshold t, over
// compDen × cDen.
func (s *search) compNumAt(out *big.Int, v *vector, t int) {
	out.SetInt64(0)
	for S, q := range s.compNum {
		x := t - v.subW[S] // compromised when the clients give ≥ x
		switch {
		case x > s.k:
			continue
		case x <= 0:
			s.tmp.Mul(q, &s.cDen)
		default:
			s.tmp.Mul(q, &s.tail[x])
		}
		out.Add(out, &s.tmp)
	}
}

func (s *search) feasible(v *vector, t int) bool {
	s.lossNum(&s.acc, v, t)
	s.lhs.Mul(&s.acc, s.target.Denom())
	return s.lhs.Cmp(&s.r) <= 0
}

func (s *search) run() *candidate {
	var best *candidate
	m := len(s.ranked)
	for s.k < m {
		s.addClient()
		// r = target × survDen × sDen, the bound on lossNum × target.Denom.
		s.r.Mul(s.target.Num(), s.survDen)
		s.r.Mul(&s.r, &s.sDen)
		for vi := range s.vecs {
			v := &s.vecs[vi]
			n := v.sum + s.k
			for v.t < n && s.feasible(v, v.t+1) {
				v.t++
			}
			if v.t == v.sum {
				if s.k == m { // the family's lowest loss for v
					s.lossNum(&s.acc, v, v.sum+1)
					l := new(big.Rat).SetFrac(new(big.Int).Set(&s.acc), new(big.Int).Mul(s.survDen, &s.sDen))
					if l.Cmp(s.bestLoss) < 0 {
						s.bestLoss = l
					}
				}
				continue
			}
			c := &candidate{v: vi, k: s.k, t: v.t, slices: n}
			c.compNum = new(big.Int)
			s.compNumAt(c.compNum, v, v.t)
			c.compDen = new(big.Int).Mul(s.compDen, &s.cDen)
			if best != nil {
				d := cmpFrac(c.compNum, c.compDen, best.compNum, best.compDen)
				if d > 0 || (d == 0 && c.slices > best.slices) {
					continue // worse before the loss is even looked at
				}
			}
			s.settle(c, v)
			if best == nil || better(c, best) {
				best = c
			}
		}
	}
	return best
}

// settle lowers c.t to the smallest threshold with the same P(compromised),
// which has the lowest P(lost), and fills in that loss. P(compromised) does
// not grow with t, so a binary search finds it.
func (s *search) settle(c *candidate, v *vector) {
	lo, hi := v.sum+1, c.t
	var x big.Int
	for lo < hi {
		mid := (lo + hi) / 2
		s.compNumAt(&x, v, mid)
		if x.Cmp(c.compNum) == 0 {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	c.t = lo
	c.lossNum = new(big.Int)
	s.lossNum(c.lossNum, v, c.t)
	c.lossDen = new(big.Int).Mul(s.survDen, &s.sDen)
}

// better orders candidates by P(compromised), then slices, then P(lost).
func better(a, b *candidate) bool {
	if d := cmpFrac(a.compNum, a.compDen, b.compNum, b.compDen); d != 0 {
		return d < 0
	}
	if a.slices != b.slices {
		return a.slices < b.slices
	}
	return cmpFrac(a.lossNum, a.lossDen, b.lossNum, b.lossDen) < 0
}

// cmpFrac compares a/b with c/d for positive b and d.
func cmpFrac(a, b, c, d *big.Int) int {
	var x, y big.Int
	x.Mul(a, d)
	y.Mul(c, b)
	return x.Cmp(&y)
}
