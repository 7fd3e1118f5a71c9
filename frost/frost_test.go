package frost

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

var suites = []*Suite{Ed25519, Ristretto255}

func idsUpTo(n int) []uint16 {
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = uint16(i + 1)
	}
	return ids
}

// subsets returns every k-element subset of xs, each in xs's order.
func subsets(xs []int, k int) [][]int {
	if k == 0 {
		return [][]int{nil}
	}
	if len(xs) < k {
		return nil
	}
	var out [][]int
	for _, rest := range subsets(xs[1:], k-1) {
		out = append(out, append([]int{xs[0]}, rest...))
	}
	return append(out, subsets(xs[1:], k)...)
}

// signWith runs both rounds with the keys at positions who (increasing ids).
func signWith(t testing.TB, keys []*KeyShare, who []int, msg []byte) (*SigningPackage, []*SignatureShare) {
	t.Helper()
	nonces := make([]*SigningNonces, len(who))
	comms := make([]*SigningCommitments, len(who))
	for i, w := range who {
		var err error
		if nonces[i], comms[i], err = Commit(keys[w]); err != nil {
			t.Fatal(err)
		}
	}
	p, err := NewSigningPackage(msg, comms)
	if err != nil {
		t.Fatal(err)
	}
	shares := make([]*SignatureShare, len(who))
	for i, w := range who {
		if shares[i], err = Sign(keys[w], nonces[i], p); err != nil {
			t.Fatal(err)
		}
	}
	return p, shares
}

// checkSig verifies sig with this package and, for Ed25519, crypto/ed25519.
func checkSig(t testing.TB, pub *PublicKeyPackage, msg, sig []byte) {
	t.Helper()
	if err := pub.Verify(msg, sig); err != nil {
		t.Fatalf("signature rejected: %v", err)
	}
	if pub.Suite() == Ed25519 && !ed25519.Verify(pub.GroupKey(), msg, sig) {
		t.Fatal("crypto/ed25519 rejects the group signature")
	}
}

// TestEverySubsetSigns: for (1,1), (2,3), (3,5), every subset of size t —
// and the full set — produces a signature that verifies (crypto/ed25519 for
// Ed25519).
func TestEverySubsetSigns(t *testing.T) {
	for _, s := range suites {
		for _, tn := range [][2]int{{1, 1}, {2, 3}, {3, 5}} {
			th, n := tn[0], tn[1]
			pub, keys, err := Deal(s, nil, th, idsUpTo(n))
			if err != nil {
				t.Fatal(err)
			}
			all := make([]int, n)
			for i := range all {
				all[i] = i
			}
			sets := append(subsets(all, th), all)
			for _, who := range sets {
				msg := fmt.Appendf(nil, "%s %d-of-%d by %v", s, th, n, who)
				p, shares := signWith(t, keys, who, msg)
				sig, err := Aggregate(pub, p, shares)
				if err != nil {
					t.Fatalf("%s %v: %v", s, who, err)
				}
				checkSig(t, pub, msg, sig)
				if err := pub.Verify(append(msg, 0), sig); !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("signature verifies on another message: %v", err)
				}
			}
		}
	}
}

// TestFewerThanThreshold: the API refuses t−1 commitments (Sign and
// Aggregate), and if a signer is tricked into a lower threshold, the t−1
// honest shares add up to a signature that does not verify.
func TestFewerThanThreshold(t *testing.T) {
	for _, s := range suites {
		pub, keys, err := Deal(s, nil, 3, idsUpTo(5))
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("two of three")
		n0, c0, _ := Commit(keys[0])
		_, c1, _ := Commit(keys[1])
		p, err := NewSigningPackage(msg, []*SigningCommitments{c0, c1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(keys[0], n0, p); !errors.Is(err, ErrTooFewSigners) {
			t.Fatalf("Sign with 2 of 3: %v", err)
		}
		if _, err := Aggregate(pub, p, nil); !errors.Is(err, ErrTooFewSigners) {
			t.Fatalf("Aggregate with 2 of 3: %v", err)
		}

		// Lower the threshold inside copies, so that the arithmetic runs.
		weak := []*KeyShare{cloneKey(keys[0], 2), cloneKey(keys[1], 2)}
		p2, shares := signWith(t, weak, []int{0, 1}, msg)
		weakPub := *pub
		weakPub.threshold = 2
		_, err = Aggregate(&weakPub, p2, shares)
		if !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("Aggregate of 2 shares of a 3-of-5 key: %v", err)
		}
		ss := newSession(s, pub.groupKey, p2)
		z := edwards25519.NewScalar().Add(&shares[0].z, &shares[1].z)
		forged := append(s.cs.encodeElement(ss.r), z.Bytes()...)
		if pub.Verify(msg, forged) == nil {
			t.Fatal("2 shares of a 3-of-5 key made a valid signature")
		}
		if s == Ed25519 && ed25519.Verify(pub.GroupKey(), msg, forged) {
			t.Fatal("crypto/ed25519 accepts 2 shares of a 3-of-5 key")
		}
	}
}

func cloneKey(k *KeyShare, threshold int) *KeyShare {
	c := &KeyShare{suite: k.suite, id: k.id, threshold: threshold, verifying: k.verifying, groupKey: k.groupKey}
	c.secret.Set(&k.secret)
	return c
}

// TestCheatersIdentified: an altered share, a share made with other nonces
// and a share for another message are each named by Aggregate; two cheaters
// in one run are both named.
func TestCheatersIdentified(t *testing.T) {
	type cheat func(t *testing.T, k *KeyShare, n *SigningNonces, p *SigningPackage) *SignatureShare
	altered := func(t *testing.T, k *KeyShare, n *SigningNonces, p *SigningPackage) *SignatureShare {
		sh, err := Sign(k, n, p)
		if err != nil {
			t.Fatal(err)
		}
		sh.z.Add(&sh.z, scalarFromUint16(1))
		return sh
	}
	otherNonce := func(t *testing.T, k *KeyShare, n *SigningNonces, p *SigningPackage) *SignatureShare {
		n2, _, _ := Commit(k)
		n2.commitments = n.commitments // pretend they match the published ones
		sh, err := Sign(k, n2, p)
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	otherMessage := func(t *testing.T, k *KeyShare, n *SigningNonces, p *SigningPackage) *SignatureShare {
		q, err := NewSigningPackage([]byte("pay the cheater"), p.commitments)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := Sign(k, n, q)
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	cases := []struct {
		name    string
		cheats  map[int]cheat // position among signers → cheat
		wantIDs []uint16
	}{
		{"altered", map[int]cheat{1: altered}, []uint16{3}},
		{"other nonce", map[int]cheat{0: otherNonce}, []uint16{1}},
		{"other message", map[int]cheat{3: otherMessage}, []uint16{5}},
		{"two cheaters", map[int]cheat{0: altered, 3: otherMessage}, []uint16{1, 5}},
	}
	for _, s := range suites {
		pub, keys, err := Deal(s, nil, 3, idsUpTo(5))
		if err != nil {
			t.Fatal(err)
		}
		who := []int{0, 2, 3, 4} // ids 1, 3, 4, 5
		for _, tc := range cases {
			msg := []byte("the real message")
			nonces := make([]*SigningNonces, len(who))
			comms := make([]*SigningCommitments, len(who))
			for i, w := range who {
				nonces[i], comms[i], _ = Commit(keys[w])
			}
			p, err := NewSigningPackage(msg, comms)
			if err != nil {
				t.Fatal(err)
			}
			shares := make([]*SignatureShare, len(who))
			for i, w := range who {
				if c, ok := tc.cheats[i]; ok {
					shares[i] = c(t, keys[w], nonces[i], p)
					continue
				}
				if shares[i], err = Sign(keys[w], nonces[i], p); err != nil {
					t.Fatal(err)
				}
			}
			_, err = Aggregate(pub, p, shares)
			var ce *CheaterError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidShare) {
				t.Fatalf("%s %s: want a CheaterError, got %v", s, tc.name, err)
			}
			if !slices.Equal(ce.Identifiers, tc.wantIDs) {
				t.Fatalf("%s %s: named %v, want %v", s, tc.name, ce.Identifiers, tc.wantIDs)
			}
			for i, sh := range shares {
				err := VerifySignatureShare(pub, p, sh)
				if cheated := slices.Contains(tc.wantIDs, sh.id); cheated != (err != nil) {
					t.Fatalf("%s %s: VerifySignatureShare(%d) = %v", s, tc.name, who[i]+1, err)
				}
			}
		}
	}
}

// TestNonceSingleUse: Sign consumes the nonces, also when it refuses.
func TestNonceSingleUse(t *testing.T) {
	for _, s := range suites {
		_, keys, _ := Deal(s, nil, 2, idsUpTo(3))
		n0, c0, _ := Commit(keys[0])
		n1, c1, _ := Commit(keys[1])
		p, _ := NewSigningPackage([]byte("once"), []*SigningCommitments{c0, c1})
		if _, err := Sign(keys[0], n0, p); err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(keys[0], n0, p); !errors.Is(err, ErrNonceUsed) {
			t.Fatalf("second Sign with the same nonces: %v", err)
		}
		q, _ := NewSigningPackage([]byte("twice"), []*SigningCommitments{c0, c1})
		if _, err := Sign(keys[0], n0, q); !errors.Is(err, ErrNonceUsed) {
			t.Fatalf("Sign of another message with used nonces: %v", err)
		}
		// A refused call also burns the nonces.
		if _, err := Sign(keys[2], n1, p); !errors.Is(err, ErrIdentifier) {
			t.Fatalf("Sign with another signer's nonces: %v", err)
		}
		if _, err := Sign(keys[1], n1, p); !errors.Is(err, ErrNonceUsed) {
			t.Fatalf("nonces reusable after a refused Sign: %v", err)
		}
		if !isZeroScalar(&n0.hiding) || !isZeroScalar(&n0.binding) {
			t.Fatal("used nonces not erased")
		}
		// A copy of the value made before signing is consumed too.
		n2, c2, _ := Commit(keys[2])
		p2, _ := NewSigningPackage([]byte("copy"), []*SigningCommitments{c0, c2})
		copied := *n2
		if _, err := Sign(keys[2], n2, p2); err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(keys[2], &copied, p2); !errors.Is(err, ErrNonceUsed) {
			t.Fatalf("copy of used nonces: %v", err)
		}
		if _, err := Sign(keys[2], &SigningNonces{}, p2); !errors.Is(err, ErrNonceUsed) {
			t.Fatalf("zero SigningNonces: %v", err)
		}
	}
}

// TestSigningPackageChecks: duplicates, unsorted lists, mixed suites,
// missing or altered own commitment, unknown signers are refused.
func TestSigningPackageChecks(t *testing.T) {
	_, keys, _ := Deal(Ed25519, nil, 2, idsUpTo(3))
	_, rkeys, _ := Deal(Ristretto255, nil, 2, idsUpTo(3))
	pub4, keys4, _ := Deal(Ed25519, nil, 2, []uint16{1, 2, 9})
	_, c0, _ := Commit(keys[0])
	n1, c1, _ := Commit(keys[1])
	_, c2, _ := Commit(keys[2])
	_, r2, _ := Commit(rkeys[2])
	msg := []byte("m")
	for _, tc := range []struct {
		name  string
		comms []*SigningCommitments
		want  error
	}{
		{"duplicate", []*SigningCommitments{c0, c1, c1}, ErrDuplicate},
		{"unsorted", []*SigningCommitments{c1, c0}, ErrUnsorted},
		{"empty", nil, ErrTooFewSigners},
		{"mixed suites", []*SigningCommitments{c0, r2}, ErrSuiteMismatch},
	} {
		if _, err := NewSigningPackage(msg, tc.comms); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := NewSigningPackage(make([]byte, MaxMessageSize+1), []*SigningCommitments{c0}); !errors.Is(err, ErrEncoding) {
		t.Errorf("oversized message: %v", err)
	}
	// Own commitment missing.
	p, _ := NewSigningPackage(msg, []*SigningCommitments{c0, c2})
	if _, err := Sign(keys[1], n1, p); !errors.Is(err, ErrCommitment) {
		t.Errorf("own commitment missing: %v", err)
	}
	// Own commitment altered (hiding and binding swapped).
	n1, c1, _ = Commit(keys[1])
	swapped := &SigningCommitments{suite: c1.suite, id: c1.id, hiding: c1.binding, binding: c1.hiding}
	p, _ = NewSigningPackage(msg, []*SigningCommitments{c0, swapped})
	if _, err := Sign(keys[1], n1, p); !errors.Is(err, ErrCommitment) {
		t.Errorf("own commitment altered: %v", err)
	}
	// Signer 3 is not a signer of the key with ids 1, 2, 9.
	_, c9, _ := Commit(keys4[2])
	p, _ = NewSigningPackage(msg, []*SigningCommitments{c0, c2})
	if _, err := Aggregate(pub4, p, nil); !errors.Is(err, ErrIdentifier) {
		t.Errorf("unknown signer: %v", err)
	}
	// Shares not matching the commitments.
	p, _ = NewSigningPackage(msg, []*SigningCommitments{c0, c9})
	sh := &SignatureShare{suite: Ed25519, id: 1}
	for _, shares := range [][]*SignatureShare{{sh}, {sh, sh}} {
		if _, err := Aggregate(pub4, p, shares); !errors.Is(err, ErrShares) && !errors.Is(err, ErrDuplicate) {
			t.Errorf("shares %d: %v", len(shares), err)
		}
	}
}

// TestKeyChecks: inconsistent key material and bad elements are refused.
func TestKeyChecks(t *testing.T) {
	for _, s := range suites {
		pub, keys, err := Deal(s, nil, 2, idsUpTo(3))
		if err != nil {
			t.Fatal(err)
		}
		vs := map[uint16][]byte{}
		for _, id := range pub.Identifiers() {
			vs[id], _ = pub.VerifyingShare(id)
		}
		if _, err := NewPublicKeyPackage(s, 2, pub.GroupKey(), vs); err != nil {
			t.Fatal(err)
		}
		// Swap two verifying shares: off the polynomial.
		bad := map[uint16][]byte{1: vs[2], 2: vs[1], 3: vs[3]}
		if _, err := NewPublicKeyPackage(s, 2, pub.GroupKey(), bad); !errors.Is(err, ErrInconsistentKey) {
			t.Errorf("%s swapped shares: %v", s, err)
		}
		// Another group key.
		other, _, _ := Deal(s, nil, 2, idsUpTo(3))
		if _, err := NewPublicKeyPackage(s, 2, other.GroupKey(), vs); !errors.Is(err, ErrInconsistentKey) {
			t.Errorf("%s other group key: %v", s, err)
		}
		for _, th := range []int{0, 4} {
			if _, err := NewPublicKeyPackage(s, th, pub.GroupKey(), vs); !errors.Is(err, ErrThreshold) {
				t.Errorf("%s threshold %d: %v", s, th, err)
			}
		}
		if _, err := NewPublicKeyPackage(s, 2, make([]byte, 32), vs); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s zero-bytes group key: %v", s, err)
		}
		// The secret of signer 1 offered as signer 2's.
		if _, err := NewKeyShare(pub, 2, keys[0].secret.Bytes()); !errors.Is(err, ErrInconsistentKey) {
			t.Errorf("%s wrong secret: %v", s, err)
		}
		if _, err := NewKeyShare(pub, 7, keys[0].secret.Bytes()); !errors.Is(err, ErrIdentifier) {
			t.Errorf("%s unknown id: %v", s, err)
		}
		k, err := NewKeyShare(pub, 1, keys[0].secret.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		k.Erase()
		if _, _, err := Commit(k); err == nil {
			t.Errorf("%s erased key commits", s)
		}
	}
	if _, _, err := Deal(Ed25519, nil, 2, []uint16{1, 1, 2}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate ids: %v", err)
	}
	if _, _, err := Deal(Ed25519, nil, 2, []uint16{0, 1, 2}); !errors.Is(err, ErrIdentifier) {
		t.Errorf("id 0: %v", err)
	}
}

// TestEd25519ElementChecks: identity, small-order, mixed-order and
// non-canonical encodings are refused by the Ed25519 suite.
func TestEd25519ElementChecks(t *testing.T) {
	identity := edwards25519.NewIdentityPoint().Bytes()
	// A point of order 8 (RFC 8032 small-order list).
	small := unhex(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
	g := edwards25519.NewGeneratorPoint()
	sp, err := new(edwards25519.Point).SetBytes(small)
	if err != nil {
		t.Fatal(err)
	}
	mixed := new(edwards25519.Point).Add(g, sp).Bytes()
	// y = 2^255 − 19 = p, a non-canonical encoding of y = 0.
	nonCanon := unhex(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	for name, b := range map[string][]byte{"identity": identity, "small order": small, "mixed order": mixed, "non-canonical": nonCanon} {
		if _, ok := Ed25519.cs.decodeElement(b); ok {
			t.Errorf("%s accepted", name)
		}
	}
	if _, ok := Ed25519.cs.decodeElement(g.Bytes()); !ok {
		t.Error("generator refused")
	}
}

// TestRandomMessages: a property test — random messages and random
// t-subsets of a (3,5) key always give signatures that verify, and
// flipping any bit of the signature breaks it.
func TestRandomMessages(t *testing.T) {
	for _, s := range suites {
		pub, keys, _ := Deal(s, nil, 3, idsUpTo(5))
		for range 30 {
			var r [3]byte
			rand.Read(r[:])
			msg := make([]byte, int(r[0])+int(r[1])*4)
			rand.Read(msg)
			perm := []int{0, 1, 2, 3, 4}
			for i := len(perm) - 1; i > 0; i-- {
				j := int(r[2]) % (i + 1)
				perm[i], perm[j] = perm[j], perm[i]
			}
			who := slices.Sorted(slices.Values(perm[:3]))
			p, shares := signWith(t, keys, who, msg)
			sig, err := Aggregate(pub, p, shares)
			if err != nil {
				t.Fatal(err)
			}
			checkSig(t, pub, msg, sig)
			bad := bytes.Clone(sig)
			bad[int(r[0])%64] ^= 1 << (r[1] % 8)
			if pub.Verify(msg, bad) == nil {
				t.Fatal("altered signature verifies")
			}
		}
	}
}

// TestSecretMigration: an existing crypto/ed25519 key, split with Deal,
// keeps its public key, and the threshold signatures verify under it.
func TestSecretMigration(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	sk, err := Ed25519Secret(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	pub, keys, err := Deal(Ed25519, sk, 2, idsUpTo(3))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub.GroupKey(), edPub) {
		t.Fatal("group key is not the migrated key's public key")
	}
	p, shares := signWith(t, keys, []int{0, 2}, []byte("migrated"))
	sig, err := Aggregate(pub, p, shares)
	if err != nil {
		t.Fatal(err)
	}
	checkSig(t, pub, []byte("migrated"), sig)
}
