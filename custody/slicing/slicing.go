// Package slicing computes where the slices of a user key go and what the
// odds are that the key is lost or stolen, for the key slicing system of
// SPEC.md §4.1 (issue 10, "Placement and odds").
//
// A key is split by Shamir t-of-N sharing into N slices (distinct share
// indexes, see package share); a node may hold several of them (its weight).
// Nodes are trusted institutions or clients; each loses its slices with its
// own probability and is broken into with its own probability, independently
// of the others. The key is lost when the surviving nodes hold fewer than t
// slices, and compromised when the nodes broken into hold t or more. The rule
// of the system is that the institutions together hold fewer than t slices,
// so that no coalition of institutions can rebuild the key.
//
// Every probability is exact: inputs are rationals (*big.Rat) and the
// results come from an exact dynamic programme over the number of slices,
// never from sampling. [Plan] picks the threshold and the weights that meet a
// loss target with the least chance of compromise, within the family of
// placements described on Plan.
//
// The system this one replaces kept copies of fixed slice combinations on
// the nodes; [Replicated] computes the same odds exactly for such a layout,
// and [SeedLayout] rebuilds the seed's example (docs/CUSTODY.md).
package slicing

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Limits. They keep the exact arithmetic bounded whatever the input: the
// dynamic programme costs O(nodes × threshold) multiplications of an integer
// of up to nodes × MaxProbabilityBits bits (32 Ki bits) by one of
// MaxProbabilityBits; the worst input allowed takes under a second.
const (
	// MaxNodes bounds the nodes of a placement; the seed's largest example
	// has 210.
	MaxNodes = 512
	// MaxNodeSlices bounds the slices one node holds.
	MaxNodeSlices = 255
	// MaxSlices bounds N, the total number of slices of a placement, and so
	// the threshold. Share indexes are scalars, so this is a cost bound only.
	MaxSlices = 2048
	// MaxProbabilityBits bounds the numerator and denominator of each
	// probability, so one node cannot make every later integer huge; 64
	// bits write any probability to 19 decimal places.
	MaxProbabilityBits = 64
	// MaxTargetBits bounds a loss target's numerator and denominator; it
	// admits any P(lost) Odds computes, so a layout's exact loss can be the
	// target of another.
	MaxTargetBits = MaxNodes * MaxProbabilityBits
	// MaxProbabilityLen bounds the text ParseProbability reads.
	MaxProbabilityLen = 80
)

// Errors. Validation errors wrap one of these with the offending node.
var (
	ErrNode        = errors.New("slicing: invalid node")
	ErrProbability = errors.New("slicing: invalid probability")
	ErrThreshold   = errors.New("slicing: invalid threshold")
	ErrTooLarge    = errors.New("slicing: placement too large")
	ErrTarget      = errors.New("slicing: invalid target")
	ErrUnreachable = errors.New("slicing: no placement meets the loss target")
)

// Kind says whether a node is a trusted institution or a client.
type Kind uint8

// Node kinds. The zero Kind is invalid, so that a node's kind is always
// chosen.
const (
	Institution Kind = 1
	Client      Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Institution:
		return "institution"
	case Client:
		return "client"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Node is one holder of slices.
type Node struct {
	Name   string
	Kind   Kind
	Slices int // share indexes held, each distinct from every other node's
	// Loss is the probability that the node loses its slices for good;
	// Compromise the probability that an attacker reads them. Both in [0, 1].
	Loss, Compromise *big.Rat
}

// Placement is a threshold and the nodes holding slices. N, the number of
// slices, is the sum of the nodes' Slices.
type Placement struct {
	Threshold int
	Nodes     []Node
}

// Total returns N, the number of slices.
func (p *Placement) Total() int {
	n := 0
	for _, nd := range p.Nodes {
		n += nd.Slices
	}
	return n
}

// InstitutionSlices returns the number of slices the institutions hold
// together.
func (p *Placement) InstitutionSlices() int {
	n := 0
	for _, nd := range p.Nodes {
		if nd.Kind == Institution {
			n += nd.Slices
		}
	}
	return n
}

// Validate checks the bounds, the probabilities and 1 ≤ t ≤ N. It does not
// enforce the institutions' rule; Odds reports it.
func (p *Placement) Validate() error {
	if len(p.Nodes) == 0 || len(p.Nodes) > MaxNodes {
		return fmt.Errorf("%w: %d nodes (limit %d)", ErrTooLarge, len(p.Nodes), MaxNodes)
	}
	if err := validateNodes(p.Nodes); err != nil {
		return err
	}
	total := 0
	for i, nd := range p.Nodes {
		if nd.Slices < 0 || nd.Slices > MaxNodeSlices {
			return fmt.Errorf("%w: node %d (%q) holds %d slices (limit %d)", ErrNode, i, nd.Name, nd.Slices, MaxNodeSlices)
		}
		total += nd.Slices
	}
	if total > MaxSlices {
		return fmt.Errorf("%w: %d slices (limit %d)", ErrTooLarge, total, MaxSlices)
	}
	if p.Threshold < 1 || p.Threshold > total {
		return fmt.Errorf("%w: t = %d with N = %d", ErrThreshold, p.Threshold, total)
	}
	return nil
}

// validateNodes checks names, kinds and probabilities, not slices.
func validateNodes(nodes []Node) error {
	seen := make(map[string]bool, len(nodes))
	for i, nd := range nodes {
		if err := checkNode(i, nd.Name, nd.Kind, seen); err != nil {
			return err
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

func checkNode(i int, name string, kind Kind, seen map[string]bool) error {
	if name == "" || seen[name] {
		return fmt.Errorf("%w: node %d has an empty or repeated name %q", ErrNode, i, name)
	}
	seen[name] = true
	if kind != Institution && kind != Client {
		return fmt.Errorf("%w: node %d (%q) has kind %v", ErrNode, i, name, kind)
	}
	return nil
}

func checkProbability(r *big.Rat) error {
	return checkRat(r, MaxProbabilityBits)
}

func checkRat(r *big.Rat, bits int) error {
	if r == nil {
		return fmt.Errorf("%w: missing", ErrProbability)
	}
	if r.Num().BitLen() > bits || r.Denom().BitLen() > bits {
		return fmt.Errorf("%w: more than %d bits", ErrProbability, bits)
	}
	if r.Sign() < 0 || r.Cmp(one) > 0 {
		return fmt.Errorf("%w: %s is outside [0, 1]", ErrProbability, r.RatString())
	}
	return nil
}

var one = big.NewRat(1, 1)

// ParseProbability reads a probability written as a fraction ("1/2"), a
// decimal ("0.001") or an integer ("0", "1"). Exponents, signs and spaces are
// refused, so that short text cannot ask for a huge number.
func ParseProbability(s string) (*big.Rat, error) {
	if len(s) == 0 || len(s) > MaxProbabilityLen {
		return nil, fmt.Errorf("%w: %d characters (limit %d)", ErrProbability, len(s), MaxProbabilityLen)
	}
	num, den, frac := strings.Cut(s, "/")
	if !digits(num, !frac) || (frac && !digits(den, false)) {
		return nil, fmt.Errorf("%w: %q is not a fraction or a decimal", ErrProbability, s)
	}
	r := new(big.Rat)
	if frac {
		var n, d big.Int
		n.SetString(num, 10)
		d.SetString(den, 10)
		if d.Sign() == 0 {
			return nil, fmt.Errorf("%w: %q has a zero denominator", ErrProbability, s)
		}
		r.SetFrac(&n, &d)
	} else if _, ok := r.SetString(num); !ok {
		return nil, fmt.Errorf("%w: %q is not a decimal", ErrProbability, s)
	}
	if err := checkProbability(r); err != nil {
		return nil, err
	}
	return r, nil
}

// digits reports whether s is a non-empty run of ASCII digits, with at most
// one '.' between digits if point is set.
func digits(s string, point bool) bool {
	if s == "" {
		return false
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && point && dot < 0:
			dot = i
		default:
			return false
		}
	}
	return dot != 0 && dot != len(s)-1
}
