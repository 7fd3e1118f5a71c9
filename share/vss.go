// # Verifiable secret sharing
//
// Shamir t-of-N sharing over the scalar field of edwards25519 (integers
// modulo the prime group order l), with Feldman or Pedersen commitments, as
// used for key slicing (SPEC §4.1; docs/CUSTODY.md gives the formats):
//
//   - Shamir, "How to share a secret", CACM 1979: share i is f(i) for a random
//     polynomial f of degree t−1 with f(0) the secret.
//   - Feldman, "A practical scheme for non-interactive verifiable secret
//     sharing", FOCS 1987: C_j = a_j·B. Binding; reveals a_0·B, which for a
//     signing scalar is its public key anyway.
//   - Pedersen, "Non-interactive and information-theoretic secure verifiable
//     secret sharing", CRYPTO 1991: C_j = a_j·B + b_j·H with a second random
//     polynomial g. Binding (unless one knows log_B H) and perfectly hiding.
//   - Herzberg, Jarecki, Krawczyk, Yung, "Proactive secret sharing", CRYPTO
//     1995: refresh by adding sharings of zero ([DealZero], [ApplyRefresh]).
//   - Laing and Stinson, "A survey and refinement of repairable threshold
//     schemes", eprint 2017/1155: repair of a lost share by t helpers
//     ([RepairSplit], [RepairCombine], [RepairFinish]), as in the
//     "repairable" module of ZcashFoundation/frost.
//
// Share indexes are 1..[MaxShares]; a holder may hold several (weights), so
// every function works on lists of indexes. Shares and commitments carry an
// epoch; a share of another epoch than the commitments is refused
// ([ErrEpoch]).
//
// Constant time. Values that depend on a secret — polynomial coefficients,
// share values and blinds, Lagrange combinations of shares, repair pieces,
// refreshed shares — are only handled by [edwards25519.Scalar] arithmetic and
// by the constant-time ScalarBaseMult and MultiScalarMult, and are compared
// with Scalar.Equal (constant time). Not constant time, because what they
// handle is public: indexes, epochs, thresholds and Lagrange coefficients
// (which depend on indexes only); the verification equations, which evaluate
// the commitments at the index with VarTimeMultiScalarMult over public points
// and public scalars (index powers, and for a batch the random weights times
// index powers), while the share side v·B + b·H is computed in constant time;
// whether a share verifies; and decoding (lengths, canonical encodings).
package share

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"filippo.io/edwards25519"
)

// Scheme is the commitment scheme of a verifiable sharing.
type Scheme uint8

const (
	// Feldman commits C_j = a_j·B: for signing scalars, whose public key
	// a_0·B (= C_0) is public anyway.
	Feldman Scheme = 1
	// Pedersen commits C_j = a_j·B + b_j·H: hiding, for arbitrary secrets.
	Pedersen Scheme = 2
)

func (s Scheme) String() string {
	switch s {
	case Feldman:
		return "Feldman"
	case Pedersen:
		return "Pedersen"
	}
	return fmt.Sprintf("Scheme(%d)", uint8(s))
}

func (s Scheme) valid() bool { return s == Feldman || s == Pedersen }

const (
	// MaxShares is the most shares one sharing has, and the highest index
	// (indexes are 1..MaxShares). A key sliced over a few hundred nodes,
	// some holding several slices, needs a few hundred; 4096 keeps the
	// worst-case work of a deal or a batch verification (N·t scalar
	// multiplications) near 4 million, well under a second.
	MaxShares = 4096
	// MaxThreshold is the highest threshold t. The commitments (t points)
	// then encode in at most 32 KiB, far below transport.MaxFrameSize, and
	// Lagrange interpolation (t² scalar multiplications) stays near 1 million.
	MaxThreshold = 1024
)

var (
	// ErrBadShare is wrapped by errors about shares that do not match the
	// commitments (see [BadSharesError]).
	ErrBadShare = errors.New("share: share does not match the commitments")
	// ErrEpoch is wrapped by errors about shares of another epoch than the
	// commitments (see [BadSharesError]).
	ErrEpoch = errors.New("share: share is of another epoch than the commitments")
	// ErrTooFewShares is wrapped by [TooFewSharesError].
	ErrTooFewShares = errors.New("share: too few valid shares")
	// ErrParams is wrapped by errors about invalid arguments: threshold,
	// indexes, epochs, commitments that are not well formed.
	ErrParams = errors.New("share: invalid parameters")
	// ErrFormat is wrapped by decoding errors.
	ErrFormat = errors.New("share: malformed encoding")
)

// BadSharesError names shares that were refused.
type BadSharesError struct {
	// Indexes of shares that do not match the commitments: tampered value,
	// blind or index, wrong scheme, index out of range, or one of several
	// conflicting shares of the same index.
	Indexes []uint32
	// Stale are indexes of shares of another epoch than the commitments.
	Stale []uint32
	// Epoch is the epoch of the commitments.
	Epoch uint32
}

func (e *BadSharesError) Error() string {
	var parts []string
	if len(e.Indexes) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s %s not match the commitments", plural(len(e.Indexes), "share"), formatIndexes(e.Indexes), verb(len(e.Indexes), "do", "does")))
	}
	if len(e.Stale) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s %s of another epoch than the commitments (epoch %d)", plural(len(e.Stale), "share"), formatIndexes(e.Stale), verb(len(e.Stale), "are", "is"), e.Epoch))
	}
	return "share: " + strings.Join(parts, "; ")
}

// Unwrap returns [ErrBadShare] and/or [ErrEpoch].
func (e *BadSharesError) Unwrap() []error {
	var errs []error
	if len(e.Indexes) > 0 {
		errs = append(errs, ErrBadShare)
	}
	if len(e.Stale) > 0 {
		errs = append(errs, ErrEpoch)
	}
	return errs
}

func (e *BadSharesError) empty() bool { return len(e.Indexes) == 0 && len(e.Stale) == 0 }

// sorted sorts and deduplicates the lists and returns e, or nil if empty.
func (e *BadSharesError) sorted() *BadSharesError {
	if e.empty() {
		return nil
	}
	slices.Sort(e.Indexes)
	e.Indexes = slices.Compact(e.Indexes)
	slices.Sort(e.Stale)
	e.Stale = slices.Compact(e.Stale)
	return e
}

// TooFewSharesError reports a recovery with fewer than t valid shares.
type TooFewSharesError struct {
	Valid, Need int
	// Bad names the shares refused, or is nil.
	Bad *BadSharesError
}

func (e *TooFewSharesError) Error() string {
	s := fmt.Sprintf("share: %s of the %d needed", plural(e.Valid, "valid share"), e.Need)
	if e.Bad != nil {
		s += " (" + strings.TrimPrefix(e.Bad.Error(), "share: ") + ")"
	}
	return s
}

// Unwrap returns [ErrTooFewShares] and, if shares were refused, Bad.
func (e *TooFewSharesError) Unwrap() []error {
	if e.Bad != nil {
		return []error{ErrTooFewShares, e.Bad}
	}
	return []error{ErrTooFewShares}
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

func verb(n int, many, one string) string {
	if n == 1 {
		return one
	}
	return many
}

func formatIndexes(xs []uint32) string {
	const show = 16
	var b strings.Builder
	b.WriteString("(index")
	if len(xs) > 1 {
		b.WriteString("es")
	}
	for i, x := range xs {
		if i == show {
			fmt.Fprintf(&b, ", … %d more", len(xs)-show)
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %d", x)
	}
	b.WriteString(")")
	return b.String()
}

// Share is one share of a verifiable sharing: Value = f(Index) and, for
// Pedersen, Blind = g(Index). Value and Blind are secret.
type Share struct {
	Scheme Scheme
	Index  uint32
	Epoch  uint32
	Value  edwards25519.Scalar
	Blind  edwards25519.Scalar // Pedersen only; zero for Feldman
}

// Commitments are the public commitments to the coefficients of a sharing's
// polynomials: Points[j] = C_j, len(Points) = t.
//
// Commitments from [Deal], [DealZero], [RefreshCommitments] and
// UnmarshalBinary are valid; commitments assembled by hand should be checked
// with [Commitments.Validate].
type Commitments struct {
	Scheme Scheme
	Epoch  uint32
	Points []*edwards25519.Point
}

// pedersenHDomain is hashed to derive H; see deriveH.
const pedersenHDomain = "maskshare/share v1 Pedersen generator H"

// generatorH is the second generator H of Pedersen commitments.
var generatorH, generatorHCounter = deriveH()

// deriveH derives H nothing-up-my-sleeve, by try-and-increment: for
// counter = 0, 1, …, the first 32 bytes of SHA-512(domain ‖ counter as 4
// bytes big-endian) are decoded as a point (edwards25519 SetBytes); the
// first that decodes, times the cofactor 8 (to land in the prime-order
// subgroup) and not the identity, is H. Nobody knows log_B H: it would take
// a discrete logarithm of a hash output.
func deriveH() (*edwards25519.Point, uint32) {
	identity := edwards25519.NewIdentityPoint()
	for ctr := uint32(0); ; ctr++ {
		h := sha512.New()
		h.Write([]byte(pedersenHDomain))
		h.Write(binary.BigEndian.AppendUint32(nil, ctr))
		sum := h.Sum(nil)
		p, err := new(edwards25519.Point).SetBytes(sum[:32])
		if err != nil {
			continue
		}
		p.MultByCofactor(p)
		if p.Equal(identity) == 1 {
			continue
		}
		return p, ctr
	}
}

// GeneratorH returns a copy of H, the second generator of Pedersen
// commitments.
func GeneratorH() *edwards25519.Point { return new(edwards25519.Point).Set(generatorH) }

// randomScalar returns a uniform scalar from crypto/rand.
func randomScalar() *edwards25519.Scalar {
	var b [64]byte
	rand.Read(b[:]) // never fails (it crashes the program if it cannot read)
	s, err := edwards25519.NewScalar().SetUniformBytes(b[:])
	clear(b[:])
	if err != nil {
		panic("share: " + err.Error()) // 64 bytes always work
	}
	return s
}

// indexScalar returns x as a scalar.
func indexScalar(x uint32) *edwards25519.Scalar {
	var b [32]byte
	binary.LittleEndian.PutUint32(b[:], x)
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic("share: " + err.Error()) // < 2^32 is canonical
	}
	return s
}

func validIndex(x uint32) bool { return x >= 1 && x <= MaxShares }

// checkIndexes checks that xs are distinct valid indexes, at least min of
// them and at most MaxShares.
func checkIndexes(xs []uint32, min int) error {
	if len(xs) < min || len(xs) > MaxShares {
		return fmt.Errorf("%w: %d indexes, want %d..%d", ErrParams, len(xs), min, MaxShares)
	}
	seen := make(map[uint32]bool, len(xs))
	for _, x := range xs {
		if !validIndex(x) {
			return fmt.Errorf("%w: index %d out of 1..%d", ErrParams, x, MaxShares)
		}
		if seen[x] {
			return fmt.Errorf("%w: index %d repeated", ErrParams, x)
		}
		seen[x] = true
	}
	return nil
}

// String describes s without its secret value and blind, so that logging
// a share does not leak it.
func (s Share) String() string {
	return fmt.Sprintf("share.Share{%v, index %d, epoch %d}", s.Scheme, s.Index, s.Epoch)
}

// GoString is String, so that %#v does not print the secret either.
func (s Share) GoString() string { return s.String() }
