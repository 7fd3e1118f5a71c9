package frost

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/chacha20poly1305"
)

var dkgSizes = [][2]int{{2, 3}, {3, 5}, {7, 10}}

// dkgSession is a DKG in one process: static keys, config, participants
// and the relay. Every message crosses the "wire" as its encoding.
type dkgSession struct {
	cfg   *DKGConfig
	keys  []*DKGStaticKey
	parts []*DKGParticipant
	coord *DKGCoordinator
}

func newDKGSession(tb testing.TB, s *Suite, th, n int) *dkgSession {
	tb.Helper()
	ds := &dkgSession{cfg: &DKGConfig{Suite: s, Threshold: th}}
	for range n {
		k, err := NewDKGStaticKey(s)
		if err != nil {
			tb.Fatal(err)
		}
		ds.keys = append(ds.keys, k)
		ds.cfg.StaticKeys = append(ds.cfg.StaticKeys, k.PublicKey())
	}
	sid := make([]byte, 32)
	rand.Read(sid)
	ds.cfg.Context = DKGContext(s, sid, ds.cfg.StaticKeys)
	var err error
	if ds.coord, err = NewDKGCoordinator(ds.cfg); err != nil {
		tb.Fatal(err)
	}
	for i, k := range ds.keys {
		p, err := NewDKGParticipant(ds.cfg, uint16(i+1), k)
		if err != nil {
			tb.Fatal(err)
		}
		ds.parts = append(ds.parts, p)
	}
	return ds
}

func wire[T any](tb testing.TB, m interface{ Marshal() []byte }, dec func([]byte) (T, error)) T {
	tb.Helper()
	v, err := dec(m.Marshal())
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// run runs the three rounds honestly and returns every participant's result.
func (ds *dkgSession) run(tb testing.TB) []*DKGResult {
	tb.Helper()
	for _, p := range ds.parts {
		m, err := p.Round1()
		if err != nil {
			tb.Fatal(err)
		}
		if err := ds.coord.AddRound1(wire(tb, m, UnmarshalDKGRound1)); err != nil {
			tb.Fatal(err)
		}
	}
	r2, err := ds.coord.Round2()
	if err != nil {
		tb.Fatal(err)
	}
	for i, p := range ds.parts {
		sig, err := p.Round2(wire(tb, r2[i], UnmarshalDKGRound2))
		if err != nil {
			tb.Fatal(err)
		}
		if err := ds.coord.AddSignature(wire(tb, sig, UnmarshalDKGSignature)); err != nil {
			tb.Fatal(err)
		}
	}
	sigs, err := ds.coord.Signatures()
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]*DKGResult, len(ds.parts))
	for i, p := range ds.parts {
		if out[i], err = p.Finish(wire(tb, sigs, UnmarshalDKGSignatures)); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// groupSign runs FROST with the given key shares (any order) and
// aggregates.
func groupSign(tb testing.TB, pub *PublicKeyPackage, keys []*KeyShare, msg []byte) ([]byte, error) {
	tb.Helper()
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b *KeyShare) int { return int(a.id) - int(b.id) })
	who := make([]int, len(keys))
	for i := range who {
		who[i] = i
	}
	pkg, shares := signWith(tb, keys, who, msg)
	return Aggregate(pub, pkg, shares)
}

// checkSigns signs with a random t-subset of keys and verifies the result
// with crypto/ed25519 (Ed25519) or the suite's verifier.
func checkSigns(t *testing.T, pub *PublicKeyPackage, keys []*KeyShare, rng *mrand.Rand) {
	t.Helper()
	perm := rng.Perm(len(keys))[:pub.Threshold()]
	sub := make([]*KeyShare, len(perm))
	for i, j := range perm {
		sub[i] = keys[j]
	}
	msg := fmt.Appendf(nil, "message signed by %v", perm)
	sig, err := groupSign(t, pub, sub, msg)
	if err != nil {
		t.Fatalf("signers %v: %v", perm, err)
	}
	if pub.Suite() == Ed25519 {
		if !ed25519.Verify(pub.GroupKey(), msg, sig) {
			t.Fatalf("crypto/ed25519 rejects the group signature of signers %v", perm)
		}
	} else if err := pub.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
}

func results(rs []*DKGResult) ([]*KeyShare, *PublicKeyPackage) {
	ks := make([]*KeyShare, len(rs))
	for i, r := range rs {
		ks[i] = r.KeyShare
	}
	return ks, rs[0].PublicKey
}

// TestDKG: every participant gets the same group key, public key package
// and certificate; the certificate verifies, its public key package is the
// participants', the coordinator's copy is identical; random t-subsets
// sign and crypto/ed25519 accepts Ed25519 signatures; every participant can
// recover its share from the certificate and its bundle.
func TestDKG(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, s := range []*Suite{Ed25519, Ristretto255} {
		for _, sz := range dkgSizes {
			t.Run(fmt.Sprintf("%s/%d-of-%d", s, sz[0], sz[1]), func(t *testing.T) {
				ds := newDKGSession(t, s, sz[0], sz[1])
				rs := ds.run(t)
				pubEnc := rs[0].PublicKey.Marshal()
				certEnc := rs[0].Certificate.Marshal()
				for i, r := range rs {
					if !bytes.Equal(r.PublicKey.Marshal(), pubEnc) || !bytes.Equal(r.Certificate.Marshal(), certEnc) {
						t.Fatalf("participant %d has another public key package or certificate", i+1)
					}
					if r.KeyShare.Identifier() != uint16(i+1) || !bytes.Equal(r.KeyShare.GroupKey(), rs[0].PublicKey.GroupKey()) {
						t.Fatalf("participant %d: key share for another identifier or key", i+1)
					}
				}
				cert, err := UnmarshalDKGCertificate(certEnc)
				if err != nil {
					t.Fatal(err)
				}
				if err := cert.Verify(); err != nil {
					t.Fatal(err)
				}
				auditPub, err := cert.PublicKeyPackage()
				if err != nil || !bytes.Equal(auditPub.Marshal(), pubEnc) {
					t.Fatalf("certificate's public key package differs: %v", err)
				}
				cc, err := ds.coord.Certificate()
				if err != nil || !bytes.Equal(cc.Marshal(), certEnc) {
					t.Fatalf("coordinator's certificate differs: %v", err)
				}
				ks, pub := results(rs)
				for range 3 {
					checkSigns(t, pub, ks, rng)
				}
				for i, r := range rs {
					rec, err := RecoverDKG(ds.keys[i], cert, r.RecoveryBundle)
					if err != nil || !bytes.Equal(rec.KeyShare.Marshal(), r.KeyShare.Marshal()) {
						t.Fatalf("participant %d: recovery gives another share: %v", i+1, err)
					}
				}
			})
		}
	}
}

// TestDKGAllSubsetsSign: in a 2-of-3 and a 3-of-5 DKG key every subset of
// size t signs, and every subset of size t−1 is refused.
func TestDKGAllSubsetsSign(t *testing.T) {
	for _, sz := range [][2]int{{2, 3}, {3, 5}} {
		ks, pub := results(newDKGSession(t, Ed25519, sz[0], sz[1]).run(t))
		for mask := range 1 << sz[1] {
			var sub []*KeyShare
			for i := range sz[1] {
				if mask&(1<<i) != 0 {
					sub = append(sub, ks[i])
				}
			}
			switch len(sub) {
			case sz[0]:
				sig, err := groupSign(t, pub, sub, []byte("all subsets"))
				if err != nil || !ed25519.Verify(pub.GroupKey(), []byte("all subsets"), sig) {
					t.Fatalf("subset %b: %v", mask, err)
				}
			case sz[0] - 1:
				comms := make([]*SigningCommitments, len(sub))
				for i, k := range sub {
					_, comms[i], _ = Commit(k)
				}
				pkg, err := NewSigningPackage([]byte("too few"), comms)
				if err == nil {
					n, _, _ := Commit(sub[0])
					_, err = Sign(sub[0], n, pkg)
				}
				if !errors.Is(err, ErrTooFewSigners) && !errors.Is(err, ErrCommitment) {
					t.Fatalf("subset %b of size t−1: got %v, want ErrTooFewSigners", mask, err)
				}
			}
		}
	}
}

// reencrypt replaces c_{from,to} in m with an encryption of value under the
// sender's keys; the test knows the ephemeral secret because it drove the
// sender with a known stream.
func reencrypt(ds *dkgSession, m *DKGRound1, eph *edwards25519.Scalar, to uint16, value *edwards25519.Scalar) {
	s := ds.cfg.Suite
	sender := ds.keys[m.from-1]
	pr := ds.parts[to-1].key.p
	se := new(edwards25519.Point).ScalarMult(eph, pr)
	sd := new(edwards25519.Point).ScalarMult(&sender.d, pr)
	key, nonce := deriveKeyNonce(s, se, sd, m.eph, sender.p, pr, ds.cfg.Context)
	aead, _ := chacha20poly1305.NewX(key)
	m.cts[to-1] = aead.Seal(nil, nonce, value.Bytes(), nil)
}

// seeded drives participant i with a known stream and returns it to
// replay the polynomial and the ephemeral key.
func (ds *dkgSession) seeded(i int) func() ([]*edwards25519.Scalar, *edwards25519.Scalar) {
	label := fmt.Sprintf("test participant %d", i+1)
	prefix := vectorPrefix(ds.cfg.Suite, ds.cfg.Threshold, len(ds.keys), label)
	ds.parts[i].rand = &vectorStream{prefix: prefix}
	return func() ([]*edwards25519.Scalar, *edwards25519.Scalar) {
		st := &vectorStream{prefix: prefix}
		poly := make([]*edwards25519.Scalar, ds.cfg.Threshold)
		for k := range poly {
			poly[k] = nonzeroScalar(st)
		}
		return poly, nonzeroScalar(st)
	}
}

// TestDKGCheatingDealerBadShare: dealer 2 sends participant 3 a share off
// its commitment (encrypted properly, so only the VSS check catches it);
// participant 3 blames 2 with the share, and anyone can check the blame
// against the public commitment; the DKG cannot finish.
func TestDKGCheatingDealerBadShare(t *testing.T) {
	for _, s := range []*Suite{Ed25519, Ristretto255} {
		ds := newDKGSession(t, s, 2, 3)
		replay := ds.seeded(1)
		for _, p := range ds.parts {
			m, err := p.Round1()
			if err != nil {
				t.Fatal(err)
			}
			if p.id == 2 {
				poly, eph := replay()
				bad := evalPolynomial(poly, scalarFromUint16(3))
				bad.Add(bad, scalarFromUint16(1))
				reencrypt(ds, m, eph, 3, bad)
			}
			if err := ds.coord.AddRound1(m); err != nil {
				t.Fatal(err) // the coordinator cannot see it
			}
		}
		r2, _ := ds.coord.Round2()
		for i, p := range ds.parts {
			_, err := p.Round2(r2[i])
			if i+1 != 3 {
				if err != nil {
					t.Fatalf("participant %d: %v", i+1, err)
				}
				continue
			}
			var be *DKGBlameError
			if !errors.As(err, &be) || !errors.Is(err, ErrDKGCheater) || be.Participant != 2 || be.Reason != BlameShare {
				t.Fatalf("participant 3: got %v, want blame of 2 for a bad share", err)
			}
			// Public check of the blame: share·B ≠ Σ 3^k·C_{2,k}.
			sh, _ := decodeScalar(be.Share)
			if s.cs.equal(new(edwards25519.Point).ScalarBaseMult(sh), evalCommitment(r2[2].entries[1].commit, scalarFromUint16(3))) {
				t.Fatal("the blamed share matches the commitment")
			}
			if _, err := p.Round2(r2[i]); !errors.Is(err, ErrDKGState) {
				t.Fatalf("aborted participant accepted another call: %v", err)
			}
		}
		if _, err := ds.coord.Signatures(); !errors.Is(err, ErrDKGState) {
			t.Fatalf("signatures without participant 3's: %v", err)
		}
	}
}

// TestDKGCheatingDealerBadPoP: a PoP that does not verify is blamed on its
// sender by the coordinator and, if the coordinator relays it anyway, by
// every participant.
func TestDKGCheatingDealerBadPoP(t *testing.T) {
	ds := newDKGSession(t, Ristretto255, 3, 5)
	for _, p := range ds.parts {
		m, err := p.Round1()
		if err != nil {
			t.Fatal(err)
		}
		if p.id == 4 {
			m.pop[40] ^= 1
			var be *DKGBlameError
			if err := ds.coord.AddRound1(m); !errors.As(err, &be) || be.Participant != 4 || be.Reason != BlamePoP {
				t.Fatalf("coordinator: got %v, want blame of 4 for its PoP", err)
			}
			ds.coord.r1[3] = m // a coordinator that relays it anyway
			continue
		}
		if err := ds.coord.AddRound1(m); err != nil {
			t.Fatal(err)
		}
	}
	r2, _ := ds.coord.Round2()
	for i, p := range ds.parts {
		var be *DKGBlameError
		if _, err := p.Round2(r2[i]); !errors.As(err, &be) || be.Participant != 4 || be.Reason != BlamePoP {
			t.Fatalf("participant %d: got %v, want blame of 4 for its PoP", i+1, err)
		}
	}
}

// TestDKGSplitView: dealer 2 makes two valid Round 1 messages (different
// polynomials and commitments) and the coordinator shows one to
// participant 1 and the other to participant 3. Each view is consistent,
// so Round 2 passes, but the transcripts differ and CertEq fails for every
// honest participant.
func TestDKGSplitView(t *testing.T) {
	ds := newDKGSession(t, Ed25519, 2, 3)
	twin, err := NewDKGParticipant(ds.cfg, 2, ds.keys[1])
	if err != nil {
		t.Fatal(err)
	}
	viewA, _ := NewDKGCoordinator(ds.cfg)
	viewB, _ := NewDKGCoordinator(ds.cfg)
	for _, p := range ds.parts {
		m, _ := p.Round1()
		viewA.AddRound1(m)
		if p.id != 2 {
			viewB.AddRound1(m)
		}
	}
	m2b, _ := twin.Round1()
	if err := viewB.AddRound1(m2b); err != nil {
		t.Fatal(err)
	}
	ra, _ := viewA.Round2()
	rb, _ := viewB.Round2()
	sig1, err1 := ds.parts[0].Round2(ra[0])
	sig2, err2 := ds.parts[1].Round2(ra[1])
	sig3, err3 := ds.parts[2].Round2(rb[2])
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("round 2: %v %v %v", err1, err2, err3)
	}
	relay, _ := NewDKGCoordinator(ds.cfg)
	for _, sg := range []*DKGSignature{sig1, sig2, sig3} {
		relay.AddSignature(sg)
	}
	sigs, err := relay.Signatures()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ds.parts {
		if _, err := p.Finish(sigs); !errors.Is(err, ErrDKGCertEq) {
			t.Fatalf("participant %d finished despite the split view: %v", i+1, err)
		}
	}
	if _, err := relay.Certificate(); err == nil {
		t.Fatal("the relay built a certificate from a split view")
	}
}

// TestDKGAlteredRelay: a coordinator that alters a participant's own entry,
// swaps ciphertexts, or drops a signature is caught.
func TestDKGAlteredRelay(t *testing.T) {
	ds := newDKGSession(t, Ristretto255, 2, 3)
	for _, p := range ds.parts {
		m, _ := p.Round1()
		ds.coord.AddRound1(m)
	}
	r2, _ := ds.coord.Round2()
	own := *r2[0]
	own.entries = slices.Clone(own.entries)
	own.entries[0].eph = own.entries[1].eph
	if _, err := ds.parts[0].Round2(&own); !errors.Is(err, ErrDKGCertEq) {
		t.Fatalf("own entry altered: %v", err)
	}
	swapped := *r2[1]
	swapped.entries = slices.Clone(swapped.entries)
	swapped.entries[2].ct = r2[0].entries[2].ct // participant 3's ciphertext for 1
	var be *DKGBlameError
	if _, err := ds.parts[1].Round2(&swapped); !errors.As(err, &be) || be.Participant != 3 || be.Reason != BlameDecryption {
		t.Fatalf("swapped ciphertext: %v", err)
	}
}

// TestDKGSetup refuses bad parameters and out-of-order calls.
func TestDKGSetup(t *testing.T) {
	k1, _ := NewDKGStaticKey(Ed25519)
	k2, _ := NewDKGStaticKey(Ed25519)
	kr, _ := NewDKGStaticKey(Ristretto255)
	keys := [][]byte{k1.PublicKey(), k2.PublicKey()}
	ctx := DKGContext(Ed25519, []byte("sid"), keys)
	for _, c := range []*DKGConfig{
		{Suite: Ed25519, Threshold: 3, StaticKeys: keys, Context: ctx},
		{Suite: Ed25519, Threshold: 0, StaticKeys: keys, Context: ctx},
		{Suite: Ed25519, Threshold: 1, StaticKeys: [][]byte{keys[0], keys[0]}, Context: ctx},
		{Suite: Ed25519, Threshold: 1, StaticKeys: keys},
		{Suite: Ed25519, Threshold: 1, StaticKeys: [][]byte{keys[0], make([]byte, 32)}, Context: ctx},
	} {
		if _, err := NewDKGParticipant(c, 1, k1); err == nil {
			t.Fatalf("accepted %+v", c)
		}
	}
	cfg := &DKGConfig{Suite: Ed25519, Threshold: 2, StaticKeys: keys, Context: ctx}
	if _, err := NewDKGParticipant(cfg, 1, k2); err == nil {
		t.Fatal("accepted another participant's static key")
	}
	if _, err := NewDKGParticipant(cfg, 1, kr); !errors.Is(err, ErrSuiteMismatch) {
		t.Fatalf("static key of another suite: %v", err)
	}
	p, _ := NewDKGParticipant(cfg, 1, k1)
	if _, err := p.Round2(nil); !errors.Is(err, ErrDKGState) {
		t.Fatalf("Round2 before Round1: %v", err)
	}
	if _, err := p.Finish(nil); !errors.Is(err, ErrDKGState) {
		t.Fatalf("Finish before Round2: %v", err)
	}
	p.Round1()
	if _, err := p.Round1(); !errors.Is(err, ErrDKGState) {
		t.Fatalf("Round1 twice: %v", err)
	}
}

// TestDKGProperty: for random small (t, n) in both suites, the verifying
// shares interpolate to the group key from any t of them, Σ x_i·λ_i = the
// key (checked in the exponent), and a random t-subset signs.
func TestDKGProperty(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for range 8 {
		n := 1 + rng.IntN(6)
		th := 1 + rng.IntN(n)
		s := []*Suite{Ed25519, Ristretto255}[rng.IntN(2)]
		ks, pub := results(newDKGSession(t, s, th, n).run(t))
		perm := rng.Perm(n)[:th]
		xs := make([]*edwards25519.Scalar, th)
		for i, j := range perm {
			xs[i] = scalarFromUint16(uint16(j + 1))
		}
		sum := edwards25519.NewScalar()
		for i, j := range perm {
			sum.Add(sum, new(edwards25519.Scalar).Multiply(lagrangeOne(edwards25519.NewScalar(), xs, i), &ks[j].secret))
		}
		if !s.cs.equal(new(edwards25519.Point).ScalarBaseMult(sum), pub.groupKey) {
			t.Fatalf("%s %d-of-%d: shares %v do not interpolate to the group key", s, th, n, perm)
		}
		checkSigns(t, pub, ks, rng)
	}
}

// TestDKGSecretsNotPrinted: every fmt verb prints a type that holds a
// secret through its String method (identifiers and public values only),
// never its fields.
func TestDKGSecretsNotPrinted(t *testing.T) {
	k, _ := NewDKGStaticKey(Ed25519)
	pub, ks, _ := Deal(Ed25519, nil, 2, []uint16{1, 2, 3})
	_, rshares, _ := NewRefresh(ks[0], pub, 1)
	pieces, _ := RepairSplit(ks[0], []uint16{1, 2}, 3)
	p2, _ := RepairSplit(ks[1], []uint16{1, 2}, 3)
	sum, _ := RepairCombine(Ed25519, 1, []uint16{1, 2}, 3, []*RepairPiece{pieces[0], p2[0]})
	ds := newDKGSession(t, Ed25519, 2, 3)
	for _, v := range []fmt.Stringer{k, ds.parts[0], rshares[1], pieces[1], sum} {
		want := v.String()
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, v); out != want {
				t.Fatalf("%s of %T prints %q, not its String", verb, v, out)
			}
		}
		if bytes.Contains([]byte(want), []byte(fmt.Sprintf("%x", k.Secret()))) {
			t.Fatalf("%T shows the static secret", v)
		}
	}
}

// TestRecoverDKGRefuses: recovery refuses a static key not in the
// transcript, a bundle with an altered ciphertext (naming its sender), a
// truncated bundle, and a certificate with an altered signature.
func TestRecoverDKGRefuses(t *testing.T) {
	ds := newDKGSession(t, Ristretto255, 2, 3)
	rs := ds.run(t)
	cert, bundle := rs[1].Certificate, rs[1].RecoveryBundle
	stranger, _ := NewDKGStaticKey(Ristretto255)
	if _, err := RecoverDKG(stranger, cert, bundle); !errors.Is(err, ErrIdentifier) {
		t.Fatalf("stranger's key: %v", err)
	}
	bad := bytes.Clone(bundle)
	bad[len(bad)-1] ^= 1 // last ciphertext, from participant 3
	var be *DKGBlameError
	if _, err := RecoverDKG(ds.keys[1], cert, bad); !errors.As(err, &be) || be.Participant != 3 || be.Reason != BlameDecryption {
		t.Fatalf("altered ciphertext: %v", err)
	}
	if _, err := RecoverDKG(ds.keys[1], cert, bundle[:len(bundle)-1]); !errors.Is(err, ErrEncoding) {
		t.Fatalf("truncated bundle: %v", err)
	}
	enc := cert.Marshal()
	enc[len(enc)-1] ^= 1
	altered, err := UnmarshalDKGCertificate(enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RecoverDKG(ds.keys[1], altered, bundle); !errors.Is(err, ErrDKGCertEq) {
		t.Fatalf("altered certificate signature: %v", err)
	}
}
