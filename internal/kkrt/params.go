package kkrt

import "errors"

// Protocol constants. Changing any of them is a new Version.
const (
	// Version is the first byte of every message.
	Version = 2

	// CodeWidth is the width w in bits of the pseudorandom code C and so
	// the number of base OTs and of columns of the OT-extension matrix.
	// KKRT16's pseudorandom-code condition: every receiver element and
	// every element the sender evaluates at its instance must have
	// codewords differing in at least κ = 128 bits (computational security
	// 128). For a random w = 512-bit code a pair is closer than 128 bits
	// with probability Σ_{i<128} C(512,i)/2^512 < 2^-102; 2^20 sender
	// elements at MaxCandidates instances each are < 2^22 pairs, < 2^-80,
	// and the 40-bit statistical target holds up to 2^62 pairs. 512 =
	// 4·128 is libOTe's fixed KKRT width too (four AES blocks per codeword).
	CodeWidth = 512

	// BaseOTs is the number of Masny–Rindal base OTs per session.
	BaseOTs = CodeWidth

	// HashCount is the number of cuckoo hash functions.
	HashCount = 3

	// MaxCandidates is the number of values Sender.Candidates returns per
	// element: F at its HashCount bins (there is no stash).
	MaxCandidates = HashCount

	// MaxItemsLimit bounds the receiver's set (and Config.MaxItems): the
	// sender's table is 64·instances bytes, 103 MB at this limit.
	MaxItemsLimit = 1 << 20

	// ValueSize is the length of an OPRF output: SHA-256, untruncated.
	ValueSize = 32

	// maxKicks bounds one cuckoo insertion's random walk; an element
	// still homeless after it fails the session (ErrCuckoo).
	maxKicks = 1000

	// minSizing is the set size below which the table is sized as if the
	// set had minSizing elements: the failure bound below is fitted from
	// 2^12 up, and small tables cost little (6,336 rows, 405 KB).
	minSizing = 1 << 12

	rowWords  = CodeWidth / 64 // uint64 words per matrix row
	rowBytes  = CodeWidth / 8
	elemBytes = 16 // an Element is one AES block
	pointSize = 32 // encoded ristretto255 element
)

// binsFor is the number of cuckoo bins for m receiver elements:
// ceil(1.54·max(m, minSizing)), with 3 hash functions and no stash.
//
// Failure bound: Pinkas, Schneider, Weinert and Wieder ("Efficient
// Circuit-based PSI via Cuckoo Hashing", Eurocrypt 2018, eprint
// 2018/120; PSWW18) fit the statistical security of stash-less cuckoo
// hashing with h = 3 as λ ≈ a·e + b for e = bins/n, with a ≈ 123.5 and
// b ≈ −130 − log2 n (a and |b| slightly smaller below n = 2^12; the fit as
// cryptoTools' CuckooIndex::selectParams implements it). λ = 40 needs
// e = (170 + log2 n)/123.5: 1.48 at n = 2^12, 1.538 at n = 2^20. One
// factor, 1.54, serves every size up to MaxItemsLimit (λ ≥ 40.19 there),
// and a set below minSizing fills a table sized for minSizing, which only
// lowers the failure probability. Insertion failure is therefore an
// error (ErrCuckoo) rather than a retry.
//
// Sanity check, not the security argument: this package's insertion
// (random walk, maxKicks = 1000) placed 4096 elements in 1.20·n bins in
// 20,000 of 20,000 trials and in 1.25·n bins in 40,000 of 40,000, and
// 65,536 elements in 1.22·n and 1.25·n bins in 2,000 of 2,000 and 4,000
// of 4,000, where the fit predicts failure rates of about 2^-6, 2^-12,
// 2^-4.7 and 2^-8.4: the fit is conservative for this insertion.
func binsFor(m int) int {
	if m < minSizing {
		m = minSizing
	}
	return (154*m + 99) / 100
}

// instances is the number of OPRF instances (matrix rows) for nbins bins:
// the bins rounded up to a multiple of 64 for the transposition (the
// rows past nbins hold dummies).
func instances(nbins int) int {
	return (nbins + 63) &^ 63
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
	ErrCuckoo    = errors.New("kkrt: cuckoo insertion failed")
	ErrIndex     = errors.New("kkrt: instance index out of range")
)
