package frost

import (
	"bytes"
	"fmt"

	"filippo.io/edwards25519"
)

// Verify checks every participant's signature on the transcript with the
// static keys the transcript lists: what an auditor does with a stored
// certificate. Signatures that do not verify give a [*DKGCertEqError].
func (c *DKGCertificate) Verify() error {
	st, _, err := parseTranscript(c.suite, c.transcript)
	if err != nil {
		return err
	}
	if len(c.sigs) != st.n {
		return fmt.Errorf("%w: %d signatures for %d participants", ErrEncoding, len(c.sigs), st.n)
	}
	var bad []uint16
	for j := range st.n {
		if !schnorrVerify(c.suite, st.keys[j], c.transcript, c.sigs[j]) {
			bad = append(bad, uint16(j+1))
		}
	}
	if bad != nil {
		return &DKGCertEqError{Participants: bad}
	}
	return nil
}

// PublicKeyPackage derives the group key and every verifying share from the
// VSS commitments in the transcript (Round 2 step 4). It does not verify
// the signatures; call Verify first.
func (c *DKGCertificate) PublicKeyPackage() (*PublicKeyPackage, error) {
	st, entries, err := parseTranscript(c.suite, c.transcript)
	if err != nil {
		return nil, err
	}
	gk, shares := dkgPublicShares(st.t, st.n, func(j int) []*edwards25519.Point { return entries[j].commit })
	pub := newPublicKeyPackage(c.suite, st.t, gk, shares)
	if err := pub.checkConsistent(); err != nil {
		return nil, err
	}
	return pub, nil
}

// RecoverDKG rebuilds a participant's DKG output from its static key, the
// success certificate and its recovery bundle C^rec_i (§Share Recovery):
// it verifies the certificate, finds the participant by its static key,
// decrypts and verifies every share against the transcript's commitments.
func RecoverDKG(key *DKGStaticKey, cert *DKGCertificate, bundle []byte) (*DKGResult, error) {
	if key == nil || cert == nil || key.suite != cert.suite {
		return nil, fmt.Errorf("%w: static key and certificate of different suites", ErrSuiteMismatch)
	}
	if err := cert.Verify(); err != nil {
		return nil, err
	}
	st, entries, err := parseTranscript(cert.suite, cert.transcript)
	if err != nil {
		return nil, err
	}
	var id uint16
	for j := range st.n {
		if st.suite.cs.equal(st.keys[j], key.p) {
			id = uint16(j + 1)
		}
	}
	if id == 0 {
		return nil, fmt.Errorf("%w: static key is not in the transcript", ErrIdentifier)
	}
	rest := bundle
	sum := edwards25519.NewScalar()
	pays := make(map[uint16][]byte)
	for j := range st.n {
		var ct []byte
		if ct, rest, err = readFrame(rest); err != nil {
			return nil, err
		}
		sji, pay, err := decryptShare(st, key, id, uint16(j+1), &entries[j], ct)
		if err != nil {
			return nil, err
		}
		if pay != nil {
			pays[uint16(j+1)] = pay
		}
		sum.Add(sum, sji)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in the recovery bundle", ErrEncoding, len(rest))
	}
	pub, err := cert.PublicKeyPackage()
	if err != nil {
		return nil, err
	}
	sk := sum.Bytes()
	defer clear(sk)
	ks, err := NewKeyShare(pub, id, sk)
	if err != nil {
		return nil, err
	}
	return &DKGResult{KeyShare: ks, PublicKey: pub, Certificate: cert, RecoveryBundle: bytes.Clone(bundle), Payloads: pays}, nil
}

// DKGCoordinator is the untrusted relay: it collects Round 1 messages,
// sends each participant its projection, collects the transcript
// signatures and broadcasts them. It holds no secret. Given the public
// setup, it checks commitment lengths and proofs of possession early and
// blames the sender ([*DKGBlameError]); participants check everything
// again themselves.
type DKGCoordinator struct {
	st   *dkgSetup
	r1   []*DKGRound1
	sigs [][]byte
}

// NewDKGCoordinator starts a coordinator for the session cfg describes.
func NewDKGCoordinator(cfg *DKGConfig) (*DKGCoordinator, error) {
	st, err := cfg.setup()
	if err != nil {
		return nil, err
	}
	return &DKGCoordinator{st: st, r1: make([]*DKGRound1, st.n), sigs: make([][]byte, st.n)}, nil
}

// AddRound1 accepts participant m.From()'s Round 1 message once.
func (c *DKGCoordinator) AddRound1(m *DKGRound1) error {
	st := c.st
	switch {
	case m == nil || m.suite != st.suite || m.n != st.n:
		return fmt.Errorf("%w: Round 1 message for another session", ErrDKGState)
	case c.r1[m.from-1] != nil:
		return fmt.Errorf("%w: second Round 1 message from %d", ErrDuplicate, m.from)
	case m.t != st.t || len(m.commit) != st.t:
		return &DKGBlameError{Participant: m.from, Reason: BlameCommitmentLength}
	case !schnorrVerify(st.suite, m.commit[0], m.popMessage(st.context), m.pop):
		return &DKGBlameError{Participant: m.from, Reason: BlamePoP}
	}
	c.r1[m.from-1] = m
	return nil
}

// Round2 returns, once every Round 1 message is in, the message for each
// participant: element i-1 is msg_{2|i}.
func (c *DKGCoordinator) Round2() ([]*DKGRound2, error) {
	st := c.st
	for j, m := range c.r1 {
		if m == nil {
			return nil, fmt.Errorf("%w: no Round 1 message from %d", ErrDKGState, j+1)
		}
	}
	out := make([]*DKGRound2, st.n)
	for i := range out {
		m := &DKGRound2{suite: st.suite, to: uint16(i + 1), t: st.t, n: st.n, entries: make([]dkgEntry, st.n)}
		for j, r := range c.r1 {
			m.entries[j] = dkgEntry{commit: r.commit, pop: r.pop, eph: r.eph, ct: r.cts[i]}
		}
		out[i] = m
	}
	return out, nil
}

// AddSignature accepts participant m.From()'s transcript signature once. The
// coordinator does not check it (it may not hold the transcript the
// participants built); [DKGCoordinator.Certificate] does.
func (c *DKGCoordinator) AddSignature(m *DKGSignature) error {
	switch {
	case m == nil || m.suite != c.st.suite || int(m.from) > c.st.n:
		return fmt.Errorf("%w: signature for another session", ErrDKGState)
	case c.sigs[m.from-1] != nil:
		return fmt.Errorf("%w: second signature from %d", ErrDuplicate, m.from)
	}
	c.sigs[m.from-1] = bytes.Clone(m.sig)
	return nil
}

// Signatures returns aggregated_sigs for broadcast once every signature is
// in.
func (c *DKGCoordinator) Signatures() (*DKGSignatures, error) {
	for j, s := range c.sigs {
		if s == nil {
			return nil, fmt.Errorf("%w: no signature from %d", ErrDKGState, j+1)
		}
	}
	return &DKGSignatures{suite: c.st.suite, sigs: cloneSigs(c.sigs)}, nil
}

// Certificate builds the success certificate from the Round 1 messages it
// relayed and the signatures, and verifies it: the coordinator's copy, for
// archiving.
func (c *DKGCoordinator) Certificate() (*DKGCertificate, error) {
	sigs, err := c.Signatures()
	if err != nil {
		return nil, err
	}
	for j, m := range c.r1 {
		if m == nil {
			return nil, fmt.Errorf("%w: no Round 1 message from %d", ErrDKGState, j+1)
		}
	}
	tr := dkgTranscript(c.st, func(j int) *dkgEntry {
		r := c.r1[j]
		return &dkgEntry{commit: r.commit, pop: r.pop, eph: r.eph}
	})
	cert := &DKGCertificate{suite: c.st.suite, transcript: tr, sigs: sigs.sigs}
	if err := cert.Verify(); err != nil {
		return nil, err
	}
	return cert, nil
}
