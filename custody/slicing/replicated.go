package slicing

import (
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
)

// MaxReplicatedSlices bounds the distinct slices of a Replicated layout: its
// dynamic programme has 2^Slices states. The seed uses 10; at 12 the worst
// input allowed took 5 s, at 10 about a second.
const MaxReplicatedSlices = 10

// Replica is a node of a Replicated layout: it keeps copies of the slices
// numbered in Holds (0 ≤ slice < Replicated.Slices).
type Replica struct {
	Name             string
	Kind             Kind
	Holds            []int
	Loss, Compromise *big.Rat
}

// Replicated is a layout of copies: the key is cut into Slices distinct
// slices, any Threshold distinct ones rebuild it, and each node keeps copies
// of a fixed combination of them. This is the seed system's model; unlike a
// Placement, two nodes may hold the same slice.
type Replicated struct {
	Slices    int
	Threshold int
	Nodes     []Replica
}

// Validate checks the bounds, the probabilities and 1 ≤ Threshold ≤ Slices.
func (r *Replicated) Validate() error {
	if r.Slices < 1 || r.Slices > MaxReplicatedSlices {
		return fmt.Errorf("%w: %d distinct slices (limit %d)", ErrTooLarge, r.Slices, MaxReplicatedSlices)
	}
	if r.Threshold < 1 || r.Threshold > r.Slices {
		return fmt.Errorf("%w: t = %d with %d distinct slices", ErrThreshold, r.Threshold, r.Slices)
	}
	if len(r.Nodes) == 0 || len(r.Nodes) > MaxNodes {
		return fmt.Errorf("%w: %d nodes (limit %d)", ErrTooLarge, len(r.Nodes), MaxNodes)
	}
	seen := make(map[string]bool, len(r.Nodes))
	for i, nd := range r.Nodes {
		if err := checkNode(i, nd.Name, nd.Kind, seen); err != nil {
			return err
		}
		if _, err := r.mask(nd); err != nil {
			return fmt.Errorf("%w: node %d (%q): %v", ErrNode, i, nd.Name, err)
		}
		if err := checkProbability(nd.Loss); err != nil {
			return fmt.Errorf("node %d (%q) loss: %w", i, nd.Name, err)
		}
		if err := checkProbability(nd.Compromise); err != nil {
			return fmt.Errorf("node %d (%q) compromise: %w", i, nd.Name, err)
		}
	}
	return nil
}

func (r *Replicated) mask(nd Replica) (uint32, error) {
	var m uint32
	for _, s := range nd.Holds {
		if s < 0 || s >= r.Slices {
			return 0, fmt.Errorf("slice %d out of range", s)
		}
		if m&(1<<s) != 0 {
			return 0, fmt.Errorf("slice %d listed twice", s)
		}
		m |= 1 << s
	}
	return m, nil
}

// Odds computes the exact odds of the layout: lost when fewer than
// Threshold distinct slices survive on some node, compromised when the nodes
// broken into hold Threshold distinct slices between them.
//
// The dynamic programme's state is the set of distinct slices collected so
// far: O(len(Nodes) × 2^Slices) integer multiply-adds.
func (r *Replicated) Odds() (*Odds, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	masks := make([]uint32, len(r.Nodes))
	var inst uint32
	for i, nd := range r.Nodes {
		masks[i], _ = r.mask(nd)
		if nd.Kind == Institution {
			inst |= masks[i]
		}
	}
	instCount := bits.OnesCount32(inst)
	o := &Odds{
		Threshold:         r.Threshold,
		Slices:            r.Slices,
		InstitutionSlices: instCount,
		InstitutionsBelow: instCount < r.Threshold,
	}
	surv := newCover(r.Slices, 0)
	comp := newCover(r.Slices, 0)
	coll := newCover(r.Slices, inst)
	for i, nd := range r.Nodes {
		surv.add(masks[i], survival(nd.Loss))
		comp.add(masks[i], nd.Compromise)
		if nd.Kind == Client {
			coll.add(masks[i], nd.Compromise)
		}
	}
	o.Lost = surv.prob(func(n int) bool { return n < r.Threshold })
	o.Compromised = comp.prob(func(n int) bool { return n >= r.Threshold })
	o.CompromisedWithInstitutions = coll.prob(func(n int) bool { return n >= r.Threshold })
	return o, nil
}

// cover is the distribution of the set of distinct slices collected:
// P(set = m) = num[m] / den.
type cover struct {
	num, next []big.Int
	den, tmp  big.Int
	cmp       big.Int
}

func newCover(slices int, start uint32) *cover {
	c := &cover{num: make([]big.Int, 1<<slices), next: make([]big.Int, 1<<slices)}
	c.num[start].SetInt64(1)
	c.den.SetInt64(1)
	return c
}

// add folds in a node that contributes the slices in m with probability q.
func (c *cover) add(m uint32, q *big.Rat) {
	if m == 0 || q.Sign() == 0 {
		return
	}
	a, b := q.Num(), q.Denom()
	c.cmp.Sub(b, a)
	for s := range c.next {
		c.next[s].SetInt64(0)
	}
	for s := range c.num {
		v := &c.num[s]
		if v.Sign() == 0 {
			continue
		}
		u := uint32(s) | m
		if u == uint32(s) { // nothing new: the node changes nothing here
			c.tmp.Mul(v, b)
			c.next[s].Add(&c.next[s], &c.tmp)
			continue
		}
		c.tmp.Mul(v, &c.cmp)
		c.next[s].Add(&c.next[s], &c.tmp)
		c.tmp.Mul(v, a)
		c.next[u].Add(&c.next[u], &c.tmp)
	}
	c.num, c.next = c.next, c.num
	c.den.Mul(&c.den, b)
}

// prob returns the probability that the number of slices collected
// satisfies f.
func (c *cover) prob(f func(int) bool) *big.Rat {
	var sum big.Int
	for s := range c.num {
		if f(bits.OnesCount32(uint32(s))) {
			sum.Add(&sum, &c.num[s])
		}
	}
	return new(big.Rat).SetFrac(&sum, &c.den)
}

// The seed's example, as docs/CUSTODY.md reads it.
const (
	SeedSlices         = 10 // the key is cut into 10 slices, all needed
	SeedPerInstitution = 4  // institution A keeps slices 0–3, B keeps 4–7
	seedInstitutions   = 2
)

// SeedLayout rebuilds the seed's example with the given number of client
// nodes, every node losing its slices with probability loss and broken into
// with probability compromise. The seed's text is not at hand; this is our
// reading of it (docs/CUSTODY.md explains why): the key is cut into 10
// slices, all of them needed; institution A keeps copies of slices 0–3 and
// institution B of slices 4–7, so together they miss two; client i keeps
// copies of every slice except slice i mod 10, the most copies a client can
// keep without holding the whole key.
func SeedLayout(clients int, loss, compromise *big.Rat) (*Replicated, error) {
	if clients < 1 || clients > MaxNodes-seedInstitutions {
		return nil, fmt.Errorf("%w: %d client nodes", ErrTooLarge, clients)
	}
	r := &Replicated{Slices: SeedSlices, Threshold: SeedSlices}
	for i := range seedInstitutions {
		holds := make([]int, SeedPerInstitution)
		for j := range holds {
			holds[j] = i*SeedPerInstitution + j
		}
		r.Nodes = append(r.Nodes, Replica{Name: "institution-" + string(rune('A'+i)), Kind: Institution, Holds: holds, Loss: loss, Compromise: compromise})
	}
	for i := range clients {
		holds := make([]int, 0, SeedSlices-1)
		for s := range SeedSlices {
			if s != i%SeedSlices {
				holds = append(holds, s)
			}
		}
		r.Nodes = append(r.Nodes, Replica{Name: "client-" + strconv.Itoa(i), Kind: Client, Holds: holds, Loss: loss, Compromise: compromise})
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// SeedNodes returns the same nodes as SeedLayout, with no slices yet, for
// Plan.
func SeedNodes(clients int, loss, compromise *big.Rat) []Node {
	nodes := make([]Node, 0, seedInstitutions+clients)
	for i := range seedInstitutions {
		nodes = append(nodes, Node{Name: "institution-" + string(rune('A'+i)), Kind: Institution, Loss: loss, Compromise: compromise})
	}
	for i := range clients {
		nodes = append(nodes, Node{Name: "client-" + strconv.Itoa(i), Kind: Client, Loss: loss, Compromise: compromise})
	}
	return nodes
}
