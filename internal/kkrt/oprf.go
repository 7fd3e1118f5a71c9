package kkrt

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/cloudflare/circl/group"
)

// randReader is the only source of randomness; tests replace it to make
// known-answer runs reproducible.
var randReader io.Reader = rand.Reader

// Message types, the second byte of every message.
const (
	typeSender      = 0 // msg0: sender → receiver
	typeReceiver    = 1 // msg1: receiver → sender
	typeSenderRun   = 2 // msg0 of a run on kept base OTs
	typeReceiverRun = 3 // msg1 of a run on kept base OTs
)

const (
	headerSize = 2
	// msg0Size: header ‖ seed ‖ BaseOTs pairs (R_0, R_1).
	msg0Size = headerSize + 32 + 2*BaseOTs*pointSize
	// msg1Fixed: header ‖ be32(nbins) ‖ BaseOTs points A_i; then
	// instances(nbins) rows of rowBytes.
	msg1Fixed = headerSize + 4 + BaseOTs*pointSize
	// runMsg0Size: header ‖ seed; runMsg1Fixed: header ‖ be32(nbins),
	// then the rows. A run on kept base OTs sends no points.
	runMsg0Size  = headerSize + 32
	runMsg1Fixed = headerSize + 4
)

// Msg1Size is the length of the receiver's message for m elements.
func Msg1Size(m int) int { return msg1Fixed + instances(binsFor(m))*rowBytes }

// Msg0Size is the length of the sender's message.
const Msg0Size = msg0Size

// RunMsg1Size is the length of the receiver's message for m elements in a
// run on kept base OTs; RunMsg0Size the sender's.
func RunMsg1Size(m int) int { return runMsg1Fixed + instances(binsFor(m))*rowBytes }

const RunMsg0Size = runMsg0Size

// RunOnBase reports whether msg0 starts a run on kept base OTs (for
// NewReceiverRun) rather than a session with base OTs of its own (for
// NewReceiver). It looks at the type byte only.
func RunOnBase(msg0 []byte) bool { return len(msg0) >= headerSize && msg0[1] == typeSenderRun }

// SenderBase is what a sender keeps of a session's base OTs to run the
// OPRF with the same receiver again without new ones ([NewSenderRun]): its
// choice bits s and its keys k_{i,s_i}. It is secret, as the PRF key is.
type SenderBase struct {
	s     [rowWords]uint64
	seeds [][16]byte
}

// ReceiverBase is what a receiver keeps of a session's base OTs: both keys
// k_{i,0}, k_{i,1} of every one. It is secret.
type ReceiverBase struct {
	seeds0, seeds1 [][16]byte
}

func (*SenderBase) String() string       { return "kkrt.SenderBase{…}" }
func (*ReceiverBase) String() string     { return "kkrt.ReceiverBase{…}" }
func (b *SenderBase) GoString() string   { return b.String() }
func (b *ReceiverBase) GoString() string { return b.String() }

// runSeeds derives a run's column keys from kept base-OT keys:
// AES_{k_i}(SHA-256(labelRun ‖ sid)[:16]) for each key k_i. The run's sid
// is fresh (the sender's seed), so no run repeats another's columns.
func runSeeds(base [][16]byte, sid *[32]byte) [][16]byte {
	h := sha256.New()
	h.Write([]byte(labelRun))
	h.Write(sid[:])
	var x [32]byte
	h.Sum(x[:0])
	out := make([][16]byte, len(base))
	for i := range base {
		mustAES(base[i][:]).Encrypt(out[i][:], x[:16])
	}
	return out
}

// Sender is the OPRF key holder. Its function in a session is
// F(i, e) = H(sid, i, q_i ⊕ (C(e) ∧ s)) for instance i and element e; the
// receiver learns F at its own elements' instances and nothing else.
type Sender struct {
	session  [32]byte
	maxItems int
	keys     *keys
	s        [rowWords]uint64 // base-OT choice bits; the PRF key with q
	sks      []group.Scalar
	base     *SenderBase // the kept base OTs: a run's, or after Finish a full session's
	run      bool        // a run on kept base OTs
	nbins    int
	q        [][rowWords]uint64 // one row per instance; nil until Finish
}

// NewSender starts a session as the OPRF sender and returns its first
// message (msg0), to be relayed to the receiver. session should name the
// session and the ordered pair of parties; the sender's fresh seed makes
// every run's function new even if it repeats.
func NewSender(session [32]byte, cfg *Config) (*Sender, []byte, error) {
	maxItems, err := cfg.maxItems()
	if err != nil {
		return nil, nil, err
	}
	s := &Sender{session: session, maxItems: maxItems}
	var seed [32]byte
	var sbytes [rowBytes]byte
	if _, err := io.ReadFull(randReader, seed[:]); err != nil {
		return nil, nil, fmt.Errorf("kkrt: randomness: %w", err)
	}
	if _, err := io.ReadFull(randReader, sbytes[:]); err != nil {
		return nil, nil, fmt.Errorf("kkrt: randomness: %w", err)
	}
	for i := range s.s {
		s.s[i] = binary.LittleEndian.Uint64(sbytes[8*i:])
	}
	clear(sbytes[:])
	s.keys = newKeys(deriveSID(&session, &seed))
	msg := make([]byte, 0, msg0Size)
	msg = append(msg, Version, typeSender)
	msg = append(msg, seed[:]...)
	s.sks, msg, err = otChoose(randReader, &s.keys.sid, &s.s, msg)
	if err != nil {
		return nil, nil, err
	}
	return s, msg, nil
}

// NewSenderRun starts another run with the receiver of the session base
// comes from ([Sender.Base]), without base OTs: msg0 is the fresh seed
// alone. The run's function is new (the seed makes a new sid), its OT
// extension columns come from the kept keys under that sid. session should
// name the run, as for NewSender.
func NewSenderRun(session [32]byte, base *SenderBase, cfg *Config) (*Sender, []byte, error) {
	if base == nil {
		return nil, nil, ErrState
	}
	maxItems, err := cfg.maxItems()
	if err != nil {
		return nil, nil, err
	}
	var seed [32]byte
	if _, err := io.ReadFull(randReader, seed[:]); err != nil {
		return nil, nil, fmt.Errorf("kkrt: randomness: %w", err)
	}
	s := &Sender{session: session, maxItems: maxItems, s: base.s, base: base, run: true}
	s.keys = newKeys(deriveSID(&session, &seed))
	msg := make([]byte, 0, runMsg0Size)
	msg = append(msg, Version, typeSenderRun)
	return s, append(msg, seed[:]...), nil
}

// Base is what the sender keeps of its base OTs for further runs with the
// same receiver ([NewSenderRun]); nil before Finish.
func (s *Sender) Base() *SenderBase {
	if s.q == nil {
		return nil
	}
	return s.base
}

// checkHeader validates the version and type bytes.
func checkHeader(msg []byte, typ byte) error {
	if len(msg) < headerSize {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(msg))
	}
	if msg[0] != Version {
		return fmt.Errorf("%w: version %d, want %d", ErrMalformed, msg[0], Version)
	}
	if msg[1] != typ {
		return fmt.Errorf("%w: type %d, want %d", ErrMalformed, msg[1], typ)
	}
	return nil
}

// parseMsg0 validates msg0's framing and returns its seed and pairs. The
// group elements are validated as they are used (decodePoint).
func parseMsg0(msg []byte) (seed [32]byte, pairs []byte, err error) {
	if err := checkHeader(msg, typeSender); err != nil {
		return seed, nil, err
	}
	if len(msg) != msg0Size {
		return seed, nil, fmt.Errorf("%w: sender message is %d bytes, want %d", ErrMalformed, len(msg), msg0Size)
	}
	copy(seed[:], msg[headerSize:])
	return seed, msg[headerSize+32:], nil
}

// parseMsg1 validates msg1's framing against the session's bound and
// returns nbins, the A_i (none in a run on kept base OTs) and the rows.
func parseMsg1(msg []byte, maxItems int, run bool) (nbins int, as, rows []byte, err error) {
	typ, fixed := byte(typeReceiver), msg1Fixed
	if run {
		typ, fixed = typeReceiverRun, runMsg1Fixed
	}
	if err := checkHeader(msg, typ); err != nil {
		return 0, nil, nil, err
	}
	if len(msg) < fixed {
		return 0, nil, nil, fmt.Errorf("%w: receiver message is %d bytes", ErrMalformed, len(msg))
	}
	nb := binary.BigEndian.Uint32(msg[headerSize:])
	if nb < uint32(binsFor(0)) || nb > uint32(binsFor(maxItems)) {
		return 0, nil, nil, fmt.Errorf("%w: %d bins outside [%d, %d]", ErrMalformed, nb, binsFor(0), binsFor(maxItems))
	}
	nbins = int(nb)
	if want := fixed + instances(nbins)*rowBytes; len(msg) != want {
		return 0, nil, nil, fmt.Errorf("%w: receiver message is %d bytes, want %d", ErrMalformed, len(msg), want)
	}
	return nbins, msg[headerSize+4 : fixed], msg[fixed:], nil
}

// Finish consumes the receiver's message (msg1). After it the sender can
// Eval and Candidates.
func (s *Sender) Finish(msg1 []byte) error {
	if s.q != nil || !s.run && s.sks == nil {
		return ErrState
	}
	nbins, as, rows, err := parseMsg1(msg1, s.maxItems, s.run)
	if err != nil {
		return err
	}
	var seeds [][16]byte
	if s.run {
		seeds = runSeeds(s.base.seeds, &s.keys.sid)
	} else {
		if seeds, err = otReceive(&s.keys.sid, &s.s, s.sks, as); err != nil {
			return err
		}
		for _, sk := range s.sks {
			sk.SetUint64(0)
		}
		s.sks = nil
		s.base = &SenderBase{s: s.s, seeds: slices.Clone(seeds)}
	}
	n := instances(nbins)
	q := make([][rowWords]uint64, n)
	cols := newColumns(seeds)
	clear(seeds)
	for j := 0; j < n; j += chunk {
		c := min(chunk, n-j)
		cols.next(q[j:j+c], c)
		for r := j; r < j+c; r++ {
			u := rows[r*rowBytes:]
			for w := range q[r] {
				q[r][w] ^= binary.LittleEndian.Uint64(u[8*w:]) & s.s[w]
			}
		}
	}
	s.nbins, s.q = nbins, q
	return nil
}

// Bins is the receiver's number of cuckoo bins, the instances an element
// can have. Zero before Finish.
func (s *Sender) Bins() int { return s.nbins }

func (s *Sender) eval(index int, c *[rowWords]uint64) Value {
	var row [rowWords]uint64
	for w := range row {
		row[w] = s.q[index][w] ^ c[w]&s.s[w]
	}
	return s.keys.output(index, &row)
}

// Eval is F(index, e): the value a receiver holding e in bin index has.
func (s *Sender) Eval(index int, e Element) (Value, error) {
	if s.q == nil {
		return Value{}, ErrState
	}
	if index < 0 || index >= s.nbins {
		return Value{}, ErrIndex
	}
	sc := scratchPool.Get().(*scratch)
	var c [rowWords]uint64
	s.keys.encode(&c, &e, sc)
	scratchPool.Put(sc)
	return s.eval(index, &c), nil
}

// Eval, Candidates and Candidate only read the sender's state: they are
// safe for concurrent use after Finish.

// Candidates appends to dst every value the receiver can hold for e,
// HashCount of them: F at e's bins, in hash-function order (equal bins
// give equal values). It does not allocate if dst has room.
func (s *Sender) Candidates(dst []Value, e Element) ([]Value, error) {
	one := [1]Element{e}
	return s.AppendCandidates(dst, one[:])
}

// candidateBatch is how many elements AppendCandidates gathers table rows
// for before it hashes any: their rows' loads are independent, so the
// cache misses of a large table overlap with each other and with the
// next element's codeword.
const candidateBatch = 4

// AppendCandidates appends Candidates(e) for every e in elems, in order:
// HashCount values per element. On a large table it is faster than
// Candidates element by element. It does not allocate if dst has room.
func (s *Sender) AppendCandidates(dst []Value, elems []Element) ([]Value, error) {
	if s.q == nil {
		return dst, ErrState
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	var rows [candidateBatch * HashCount][rowWords]uint64
	var bins [candidateBatch][HashCount]int
	for len(elems) > 0 {
		batch := elems[:min(candidateBatch, len(elems))]
		elems = elems[len(batch):]
		for k := range batch {
			var c [rowWords]uint64
			s.keys.encode(&c, &batch[k], sc)
			bins[k] = s.keys.bins(&batch[k], s.nbins, sc)
			for h, b := range bins[k] {
				q, r := &s.q[b], &rows[k*HashCount+h]
				for w := range r {
					r[w] = q[w] ^ c[w]&s.s[w]
				}
			}
		}
		for k := range batch {
			for h, b := range bins[k] {
				dst = append(dst, s.keys.output(b, &rows[k*HashCount+h]))
			}
		}
	}
	return dst, nil
}

// Candidate is Candidates' value number c for e alone (c below
// HashCount): one evaluation instead of all of them, for a caller that has
// learnt which of e's bins holds it in the receiver's table.
func (s *Sender) Candidate(e Element, c int) (Value, error) {
	if s.q == nil {
		return Value{}, ErrState
	}
	if c < 0 || c >= HashCount {
		return Value{}, ErrIndex
	}
	sc := scratchPool.Get().(*scratch)
	var code [rowWords]uint64
	s.keys.encode(&code, &e, sc)
	index := s.keys.bins(&e, s.nbins, sc)[c]
	scratchPool.Put(sc)
	return s.eval(index, &code), nil
}

// Output is the receiver's result for one of its elements.
type Output struct {
	// Index is the element's OPRF instance: its cuckoo bin.
	Index int
	Value Value
}

// Receiver holds a set and learns the sender's PRF at its elements.
type Receiver struct {
	nbins   int
	outputs []Output
	base    *ReceiverBase
}

// NewReceiver runs the receiver's whole side on the sender's msg0: it
// places elems (distinct, at most the configured MaxItems; see ElementOf)
// in cuckoo bins, completes the base OTs and the OT extension, and returns
// msg1 for the sender. Its Outputs are ready at once, in the order of
// elems.
func NewReceiver(session [32]byte, elems []Element, msg0 []byte, cfg *Config) (*Receiver, []byte, error) {
	if err := cfg.fits(len(elems)); err != nil {
		return nil, nil, err
	}
	seed, pairs, err := parseMsg0(msg0)
	if err != nil {
		return nil, nil, err
	}
	k := newKeys(deriveSID(&session, &seed))
	// The base OTs first: they validate msg0's points before any work
	// proportional to the set.
	otKeys, as, err := otSend(randReader, &k.sid, pairs, make([]byte, 0, BaseOTs*pointSize))
	if err != nil {
		return nil, nil, err
	}
	where, nbins, err := place(k, elems)
	if err != nil {
		return nil, nil, err
	}
	seeds0 := make([][16]byte, BaseOTs)
	seeds1 := make([][16]byte, BaseOTs)
	for i := range otKeys {
		seeds0[i], seeds1[i] = otKeys[i][0], otKeys[i][1]
	}
	clear(otKeys)
	r, msg, err := extend(k, seeds0, seeds1, as, elems, where, nbins)
	if err != nil {
		return nil, nil, err
	}
	r.base = &ReceiverBase{seeds0: seeds0, seeds1: seeds1}
	return r, msg, nil
}

// place puts the receiver's elements in the session's cuckoo table: each
// one's instance, and the number of bins.
func place(k *keys, elems []Element) (where []int, nbins int, err error) {
	nbins = binsFor(len(elems))
	where, err = cuckoo(k, elems, nbins)
	return where, nbins, err
}

// NewReceiverRun is NewReceiver for a run on kept base OTs: msg0 is a
// NewSenderRun message (RunOnBase), and base is what this receiver kept of
// its session with that sender ([Receiver.Base]).
func NewReceiverRun(session [32]byte, elems []Element, msg0 []byte, base *ReceiverBase, cfg *Config) (*Receiver, []byte, error) {
	if base == nil {
		return nil, nil, ErrState
	}
	if err := cfg.fits(len(elems)); err != nil {
		return nil, nil, err
	}
	if err := checkHeader(msg0, typeSenderRun); err != nil {
		return nil, nil, err
	}
	if len(msg0) != runMsg0Size {
		return nil, nil, fmt.Errorf("%w: sender message is %d bytes, want %d", ErrMalformed, len(msg0), runMsg0Size)
	}
	var seed [32]byte
	copy(seed[:], msg0[headerSize:])
	k := newKeys(deriveSID(&session, &seed))
	where, nbins, err := place(k, elems)
	if err != nil {
		return nil, nil, err
	}
	seeds0, seeds1 := runSeeds(base.seeds0, &k.sid), runSeeds(base.seeds1, &k.sid)
	r, msg, err := extend(k, seeds0, seeds1, nil, elems, where, nbins)
	clear(seeds0)
	clear(seeds1)
	if err != nil {
		return nil, nil, err
	}
	r.base = base
	return r, msg, nil
}

// Base is what the receiver keeps of its base OTs for further runs with
// the same sender ([NewReceiverRun]).
func (r *Receiver) Base() *ReceiverBase { return r.base }

// extend is the receiver's OT-extension step, on the column keys of its
// base OTs and their points A_i (nil in a run on kept base OTs), for
// elements placed at distinct instances where[i] < nbins (their bins).
func extend(k *keys, seeds0, seeds1 [][16]byte, as []byte, elems []Element, where []int, nbins int) (*Receiver, []byte, error) {
	n := instances(nbins)
	occupant := make([]int32, n)
	for i := range occupant {
		occupant[i] = -1
	}
	for i, j := range where {
		occupant[j] = int32(i)
	}

	typ, fixed := byte(typeReceiver), msg1Fixed
	if as == nil {
		typ, fixed = typeReceiverRun, runMsg1Fixed
	}
	msg := make([]byte, headerSize+4, fixed+n*rowBytes)
	msg[0], msg[1] = Version, typ
	binary.BigEndian.PutUint32(msg[headerSize:], uint32(nbins))
	msg = append(msg, as...)
	// Unoccupied instances encode fresh pseudorandom dummies, so the
	// rows of U are alike whether or not a bin holds an element.
	var dk [16]byte
	if _, err := io.ReadFull(randReader, dk[:]); err != nil {
		return nil, nil, fmt.Errorf("kkrt: randomness: %w", err)
	}
	dummy := mustAES(dk[:])
	clear(dk[:])

	cols0, cols1 := newColumns(seeds0), newColumns(seeds1)

	r := &Receiver{nbins: nbins, outputs: make([]Output, len(elems))}
	t := make([][rowWords]uint64, chunk)
	d := make([][rowWords]uint64, chunk)
	var c [rowWords]uint64
	var row [rowBytes]byte
	sc, de := new(scratch), new(Element) // reused: cipher.Block calls escape
	for j := 0; j < n; j += chunk {
		cn := min(chunk, n-j)
		cols0.next(t, cn)
		cols1.next(d, cn)
		for l := range cn {
			idx := j + l
			e := de
			if o := occupant[idx]; o >= 0 {
				e = &elems[o]
				r.outputs[o] = Output{Index: idx, Value: k.output(idx, &t[l])}
			} else {
				*de = Element{}
				binary.LittleEndian.PutUint64(de[:], uint64(idx))
				dummy.Encrypt(de[:], de[:])
			}
			k.encode(&c, e, sc)
			for w := range c {
				binary.LittleEndian.PutUint64(row[8*w:], t[l][w]^d[l][w]^c[w])
			}
			msg = append(msg, row[:]...)
		}
	}
	clear(t)
	clear(d)
	return r, msg, nil
}

// Bins is the number of cuckoo bins.
func (r *Receiver) Bins() int { return r.nbins }

// Outputs returns, in the order of the elements, each element's instance
// and OPRF value. The slice is the receiver's; callers must not modify it.
func (r *Receiver) Outputs() []Output { return r.outputs }

// String describes s by its size only: its fields are the PRF key.
func (s *Sender) String() string {
	return fmt.Sprintf("kkrt.Sender{%d bins}", s.nbins)
}

// GoString is String.
func (s *Sender) GoString() string { return s.String() }

// String describes r by its size only: its outputs are the PRF values.
func (r *Receiver) String() string {
	return fmt.Sprintf("kkrt.Receiver{%d bins, %d outputs}", r.nbins, len(r.outputs))
}

// GoString is String.
func (r *Receiver) GoString() string { return r.String() }
