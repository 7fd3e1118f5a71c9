package kkrt

import "errors"

// Protocol constants. Changing any of them is a new Version.
const (
	// Version is the first byte of every message.
	Version = 1

	// CodeWidth is the width w in bits of the pseudorandom code C and so
	// the number of base OTs and of columns of the OT-extension matrix.
	// KKRT16's pseudorandom-code condition: every receiver element and
	// every element the sender evaluates at its instance must have
	// codewords differing in at least κ = 128 bits (computational security
	// 128). For a random w = 512-bit code a pair is closer than 128 bits
	// with probability Σ_{i<128} C(512,i)/2^512 < 2^-102; 2^20 sender
	// elements at MaxCandidates instances each are < 2^24 pairs, < 2^-78,
	// and the 40-bit statistical target holds up to 2^62 pairs. 512 =
	// 4·128 is libOTe's fixed KKRT width too (four AES blocks per codeword).
	CodeWidth = 512

	// BaseOTs is the number of Masny–Rindal base OTs per session.
	BaseOTs = CodeWidth

	// HashCount is the number of cuckoo hash functions.
	HashCount = 3

	// MaxStash is the largest stash (see stashFor); MaxCandidates the
	// most values Sender.Candidates returns per element.
	MaxStash      = 6
	MaxCandidates = HashCount + MaxStash

	// MaxItemsLimit bounds the receiver's set (and Config.MaxItems): the
	// sender's table is 64·instances bytes, 86 MB at this limit.
	MaxItemsLimit = 1 << 20

	// ValueSize is the length of an OPRF output: SHA-256, untruncated.
	ValueSize = 32

	// maxKicks bounds one cuckoo insertion's random walk before the
	// element goes to the stash.
	maxKicks = 1000

	// minSizing is the set size below which the table is sized as if the
	// set had minSizing elements: the stash bound below is tabulated from
	// 2^12 up, and small tables cost little (5,264 rows, 337 KB).
	minSizing = 1 << 12

	rowWords  = CodeWidth / 64 // uint64 words per matrix row
	rowBytes  = CodeWidth / 8
	elemBytes = 16 // an Element is one AES block
	pointSize = 32 // encoded ristretto255 element
)

// binsFor is the number of cuckoo bins for m receiver elements:
// ceil(1.27·max(m, minSizing)).
//
// Failure bound: Pinkas, Segev, Schneider and Zohner ("Phasing: Private
// Set Intersection using Permutation-based Hashing", USENIX Security
// 2015), whose parameters KKRT16 uses, tabulate for 3 hash functions and
// 1.2·n bins the stash size that keeps insertion failure below 2^-40:
// 6 at n = 2^12, 4 at n = 2^16, 3 at n = 2^20 (falling with n). stashFor
// takes, for each range of set sizes, the value at its lower end, and
// this package uses 1.27·n bins, more than the table's 1.2·n, which only
// lowers the failure probability. An overflowing stash is therefore an
// error (ErrCuckoo) rather than a retry.
func binsFor(m int) int {
	if m < minSizing {
		m = minSizing
	}
	return (127*m + 99) / 100
}

// stashFor is the stash size for a table of nbins bins: 6 for sets up to
// 2^16 (sized at least 2^12), 4 above (up to MaxItemsLimit = 2^20).
func stashFor(nbins int) int {
	if nbins <= binsFor(1<<16) {
		return MaxStash
	}
	return 4
}

// instances is the number of OPRF instances (matrix rows) for nbins bins:
// the bins, the stash, rounded up to a multiple of 64 for the transposition.
func instances(nbins int) int {
	return (nbins + stashFor(nbins) + 63) &^ 63
}

// Config bounds a session. A nil *Config means the defaults.
type Config struct {
	// MaxItems bounds the receiver's set; the sender refuses a larger
	// batch. 0 means MaxItemsLimit; more than MaxItemsLimit is an error.
	MaxItems int
}

// fits checks a receiver's set of m elements against the bound.
func (c *Config) fits(m int) error {
	maxItems, err := c.maxItems()
	if err != nil {
		return err
	}
	if m > maxItems {
		return ErrTooMany
	}
	return nil
}

func (c *Config) maxItems() (int, error) {
	if c == nil || c.MaxItems == 0 {
		return MaxItemsLimit, nil
	}
	if c.MaxItems < 0 || c.MaxItems > MaxItemsLimit {
		return 0, ErrConfig
	}
	return c.MaxItems, nil
}

// Errors. Decoders wrap ErrMalformed with the reason.
var (
	ErrMalformed = errors.New("kkrt: malformed message")
	ErrState     = errors.New("kkrt: call out of order")
	ErrConfig    = errors.New("kkrt: invalid config")
	ErrTooMany   = errors.New("kkrt: more elements than the session allows")
	ErrDuplicate = errors.New("kkrt: duplicate receiver element")
	ErrCuckoo    = errors.New("kkrt: cuckoo stash overflow")
	ErrIndex     = errors.New("kkrt: instance index out of range")
)
