package maskshare

import (
	"encoding"
	"fmt"
	"math"
	"strings"

	"github.com/maskshare/maskshare/internal/wire"
)

// PSIMode selects how the parties find their common records.
type PSIMode uint8

const (
	// Keyed tags every identifier with a PRF under a key the parties agree on
	// and the coordinator never learns; the coordinator intersects the tags.
	// Private unless the coordinator colludes with a party.
	Keyed PSIMode = iota
	// ECDH blinds every identifier with every party's ristretto255 key; no
	// coalition short of all parties can test identifiers offline.
	ECDH
	// OPRF runs a batched oblivious PRF (KKRT16, OT extension on AES)
	// between every two parties and tags each identifier pairwise; like
	// ECDH, no coalition short of all parties can test identifiers it did
	// not put in as inputs, at symmetric-key cost. Threshold must be n.
	OPRF
)

// RevealPolicy selects what the parties learn at the end of a session.
type RevealPolicy uint8

const (
	// PerRecord reveals to each party the aggregates of each of its qualifying
	// records, the column totals and the result size.
	PerRecord RevealPolicy = iota
	// TotalsOnly reveals which of its records qualify, the column totals and
	// the result size; no per-record aggregate.
	TotalsOnly
	// CardinalityOnly reveals only the result size.
	CardinalityOnly
)

// ColumnType is the type of a value column.
type ColumnType uint8

const (
	// Int64 values are signed 64-bit integers.
	Int64 ColumnType = iota
	// Decimal values are fixed-point decimals stored as int64 scaled by
	// 10^Scale: 12.34 with scale 2 is stored as 1234.
	Decimal
)

// MaxScale is the largest decimal scale; 10^18 is the largest power of ten
// in an int64.
const MaxScale = 18

// Column is one value column of the session's tables.
type Column struct {
	Name  string     `json:"name"`
	Type  ColumnType `json:"type"`
	Scale uint8      `json:"scale,omitempty"` // digits after the point, for Decimal columns
}

// Params are a session's parameters. The coordinator and every party must
// be configured with the same Params; the session aborts otherwise.
type Params struct {
	// Parties names the parties; a party's index is its position.
	Parties []string `json:"parties"`
	// Columns are the value columns every party's table has, in order.
	Columns []Column `json:"columns"`
	// Mode is the PSI mode; the default is Keyed.
	Mode PSIMode `json:"mode"`
	// Threshold is k: a record qualifies if at least k parties hold it.
	// 0 means all parties.
	Threshold int `json:"threshold,omitempty"`
	// Reveal is what the parties learn; the default is PerRecord.
	Reveal RevealPolicy `json:"reveal"`
	// MinResultSize is the smallest result that is revealed: with fewer
	// qualifying records the session ends with ErrResultTooSmall and nothing
	// but that fact is revealed.
	MinResultSize int `json:"min_result_size,omitempty"`
	// CoordinatorSeesResult lets the coordinator learn the aggregates. By
	// default the parties hide them with an output mask only they know.
	CoordinatorSeesResult bool `json:"coordinator_sees_result,omitempty"`
	// FoldCase makes identifiers match regardless of letter case.
	FoldCase bool `json:"fold_case,omitempty"`
	// BucketRows, if positive, makes the session bucketed: the parties'
	// tables stay on disk (NewSpooledParty) and the session runs bucket by
	// bucket, with about BucketRows rows of the largest table in each, so
	// that memory does not grow with the tables (docs/PROTOCOL.md,
	// "Bucketed sessions"). 0 runs the session in one piece, in memory.
	BucketRows int `json:"bucket_rows,omitempty"`
}

// Limits of a session, from the wire protocol.
const (
	MaxParties = wire.MaxParties
	MaxColumns = wire.MaxColumns
	MaxRecords = wire.MaxRecords
)

// threshold returns k with the default applied.
func (p *Params) threshold() int {
	if p.Threshold == 0 {
		return len(p.Parties)
	}
	return p.Threshold
}

// Validate checks that the parameters describe a session that can run.
func (p *Params) Validate() error {
	n := len(p.Parties)
	if n < 2 || n > MaxParties {
		return fmt.Errorf("%w: %d parties, need 2 to %d", ErrParams, n, MaxParties)
	}
	seen := make(map[string]bool, n)
	for _, name := range p.Parties {
		if err := checkName(name); err != nil {
			return fmt.Errorf("%w: party name %q: %v", ErrParams, name, err)
		}
		if seen[name] {
			return fmt.Errorf("%w: party %q named twice", ErrParams, name)
		}
		seen[name] = true
	}
	if len(p.Columns) == 0 || len(p.Columns) > MaxColumns {
		return fmt.Errorf("%w: %d columns, need 1 to %d", ErrParams, len(p.Columns), MaxColumns)
	}
	cols := make(map[string]bool, len(p.Columns))
	for _, c := range p.Columns {
		if err := checkName(c.Name); err != nil {
			return fmt.Errorf("%w: column name %q: %v", ErrParams, c.Name, err)
		}
		if cols[c.Name] {
			return fmt.Errorf("%w: column %q named twice", ErrParams, c.Name)
		}
		cols[c.Name] = true
		switch c.Type {
		case Int64:
			if c.Scale != 0 {
				return fmt.Errorf("%w: int64 column %q has a scale", ErrParams, c.Name)
			}
		case Decimal:
			if c.Scale > MaxScale {
				return fmt.Errorf("%w: column %q: scale %d exceeds %d", ErrParams, c.Name, c.Scale, MaxScale)
			}
		default:
			return fmt.Errorf("%w: column %q: unknown type %d", ErrParams, c.Name, c.Type)
		}
	}
	if p.Mode > OPRF {
		return fmt.Errorf("%w: unknown PSI mode %d", ErrParams, p.Mode)
	}
	if k := p.threshold(); k < 2 || k > n {
		return fmt.Errorf("%w: threshold %d, need 2 to %d", ErrParams, p.Threshold, n)
	}
	if p.Mode == OPRF && p.threshold() != n {
		// docs/PROTOCOL.md, "The oprf mode": with k < n, every known way
		// of giving a record's holders a common secret from pairwise
		// tags tells a holder which other parties hold its records.
		return fmt.Errorf("%w: the oprf mode needs threshold %d (all parties), not %d: with pairwise tags, a holder of a record held by fewer than all would learn which other parties hold it", ErrParams, n, p.Threshold)
	}
	if p.Reveal > CardinalityOnly {
		return fmt.Errorf("%w: unknown reveal policy %d", ErrParams, p.Reveal)
	}
	if p.MinResultSize < 0 || p.MinResultSize > math.MaxUint32 {
		return fmt.Errorf("%w: minimum result size %d", ErrParams, p.MinResultSize)
	}
	if p.BucketRows < 0 || p.BucketRows > MaxBucketRows {
		return fmt.Errorf("%w: %d rows per bucket, need 0 (no buckets) to %d", ErrParams, p.BucketRows, MaxBucketRows)
	}
	if p.Mode == OPRF && p.BucketRows > MaxOPRFBucketRows {
		return fmt.Errorf("%w: %d rows per bucket; the oprf mode takes at most %d (a bucket must fit one OPRF run)", ErrParams, p.BucketRows, MaxOPRFBucketRows)
	}
	return nil
}

func checkName(s string) error {
	if s == "" || len(s) > wire.MaxNameLen {
		return fmt.Errorf("length %d, need 1 to %d bytes", len(s), wire.MaxNameLen)
	}
	if strings.ToValidUTF8(s, "") != s {
		return fmt.Errorf("not UTF-8")
	}
	return nil
}

func (p *Params) wire() wire.Params {
	w := wire.Params{
		Mode:            uint8(p.Mode),
		Threshold:       uint16(p.threshold()),
		Reveal:          uint8(p.Reveal),
		MinResult:       uint32(p.MinResultSize),
		CoordinatorSees: p.CoordinatorSeesResult,
		FoldCase:        p.FoldCase,
		Parties:         p.Parties,
		BucketRows:      uint32(p.BucketRows),
	}
	for _, c := range p.Columns {
		w.Columns = append(w.Columns, wire.Column{Name: c.Name, Type: uint8(c.Type), Scale: c.Scale})
	}
	return w
}

// diffParams names the first field in which the coordinator's parameters
// differ from a party's, or returns "" if they agree.
func diffParams(mine, theirs *wire.Params) string {
	switch {
	// The parties first: with the default threshold (all parties) another
	// party list also gives another threshold, and the list is the cause.
	case strings.Join(mine.Parties, "\x00") != strings.Join(theirs.Parties, "\x00"):
		return fmt.Sprintf("parties %q, coordinator has %q", mine.Parties, theirs.Parties)
	case mine.Mode != theirs.Mode:
		return fmt.Sprintf("PSI mode %v, coordinator has %v", PSIMode(mine.Mode), PSIMode(theirs.Mode))
	case mine.Threshold != theirs.Threshold:
		return fmt.Sprintf("threshold %d, coordinator has %d", mine.Threshold, theirs.Threshold)
	case mine.Reveal != theirs.Reveal:
		return fmt.Sprintf("reveal policy %v, coordinator has %v", RevealPolicy(mine.Reveal), RevealPolicy(theirs.Reveal))
	case mine.MinResult != theirs.MinResult:
		return fmt.Sprintf("minimum result size %d, coordinator has %d", mine.MinResult, theirs.MinResult)
	case mine.CoordinatorSees != theirs.CoordinatorSees:
		return fmt.Sprintf("coordinator-sees-result %v, coordinator has %v", mine.CoordinatorSees, theirs.CoordinatorSees)
	case mine.FoldCase != theirs.FoldCase:
		return fmt.Sprintf("case folding %v, coordinator has %v", mine.FoldCase, theirs.FoldCase)
	case mine.BucketRows != theirs.BucketRows:
		return fmt.Sprintf("%d rows per bucket, coordinator has %d", mine.BucketRows, theirs.BucketRows)
	case len(mine.Columns) != len(theirs.Columns):
		return fmt.Sprintf("%d columns, coordinator has %d", len(mine.Columns), len(theirs.Columns))
	}
	for i := range mine.Columns {
		if mine.Columns[i] != theirs.Columns[i] {
			return fmt.Sprintf("column %d is %+v, coordinator has %+v", i, mine.Columns[i], theirs.Columns[i])
		}
	}
	return ""
}

var modeNames = []string{"keyed", "ecdh", "oprf"}
var revealNames = []string{"per-record", "totals", "cardinality"}
var typeNames = []string{"int64", "decimal"}

func (m PSIMode) String() string               { return enumString(modeNames, int(m)) }
func (r RevealPolicy) String() string          { return enumString(revealNames, int(r)) }
func (t ColumnType) String() string            { return enumString(typeNames, int(t)) }
func (m PSIMode) MarshalText() ([]byte, error) { return enumMarshal(modeNames, int(m)) }
func (r RevealPolicy) MarshalText() ([]byte, error) {
	return enumMarshal(revealNames, int(r))
}
func (t ColumnType) MarshalText() ([]byte, error) { return enumMarshal(typeNames, int(t)) }
func (m *PSIMode) UnmarshalText(b []byte) error {
	return enumUnmarshal(modeNames, b, (*uint8)(m), "PSI mode")
}
func (r *RevealPolicy) UnmarshalText(b []byte) error {
	return enumUnmarshal(revealNames, b, (*uint8)(r), "reveal policy")
}
func (t *ColumnType) UnmarshalText(b []byte) error {
	return enumUnmarshal(typeNames, b, (*uint8)(t), "column type")
}

var (
	_ encoding.TextMarshaler   = PSIMode(0)
	_ encoding.TextUnmarshaler = (*RevealPolicy)(nil)
)

func enumString(names []string, v int) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("unknown(%d)", v)
}

func enumMarshal(names []string, v int) ([]byte, error) {
	if v >= 0 && v < len(names) {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("maskshare: unknown value %d", v)
}

func enumUnmarshal(names []string, b []byte, dst *uint8, what string) error {
	for i, n := range names {
		if string(b) == n {
			*dst = uint8(i)
			return nil
		}
	}
	return fmt.Errorf("maskshare: unknown %s %q (want one of %s)", what, b, strings.Join(names, ", "))
}
