package share

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/maskshare/maskshare/mask"
)

func randSession(r *rand.Rand) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = byte(r.Uint32())
	}
	return s
}

func randColumns(r *rand.Rand, cols, n int) [][]uint64 {
	x := make([][]uint64, cols)
	for c := range x {
		x[c] = make([]uint64, n)
		for i := range x[c] {
			x[c][i] = r.Uint64()
		}
	}
	return x
}

func clone(x [][]uint64) [][]uint64 {
	out := make([][]uint64, len(x))
	for c := range x {
		out[c] = slices.Clone(x[c])
	}
	return out
}

// part is what party j computes from the seed it received: column c of its
// part is the stream of the seed in (session, PurposePart, c).
func part(seed mask.Seed, session [32]byte, cols, n int) [][]uint64 {
	out := make([][]uint64, cols)
	for c := range out {
		out[c] = make([]uint64, n)
		mask.Expand(out[c], seed, mask.Domain{Session: session, Purpose: mask.PurposePart, Column: uint32(c)})
	}
	return out
}

func equalColumns(a, b [][]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for c := range a {
		if !slices.Equal(a[c], b[c]) {
			return false
		}
	}
	return true
}

func TestSplitRecovers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for n := 2; n <= 8; n++ {
		for _, cols := range []int{0, 1, 3, 7} {
			for _, length := range []int{0, 1, 2, 1024, 1025, 1 + r.IntN(3000)} {
				name := fmt.Sprintf("n=%d cols=%d len=%d", n, cols, length)
				self := r.IntN(n)
				session := randSession(r)
				x := randColumns(r, cols, length)
				kept := clone(x)
				seeds, err := Split(kept, n, self, session)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(seeds) != n || seeds[self] != (mask.Seed{}) {
					t.Fatalf("%s: %d seeds, own seed %x", name, len(seeds), seeds[self])
				}

				// As the parties would: each other party j expands seeds[j]
				// on its own, and the parts plus the kept part add up to x.
				sum := clone(kept)
				for j := range n {
					if j == self {
						continue
					}
					p := part(seeds[j], session, cols, length)
					for c := range sum {
						mask.Add(sum[c], p[c])
						if length > 0 && slices.Equal(p[c], x[c]) {
							t.Errorf("%s: part %d column %d equals x", name, j, c)
						}
					}
				}
				if !equalColumns(sum, x) {
					t.Errorf("%s: kept part plus the parts is not x", name)
				}

				// AddParts does the same in one call.
				got := clone(kept)
				AddParts(got, seeds, self, session)
				if !equalColumns(got, x) {
					t.Errorf("%s: AddParts does not recover x", name)
				}

				// The kept part alone is not x.
				for c := range x {
					if length > 0 && slices.Equal(kept[c], x[c]) {
						t.Errorf("%s: kept part of column %d equals x", name, c)
					}
				}

				// The parts are bound to the session: another session does
				// not recover x.
				if cols > 0 && length > 0 {
					wrong := clone(kept)
					other := session
					other[0] ^= 1
					AddParts(wrong, seeds, self, other)
					if equalColumns(wrong, x) {
						t.Errorf("%s: AddParts with another session recovers x", name)
					}
				}
			}
		}
	}
}

// TestSplitColumnsIndependent checks that equal columns get different parts
// (the column index is in the PRG domain), so splitting does not leak that
// two columns are equal.
func TestSplitColumnsIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	col := randColumns(r, 1, 100)[0]
	x := [][]uint64{slices.Clone(col), slices.Clone(col), slices.Clone(col)}
	if _, err := Split(x, 3, 1, randSession(r)); err != nil {
		t.Fatal(err)
	}
	for a := range x {
		for b := a + 1; b < len(x); b++ {
			if slices.Equal(x[a], x[b]) {
				t.Errorf("kept parts of equal columns %d and %d are equal", a, b)
			}
		}
	}
}

func TestStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	session := randSession(r)
	seeds, err := NewSeeds(5, 2)
	if err != nil {
		t.Fatal(err)
	}
	const c = 9
	ss := Streams(seeds, 2, session, c)
	if len(ss) != 4 {
		t.Fatalf("%d streams, want 4", len(ss))
	}
	k := 0
	for j, s := range seeds {
		if j == 2 {
			continue
		}
		got := make([]uint64, 1100)
		ss[k].Read(got)
		want := part(s, session, c+1, 1100)[c]
		if !slices.Equal(got, want) {
			t.Errorf("stream %d is not the part of seed %d in column %d", k, j, c)
		}
		k++
	}
}

func TestNewSeeds(t *testing.T) {
	for _, bad := range [][2]int{{1, 0}, {0, 0}, {-1, 0}, {2, -1}, {2, 2}, {3, 3}, {3, 100}, {5, -5}} {
		if s, err := NewSeeds(bad[0], bad[1]); err == nil {
			t.Errorf("NewSeeds(%d, %d) = %d seeds, nil; want an error", bad[0], bad[1], len(s))
		}
		x := [][]uint64{{1, 2, 3}}
		if _, err := Split(x, bad[0], bad[1], [32]byte{}); err == nil {
			t.Errorf("Split(n=%d, self=%d) succeeded", bad[0], bad[1])
		}
		if !slices.Equal(x[0], []uint64{1, 2, 3}) {
			t.Errorf("Split(n=%d, self=%d) failed but changed x to %v", bad[0], bad[1], x[0])
		}
	}
	seen := map[mask.Seed]bool{}
	for n := 2; n <= 16; n++ {
		for self := range n {
			seeds, err := NewSeeds(n, self)
			if err != nil {
				t.Fatalf("NewSeeds(%d, %d): %v", n, self, err)
			}
			if len(seeds) != n {
				t.Fatalf("NewSeeds(%d, %d): %d seeds", n, self, len(seeds))
			}
			for j, s := range seeds {
				if j == self {
					if s != (mask.Seed{}) {
						t.Errorf("NewSeeds(%d, %d): own seed is not zero", n, self)
					}
					continue
				}
				if s == (mask.Seed{}) || seen[s] {
					t.Fatalf("NewSeeds(%d, %d): seed %d is zero or repeated", n, self, j)
				}
				seen[s] = true
			}
		}
	}
}
