package maskshare

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sync/errgroup"

	"github.com/maskshare/maskshare/internal/kkrt"
	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
)

// The oprf mode (docs/PROTOCOL.md §5, "oprf mode"): every ordered pair of
// parties runs one batched OPRF session (internal/kkrt), its two messages
// sealed between the pair and relayed by the coordinator; each party
// uploads, per peer and row, candidate tags of the pair's value
// v_ij(x) = F_{j→i}(b_i(x), x) ⊕ F_{i→j}(b_j(x), x); the coordinator
// matches them into records; the designated holder of each record sends
// the others a fresh record secret sealed under the pair's key for it.

const (
	oprfSealLabel    = "maskshare oprf seal v1"
	oprfSessionLabel = "maskshare oprf session v1"
	oprfKeyLabel     = "maskshare oprf key v2"
	oprfSecretLabel  = "maskshare oprf secret v1"
	oprfStepLabel    = "maskshare oprf step key v1"

	// oprfMaxRows is the most rows a party may have in oprf mode, in a
	// whole session or in one bucket of a bucketed one: a kkrt receiver's
	// set (2^20).
	oprfMaxRows = kkrt.MaxItemsLimit

	// sealOverhead is what AES-GCM adds to a plaintext.
	sealOverhead = 16
)

// A row's candidate tags for a peer are its kkrt candidates, one per
// cuckoo hash function: the two constants must agree (a negative
// difference does not compile).
const _ = uint(wire.OPRFCandidates-kkrt.HashCount) + uint(kkrt.HashCount-wire.OPRFCandidates)

// oprfState is a party's oprf-mode state from its OPRF sessions to its
// record secrets.
type oprfState struct {
	elems   []kkrt.Element  // the normalised identifiers' OPRF elements, by row
	senders []*kkrt.Sender  // senders[j]: this party's PRF in the session where j receives
	own     [][]kkrt.Output // own[j][row]: F_{j→i}(b_i(x), x), received from j's PRF
	toKey   [][]byte        // toKey[j]: the pair key sealing this party's OPRF messages to j
	fromKey [][]byte        // fromKey[j]: the one sealing j's to this party
	to      []cipher.AEAD   // to[j] seals this party's OPRF messages to j, under the run's key
	from    []cipher.AEAD   // from[j] opens j's
	cands   []uint8         // the Match's candidate bytes, n − 1 per entry
	// The base OTs of each pair, kept for the next step's runs in a
	// bucketed session (in memory only: a resumed session makes new ones).
	sendBase []*kkrt.SenderBase
	recvBase []*kkrt.ReceiverBase
}

// newOPRFState is the state of a party that shares pair keys toKey and
// fromKey with every other party.
func newOPRFState(toKey, fromKey [][]byte) *oprfState {
	n := len(toKey)
	return &oprfState{toKey: toKey, fromKey: fromKey, to: make([]cipher.AEAD, n), from: make([]cipher.AEAD, n),
		sendBase: make([]*kkrt.SenderBase, n), recvBase: make([]*kkrt.ReceiverBase, n)}
}

// runKey is the key that seals a pair's OPRF messages in the OPRF run
// under sid: the pair key itself in a whole session (sid is the
// session's), and HMAC-SHA256(pair key, oprfStepLabel ‖ sid) in each step
// of a bucketed session, so that every step's two messages per direction
// have a key of their own (their nonces are the stage alone).
func runKey(pairKey []byte, session, sid [32]byte) cipher.AEAD {
	key := pairKey
	if sid != session {
		m := hmac.New(sha256.New, pairKey)
		m.Write([]byte(oprfStepLabel))
		m.Write(sid[:])
		key = m.Sum(nil)
		defer clear(key)
	}
	block, _ := aes.NewCipher(key) // 32 bytes
	aead, _ := cipher.NewGCM(block)
	return aead
}

// oprfSession names the kkrt session with receiver recv and sender send.
func oprfSession(sid [32]byte, recv, send int) [32]byte {
	h := sha256.New()
	h.Write([]byte(oprfSessionLabel))
	h.Write(sid[:])
	var b [4]byte
	binary.BigEndian.PutUint16(b[0:], uint16(recv))
	binary.BigEndian.PutUint16(b[2:], uint16(send))
	h.Write(b[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// putOPRFTag writes to dst the pair's tag for the value v = own ⊕ cand
// (v_ij(x), or a candidate for it): the first 12 bytes of v. v is the XOR
// of two random-oracle outputs, each unknown to anyone but the two parties
// (and only for identifiers both put in): uniform without hashing it
// again. The record key comes from w_lh(x), one of the two terms
// (oprfKeyValue), which the tag does not show: the other term masks it.
func putOPRFTag(dst []byte, own, cand *kkrt.Value) {
	// Two words, not subtle.XORBytes: this runs 3(n − 1) times a row.
	_ = dst[wire.OPRFTagSize-1]
	binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(own[:])^binary.LittleEndian.Uint64(cand[:]))
	binary.LittleEndian.PutUint32(dst[8:], binary.LittleEndian.Uint32(own[8:])^binary.LittleEndian.Uint32(cand[8:]))
}

// pairHash is SHA-256(label ‖ sid ‖ be16 min(i,j) ‖ be16 max(i,j) ‖ v):
// the pair's record key, the same at i and j.
func pairHash(label string, sid [32]byte, i, j int, v *kkrt.Value) [32]byte {
	var buf [32 + 32 + 4 + 32]byte
	b := append(buf[:0], label...)
	b = append(b, sid[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(min(i, j)))
	b = binary.BigEndian.AppendUint16(b, uint16(max(i, j)))
	b = append(b, v[:]...)
	return sha256.Sum256(b)
}

// oprfBoxAD binds an OPRF message to the session, its direction and stage.
func oprfBoxAD(sid [32]byte, from, to int, stage uint8) []byte {
	return append(boxAD(sid, from, to), stage)
}

// oprfNonce: each direction's key seals two messages, one per stage.
func oprfNonce(stage uint8) []byte {
	var n [12]byte
	n[11] = stage
	return n[:]
}

// oprfItems is the most rows a party with set size bound b can put in one
// OPRF run: b in a whole session, at most oprfMaxRows in a bucket.
func oprfItems(b uint32) int {
	return int(min(b, oprfMaxRows))
}

// secretsOf is how many of M records party d is the designated holder
// of: those at indexes r ≡ d (mod n).
func secretsOf(size, n, d int) int {
	if size <= d {
		return 0
	}
	return (size - d + n - 1) / n
}

// oprfPSI runs the party's 2(n − 1) OPRF sessions — as sender for every
// peer's set and as receiver of every peer's PRF on its own set — and
// sends its candidate tags.
func (s *partySession) oprfPSI(ctx context.Context) error {
	st := s.oprf
	m := len(s.in.ids)
	if m > oprfMaxRows {
		if s.bucket != nil {
			return fmt.Errorf("%w: a bucket of %d rows; the oprf mode takes at most %d in one (lower bucket_rows)", ErrParams, m, oprfMaxRows)
		}
		return fmt.Errorf("%w: %d rows; the oprf mode takes at most %d", ErrParams, m, oprfMaxRows)
	}
	for j := range s.n {
		if j != s.index {
			st.to[j], st.from[j] = runKey(st.toKey[j], s.session, s.sid), runKey(st.fromKey[j], s.session, s.sid)
		}
	}
	// Every OPRF session of the run takes the same elements, hashed once
	// under the run's sid (kkrt.ElementOf: the code, bins and outputs stay
	// keyed per session).
	st.elems = make([]kkrt.Element, m)
	ids := s.in.ids
	forRanges(m, func(lo, hi int) {
		var buf []byte // one copy buffer, not one []byte(id) allocation a row
		for i := lo; i < hi; i++ {
			buf = append(buf[:0], ids[i]...)
			st.elems[i] = kkrt.ElementOf(&s.sid, buf)
		}
	})
	s.in = nil
	st.senders = make([]*kkrt.Sender, s.n)
	st.own = make([][]kkrt.Output, s.n)
	peers := make([]int, 0, s.n-1)
	for j := range s.n {
		if j != s.index {
			peers = append(peers, j)
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))

	// Stage 0: this party's PRF for each peer (the base OTs' first half).
	boxes := make([]wire.PairBox, len(peers))
	for p, j := range peers {
		g.Go(func() error {
			name, cfg := oprfSession(s.sid, j, s.index), &kkrt.Config{MaxItems: oprfItems(s.hellos[j].Bound)}
			var snd *kkrt.Sender
			var msg0 []byte
			var err error
			if st.sendBase[j] != nil { // a later step: the pair's base OTs again
				snd, msg0, err = kkrt.NewSenderRun(name, st.sendBase[j], cfg)
			} else {
				snd, msg0, err = kkrt.NewSender(name, cfg)
			}
			if err != nil {
				return err
			}
			st.senders[j] = snd
			boxes[p] = wire.PairBox{Peer: uint16(j), Sealed: st.to[j].Seal(nil, oprfNonce(0), msg0, oprfBoxAD(s.sid, s.index, j, 0))}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := s.conn.Send(ctx, (&wire.Pairwise{Stage: 0, Boxes: boxes}).Encode()); err != nil {
		return s.unavailable(err)
	}
	in, err := s.recvPairwise(ctx, 0, func(int) int { return kkrt.Msg0Size + sealOverhead })
	if err != nil {
		return err
	}
	// Stage 1: this party receives every peer's PRF on its own set.
	msgs1 := make([][]byte, len(in.Boxes))
	to := make([]uint16, len(in.Boxes))
	for p, b := range in.Boxes {
		g.Go(func() error {
			j := int(b.Peer)
			msg0, err := s.openPairwise(j, 0, b.Sealed)
			if err != nil {
				return err
			}
			name := oprfSession(s.sid, s.index, j)
			var rcv *kkrt.Receiver
			var msg1 []byte
			if kkrt.RunOnBase(msg0) {
				if st.recvBase[j] == nil {
					return fmt.Errorf("%w: party %s runs the OPRF on base OTs this party has not run with it", ErrProtocol, s.params.Parties[j])
				}
				rcv, msg1, err = kkrt.NewReceiverRun(name, st.elems, msg0, st.recvBase[j], nil)
			} else {
				rcv, msg1, err = kkrt.NewReceiver(name, st.elems, msg0, nil)
			}
			if err != nil {
				return fmt.Errorf("%w: OPRF with party %s: %v", ErrProtocol, s.params.Parties[j], err)
			}
			if s.bucket != nil {
				st.recvBase[j] = rcv.Base()
			}
			st.own[j] = rcv.Outputs()
			msgs1[p], to[p] = msg1, uint16(j)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	sizes := make([]int, len(msgs1))
	for p := range msgs1 {
		sizes[p] = len(msgs1[p]) + sealOverhead
	}
	msg := wire.EncodePairwiseSealed(1, to, sizes, func(p int, dst []byte) []byte {
		j := int(to[p])
		return st.to[j].Seal(dst, oprfNonce(1), msgs1[p], oprfBoxAD(s.sid, s.index, j, 1))
	})
	msgs1 = nil
	if err := s.conn.Send(ctx, msg); err != nil {
		return s.unavailable(err)
	}
	msg = nil
	in, err = s.recvPairwise(ctx, 1, func(j int) int { return kkrt.Msg1Size(oprfItems(s.hellos[j].Bound)) + sealOverhead })
	if err != nil {
		return err
	}
	for _, b := range in.Boxes {
		g.Go(func() error {
			j := int(b.Peer)
			msg1, err := s.openPairwise(j, 1, b.Sealed)
			if err != nil {
				return err
			}
			if err := st.senders[j].Finish(msg1); err != nil {
				return fmt.Errorf("%w: OPRF with party %s: %v", ErrProtocol, s.params.Parties[j], err)
			}
			if s.bucket != nil {
				st.sendBase[j] = st.senders[j].Base()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	in = nil

	// Tags, rows in a random order (the same for every peer, so the
	// coordinator can join the pairs), each with its candidates over the
	// peer's possible instances.
	perm := randomPermutation(m)
	place := make([]int32, m) // place[row]: the row's upload position
	for p, row := range perm {
		place[row] = int32(p)
	}
	out := &wire.PairTags{Rows: uint32(m)}
	const nc = wire.OPRFCandidates
	for _, j := range peers {
		snd := st.senders[j]
		tags := make([]byte, m*nc*wire.OPRFTagSize)
		// Rows in their own order, tags written at their places: the
		// reads stay sequential and the scattered writes do not stall.
		forRanges(m, func(lo, hi int) {
			const block = 64 // rows a kkrt call evaluates together
			cs := make([]kkrt.Value, 0, block*nc)
			for first := lo; first < hi; first += block {
				last := min(first+block, hi)
				cs, _ = snd.AppendCandidates(cs[:0], st.elems[first:last]) // Finish succeeded
				for row := first; row < last; row++ {
					own := &st.own[j][row].Value
					at := int(place[row]) * nc * wire.OPRFTagSize
					for c := range nc {
						putOPRFTag(tags[at+c*wire.OPRFTagSize:], own, &cs[(row-first)*nc+c])
					}
				}
			}
		})
		out.Peers = append(out.Peers, wire.PeerTags{Peer: uint16(j), Cands: uint8(nc), Tags: tags})
	}
	s.order, s.listSize = perm, m
	if err := s.conn.Send(ctx, out.Encode()); err != nil {
		return s.unavailable(err)
	}
	return nil
}

// recvPairwise reads a relayed stage of OPRF messages, one from each peer.
func (s *partySession) recvPairwise(ctx context.Context, stage uint8, limit func(int) int) (*wire.Pairwise, error) {
	msg, err := s.recv(ctx, wire.TypePairwise)
	if err != nil {
		return nil, err
	}
	m, err := wire.DecodePairwise(msg, s.n, s.index, stage, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return m, nil
}

// openPairwise opens party j's OPRF message of stage.
func (s *partySession) openPairwise(j int, stage uint8, box []byte) ([]byte, error) {
	pt, err := s.oprf.from[j].Open(nil, oprfNonce(stage), box, oprfBoxAD(s.sid, j, s.index, stage))
	if err != nil {
		return nil, fmt.Errorf("%w: OPRF message of party %s does not open (tampered, replayed or wrong key)", ErrAuthentication, s.params.Parties[j])
	}
	return pt, nil
}

// oprfKeyValue is w_lh(x) = F_{l→h}(b_h(x), x) for the Match entry q
// (row) and peer j, where l = min(i, j) and h = max(i, j): the lower
// party's PRF at x's bin in the higher party's table. The higher party
// has it as a receiver output; the lower one evaluates its PRF at the
// bin its candidate byte for j names. One evaluation per record and pair,
// by one of the two (version 4 keyed on v_ij(x), which took one at each).
func (s *partySession) oprfKeyValue(q, row, j int) (kkrt.Value, error) {
	st := s.oprf
	if j < s.index {
		return st.own[j][row].Value, nil
	}
	c := int(st.cands[q*(s.n-1)+j-1])
	f, err := st.senders[j].Candidate(st.elems[row], c)
	if err != nil {
		return kkrt.Value{}, &CheatingError{Check: "match", Party: "coordinator", Err: fmt.Errorf("%w: match %d names candidate %d of party %s's instances: %v", ErrProtocol, q, c, s.params.Parties[j], err)}
	}
	return f, nil
}

// secretAEAD is the AEAD of a record's pair key k_ij(x) = H("key", w_lh(x)):
// ChaCha20-Poly1305 (RFC 8439), whose key setup is a copy (protocol
// version 5; AES-256-GCM's key schedule and table made a box cost 3× as
// much, and every record key seals or opens one box).
func secretAEAD(sid [32]byte, i, j int, v *kkrt.Value) cipher.AEAD {
	k := pairHash(oprfKeyLabel, sid, i, j, v)
	aead, _ := chacha20poly1305.New(k[:]) // 32 bytes
	clear(k[:])
	return aead
}

// secretNonce and secretAD name the record (index r) and the direction
// (from the designated holder d to j); every pair key seals one box.
func secretNonce(r, d, j int) []byte {
	var n [12]byte
	binary.BigEndian.PutUint32(n[0:], uint32(r))
	binary.BigEndian.PutUint16(n[4:], uint16(d))
	binary.BigEndian.PutUint16(n[6:], uint16(j))
	return n[:]
}

func secretAD(sid [32]byte, r, d, j int) []byte {
	ad := make([]byte, 0, len(oprfSecretLabel)+32+8)
	ad = append(ad, oprfSecretLabel...)
	ad = append(ad, sid[:]...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(r))
	ad = binary.BigEndian.AppendUint16(ad, uint16(d))
	return binary.BigEndian.AppendUint16(ad, uint16(j))
}

// oprfSecrets gives every qualifying record its secret: this party draws
// the secrets of the records it is the designated holder of (index r ≡ its
// index mod n) and seals each for every other party under the pair's key
// for the record; it opens the others' for the rest. With k = n every party
// holds every record, so s.matches[r] is the record at index r.
func (s *partySession) oprfSecrets(ctx context.Context) error {
	size, n := s.size, s.n
	s.qualified = make([]psi.Secret, size)
	mine := secretsOf(size, n, s.index)
	raw := make([]byte, mine*psi.SecretSize)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	out := &wire.Secrets{}
	for j := range n {
		if j != s.index {
			out.Lists = append(out.Lists, wire.SecretBoxes{Peer: uint16(j), Boxes: make([]byte, mine*wire.SecretBoxSize)})
		}
	}
	var fault error // the coordinator's, from a bad candidate byte
	var mu sync.Mutex
	bad := firstBadIn(mine, func(t int) bool {
		r := s.index + t*n
		q, row := int(s.posOf[r]), int(s.rows[r])
		sec := psi.Secret(raw[t*psi.SecretSize:])
		s.qualified[q] = sec
		for _, l := range out.Lists {
			j := int(l.Peer)
			v, err := s.oprfKeyValue(q, row, j)
			if err != nil {
				mu.Lock()
				fault = err
				mu.Unlock()
				return false
			}
			secretAEAD(s.sid, s.index, j, &v).Seal(l.Boxes[t*wire.SecretBoxSize:t*wire.SecretBoxSize], secretNonce(r, s.index, j), sec[:], secretAD(s.sid, r, s.index, j))
		}
		return true
	})
	clear(raw)
	if bad >= 0 {
		return fault
	}
	if err := s.conn.Send(ctx, out.Encode()); err != nil {
		return s.unavailable(err)
	}
	msg, err := s.recv(ctx, wire.TypeSecrets)
	if err != nil {
		return err
	}
	in, err := wire.DecodeSecrets(msg, n, s.index, func(d int) int { return secretsOf(size, n, d) })
	if err != nil {
		return coordinatorFault("oprf record secret", fmt.Errorf("%w: %v", ErrProtocol, err))
	}
	for _, l := range in.Lists {
		d := int(l.Peer)
		bad := firstBadIn(secretsOf(size, n, d), func(t int) bool {
			r := d + t*n
			q, row := int(s.posOf[r]), int(s.rows[r])
			v, err := s.oprfKeyValue(q, row, d)
			if err != nil {
				mu.Lock()
				fault = err
				mu.Unlock()
				return false
			}
			_, err = secretAEAD(s.sid, d, s.index, &v).Open(s.qualified[q][:0], secretNonce(r, d, s.index), l.Boxes[t*wire.SecretBoxSize:(t+1)*wire.SecretBoxSize], secretAD(s.sid, r, d, s.index))
			return err == nil
		})
		if fault != nil {
			return fault
		}
		if bad >= 0 {
			return &CheatingError{Check: "oprf record secret", Err: fmt.Errorf(
				"the secret of record %d from party %s does not open under the pair's key for it: the coordinator merged rows of different identifiers, or a party used different identifiers in different OPRF sessions",
				d+bad*n, s.params.Parties[d])}
		}
	}
	return nil
}

// firstBadIn runs ok for 0..n−1 on all cores and returns the first t for
// which it failed (each range stops at its first failure), or −1.
func firstBadIn(n int, ok func(t int) bool) int {
	var mu sync.Mutex
	bad := -1
	forRanges(n, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			if !ok(t) {
				mu.Lock()
				if bad < 0 || t < bad {
					bad = t
				}
				mu.Unlock()
				return
			}
		}
	})
	return bad
}

// oprfRelay relays the parties' OPRF messages, stage 0 (each party's
// messages as sender, fixed size) then stage 1 (as receiver, bounded by
// its signed set size bound), each box to its recipient marked as from its
// sender. The boxes are sealed between the two parties.
func (s *coordSession) oprfRelay(ctx context.Context) error {
	for stage := range uint8(2) {
		boxLimit := func(from int) int {
			if stage == 0 {
				return kkrt.Msg0Size + sealOverhead
			}
			return kkrt.Msg1Size(oprfItems(s.hellos[from].Bound)) + sealOverhead
		}
		inbox := make([][]wire.PairBox, s.n)
		if err := s.gather(ctx, wire.TypePairwise, func(i int) int64 {
			return msgHeaderSize + 3 + int64(s.n-1)*(6+int64(boxLimit(i)))
		}, func(i int, msg []byte) error {
			m, err := wire.DecodePairwise(msg, s.n, i, stage, func(int) int { return boxLimit(i) })
			if err != nil {
				return err
			}
			for _, b := range m.Boxes {
				inbox[b.Peer] = append(inbox[b.Peer], wire.PairBox{Peer: uint16(i), Sealed: b.Sealed})
			}
			return nil
		}); err != nil {
			return err
		}
		if err := s.sendEach(ctx, func(j int) []byte {
			msg := (&wire.Pairwise{Stage: stage, Boxes: inbox[j]}).Encode()
			inbox[j] = nil
			return msg
		}); err != nil {
			return err
		}
	}
	return nil
}

// sendEach sends every party its message, msg(j), concurrently: the OPRF
// messages are large, and a party starts on its own as soon as it has it.
func (s *coordSession) sendEach(ctx context.Context, msg func(j int) []byte) error {
	errs := make([]error, s.n)
	// All at once, not GOMAXPROCS at a time: a send is mostly waiting on
	// the network, and a party served after the others starts its work
	// after them while the session waits for the slowest (at 3 × 10^6 on
	// 2 cores the third party got its stage-1 relay 2 s after the first
	// two). Each message is built in its goroutine; together they hold
	// as much as the inbox they come from.
	var g errgroup.Group
	for j := range s.conns {
		g.Go(func() error {
			errs[j] = s.conns[j].Send(ctx, msg(j))
			return nil
		})
	}
	g.Wait()
	for j, err := range errs {
		if err != nil {
			if ctx.Err() != nil {
				return stoppedError(ctx) // Run tells the parties
			}
			return s.sendFailed(j, err)
		}
	}
	return nil
}

// oprfTags gathers every party's candidate tags.
func (s *coordSession) oprfTags(ctx context.Context) ([]*wire.PairTags, error) {
	tags := make([]*wire.PairTags, s.n)
	err := s.gather(ctx, wire.TypePairTags, func(i int) int64 {
		return msgHeaderSize + 6 + int64(s.n-1)*(3+int64(oprfItems(s.hellos[i].Bound))*wire.OPRFCandidates*wire.OPRFTagSize)
	}, func(i int, msg []byte) error {
		m, err := wire.DecodePairTags(msg, s.n, i)
		if err != nil {
			return err
		}
		if !s.listFits(int(m.Rows), s.hellos[i].Bound) || int(m.Rows) > oprfMaxRows || s.listSizes != nil && int(m.Rows) != s.listSizes[i] {
			return fmt.Errorf("%w: party %s sent %d rows, which its set size bound %d or list does not allow", ErrProtocol, s.params.Parties[i], m.Rows, s.hellos[i].Bound)
		}
		tags[i] = m
		return nil
	})
	return tags, err
}

// peerTags returns party i's tags for peer j.
func peerTags(t *wire.PairTags, i, j int) *wire.PeerTags {
	if j > i {
		j--
	}
	return &t.Peers[j]
}

// pairMatch is the matching of the pair (i, j), i < j, from i's side:
// other[a] is the row of j that row a of i matches (−1 none, −2 more than
// one, or a row of j that other rows of i match too), ci[a] which of a's
// candidates matched (i, the lower party, evaluates its PRF there for the
// record key; j's side needs no byte).
type pairMatch struct {
	other []int32
	ci    []uint8
}

const (
	noMatch   = -1
	manyMatch = -2
)

// matchPair joins i's tags for j with j's for i. Both lists are first
// split by their tags' top bits into partitions of some 8,000 tags, then
// joined partition by partition through an open-addressing table small
// enough to stay in cache (tags are uniform, so their bits hash them);
// a table over all of i's tags missed the cache on nearly every probe.
func matchPair(ti, tj *wire.PeerTags, rowsI, rowsJ int) *pairMatch {
	const ts = wire.OPRFTagSize
	nci, ncj := int(ti.Cands), int(tj.Cands)
	pbits := 0
	for rowsI*nci>>pbits > 1<<13 && pbits < 16 {
		pbits++
	}
	ri, si := partitionTags(ti.Tags, rowsI*nci, pbits)
	rj, sj := partitionTags(tj.Tags, rowsJ*ncj, pbits)
	largest := 0
	for p := range 1 << pbits {
		largest = max(largest, si[p+1]-si[p])
	}
	table := make([]uint32, 1<<bits.Len(uint(2*largest))) // 1 + the tag's place in its partition

	pm := &pairMatch{other: make([]int32, rowsI), ci: make([]uint8, rowsI)}
	for a := range pm.other {
		pm.other[a] = noMatch
	}
	rev := make([]int32, rowsJ) // the row of i a row of j matched, or −1
	for b := range rev {
		rev[b] = noMatch
	}
	for p := range 1 << pbits {
		part := ri[si[p]:si[p+1]]
		t := table[:1<<bits.Len(uint(2*len(part)))]
		clear(t)
		mask := uint32(len(t) - 1)
		for x, r := range part {
			h := r.low & mask
			for t[h] != 0 {
				h = (h + 1) & mask
			}
			t[h] = uint32(x) + 1
		}
		for _, r := range rj[sj[p]:sj[p+1]] {
			for h := r.low & mask; t[h] != 0; h = (h + 1) & mask {
				e := part[t[h]-1]
				if e.low != r.low || !sameTag(ti.Tags[int(e.at)*ts:], tj.Tags[int(r.at)*ts:]) {
					continue
				}
				a, b := int(e.at)/nci, int32(int(r.at)/ncj)
				switch o := pm.other[a]; {
				case o == noMatch:
					pm.other[a], pm.ci[a] = b, uint8(int(e.at)%nci)
				case o != b: // two rows of j: not a record
					pm.other[a] = manyMatch
				}
				switch o := rev[b]; {
				case o == noMatch:
					rev[b] = int32(a)
				case o != int32(a) && o >= 0: // two rows of i
					pm.other[o], pm.other[a] = manyMatch, manyMatch
				}
			}
		}
	}
	return pm
}

// tagRef is one candidate tag in a partition: the low 32 bits of its
// first word, which hash and filter it, and its place in its list.
type tagRef struct {
	low, at uint32
}

// partitionTags sorts the places of count tags into 1<<pbits partitions
// by the top pbits bits of their first word: partition p is
// refs[start[p]:start[p+1]].
func partitionTags(tags []byte, count, pbits int) (refs []tagRef, start []int) {
	const ts = wire.OPRFTagSize
	shift := 64 - pbits // 64: every tag in partition 0
	start = make([]int, 1<<pbits+1)
	for at := range count {
		start[binary.LittleEndian.Uint64(tags[at*ts:])>>shift+1]++
	}
	for p := range 1 << pbits {
		start[p+1] += start[p]
	}
	next := slices.Clone(start[:1<<pbits])
	refs = make([]tagRef, count)
	for at := range count {
		w := binary.LittleEndian.Uint64(tags[at*ts:])
		p := w >> shift
		refs[next[p]] = tagRef{low: uint32(w), at: uint32(at)}
		next[p]++
	}
	return refs, start
}

// sameTag compares two OPRF tags (public values: the coordinator's).
func sameTag(a, b []byte) bool {
	_, _ = a[wire.OPRFTagSize-1], b[wire.OPRFTagSize-1]
	return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) &&
		binary.LittleEndian.Uint32(a[8:]) == binary.LittleEndian.Uint32(b[8:])
}

// oprfRecords finds the records (k = n): the rows of party 0 that match,
// for every other party j, exactly one row of j, the rows of any two
// parties matching each other too (a clique). It returns the result size,
// each party's matches by upload position (psi.Intersect's shape) and,
// for each, the candidate bytes of the Match. A row of party 0 whose
// matches in two parties do not match each other is a deviation: some
// party used different identifiers for one row in different sessions (or
// its tags are not its OPRF values).
func (s *coordSession) oprfRecords(tags []*wire.PairTags) (int, [][]psi.Match, [][]uint8, error) {
	n := s.n
	pm := make([][]*pairMatch, n)
	for i := range pm {
		pm[i] = make([]*pairMatch, n)
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range n {
		for j := i + 1; j < n; j++ {
			g.Go(func() error {
				pm[i][j] = matchPair(peerTags(tags[i], i, j), peerTags(tags[j], j, i), int(tags[i].Rows), int(tags[j].Rows))
				return nil
			})
		}
	}
	g.Wait()
	var recs []int32 // recs[r*n+j]: the row of party j in record r
	bs := make([]int32, n)
rows:
	for a := range int(tags[0].Rows) {
		bs[0] = int32(a)
		for j := 1; j < n; j++ {
			if bs[j] = pm[0][j].other[a]; bs[j] < 0 {
				continue rows
			}
		}
		for j := 1; j < n; j++ {
			for l := j + 1; l < n; l++ {
				if pm[j][l].other[bs[j]] != bs[l] {
					return 0, nil, nil, &CheatingError{Check: "oprf records", Err: fmt.Errorf(
						"%w: a row of party %s matches rows of parties %s and %s that do not match each other (a party used different identifiers for one row in different OPRF sessions)",
						ErrProtocol, s.params.Parties[0], s.params.Parties[j], s.params.Parties[l])}
				}
			}
		}
		recs = append(recs, bs...)
	}
	size := len(recs) / n
	if size > MaxRecords {
		return 0, nil, nil, fmt.Errorf("%w: %d records", ErrProtocol, size)
	}
	// Each party's matches in increasing upload position (each row is in
	// at most one record: a walk over the rows, not a sort), and the
	// candidate bytes of record r at party j, peers in party order: for a
	// peer l > j, which of j's candidates for l matched (the bin of the
	// identifier in l's table, where j evaluates its PRF for the record
	// key); for l < j, 0 (j needs nothing: it holds w_lj as a receiver
	// output).
	w := n - 1
	found := make([][]psi.Match, n)
	cands := make([][]uint8, n)
	for j := range n {
		g.Go(func() error {
			record := make([]int32, tags[j].Rows)
			for p := range record {
				record[p] = -1
			}
			for r := range size {
				record[recs[r*n+j]] = int32(r)
			}
			found[j] = make([]psi.Match, 0, size)
			for p, r := range record {
				if r >= 0 {
					found[j] = append(found[j], psi.Match{Pos: uint32(p), Index: uint32(r), Holders: uint16(n)})
				}
			}
			cands[j] = make([]uint8, size*w)
			for r := range size {
				for l := j + 1; l < n; l++ {
					cands[j][r*w+l-1] = pm[j][l].ci[recs[r*n+j]]
				}
			}
			return nil
		})
	}
	g.Wait()
	return size, found, cands, nil
}

// oprfRelaySecrets relays the sealed record secrets: party d's boxes for
// j (one per record at an index r ≡ d mod n) go to j marked as from d.
func (s *coordSession) oprfRelaySecrets(ctx context.Context, size int) error {
	inbox := make([][]wire.SecretBoxes, s.n)
	if err := s.gather(ctx, wire.TypeSecrets, func(i int) int64 {
		return msgHeaderSize + 2 + int64(s.n-1)*(6+int64(secretsOf(size, s.n, i))*wire.SecretBoxSize)
	}, func(i int, msg []byte) error {
		m, err := wire.DecodeSecrets(msg, s.n, i, func(int) int { return secretsOf(size, s.n, i) })
		if err != nil {
			return err
		}
		for _, l := range m.Lists {
			inbox[l.Peer] = append(inbox[l.Peer], wire.SecretBoxes{Peer: uint16(i), Boxes: l.Boxes})
		}
		return nil
	}); err != nil {
		return err
	}
	return s.sendEach(ctx, func(j int) []byte { return (&wire.Secrets{Lists: inbox[j]}).Encode() })
}
