package wire

import (
	"math/rand/v2"
	"reflect"
	"strings"

	"github.com/maskshare/maskshare/psi"
)

// Random, valid messages for the round-trip tests and the fuzz seeds.

var runePool = []rune{'a', 'Z', '0', ' ', '-', 'é', 'ß', '€', '中', '😀', '\u0000', '\u007f', '\u00a0', '\U0010ffff'}

// randString returns a valid UTF-8 string of at most max bytes, with
// multi-byte runes.
func randString(r *rand.Rand, max int) string {
	target := r.IntN(max + 1)
	if r.IntN(8) == 0 {
		target = max
	}
	var b strings.Builder
	for b.Len() < target {
		c := runePool[r.IntN(len(runePool))]
		if b.Len()+len(string(c)) > target {
			c = 'x'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func randBytes(r *rand.Rand, n int) []byte {
	if n == 0 {
		return nil // decoders return nil for empty byte strings
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func randKey(r *rand.Rand) (k [KeySize]byte) {
	copy(k[:], randBytes(r, KeySize))
	return k
}

func randWords(r *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = r.Uint64()
	}
	return v
}

// smallLen returns a length up to max, usually small, sometimes 0 or max.
func smallLen(r *rand.Rand, max int) int {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return max
	default:
		return r.IntN(min(max, 40) + 1)
	}
}

func randParams(r *rand.Rand) Params {
	p := Params{
		Mode:            uint8(r.Uint32()),
		Threshold:       uint16(r.Uint32()),
		Reveal:          uint8(r.Uint32()),
		MinResult:       r.Uint32(),
		CoordinatorSees: r.IntN(2) == 1,
		FoldCase:        r.IntN(2) == 1,
		BucketRows:      r.Uint32() >> r.IntN(33),
	}
	for range 2 + r.IntN(7) {
		p.Parties = append(p.Parties, randString(r, min(MaxNameLen, 40+r.IntN(MaxNameLen))))
	}
	for range 1 + r.IntN(5) {
		p.Columns = append(p.Columns, Column{Name: randString(r, 30), Type: uint8(r.Uint32()), Scale: uint8(r.Uint32())})
	}
	return p
}

func randOpen(r *rand.Rand) *Open {
	p := randParams(r)
	return &Open{Session: randKey(r), Index: uint16(r.IntN(len(p.Parties))), Params: p}
}

func randHello(r *rand.Rand) *Hello {
	h := &Hello{Key: randKey(r), Bound: 1 << r.IntN(31), Sig: randBytes(r, smallLen(r, MaxSigLen))}
	if r.IntN(4) != 0 { // ecdh mode; zero in keyed mode
		h.Blind = psi.Element(randKey(r))
	}
	return h
}

func randPeers(r *rand.Rand, n int) *Peers {
	m := &Peers{MaskPlus: randKey(r), MaskMinus: randKey(r)}
	for range n {
		m.Hellos = append(m.Hellos, *randHello(r))
	}
	return m
}

func randSealed(r *rand.Rand, n, self int) *Sealed {
	m := &Sealed{}
	for _, p := range r.Perm(n) {
		if p != self {
			m.Boxes = append(m.Boxes, Box{Peer: uint16(p), Sealed: randBytes(r, smallLen(r, MaxSealedSize))})
		}
	}
	return m
}

func randTags(r *rand.Rand) *Tags {
	m := &Tags{}
	for range smallLen(r, 200) {
		var t psi.Tag
		copy(t[:], randBytes(r, TagSize))
		m.Tags = append(m.Tags, t)
	}
	return m
}

// randElements returns a list as a party sends it (hop 0..n−1, a chain of
// hop+1 points) or as the coordinator relays it (hop 1..n, hop points).
func randElements(r *rand.Rand, n int) *Elements {
	m := &Elements{Owner: uint16(r.IntN(n))}
	chain := 0
	if r.IntN(2) == 0 {
		m.Hop = uint16(r.IntN(n))
		chain = int(m.Hop) + 1
	} else {
		m.Hop = uint16(1 + r.IntN(n))
		chain = int(m.Hop)
	}
	copy(m.MAC[:], randBytes(r, KeySize))
	for i := range chain {
		m.Chain = append(m.Chain, psi.Element(randKey(r)))
		if i > 0 {
			var p psi.Proof
			copy(p[:], randBytes(r, ProofSize))
			m.Proofs = append(m.Proofs, p)
		}
	}
	for range smallLen(r, 100) {
		var e psi.Element
		copy(e[:], randBytes(r, ElementSize))
		m.Elems = append(m.Elems, e)
	}
	return m
}

func randMatch(r *rand.Rand) *Match {
	m := &Match{Size: r.Uint32()}
	for range smallLen(r, 200) {
		m.Matches = append(m.Matches, MatchEntry{Pos: r.Uint32(), Index: r.Uint32(), Holders: uint16(r.IntN(MaxParties + 1)), Designated: r.IntN(2) == 0})
	}
	m.Padded = uint32(len(m.Matches) + smallLen(r, 20))
	return m
}

func randMasked(r *rand.Rand) *Masked {
	m := &Masked{Columns: uint16(1 + r.IntN(4)), Size: uint32(smallLen(r, 60))}
	m.Words = randWords(r, int(m.Columns)*int(m.Size))
	return m
}

func randReveal(r *rand.Rand) *Reveal {
	cols := r.IntN(6)
	m := &Reveal{Totals: randWords(r, cols), Count: uint32(smallLen(r, 30))}
	m.Padded = m.Count + uint32(smallLen(r, 10))
	m.Values = randWords(r, int(m.Count)*cols)
	return m
}

func randConfirm(r *rand.Rand) *Confirm { return &Confirm{MAC: randKey(r)} }

func randDone(r *rand.Rand, n int) *Done {
	m := &Done{}
	for range n {
		m.MACs = append(m.MACs, randKey(r))
	}
	return m
}

func randAbort(r *rand.Rand) *Abort {
	return &Abort{From: uint16(r.Uint32()), Code: uint8(r.Uint32()), Reason: randString(r, smallLen(r, MaxReasonLen)), Sig: randBytes(r, smallLen(r, MaxSigLen))}
}

type encoder interface{ Encode() []byte }

// sample is one valid message with the decoder for its session shape.
type sample struct {
	typ    Type
	msg    encoder
	n      int // parties, for the decoders that take it
	self   int // for DecodeSealed
	decode func([]byte) (encoder, error)
}

func decoderFor(t Type, n, self int) func([]byte) (encoder, error) {
	switch t {
	case TypeOpen:
		return func(b []byte) (encoder, error) { return DecodeOpen(b) }
	case TypeHello:
		return func(b []byte) (encoder, error) { return DecodeHello(b) }
	case TypePeers:
		return func(b []byte) (encoder, error) { return DecodePeers(b, n) }
	case TypeSealed:
		return func(b []byte) (encoder, error) { return DecodeSealed(b, n, self) }
	case TypeTags:
		return func(b []byte) (encoder, error) { return DecodeTags(b) }
	case TypeElements:
		return func(b []byte) (encoder, error) { return DecodeElements(b, n) }
	case TypeMatch:
		return func(b []byte) (encoder, error) { return DecodeMatch(b) }
	case TypeMasked:
		return func(b []byte) (encoder, error) { return DecodeMasked(b) }
	case TypeReveal:
		return func(b []byte) (encoder, error) { return DecodeReveal(b) }
	case TypeConfirm:
		return func(b []byte) (encoder, error) { return DecodeConfirm(b) }
	case TypeDone:
		return func(b []byte) (encoder, error) { return DecodeDone(b, n) }
	case TypeAbort:
		return func(b []byte) (encoder, error) { return DecodeAbort(b) }
	case TypeSizes:
		return func(b []byte) (encoder, error) { return DecodeSizes(b, n) }
	case TypeRejoin:
		return func(b []byte) (encoder, error) { return DecodeRejoin(b) }
	case TypeResume:
		return func(b []byte) (encoder, error) { return DecodeResume(b) }
	case TypeAck:
		return func(b []byte) (encoder, error) { return DecodeAck(b) }
	}
	panic("no decoder for " + t.String())
}

// randSample returns a random valid message of type t.
func randSample(r *rand.Rand, t Type) sample {
	n := 2 + r.IntN(7)
	if r.IntN(10) == 0 {
		n = 1 + r.IntN(MaxParties)
	}
	self := r.IntN(n)
	var m encoder
	switch t {
	case TypeOpen:
		m = randOpen(r)
	case TypeHello:
		m = randHello(r)
	case TypePeers:
		n = min(n, 20)
		m = randPeers(r, n)
	case TypeSealed:
		n = min(n, 20)
		self = r.IntN(n)
		m = randSealed(r, n, self)
	case TypeTags:
		m = randTags(r)
	case TypeElements:
		m = randElements(r, n)
	case TypeMatch:
		m = randMatch(r)
	case TypeMasked:
		m = randMasked(r)
	case TypeReveal:
		m = randReveal(r)
	case TypeConfirm:
		m = randConfirm(r)
	case TypeDone:
		n = min(n, 50)
		m = randDone(r, n)
	case TypeAbort:
		m = randAbort(r)
	case TypeSizes:
		n = 1 + r.IntN(300)
		sz := &Sizes{}
		for range n {
			sz.Sizes = append(sz.Sizes, r.Uint32N(MaxRecords+1))
		}
		m = sz
	case TypeRejoin:
		m = &Rejoin{Done: r.Uint32(), Attempt: r.Uint32()}
	case TypeResume:
		m = &Resume{Step: r.Uint32(), Attempt: r.Uint32()}
	case TypeAck:
		m = &Ack{Bucket: r.Uint32()}
	default:
		panic("no generator for " + t.String())
	}
	return sample{typ: t, msg: m, n: n, self: self, decode: decoderFor(t, n, self)}
}

var allTypes = []Type{TypeOpen, TypeHello, TypePeers, TypeSealed, TypeTags, TypeElements, TypeMatch, TypeMasked, TypeReveal, TypeConfirm, TypeDone, TypeAbort, TypeSizes, TypeRejoin, TypeResume, TypeAck}

// normalize replaces empty slices by nil throughout v (a pointer), so that a
// decoded message compares equal to the one encoded whichever of the two a
// decoder returns for "none".
func normalize(v any) any {
	normalizeValue(reflect.ValueOf(v))
	return v
}

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			normalizeValue(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	}
}
