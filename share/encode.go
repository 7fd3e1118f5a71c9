package share

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"filippo.io/edwards25519"
)

// EncodingVersion is the first byte of every encoding of a Share,
// Commitments, RepairPiece and RepairSum.
const EncodingVersion = 1

// Encoded lengths. Integers are big-endian; scalars are 32-byte canonical
// little-endian (< l); points are 32-byte canonical edwards25519 encodings.
const (
	// ShareLen is the length of a Feldman share: version, scheme, index,
	// epoch, value. A Pedersen share adds the blind (ShareLen + 32).
	ShareLen = 1 + 1 + 4 + 4 + 32
	// commitmentsHeaderLen: version, scheme, epoch, t (2 bytes); then t points.
	commitmentsHeaderLen = 1 + 1 + 4 + 2
	// pieceLen: version, scheme, target, from, to, epoch, value [, blind].
	pieceLen = 1 + 1 + 4 + 4 + 4 + 4 + 32
	// sumLen: version, scheme, target, from, epoch, value [, blind].
	sumLen = 1 + 1 + 4 + 4 + 4 + 32
)

// CommitmentsLen returns the encoded length of commitments with threshold t.
func CommitmentsLen(t int) int { return commitmentsHeaderLen + 32*t }

func formatErr(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, what, fmt.Sprintf(format, args...))
}

// withBlind returns the length of a record of base length n for scheme.
func withBlind(n int, s Scheme) int {
	if s == Pedersen {
		return n + 32
	}
	return n
}

func appendScalars(b []byte, s Scheme, v, bl *edwards25519.Scalar) []byte {
	b = append(b, v.Bytes()...)
	if s == Pedersen {
		b = append(b, bl.Bytes()...)
	}
	return b
}

// readHeader checks the version, scheme and exact length of a record whose
// Feldman length is n, and returns the scheme.
func readHeader(what string, data []byte, n int) (Scheme, error) {
	if len(data) < 2 {
		return 0, formatErr(what, "%d bytes", len(data))
	}
	if data[0] != EncodingVersion {
		return 0, formatErr(what, "version %d, want %d", data[0], EncodingVersion)
	}
	s := Scheme(data[1])
	if !s.valid() {
		return 0, formatErr(what, "unknown scheme %d", data[1])
	}
	if want := withBlind(n, s); len(data) != want {
		return 0, formatErr(what, "%d bytes, want %d for %v", len(data), want, s)
	}
	return s, nil
}

// readScalars decodes the value (and blind for Pedersen) at the end of a
// record, refusing non-canonical scalars.
func readScalars(what string, data []byte, s Scheme, v, bl *edwards25519.Scalar) error {
	if s == Pedersen {
		if _, err := bl.SetCanonicalBytes(data[len(data)-32:]); err != nil {
			return formatErr(what, "blind is not a canonical scalar")
		}
		data = data[:len(data)-32]
	} else {
		*bl = edwards25519.Scalar{}
	}
	if _, err := v.SetCanonicalBytes(data[len(data)-32:]); err != nil {
		return formatErr(what, "value is not a canonical scalar")
	}
	return nil
}

// checkRecord checks what an encoder must not write because its decoder
// would refuse it: indexes out of range, a target (the first index) equal to
// another index, a Feldman record with a blind (the encoding has no room for
// it).
func checkRecord(scheme Scheme, blind *edwards25519.Scalar, indexes ...uint32) error {
	for i, x := range indexes {
		if !validIndex(x) {
			return fmt.Errorf("%w: index %d out of 1..%d", ErrParams, x, MaxShares)
		}
		if i > 0 && x == indexes[0] {
			return fmt.Errorf("%w: repair target %d is a helper", ErrParams, x)
		}
	}
	if scheme == Feldman && blind.Equal(edwards25519.NewScalar()) != 1 {
		return fmt.Errorf("%w: Feldman record with a blind", ErrParams)
	}
	return nil
}

func readIndex(what, name string, x uint32) error {
	if !validIndex(x) {
		return formatErr(what, "%s %d out of 1..%d", name, x, MaxShares)
	}
	return nil
}

// AppendBinary appends the encoding of s: version, scheme, index, epoch,
// value, and for Pedersen the blind.
func (s *Share) AppendBinary(b []byte) ([]byte, error) {
	if !s.Scheme.valid() {
		return nil, fmt.Errorf("%w: unknown scheme %d", ErrParams, uint8(s.Scheme))
	}
	if err := checkRecord(s.Scheme, &s.Blind, s.Index); err != nil {
		return nil, fmt.Errorf("share: encoding share: %w", err)
	}
	b = append(b, EncodingVersion, byte(s.Scheme))
	b = binary.BigEndian.AppendUint32(b, s.Index)
	b = binary.BigEndian.AppendUint32(b, s.Epoch)
	return appendScalars(b, s.Scheme, &s.Value, &s.Blind), nil
}

// MarshalBinary returns the encoding of s (see [Share.AppendBinary]).
func (s *Share) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, withBlind(ShareLen, s.Scheme)))
}

// UnmarshalBinary decodes a share, refusing an unknown version or scheme, a
// wrong length, an index outside 1..MaxShares and non-canonical scalars. On
// error s is unchanged.
func (s *Share) UnmarshalBinary(data []byte) error {
	const what = "share"
	scheme, err := readHeader(what, data, ShareLen)
	if err != nil {
		return err
	}
	d := Share{
		Scheme: scheme,
		Index:  binary.BigEndian.Uint32(data[2:]),
		Epoch:  binary.BigEndian.Uint32(data[6:]),
	}
	if err := readIndex(what, "index", d.Index); err != nil {
		return err
	}
	if err := readScalars(what, data, scheme, &d.Value, &d.Blind); err != nil {
		return err
	}
	*s = d
	return nil
}

// AppendBinary appends the encoding of c: version, scheme, epoch, t as two
// bytes, then the t points C_0 … C_{t−1}.
func (c *Commitments) AppendBinary(b []byte) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	b = append(b, EncodingVersion, byte(c.Scheme))
	b = binary.BigEndian.AppendUint32(b, c.Epoch)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Points)))
	for _, p := range c.Points {
		b = append(b, p.Bytes()...)
	}
	return b, nil
}

// MarshalBinary returns the encoding of c (see [Commitments.AppendBinary]).
func (c *Commitments) MarshalBinary() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.AppendBinary(make([]byte, 0, CommitmentsLen(len(c.Points))))
}

// UnmarshalBinary decodes commitments, refusing an unknown version or
// scheme, t outside 1..MaxThreshold, a length other than CommitmentsLen(t),
// non-canonical point encodings and anything [Commitments.Validate] refuses.
// It allocates in proportion to t, which the length check bounds by
// len(data). On error c is unchanged.
func (c *Commitments) UnmarshalBinary(data []byte) error {
	const what = "commitments"
	if len(data) < commitmentsHeaderLen {
		return formatErr(what, "%d bytes", len(data))
	}
	if data[0] != EncodingVersion {
		return formatErr(what, "version %d, want %d", data[0], EncodingVersion)
	}
	scheme := Scheme(data[1])
	if !scheme.valid() {
		return formatErr(what, "unknown scheme %d", data[1])
	}
	t := int(binary.BigEndian.Uint16(data[6:]))
	if t < 1 || t > MaxThreshold {
		return formatErr(what, "threshold %d out of 1..%d", t, MaxThreshold)
	}
	if len(data) != CommitmentsLen(t) {
		return formatErr(what, "%d bytes, want %d for t = %d", len(data), CommitmentsLen(t), t)
	}
	d := Commitments{
		Scheme: scheme,
		Epoch:  binary.BigEndian.Uint32(data[2:]),
		Points: make([]*edwards25519.Point, t),
	}
	points := make([]edwards25519.Point, t)
	for j := range points {
		enc := data[commitmentsHeaderLen+32*j:][:32]
		if _, err := points[j].SetBytes(enc); err != nil {
			return formatErr(what, "commitment %d is not a point", j)
		}
		if !bytes.Equal(points[j].Bytes(), enc) {
			return formatErr(what, "commitment %d is not canonically encoded", j)
		}
		d.Points[j] = &points[j]
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	*c = d
	return nil
}

// AppendBinary appends the encoding of p: version, scheme, target, from,
// to, epoch, value, and for Pedersen the blind.
func (p *RepairPiece) AppendBinary(b []byte) ([]byte, error) {
	if !p.Scheme.valid() {
		return nil, fmt.Errorf("%w: unknown scheme %d", ErrParams, uint8(p.Scheme))
	}
	if err := checkRecord(p.Scheme, &p.Blind, p.Target, p.From, p.To); err != nil {
		return nil, fmt.Errorf("share: encoding repair piece: %w", err)
	}
	b = append(b, EncodingVersion, byte(p.Scheme))
	b = binary.BigEndian.AppendUint32(b, p.Target)
	b = binary.BigEndian.AppendUint32(b, p.From)
	b = binary.BigEndian.AppendUint32(b, p.To)
	b = binary.BigEndian.AppendUint32(b, p.Epoch)
	return appendScalars(b, p.Scheme, &p.Value, &p.Blind), nil
}

// MarshalBinary returns the encoding of p (see [RepairPiece.AppendBinary]).
func (p *RepairPiece) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, withBlind(pieceLen, p.Scheme)))
}

// UnmarshalBinary decodes a repair piece, refusing an unknown version or
// scheme, a wrong length, indexes outside 1..MaxShares, a target equal to
// from or to, and non-canonical scalars. On error p is unchanged.
func (p *RepairPiece) UnmarshalBinary(data []byte) error {
	const what = "repair piece"
	scheme, err := readHeader(what, data, pieceLen)
	if err != nil {
		return err
	}
	d := RepairPiece{
		Scheme: scheme,
		Target: binary.BigEndian.Uint32(data[2:]),
		From:   binary.BigEndian.Uint32(data[6:]),
		To:     binary.BigEndian.Uint32(data[10:]),
		Epoch:  binary.BigEndian.Uint32(data[14:]),
	}
	for _, f := range []struct {
		name string
		x    uint32
	}{{"target", d.Target}, {"from", d.From}, {"to", d.To}} {
		if err := readIndex(what, f.name, f.x); err != nil {
			return err
		}
	}
	if d.Target == d.From || d.Target == d.To {
		return formatErr(what, "target %d is a helper", d.Target)
	}
	if err := readScalars(what, data, scheme, &d.Value, &d.Blind); err != nil {
		return err
	}
	*p = d
	return nil
}

// AppendBinary appends the encoding of s: version, scheme, target, from,
// epoch, value, and for Pedersen the blind.
func (s *RepairSum) AppendBinary(b []byte) ([]byte, error) {
	if !s.Scheme.valid() {
		return nil, fmt.Errorf("%w: unknown scheme %d", ErrParams, uint8(s.Scheme))
	}
	if err := checkRecord(s.Scheme, &s.Blind, s.Target, s.From); err != nil {
		return nil, fmt.Errorf("share: encoding repair sum: %w", err)
	}
	b = append(b, EncodingVersion, byte(s.Scheme))
	b = binary.BigEndian.AppendUint32(b, s.Target)
	b = binary.BigEndian.AppendUint32(b, s.From)
	b = binary.BigEndian.AppendUint32(b, s.Epoch)
	return appendScalars(b, s.Scheme, &s.Value, &s.Blind), nil
}

// MarshalBinary returns the encoding of s (see [RepairSum.AppendBinary]).
func (s *RepairSum) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, withBlind(sumLen, s.Scheme)))
}

// UnmarshalBinary decodes a repair sum, refusing an unknown version or
// scheme, a wrong length, indexes outside 1..MaxShares, a target equal to
// from, and non-canonical scalars. On error s is unchanged.
func (s *RepairSum) UnmarshalBinary(data []byte) error {
	const what = "repair sum"
	scheme, err := readHeader(what, data, sumLen)
	if err != nil {
		return err
	}
	d := RepairSum{
		Scheme: scheme,
		Target: binary.BigEndian.Uint32(data[2:]),
		From:   binary.BigEndian.Uint32(data[6:]),
		Epoch:  binary.BigEndian.Uint32(data[10:]),
	}
	if err := readIndex(what, "target", d.Target); err != nil {
		return err
	}
	if err := readIndex(what, "from", d.From); err != nil {
		return err
	}
	if d.Target == d.From {
		return formatErr(what, "target %d is the helper", d.Target)
	}
	if err := readScalars(what, data, scheme, &d.Value, &d.Blind); err != nil {
		return err
	}
	*s = d
	return nil
}
