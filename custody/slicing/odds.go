package slicing

import (
	"fmt"
	"math"
	"math/big"
)

// Odds are the exact probabilities of a placement.
type Odds struct {
	Threshold int // t
	Slices    int // N (for a Replicated layout, the number of distinct slices)
	// InstitutionSlices is the number of (distinct) slices the institutions
	// hold together; InstitutionsBelow reports the rule InstitutionSlices < t.
	InstitutionSlices int
	InstitutionsBelow bool

	// Lost is the probability that the surviving nodes hold fewer than t
	// slices.
	Lost *big.Rat
	// Compromised is the probability that an attacker who breaks into each
	// node independently, with that node's probability, gets t slices.
	Compromised *big.Rat
	// CompromisedWithInstitutions is the same when every institution
	// colludes with the attacker: their slices are free and only the client
	// nodes are left to chance.
	CompromisedWithInstitutions *big.Rat
}

// Odds computes the exact odds of p.
//
// Each figure is one pass of a dynamic programme over the nodes whose state
// is the number of slices collected so far, capped at t (reaching t is all
// that matters): O(len(Nodes) × t) multiplications of integers over a common
// denominator, the product of the nodes' denominators.
func (p *Placement) Odds() (*Odds, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	t := p.Threshold
	inst := p.InstitutionSlices()
	o := &Odds{
		Threshold:         t,
		Slices:            p.Total(),
		InstitutionSlices: inst,
		InstitutionsBelow: inst < t,
	}

	// Lost: surviving slices stay below t.
	surv := newCount(t, 0)
	for _, nd := range p.Nodes {
		surv.add(nd.Slices, survival(nd.Loss))
	}
	o.Lost = surv.below(t)

	comp := newCount(t, 0)
	for _, nd := range p.Nodes {
		comp.add(nd.Slices, nd.Compromise)
	}
	o.Compromised = comp.atCap()

	coll := newCount(t, inst)
	for _, nd := range p.Nodes {
		if nd.Kind == Client {
			coll.add(nd.Slices, nd.Compromise)
		}
	}
	o.CompromisedWithInstitutions = coll.atCap()
	return o, nil
}

// survival returns 1 − loss.
func survival(loss *big.Rat) *big.Rat {
	return new(big.Rat).Sub(one, loss)
}

// count is the distribution of a number of slices capped at cap:
// P(state = s) = num[s] / den, with num[cap] for "cap or more". Keeping one
// common denominator makes each step integer multiply-adds, with no gcd.
type count struct {
	num      []big.Int
	next     []big.Int
	den      big.Int
	hi       int // highest state with a non-zero entry
	tmp, cmp big.Int
}

// newCount starts at start slices (capped) with probability 1.
func newCount(cap, start int) *count {
	c := &count{num: make([]big.Int, cap+1), next: make([]big.Int, cap+1)}
	c.hi = min(start, cap)
	c.num[c.hi].SetInt64(1)
	c.den.SetInt64(1)
	return c
}

// add folds in a node that contributes w slices with probability q.
func (c *count) add(w int, q *big.Rat) {
	if w == 0 || q.Sign() == 0 {
		return
	}
	cap := len(c.num) - 1
	if q.Cmp(one) == 0 { // a certain shift: no change of denominator
		// From the top down, so that a moved entry is not moved again.
		for s := cap - 1; s >= 0; s-- {
			d := min(s+w, cap)
			c.num[d].Add(&c.num[d], &c.num[s])
			c.num[s].SetInt64(0)
		}
		c.hi = min(c.hi+w, cap)
		return
	}
	a, b := q.Num(), q.Denom()
	c.cmp.Sub(b, a) // 1 − q, over b
	hi := min(c.hi+w, cap)
	for s := 0; s <= hi; s++ {
		c.next[s].SetInt64(0)
	}
	for s := 0; s <= c.hi; s++ {
		v := &c.num[s]
		if v.Sign() == 0 {
			continue
		}
		if s == cap {
			c.tmp.Mul(v, b)
			c.next[s].Add(&c.next[s], &c.tmp)
			continue
		}
		c.tmp.Mul(v, &c.cmp)
		c.next[s].Add(&c.next[s], &c.tmp)
		d := min(s+w, cap)
		c.tmp.Mul(v, a)
		c.next[d].Add(&c.next[d], &c.tmp)
	}
	c.num, c.next = c.next, c.num
	c.hi = hi
	c.den.Mul(&c.den, b)
}

// below returns P(state < t).
func (c *count) below(t int) *big.Rat {
	var sum big.Int
	for s := 0; s < t && s <= c.hi; s++ {
		sum.Add(&sum, &c.num[s])
	}
	return new(big.Rat).SetFrac(&sum, &c.den)
}

// atCap returns P(state = cap).
func (c *count) atCap() *big.Rat {
	cap := len(c.num) - 1
	if c.hi < cap {
		return new(big.Rat)
	}
	return new(big.Rat).SetFrac(&c.num[cap], &c.den)
}

// Log2 returns log₂ r, accurate to float64 precision even far below the
// float64 range (2^-5000 is fine); −Inf for 0.
func Log2(r *big.Rat) float64 {
	if r.Sign() == 0 {
		return math.Inf(-1)
	}
	return log2Int(r.Num()) - log2Int(r.Denom())
}

func log2Int(x *big.Int) float64 {
	shift := max(x.BitLen()-64, 0)
	top := new(big.Int).Rsh(x, uint(shift))
	f, _ := new(big.Float).SetInt(top).Float64()
	return math.Log2(f) + float64(shift)
}

// Pow2 renders r as a power of two with one decimal, as the docs show odds:
// "2^-194.0". Zero is "0" and one is "1".
func Pow2(r *big.Rat) string {
	switch {
	case r.Sign() == 0:
		return "0"
	case r.Cmp(one) == 0:
		return "1"
	}
	return fmt.Sprintf("2^%.1f", Log2(r))
}

// Float returns r as the nearest float64 (0 below about 2^-1074).
func Float(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}
