package wire

// Messages of the oprf mode (docs/PROTOCOL.md §5, "oprf mode", and §11).

// OPRFTagSize is the length of an oprf-mode pairwise tag.
const OPRFTagSize = 12

// OPRFCandidates is the number of candidate tags per row and peer in
// PairTags: one per cuckoo hash function of internal/kkrt, which has no
// stash (protocol version 5; version 4 had up to 6 stash slots more).
const OPRFCandidates = 3

// SecretBoxSize is the length of a sealed record secret: 16 bytes and a
// 16-byte AEAD tag.
const SecretBoxSize = 32

// PairBox is one sealed blob between two parties.
type PairBox struct {
	Peer   uint16
	Sealed []byte
}

// Pairwise carries one stage of the pairwise OPRF sessions: stage 0 the
// senders' first messages, stage 1 the receivers' answers, one sealed box
// per other party. Peer is the recipient when a party sends and the sender
// when the coordinator relays.
type Pairwise struct {
	Stage uint8
	Boxes []PairBox
}

func (m *Pairwise) Encode() []byte {
	size := 3
	for _, b := range m.Boxes {
		size += 6 + len(b.Sealed)
	}
	w := newWriter(TypePairwise, size)
	w.u8(m.Stage)
	w.u16(uint16(len(m.Boxes)))
	for _, b := range m.Boxes {
		w.u16(b.Peer)
		w.u32(uint32(len(b.Sealed)))
		w.raw(b.Sealed)
	}
	return w.b
}

// EncodePairwiseSealed encodes the Pairwise of stage whose box p goes to
// peers[p] and is sealed[p] bytes long, calling seal(p, dst) to append
// that box to dst. The boxes are sealed straight into the message: a
// receiver's stage-1 box is some 100 MB at 2^20 rows, and a copy of it
// costs more than sealing it. It panics if seal appends another length.
func EncodePairwiseSealed(stage uint8, peers []uint16, sealed []int, seal func(p int, dst []byte) []byte) []byte {
	size := 3
	for _, n := range sealed {
		size += 6 + n
	}
	w := newWriter(TypePairwise, size)
	w.u8(stage)
	w.u16(uint16(len(peers)))
	for p, peer := range peers {
		w.u16(peer)
		w.u32(uint32(sealed[p]))
		before := len(w.b)
		if w.b = seal(p, w.b); len(w.b)-before != sealed[p] {
			panic("wire: a sealed pairwise box is not the length announced")
		}
	}
	return w.b
}

// DecodePairwise decodes a Pairwise of stage for party self of n: exactly
// n−1 boxes with distinct peers other than self, the box of peer p at most
// limit(p) bytes.
func DecodePairwise(msg []byte, n, self int, stage uint8, limit func(peer int) int) (*Pairwise, error) {
	r := newReader(msg, TypePairwise)
	if n < 2 || n > MaxParties || self < 0 || self >= n {
		r.fail("pairwise boxes for party %d of %d", self, n)
	}
	m := &Pairwise{Stage: r.u8()}
	if r.err == nil && m.Stage != stage {
		r.fail("stage %d, want %d", m.Stage, stage)
	}
	if got := int(r.u16()); r.err == nil && got != n-1 {
		r.fail("%d boxes for %d parties", got, n)
	}
	seen := make(map[int]bool, min(n, 64))
	for i := 0; i < n-1 && r.err == nil; i++ {
		p := r.index(n, "peer")
		if r.err == nil && (p == self || seen[p]) {
			r.fail("box for peer %d repeated or addressed to the sender", p)
		}
		seen[p] = true
		size := uint64(r.u32())
		if r.err == nil && (size > uint64(limit(p)) || size > uint64(len(r.b))) {
			r.fail("box of %d bytes from or for peer %d (limit %d, %d left)", size, p, limit(p), len(r.b))
		}
		b := r.take(int(size))
		if r.err == nil {
			m.Boxes = append(m.Boxes, PairBox{Peer: uint16(p), Sealed: b})
		}
	}
	return m, r.done()
}

// PeerTags are a party's candidate tags for one peer: Cands tags per row,
// row after row, in the party's upload order.
type PeerTags struct {
	Peer  uint16
	Cands uint8
	Tags  []byte // rows × Cands × OPRFTagSize
}

// PairTags carries a party's oprf-mode tags: Rows rows, and for each other
// party, in increasing order, the candidate tags of every row.
type PairTags struct {
	Rows  uint32
	Peers []PeerTags
}

func (m *PairTags) Encode() []byte {
	size := 6
	for _, p := range m.Peers {
		size += 3 + len(p.Tags)
	}
	w := newWriter(TypePairTags, size)
	w.u32(m.Rows)
	w.u16(uint16(len(m.Peers)))
	for _, p := range m.Peers {
		w.u16(p.Peer)
		w.u8(p.Cands)
		w.raw(p.Tags)
	}
	return w.b
}

// DecodePairTags decodes the PairTags of party self of n: n−1 peers in
// increasing order, each with OPRFCandidates candidates per row and
// exactly Rows rows of them; Rows is at most MaxRecords. The tags alias
// msg.
func DecodePairTags(msg []byte, n, self int) (*PairTags, error) {
	r := newReader(msg, TypePairTags)
	if n < 2 || n > MaxParties || self < 0 || self >= n {
		r.fail("pair tags of party %d of %d", self, n)
	}
	m := &PairTags{Rows: r.u32()}
	if r.err == nil && m.Rows > MaxRecords {
		r.fail("%d rows", m.Rows)
	}
	if got := int(r.u16()); r.err == nil && got != n-1 {
		r.fail("tags for %d peers, want %d", got, n-1)
	}
	for i := 0; i < n-1 && r.err == nil; i++ {
		want := i
		if i >= self {
			want++
		}
		p := r.index(n, "peer")
		c := r.u8()
		if r.err == nil && (p != want || c != OPRFCandidates) {
			r.fail("peer %d with %d candidates, want peer %d with %d", p, c, want, OPRFCandidates)
		}
		size := uint64(m.Rows) * uint64(c) * OPRFTagSize
		if r.err == nil && size > uint64(len(r.b)) {
			r.fail("%d rows × %d candidates need %d bytes, have %d", m.Rows, c, size, len(r.b))
		}
		t := r.take(int(size))
		if r.err == nil {
			m.Peers = append(m.Peers, PeerTags{Peer: uint16(p), Cands: c, Tags: t})
		}
	}
	return m, r.done()
}

// SecretBoxes are the sealed record secrets between this party and Peer,
// in increasing canonical index.
type SecretBoxes struct {
	Peer  uint16
	Boxes []byte // count × SecretBoxSize
}

// Secrets carries the oprf mode's sealed record secrets: when a party
// sends, one list per recipient; when the coordinator relays, one list per
// sender.
type Secrets struct {
	Lists []SecretBoxes
}

func (m *Secrets) Encode() []byte {
	size := 2
	for _, l := range m.Lists {
		size += 6 + len(l.Boxes)
	}
	w := newWriter(TypeSecrets, size)
	w.u16(uint16(len(m.Lists)))
	for _, l := range m.Lists {
		w.u16(l.Peer)
		w.u32(uint32(len(l.Boxes) / SecretBoxSize))
		w.raw(l.Boxes)
	}
	return w.b
}

// DecodeSecrets decodes a Secrets for party self of n: n−1 lists with
// distinct peers other than self, the list of peer p holding exactly
// count(p) boxes.
func DecodeSecrets(msg []byte, n, self int, count func(peer int) int) (*Secrets, error) {
	r := newReader(msg, TypeSecrets)
	if n < 2 || n > MaxParties || self < 0 || self >= n {
		r.fail("secrets for party %d of %d", self, n)
	}
	m := &Secrets{}
	if got := int(r.u16()); r.err == nil && got != n-1 {
		r.fail("%d lists for %d parties", got, n)
	}
	seen := make(map[int]bool, min(n, 64))
	for i := 0; i < n-1 && r.err == nil; i++ {
		p := r.index(n, "peer")
		if r.err == nil && (p == self || seen[p]) {
			r.fail("list for peer %d repeated or addressed to the sender", p)
		}
		seen[p] = true
		c := uint64(r.u32())
		if r.err == nil && c != uint64(count(p)) {
			r.fail("%d secrets with peer %d, want %d", c, p, count(p))
		}
		b := r.take(int(c) * SecretBoxSize)
		if r.err == nil {
			m.Lists = append(m.Lists, SecretBoxes{Peer: uint16(p), Boxes: b})
		}
	}
	return m, r.done()
}
