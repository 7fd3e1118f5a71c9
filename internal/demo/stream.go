package demo

import (
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"

	"github.com/maskshare/maskshare"
)

// Stream returns bank's table (0 ≤ bank < banks) as a maskshare.Source that
// generates its rows on the fly in constant memory, deterministically from
// seed, for sessions too large to hold as a Table (issue 15).
//
// The bank has `customers` rows. The first ⌊customers·overlap⌋ identifiers
// come from a pool common to all banks ("DE10-CUST-%09d", in order); the
// other rest = customers − common come from a private pool of rest·banks
// identifiers ("DE20-CUST-%09d"): the bank's i-th private identifier is
// pool[π_b(i)], where π_b is a pseudorandom permutation of the whole pool
// keyed by (seed, bank) — a Feistel network with cycle walking. Since π_b is
// a permutation no identifier repeats within a bank, and since the banks'
// permutations are independent each private identifier is held by each bank
// with probability 1/banks, like Generate's: with 3 banks, of the private
// identifiers held at all, 12/19 are held by one bank, 6/19 by two and 1/19
// by three. Rows are not shuffled: common identifiers come first.
//
// Values are like Generate's (column 0 a balance in cents below 50,000,000,
// column 1 in 1..4, column 2 a 0/1 flag, 10% ones, further columns below
// 1,000,000), drawn from a PCG seeded by (seed, bank); they are not the same
// numbers as Generate's. The values slice is reused by the next call.
//
// Invalid arguments give a source whose Next returns an error.
func Stream(seed uint64, bank, banks, customers int, overlap float64, cols int) maskshare.Source {
	if banks < 1 || bank < 0 || bank >= banks || customers < 0 || cols < 0 || !(overlap >= 0 && overlap <= 1) {
		return errSource{fmt.Errorf("demo: Stream(bank %d, banks %d, customers %d, overlap %v, cols %d): invalid arguments", bank, banks, customers, overlap, cols)}
	}
	common := int(float64(customers) * overlap)
	rest := customers - common
	if customers > maxStreamCustomers || int64(rest)*int64(banks) > maxStreamPool {
		return errSource{fmt.Errorf("demo: Stream: %d customers × %d banks exceed the 9-digit identifiers", customers, banks)}
	}
	s := &streamSource{
		common:    common,
		customers: customers,
		perm:      newFeistel(uint64(rest)*uint64(banks), seed, uint64(bank)),
		rng:       rand.New(rand.NewPCG(seed, 0x73747265616d<<8|uint64(bank))),
		vals:      make([]int64, cols),
	}
	copy(s.buf[:], "DE10-CUST-000000000")
	return s
}

// Limits of Stream: identifiers have nine digits.
const (
	maxStreamCustomers = 1_000_000_000
	maxStreamPool      = 1_000_000_000
)

type errSource struct{ err error }

func (e errSource) Next() (string, []int64, error) { return "", nil, e.err }

type streamSource struct {
	row, common, customers int
	perm                   feistel
	rng                    *rand.Rand
	vals                   []int64
	buf                    [19]byte // "DE10-CUST-" and nine digits
}

// Len returns the number of rows the source yields in all, so that a
// consumer can size its work before reading (extjoin uses it).
func (s *streamSource) Len() int64 { return int64(s.customers) }

func (s *streamSource) Next() (string, []int64, error) {
	if s.row >= s.customers {
		return "", nil, io.EOF
	}
	var n uint64
	if s.row < s.common {
		s.buf[2] = '1'
		n = uint64(s.row)
	} else {
		s.buf[2] = '2'
		n = s.perm.permute(uint64(s.row - s.common))
	}
	s.row++
	for i := len(s.buf) - 1; i >= 10; i-- { // nine digits, n < 10^9
		q := n / 10
		s.buf[i] = byte('0' + n - 10*q)
		n = q
	}
	for v := range s.vals {
		switch v {
		case 0:
			s.vals[v] = s.rng.Int64N(50_000_000)
		case 1:
			s.vals[v] = 1 + s.rng.Int64N(4)
		case 2:
			s.vals[v] = int64(s.rng.IntN(10) / 9)
		default:
			s.vals[v] = s.rng.Int64N(1_000_000)
		}
	}
	return string(s.buf[:]), s.vals, nil
}

// feistel is a pseudorandom permutation of [0, n): a balanced Feistel
// network on the smallest even number of bits covering n, applied again to
// any output ≥ n (cycle walking) until it falls in range. The domain is at
// most 4n, so fewer than four rounds of walking are expected. It is a fast
// mixing function for test data, not a cipher.
type feistel struct {
	n    uint64
	half uint      // bits per half
	mask uint64    // (1 << half) − 1
	keys [6]uint64 // round keys
}

func newFeistel(n, seed, tweak uint64) feistel {
	f := feistel{n: n}
	if n > 1 {
		f.half = uint(bits.Len64(n-1)+1) / 2
	}
	f.mask = 1<<f.half - 1
	k := seed ^ mix64(tweak+0x9e3779b97f4a7c15)
	for i := range f.keys {
		k += 0x9e3779b97f4a7c15
		f.keys[i] = mix64(k)
	}
	return f
}

// permute returns π(x) for x < n.
func (f *feistel) permute(x uint64) uint64 {
	for {
		l, r := x>>f.half, x&f.mask
		for _, k := range f.keys {
			l, r = r, l^(mix64(r^k)&f.mask)
		}
		x = l<<f.half | r
		if x < f.n {
			return x
		}
	}
}

// mix64 is SplitMix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
