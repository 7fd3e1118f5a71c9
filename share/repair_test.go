package share

import (
	"errors"
	"math"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// runRepair runs the three steps as the parties would: helper k only ever
// holds its own share, the pieces addressed to it and its sum. tamper, if
// set, may change the piece from helper i to helper j in transit.
func runRepair(t *testing.T, c *Commitments, helpers []Share, target uint32, tamper func(p *RepairPiece)) ([][]RepairPiece, []RepairSum, Share, error) {
	t.Helper()
	xs := make([]uint32, len(helpers))
	for i, h := range helpers {
		xs[i] = h.Index
	}
	sent := make([][]RepairPiece, len(helpers)) // sent[i][j]: from i to j
	for i := range helpers {
		own := helpers[i] // a copy: RepairSplit sees this helper's share only
		pieces, err := RepairSplit(c, &own, xs, target)
		if err != nil {
			t.Fatal(err)
		}
		if len(pieces) != len(xs) {
			t.Fatalf("%d pieces", len(pieces))
		}
		sent[i] = pieces
	}
	sums := make([]RepairSum, len(helpers))
	for j := range helpers {
		inbox := make([]RepairPiece, len(helpers))
		for i := range helpers {
			inbox[i] = sent[i][j]
			if inbox[i].To != xs[j] || inbox[i].From != xs[i] {
				t.Fatalf("piece %d→%d addressed %d→%d", xs[i], xs[j], inbox[i].From, inbox[i].To)
			}
			if tamper != nil {
				tamper(&inbox[i])
			}
		}
		var err error
		sums[j], err = RepairCombine(c, xs[j], xs, target, inbox)
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := RepairFinish(c, target, xs, sums)
	return sent, sums, s, err
}

// TestRepair: for both schemes and random t, helpers and target, the
// repaired share verifies and equals the lost one; every piece a helper
// receives from another differs between two runs and is neither the
// sender's share nor its δ_i; and the secret recovers with the repaired
// share in place of another.
func TestRepair(t *testing.T) {
	r := mrand.New(mrand.NewPCG(13, 14))
	for iter := range 12 {
		scheme := schemes[iter%2]
		th := 1 + r.IntN(6)
		n := th + 1 + r.IntN(4)
		xs := randIndexes(r, n)
		secret := randomScalar()
		shares, c := mustDeal(t, scheme, secret, th, xs, uint32(iter))
		lost := shares[0]
		helpers := shuffled(r, shares[1:])[:th+r.IntN(n-th)]
		sent1, _, got, err := runRepair(t, c, helpers, lost.Index, nil)
		if err != nil {
			t.Fatalf("%v t=%d: %v", scheme, th, err)
		}
		if got.Index != lost.Index || got.Epoch != lost.Epoch || got.Value.Equal(&lost.Value) != 1 || got.Blind.Equal(&lost.Blind) != 1 {
			t.Fatalf("%v t=%d: repaired share differs from the lost one", scheme, th)
		}
		if err := c.Verify(&got); err != nil {
			t.Fatal(err)
		}
		sent2, _, got2, err := runRepair(t, c, helpers, lost.Index, nil)
		if err != nil || got2.Value.Equal(&lost.Value) != 1 {
			t.Fatal("second repair differs")
		}
		hx := make([]uint32, len(helpers))
		for i := range helpers {
			hx[i] = helpers[i].Index
		}
		for i := range helpers {
			lambda := lagrange(hx, lost.Index)[i]
			delta := edwards25519.NewScalar().Multiply(lambda, &helpers[i].Value)
			for j := range helpers {
				if i == j {
					continue
				}
				p1, p2 := &sent1[i][j], &sent2[i][j]
				if p1.Value.Equal(&p2.Value) == 1 || (scheme == Pedersen && p1.Blind.Equal(&p2.Blind) == 1) {
					t.Fatal("piece repeated between runs")
				}
				if p1.Value.Equal(&helpers[i].Value) == 1 || p1.Value.Equal(delta) == 1 {
					t.Fatal("a piece reveals the sender's share")
				}
			}
		}
		others := append([]Share{got}, shuffled(r, shares[1:])[:th-1]...)
		if s, _, err := Recover(c, others); err != nil || s.Equal(secret) != 1 {
			t.Fatalf("recover with repaired share: %v", err)
		}
	}
}

// TestRepairPiecesUniform: the low byte of the pieces a helper sends others
// is uniform (chi-square over 256 cells, 2048 draws per secret) whatever
// the secret, here for a zero secret and a random one. The bound 400 is far
// in the tail (p < 1e-20 for 255 degrees of freedom), so an honest run does
// not fail; a piece derived from δ_i (constant across runs here) would.
func TestRepairPiecesUniform(t *testing.T) {
	for _, secret := range []*edwards25519.Scalar{edwards25519.NewScalar(), randomScalar()} {
		shares, c := mustDeal(t, Pedersen, secret, 2, seq(3), 0)
		helpers := []uint32{1, 2}
		const draws = 2048
		var counts [256]int
		for range draws {
			pieces, err := RepairSplit(c, &shares[0], helpers, 3)
			if err != nil {
				t.Fatal(err)
			}
			counts[pieces[1].Value.Bytes()[0]]++
		}
		chi := 0.0
		exp := float64(draws) / 256
		for _, k := range counts {
			chi += (float64(k) - exp) * (float64(k) - exp) / exp
		}
		if chi > 400 || math.IsNaN(chi) {
			t.Fatalf("chi-square %.1f: pieces not uniform", chi)
		}
	}
}

// TestRepairTampered: a piece or a sum changed in transit makes
// RepairFinish fail with ErrBadShare; malformed inputs are refused.
func TestRepairTampered(t *testing.T) {
	for _, scheme := range schemes {
		shares, c := mustDeal(t, scheme, randomScalar(), 3, seq(5), 1)
		one := indexScalar(1)
		hit := false
		_, _, _, err := runRepair(t, c, shares[1:4], 1, func(p *RepairPiece) {
			if !hit && p.From != p.To {
				p.Value.Add(&p.Value, one)
				hit = true
			}
		})
		var e *BadSharesError
		if !errors.Is(err, ErrBadShare) || !errors.As(err, &e) || e.Indexes[0] != 1 {
			t.Fatalf("%v tampered piece: %v", scheme, err)
		}
		if scheme == Pedersen {
			hit = false
			_, _, _, err = runRepair(t, c, shares[1:4], 1, func(p *RepairPiece) {
				if !hit {
					p.Blind.Add(&p.Blind, one)
					hit = true
				}
			})
			if !errors.Is(err, ErrBadShare) {
				t.Fatalf("tampered blind: %v", err)
			}
		}
		xs := []uint32{2, 3, 4}
		_, sums, _, err := runRepair(t, c, shares[1:4], 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		sums[2].Value.Add(&sums[2].Value, one)
		if _, err := RepairFinish(c, 1, xs, sums); !errors.Is(err, ErrBadShare) {
			t.Fatalf("tampered sum: %v", err)
		}
		// Refused inputs.
		if _, err := RepairSplit(c, &shares[1], []uint32{2, 3}, 1); !errors.Is(err, ErrParams) {
			t.Errorf("fewer than t helpers: %v", err)
		}
		if _, err := RepairSplit(c, &shares[1], []uint32{1, 2, 3}, 1); !errors.Is(err, ErrParams) {
			t.Errorf("target is a helper: %v", err)
		}
		if _, err := RepairSplit(c, &shares[0], xs, 5); !errors.Is(err, ErrParams) {
			t.Errorf("not a helper: %v", err)
		}
		bad := tamper(shares[1], "value")
		if _, err := RepairSplit(c, &bad, xs, 1); !errors.Is(err, ErrBadShare) {
			t.Errorf("bad helper share: %v", err)
		}
		if _, err := RepairFinish(c, 1, xs, sums[:2]); !errors.Is(err, ErrParams) {
			t.Errorf("missing sum: %v", err)
		}
		sums[1].From = sums[0].From
		if _, err := RepairFinish(c, 1, xs, sums); !errors.Is(err, ErrParams) {
			t.Errorf("repeated sum: %v", err)
		}
		pieces, _ := RepairSplit(c, &shares[1], xs, 1)
		if _, err := RepairCombine(c, 3, xs, 1, pieces); !errors.Is(err, ErrParams) {
			t.Errorf("pieces addressed elsewhere: %v", err)
		}
	}
}
