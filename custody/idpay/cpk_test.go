package idpay

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"filippo.io/edwards25519"
)

// cpk is a combined-public-key system (the historical scheme idpay
// replaces): a secret m×c matrix of scalars; an ID's hash picks one row per
// column, and the ID's private key is the sum of the picked entries, its
// public key the sum of the same entries of the public matrix [M]B.
type cpk struct {
	m, c   int
	secret [][]*edwards25519.Scalar // [row][column]
	public [][]*edwards25519.Point
}

func newCPK(t *testing.T, m, c int) *cpk {
	if 256%m != 0 {
		t.Fatalf("m=%d must divide 256 (unbiased row choice)", m)
	}
	k := &cpk{m: m, c: c}
	for r := 0; r < m; r++ {
		var sr []*edwards25519.Scalar
		var pr []*edwards25519.Point
		for j := 0; j < c; j++ {
			var b [64]byte
			rand.Read(b[:])
			s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
			sr = append(sr, s)
			pr = append(pr, new(edwards25519.Point).ScalarBaseMult(s))
		}
		k.secret = append(k.secret, sr)
		k.public = append(k.public, pr)
	}
	return k
}

// selection returns the ID's 0/1 selection vector over the m·c entries
// (entry r·c+j is row r of column j).
func (k *cpk) selection(id string) []int {
	v := make([]int, k.m*k.c)
	for j := 0; j < k.c; j++ {
		h := sha256.Sum256(fmt.Appendf(nil, "cpk|%s|%d", id, j))
		v[int(h[0])%k.m*k.c+j] = 1
	}
	return v
}

// privateKey is what the CPK key centre hands the user of id.
func (k *cpk) privateKey(id string) *edwards25519.Scalar {
	sum := edwards25519.NewScalar()
	for e, bit := range k.selection(id) {
		if bit == 1 {
			sum.Add(sum, k.secret[e/k.c][e%k.c])
		}
	}
	return sum
}

// publicKey is what anyone computes from the public matrix.
func (k *cpk) publicKey(id string) *edwards25519.Point {
	sum := edwards25519.NewIdentityPoint()
	for e, bit := range k.selection(id) {
		if bit == 1 {
			sum.Add(sum, k.public[e/k.c][e%k.c])
		}
	}
	return sum
}

// basis is a Gaussian elimination over the scalar field: vectors in row
// echelon form (pivot entry 1), each with the private key of the same
// linear combination of the colluders' keys.
type basis struct {
	pivots []int
	vecs   [][]*edwards25519.Scalar
	keys   []*edwards25519.Scalar
}

func scalarVec(v []int) []*edwards25519.Scalar {
	out := make([]*edwards25519.Scalar, len(v))
	one := scalarOne()
	for i, b := range v {
		out[i] = edwards25519.NewScalar()
		if b == 1 {
			out[i].Set(one)
		}
	}
	return out
}

func scalarOne() *edwards25519.Scalar {
	var b [32]byte
	b[0] = 1
	s, _ := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	return s
}

// reduce subtracts the basis from v (in insertion order, so that earlier
// pivots stay zero) and the same combination of keys from key.
func (b *basis) reduce(v []*edwards25519.Scalar, key *edwards25519.Scalar) {
	zero := edwards25519.NewScalar()
	for i, p := range b.pivots {
		f := v[p]
		if f.Equal(zero) == 1 {
			continue
		}
		f = edwards25519.NewScalar().Set(f)
		for e := range v {
			v[e].Subtract(v[e], edwards25519.NewScalar().Multiply(f, b.vecs[i][e]))
		}
		key.Subtract(key, edwards25519.NewScalar().Multiply(f, b.keys[i]))
	}
}

// add inserts a colluder's selection vector and private key; it reports
// whether the rank grew.
func (b *basis) add(v []*edwards25519.Scalar, key *edwards25519.Scalar) bool {
	b.reduce(v, key)
	zero := edwards25519.NewScalar()
	for p := range v {
		if v[p].Equal(zero) == 0 {
			inv := edwards25519.NewScalar().Invert(v[p])
			for e := range v {
				v[e].Multiply(v[e], inv)
			}
			key.Multiply(key, inv)
			b.pivots, b.vecs, b.keys = append(b.pivots, p), append(b.vecs, v), append(b.keys, key)
			return true
		}
	}
	return false
}

// TestCPKCollusion demonstrates the attack docs/CUSTODY.md derives: the
// users of a CPK system pool their private keys; once their selection
// vectors span the space of all selection vectors, which has dimension
// c(m-1)+1, they express a victim's selection vector as a combination of
// theirs (Gaussian elimination mod the group order) and compute the
// victim's private key, checked against the victim's public key. The
// victim is not among them and the attackers never see the matrix.
func TestCPKCollusion(t *testing.T) {
	for _, sz := range [][2]int{{8, 4}, {32, 2}, {16, 8}} {
		m, c := sz[0], sz[1]
		t.Run(fmt.Sprintf("%dx%d", m, c), func(t *testing.T) {
			k := newCPK(t, m, c)
			dim := c*(m-1) + 1
			var b basis
			users := 0
			for len(b.pivots) < dim {
				id := fmt.Sprintf("colluder-%d", users)
				users++
				b.add(scalarVec(k.selection(id)), k.privateKey(id))
				if users > 50*dim {
					t.Fatalf("rank stuck at %d < %d after %d users", len(b.pivots), dim, users)
				}
			}
			// No user adds rank beyond c(m-1)+1: the span is exactly that.
			for i := 0; i < 2*dim; i++ {
				id := fmt.Sprintf("extra-%d", i)
				if b.add(scalarVec(k.selection(id)), k.privateKey(id)) {
					t.Fatalf("rank exceeds c(m-1)+1 = %d", dim)
				}
			}
			for _, victim := range []string{"victim@bank.example", "ceo@shop.example"} {
				v := scalarVec(k.selection(victim))
				key := edwards25519.NewScalar()
				b.reduce(v, key)
				for _, e := range v {
					if e.Equal(edwards25519.NewScalar()) == 0 {
						t.Fatalf("%s not in the colluders' span", victim)
					}
				}
				// reduce computed v - Σλ·b (= 0) and -Σλ·key: negate.
				key.Negate(key)
				if new(edwards25519.Point).ScalarBaseMult(key).Equal(k.publicKey(victim)) != 1 {
					t.Fatalf("computed key for %s does not match its public key", victim)
				}
				if key.Equal(k.privateKey(victim)) != 1 {
					t.Fatal("public keys match but private keys differ")
				}
			}
			t.Logf("%d×%d CPK: %d colluders (span dimension %d) computed the victims' keys", m, c, users, dim)
		})
	}
}
