package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/psi"
)

// Floors are the costs the targets are stated against, measured in the same
// process right after the session. Times are in seconds; the per-operation
// costs are for one core, and each floor divides by Cores.
type Floors struct {
	Cores int `json:"cores"` // GOMAXPROCS during the session

	// Join is a plaintext hash join and sum of the same tables on one
	// goroutine (fastest of three); JoinSize the records it kept.
	Join     float64 `json:"join_seconds"`
	JoinSize int     `json:"join_size"`

	// ScalarMul is the cost of one ristretto255 scalar multiplication, as
	// psi.Key.Blind does it on one core: RFC 9496 decode, filippo.io/
	// edwards25519's constant-time Point.ScalarMult, encode (the fastest
	// sound multiplication in a prime-order group this module has; see
	// BENCHMARKS.md).
	// ScalarMuls = (parties + 1) × Σ records is how many the ecdh mode
	// does: the owner blinds each element with a one-time key, every other
	// party with its key, and the owner swaps the one-time key for its own.
	// The hash to the group that starts each element's first blinding is
	// not counted in the floor; HashAndBlind is its measured cost with the
	// multiplication, for reference. ecdh runs only.
	ScalarMul      float64 `json:"scalar_mul_seconds,omitempty"`
	HashAndBlind   float64 `json:"hash_and_blind_seconds,omitempty"`
	ScalarMuls     int64   `json:"scalar_muls,omitempty"`
	ScalarMulFloor float64 `json:"scalar_mul_floor_seconds,omitempty"`

	// AESWord is the cost per 64-bit word of AES-256-CTR expansion plus an
	// addition into a vector, on one core. MaskWords counts the words the
	// protocol expands (see MaskWords).
	AESWord   float64 `json:"aes_word_seconds"`
	MaskWords int64   `json:"mask_words"`
	MaskFloor float64 `json:"mask_floor_seconds"`
}

// floorReps is how many times each floor is measured; the fastest counts.
const floorReps = 3

func measureFloors(cfg *Config, params maskshare.Params, tables []*maskshare.Table, size, holdings int) (*Floors, error) {
	f := &Floors{Cores: runtime.GOMAXPROCS(0)}
	k := cfg.K
	if k == 0 {
		k = cfg.Parties
	}
	f.Join = fastest(func() {
		f.JoinSize, _ = PlaintextJoin(tables, k)
	})
	if f.JoinSize != size {
		return nil, fmt.Errorf("bench: %v: plaintext join keeps %d records, the session %d", cfg, f.JoinSize, size)
	}
	if cfg.Mode == maskshare.ECDH {
		var err error
		if f.ScalarMul, f.HashAndBlind, err = ScalarMulCost(1024); err != nil {
			return nil, err
		}
		f.ScalarMuls = int64(cfg.Parties+1) * int64(cfg.Parties) * int64(cfg.Records)
		f.ScalarMulFloor = float64(f.ScalarMuls) * f.ScalarMul / float64(f.Cores)
	}
	f.AESWord = AESWordCost(1 << 20)
	f.MaskWords = MaskWords(cfg.Parties, cfg.Columns, size, params.Reveal == maskshare.PerRecord)
	if params.Reveal == maskshare.PerRecord && !params.CoordinatorSeesResult {
		f.MaskWords += RecordMaskWords(cfg.Columns, size, holdings)
	}
	f.MaskFloor = float64(f.MaskWords) * f.AESWord / float64(f.Cores)
	return f, nil
}

// fastest runs f floorReps times and returns its fastest time in seconds.
func fastest(f func()) float64 { return fastestOf(floorReps, f) }

// fastestOf runs f reps times and returns its fastest time in seconds.
func fastestOf(reps int, f func()) float64 {
	best := time.Duration(1<<63 - 1)
	for range reps {
		runtime.GC()
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best.Seconds()
}

// PlaintextJoin is the plaintext floor: a hash join of all tables on the
// identifier that counts the holders of each identifier and sums its
// columns, keeping those held by at least k tables. It returns their number
// and their sums (row after row). Identifiers are taken as they are: the
// generated data need no normalisation.
func PlaintextJoin(tables []*maskshare.Table, k int) (int, []int64) {
	total := 0
	for _, t := range tables {
		total += t.Len()
	}
	cols := len(tables[0].Values)
	index := make(map[string]int32, total)
	holders := make([]int32, 0, total)
	sums := make([]int64, 0, total*cols)
	for _, t := range tables {
		for r, id := range t.IDs {
			i, ok := index[id]
			if !ok {
				i = int32(len(holders))
				index[id] = i
				holders = append(holders, 0)
				sums = append(sums, make([]int64, cols)...)
			}
			holders[i]++
			s := sums[int(i)*cols : int(i+1)*cols]
			for c := range s {
				s[c] += t.Values[c][r]
			}
		}
	}
	kept := 0
	for i, h := range holders {
		if int(h) >= k {
			copy(sums[kept*cols:], sums[i*cols:(i+1)*cols])
			kept++
		}
	}
	return kept, sums[:kept*cols]
}

// ScalarMulCost returns the time of one psi.Key.Blind per element on one
// core, measured on a batch, and the same for psi.Key.HashAndBlind.
func ScalarMulCost(batch int) (blind, hashAndBlind float64, err error) {
	key, err := psi.NewKey()
	if err != nil {
		return 0, 0, err
	}
	ids := make([]string, batch)
	for i := range ids {
		ids[i] = fmt.Sprintf("DE10-CUST-%08d", i)
	}
	var session [32]byte
	elems := make([]psi.Element, batch)
	key.HashAndBlind(elems, ids, session)
	out := make([]psi.Element, batch)

	// Blind spreads its work over GOMAXPROCS goroutines: measure one core.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	blind = fastest(func() {
		if e := key.Blind(out, elems); e != nil {
			err = fmt.Errorf("bench: blinding: %w", e)
		}
	}) / float64(batch)
	hashAndBlind = fastest(func() { key.HashAndBlind(out, ids, session) }) / float64(batch)
	return blind, hashAndBlind, err
}

// AESWordCost returns the time per word of expanding AES-256-CTR key stream
// and adding it to a vector of `words` words, on one goroutine: the work of
// one mask or part stream.
func AESWordCost(words int) float64 {
	var key [32]byte
	var iv [aes.BlockSize]byte
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("bench: " + err.Error()) // unreachable: the key is 32 bytes
	}
	dst := make([]uint64, words)
	const chunk = 1024 // words per call, as a buffer that stays in L1
	var zero, buf [chunk * 8]byte
	// A pass takes milliseconds: take the fastest of more of them, as a
	// floor should be.
	return fastestOf(4*floorReps, func() {
		stream := cipher.NewCTR(block, iv[:])
		for lo := 0; lo < len(dst); lo += chunk {
			d := dst[lo:min(lo+chunk, len(dst))]
			b := buf[:len(d)*8]
			stream.XORKeyStream(b, zero[:len(b)])
			for i := range d {
				d[i] += binary.LittleEndian.Uint64(b[i*8:])
			}
		}
	}) / float64(words)
}

// MaskWords counts the words of PRG output a session expands in masking and
// aggregation, over all parties, for n parties, cols columns and a result
// of size records. Every party adds the n−1 parts it receives, subtracts
// the n−1 it gives, and applies its zero-sum mask (two streams), over a
// column of a word per record (per-record policy) and one for the total.
// The totals mask is one word per column; record masks are counted by
// RecordMaskWords. The value vector has checkColumns more columns than
// the session has values: the value check words (docs/PROTOCOL.md §6.1),
// hidden the same way. (The match check's
// column is hidden in a round of its own, timed apart: not counted.)
func MaskWords(n, cols, size int, perRecord bool) int64 {
	words := 1
	if perRecord {
		words += size
	}
	return int64(n*(2*(n-1)+2)) * int64(cols+checkColumns) * int64(words)
}

// checkColumns is the number of value check columns in a masked vector.
const checkColumns = 1

// RecordMaskWords counts the words of record masks a session derives (an
// AES block per two words, like the PRG's): every holder derives the mask
// of each of its qualifying records to remove it (holdings: the qualifying
// records summed over the parties that hold them), and each record's
// designated holder once more to add it.
func RecordMaskWords(cols, size, holdings int) int64 {
	return int64(cols) * int64(holdings+size)
}
