package frost

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"fmt"

	"filippo.io/edwards25519"
)

// DKG message encodings. Each is this package's 3-byte header (version,
// kind, suite), a few big-endian uint16 routing fields, then the spec's own
// byte format (Body): msg_{1|i}, msg_{2|i}, sig_i, aggregated_sigs, and the
// transcript T. docs/CUSTODY.md gives the layouts.

const (
	kindDKGRound1     byte = 'R'
	kindDKGRound2     byte = 'B'
	kindDKGSignature  byte = 'G'
	kindDKGSignatures byte = 'A'
	kindDKGCert       byte = 'Z'

	dkgRoutingSize = headerSize + 6 // id, t, n
)

// dkgEntry is participant j's public Round 1 data and one ciphertext.
type dkgEntry struct {
	commit []*edwards25519.Point
	pop    []byte
	eph    *edwards25519.Point
	ct     []byte
}

func popMessage(s *Suite, context []byte, commit []*edwards25519.Point, eph *edwards25519.Point) []byte {
	m := bytes.Clone(context)
	for _, c := range commit {
		m = append(m, s.cs.encodeElement(c)...)
	}
	return append(m, s.cs.encodeElement(eph)...)
}

func (e *dkgEntry) appendPublic(s *Suite, b []byte) []byte {
	for _, c := range e.commit {
		b = append(b, s.cs.encodeElement(c)...)
	}
	b = append(b, e.pop...)
	return append(b, s.cs.encodeElement(e.eph)...)
}

// readPublic reads C_j ‖ PoP_j ‖ E_j (t points, 64 bytes, a point).
func readPublic(s *Suite, t int, b []byte) (*dkgEntry, []byte, error) {
	need := t*elementSize + dkgSigSize + elementSize
	if len(b) < need {
		return nil, nil, fmt.Errorf("%w: short DKG message", ErrEncoding)
	}
	e := &dkgEntry{commit: make([]*edwards25519.Point, t)}
	var err error
	for k := range t {
		if e.commit[k], err = s.decodeElementErr(b[k*elementSize:(k+1)*elementSize], "VSS commitment point"); err != nil {
			return nil, nil, err
		}
	}
	b = b[t*elementSize:]
	e.pop = bytes.Clone(b[:dkgSigSize])
	if e.eph, err = s.decodeElementErr(b[dkgSigSize:dkgSigSize+elementSize], "ephemeral key"); err != nil {
		return nil, nil, err
	}
	return e, b[dkgSigSize+elementSize:], nil
}

// readFrame reads one framed ciphertext: 64-bit big-endian length, then
// that many bytes, at least scalar + tag and at most MaxCiphertextSize.
func readFrame(b []byte) ([]byte, []byte, error) {
	if len(b) < dkgFrameLen {
		return nil, nil, fmt.Errorf("%w: short ciphertext frame", ErrEncoding)
	}
	l := binary.BigEndian.Uint64(b)
	b = b[dkgFrameLen:]
	if l > MaxCiphertextSize || l < dkgMinCT || uint64(len(b)) < l {
		return nil, nil, fmt.Errorf("%w: ciphertext length %d", ErrEncoding, l)
	}
	return bytes.Clone(b[:l]), b[l:], nil
}

func appendRouting(s *Suite, kind byte, id uint16, t, n int) []byte {
	b := header(s, kind)
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	return binary.BigEndian.AppendUint16(b, uint16(n))
}

func readRouting(b []byte, kind byte) (s *Suite, id uint16, t, n int, rest []byte, err error) {
	if s, err = readHeader(b, kind); err != nil {
		return
	}
	if len(b) < dkgRoutingSize {
		err = fmt.Errorf("%w: short DKG message", ErrEncoding)
		return
	}
	id = binary.BigEndian.Uint16(b[headerSize:])
	t = int(binary.BigEndian.Uint16(b[headerSize+2:]))
	n = int(binary.BigEndian.Uint16(b[headerSize+4:]))
	if n < 1 || n > MaxSigners || t < 1 || t > n || id < 1 || int(id) > n {
		err = fmt.Errorf("%w: participant %d, t = %d, n = %d", ErrEncoding, id, t, n)
	}
	rest = b[dkgRoutingSize:]
	return
}

// DKGRound1 is msg_{1|i}: participant From's VSS commitment, proof of
// possession, ephemeral key and encrypted shares, for the coordinator.
type DKGRound1 struct {
	suite  *Suite
	from   uint16
	t, n   int
	commit []*edwards25519.Point
	pop    []byte
	eph    *edwards25519.Point
	cts    [][]byte
}

func (m *DKGRound1) popMessage(context []byte) []byte {
	return popMessage(m.suite, context, m.commit, m.eph)
}

// From returns the sender's identifier.
func (m *DKGRound1) From() uint16 { return m.from }

// Body returns the spec's msg_{1|i}: C_i ‖ PoP_i ‖ E_i ‖ framed c_{i,1..n}.
func (m *DKGRound1) Body() []byte {
	e := dkgEntry{commit: m.commit, pop: m.pop, eph: m.eph}
	b := e.appendPublic(m.suite, nil)
	for _, ct := range m.cts {
		b = appendFramed(b, ct)
	}
	return b
}

// Marshal encodes the message: header, from, t, n (uint16 each), Body.
func (m *DKGRound1) Marshal() []byte {
	return append(appendRouting(m.suite, kindDKGRound1, m.from, m.t, m.n), m.Body()...)
}

// UnmarshalDKGRound1 decodes and validates a Round 1 message: exactly t
// valid non-identity points, n frames within the size bounds, nothing
// trailing. The proof of possession is checked by the receivers.
func UnmarshalDKGRound1(b []byte) (*DKGRound1, error) {
	s, from, t, n, rest, err := readRouting(b, kindDKGRound1)
	if err != nil {
		return nil, err
	}
	e, rest, err := readPublic(s, t, rest)
	if err != nil {
		return nil, err
	}
	m := &DKGRound1{suite: s, from: from, t: t, n: n, commit: e.commit, pop: e.pop, eph: e.eph}
	for range n {
		var ct []byte
		if ct, rest, err = readFrame(rest); err != nil {
			return nil, err
		}
		m.cts = append(m.cts, ct)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrEncoding, len(rest))
	}
	return m, nil
}

// DKGRound2 is msg_{2|i}: the coordinator's broadcast to participant To,
// every participant's public Round 1 data and its ciphertext for To.
type DKGRound2 struct {
	suite   *Suite
	to      uint16
	t, n    int
	entries []dkgEntry
}

// To returns the recipient's identifier.
func (m *DKGRound2) To() uint16 { return m.to }

// Body returns the spec's msg_{2|i}: for j = 1..n, C_j ‖ PoP_j ‖ E_j ‖
// framed c_{j,i}.
func (m *DKGRound2) Body() []byte {
	var b []byte
	for i := range m.entries {
		b = m.entries[i].appendPublic(m.suite, b)
		b = appendFramed(b, m.entries[i].ct)
	}
	return b
}

// Marshal encodes the message: header, to, t, n (uint16 each), Body.
func (m *DKGRound2) Marshal() []byte {
	return append(appendRouting(m.suite, kindDKGRound2, m.to, m.t, m.n), m.Body()...)
}

// UnmarshalDKGRound2 decodes and validates a Round 2 message as
// UnmarshalDKGRound1 does, for n senders.
func UnmarshalDKGRound2(b []byte) (*DKGRound2, error) {
	s, to, t, n, rest, err := readRouting(b, kindDKGRound2)
	if err != nil {
		return nil, err
	}
	m := &DKGRound2{suite: s, to: to, t: t, n: n}
	for range n {
		var e *dkgEntry
		if e, rest, err = readPublic(s, t, rest); err != nil {
			return nil, err
		}
		if e.ct, rest, err = readFrame(rest); err != nil {
			return nil, err
		}
		m.entries = append(m.entries, *e)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrEncoding, len(rest))
	}
	return m, nil
}

// DKGSignature is sig_i, participant From's signature on its transcript.
type DKGSignature struct {
	suite *Suite
	from  uint16
	sig   []byte
}

// From returns the signer's identifier.
func (m *DKGSignature) From() uint16 { return m.from }

// Marshal encodes the signature: header, from (uint16), the 64-byte
// signature R ‖ z.
func (m *DKGSignature) Marshal() []byte {
	b := binary.BigEndian.AppendUint16(header(m.suite, kindDKGSignature), m.from)
	return append(b, m.sig...)
}

// UnmarshalDKGSignature decodes a transcript signature; whether it verifies
// is for Finish or the coordinator to say.
func UnmarshalDKGSignature(b []byte) (*DKGSignature, error) {
	s, err := readHeader(b, kindDKGSignature)
	if err != nil {
		return nil, err
	}
	if len(b) != headerSize+2+dkgSigSize {
		return nil, fmt.Errorf("%w: signature message of %d bytes", ErrEncoding, len(b))
	}
	from := binary.BigEndian.Uint16(b[headerSize:])
	if from == 0 || int(from) > MaxSigners {
		return nil, fmt.Errorf("%w: signer %d", ErrEncoding, from)
	}
	return &DKGSignature{suite: s, from: from, sig: bytes.Clone(b[headerSize+2:])}, nil
}

// DKGSignatures is the coordinator's aggregated_sigs: sig_1 ‖ … ‖ sig_n.
type DKGSignatures struct {
	suite *Suite
	sigs  [][]byte
}

// Marshal encodes the list: header, n (uint16), n 64-byte signatures.
func (m *DKGSignatures) Marshal() []byte {
	b := binary.BigEndian.AppendUint16(header(m.suite, kindDKGSignatures), uint16(len(m.sigs)))
	for _, s := range m.sigs {
		b = append(b, s...)
	}
	return b
}

// UnmarshalDKGSignatures decodes a signature list.
func UnmarshalDKGSignatures(b []byte) (*DKGSignatures, error) {
	s, err := readHeader(b, kindDKGSignatures)
	if err != nil {
		return nil, err
	}
	if len(b) < headerSize+2 {
		return nil, fmt.Errorf("%w: short signature list", ErrEncoding)
	}
	n := int(binary.BigEndian.Uint16(b[headerSize:]))
	if n < 1 || n > MaxSigners || len(b) != headerSize+2+n*dkgSigSize {
		return nil, fmt.Errorf("%w: %d signatures in %d bytes", ErrEncoding, n, len(b))
	}
	return &DKGSignatures{suite: s, sigs: splitSigs(b[headerSize+2:], n)}, nil
}

func splitSigs(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for j := range out {
		out[j] = bytes.Clone(b[j*dkgSigSize : (j+1)*dkgSigSize])
	}
	return out
}

// DKGCertificate is CertEq's success certificate: the transcript T and
// every participant's signature on it. It holds no secret; any participant
// or auditor can check it ([DKGCertificate.Verify]) and derive the public
// key package from it.
type DKGCertificate struct {
	suite      *Suite
	transcript []byte
	sigs       [][]byte
}

// Transcript returns T.
func (c *DKGCertificate) Transcript() []byte { return bytes.Clone(c.transcript) }

// TranscriptHash returns SHA-512(T), the value the spec's vectors list.
func (c *DKGCertificate) TranscriptHash() []byte {
	h := sha512.Sum512(c.transcript)
	return h[:]
}

// Signature returns participant id's signature on T.
func (c *DKGCertificate) Signature(id uint16) ([]byte, bool) {
	if id < 1 || int(id) > len(c.sigs) {
		return nil, false
	}
	return bytes.Clone(c.sigs[id-1]), true
}

// Marshal encodes the certificate: header, len(T) (uint32), T, then the n
// signatures (n is in T).
func (c *DKGCertificate) Marshal() []byte {
	b := binary.BigEndian.AppendUint32(header(c.suite, kindDKGCert), uint32(len(c.transcript)))
	b = append(b, c.transcript...)
	for _, s := range c.sigs {
		b = append(b, s...)
	}
	return b
}

// UnmarshalDKGCertificate decodes a certificate and parses its transcript
// (suite, bounds, valid points). It does not check the signatures: call
// Verify.
func UnmarshalDKGCertificate(b []byte) (*DKGCertificate, error) {
	s, err := readHeader(b, kindDKGCert)
	if err != nil {
		return nil, err
	}
	if len(b) < headerSize+4 {
		return nil, fmt.Errorf("%w: short certificate", ErrEncoding)
	}
	l := uint64(binary.BigEndian.Uint32(b[headerSize:]))
	rest := b[headerSize+4:]
	if uint64(len(rest)) < l {
		return nil, fmt.Errorf("%w: short certificate", ErrEncoding)
	}
	tr := rest[:l]
	st, _, err := parseTranscript(s, tr)
	if err != nil {
		return nil, err
	}
	rest = rest[l:]
	if len(rest) != st.n*dkgSigSize {
		return nil, fmt.Errorf("%w: %d signature bytes for %d participants", ErrEncoding, len(rest), st.n)
	}
	return &DKGCertificate{suite: s, transcript: bytes.Clone(tr), sigs: splitSigs(rest, st.n)}, nil
}

// parseTranscript parses T (Round 3's layout) strictly.
func parseTranscript(s *Suite, t []byte) (*dkgSetup, []dkgEntry, error) {
	bad := func(what string) error { return fmt.Errorf("%w: transcript %s", ErrEncoding, what) }
	readLen := func(max int) ([]byte, error) {
		if len(t) < 8 {
			return nil, bad("truncated")
		}
		l := binary.LittleEndian.Uint64(t)
		t = t[8:]
		if l > uint64(max) || uint64(len(t)) < l {
			return nil, bad("length field")
		}
		v := t[:l]
		t = t[l:]
		return v, nil
	}
	id, err := readLen(64)
	if err != nil {
		return nil, nil, err
	}
	if string(id) != s.dkg().id {
		return nil, nil, fmt.Errorf("%w: transcript is for %q, not %q", ErrSuiteMismatch, id, s.dkg().id)
	}
	ctx, err := readLen(MaxDKGContextSize)
	if err != nil {
		return nil, nil, err
	}
	if len(t) < 8 {
		return nil, nil, bad("truncated")
	}
	n, th := binary.LittleEndian.Uint32(t), binary.LittleEndian.Uint32(t[4:])
	t = t[8:]
	if n < 1 || n > MaxSigners || th < 1 || th > n {
		return nil, nil, bad(fmt.Sprintf("t = %d, n = %d", th, n))
	}
	nn, tt := int(n), int(th)
	if len(t) < nn*(elementSize*(2+tt)+dkgSigSize) {
		return nil, nil, bad("truncated")
	}
	cfg := &DKGConfig{Suite: s, Threshold: tt, Context: ctx}
	for j := range nn {
		cfg.StaticKeys = append(cfg.StaticKeys, t[j*elementSize:(j+1)*elementSize])
	}
	t = t[nn*elementSize:]
	entries := make([]dkgEntry, nn)
	for j := range entries {
		entries[j].commit = make([]*edwards25519.Point, tt)
		for k := range tt {
			p, ok := s.cs.decodeElement(t[k*elementSize : (k+1)*elementSize])
			if !ok {
				return nil, nil, bad("commitment point")
			}
			entries[j].commit[k] = p
		}
		t = t[tt*elementSize:]
	}
	for j := range entries {
		entries[j].pop = bytes.Clone(t[:dkgSigSize])
		t = t[dkgSigSize:]
	}
	for j := range entries {
		p, ok := s.cs.decodeElement(t[:elementSize])
		if !ok {
			return nil, nil, bad("ephemeral key")
		}
		entries[j].eph = p
		t = t[elementSize:]
	}
	ext, err := readLen(MaxDKGExtensionSize)
	if err != nil {
		return nil, nil, err
	}
	if len(t) != 0 {
		return nil, nil, bad("trailing bytes")
	}
	cfg.Extension = ext
	st, err := cfg.setup()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: transcript: %w", ErrEncoding, err)
	}
	return st, entries, nil
}
