package frost

// Distributed key generation: C2SP COCKTAIL-DKG v0.2.1
// (https://c2sp.org/cocktail-dkg), for COCKTAIL(Ed25519, SHA-512) and
// COCKTAIL(Ristretto255, SHA-512). No dealer ever holds the key: each of
// the n participants deals a Feldman sharing of its own random secret,
// encrypted share by share to the others (pairwise ECDH, XChaCha20-Poly1305),
// and everyone adds what it received. The coordinator is an untrusted
// relay; CertEq (every participant signs the transcript) makes a split view
// fail for everyone. docs/CUSTODY.md describes the flow and the formats.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/maskshare/maskshare/internal/ristretto255"
)

const (
	// MaxDKGContextSize bounds the session context (the spec's recommended
	// context is a 64-byte hash).
	MaxDKGContextSize = 4096
	// MaxDKGExtensionSize bounds the application extension in the
	// transcript.
	MaxDKGExtensionSize = 1 << 16
	// MaxCiphertextSize is the spec's MAX_CIPHERTEXT_SIZE: the largest
	// encrypted share accepted (its interoperability floor, 64 KiB). With
	// MaxSigners entries it also bounds what a Round 2 decoder allocates.
	MaxCiphertextSize = 1 << 16

	dkgSigSize    = elementSize + scalarSize
	dkgAEADTag    = chacha20poly1305.Overhead
	dkgMinCT      = scalarSize + dkgAEADTag
	dkgFrameLen   = 8
	dkgContextTag = "COCKTAIL-DKG-CONTEXT"
)

var (
	// ErrDKGCheater is wrapped by [DKGBlameError]: a participant sent
	// invalid data and is named.
	ErrDKGCheater = errors.New("frost: DKG participant misbehaved")
	// ErrDKGCertEq is wrapped by [DKGCertEqError]: transcript signatures do
	// not verify on this participant's transcript (a split view by the
	// coordinator, or a participant signing something else).
	ErrDKGCertEq = errors.New("frost: DKG transcript signatures do not verify (CertEq failed)")
	// ErrDKGState: a DKG call out of order, or after the participant
	// aborted.
	ErrDKGState = errors.New("frost: DKG call out of order or after abort")
	// ErrDKGSetup: invalid DKG parameters (threshold, static keys, context).
	ErrDKGSetup = errors.New("frost: invalid DKG setup")
)

// BlameReason says why a participant was blamed.
type BlameReason string

// Blame reasons, named after the spec's checks (§Round 2, §Error
// Handling). The first two and BlameCommitmentLength are publicly
// verifiable from the transcript; a share mismatch is publicly verifiable
// with the share ([DKGBlameError.Share]); a decryption failure is not
// (the key depends on the recipient's static secret).
const (
	BlameCommitmentLength BlameReason = "commitment does not have t points"
	BlamePoP              BlameReason = "invalid proof of possession"
	BlameDecryption       BlameReason = "encrypted share does not decrypt"
	BlamePlaintext        BlameReason = "decrypted share is not a canonical scalar"
	BlameShare            BlameReason = "share does not match the sender's VSS commitment"
	BlameRefreshZero      BlameReason = "refresh commitment does not share zero"
)

// DKGBlameError names the participant whose message failed a check. It
// wraps ErrDKGCheater.
type DKGBlameError struct {
	Participant uint16
	Reason      BlameReason
	// Share is the received share s_{j,i} for BlameShare: with the
	// sender's public commitment it lets anyone check the claim. It is
	// invalid, hence worthless to the cheater's victims.
	Share []byte
}

func (e *DKGBlameError) Error() string {
	return fmt.Sprintf("frost: DKG participant %d: %s", e.Participant, e.Reason)
}

func (e *DKGBlameError) Unwrap() error { return ErrDKGCheater }

// DKGCertEqError lists the participants whose transcript signature does not
// verify on the local transcript. It wraps ErrDKGCertEq. On its own it
// cannot tell a cheating signer from a coordinator that showed different
// participants different broadcasts.
type DKGCertEqError struct {
	Participants []uint16
}

func (e *DKGCertEqError) Error() string {
	return fmt.Sprintf("frost: DKG transcript signatures of participants %v do not verify", e.Participants)
}

func (e *DKGCertEqError) Unwrap() error { return ErrDKGCertEq }

// dkgSuite holds COCKTAIL's per-ciphersuite strings.
type dkgSuite struct {
	id, h6, h7, nonce string
}

func (s *Suite) dkg() dkgSuite {
	if s == Ed25519 {
		return dkgSuite{"COCKTAIL(Ed25519, SHA-512)", "COCKTAIL-DKG-Ed25519-SHA512-H6", "COCKTAIL-DKG-Ed25519-SHA512-H7", "COCKTAIL-DKG-Ed25519-SHA512-NONCE"}
	}
	return dkgSuite{"COCKTAIL(Ristretto255, SHA-512)", "COCKTAIL-DKG-Ristretto255-SHA512-H6", "COCKTAIL-DKG-Ristretto255-SHA512-H7", "COCKTAIL-DKG-Ristretto255-SHA512-NONCE"}
}

// DKGCiphersuiteID returns the spec's ciphersuite_id of s, e.g.
// "COCKTAIL(Ed25519, SHA-512)".
func DKGCiphersuiteID(s *Suite) string { return s.dkg().id }

// schnorrSign is the spec's Schnorr Sign: deterministic nonce k =
// HashToScalar(prefix_nonce ‖ sk ‖ m), R = k·B, c = HashToScalar(prefix_H7 ‖
// R ‖ pk ‖ m), z = k + c·sk.
func schnorrSign(s *Suite, sk *edwards25519.Scalar, m []byte) ([]byte, error) {
	ds := s.dkg()
	skb := sk.Bytes()
	k := hashToScalar(ds.nonce, skb, m)
	clear(skb)
	if isZeroScalar(k) {
		return nil, errors.New("frost: Schnorr nonce is zero; abandon this session")
	}
	pk := s.cs.encodeElement(new(edwards25519.Point).ScalarBaseMult(sk))
	r := s.cs.encodeElement(new(edwards25519.Point).ScalarBaseMult(k))
	c := hashToScalar(ds.h7, r, pk, m)
	z := edwards25519.NewScalar().MultiplyAdd(c, sk, k)
	k.Set(edwards25519.NewScalar())
	return append(r, z.Bytes()...), nil
}

// schnorrVerify is the spec's Schnorr Verify. Public data: variable time.
func schnorrVerify(s *Suite, pk *edwards25519.Point, m, sig []byte) bool {
	if len(sig) != dkgSigSize {
		return false
	}
	z, ok := decodeScalar(sig[elementSize:])
	if !ok {
		return false
	}
	r, ok := s.cs.decodeElement(sig[:elementSize])
	if !ok {
		return false
	}
	c := hashToScalar(s.dkg().h7, sig[:elementSize], s.cs.encodeElement(pk), m)
	// z·B − c·pk must be R.
	got := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(edwards25519.NewScalar().Negate(c), pk, z)
	return s.cs.equal(got, r)
}

// deriveKeyNonce is H6 for SHA-512 suites: tmp = SHA-512(prefix ‖ S_e ‖
// S_d ‖ E ‖ P_s ‖ P_r ‖ len(context) ‖ context), key = tmp[:32], nonce =
// tmp[32:56]. The ECDH products are encoded as ristretto255 for both
// suites (§ECDH Shared-Secret Encoding).
func deriveKeyNonce(s *Suite, se, sd, e, ps, pr *edwards25519.Point, context []byte) (key, nonce []byte) {
	h := sha512.New()
	h.Write([]byte(s.dkg().h6))
	h.Write(ristretto255.AppendEncoding(nil, se))
	h.Write(ristretto255.AppendEncoding(nil, sd))
	h.Write(s.cs.encodeElement(e))
	h.Write(s.cs.encodeElement(ps))
	h.Write(s.cs.encodeElement(pr))
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(context))))
	h.Write(context)
	tmp := h.Sum(nil)
	return tmp[:32], tmp[32:56]
}

// DKGStaticKey is a participant's long-term static key pair (d_i, P_i):
// it authenticates the participant in the DKG (ECDH and the transcript
// signature). It is secret; it is not a share of the group key.
type DKGStaticKey struct {
	suite *Suite
	d     edwards25519.Scalar
	p     *edwards25519.Point
}

// NewDKGStaticKey draws a static key pair from crypto/rand.
func NewDKGStaticKey(s *Suite) (*DKGStaticKey, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil suite", ErrSuiteMismatch)
	}
	return newDKGStaticKey(s, nonzeroScalar(rand.Reader))
}

// NewDKGStaticKeyFromSecret rebuilds a static key from [DKGStaticKey.Secret].
func NewDKGStaticKeyFromSecret(s *Suite, secret []byte) (*DKGStaticKey, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil suite", ErrSuiteMismatch)
	}
	d, ok := decodeScalar(secret)
	if !ok || isZeroScalar(d) {
		return nil, fmt.Errorf("%w: static secret key", ErrEncoding)
	}
	return newDKGStaticKey(s, d)
}

func newDKGStaticKey(s *Suite, d *edwards25519.Scalar) (*DKGStaticKey, error) {
	k := &DKGStaticKey{suite: s, p: new(edwards25519.Point).ScalarBaseMult(d)}
	k.d.Set(d)
	return k, nil
}

// PublicKey returns P_i, encoded for the suite.
func (k *DKGStaticKey) PublicKey() []byte { return k.suite.cs.encodeElement(k.p) }

// Secret returns d_i (32 bytes). It is secret.
func (k *DKGStaticKey) Secret() []byte { return k.d.Bytes() }

// nonzeroScalar reads 64 bytes per try from r and reduces them; the spec
// resamples a zero scalar.
func nonzeroScalar(r io.Reader) *edwards25519.Scalar {
	var b [64]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			panic("frost: randomness source failed: " + err.Error())
		}
		s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
		clear(b[:])
		if !isZeroScalar(s) {
			return s
		}
	}
}

// DKGContext is the spec's recommended session context: SHA-512 of
// "COCKTAIL-DKG-CONTEXT", the session ID and the ciphersuite ID (each with
// a big-endian 64-bit length), n (uint32, little-endian) and the static
// public keys in order. The session ID must be unique per session (e.g. 32
// random bytes).
func DKGContext(s *Suite, sessionID []byte, staticKeys [][]byte) []byte {
	h := sha512.New()
	h.Write([]byte(dkgContextTag))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(sessionID))))
	h.Write(sessionID)
	id := s.dkg().id
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(id))))
	h.Write([]byte(id))
	h.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(staticKeys))))
	for _, p := range staticKeys {
		h.Write(p)
	}
	return h.Sum(nil)
}

// DKGConfig is what all participants must agree on before Round 1.
// Participant i (1-based) is the owner of StaticKeys[i-1], and its
// identifier in the resulting key is i.
type DKGConfig struct {
	Suite     *Suite
	Threshold int
	// StaticKeys are P_1..P_n, encoded; distinct, valid, non-identity.
	StaticKeys [][]byte
	// Context must be unique to the session and bind the suite and the
	// ordered static keys: use [DKGContext].
	Context []byte
	// Extension is optional application data bound into the transcript.
	Extension []byte
}

// dkgSetup is a validated DKGConfig.
type dkgSetup struct {
	suite     *Suite
	t, n      int
	keys      []*edwards25519.Point
	keysEnc   [][]byte
	context   []byte
	extension []byte
}

func (c *DKGConfig) setup() (*dkgSetup, error) {
	if c == nil || c.Suite == nil {
		return nil, fmt.Errorf("%w: nil config or suite", ErrDKGSetup)
	}
	n := len(c.StaticKeys)
	if n < 1 || n > MaxSigners || c.Threshold < 1 || c.Threshold > n {
		return nil, fmt.Errorf("%w: t = %d, n = %d (want 1 ≤ t ≤ n ≤ %d)", ErrDKGSetup, c.Threshold, n, MaxSigners)
	}
	if len(c.Context) == 0 || len(c.Context) > MaxDKGContextSize {
		return nil, fmt.Errorf("%w: context of %d bytes", ErrDKGSetup, len(c.Context))
	}
	if len(c.Extension) > MaxDKGExtensionSize {
		return nil, fmt.Errorf("%w: extension of %d bytes", ErrDKGSetup, len(c.Extension))
	}
	st := &dkgSetup{suite: c.Suite, t: c.Threshold, n: n, context: bytes.Clone(c.Context), extension: bytes.Clone(c.Extension)}
	seen := make(map[string]bool, n)
	for j, enc := range c.StaticKeys {
		p, ok := c.Suite.cs.decodeElement(enc)
		if !ok {
			return nil, fmt.Errorf("%w: static key of participant %d is not a valid element", ErrDKGSetup, j+1)
		}
		if seen[string(enc)] {
			return nil, fmt.Errorf("%w: static key of participant %d repeated", ErrDKGSetup, j+1)
		}
		seen[string(enc)] = true
		st.keys = append(st.keys, p)
		st.keysEnc = append(st.keysEnc, bytes.Clone(enc))
	}
	return st, nil
}

type dkgState int

const (
	dkgStart dkgState = iota
	dkgSentRound1
	dkgSigned
	dkgDone
	dkgAborted
)

// DKGParticipant is one participant's COCKTAIL-DKG state machine:
// [DKGParticipant.Round1], then [DKGParticipant.Round2] with the
// coordinator's broadcast, then [DKGParticipant.Finish] with everyone's
// transcript signatures. Any error aborts it for good.
type DKGParticipant struct {
	st    *dkgSetup
	id    uint16
	key   *DKGStaticKey
	state dkgState
	rand  io.Reader // crypto/rand; tests substitute the spec's vector stream

	poly  []*edwards25519.Scalar // f_i, erased after Round 1
	out   map[uint16][]byte      // payloads to send, by recipient
	msg1  *DKGRound1
	share edwards25519.Scalar // x_i
	pub   *PublicKeyPackage
	tr    []byte // transcript T
	sig   []byte
	pays  map[uint16][]byte
	rec   []byte // C^rec_i
}

// NewDKGParticipant starts participant id (1..n), whose static key must be
// StaticKeys[id-1].
func NewDKGParticipant(cfg *DKGConfig, id uint16, key *DKGStaticKey) (*DKGParticipant, error) {
	st, err := cfg.setup()
	if err != nil {
		return nil, err
	}
	if key == nil || key.suite != st.suite {
		return nil, fmt.Errorf("%w: static key of another suite", ErrSuiteMismatch)
	}
	if id < 1 || int(id) > st.n {
		return nil, fmt.Errorf("%w: participant %d of %d", ErrIdentifier, id, st.n)
	}
	if !st.suite.cs.equal(st.keys[id-1], key.p) {
		return nil, fmt.Errorf("%w: static key is not StaticKeys[%d]", ErrDKGSetup, id-1)
	}
	return &DKGParticipant{st: st, id: id, key: key, rand: rand.Reader}, nil
}

// Identifier returns the participant's identifier.
func (p *DKGParticipant) Identifier() uint16 { return p.id }

func (p *DKGParticipant) abort(err error) error {
	p.state = dkgAborted
	clearScalarSlice(p.poly)
	p.share = edwards25519.Scalar{}
	return err
}

func clearScalarSlice(s []*edwards25519.Scalar) {
	for _, x := range s {
		x.Set(edwards25519.NewScalar())
	}
}

// SetPayloads attaches application payloads to the shares this
// participant sends (§Optional Application Payloads), by recipient; call it
// before Round1. Payloads are encrypted with the shares but are not
// verified against anything: to make everyone agree on them, send every
// recipient the same payload and bind them with [DKGPayloadExtension] as
// the configuration's Extension.
func (p *DKGParticipant) SetPayloads(payloads map[uint16][]byte) error {
	if p.state != dkgStart {
		return ErrDKGState
	}
	out := make(map[uint16][]byte, len(payloads))
	for to, pl := range payloads {
		if to < 1 || int(to) > p.st.n || len(pl) > MaxCiphertextSize-dkgMinCT {
			return fmt.Errorf("%w: payload for %d of %d bytes", ErrDKGSetup, to, len(pl))
		}
		out[to] = bytes.Clone(pl)
	}
	p.out = out
	return nil
}

// DKGPayloadExtension is the spec's recommended extension binding the
// participants' payloads (one per participant, sent to everyone):
// SHA-512(n ‖ len(payload_1) ‖ payload_1 ‖ … ‖ len(payload_n) ‖
// payload_n), lengths and n as little-endian uint64.
func DKGPayloadExtension(payloads [][]byte) []byte {
	h := sha512.New()
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(payloads))))
	for _, pl := range payloads {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(pl))))
		h.Write(pl)
	}
	return h.Sum(nil)
}

// Round1 draws the polynomial f_i and the ephemeral key, and returns
// msg_{1|i} for the coordinator: the VSS commitment, the proof of
// possession of a_{i,0}, the ephemeral public key and one encrypted share
// per participant (itself included).
func (p *DKGParticipant) Round1() (*DKGRound1, error) {
	if p.state != dkgStart {
		return nil, ErrDKGState
	}
	st, s := p.st, p.st.suite
	// Algorithm 1; the draw order a_0..a_{t-1}, e_i is the vectors'.
	p.poly = make([]*edwards25519.Scalar, st.t)
	for k := range p.poly {
		p.poly[k] = nonzeroScalar(p.rand)
	}
	e := nonzeroScalar(p.rand)
	defer e.Set(edwards25519.NewScalar())
	m := &DKGRound1{suite: s, from: p.id, t: st.t, n: st.n,
		commit: make([]*edwards25519.Point, st.t),
		eph:    new(edwards25519.Point).ScalarBaseMult(e),
		cts:    make([][]byte, st.n)}
	for k := range p.poly {
		m.commit[k] = new(edwards25519.Point).ScalarBaseMult(p.poly[k])
	}
	pop, err := schnorrSign(s, p.poly[0], m.popMessage(st.context))
	if err != nil {
		return nil, p.abort(err)
	}
	m.pop = pop
	ePub := m.eph
	for j := range st.n {
		sij := evalPolynomial(p.poly, scalarFromUint16(uint16(j+1)))
		pj := st.keys[j]
		se := new(edwards25519.Point).ScalarMult(e, pj)
		sd := new(edwards25519.Point).ScalarMult(&p.key.d, pj)
		key, nonce := deriveKeyNonce(s, se, sd, ePub, p.key.p, pj, st.context)
		aead, _ := chacha20poly1305.NewX(key)
		pt := append(sij.Bytes(), p.out[uint16(j+1)]...)
		m.cts[j] = aead.Seal(nil, nonce, pt, nil)
		clear(pt)
		clear(key)
	}
	clearScalarSlice(p.poly)
	p.poly = nil
	p.msg1 = m
	p.state = dkgSentRound1
	return m, nil
}

// Round2 processes the coordinator's broadcast msg_{2|i}: it checks every
// commitment's length and proof of possession, decrypts and verifies every
// share addressed to this participant, computes its secret share, the group
// key and all verifying shares, builds the transcript and returns its
// signature over it, for the coordinator. A check that fails names the
// sender in a [*DKGBlameError]. The coordinator altering this participant's
// own entry is refused too.
func (p *DKGParticipant) Round2(m *DKGRound2) (*DKGSignature, error) {
	if p.state != dkgSentRound1 {
		return nil, ErrDKGState
	}
	st, s := p.st, p.st.suite
	if m == nil || m.suite != s || m.to != p.id || m.n != st.n || m.t != st.t {
		return nil, p.abort(fmt.Errorf("%w: Round 2 message for another session or participant", ErrDKGState))
	}
	own := m.entries[p.id-1]
	if len(own.commit) != st.t || !slices.EqualFunc(own.commit, p.msg1.commit, s.cs.equal) ||
		!s.cs.equal(own.eph, p.msg1.eph) || !bytes.Equal(own.pop, p.msg1.pop) {
		return nil, p.abort(fmt.Errorf("%w: own Round 1 entry altered in the broadcast", ErrDKGCertEq))
	}
	sum := edwards25519.NewScalar()
	pays := make(map[uint16][]byte)
	var rec []byte
	for j := range st.n {
		e := &m.entries[j]
		from := uint16(j + 1)
		if len(e.commit) != st.t {
			return nil, p.abort(&DKGBlameError{Participant: from, Reason: BlameCommitmentLength})
		}
		if !schnorrVerify(s, e.commit[0], popMessage(s, st.context, e.commit, e.eph), e.pop) {
			return nil, p.abort(&DKGBlameError{Participant: from, Reason: BlamePoP})
		}
	}
	for j := range st.n {
		e := &m.entries[j]
		sji, pay, err := decryptShare(st, p.key, p.id, uint16(j+1), e, e.ct)
		if err != nil {
			return nil, p.abort(err)
		}
		if pay != nil {
			pays[uint16(j+1)] = pay
		}
		sum.Add(sum, sji)
		rec = appendFramed(rec, e.ct)
	}
	gk, shares := dkgPublicShares(st.t, st.n, func(j int) []*edwards25519.Point { return m.entries[j].commit })
	if !s.cs.equal(new(edwards25519.Point).ScalarBaseMult(sum), shares[p.id]) {
		return nil, p.abort(fmt.Errorf("%w: x_i·B is not Y_i", ErrInconsistentKey))
	}
	pub := newPublicKeyPackage(s, st.t, gk, shares)
	tr := dkgTranscript(st, func(j int) *dkgEntry { return &m.entries[j] })
	sig, err := schnorrSign(s, &p.key.d, tr)
	if err != nil {
		return nil, p.abort(err)
	}
	p.share.Set(sum)
	p.pub, p.tr, p.sig, p.pays, p.rec = pub, tr, sig, pays, rec
	p.state = dkgSigned
	return &DKGSignature{suite: s, from: p.id, sig: bytes.Clone(sig)}, nil
}

// decryptShare is Round 2 step 3 for the share from participant from to
// participant id: ECDH with the sender's ephemeral and static keys, H6,
// XChaCha20-Poly1305, a canonical scalar, and the VSS check against the
// sender's commitment.
func decryptShare(st *dkgSetup, key *DKGStaticKey, id, from uint16, e *dkgEntry, ct []byte) (*edwards25519.Scalar, []byte, error) {
	s := st.suite
	pj := st.keys[from-1]
	se := new(edwards25519.Point).ScalarMult(&key.d, e.eph)
	sd := new(edwards25519.Point).ScalarMult(&key.d, pj)
	k, nonce := deriveKeyNonce(s, se, sd, e.eph, pj, key.p, st.context)
	aead, _ := chacha20poly1305.NewX(k)
	pt, err := aead.Open(nil, nonce, ct, nil)
	clear(k)
	if err != nil {
		return nil, nil, &DKGBlameError{Participant: from, Reason: BlameDecryption}
	}
	defer clear(pt)
	sji, ok := decodeScalar(pt[:min(len(pt), scalarSize)])
	if !ok {
		return nil, nil, &DKGBlameError{Participant: from, Reason: BlamePlaintext}
	}
	var pay []byte
	if len(pt) > scalarSize {
		pay = bytes.Clone(pt[scalarSize:])
	}
	if !s.cs.equal(new(edwards25519.Point).ScalarBaseMult(sji), evalCommitment(e.commit, scalarFromUint16(id))) {
		return nil, nil, &DKGBlameError{Participant: from, Reason: BlameShare, Share: sji.Bytes()}
	}
	return sji, pay, nil
}

func appendFramed(b, ct []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(ct)))
	return append(b, ct...)
}

// dkgPublicShares is Round 2 step 4: Y = Σ_j C_{j,0}, and for every m,
// Y_m = Σ_k m^k·C_{agg,k} with C_{agg,k} = Σ_j C_{j,k}. Public: variable
// time.
func dkgPublicShares(t, n int, commit func(j int) []*edwards25519.Point) (*edwards25519.Point, map[uint16]*edwards25519.Point) {
	agg := make([]*edwards25519.Point, t)
	for k := range agg {
		agg[k] = edwards25519.NewIdentityPoint()
		for j := range n {
			agg[k].Add(agg[k], commit(j)[k])
		}
	}
	shares := make(map[uint16]*edwards25519.Point, n)
	for m := 1; m <= n; m++ {
		shares[uint16(m)] = evalCommitment(agg, scalarFromUint16(uint16(m)))
	}
	return agg[0], shares
}

// dkgTranscript is Round 3's canonical transcript T.
func dkgTranscript(st *dkgSetup, entry func(j int) *dkgEntry) []byte {
	s := st.suite
	id := s.dkg().id
	size := 8 + len(id) + 8 + len(st.context) + 8 + st.n*(elementSize*(2+st.t)+dkgSigSize) + 8 + len(st.extension)
	t := make([]byte, 0, size)
	t = binary.LittleEndian.AppendUint64(t, uint64(len(id)))
	t = append(t, id...)
	t = binary.LittleEndian.AppendUint64(t, uint64(len(st.context)))
	t = append(t, st.context...)
	t = binary.LittleEndian.AppendUint32(t, uint32(st.n))
	t = binary.LittleEndian.AppendUint32(t, uint32(st.t))
	for _, k := range st.keysEnc {
		t = append(t, k...)
	}
	for j := range st.n {
		for _, c := range entry(j).commit {
			t = append(t, s.cs.encodeElement(c)...)
		}
	}
	for j := range st.n {
		t = append(t, entry(j).pop...)
	}
	for j := range st.n {
		t = append(t, s.cs.encodeElement(entry(j).eph)...)
	}
	t = binary.LittleEndian.AppendUint64(t, uint64(len(st.extension)))
	return append(t, st.extension...)
}

// DKGResult is a participant's output of a successful DKG.
type DKGResult struct {
	KeyShare    *KeyShare
	PublicKey   *PublicKeyPackage
	Certificate *DKGCertificate
	// RecoveryBundle is C^rec_i, the framed ciphertexts addressed to this
	// participant: with its static key and the certificate it rebuilds the
	// key share ([RecoverDKG]). Keep it with the certificate.
	RecoveryBundle []byte
	// Payloads are the application payloads received, by sender (none
	// unless senders attached some).
	Payloads map[uint16][]byte
}

// Finish is CertEq: it checks every participant's signature on this
// participant's transcript and, if all verify, returns the key share, the
// public key package and the success certificate. Signatures that do not
// verify give a [*DKGCertEqError] naming their signers.
func (p *DKGParticipant) Finish(sigs *DKGSignatures) (*DKGResult, error) {
	if p.state != dkgSigned {
		return nil, ErrDKGState
	}
	st := p.st
	if sigs == nil || sigs.suite != st.suite || len(sigs.sigs) != st.n {
		return nil, p.abort(fmt.Errorf("%w: signature list for another session", ErrDKGCertEq))
	}
	if subtle.ConstantTimeCompare(sigs.sigs[p.id-1], p.sig) != 1 {
		return nil, p.abort(&DKGCertEqError{Participants: []uint16{p.id}})
	}
	var bad []uint16
	for j := range st.n {
		if !schnorrVerify(st.suite, st.keys[j], p.tr, sigs.sigs[j]) {
			bad = append(bad, uint16(j+1))
		}
	}
	if bad != nil {
		return nil, p.abort(&DKGCertEqError{Participants: bad})
	}
	sk := p.share.Bytes()
	defer clear(sk)
	ks, err := NewKeyShare(p.pub, p.id, sk)
	if err != nil {
		return nil, p.abort(err)
	}
	p.share = edwards25519.Scalar{}
	p.state = dkgDone
	cert := &DKGCertificate{suite: st.suite, transcript: p.tr, sigs: cloneSigs(sigs.sigs)}
	return &DKGResult{KeyShare: ks, PublicKey: p.pub, Certificate: cert, RecoveryBundle: p.rec, Payloads: p.pays}, nil
}

func cloneSigs(s [][]byte) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = bytes.Clone(s[i])
	}
	return out
}
