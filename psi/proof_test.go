package psi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProof(t *testing.T) {
	k := newTestKey(t)
	y := k.Public()
	prev := randomElements(t, 1)[0]
	ctx := []byte("session 1, owner 0, hop 1")
	next, proof, err := k.Prove(ctx, &prev)
	require.NoError(t, err)

	// next is k·prev, as Blind computes it.
	want := make([]Element, 1)
	require.NoError(t, k.Blind(want, []Element{prev}))
	require.Equal(t, want[0], next)
	require.NoError(t, VerifyProof(ctx, &y, &prev, &next, &proof))

	other := newTestKey(t)
	oy := other.Public()
	onext, oproof, err := other.Prove(ctx, &prev)
	require.NoError(t, err)
	flipped := proof
	flipped[40] ^= 1 // in the response
	badChallenge := proof
	badChallenge[0] ^= 1
	nonCanonical := proof
	copy(nonCanonical[scalarSize:], mustHex(t, orderHex)) // response = ℓ
	third := randomElements(t, 1)[0]
	for _, tc := range []struct {
		name           string
		ctx            []byte
		y, prev, next  Element
		proof          Proof
		invalidElement bool
	}{
		{"another key's proof for the committed key", ctx, y, prev, onext, oproof, false},
		{"the other key's result with this key's proof", ctx, y, prev, onext, proof, false},
		{"another commitment", ctx, oy, prev, next, proof, false},
		{"another context", []byte("session 1, owner 0, hop 2"), y, prev, next, proof, false},
		{"another base", ctx, y, third, next, proof, false},
		{"base and result swapped", ctx, y, next, prev, proof, false},
		{"response altered", ctx, y, prev, next, flipped, false},
		{"challenge altered", ctx, y, prev, next, badChallenge, false},
		{"response not reduced", ctx, y, prev, next, nonCanonical, false},
		{"zero proof", ctx, y, prev, next, Proof{}, false},
		{"identity base", ctx, y, Element{}, next, proof, true},
		{"identity commitment", ctx, Element{}, prev, next, proof, true},
		{"non-canonical result", ctx, y, prev, Element{0xff}, proof, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyProof(tc.ctx, &tc.y, &tc.prev, &tc.next, &tc.proof)
			if tc.invalidElement {
				require.ErrorIs(t, err, ErrInvalidElement)
			} else {
				require.ErrorIs(t, err, ErrInvalidProof)
			}
		})
	}
	// The other key's proof is good for its own commitment.
	require.NoError(t, VerifyProof(ctx, &oy, &prev, &onext, &oproof))

	_, _, err = k.Prove(ctx, &Element{})
	require.ErrorIs(t, err, ErrInvalidElement)
}

// Two proofs of the same statement differ (fresh nonces) and both verify.
func TestProofRandomized(t *testing.T) {
	k := newTestKey(t)
	y := k.Public()
	prev := randomElements(t, 1)[0]
	n1, p1, err := k.Prove(nil, &prev)
	require.NoError(t, err)
	n2, p2, err := k.Prove(nil, &prev)
	require.NoError(t, err)
	require.Equal(t, n1, n2)
	require.NotEqual(t, p1, p2)
	require.NoError(t, VerifyProof(nil, &y, &prev, &n1, &p1))
	require.NoError(t, VerifyProof(nil, &y, &prev, &n2, &p2))
}

func TestCheckElement(t *testing.T) {
	e := randomElements(t, 1)[0]
	require.NoError(t, CheckElement(&e))
	require.ErrorIs(t, CheckElement(&Element{}), ErrInvalidElement)
	require.ErrorIs(t, CheckElement(&Element{0xff, 0xff}), ErrInvalidElement)
}

func BenchmarkProve(b *testing.B) {
	k := newTestKey(b)
	prev := randomElements(b, 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Prove([]byte("ctx"), &prev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyProof(b *testing.B) {
	k := newTestKey(b)
	y := k.Public()
	prev := randomElements(b, 1)[0]
	next, proof, err := k.Prove([]byte("ctx"), &prev)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyProof([]byte("ctx"), &y, &prev, &next, &proof); err != nil {
			b.Fatal(err)
		}
	}
}
