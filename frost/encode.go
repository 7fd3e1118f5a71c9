package frost

import (
	"encoding/binary"
	"fmt"

	"filippo.io/edwards25519"
)

// Encodings. Every message starts with a 3-byte header: format version
// (encodingVersion), kind (one byte per message type, so that one message
// cannot be read as another) and suite ID. Identifiers and counts are
// big-endian uint16, scalars and elements the RFC's 32-byte
// SerializeScalar/SerializeElement. docs/CUSTODY.md gives the layouts.

const encodingVersion = 1

const (
	kindCommitments byte = 'C'
	kindShare       byte = 'S'
	kindPackage     byte = 'P'
	kindKeyShare    byte = 'K'
	kindPublicKey   byte = 'Y'
)

const (
	headerSize           = 3
	commitmentEntrySize  = 2 + 2*elementSize
	commitmentsSize      = headerSize + commitmentEntrySize
	signatureShareSize   = headerSize + 2 + scalarSize
	keyShareSize         = headerSize + 2 + 2 + scalarSize + 2*elementSize
	verifyingEntrySize   = 2 + elementSize
	publicKeyHeaderSize  = headerSize + 2 + 2 + elementSize
	packageHeaderSize    = headerSize + 2
	packageMessageLength = 4
)

func header(s *Suite, kind byte) []byte {
	return []byte{encodingVersion, kind, s.id}
}

func readHeader(b []byte, kind byte) (*Suite, error) {
	if len(b) < headerSize || b[0] != encodingVersion || b[1] != kind {
		return nil, fmt.Errorf("%w: header", ErrEncoding)
	}
	s := suiteByID(b[2])
	if s == nil {
		return nil, fmt.Errorf("%w: unknown suite %d", ErrEncoding, b[2])
	}
	return s, nil
}

func (s *Suite) decodeElementErr(b []byte, what string) (*edwards25519.Point, error) {
	p, ok := s.cs.decodeElement(b)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a valid non-identity %s element", ErrEncoding, what, s.name)
	}
	return p, nil
}

func appendCommitmentEntry(b []byte, c *SigningCommitments) []byte {
	b = binary.BigEndian.AppendUint16(b, c.id)
	b = append(b, c.suite.cs.encodeElement(c.hiding)...)
	return append(b, c.suite.cs.encodeElement(c.binding)...)
}

func readCommitmentEntry(s *Suite, b []byte) (*SigningCommitments, error) {
	id := binary.BigEndian.Uint16(b)
	if id == 0 {
		return nil, fmt.Errorf("%w: identifier 0", ErrEncoding)
	}
	d, err := s.decodeElementErr(b[2:2+elementSize], "hiding commitment")
	if err != nil {
		return nil, err
	}
	e, err := s.decodeElementErr(b[2+elementSize:2+2*elementSize], "binding commitment")
	if err != nil {
		return nil, err
	}
	return &SigningCommitments{suite: s, id: id, hiding: d, binding: e}, nil
}

// Marshal encodes the commitments: header, id, hiding, binding (69 bytes).
func (c *SigningCommitments) Marshal() []byte {
	return appendCommitmentEntry(header(c.suite, kindCommitments), c)
}

// UnmarshalSigningCommitments decodes and validates commitments.
func UnmarshalSigningCommitments(b []byte) (*SigningCommitments, error) {
	s, err := readHeader(b, kindCommitments)
	if err != nil {
		return nil, err
	}
	if len(b) != commitmentsSize {
		return nil, fmt.Errorf("%w: commitments of %d bytes", ErrEncoding, len(b))
	}
	return readCommitmentEntry(s, b[headerSize:])
}

// Marshal encodes the share: header, id, z (37 bytes).
func (s *SignatureShare) Marshal() []byte {
	b := binary.BigEndian.AppendUint16(header(s.suite, kindShare), s.id)
	return append(b, s.z.Bytes()...)
}

// UnmarshalSignatureShare decodes a share; z must be canonical. Whether it
// is a valid share is for Aggregate or VerifySignatureShare to say.
func UnmarshalSignatureShare(b []byte) (*SignatureShare, error) {
	s, err := readHeader(b, kindShare)
	if err != nil {
		return nil, err
	}
	if len(b) != signatureShareSize {
		return nil, fmt.Errorf("%w: share of %d bytes", ErrEncoding, len(b))
	}
	id := binary.BigEndian.Uint16(b[headerSize:])
	if id == 0 {
		return nil, fmt.Errorf("%w: identifier 0", ErrEncoding)
	}
	z, ok := decodeScalar(b[headerSize+2:])
	if !ok {
		return nil, fmt.Errorf("%w: non-canonical share", ErrEncoding)
	}
	sh := &SignatureShare{suite: s, id: id}
	sh.z.Set(z)
	return sh, nil
}

// Marshal encodes the package: header, count (uint16), count commitment
// entries (id, hiding, binding), message length (uint32), message.
func (p *SigningPackage) Marshal() []byte {
	b := make([]byte, 0, packageHeaderSize+len(p.commitments)*commitmentEntrySize+packageMessageLength+len(p.message))
	b = append(b, header(p.suite, kindPackage)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.commitments)))
	for _, c := range p.commitments {
		b = appendCommitmentEntry(b, c)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.message)))
	return append(b, p.message...)
}

// UnmarshalSigningPackage decodes a package and applies NewSigningPackage's
// checks (sorted, no duplicates, bounds).
func UnmarshalSigningPackage(b []byte) (*SigningPackage, error) {
	s, err := readHeader(b, kindPackage)
	if err != nil {
		return nil, err
	}
	if len(b) < packageHeaderSize {
		return nil, fmt.Errorf("%w: short package", ErrEncoding)
	}
	n := int(binary.BigEndian.Uint16(b[headerSize:]))
	if n == 0 || n > MaxSigners {
		return nil, fmt.Errorf("%w: %d commitments", ErrEncoding, n)
	}
	rest := b[packageHeaderSize:]
	if len(rest) < n*commitmentEntrySize+packageMessageLength {
		return nil, fmt.Errorf("%w: short package", ErrEncoding)
	}
	comms := make([]*SigningCommitments, n)
	for i := range comms {
		if comms[i], err = readCommitmentEntry(s, rest[i*commitmentEntrySize:]); err != nil {
			return nil, err
		}
	}
	rest = rest[n*commitmentEntrySize:]
	m := binary.BigEndian.Uint32(rest)
	rest = rest[packageMessageLength:]
	if m > MaxMessageSize || uint32(len(rest)) != m {
		return nil, fmt.Errorf("%w: message length", ErrEncoding)
	}
	return NewSigningPackage(rest, comms)
}

// Marshal encodes the key share: header, threshold (uint16), id, secret
// share, verifying share, group key (103 bytes). The result is secret.
func (k *KeyShare) Marshal() []byte {
	b := header(k.suite, kindKeyShare)
	b = binary.BigEndian.AppendUint16(b, uint16(k.threshold))
	b = binary.BigEndian.AppendUint16(b, k.id)
	b = append(b, k.secret.Bytes()...)
	b = append(b, k.suite.cs.encodeElement(k.verifying)...)
	return append(b, k.suite.cs.encodeElement(k.groupKey)...)
}

// UnmarshalKeyShare decodes a key share and checks secret·B against the
// verifying share. It cannot check the share against the other signers';
// NewKeyShare with the PublicKeyPackage does.
func UnmarshalKeyShare(b []byte) (*KeyShare, error) {
	s, err := readHeader(b, kindKeyShare)
	if err != nil {
		return nil, err
	}
	if len(b) != keyShareSize {
		return nil, fmt.Errorf("%w: key share of %d bytes", ErrEncoding, len(b))
	}
	b = b[headerSize:]
	t := int(binary.BigEndian.Uint16(b))
	id := binary.BigEndian.Uint16(b[2:])
	if t == 0 || t > MaxSigners || id == 0 {
		return nil, fmt.Errorf("%w: threshold %d, identifier %d", ErrEncoding, t, id)
	}
	sk, ok := decodeScalar(b[4 : 4+scalarSize])
	if !ok || isZeroScalar(sk) {
		return nil, fmt.Errorf("%w: secret share", ErrEncoding)
	}
	y, err := s.decodeElementErr(b[4+scalarSize:4+scalarSize+elementSize], "verifying share")
	if err != nil {
		return nil, err
	}
	gk, err := s.decodeElementErr(b[4+scalarSize+elementSize:], "group key")
	if err != nil {
		return nil, err
	}
	return newKeyShare(s, id, t, sk, y, gk)
}

// Marshal encodes the package: header, threshold, n (uint16 each), group
// key, then n entries (id, verifying share) by increasing id.
func (p *PublicKeyPackage) Marshal() []byte {
	b := make([]byte, 0, publicKeyHeaderSize+len(p.ids)*verifyingEntrySize)
	b = append(b, header(p.suite, kindPublicKey)...)
	b = binary.BigEndian.AppendUint16(b, uint16(p.threshold))
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.ids)))
	b = append(b, p.suite.cs.encodeElement(p.groupKey)...)
	for _, id := range p.ids {
		b = binary.BigEndian.AppendUint16(b, id)
		b = append(b, p.suite.cs.encodeElement(p.shares[id])...)
	}
	return b
}

// UnmarshalPublicKeyPackage decodes a package with NewPublicKeyPackage's
// checks; entries must be in strictly increasing id order.
func UnmarshalPublicKeyPackage(b []byte) (*PublicKeyPackage, error) {
	s, err := readHeader(b, kindPublicKey)
	if err != nil {
		return nil, err
	}
	if len(b) < publicKeyHeaderSize {
		return nil, fmt.Errorf("%w: short public key package", ErrEncoding)
	}
	t := int(binary.BigEndian.Uint16(b[headerSize:]))
	n := int(binary.BigEndian.Uint16(b[headerSize+2:]))
	if n == 0 || n > MaxSigners || len(b) != publicKeyHeaderSize+n*verifyingEntrySize {
		return nil, fmt.Errorf("%w: %d verifying shares in %d bytes", ErrEncoding, n, len(b))
	}
	gk := b[headerSize+4 : publicKeyHeaderSize]
	shares := make(map[uint16][]byte, n)
	var prev uint16
	for i := range n {
		e := b[publicKeyHeaderSize+i*verifyingEntrySize:]
		id := binary.BigEndian.Uint16(e)
		if id <= prev {
			return nil, fmt.Errorf("%w: identifiers not increasing at %d", ErrEncoding, id)
		}
		prev = id
		shares[id] = e[2:verifyingEntrySize]
	}
	return NewPublicKeyPackage(s, t, gk, shares)
}
