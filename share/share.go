// Package share implements secret sharing for maskshare.
//
// Additive sharing: a vector x over Z_2^64 is split into n parts that add up
// to x, element by element. n−1 of the parts are PRG streams (package mask) of
// fresh 32-byte seeds, so they travel as seeds; the party that splits keeps
// the last part, x minus the others. Any n−1 parts are jointly uniform and
// independent of x.
//
// Column c of the part of seed s is the stream of s in domain
// (session, mask.PurposePart, c).
package share

import (
	"fmt"

	"github.com/maskshare/maskshare/mask"
)

// NewSeeds draws the seeds of the parts party self gives away in a split
// among n parties: seeds[j] is for party j, seeds[self] is the zero seed.
func NewSeeds(n, self int) ([]mask.Seed, error) {
	if n < 2 || self < 0 || self >= n {
		return nil, fmt.Errorf("share: cannot split for party %d of %d", self, n)
	}
	seeds := make([]mask.Seed, n)
	for j := range seeds {
		if j != self {
			seeds[j] = mask.NewSeed()
		}
	}
	return seeds, nil
}

// Streams returns the PRG streams, for column c of domain d, of the parts
// whose seeds are given, skipping index self.
func Streams(seeds []mask.Seed, self int, session [32]byte, c int) []*mask.PRG {
	d := mask.Domain{Session: session, Purpose: mask.PurposePart, Column: uint32(c)}
	out := make([]*mask.PRG, 0, len(seeds))
	for j, s := range seeds {
		if j != self {
			out = append(out, mask.NewPRG(s, d))
		}
	}
	return out
}

// Split splits x, given as columns, among n parties: it returns the seeds of
// the parts for the others (as NewSeeds) and leaves party self's own part in
// x, so that x plus the parts of the seeds is the original x.
func Split(x [][]uint64, n, self int, session [32]byte) ([]mask.Seed, error) {
	seeds, err := NewSeeds(n, self)
	if err != nil {
		return nil, err
	}
	for c, col := range x {
		mask.Mix(col, nil, Streams(seeds, self, session, c))
	}
	return seeds, nil
}

// AddParts adds to x, given as columns, the parts of the seeds other than
// seeds[self]: what a party does with the parts it receives.
func AddParts(x [][]uint64, seeds []mask.Seed, self int, session [32]byte) {
	for c, col := range x {
		mask.Mix(col, Streams(seeds, self, session, c), nil)
	}
}
