package maskshare

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/maskshare/maskshare/psi"
)

// Table is one party's input: an identifier per row and, for each value
// column of the session, one int64 per row (decimals scaled, see Decimal).
// Values[c][r] is column c of row r.
type Table struct {
	IDs    []string
	Values [][]int64
}

// NewTable returns an empty table with cols value columns.
func NewTable(cols int) *Table {
	return &Table{Values: make([][]int64, cols)}
}

// AddRow appends a row. It fails if the number of values is not the
// table's number of columns.
func (t *Table) AddRow(id string, values ...int64) error {
	if len(values) != len(t.Values) {
		return &InputError{Row: len(t.IDs), Other: -1, Err: ErrSchema,
			Detail: fmt.Sprintf("%d values, the table has %d columns", len(values), len(t.Values))}
	}
	t.IDs = append(t.IDs, id)
	for c, v := range values {
		t.Values[c] = append(t.Values[c], v)
	}
	return nil
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.IDs) }

// prepared is a party's validated input: normalised identifiers, in row order.
type prepared struct {
	ids []string // normalised
}

// prepare validates t for a session with params p and normalises its
// identifiers. Everything is checked before anything is sent:
// the shape of the table, each identifier, duplicates after normalisation,
// and that no n-party sum can overflow an int64.
func prepare(t *Table, p *Params) (*prepared, error) {
	if t == nil || len(t.IDs) == 0 {
		return nil, &InputError{Row: -1, Other: -1, Err: ErrEmptyInput, Detail: "the table has no rows"}
	}
	if len(t.IDs) > MaxRecords {
		return nil, &InputError{Row: -1, Other: -1, Err: ErrSchema, Detail: fmt.Sprintf("%d rows exceed the limit of %d", len(t.IDs), MaxRecords)}
	}
	if len(t.Values) != len(p.Columns) {
		return nil, &InputError{Row: -1, Other: -1, Err: ErrSchema,
			Detail: fmt.Sprintf("the table has %d value columns, the session has %d", len(t.Values), len(p.Columns))}
	}
	for c, col := range t.Values {
		if len(col) != len(t.IDs) {
			return nil, &InputError{Row: -1, Other: -1, Column: p.Columns[c].Name, Err: ErrSchema,
				Detail: fmt.Sprintf("%d values for %d rows", len(col), len(t.IDs))}
		}
	}
	if err := checkOverflow(t, p); err != nil {
		return nil, err
	}
	ids := make([]string, len(t.IDs))
	for r, id := range t.IDs {
		norm, err := psi.Normalize(id, p.FoldCase)
		if err != nil {
			return nil, &InputError{Row: r, Other: -1, Err: ErrInvalidID, Detail: err.Error()}
		}
		ids[r] = norm
	}
	if r, prev := firstDuplicate(ids); r >= 0 {
		return nil, &InputError{Row: r, Other: prev, Err: ErrDuplicateID}
	}
	return &prepared{ids: ids}, nil
}

// firstDuplicate returns the first row whose identifier occurs in an
// earlier row, and the first row holding it; or -1, -1. ids has at most
// MaxRecords rows, fewer than 2³².
//
// Rather than a map of a million strings, it sorts 64-bit keys: the high
// half of a hash of the identifier, then the row. Equal identifiers end up
// in one run of equal hashes, where the strings are compared; runs of more
// than one identifier are rare.
func firstDuplicate(ids []string) (row, prev int) {
	seed := maphash.MakeSeed()
	keys := make([]uint64, len(ids))
	for r, id := range ids {
		keys[r] = maphash.String(seed, id)&^math.MaxUint32 | uint64(r)
	}
	slices.Sort(keys)
	row, prev = -1, -1
	for g := 0; g < len(keys); {
		h := g + 1
		for h < len(keys) && keys[h]>>32 == keys[g]>>32 {
			h++
		}
		// Rows ascend within a run: the first earlier equal row is the
		// first occurrence.
		for j := g + 1; j < h; j++ {
			rj := int(uint32(keys[j]))
			for i := g; i < j; i++ {
				if ri := int(uint32(keys[i])); ids[ri] == ids[rj] {
					if row < 0 || rj < row {
						row, prev = rj, ri
					}
					break
				}
			}
		}
		g = h
	}
	return row, prev
}

// checkOverflow refuses a table whose values could make an aggregate
// overflow. Each party knows only its own values, so it bounds its share:
// if the absolute values of each column sum to at most (2^63 − 64)/n at
// every party, then every per-record aggregate and every column total over
// all n parties fits in an int64, and the ring arithmetic gives the exact
// result. The 64 spare keep every aggregate more than 59 from the int64
// limits, which the value check's soundness needs (mask.CheckPrime).
func checkOverflow(t *Table, p *Params) error {
	n := uint64(len(p.Parties))
	limit := uint64(aggregateLimit) / n
	for c, col := range t.Values {
		var sum uint64
		for r, v := range col {
			a := uint64(v)
			if v < 0 {
				a = -a // two's complement: |MinInt64| is 2^63, over any limit
			}
			var carry uint64
			sum, carry = bits.Add64(sum, a, 0)
			if carry != 0 || sum > limit {
				return &InputError{Row: r, Other: -1, Column: p.Columns[c].Name, Err: ErrOverflow,
					Detail: fmt.Sprintf("the absolute values of a column may add up to at most %d with %d parties", limit, n)}
			}
		}
	}
	return nil
}

// aggregateLimit bounds the absolute value of every aggregate (§8).
const aggregateLimit = math.MaxInt64 - 63

// ErrDecimal is returned for a decimal string that cannot be parsed.
var ErrDecimal = errors.New("maskshare: invalid decimal")

// ParseDecimal parses a decimal such as "-1234.5" into an int64 scaled by
// 10^scale (-123450 for scale 2). It refuses more fractional digits than the
// scale (no silent rounding) and values that do not fit.
func ParseDecimal(s string, scale uint8) (int64, error) {
	if scale > MaxScale {
		return 0, fmt.Errorf("%w: scale %d exceeds %d", ErrDecimal, scale, MaxScale)
	}
	orig := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("%w: %q", ErrDecimal, orig)
	}
	if len(frac) > int(scale) {
		return 0, fmt.Errorf("%w: %q has more than %d digits after the point", ErrDecimal, orig, scale)
	}
	digits := intPart + frac + strings.Repeat("0", int(scale)-len(frac))
	for _, ch := range digits {
		if ch < '0' || ch > '9' {
			return 0, fmt.Errorf("%w: %q", ErrDecimal, orig)
		}
	}
	u, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || u > math.MaxInt64+1 || (!neg && u > math.MaxInt64) {
		return 0, fmt.Errorf("%w: %q does not fit in 64 bits at scale %d", ErrDecimal, orig, scale)
	}
	if neg {
		return int64(-u), nil
	}
	return int64(u), nil
}

// FormatDecimal formats a value scaled by 10^scale, the inverse of
// ParseDecimal.
func FormatDecimal(v int64, scale uint8) string {
	u := uint64(v)
	sign := ""
	if v < 0 {
		u = -u
		sign = "-"
	}
	s := strconv.FormatUint(u, 10)
	if scale == 0 {
		return sign + s
	}
	if len(s) <= int(scale) {
		s = strings.Repeat("0", int(scale)-len(s)+1) + s
	}
	return sign + s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
}
