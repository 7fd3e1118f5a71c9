package mask

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "regenerate ../testdata/prg.json from the reference PRG in this test")

const vectorFile = "../testdata/prg.json"

// ---------------------------------------------------------------------------
// Reference PRG, written from the specification only (no code of this package):
//
//	okm  = HKDF-SHA256(ikm = seed, salt = "maskshare prg v1",
//	                   info = session(32) || purpose(1) || column(4, big-endian), L = 48)
//	key  = okm[:32], iv = okm[32:48]
//	ks   = AES-256-CTR(key, iv) over zero bytes
//	word i = little-endian uint64 of ks[8i : 8i+8]
//
// Starting at word offset o means starting at AES block o/2, i.e. with the
// 128-bit big-endian counter iv + o/2, and dropping the first word if o is odd.

func refKeyIV(t testing.TB, seed Seed, d Domain) (key, iv []byte) {
	t.Helper()
	info := make([]byte, 0, 37)
	info = append(info, d.Session[:]...)
	info = append(info, byte(d.Purpose))
	info = append(info, byte(d.Column>>24), byte(d.Column>>16), byte(d.Column>>8), byte(d.Column))
	okm, err := hkdf.Key(sha256.New, seed[:], []byte("maskshare prg v1"), string(info), 48)
	if err != nil {
		t.Fatal(err)
	}
	return okm[:32], okm[32:48]
}

// addCounter returns iv + k as 128-bit big-endian integers, mod 2^128,
// computed with math/big.
func addCounter(iv []byte, k uint64) []byte {
	x := new(big.Int).SetBytes(iv)
	x.Add(x, new(big.Int).SetUint64(k))
	x.Mod(x, new(big.Int).Lsh(big.NewInt(1), 128))
	out := make([]byte, 16)
	x.FillBytes(out)
	return out
}

// refWords returns count words of the stream of seed in d starting at word
// offset, via crypto/cipher's CTR mode.
func refWords(t testing.TB, seed Seed, d Domain, offset uint64, count int) []uint64 {
	t.Helper()
	key, iv := refKeyIV(t, seed, d)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ctr := cipher.NewCTR(block, addCounter(iv, offset/2))
	skip := int(offset % 2)
	ks := make([]byte, 8*(count+skip))
	ctr.XORKeyStream(ks, ks)
	ks = ks[8*skip:]
	out := make([]uint64, count)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(ks[8*i:])
	}
	return out
}

// refWordsECB is refWords without crypto/cipher's CTR: it encrypts every
// counter block itself, incrementing the counter with math/big. It is used
// where the 128-bit carry matters.
func refWordsECB(t testing.TB, seed Seed, d Domain, offset uint64, count int) []uint64 {
	t.Helper()
	key, iv := refKeyIV(t, seed, d)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ctrBlock := addCounter(iv, offset/2)
	skip := int(offset % 2)
	nblocks := (count + skip + 1) / 2
	ks := make([]byte, 16*nblocks)
	for b := range nblocks {
		block.Encrypt(ks[16*b:], ctrBlock)
		ctrBlock = addCounter(ctrBlock, 1)
	}
	ks = ks[8*skip:]
	out := make([]uint64, count)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(ks[8*i:])
	}
	return out
}

func prgWords(seed Seed, d Domain, offset uint64, count int) []uint64 {
	out := make([]uint64, count)
	NewPRGAt(seed, d, offset).Read(out)
	return out
}

func firstDiff(a, b []uint64) int {
	if len(a) != len(b) {
		return -2
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func requireWords(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if i := firstDiff(got, want); i != -1 {
		if i == -2 {
			t.Fatalf("%s: %d words, want %d", what, len(got), len(want))
		}
		t.Fatalf("%s: word %d = %016x, want %016x", what, i, got[i], want[i])
	}
}

func labelBytes(label string) [32]byte { return sha256.Sum256([]byte(label)) }

func randSeed(r *rand.Rand) Seed {
	var s Seed
	for i := range s {
		s[i] = byte(r.Uint32())
	}
	return s
}

func randDomain(r *rand.Rand) Domain {
	var d Domain
	for i := range d.Session {
		d.Session[i] = byte(r.Uint32())
	}
	d.Purpose = Purpose(1 + r.IntN(3))
	d.Column = r.Uint32()
	return d
}

// ---------------------------------------------------------------------------
// Known-answer vectors.

type prgVector struct {
	Name    string   `json:"name"`
	Seed    string   `json:"seed"`
	Session string   `json:"session"`
	Purpose uint8    `json:"purpose"`
	Column  uint32   `json:"column"`
	Offset  uint64   `json:"offset"`
	Count   int      `json:"count"`
	Words   []string `json:"words,omitempty"` // every word, when count <= 16
	First   []string `json:"first,omitempty"` // first 4 words, when count > 16
	Last    []string `json:"last,omitempty"`  // last 4 words, when count > 16
	SHA256  string   `json:"sha256"`          // of all words, little-endian
}

type prgVectorFile struct {
	Comment string      `json:"comment"`
	Vectors []prgVector `json:"vectors"`
}

func vectorCases() []prgVector {
	seq := func(start byte) string {
		var b [32]byte
		for i := range b {
			b[i] = start + byte(i)
		}
		return hex.EncodeToString(b[:])
	}
	lab := func(s string) string { b := labelBytes(s); return hex.EncodeToString(b[:]) }
	zero := hex.EncodeToString(make([]byte, 32))
	ff := hex.EncodeToString(bytes.Repeat([]byte{0xff}, 32))
	return []prgVector{
		{Name: "zero seed, zero session, mask, column 0", Seed: zero, Session: zero, Purpose: 1, Column: 0, Count: 8},
		{Name: "counting seed and session, part, column 7, odd count", Seed: seq(0), Session: seq(0x20), Purpose: 2, Column: 7, Count: 5},
		{Name: "all-ones seed and session, output, column 2^32-1", Seed: ff, Session: ff, Purpose: 3, Column: math.MaxUint32, Count: 3},
		{Name: "column 2^24 (big-endian column encoding)", Seed: seq(0), Session: seq(0x20), Purpose: 2, Column: 1 << 24, Count: 4},
		{Name: "3000 words, crosses two chunk boundaries", Seed: lab("maskshare kat seed 4"), Session: lab("maskshare kat session 4"), Purpose: 1, Column: 1, Count: 3000},
		{Name: "1025 words, part, column 256", Seed: lab("maskshare kat seed 5"), Session: lab("maskshare kat session 5"), Purpose: 2, Column: 256, Count: 1025},
		{Name: "seek to odd word offset 1023 (words 1023..1026 of the 3000-word case)", Seed: lab("maskshare kat seed 4"), Session: lab("maskshare kat session 4"), Purpose: 1, Column: 1, Offset: 1023, Count: 4},
	}
}

func (v prgVector) parse(t testing.TB) (Seed, Domain) {
	t.Helper()
	var seed Seed
	var d Domain
	sb, err := hex.DecodeString(v.Seed)
	if err != nil || len(sb) != 32 {
		t.Fatalf("%s: bad seed %q", v.Name, v.Seed)
	}
	db, err := hex.DecodeString(v.Session)
	if err != nil || len(db) != 32 {
		t.Fatalf("%s: bad session %q", v.Name, v.Session)
	}
	copy(seed[:], sb)
	copy(d.Session[:], db)
	d.Purpose = Purpose(v.Purpose)
	d.Column = v.Column
	return seed, d
}

func hexWords(w []uint64) []string {
	out := make([]string, len(w))
	for i, x := range w {
		out[i] = fmt.Sprintf("%016x", x)
	}
	return out
}

func wordsDigest(w []uint64) string {
	h := sha256.New()
	var b [8]byte
	for _, x := range w {
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fillVector(v *prgVector, words []uint64) {
	v.Words, v.First, v.Last = nil, nil, nil
	if len(words) <= 16 {
		v.Words = hexWords(words)
	} else {
		v.First = hexWords(words[:4])
		v.Last = hexWords(words[len(words)-4:])
	}
	v.SHA256 = wordsDigest(words)
}

func TestPRGVectors(t *testing.T) {
	if *update {
		f := prgVectorFile{
			Comment: "maskshare PRG known-answer vectors: words are the uint64 values (little-endian decoding of the keystream) as %016x; sha256 is over all words' little-endian bytes. Generated by go test ./mask -run TestPRGVectors -update from the reference implementation in mask/prg_test.go.",
		}
		for _, v := range vectorCases() {
			seed, d := v.parse(t)
			ref := refWords(t, seed, d, v.Offset, v.Count)
			requireWords(t, v.Name+": ECB reference", refWordsECB(t, seed, d, v.Offset, v.Count), ref)
			fillVector(&v, ref)
			f.Vectors = append(f.Vectors, v)
		}
		out, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorFile)
	}

	data, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./mask -run TestPRGVectors -update)", err)
	}
	var f prgVectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 6 {
		t.Fatalf("%d vectors in %s, want at least 6", len(f.Vectors), vectorFile)
	}
	crossesChunk := false
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			seed, d := v.parse(t)
			if v.Count > chunkWords {
				crossesChunk = true
			}
			var got []uint64
			if v.Offset == 0 {
				got = make([]uint64, v.Count)
				Expand(got, seed, d)
			} else {
				got = prgWords(seed, d, v.Offset, v.Count)
			}
			want := v
			fillVector(&want, got)
			if v.SHA256 != want.SHA256 {
				t.Errorf("sha256 = %s, want %s", want.SHA256, v.SHA256)
			}
			for _, pair := range []struct {
				name      string
				got, want []string
			}{{"words", want.Words, v.Words}, {"first", want.First, v.First}, {"last", want.Last, v.Last}} {
				if len(pair.got) != len(pair.want) {
					t.Errorf("%s: %d entries, file has %d", pair.name, len(pair.got), len(pair.want))
					continue
				}
				for i := range pair.got {
					if pair.got[i] != pair.want[i] {
						t.Errorf("%s[%d] = %s, want %s", pair.name, i, pair.got[i], pair.want[i])
					}
				}
			}
			// The file must also agree with the from-scratch reference, so a
			// regenerated file cannot silently follow a changed implementation.
			requireWords(t, "reference", refWords(t, seed, d, v.Offset, v.Count), got)
		})
	}
	if !crossesChunk {
		t.Errorf("no vector crosses the %d-word chunk boundary", chunkWords)
	}
}

// TestPRGMatchesReference compares the PRG against the from-scratch
// reference for random seeds, domains, offsets and lengths.
func TestPRGMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 3, 1023, 1024, 1025, 2048, 2049, 4100}
	for i, n := range lengths {
		seed, d := randSeed(r), randDomain(r)
		want := refWords(t, seed, d, 0, n)
		got := make([]uint64, n)
		Expand(got, seed, d)
		requireWords(t, fmt.Sprintf("case %d Expand(%d)", i, n), got, want)
		requireWords(t, fmt.Sprintf("case %d ECB reference(%d)", i, n), refWordsECB(t, seed, d, 0, n), want)
	}
	// Expand into a non-zero dst must overwrite, not combine.
	seed, d := randSeed(r), randDomain(r)
	got := make([]uint64, 1500)
	for i := range got {
		got[i] = r.Uint64()
	}
	Expand(got, seed, d)
	requireWords(t, "Expand over garbage", got, refWords(t, seed, d, 0, 1500))
}

// ---------------------------------------------------------------------------
// Seeking.

func TestNewPRGAtMatchesSkip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	seed, d := randSeed(r), randDomain(r)
	const total = 5000
	full := make([]uint64, total)
	Expand(full, seed, d)
	offsets := []uint64{0, 1, 2, 3, 4, 5, 511, 512, 1022, 1023, 1024, 1025, 1026, 2047, 2048, 2049, 3071, 3072, 3073}
	for range 10 {
		offsets = append(offsets, uint64(r.IntN(total)))
	}
	for _, off := range offsets {
		for _, k := range []int{0, 1, 2, 7, 1024, 1025} {
			if int(off)+k > total {
				continue
			}
			got := prgWords(seed, d, off, k)
			requireWords(t, fmt.Sprintf("NewPRGAt(off=%d) %d words", off, k), got, full[off:int(off)+k])
		}
	}
}

// TestPRGPiecewiseReads checks that reading a stream in pieces of arbitrary
// (odd, chunk-crossing) sizes with Read, Add and Sub gives the same words as
// one read.
func TestPRGPiecewiseReads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		seed, d := randSeed(r), randDomain(r)
		total := 1 + r.IntN(6000)
		want := make([]uint64, total)
		Expand(want, seed, d)
		p := NewPRG(seed, d)
		got := make([]uint64, total)
		for pos := 0; pos < total; {
			n := min(total-pos, r.IntN(1500))
			piece := got[pos : pos+n]
			switch r.IntN(3) {
			case 0:
				p.Read(piece)
			case 1:
				p.Add(piece) // got is zero here, so Add reads
			case 2:
				p.Sub(piece) // and Sub reads the negation
				for i := range piece {
					piece[i] = -piece[i]
				}
			}
			pos += n
		}
		requireWords(t, fmt.Sprintf("trial %d", trial), got, want)
	}
}

func TestNewPRGAtLargeOffsets(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	seed, d := randSeed(r), randDomain(r)
	offsets := []uint64{1 << 40, 1<<40 + 1, 1<<40 + 1023, 1 << 62, 1<<63 + 5, math.MaxUint64 - 2, math.MaxUint64 - 1, math.MaxUint64}
	for range 8 {
		offsets = append(offsets, r.Uint64())
	}
	for _, off := range offsets {
		for _, k := range []int{1, 2, 3, 1100} {
			want := refWords(t, seed, d, off, k)
			requireWords(t, fmt.Sprintf("offset %d, %d words", off, k), prgWords(seed, d, off, k), want)
			if k < 8 {
				requireWords(t, fmt.Sprintf("offset %d, %d words, ECB", off, k), refWordsECB(t, seed, d, off, k), want)
			}
		}
	}
}

// TestNewPRGAtCounterCarry exercises the 128-bit counter arithmetic: it finds
// (deterministically) seeds whose IV's low 64 bits are large, so that adding
// offset/2 carries into the high 64 bits, both when the PRG is created and
// while it runs.
func TestNewPRGAtCounterCarry(t *testing.T) {
	var d Domain
	d.Session = labelBytes("carry session")
	d.Purpose = PurposeMask
	found := 0
	for i := 0; found < 4 && i < 200; i++ {
		var seed Seed
		binary.BigEndian.PutUint64(seed[:], uint64(i))
		_, iv := refKeyIV(t, seed, d)
		lo := binary.BigEndian.Uint64(iv[8:])
		if lo <= 1<<63 {
			continue
		}
		found++
		// lo + (2^63-1) >= 2^64: the carry happens in NewPRGAt itself.
		for _, off := range []uint64{math.MaxUint64, math.MaxUint64 - 1} {
			if lo+off/2 >= lo {
				t.Fatalf("seed %d: offset %d does not carry", i, off)
			}
			want := refWordsECB(t, seed, d, off, 6)
			requireWords(t, fmt.Sprintf("seed %d, carry at creation, offset %d", i, off), prgWords(seed, d, off, 6), want)
		}
		// Start two blocks before the low half wraps: the carry happens while
		// the stream runs.
		base := 2 * (math.MaxUint64 - 1 - lo) // off/2 = 2^64-2-lo, so the counter's low half starts at 2^64-2
		for _, off := range []uint64{base, base + 1, base + 2, base + 3} {
			want := refWordsECB(t, seed, d, off, 10)
			requireWords(t, fmt.Sprintf("seed %d, carry while running, offset %d", i, off), prgWords(seed, d, off, 10), want)
		}
	}
	if found < 4 {
		t.Fatalf("found only %d seeds with a large IV", found)
	}
}

// ---------------------------------------------------------------------------
// Domain separation.

func TestDomainSeparation(t *testing.T) {
	base := Domain{Session: labelBytes("session"), Purpose: PurposeMask, Column: 5}
	seed := Seed(labelBytes("seed"))
	type variant struct {
		name string
		seed Seed
		d    Domain
	}
	vs := []variant{{"base", seed, base}}
	add := func(name string, f func(s *Seed, d *Domain)) {
		s, d := seed, base
		f(&s, &d)
		vs = append(vs, variant{name, s, d})
	}
	add("seed bit 0", func(s *Seed, _ *Domain) { s[0] ^= 1 })
	add("seed bit 255", func(s *Seed, _ *Domain) { s[31] ^= 0x80 })
	add("session bit 0", func(_ *Seed, d *Domain) { d.Session[0] ^= 1 })
	add("session last byte", func(_ *Seed, d *Domain) { d.Session[31] ^= 0x80 })
	add("purpose part", func(_ *Seed, d *Domain) { d.Purpose = PurposePart })
	add("purpose output", func(_ *Seed, d *Domain) { d.Purpose = PurposeOutput })
	add("purpose 0", func(_ *Seed, d *Domain) { d.Purpose = 0 })
	add("column 0", func(_ *Seed, d *Domain) { d.Column = 0 })
	add("column 4", func(_ *Seed, d *Domain) { d.Column = 4 })
	add("column 5<<8", func(_ *Seed, d *Domain) { d.Column = 5 << 8 })
	add("column 5<<24", func(_ *Seed, d *Domain) { d.Column = 5 << 24 })
	add("column 2^32-1", func(_ *Seed, d *Domain) { d.Column = math.MaxUint32 })
	add("purpose and column swapped", func(_ *Seed, d *Domain) { d.Purpose, d.Column = Purpose(5), uint32(PurposeMask) })

	const n = 64
	streams := make([][]uint64, len(vs))
	for i, v := range vs {
		streams[i] = make([]uint64, n)
		Expand(streams[i], v.seed, v.d)
	}
	for i := range vs {
		for j := i + 1; j < len(vs); j++ {
			same := 0
			for k := range n {
				if streams[i][k] == streams[j][k] {
					same++
				}
			}
			if same != 0 {
				t.Errorf("%s and %s: %d of %d words equal", vs[i].name, vs[j].name, same, n)
			}
		}
	}
	// Offsets are not a substitute for domains either: no stream is a
	// shifted copy of another within the first words.
	seen := map[uint64]string{}
	for i, s := range streams {
		for k, w := range s {
			if prev, ok := seen[w]; ok {
				t.Errorf("word %016x at %s[%d] also at %s", w, vs[i].name, k, prev)
			}
			seen[w] = fmt.Sprintf("%s[%d]", vs[i].name, k)
		}
	}
}
