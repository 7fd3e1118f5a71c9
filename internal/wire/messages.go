package wire

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/maskshare/maskshare/psi"
)

// Column describes one value column of the session.
type Column struct {
	Name  string
	Type  uint8
	Scale uint8
}

// Params are the session parameters as the coordinator announces them.
type Params struct {
	Mode            uint8
	Threshold       uint16
	Reveal          uint8
	MinResult       uint32
	CoordinatorSees bool
	FoldCase        bool
	Parties         []string
	Columns         []Column
	// BucketRows is the bucketed sessions' rows per bucket; 0 for a
	// session in one piece.
	BucketRows uint32
}

func (w *writer) params(p *Params) {
	w.u8(p.Mode)
	w.u16(p.Threshold)
	w.u8(p.Reveal)
	w.u32(p.MinResult)
	w.u8(b2u(p.CoordinatorSees))
	w.u8(b2u(p.FoldCase))
	w.u16(uint16(len(p.Parties)))
	for _, s := range p.Parties {
		w.str16(s)
	}
	w.u16(uint16(len(p.Columns)))
	for _, c := range p.Columns {
		w.str16(c.Name)
		w.u8(c.Type)
		w.u8(c.Scale)
	}
	w.u32(p.BucketRows)
}

func (r *reader) params() Params {
	var p Params
	p.Mode = r.u8()
	p.Threshold = r.u16()
	p.Reveal = r.u8()
	p.MinResult = r.u32()
	p.CoordinatorSees = r.bool()
	p.FoldCase = r.bool()
	n := int(r.u16())
	if r.err == nil && (n < 2 || n > MaxParties) {
		r.fail("%d parties", n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		p.Parties = append(p.Parties, r.str16(MaxNameLen, "party name"))
	}
	nc := int(r.u16())
	if r.err == nil && (nc < 1 || nc > MaxColumns) {
		r.fail("%d columns", nc)
	}
	for i := 0; i < nc && r.err == nil; i++ {
		p.Columns = append(p.Columns, Column{Name: r.str16(MaxNameLen, "column name"), Type: r.u8(), Scale: r.u8()})
	}
	p.BucketRows = r.u32()
	return p
}

// EncodeParams returns the canonical encoding of p, which the session hashes
// into its transcript.
func EncodeParams(p *Params) []byte {
	w := &writer{}
	w.params(p)
	return w.b
}

func (r *reader) bool() bool {
	v := r.u8()
	if v > 1 {
		r.fail("boolean %d", v)
	}
	return v == 1
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Open starts a session for one party.
type Open struct {
	Session [KeySize]byte
	Index   uint16 // the receiving party's index
	Params  Params
}

func (m *Open) Encode() []byte {
	w := newWriter(TypeOpen, 64)
	w.raw(m.Session[:])
	w.u16(m.Index)
	w.params(&m.Params)
	return w.b
}

func DecodeOpen(msg []byte) (*Open, error) {
	r := newReader(msg, TypeOpen)
	m := &Open{Session: r.key(), Index: r.u16(), Params: r.params()}
	if r.err == nil && int(m.Index) >= len(m.Params.Parties) {
		r.fail("index %d out of range for %d parties", m.Index, len(m.Params.Parties))
	}
	return m, r.done()
}

// Hello gives a party's ephemeral key, its ecdh-mode key commitment and
// the bound on its set size (the smallest power of two at least its number
// of records), signed by its identity key if the session uses identities.
type Hello struct {
	Key   [KeySize]byte
	Blind psi.Element // Y = k·B in ecdh mode; zero in keyed mode (checked by the session, which knows the mode)
	Bound uint32
	Sig   []byte
}

func (w *writer) hello(h *Hello) {
	w.raw(h.Key[:])
	w.raw(h.Blind[:])
	w.u32(h.Bound)
	w.bytes16(h.Sig)
}

func (r *reader) hello() Hello {
	h := Hello{Key: r.key(), Blind: psi.Element(r.key()), Bound: r.u32()}
	if r.err == nil && !ValidBound(h.Bound) {
		r.fail("set size bound %d", h.Bound)
	}
	h.Sig = r.bytes16(MaxSigLen, "signature")
	return h
}

// ValidBound reports whether b can bound a set size: a power of two no
// larger than MaxRecords.
func ValidBound(b uint32) bool {
	return b != 0 && b&(b-1) == 0 && b <= MaxRecords
}

func (m *Hello) Encode() []byte {
	w := newWriter(TypeHello, KeySize+ElementSize+6+len(m.Sig))
	w.hello(m)
	return w.b
}

func DecodeHello(msg []byte) (*Hello, error) {
	r := newReader(msg, TypeHello)
	m := r.hello()
	return &m, r.done()
}

// Peers relays every party's Hello and deals the receiver's mask seeds.
type Peers struct {
	Hellos    []Hello
	MaskPlus  [KeySize]byte
	MaskMinus [KeySize]byte
}

func (m *Peers) Encode() []byte {
	w := newWriter(TypePeers, len(m.Hellos)*(KeySize+ElementSize+70)+2*KeySize)
	w.u16(uint16(len(m.Hellos)))
	for i := range m.Hellos {
		w.hello(&m.Hellos[i])
	}
	w.raw(m.MaskPlus[:])
	w.raw(m.MaskMinus[:])
	return w.b
}

// DecodePeers decodes a Peers message for a session of n parties.
func DecodePeers(msg []byte, n int) (*Peers, error) {
	r := newReader(msg, TypePeers)
	m := &Peers{}
	if got := int(r.u16()); r.err == nil && got != n {
		r.fail("%d hellos for %d parties", got, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Hellos = append(m.Hellos, r.hello())
	}
	m.MaskPlus = r.key()
	m.MaskMinus = r.key()
	return m, r.done()
}

// Box is a sealed message to (when a party sends) or from (when the
// coordinator relays) another party.
type Box struct {
	Peer   uint16
	Sealed []byte
}

// Sealed carries a party's boxes: one for every other party.
type Sealed struct {
	Boxes []Box
}

func (m *Sealed) Encode() []byte {
	w := newWriter(TypeSealed, len(m.Boxes)*(4+100))
	w.u16(uint16(len(m.Boxes)))
	for _, b := range m.Boxes {
		w.u16(b.Peer)
		w.bytes16(b.Sealed)
	}
	return w.b
}

// DecodeSealed decodes a Sealed message of a session of n parties; it must
// hold exactly n−1 boxes with distinct peers, none equal to self.
func DecodeSealed(msg []byte, n, self int) (*Sealed, error) {
	if n < 2 || n > MaxParties || self < 0 || self >= n {
		return nil, fmt.Errorf("%w: sealed boxes for party %d of %d", ErrMalformed, self, n)
	}
	r := newReader(msg, TypeSealed)
	m := &Sealed{}
	if got := int(r.u16()); r.err == nil && got != n-1 {
		r.fail("%d boxes for %d parties", got, n)
	}
	seen := make([]bool, n)
	for i := 0; i < n-1 && r.err == nil; i++ {
		p := r.index(n, "peer")
		if r.err == nil && (p == self || seen[p]) {
			r.fail("box for peer %d repeated or addressed to the sender", p)
		}
		if r.err == nil {
			seen[p] = true
		}
		m.Boxes = append(m.Boxes, Box{Peer: uint16(p), Sealed: r.bytes16(MaxSealedSize, "box")})
	}
	return m, r.done()
}

// Tags carries a party's keyed-mode tags, in the party's chosen order.
type Tags struct {
	Tags []psi.Tag
}

func (m *Tags) Encode() []byte {
	w := newWriter(TypeTags, 4+len(m.Tags)*TagSize)
	writeItems(w, m.Tags)
	return w.b
}

func DecodeTags(msg []byte) (*Tags, error) {
	r := newReader(msg, TypeTags)
	m := &Tags{Tags: readItems[psi.Tag](r, "tags")}
	return m, r.done()
}

// writeItems writes a count and the fixed-size items of a list.
func writeItems[T psi.Tag | psi.Element](w *writer, items []T) {
	w.u32(uint32(len(items)))
	for i := range items {
		w.raw(itemBytes(&items[i]))
	}
}

// readItems reads what writeItems wrote.
func readItems[T psi.Tag | psi.Element](r *reader, what string) []T {
	var zero T
	size := len(itemBytes(&zero))
	n := r.count(MaxRecords, size, what)
	if r.err != nil {
		return nil
	}
	items := make([]T, n)
	p := r.take(n * size)
	for i := range items {
		copy(itemBytes(&items[i]), p[i*size:])
	}
	return items
}

func itemBytes[T psi.Tag | psi.Element](x *T) []byte {
	switch v := any(x).(type) {
	case *psi.Tag:
		return v[:]
	case *psi.Element:
		return v[:]
	}
	panic("unreachable")
}

// Elements carries an ecdh-mode list: the list of party Owner after Hop
// blindings beyond the owner's own; hop n is the list back at its owner.
// MAC authenticates the list from the party that produced it to the party
// that consumes it (the coordinator relays it but cannot compute it).
//
// Chain is the list's check point after each blinding: Chain[0] is the
// owner's weighted sum of its hop-0 list, Chain[h] = k_j·Chain[h−1] for
// the party j that blinded it at hop h, proven by Proofs[h−1]. A list
// produced at hop h carries h+1 points (a party's message), one relayed
// for hop h carries h (the coordinator's); so len(Chain) is hop or hop+1,
// between 1 and n, and len(Proofs) = len(Chain) − 1.
type Elements struct {
	Owner  uint16
	Hop    uint16
	MAC    [KeySize]byte
	Chain  []psi.Element
	Proofs []psi.Proof
	Elems  []psi.Element
}

// A proof on the wire is a psi.Proof.
var _ [ProofSize]byte = psi.Proof{}

func (m *Elements) Encode() []byte {
	w := newWriter(TypeElements, 10+KeySize+len(m.Chain)*ElementSize+len(m.Proofs)*ProofSize+len(m.Elems)*ElementSize)
	w.u16(m.Owner)
	w.u16(m.Hop)
	w.raw(m.MAC[:])
	w.u16(uint16(len(m.Chain)))
	for i := range m.Chain {
		w.raw(m.Chain[i][:])
	}
	for i := range m.Proofs {
		w.raw(m.Proofs[i][:])
	}
	writeItems(w, m.Elems)
	return w.b
}

// DecodeElements decodes an Elements message of a session of n parties. The
// elements and chain points are not validated as group elements here, nor
// the proofs: psi does that.
func DecodeElements(msg []byte, n int) (*Elements, error) {
	r := newReader(msg, TypeElements)
	m := &Elements{Owner: uint16(r.index(n, "owner"))}
	m.Hop = r.u16()
	if r.err == nil && int(m.Hop) > n {
		r.fail("hop %d for %d parties", m.Hop, n)
	}
	m.MAC = r.key()
	// The chain's length is bounded by hop (≤ n) before anything is
	// allocated for it.
	c := int(r.u16())
	if r.err == nil && (c < 1 || c > n || c < int(m.Hop) || c > int(m.Hop)+1) {
		r.fail("chain of %d points at hop %d of %d parties", c, m.Hop, n)
	}
	if r.err == nil {
		p := r.take(c*ElementSize + (c-1)*ProofSize)
		if r.err == nil {
			m.Chain = make([]psi.Element, c)
			for i := range m.Chain {
				copy(m.Chain[i][:], p[i*ElementSize:])
			}
			p = p[c*ElementSize:]
			if c > 1 {
				m.Proofs = make([]psi.Proof, c-1)
				for i := range m.Proofs {
					copy(m.Proofs[i][:], p[i*ProofSize:])
				}
			}
		}
	}
	m.Elems = readItems[psi.Element](r, "elements")
	return m, r.done()
}

// Match tells a party the result size and which items of its list qualify.
// The entries are followed by zero padding up to Padded entries, so that
// the message's length depends only on sizes the network already shows.
type Match struct {
	Size    uint32
	Padded  uint32
	Matches []MatchEntry
	// Width is the number of candidate bytes per entry: n − 1 in oprf
	// mode (Cands[e*Width+p] is, for entry e and the p-th other party in
	// party order, which of the party's candidate tags matched), 0
	// otherwise.
	Width int
	Cands []uint8
}

// A MatchEntry says that the item at position Pos of the party's list is
// the qualifying record with canonical index Index, that Holders parties
// hold it, and whether this party is the one holder that adds the record's
// output mask.
type MatchEntry struct {
	Pos        uint32
	Index      uint32
	Holders    uint16
	Designated bool
}

const (
	matchSize      = 4 + 4 + 2
	designatedFlag = 0x8000
)

func (m *Match) Encode() []byte {
	entry := matchSize + m.Width
	w := newWriter(TypeMatch, 12+int(max(m.Padded, uint32(len(m.Matches))))*entry)
	w.u32(m.Size)
	w.u32(m.Padded)
	w.u32(uint32(len(m.Matches)))
	for i, x := range m.Matches {
		w.u32(x.Pos)
		w.u32(x.Index)
		h := x.Holders
		if x.Designated {
			h |= designatedFlag
		}
		w.u16(h)
		w.raw(m.Cands[i*m.Width : (i+1)*m.Width])
	}
	w.zeros((int(m.Padded) - len(m.Matches)) * entry)
	return w.b
}

// DecodeMatch decodes a Match of the keyed and ecdh modes.
func DecodeMatch(msg []byte) (*Match, error) { return DecodeMatchWidth(msg, 0) }

// DecodeMatchWidth decodes a Match whose entries carry width candidate
// bytes each (oprf mode: n − 1), each below OPRFCandidates.
func DecodeMatchWidth(msg []byte, width int) (*Match, error) {
	r := newReader(msg, TypeMatch)
	if width < 0 || width >= MaxParties {
		r.fail("match width %d", width)
	}
	entry := uint64(matchSize + width)
	m := &Match{Size: r.u32(), Padded: r.u32(), Width: width}
	if r.err == nil && (m.Padded > MaxRecords || uint64(m.Padded)*entry+4 != uint64(len(r.b))) {
		r.fail("%d padded entries in %d bytes", m.Padded, len(r.b))
	}
	n := r.count(int(m.Padded), int(entry), "matches")
	if r.err == nil {
		m.Matches = make([]MatchEntry, n)
		if width > 0 {
			m.Cands = make([]uint8, n*width)
		}
		for i := range m.Matches {
			x := MatchEntry{Pos: r.u32(), Index: r.u32()}
			h := r.u16()
			x.Holders, x.Designated = h&^designatedFlag, h&designatedFlag != 0
			if r.err == nil && x.Holders > MaxParties {
				r.fail("%d holders", x.Holders)
			}
			if width > 0 {
				c := r.take(width)
				for _, v := range c {
					if v >= OPRFCandidates {
						r.fail("candidate %d", v)
					}
				}
				copy(m.Cands[i*width:], c)
			}
			m.Matches[i] = x
		}
	}
	r.padding()
	return m, r.done()
}

// Masked is a party's masked vector: Columns columns of Size words each,
// column after column (a word per qualifying record and one for the
// column's total, or only the total).
type Masked struct {
	Columns uint16
	Size    uint32
	Words   []uint64
}

func (m *Masked) Encode() []byte {
	w := newWriter(TypeMasked, 6+8*len(m.Words))
	w.u16(m.Columns)
	w.u32(m.Size)
	w.words(m.Words)
	return w.b
}

func DecodeMasked(msg []byte) (*Masked, error) {
	cols, size, words, err := MaskedWords(msg)
	if err != nil {
		return nil, err
	}
	m := &Masked{Columns: cols, Size: size, Words: make([]uint64, len(words)/8)}
	for i := range m.Words {
		m.Words[i] = binary.LittleEndian.Uint64(words[8*i:])
	}
	return m, nil
}

// MaskedWords validates a Masked message and returns its shape and its
// words as they are on the wire (little-endian), without copying them:
// what the coordinator adds up.
func MaskedWords(msg []byte) (columns uint16, size uint32, words []byte, err error) {
	r := newReader(msg, TypeMasked)
	columns, size = r.u16(), r.u32()
	if r.err == nil && (columns == 0 || int(columns) > MaxColumns || size > MaxRecords) {
		r.fail("vector of %d columns × %d", columns, size)
	}
	n := uint64(columns) * uint64(size)
	if r.err == nil && !r.fits(n) {
		r.fail("vector of %d words in %d bytes", n, len(r.b))
	}
	if r.err == nil {
		words = r.take(int(n) * 8)
	}
	if err := r.done(); err != nil {
		return 0, 0, nil, err
	}
	return columns, size, words, nil
}

// Reveal carries the masked aggregates a party may see: the column totals
// and, if the policy reveals records, the values of the party's matches in
// the order of its Match, followed by zero padding up to Padded records.
type Reveal struct {
	Totals []uint64
	Padded uint32
	Count  uint32
	Values []uint64 // Count records × len(Totals) columns, record after record
}

func (m *Reveal) Encode() []byte {
	w := newWriter(TypeReveal, 10+8*len(m.Totals)*(1+int(max(m.Padded, m.Count))))
	w.u16(uint16(len(m.Totals)))
	w.words(m.Totals)
	w.u32(m.Padded)
	w.u32(m.Count)
	w.words(m.Values)
	w.zeros((int(m.Padded) - int(m.Count)) * len(m.Totals) * 8)
	return w.b
}

func DecodeReveal(msg []byte) (*Reveal, error) {
	r := newReader(msg, TypeReveal)
	cols := int(r.u16())
	if r.err == nil && cols > MaxColumns {
		r.fail("%d columns", cols)
	}
	m := &Reveal{}
	m.Totals = r.words(cols)
	m.Padded, m.Count = r.u32(), r.u32()
	if r.err == nil && (m.Padded > MaxRecords || m.Count > m.Padded || !r.fits(uint64(m.Padded)*uint64(cols))) {
		r.fail("%d of %d padded records of %d columns in %d bytes", m.Count, m.Padded, cols, len(r.b))
	}
	if r.err == nil {
		m.Values = r.words(int(m.Count) * cols)
	}
	r.padding()
	return m, r.done()
}

// Confirm carries a party's MAC over the transcript.
type Confirm struct {
	MAC [KeySize]byte
}

func (m *Confirm) Encode() []byte {
	w := newWriter(TypeConfirm, KeySize)
	w.raw(m.MAC[:])
	return w.b
}

func DecodeConfirm(msg []byte) (*Confirm, error) {
	r := newReader(msg, TypeConfirm)
	m := &Confirm{MAC: r.key()}
	return m, r.done()
}

// Done relays every party's Confirm.
type Done struct {
	MACs [][KeySize]byte
}

func (m *Done) Encode() []byte {
	w := newWriter(TypeDone, 2+KeySize*len(m.MACs))
	w.u16(uint16(len(m.MACs)))
	for _, x := range m.MACs {
		w.raw(x[:])
	}
	return w.b
}

// DecodeDone decodes a Done message of a session of n parties.
func DecodeDone(msg []byte, n int) (*Done, error) {
	r := newReader(msg, TypeDone)
	if got := int(r.u16()); r.err == nil && got != n {
		r.fail("%d MACs for %d parties", got, n)
	}
	m := &Done{}
	for i := 0; i < n && r.err == nil; i++ {
		m.MACs = append(m.MACs, r.key())
	}
	return m, r.done()
}

// Abort ends the session. From is the index of the party that failed, or
// Coordinator; Code classifies the failure (the session engine maps it to an
// error) and Reason says more, without any secret or data. Sig is the
// sending party's identity signature over the session and the other fields
// (empty from the coordinator, which has no session identity).
type Abort struct {
	From   uint16
	Code   uint8
	Reason string
	Sig    []byte
}

// FitReason returns reason as an Abort carries it: cut to at most
// MaxReasonLen bytes at a rune boundary, invalid UTF-8 dropped. A signer
// signs the fitted reason, which is what the receiver decodes.
func FitReason(reason string) string {
	if len(reason) > MaxReasonLen {
		// Cut at a rune boundary, so the reason stays UTF-8.
		cut := MaxReasonLen
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	return strings.ToValidUTF8(reason, "") // never longer than before
}

func (m *Abort) Encode() []byte {
	reason := FitReason(m.Reason)
	w := newWriter(TypeAbort, 7+len(reason)+len(m.Sig))
	w.u16(m.From)
	w.u8(m.Code)
	w.str16(reason)
	w.bytes16(m.Sig)
	return w.b
}

func DecodeAbort(msg []byte) (*Abort, error) {
	r := newReader(msg, TypeAbort)
	m := &Abort{From: r.u16(), Code: r.u8(), Reason: r.str16(MaxReasonLen, "reason")}
	m.Sig = r.bytes16(MaxSigLen, "signature")
	return m, r.done()
}

// Sizes tells the parties of a bucketed session the result size of every
// bucket, before any bucket's Match: they check the total against the
// session's minimum before anything is revealed. Under the cardinality
// policy it holds one size, the total.
type Sizes struct {
	Sizes []uint32
}

// Encode returns the message's encoding.
func (m *Sizes) Encode() []byte {
	w := newWriter(TypeSizes, 4+4*len(m.Sizes))
	w.u32(uint32(len(m.Sizes)))
	for _, x := range m.Sizes {
		w.u32(x)
	}
	return w.b
}

// DecodeSizes decodes a Sizes message of want sizes.
func DecodeSizes(msg []byte, want int) (*Sizes, error) {
	r := newReader(msg, TypeSizes)
	if got := int(r.u32()); r.err == nil && got != want {
		r.fail("%d sizes, want %d", got, want)
	}
	m := &Sizes{}
	if r.err == nil && len(r.b) != 4*want {
		r.fail("%d bytes for %d sizes", len(r.b), want)
	}
	for i := 0; i < want && r.err == nil; i++ {
		x := r.u32()
		if x > MaxRecords {
			r.fail("size %d", x)
		}
		m.Sizes = append(m.Sizes, x)
	}
	return m, r.done()
}

// Rejoin is a party's answer to the Open of a suspended bucketed session
// it holds a checkpoint of: the last step it completed and the last
// attempt number it used.
type Rejoin struct {
	Done    uint32
	Attempt uint32
}

// Encode returns the message's encoding.
func (m *Rejoin) Encode() []byte {
	w := newWriter(TypeRejoin, 8)
	w.u32(m.Done)
	w.u32(m.Attempt)
	return w.b
}

// DecodeRejoin decodes a Rejoin message.
func DecodeRejoin(msg []byte) (*Rejoin, error) {
	r := newReader(msg, TypeRejoin)
	m := &Rejoin{Done: r.u32(), Attempt: r.u32()}
	return m, r.done()
}

// Resume tells the parties of a suspended session the step it resumes at
// and the attempt number every step from there derives its keys with.
type Resume struct {
	Step    uint32
	Attempt uint32
}

// Encode returns the message's encoding.
func (m *Resume) Encode() []byte {
	w := newWriter(TypeResume, 8)
	w.u32(m.Step)
	w.u32(m.Attempt)
	return w.b
}

// DecodeResume decodes a Resume message.
func DecodeResume(msg []byte) (*Resume, error) {
	r := newReader(msg, TypeResume)
	m := &Resume{Step: r.u32(), Attempt: r.u32()}
	return m, r.done()
}

// Ack tells the parties of a bucketed session that the coordinator has
// intersected a bucket of the first pass, so that no party runs more than
// a bucket ahead of it (and a resumed session redoes at most one).
type Ack struct {
	Bucket uint32
}

// Encode returns the message's encoding.
func (m *Ack) Encode() []byte {
	w := newWriter(TypeAck, 4)
	w.u32(m.Bucket)
	return w.b
}

// DecodeAck decodes an Ack message.
func DecodeAck(msg []byte) (*Ack, error) {
	r := newReader(msg, TypeAck)
	m := &Ack{Bucket: r.u32()}
	return m, r.done()
}
