package kkrt

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
)

// randReader is the only source of randomness; tests replace it to make
// known-answer runs reproducible.
var randReader io.Reader = rand.Reader

// Message types, the second byte of every message.
const (
	typeSender   = 0 // msg0: sender → receiver
	typeReceiver = 1 // msg1: receiver → sender
)

const (
	headerSize = 2
	// msg0Size: header ‖ seed ‖ BaseOTs pairs (R_0, R_1).
	msg0Size = headerSize + 32 + 2*BaseOTs*pointSize
	// msg1Fixed: header ‖ be32(nbins) ‖ BaseOTs points A_i; then
	// instances(nbins) rows of rowBytes.
	msg1Fixed = headerSize + 4 + BaseOTs*pointSize
)

// Msg1Size is the length of the receiver's message for m elements.
func Msg1Size(m int) int { return msg1Fixed + instances(binsFor(m))*rowBytes }

// Msg0Size is the length of the sender's message.
const Msg0Size = msg0Size

// Sender is the OPRF key holder. Its function in a session is
// F(i, x) = H(sid, i, q_i ⊕ (C(x) ∧ s)) for instance i; the receiver
// learns F at its own elements' instances and nothing else.
type Sender struct {
	session  [32]byte
	maxItems int
	keys     *keys
	s        [rowWords]uint64 // base-OT choice bits; the PRF key with q
	sks      []group.Scalar
	nbins    int
	stash    int
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
// returns nbins, the A_i and the rows.
func parseMsg1(msg []byte, maxItems int) (nbins int, as, rows []byte, err error) {
	if err := checkHeader(msg, typeReceiver); err != nil {
		return 0, nil, nil, err
	}
	if len(msg) < msg1Fixed {
		return 0, nil, nil, fmt.Errorf("%w: receiver message is %d bytes", ErrMalformed, len(msg))
	}
	nb := binary.BigEndian.Uint32(msg[headerSize:])
	if nb < uint32(binsFor(0)) || nb > uint32(binsFor(maxItems)) {
		return 0, nil, nil, fmt.Errorf("%w: %d bins outside [%d, %d]", ErrMalformed, nb, binsFor(0), binsFor(maxItems))
	}
	nbins = int(nb)
	if want := msg1Fixed + instances(nbins)*rowBytes; len(msg) != want {
		return 0, nil, nil, fmt.Errorf("%w: receiver message is %d bytes, want %d", ErrMalformed, len(msg), want)
	}
	return nbins, msg[headerSize+4 : msg1Fixed], msg[msg1Fixed:], nil
}

// Finish consumes the receiver's message (msg1). After it the sender can
// Eval and Candidates.
func (s *Sender) Finish(msg1 []byte) error {
	if s.sks == nil {
		return ErrState
	}
	nbins, as, rows, err := parseMsg1(msg1, s.maxItems)
	if err != nil {
		return err
	}
	seeds, err := otReceive(&s.keys.sid, &s.s, s.sks, as)
	if err != nil {
		return err
	}
	for _, sk := range s.sks {
		sk.SetUint64(0)
	}
	s.sks = nil
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
	s.nbins, s.stash, s.q = nbins, stashFor(nbins), q
	return nil
}

// Bins is the receiver's number of cuckoo bins; instances Bins() to
// Bins()+Stash()-1 are the stash. Zero before Finish.
func (s *Sender) Bins() int { return s.nbins }

// Stash is the number of stash slots. Zero before Finish.
func (s *Sender) Stash() int { return s.stash }

func (s *Sender) eval(index int, c *[rowWords]uint64) Value {
	var row [rowWords]uint64
	for w := range row {
		row[w] = s.q[index][w] ^ c[w]&s.s[w]
	}
	return s.keys.output(index, &row)
}

// Eval is F(index, x): the value a receiver holding x at that instance
// (bin, or Bins()+k for stash slot k) has.
func (s *Sender) Eval(index int, x []byte) (Value, error) {
	if s.q == nil {
		return Value{}, ErrState
	}
	if index < 0 || index >= s.nbins+s.stash {
		return Value{}, ErrIndex
	}
	e := s.keys.element(x)
	var c [rowWords]uint64
	s.keys.encode(&c, &e)
	return s.eval(index, &c), nil
}

// Eval and Candidates only read the sender's state: they are safe for
// concurrent use after Finish.

// Candidates appends to dst every value the receiver can hold for x,
// HashCount+Stash() of them: F at x's bins (in hash-function order;
// equal bins give equal values), then at each stash slot.
func (s *Sender) Candidates(dst []Value, x []byte) ([]Value, error) {
	if s.q == nil {
		return dst, ErrState
	}
	e := s.keys.element(x)
	var c [rowWords]uint64
	s.keys.encode(&c, &e)
	for _, b := range s.keys.bins(&e, s.nbins) {
		dst = append(dst, s.eval(b, &c))
	}
	for k := range s.stash {
		dst = append(dst, s.eval(s.nbins+k, &c))
	}
	return dst, nil
}

// Candidate is Candidates' value number c for x alone (c below
// HashCount+Stash()): one evaluation instead of all of them, for a caller
// that has learnt which instance x has in the receiver's table.
func (s *Sender) Candidate(x []byte, c int) (Value, error) {
	if s.q == nil {
		return Value{}, ErrState
	}
	if c < 0 || c >= HashCount+s.stash {
		return Value{}, ErrIndex
	}
	e := s.keys.element(x)
	var code [rowWords]uint64
	s.keys.encode(&code, &e)
	index := s.nbins + c - HashCount
	if c < HashCount {
		index = s.keys.bins(&e, s.nbins)[c]
	}
	return s.eval(index, &code), nil
}

// Output is the receiver's result for one of its elements.
type Output struct {
	// Index is the element's OPRF instance: its cuckoo bin, or
	// Bins()+k for stash slot k.
	Index int
	Value Value
}

// Receiver holds a set and learns the sender's PRF at its elements.
type Receiver struct {
	nbins   int
	outputs []Output
}

// NewReceiver runs the receiver's whole side on the sender's msg0: it
// places inputs (distinct, at most the configured MaxItems) in cuckoo
// bins, completes the base OTs and the OT extension, and returns msg1 for
// the sender. Its Outputs are ready at once.
func NewReceiver(session [32]byte, inputs [][]byte, msg0 []byte, cfg *Config) (*Receiver, []byte, error) {
	maxItems, err := cfg.maxItems()
	if err != nil {
		return nil, nil, err
	}
	if len(inputs) > maxItems {
		return nil, nil, ErrTooMany
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
	elems := make([]elem, len(inputs))
	for i, x := range inputs {
		elems[i] = k.element(x)
	}
	nbins := binsFor(len(inputs))
	where, err := cuckoo(k, elems, nbins, stashFor(nbins))
	if err != nil {
		return nil, nil, err
	}
	return extend(k, otKeys, as, elems, where, nbins)
}

// extend is the receiver's OT-extension step, on its base-OT keys and
// points A_i, for elements placed at distinct instances where[i] <
// instances(nbins).
func extend(k *keys, otKeys [][2][16]byte, as []byte, elems []elem, where []int, nbins int) (*Receiver, []byte, error) {
	n := instances(nbins)
	occupant := make([]int32, n)
	for i := range occupant {
		occupant[i] = -1
	}
	for i, j := range where {
		occupant[j] = int32(i)
	}

	msg := make([]byte, headerSize+4, msg1Fixed+n*rowBytes)
	msg[0], msg[1] = Version, typeReceiver
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

	seeds0 := make([][16]byte, BaseOTs)
	seeds1 := make([][16]byte, BaseOTs)
	for i := range otKeys {
		seeds0[i], seeds1[i] = otKeys[i][0], otKeys[i][1]
	}
	clear(otKeys)
	cols0, cols1 := newColumns(seeds0), newColumns(seeds1)
	clear(seeds0)
	clear(seeds1)

	r := &Receiver{nbins: nbins, outputs: make([]Output, len(elems))}
	t := make([][rowWords]uint64, chunk)
	d := make([][rowWords]uint64, chunk)
	var c [rowWords]uint64
	var row [rowBytes]byte
	for j := 0; j < n; j += chunk {
		cn := min(chunk, n-j)
		cols0.next(t, cn)
		cols1.next(d, cn)
		for l := range cn {
			idx := j + l
			var e elem
			if o := occupant[idx]; o >= 0 {
				e = elems[o]
				r.outputs[o] = Output{Index: idx, Value: k.output(idx, &t[l])}
			} else {
				binary.LittleEndian.PutUint64(e[:], uint64(idx))
				dummy.Encrypt(e[:], e[:])
			}
			k.encode(&c, &e)
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

// Bins is the number of cuckoo bins; instances Bins() to
// Bins()+Stash()-1 are the stash.
func (r *Receiver) Bins() int { return r.nbins }

// Stash is the number of stash slots.
func (r *Receiver) Stash() int { return stashFor(r.nbins) }

// Outputs returns, in input order, each element's instance and OPRF
// value. The slice is the receiver's; callers must not modify it.
func (r *Receiver) Outputs() []Output { return r.outputs }

// String describes s by its size only: its fields are the PRF key.
func (s *Sender) String() string {
	return fmt.Sprintf("kkrt.Sender{%d bins, %d stash}", s.nbins, s.stash)
}

// GoString is String.
func (s *Sender) GoString() string { return s.String() }

// String describes r by its size only: its outputs are the PRF values.
func (r *Receiver) String() string {
	return fmt.Sprintf("kkrt.Receiver{%d bins, %d outputs}", r.nbins, len(r.outputs))
}

// GoString is String.
func (r *Receiver) GoString() string { return r.String() }
