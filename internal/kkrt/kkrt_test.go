package kkrt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"
)

// detReader is the deterministic randomness of known-answer runs:
// AES-128-CTR under a fixed key.
func detReader(key byte) cipher.Stream {
	k := make([]byte, 16)
	k[0] = key
	b, _ := aes.NewCipher(k)
	return cipher.NewCTR(b, make([]byte, 16))
}

type streamReader struct{ s cipher.Stream }

func (r streamReader) Read(p []byte) (int, error) {
	clear(p)
	r.s.XORKeyStream(p, p)
	return len(p), nil
}

// withDeterministicRand makes randReader reproducible for one test.
func withDeterministicRand(t testing.TB, key byte) {
	t.Helper()
	old := randReader
	randReader = streamReader{detReader(key)}
	t.Cleanup(func() { randReader = old })
}

func testSession(t testing.TB) [32]byte {
	t.Helper()
	var s [32]byte
	if _, err := rand.Read(s[:]); err != nil {
		t.Fatal(err)
	}
	return s
}

// testKey is the element key of the tests' inputs (the engine's session
// identifier in real use): both parties of a session use the same one.
var testKey = [32]byte{'k', 'k', 'r', 't', ' ', 't', 'e', 's', 't'}

// el is x's element under testKey.
func el(x []byte) Element { return ElementOf(&testKey, x) }

// elementsOf is el of every input.
func elementsOf(inputs [][]byte) []Element {
	elems := make([]Element, len(inputs))
	for i, x := range inputs {
		elems[i] = el(x)
	}
	return elems
}

// runSession runs both roles in memory on the elements of inputs.
func runSession(t testing.TB, session [32]byte, inputs [][]byte, cfg *Config) (*Sender, *Receiver, []byte, []byte) {
	t.Helper()
	s, msg0, err := NewSender(session, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, msg1, err := NewReceiver(session, elementsOf(inputs), msg0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(msg1); err != nil {
		t.Fatal(err)
	}
	return s, r, msg0, msg1
}

// sets returns random sets of m identifiers for the receiver and the
// sender, sharing about half of them, plus the plaintext intersection.
func sets(m int) (recv, send [][]byte, common map[string]bool) {
	common = make(map[string]bool)
	id := func() []byte {
		var b [12]byte
		rand.Read(b[:])
		return fmt.Appendf(nil, "ID%x", b)
	}
	for range m {
		x := id()
		recv = append(recv, x)
		var b [1]byte
		rand.Read(b[:])
		if b[0]&1 == 0 {
			send = append(send, x)
			common[string(x)] = true
		} else {
			send = append(send, id())
		}
	}
	return recv, send, common
}

func TestTranspose64(t *testing.T) {
	var a, orig [64]uint64
	for i := range a {
		var b [8]byte
		rand.Read(b[:])
		a[i] = binary.LittleEndian.Uint64(b[:])
	}
	orig = a
	transpose64(&a)
	for i := range 64 {
		for j := range 64 {
			if orig[i]>>j&1 != a[j]>>i&1 {
				t.Fatalf("bit (%d,%d) not transposed", i, j)
			}
		}
	}
	transpose64(&a)
	if a != orig {
		t.Fatal("transpose is not an involution")
	}
}

// TestColumnsTransposed checks the chunked expansion against a bit-by-bit
// transposition of the PRG streams.
func TestColumnsTransposed(t *testing.T) {
	seeds := make([][16]byte, CodeWidth)
	for i := range seeds {
		rand.Read(seeds[i][:])
	}
	const n = 192
	rows := make([][rowWords]uint64, n)
	newColumns(seeds).next(rows, n)
	for i := range seeds {
		col := make([]byte, n/8)
		prg(&seeds[i]).XORKeyStream(col, col)
		for j := range n {
			if uint64(col[j/8]>>(j%8)&1) != rows[j][i/64]>>(i%64)&1 {
				t.Fatalf("row %d column %d differs", j, i)
			}
		}
	}
}

func TestBaseOT(t *testing.T) {
	sid := testSession(t)
	var c [rowWords]uint64
	for i := range c {
		var b [8]byte
		rand.Read(b[:])
		c[i] = binary.LittleEndian.Uint64(b[:])
	}
	sks, pairs, err := otChoose(rand.Reader, &sid, &c, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, as, err := otSend(rand.Reader, &sid, pairs, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := otReceive(&sid, &c, sks, as)
	if err != nil {
		t.Fatal(err)
	}
	for i := range BaseOTs {
		b := c[i/64] >> (i % 64) & 1
		if got[i] != keys[i][b] {
			t.Fatalf("OT %d: chooser key differs from the sender's key %d", i, b)
		}
		if got[i] == keys[i][1-b] {
			t.Fatalf("OT %d: chooser has the other key too", i)
		}
	}
}

// TestPSI runs a two-party PSI through the primitive and compares it with
// the plaintext intersection; it also checks Eval and Candidates against
// the receiver's outputs in both directions.
func TestPSI(t *testing.T) {
	sizes := []int{0, 1, 2, 17, 1000, 10_000}
	if !testing.Short() {
		sizes = append(sizes, 100_000)
	}
	for _, m := range sizes {
		t.Run(fmt.Sprint(m), func(t *testing.T) {
			recv, send, common := sets(m)
			s, r, _, _ := runSession(t, testSession(t), recv, nil)
			outs := r.Outputs()
			if len(outs) != len(recv) {
				t.Fatalf("%d outputs for %d inputs", len(outs), len(recv))
			}
			byValue := make(map[Value]int, len(outs))
			seen := make(map[int]bool)
			for i, o := range outs {
				if seen[o.Index] {
					t.Fatalf("instance %d used twice", o.Index)
				}
				seen[o.Index] = true
				byValue[o.Value] = i
				if i%97 == 0 || m <= 1000 {
					v, err := s.Eval(o.Index, el(recv[i]))
					if err != nil {
						t.Fatal(err)
					}
					if v != o.Value {
						t.Fatalf("input %d: receiver value differs from the sender's Eval at instance %d", i, o.Index)
					}
				}
			}
			checkCandidates(t, s, recv, send, common, byValue)
		})
	}
}

// checkCandidates checks that the sender's candidates for its own set,
// HashCount per element, find exactly the plaintext intersection, at the
// receiver's own rows (byValue: the receiver's values, to its inputs).
func checkCandidates(t *testing.T, s *Sender, recv, send [][]byte, common map[string]bool, byValue map[Value]int) {
	t.Helper()
	found := make(map[string]bool)
	for _, y := range send {
		cand, err := s.Candidates(nil, el(y))
		if err != nil {
			t.Fatal(err)
		}
		if len(cand) != HashCount {
			t.Fatalf("%d candidates, want %d", len(cand), HashCount)
		}
		for _, v := range cand {
			if i, ok := byValue[v]; ok {
				if !bytes.Equal(recv[i], y) {
					t.Fatalf("candidate of %q matches the receiver's %q", y, recv[i])
				}
				found[string(y)] = true
			}
		}
	}
	if len(found) != len(common) {
		t.Fatalf("PSI found %d, plaintext intersection has %d", len(found), len(common))
	}
	for y := range found {
		if !common[y] {
			t.Fatalf("PSI found %q, not in the plaintext intersection", y)
		}
	}
}

// TestEvalOffInstance checks that the receiver's value is specific to its
// instance: the sender's function at other instances and at other
// elements differs.
func TestEvalOffInstance(t *testing.T) {
	recv, _, _ := sets(50)
	s, r, _, _ := runSession(t, testSession(t), recv, nil)
	for i, o := range r.Outputs() {
		other := (o.Index + 1) % s.Bins()
		v, err := s.Eval(other, el(recv[i]))
		if err != nil {
			t.Fatal(err)
		}
		if v == o.Value {
			t.Fatalf("input %d: same value at instance %d and %d", i, o.Index, other)
		}
		w, _ := s.Eval(o.Index, el(append([]byte("x"), recv[i]...)))
		if w == o.Value {
			t.Fatalf("input %d: another element has the same value", i)
		}
	}
}

func TestOutputsFreshPerSession(t *testing.T) {
	recv, _, _ := sets(100)
	session := testSession(t)
	_, r1, _, _ := runSession(t, session, recv, nil)
	_, r2, _, _ := runSession(t, session, recv, nil)
	for i := range recv {
		if r1.Outputs()[i].Value == r2.Outputs()[i].Value {
			t.Fatalf("input %d: same OPRF value in two sessions", i)
		}
	}
}

// bitStats returns the fraction of one bits and the chi-squared statistic
// of the byte histogram.
func bitStats(b []byte) (ones float64, chi2 float64) {
	var hist [256]float64
	n := 0
	for _, x := range b {
		hist[x]++
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	exp := float64(len(b)) / 256
	for _, h := range hist {
		chi2 += (h - exp) * (h - exp) / exp
	}
	return float64(n) / float64(8*len(b)), chi2
}

// TestSenderViewLooksRandom checks the messages the sender receives: the
// same length for two different sets of one size, and bits that pass a
// monobit test and a byte chi-squared test in both cases (the rows of U
// are one-time padded by the PRG, whatever the inputs and whether a bin
// is occupied). The thresholds are 6 standard deviations: a false failure
// has probability below 10^-8.
func TestSenderViewLooksRandom(t *testing.T) {
	const m = 3000
	a, _, _ := sets(m)
	b := make([][]byte, m)
	for i := range b {
		b[i] = fmt.Appendf(nil, "completely-different-%d", i)
	}
	var lens []int
	for _, in := range [][][]byte{a, b, a[:1]} {
		_, _, _, msg1 := runSession(t, testSession(t), in, nil)
		lens = append(lens, len(msg1))
		// The rows of U; the A_i are ristretto255 encodings, whose top
		// and bottom bits are fixed, and are uniform group elements.
		body := msg1[msg1Fixed:]
		ones, chi2 := bitStats(body)
		bits := float64(8 * len(body))
		if d := math.Abs(ones-0.5) * 2 * math.Sqrt(bits); d > 6 {
			t.Errorf("monobit: %.5f ones, %.1f sigma", ones, d)
		}
		// 255 degrees of freedom: mean 255, sd sqrt(510).
		if z := (chi2 - 255) / math.Sqrt(510); z > 6 {
			t.Errorf("byte histogram chi2 %.1f (z = %.1f)", chi2, z)
		}
	}
	if lens[0] != lens[1] {
		t.Fatalf("message length depends on the set: %d vs %d", lens[0], lens[1])
	}
	if lens[0] != Msg1Size(m) || lens[2] != Msg1Size(1) {
		t.Fatalf("message lengths %v, want Msg1Size", lens)
	}
}

func TestDuplicateRefused(t *testing.T) {
	s, msg0, err := NewSender(testSession(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = s
	in := elementsOf([][]byte{[]byte("a"), []byte("b"), []byte("a")})
	if _, _, err := NewReceiver(testSession(t), in, msg0, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate input: %v, want ErrDuplicate", err)
	}
	// Also when the duplicates come later than the table's first moves.
	many, _, _ := sets(5000)
	in = append(elementsOf(many), el(many[1234]))
	if _, _, err := NewReceiver(testSession(t), in, msg0, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate among 5001: %v, want ErrDuplicate", err)
	}
}

// checkPlacement verifies a cuckoo result: one instance per element, all
// distinct, each element in one of its own bins.
func checkPlacement(t *testing.T, k *keys, elems []Element, where []int, nbins int) {
	t.Helper()
	if len(where) != len(elems) {
		t.Fatalf("%d instances for %d elements", len(where), len(elems))
	}
	used := make(map[int]bool)
	sc := new(scratch)
	for i, w := range where {
		if used[w] {
			t.Fatalf("instance %d holds two elements", w)
		}
		used[w] = true
		if w < 0 || w >= nbins {
			t.Fatalf("element %d at %d, outside the %d bins", i, w, nbins)
		}
		ok := false
		for _, b := range k.bins(&elems[i], nbins, sc) {
			ok = ok || b == w
		}
		if !ok {
			t.Fatalf("element %d in bin %d, not one of its own", i, w)
		}
	}
}

func testElements(n int) []Element {
	elems := make([]Element, n)
	for i := range elems {
		elems[i] = el(fmt.Appendf(nil, "%d", i))
	}
	return elems
}

func TestCuckooPlacement(t *testing.T) {
	var sid [32]byte
	k := newKeys(sid)
	for _, m := range []int{0, 1, 5000, 70_000} {
		elems := testElements(m)
		nbins := binsFor(m)
		where, err := cuckoo(k, elems, nbins)
		if err != nil {
			t.Fatal(err)
		}
		checkPlacement(t, k, elems, where, nbins)
	}
}

// TestCuckooFull fills 8 bins with 8 elements, which needs the random walk
// to move elements: without a stash a success must still put every
// element in one of its own bins, and some session must succeed.
func TestCuckooFull(t *testing.T) {
	ok := 0
	for seed := range 50 {
		k := newKeys([32]byte{byte(seed)})
		elems := testElements(8)
		where, err := cuckoo(k, elems, 8)
		if errors.Is(err, ErrCuckoo) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkPlacement(t, k, elems, where, 8)
		ok++
	}
	t.Logf("%d of 50 sessions placed 8 elements in 8 bins", ok)
	if ok == 0 {
		t.Fatal("no session placed 8 elements in 8 bins")
	}
}

// TestCuckooOverflow: with no stash, more elements than bins is
// ErrCuckoo.
func TestCuckooOverflow(t *testing.T) {
	var sid [32]byte
	k := newKeys(sid)
	if _, err := cuckoo(k, testElements(9), 8); !errors.Is(err, ErrCuckoo) {
		t.Fatalf("9 elements in 8 bins: %v, want ErrCuckoo", err)
	}
	if _, err := cuckoo(k, testElements(2), 8); err != nil {
		t.Fatalf("2 elements in 8 bins: %v", err)
	}
}

// TestSizes pins the table and message sizes the package comment states.
func TestSizes(t *testing.T) {
	for _, c := range []struct{ m, bins, inst int }{
		{0, 6308, 6336},
		{minSizing, 6308, 6336},
		{minSizing + 1, 6310, 6336},
		{100_000, 154_000, 154_048},
		{MaxItemsLimit, 1_614_808, 1_614_848},
	} {
		if b := binsFor(c.m); b != c.bins || b < int(1.54*float64(max(c.m, minSizing))) {
			t.Errorf("binsFor(%d) = %d, want %d = ceil(1.54·max(m, %d))", c.m, b, c.bins, minSizing)
		}
		if n := instances(binsFor(c.m)); n != c.inst || n%64 != 0 {
			t.Errorf("instances for m = %d: %d, want %d", c.m, n, c.inst)
		}
		if Msg1Size(c.m) != 16_390+64*c.inst || RunMsg1Size(c.m) != 6+64*c.inst {
			t.Errorf("m = %d: Msg1Size %d, RunMsg1Size %d", c.m, Msg1Size(c.m), RunMsg1Size(c.m))
		}
	}
	if Msg0Size != 32_802 || RunMsg0Size != 34 {
		t.Errorf("Msg0Size %d, RunMsg0Size %d", Msg0Size, RunMsg0Size)
	}
	if per := float64(Msg1Size(1_000_000)) / 1e6; per < 98 || per > 99 {
		t.Errorf("%.2f bytes per element at m = 10^6, documented as about 99", per)
	}
}

func TestTooMany(t *testing.T) {
	cfg := &Config{MaxItems: 10}
	_, msg0, err := NewSender(testSession(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, _, _ := sets(11)
	if _, _, err := NewReceiver(testSession(t), elementsOf(in), msg0, cfg); !errors.Is(err, ErrTooMany) {
		t.Fatalf("11 inputs with MaxItems 10: %v", err)
	}
	if _, _, err := NewSender(testSession(t), &Config{MaxItems: MaxItemsLimit + 1}); !errors.Is(err, ErrConfig) {
		t.Fatalf("MaxItems over the limit: %v", err)
	}
	// A sender bounded at 10 refuses a receiver batch sized for more.
	s, msg0, err := NewSender(testSession(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	big, _, _ := sets(minSizing + 1)
	_, msg1, err := NewReceiver(testSession(t), elementsOf(big), msg0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(msg1); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized batch: %v, want ErrMalformed", err)
	}
}

func TestStateErrors(t *testing.T) {
	session := testSession(t)
	s, msg0, err := NewSender(session, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := el([]byte("x"))
	if _, err := s.Eval(0, x); !errors.Is(err, ErrState) {
		t.Fatalf("Eval before Finish: %v", err)
	}
	if _, err := s.Candidates(nil, x); !errors.Is(err, ErrState) {
		t.Fatalf("Candidates before Finish: %v", err)
	}
	_, msg1, err := NewReceiver(session, []Element{x}, msg0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(msg1); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(msg1); !errors.Is(err, ErrState) {
		t.Fatalf("second Finish: %v", err)
	}
	for _, idx := range []int{-1, s.Bins()} {
		if _, err := s.Eval(idx, x); !errors.Is(err, ErrIndex) {
			t.Fatalf("Eval(%d): %v", idx, err)
		}
	}
}

// TestMalformed refuses truncated, extended and corrupted messages; a
// refused msg1 leaves the sender able to finish with the right one.
func TestMalformed(t *testing.T) {
	session := testSession(t)
	s, msg0, err := NewSender(session, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := []Element{el([]byte("x"))}
	bad0 := map[string][]byte{
		"empty":     nil,
		"truncated": msg0[:len(msg0)-1],
		"extended":  append(bytes.Clone(msg0), 0),
		"version":   append([]byte{Version + 1}, msg0[1:]...),
		"type":      append([]byte{Version, typeReceiver}, msg0[2:]...),
		"identity":  identityAt(msg0, headerSize+32),
		"invalid":   invalidAt(msg0, headerSize+32+pointSize*7),
	}
	for name, m := range bad0 {
		if _, _, err := NewReceiver(session, in, m, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("msg0 %s: %v, want ErrMalformed", name, err)
		}
	}
	for n := 0; n < len(msg0); n += 1 + n/8 {
		if _, _, err := NewReceiver(session, in, msg0[:n], nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("msg0 truncated to %d: %v", n, err)
		}
	}
	_, msg1, err := NewReceiver(session, in, msg0, nil)
	if err != nil {
		t.Fatal(err)
	}
	binsAt := func(n uint32) []byte {
		m := bytes.Clone(msg1)
		binary.BigEndian.PutUint32(m[headerSize:], n)
		return m
	}
	bad1 := map[string][]byte{
		"empty":      nil,
		"truncated":  msg1[:len(msg1)-1],
		"row short":  msg1[:len(msg1)-rowBytes],
		"extended":   append(bytes.Clone(msg1), 0),
		"version":    append([]byte{Version + 1}, msg1[1:]...),
		"type":       append([]byte{Version, typeSender}, msg1[2:]...),
		"bins low":   binsAt(uint32(binsFor(0) - 1)),
		"bins high":  binsAt(uint32(binsFor(MaxItemsLimit) + 1)),
		"bins other": binsAt(uint32(binsFor(0) + 200)),
		"identity":   identityAt(msg1, headerSize+4+3*pointSize),
		"invalid":    invalidAt(msg1, headerSize+4),
	}
	for name, m := range bad1 {
		if err := s.Finish(m); !errors.Is(err, ErrMalformed) {
			t.Errorf("msg1 %s: %v, want ErrMalformed", name, err)
		}
	}
	for n := 0; n < len(msg1); n += 1 + n/8 {
		if err := s.Finish(msg1[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("msg1 truncated to %d: %v", n, err)
		}
	}
	if err := s.Finish(msg1); err != nil {
		t.Fatalf("valid msg1 after refused ones: %v", err)
	}
}

func identityAt(msg []byte, off int) []byte {
	m := bytes.Clone(msg)
	clear(m[off : off+pointSize])
	return m
}

// invalidAt writes a non-canonical encoding (the field modulus p).
func invalidAt(msg []byte, off int) []byte {
	m := bytes.Clone(msg)
	p := [pointSize]byte{0xed}
	for i := 1; i < 31; i++ {
		p[i] = 0xff
	}
	p[31] = 0x7f
	copy(m[off:], p[:])
	return m
}

// TestElementOf checks ElementOf against its definition, SHA-256(label ‖
// key ‖ x)[:16], on both sides of the boundary between the stack and the
// streaming paths, and that the key separates.
func TestElementOf(t *testing.T) {
	var key [32]byte
	key[0] = 9
	for _, n := range []int{0, 1, 127, 128, 129, 1000} {
		x := bytes.Repeat([]byte{'z'}, n)
		h := sha256.Sum256(append(append([]byte(labelElement), key[:]...), x...))
		if e := ElementOf(&key, x); !bytes.Equal(e[:], h[:16]) {
			t.Fatalf("length %d: element differs from SHA-256(label ‖ key ‖ x)[:16]", n)
		}
		other := key
		other[31] = 1
		if ElementOf(&key, x) == ElementOf(&other, x) {
			t.Fatalf("length %d: two keys give the same element", n)
		}
	}
}

// TestNoAllocs: ElementOf of a short identifier, and the sender's Eval,
// Candidates (into a slice with room) and Candidate allocate nothing.
func TestNoAllocs(t *testing.T) {
	s, _, _, _ := runSession(t, testSession(t), [][]byte{[]byte("a")}, nil)
	x := []byte("DE89370400440532013000")
	e := el(x)
	dst := make([]Value, 0, MaxCandidates)
	for name, f := range map[string]func(){
		"ElementOf":  func() { e = ElementOf(&testKey, x) },
		"Eval":       func() { _, _ = s.Eval(1, e) },
		"Candidates": func() { dst, _ = s.Candidates(dst[:0], e) },
		"Candidate":  func() { _, _ = s.Candidate(e, 2) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %.1f allocations", name, n)
		}
	}
}

// TestInstances runs the extension with elements placed by hand, each in
// the bin of another hash function: the sender's Eval there gives the
// receiver's value, and so do its Candidates and Candidate at the
// position of that hash function (Candidates are in hash-function order).
func TestInstances(t *testing.T) {
	session := testSession(t)
	s, msg0, err := NewSender(session, nil)
	if err != nil {
		t.Fatal(err)
	}
	seed, pairs, err := parseMsg0(msg0)
	if err != nil {
		t.Fatal(err)
	}
	k := newKeys(deriveSID(&session, &seed))
	nbins := binsFor(HashCount)
	var in []Element
	var where []int
	used := make(map[int]bool)
	for i := 0; len(in) < HashCount; i++ {
		// Element h goes to its bin h, if no earlier element is there.
		h := len(in)
		e := el(fmt.Appendf(nil, "by-h%d-%d", h, i))
		if b := k.bins(&e, nbins, new(scratch))[h]; !used[b] {
			used[b] = true
			in, where = append(in, e), append(where, b)
		}
	}
	otKeys, as, err := otSend(randReader, &k.sid, pairs, nil)
	if err != nil {
		t.Fatal(err)
	}
	seeds0, seeds1 := make([][16]byte, len(otKeys)), make([][16]byte, len(otKeys))
	for i := range otKeys {
		seeds0[i], seeds1[i] = otKeys[i][0], otKeys[i][1]
	}
	r, msg1, err := extend(k, seeds0, seeds1, as, in, where, nbins)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(msg1); err != nil {
		t.Fatal(err)
	}
	for h, o := range r.Outputs() {
		if o.Index != where[h] {
			t.Fatalf("element %d at instance %d, placed at %d", h, o.Index, where[h])
		}
		v, err := s.Eval(o.Index, in[h])
		if err != nil {
			t.Fatal(err)
		}
		if v != o.Value {
			t.Fatalf("element %d: Eval at instance %d differs from the receiver's value", h, o.Index)
		}
		cand, err := s.Candidates(nil, in[h])
		if err != nil {
			t.Fatal(err)
		}
		if len(cand) != HashCount || cand[h] != o.Value {
			t.Fatalf("element %d: %d candidates, number %d not the receiver's value", h, len(cand), h)
		}
		if c, err := s.Candidate(in[h], h); err != nil || c != o.Value {
			t.Fatalf("element %d: Candidate(%d) is not the receiver's value (%v)", h, h, err)
		}
	}
}

// runOnBase runs the OPRF again between the pair of s and r, on the base
// OTs they kept.
func runOnBase(t testing.TB, session [32]byte, s *Sender, r *Receiver, inputs [][]byte) (*Sender, *Receiver, []byte, []byte) {
	t.Helper()
	s2, msg0, err := NewSenderRun(session, s.Base(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !RunOnBase(msg0) || len(msg0) != RunMsg0Size {
		t.Fatalf("run msg0 of %d bytes, type %d", len(msg0), msg0[1])
	}
	r2, msg1, err := NewReceiverRun(session, elementsOf(inputs), msg0, r.Base(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg1) != RunMsg1Size(len(inputs)) {
		t.Fatalf("run msg1 of %d bytes, want %d", len(msg1), RunMsg1Size(len(inputs)))
	}
	if err := s2.Finish(msg1); err != nil {
		t.Fatal(err)
	}
	return s2, r2, msg0, msg1
}

// TestRunsOnBase runs the OPRF several times on one session's base OTs,
// with other sets each time: every run's receiver values are the sender's
// Eval at the receiver's instances, its candidates find exactly the
// plaintext intersection, and every run's function is new (no value
// repeats across runs, as across sessions).
func TestRunsOnBase(t *testing.T) {
	session := testSession(t)
	recv, _, _ := sets(300)
	s, r, _, _ := runSession(t, session, recv, nil)
	if s.Base() == nil || r.Base() == nil {
		t.Fatal("no base kept")
	}
	seen := make(map[Value]bool)
	for _, o := range r.Outputs() {
		seen[o.Value] = true
	}
	for run := range 3 {
		recv, send, common := sets(200 + 100*run)
		s2, r2, _, _ := runOnBase(t, session, s, r, recv)
		byValue := make(map[Value]int)
		for i, o := range r2.Outputs() {
			if seen[o.Value] {
				t.Fatalf("run %d: input %d: a value of an earlier run", run, i)
			}
			seen[o.Value] = true
			byValue[o.Value] = i
			if v, err := s2.Eval(o.Index, el(recv[i])); err != nil || v != o.Value {
				t.Fatalf("run %d: input %d: receiver value differs from the sender's Eval (%v)", run, i, err)
			}
		}
		checkCandidates(t, s2, recv, send, common, byValue)
		s, r = s2, r2 // a run keeps the base it ran on
	}
}

// TestRunOnOtherBase: a receiver whose kept base OTs are not the sender's
// (another session's) gets values that are not the sender's function: the
// run is useless to it rather than wrong silently at the sender.
func TestRunOnOtherBase(t *testing.T) {
	recv, _, _ := sets(50)
	s, _, _, _ := runSession(t, testSession(t), recv, nil)
	_, other, _, _ := runSession(t, testSession(t), recv, nil)
	s2, r2, _, _ := runOnBase(t, testSession(t), s, other, recv)
	for i, o := range r2.Outputs() {
		if v, _ := s2.Eval(o.Index, el(recv[i])); v == o.Value {
			t.Fatalf("input %d: a receiver with another base got the sender's value", i)
		}
	}
}

// TestRunStateErrors: runs need a base, a run message of the right type,
// and a sender finishes once.
func TestRunStateErrors(t *testing.T) {
	session := testSession(t)
	in := []Element{el([]byte("a"))}
	if _, _, err := NewSenderRun(session, nil, nil); !errors.Is(err, ErrState) {
		t.Errorf("run without a base: %v", err)
	}
	s, r, msg0, msg1 := runSession(t, session, [][]byte{[]byte("a")}, nil)
	if err := s.Finish(msg1); !errors.Is(err, ErrState) {
		t.Errorf("second Finish: %v", err)
	}
	if _, _, err := NewReceiverRun(session, in, msg0, r.Base(), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("run on a full session's msg0: %v", err)
	}
	s2, run0, err := NewSenderRun(session, s.Base(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Base() != nil {
		t.Error("a run's sender has a base before Finish")
	}
	if _, _, err := NewReceiver(session, in, run0, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("full receiver on a run msg0: %v", err)
	}
	if _, _, err := NewReceiverRun(session, in, run0, nil, nil); !errors.Is(err, ErrState) {
		t.Errorf("run receiver without a base: %v", err)
	}
	if err := s2.Finish(msg1); !errors.Is(err, ErrMalformed) {
		t.Errorf("run sender given a full msg1: %v", err)
	}
	if got := fmt.Sprintf("%v %#v %v", s.Base(), s.Base(), r.Base()); bytes.Contains([]byte(got), []byte("0x")) || len(got) > 100 {
		t.Errorf("a base prints its keys: %s", got)
	}
}
