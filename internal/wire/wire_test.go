package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/maskshare/maskshare/psi"
)

var errPanicked = errors.New("decoder panicked")

// decodeNoPanic runs decode and turns a panic into a test failure (and the
// error errPanicked, so that the test goes on with its other cases).
func decodeNoPanic(t *testing.T, what string, decode func([]byte) (encoder, error), b []byte) (m encoder, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s: decoder panicked on %d bytes %x: %v", what, len(b), head(b), p)
			m, err = nil, errPanicked
		}
	}()
	return decode(b)
}

func head(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// mustReject asserts that decode fails on b with an error wrapping
// ErrMalformed, and does not panic.
func mustReject(t *testing.T, what string, decode func([]byte) (encoder, error), b []byte) {
	t.Helper()
	_, err := decodeNoPanic(t, what, decode, b)
	if err == errPanicked {
		return
	}
	if err == nil {
		t.Errorf("%s: decoded %d bytes %x without error", what, len(b), head(b))
	} else if !errors.Is(err, ErrMalformed) {
		t.Errorf("%s: error %v does not wrap ErrMalformed", what, err)
	}
}

func mustAccept(t *testing.T, what string, decode func([]byte) (encoder, error), b []byte) encoder {
	t.Helper()
	m, err := decodeNoPanic(t, what, decode, b)
	if err != nil && err != errPanicked {
		t.Errorf("%s: %v", what, err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for i := range 300 {
				s := randSample(r, typ)
				enc := s.msg.Encode()
				if got, err := Peek(enc); err != nil || got != typ {
					t.Fatalf("Peek = %v, %v; want %v", got, err, typ)
				}
				dec, err := decodeNoPanic(t, "round trip", s.decode, enc)
				if err != nil {
					t.Fatalf("sample %d (n=%d self=%d): %v", i, s.n, s.self, err)
				}
				if !bytes.Equal(dec.Encode(), enc) {
					t.Fatalf("sample %d: re-encoding differs", i)
				}
				want := normalize(s.msg)
				got := normalize(dec)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("sample %d: decoded\n%+v\nwant\n%+v", i, got, want)
				}
			}
		})
	}
}

func TestEncodeParamsIsOpenSuffix(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for range 50 {
		m := randOpen(r)
		enc := m.Encode()
		want := append([]byte{Version, byte(TypeOpen)}, m.Session[:]...)
		want = binary.BigEndian.AppendUint16(want, m.Index)
		want = append(want, EncodeParams(&m.Params)...)
		if !bytes.Equal(enc, want) {
			t.Fatalf("Open encoding is not header || session || index || EncodeParams")
		}
	}
}

// TestRejectMutations: for valid encodings of every type, every truncation,
// a wrong version, a wrong type and trailing bytes are rejected.
func TestRejectMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for range 20 {
				s := randSample(r, typ)
				enc := s.msg.Encode()
				if len(enc) > 20000 {
					continue
				}
				for i := range len(enc) {
					mustReject(t, fmt.Sprintf("truncated to %d of %d", i, len(enc)), s.decode, enc[:i])
				}
				for _, v := range []byte{0, Version + 1, 0xff} {
					b := bytes.Clone(enc)
					b[0] = v
					mustReject(t, fmt.Sprintf("version %d", v), s.decode, b)
				}
				for other := range 256 {
					if Type(other) == typ {
						continue
					}
					b := bytes.Clone(enc)
					b[1] = byte(other)
					mustReject(t, fmt.Sprintf("type %d", other), s.decode, b)
				}
				for _, extra := range [][]byte{{0}, {1}, {0xff, 0xff}, make([]byte, 32)} {
					mustReject(t, fmt.Sprintf("%d trailing bytes", len(extra)), s.decode, append(bytes.Clone(enc), extra...))
				}
			}
		})
	}
}

func TestPeek(t *testing.T) {
	for _, typ := range allTypes {
		if got, err := Peek([]byte{Version, byte(typ)}); err != nil || got != typ {
			t.Errorf("Peek(%v) = %v, %v", typ, got, err)
		}
		if strings.HasPrefix(typ.String(), "type(") {
			t.Errorf("type %d has no name", typ)
		}
	}
	for _, b := range [][]byte{nil, {}, {Version}, {0, 1}, {1, 1}, {Version - 1, 1}, {Version + 1, 1}, {Version, 0}, {Version, byte(maxType) + 1}, {Version, 0xff}} {
		if typ, err := Peek(b); err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("Peek(%x) = %v, %v; want ErrMalformed", b, typ, err)
		}
	}
	if s := (maxType + 1).String(); s != fmt.Sprintf("type(%d)", maxType+1) {
		t.Errorf("Type(%d).String() = %q", maxType+1, s)
	}
	if s := Type(0).String(); s != "type(0)" {
		t.Errorf("Type(0).String() = %q", s)
	}
}

// ---------------------------------------------------------------------------
// Field validation, type by type. Encoders do not validate, so invalid
// messages are made by encoding invalid structs or patching bytes.

func validParams() Params {
	return Params{Mode: 1, Threshold: 2, Reveal: 1, MinResult: 3, Parties: []string{"alpha", "beta", "gamma"}, Columns: []Column{{Name: "amount", Type: 1, Scale: 2}}}
}

func TestOpenValidation(t *testing.T) {
	dec := decoderFor(TypeOpen, 0, 0)
	enc := func(mod func(m *Open)) []byte {
		m := &Open{Session: [KeySize]byte{1, 2, 3}, Index: 1, Params: validParams()}
		mod(m)
		return m.Encode()
	}
	mustAccept(t, "valid", dec, enc(func(*Open) {}))

	mustReject(t, "index == parties", dec, enc(func(m *Open) { m.Index = 3 }))
	mustReject(t, "index 0xffff", dec, enc(func(m *Open) { m.Index = 0xffff }))
	mustAccept(t, "index == parties-1", dec, enc(func(m *Open) { m.Index = 2 }))

	mustReject(t, "0 parties", dec, enc(func(m *Open) { m.Index = 0; m.Params.Parties = nil }))
	mustReject(t, "1 party", dec, enc(func(m *Open) { m.Index = 0; m.Params.Parties = []string{"solo"} }))
	mustAccept(t, "2 parties", dec, enc(func(m *Open) { m.Index = 0; m.Params.Parties = []string{"a", "b"} }))
	mustAccept(t, "MaxParties parties", dec, enc(func(m *Open) { m.Params.Parties = make([]string, MaxParties) }))
	mustReject(t, "MaxParties+1 parties", dec, enc(func(m *Open) { m.Params.Parties = make([]string, MaxParties+1) }))

	mustReject(t, "0 columns", dec, enc(func(m *Open) { m.Params.Columns = nil }))
	mustAccept(t, "MaxColumns columns", dec, enc(func(m *Open) { m.Params.Columns = make([]Column, MaxColumns) }))
	mustReject(t, "MaxColumns+1 columns", dec, enc(func(m *Open) { m.Params.Columns = make([]Column, MaxColumns+1) }))

	long := strings.Repeat("é", MaxNameLen/2) // exactly MaxNameLen bytes
	mustAccept(t, "party name of MaxNameLen bytes", dec, enc(func(m *Open) { m.Params.Parties[1] = long }))
	mustReject(t, "party name of MaxNameLen+1 bytes", dec, enc(func(m *Open) { m.Params.Parties[1] = long + "x" }))
	mustAccept(t, "column name of MaxNameLen bytes", dec, enc(func(m *Open) { m.Params.Columns[0].Name = long }))
	mustReject(t, "column name of MaxNameLen+1 bytes", dec, enc(func(m *Open) { m.Params.Columns[0].Name = long + "x" }))

	for _, bad := range []string{"\xff", "a\xc3", "\xc3\x28", "\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80" /* > U+10FFFF */, "\xc0\xaf" /* overlong */} {
		mustReject(t, fmt.Sprintf("party name %q", bad), dec, enc(func(m *Open) { m.Params.Parties[0] = bad }))
		mustReject(t, fmt.Sprintf("column name %q", bad), dec, enc(func(m *Open) { m.Params.Columns[0].Name = bad }))
	}

	// Booleans: offset 2 (header) + 32 (session) + 2 (index) + 1 (mode) +
	// 2 (threshold) + 1 (reveal) + 4 (min result) = 44.
	const sees, fold = 44, 45
	for _, off := range []int{sees, fold} {
		for _, v := range []byte{0, 1} {
			b := enc(func(*Open) {})
			b[off] = v
			m := mustAccept(t, fmt.Sprintf("boolean %d at %d", v, off), dec, b)
			if m != nil {
				o := m.(*Open)
				got := o.Params.CoordinatorSees
				if off == fold {
					got = o.Params.FoldCase
				}
				if got != (v == 1) {
					t.Errorf("boolean %d at %d decoded as %v", v, off, got)
				}
			}
		}
		for _, v := range []byte{2, 0x80, 0xff} {
			b := enc(func(*Open) {})
			b[off] = v
			mustReject(t, fmt.Sprintf("boolean %d at %d", v, off), dec, b)
		}
	}
}

func TestHelloValidation(t *testing.T) {
	dec := decoderFor(TypeHello, 0, 0)
	mustAccept(t, "no signature", dec, (&Hello{Bound: 1}).Encode())
	mustAccept(t, "MaxSigLen signature", dec, (&Hello{Bound: 1, Sig: make([]byte, MaxSigLen)}).Encode())
	mustReject(t, "MaxSigLen+1 signature", dec, (&Hello{Bound: 1, Sig: make([]byte, MaxSigLen+1)}).Encode())
	for _, b := range []uint32{2, 1 << 17, MaxRecords} {
		mustAccept(t, fmt.Sprintf("bound %d", b), dec, (&Hello{Bound: b}).Encode())
	}
	for _, b := range []uint32{0, 3, 1000, MaxRecords + 1, MaxRecords << 1, math.MaxUint32} {
		mustReject(t, fmt.Sprintf("bound %d", b), dec, (&Hello{Bound: b}).Encode())
	}
}

func TestPeersValidation(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, n := range []int{1, 2, 3, 7} {
		m := randPeers(r, n)
		b := m.Encode()
		mustAccept(t, fmt.Sprintf("n=%d", n), decoderFor(TypePeers, n, 0), b)
		for _, wrong := range []int{n - 1, n + 1, 0, MaxParties} {
			if wrong != n {
				mustReject(t, fmt.Sprintf("%d hellos decoded for n=%d", n, wrong), decoderFor(TypePeers, wrong, 0), b)
			}
		}
		// The count field disagrees with n but the bytes are there.
		c := bytes.Clone(b)
		binary.BigEndian.PutUint16(c[2:], uint16(n+1))
		mustReject(t, fmt.Sprintf("count %d for n=%d", n+1, n), decoderFor(TypePeers, n, 0), c)
	}
	m := randPeers(r, 3)
	m.Hellos[1].Sig = make([]byte, MaxSigLen+1)
	mustReject(t, "over-long signature", decoderFor(TypePeers, 3, 0), m.Encode())
}

func TestSealedValidation(t *testing.T) {
	box := func(p int) Box { return Box{Peer: uint16(p), Sealed: []byte{byte(p), 1, 2}} }
	const n, self = 4, 1
	dec := decoderFor(TypeSealed, n, self)
	enc := func(peers ...int) []byte {
		m := &Sealed{}
		for _, p := range peers {
			m.Boxes = append(m.Boxes, box(p))
		}
		return m.Encode()
	}
	mustAccept(t, "valid", dec, enc(0, 2, 3))
	mustAccept(t, "valid, other order", dec, enc(3, 0, 2))
	mustReject(t, "peer == self", dec, enc(0, 1, 3))
	mustReject(t, "repeated peer", dec, enc(0, 2, 2))
	mustReject(t, "repeated peer, first and last", dec, enc(3, 2, 3))
	mustReject(t, "peer == n", dec, enc(0, 2, 4))
	mustReject(t, "peer 0xffff", dec, enc(0, 2, 0xffff))
	mustReject(t, "n-2 boxes", dec, enc(0, 2))
	mustReject(t, "n boxes", dec, enc(0, 2, 3, 1))
	mustReject(t, "n boxes, distinct valid peers", dec, enc(0, 2, 3, 0))
	mustReject(t, "no boxes", dec, enc())

	ok := &Sealed{Boxes: []Box{box(0), box(2), {Peer: 3, Sealed: make([]byte, MaxSealedSize)}}}
	mustAccept(t, "MaxSealedSize box", dec, ok.Encode())
	ok.Boxes[2].Sealed = make([]byte, MaxSealedSize+1)
	mustReject(t, "MaxSealedSize+1 box", dec, ok.Encode())

	// Every (n, self) of a valid session (n ≥ 2).
	r := rand.New(rand.NewPCG(39, 40))
	for n := 2; n <= 6; n++ {
		for self := range n {
			mustAccept(t, fmt.Sprintf("n=%d self=%d", n, self), decoderFor(TypeSealed, n, self), randSealed(r, n, self).Encode())
		}
	}
}

// countMessage is a message of type t with the given fixed prefix, a uint32
// count and then body.
func countMessage(t Type, prefix []byte, count uint32, body []byte) []byte {
	b := []byte{Version, byte(t)}
	b = append(b, prefix...)
	b = binary.BigEndian.AppendUint32(b, count)
	return append(b, body...)
}

// allocBytes returns the bytes allocated by f.
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCountLimits: counts beyond the limits or beyond the bytes present are
// rejected before anything is allocated for them.
func TestCountLimits(t *testing.T) {
	lists := []struct {
		typ    Type
		prefix []byte
		size   int
		n      int
	}{
		{TypeTags, nil, TagSize, 0},
		{TypeElements, append(append([]byte{0, 0, 0, 1}, make([]byte, KeySize)...), append([]byte{0, 1}, make([]byte, ElementSize)...)...), ElementSize, 3}, // owner 0, hop 1, MAC, chain of 1
	}
	for _, l := range lists {
		dec := decoderFor(l.typ, l.n, 0)
		t.Run(l.typ.String(), func(t *testing.T) {
			body := make([]byte, 3*l.size)
			mustAccept(t, "3 items", dec, countMessage(l.typ, l.prefix, 3, body))
			mustAccept(t, "0 items", dec, countMessage(l.typ, l.prefix, 0, nil))
			mustReject(t, "4 items claimed, 3 present", dec, countMessage(l.typ, l.prefix, 4, body))
			mustReject(t, "2 items claimed, 3 present", dec, countMessage(l.typ, l.prefix, 2, body))
			mustReject(t, "3 items, one byte short", dec, countMessage(l.typ, l.prefix, 3, body[1:]))
			// Counts within MaxRecords whose byte size (count × item size)
			// reaches 2^31 or 2^32 are there for platforms with a 32-bit int.
			size := uint32(l.size)
			for _, count := range []uint32{MaxRecords, MaxRecords + 1, 1 << 31, 1<<31 + 1, math.MaxUint32,
				1 << 27, 1 << 28, 1<<31/size - 1, 1 << 31 / size, uint32(1<<32/uint64(size) - 1), uint32(1 << 32 / uint64(size))} {
				b := countMessage(l.typ, l.prefix, count, body)
				if _, err := decodeNoPanic(t, fmt.Sprintf("count %d in a short message", count), dec, b); err == nil {
					t.Errorf("count %d in a short message: decoded without error", count)
					continue
				} else if err == errPanicked {
					continue
				}
				allocs := testing.AllocsPerRun(10, func() { _, _ = dec(b) })
				nbytes := allocBytes(func() {
					for range 10 {
						_, _ = dec(b)
					}
				})
				if allocs > 20 || nbytes > 1<<20 {
					t.Errorf("count %d: %.0f allocations, %d bytes for 10 decodes", count, allocs, nbytes)
				}
			}
		})
	}

	// Elements: owner and hop below n; a chain of hop or hop+1 points
	// (between 1 and n) and a proof per point after the first.
	elc := func(owner, hop uint16, chain, proofs int) []byte {
		return (&Elements{Owner: owner, Hop: hop, Chain: make([]psi.Element, chain), Proofs: make([]psi.Proof, proofs), Elems: make([]psi.Element, 3)}).Encode()
	}
	el := func(owner, hop uint16) []byte { return elc(owner, hop, max(int(hop), 1), max(int(hop), 1)-1) }
	dec := decoderFor(TypeElements, 3, 0)
	mustAccept(t, "owner 2 hop 2 of 3", dec, el(2, 2))
	mustAccept(t, "owner 0 hop 3 of 3 (back at its owner)", dec, el(0, 3))
	mustReject(t, "owner 3 of 3", dec, el(3, 0))
	mustReject(t, "owner 0xffff (coordinator) of 3", dec, el(Coordinator, 0))
	mustReject(t, "hop 4 of 3", dec, el(0, 4))
	mustReject(t, "hop 0xffff of 3", dec, el(0, 0xffff))
	mustReject(t, "any owner of 0 parties", decoderFor(TypeElements, 0, 0), el(0, 0))
	mustAccept(t, "hop 0, chain 1 (sent by the owner)", dec, elc(0, 0, 1, 0))
	mustAccept(t, "hop 1, chain 1 (relayed)", dec, elc(0, 1, 1, 0))
	mustAccept(t, "hop 1, chain 2 (sent back)", dec, elc(0, 1, 2, 1))
	mustAccept(t, "hop 2, chain 3 of 3", dec, elc(0, 2, 3, 2))
	mustReject(t, "hop 0, no chain", dec, elc(0, 0, 0, 0))
	mustReject(t, "hop 0, chain 2", dec, elc(0, 0, 2, 1))
	mustReject(t, "hop 2, chain 1", dec, elc(0, 2, 1, 0))
	mustReject(t, "hop 1, chain 3", dec, elc(0, 1, 3, 2))
	mustReject(t, "hop 3, chain 4 of 3", dec, elc(0, 3, 4, 3))
	mustReject(t, "chain 2, no proof", dec, elc(0, 1, 2, 0))
	mustReject(t, "chain 2, two proofs", dec, elc(0, 1, 2, 2))
	mustReject(t, "chain 1, a proof", dec, elc(0, 1, 1, 1))
	// A chain count beyond n is refused before anything is allocated.
	big := append(append([]byte{Version, byte(TypeElements), 0, 0, 0, 1}, make([]byte, KeySize)...), 0xff, 0xff)
	mustReject(t, "chain 0xffff", decoderFor(TypeElements, MaxParties, 0), big)
	if b := allocBytes(func() { _, _ = DecodeElements(big, MaxParties) }); b > 1<<16 { // a chain of 0xffff points would be 2 MiB
		t.Errorf("chain 0xffff: %d bytes allocated", b)
	}
}

func TestMaskedValidation(t *testing.T) {
	dec := decoderFor(TypeMasked, 0, 0)
	mk := func(cols uint16, size uint32, words int) []byte {
		return (&Masked{Columns: cols, Size: size, Words: make([]uint64, words)}).Encode()
	}
	mustAccept(t, "2×3", dec, mk(2, 3, 6))
	mustAccept(t, "1×0", dec, mk(1, 0, 0))
	mustAccept(t, "MaxColumns×1", dec, mk(MaxColumns, 1, MaxColumns))
	mustReject(t, "0 columns", dec, mk(0, 3, 0))
	mustReject(t, "0×0", dec, mk(0, 0, 0))
	mustReject(t, "MaxColumns+1 columns", dec, mk(MaxColumns+1, 1, MaxColumns+1))
	mustReject(t, "0xffff columns", dec, mk(0xffff, 0, 0))
	mustReject(t, "size MaxRecords+1", dec, mk(1, MaxRecords+1, 0))
	mustReject(t, "size MaxUint32", dec, mk(1, math.MaxUint32, 0))
	mustReject(t, "size MaxRecords, 3 words", dec, mk(1, MaxRecords, 3))
	mustReject(t, "2×3 with 5 words", dec, mk(2, 3, 5))
	mustReject(t, "2×3 with 7 words", dec, mk(2, 3, 7))
	mustReject(t, "2×3 with a stray byte", dec, append(mk(2, 3, 6), 0))
	// A product that wraps a 32-bit int must not pass the length check:
	// 256 × 2^24 words = 2^32 words, 2^35 bytes.
	mustReject(t, "256 × 2^24 words, none present", dec, mk(256, 1<<24, 0))
	mustReject(t, "16 × 2^28 words, none present", dec, mk(16, 1<<28, 0))
	mustReject(t, "256 × 2^22 words (2^33 bytes, 0 mod 2^32), none present", dec, mk(256, 1<<22, 0))
}

func TestMatchValidation(t *testing.T) {
	dec := decoderFor(TypeMatch, 0, 0)
	entries := func(n int) []MatchEntry {
		out := make([]MatchEntry, n)
		for i := range out {
			out[i] = MatchEntry{Pos: uint32(i), Index: uint32(7 * i), Holders: 3, Designated: i%2 == 0}
		}
		return out
	}
	mk := func(padded uint32, n int) []byte {
		return (&Match{Size: 9, Padded: padded, Matches: entries(n)}).Encode()
	}
	mustAccept(t, "3 of 3", dec, mk(3, 3))
	mustAccept(t, "3 padded to 10", dec, mk(10, 3))
	mustAccept(t, "none padded to 4", dec, mk(4, 0))
	mustAccept(t, "none", dec, mk(0, 0))
	mustReject(t, "4 entries padded to 3", dec, mk(3, 4))
	b := mk(10, 3)
	mustReject(t, "padding one byte short", dec, b[:len(b)-1])
	mustReject(t, "padding one byte long", dec, append(bytes.Clone(b), 0))
	c := bytes.Clone(b)
	c[len(c)-5] = 1
	mustReject(t, "non-zero padding", dec, c)
	// The designated flag round-trips and does not count as holders.
	m, err := DecodeMatch(mk(3, 3))
	if err != nil || !m.Matches[0].Designated || m.Matches[1].Designated || m.Matches[0].Holders != 3 {
		t.Fatalf("decoded %+v, %v", m, err)
	}
	over := (&Match{Padded: 1, Matches: []MatchEntry{{Holders: MaxParties + 1}}}).Encode()
	mustReject(t, "MaxParties+1 holders", dec, over)
	// A padded count beyond the bytes present is refused before allocation.
	for _, p := range []uint32{MaxRecords, MaxRecords + 1, math.MaxUint32} {
		b := binary.BigEndian.AppendUint32([]byte{Version, byte(TypeMatch), 0, 0, 0, 9}, p)
		b = binary.BigEndian.AppendUint32(b, 0)
		mustReject(t, fmt.Sprintf("padded to %d, nothing present", p), dec, b)
	}
}

func TestRevealValidation(t *testing.T) {
	dec := decoderFor(TypeReveal, 0, 0)
	// mk writes the message by hand, so that it can claim more padding
	// than it holds.
	mk := func(cols int, padded, count uint32, values int) []byte {
		b := binary.BigEndian.AppendUint16([]byte{Version, byte(TypeReveal)}, uint16(cols))
		b = append(b, make([]byte, 8*cols)...)
		b = binary.BigEndian.AppendUint32(b, padded)
		b = binary.BigEndian.AppendUint32(b, count)
		b = append(b, make([]byte, 8*values)...)
		if pad := (int64(padded) - int64(count)) * int64(cols) * 8; pad > 0 && pad < 1<<20 {
			b = append(b, make([]byte, pad)...)
		}
		return b
	}
	mustAccept(t, "3 cols, 2 records", dec, mk(3, 2, 2, 6))
	mustAccept(t, "3 cols, 2 records padded to 5", dec, mk(3, 5, 2, 6))
	mustAccept(t, "3 cols, no records", dec, mk(3, 0, 0, 0))
	mustAccept(t, "MaxColumns cols", dec, mk(MaxColumns, 1, 1, MaxColumns))
	mustReject(t, "MaxColumns+1 cols", dec, mk(MaxColumns+1, 0, 0, 0))
	mustReject(t, "count above padding", dec, mk(1, 1, 2, 2))
	mustReject(t, "padded MaxRecords+1", dec, mk(1, MaxRecords+1, 0, 0))
	mustReject(t, "padded MaxUint32", dec, mk(1, math.MaxUint32, 0, 0))
	// With no columns the records take no bytes: only the limit stops them.
	mustAccept(t, "0 cols, MaxRecords records", dec, mk(0, MaxRecords, MaxRecords, 0))
	mustReject(t, "0 cols, MaxRecords+1 records", dec, mk(0, MaxRecords+1, MaxRecords+1, 0))
	mustReject(t, "3 cols, 2 records, 5 values", dec, mk(3, 2, 2, 5))
	mustReject(t, "3 cols, 2 records, 7 values", dec, mk(3, 2, 2, 7))
	mustReject(t, "totals truncated", dec, (&Reveal{Totals: make([]uint64, 3)}).Encode()[:2+2+8])
	b := mk(2, 4, 1, 2)
	c := bytes.Clone(b)
	c[len(c)-1] = 1
	mustReject(t, "non-zero padding", dec, c)
	mustReject(t, "padding short", dec, b[:len(b)-8])
	// count × cols × 8 wrapping a 32-bit int: 2^29 × 1 × 8 = 2^32.
	mustReject(t, "2^29 records of 1 column, none present", dec, mk(1, 1<<29, 1<<29, 0))
	mustReject(t, "2^27 records of 4 columns, none present", dec, mk(4, 1<<27, 1<<27, 0))
}

func TestDoneValidation(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{1, 2, 5} {
		b := randDone(r, n).Encode()
		mustAccept(t, fmt.Sprintf("n=%d", n), decoderFor(TypeDone, n, 0), b)
		mustReject(t, fmt.Sprintf("%d MACs for n=%d", n, n+1), decoderFor(TypeDone, n+1, 0), b)
		mustReject(t, fmt.Sprintf("%d MACs for n=%d", n, n-1), decoderFor(TypeDone, n-1, 0), b)
		c := bytes.Clone(b)
		binary.BigEndian.PutUint16(c[2:], uint16(n-1))
		mustReject(t, fmt.Sprintf("count %d, %d MACs present, n=%d", n-1, n, n), decoderFor(TypeDone, n, 0), c)
	}
}

func abortMessage(from uint16, code uint8, reason, sig []byte) []byte {
	b := []byte{Version, byte(TypeAbort)}
	b = binary.BigEndian.AppendUint16(b, from)
	b = append(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(reason)))
	b = append(b, reason...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sig)))
	return append(b, sig...)
}

func TestAbortValidation(t *testing.T) {
	dec := decoderFor(TypeAbort, 0, 0)
	mustAccept(t, "empty reason", dec, abortMessage(Coordinator, 3, nil, nil))
	mustAccept(t, "MaxReasonLen reason", dec, abortMessage(0, 3, bytes.Repeat([]byte("é"), MaxReasonLen/2), nil))
	mustReject(t, "MaxReasonLen+1 reason", dec, abortMessage(0, 3, bytes.Repeat([]byte("a"), MaxReasonLen+1), nil))
	for _, bad := range []string{"\xff", "ok\x80", "\xe2\x82", "\xed\xb0\x80", "\xc1\xbf"} {
		mustReject(t, fmt.Sprintf("reason %q", bad), dec, abortMessage(0, 3, []byte(bad), nil))
	}
	mustAccept(t, "MaxSigLen signature", dec, abortMessage(0, 3, []byte("abc"), make([]byte, MaxSigLen)))
	mustReject(t, "MaxSigLen+1 signature", dec, abortMessage(0, 3, []byte("abc"), make([]byte, MaxSigLen+1)))
	// The length fields must match the bytes present.
	b := abortMessage(0, 3, []byte("abc"), []byte("sig"))
	mustReject(t, "signature length beyond the message", dec, b[:len(b)-1])
	mustReject(t, "trailing byte", dec, append(bytes.Clone(b), 0))
	b = abortMessage(0, 3, []byte("abc"), nil)
	mustReject(t, "no signature field", dec, b[:len(b)-2])
	mustReject(t, "reason length beyond the message", dec, b[:len(b)-3])
}

// TestAbortEncodeTruncates: Encode cuts a reason longer than MaxReasonLen
// to fit. What it produces must still decode, to a valid prefix of the
// reason. Cutting at byte MaxReasonLen splits a multi-byte rune that
// straddles it; the decoder then rejects the message as not UTF-8.
func TestAbortEncodeTruncates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
	}{
		{"ASCII", strings.Repeat("a", 3*MaxReasonLen)},
		{"ASCII, one over", strings.Repeat("a", MaxReasonLen+1)},
		{"2-byte runes, aligned", strings.Repeat("é", MaxReasonLen)},
		{"2-byte rune straddling the limit", "a" + strings.Repeat("é", MaxReasonLen/2)},
		{"3-byte rune straddling the limit", strings.Repeat("a", MaxReasonLen-1) + "€"},
		{"4-byte rune straddling the limit", strings.Repeat("a", MaxReasonLen-2) + "😀" + "tail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Abort{From: 2, Code: 7, Reason: tc.reason}
			b := m.Encode()
			if len(b) > 2+2+1+2+MaxReasonLen+2 {
				t.Fatalf("encoding of %d bytes exceeds the limit", len(b))
			}
			d, err := DecodeAbort(b)
			if err != nil {
				cut := tc.reason[:MaxReasonLen]
				t.Fatalf("Abort.Encode of a %d-byte reason is not decodable: %v (it cuts at byte %d, leaving %q at the end, valid UTF-8: %v)",
					len(tc.reason), err, MaxReasonLen, cut[len(cut)-3:], utf8.ValidString(cut))
			}
			if d.From != m.From || d.Code != m.Code {
				t.Errorf("From, Code = %d, %d", d.From, d.Code)
			}
			if !strings.HasPrefix(tc.reason, d.Reason) || len(d.Reason) > MaxReasonLen || len(d.Reason) < MaxReasonLen-utf8.UTFMax+1 {
				t.Errorf("decoded reason of %d bytes is not the longest fitting prefix", len(d.Reason))
			}
		})
	}
}
