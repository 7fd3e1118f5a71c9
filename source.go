package maskshare

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Source yields a party's rows one at a time, so that a table can be read
// from a file, a database or any iterator straight into the session's
// columnar Table, once.
type Source interface {
	// Next returns the next row's identifier and values, one per session
	// column (decimals scaled), or io.EOF after the last row. The returned
	// slice may be reused by the next call.
	Next() (id string, values []int64, err error)
}

// ReadTable reads every row of src into a Table with cols columns. It stops
// early if ctx ends.
func ReadTable(ctx context.Context, src Source, cols int) (*Table, error) {
	t := NewTable(cols)
	for row := 0; ; row++ {
		if row%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		id, vals, err := src.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		if err := t.AddRow(id, vals...); err != nil {
			return nil, err
		}
	}
}

// CSVSource reads rows from CSV with a header line. The header must name
// the identifier column and every session column; other columns are
// ignored. Decimal columns are parsed with ParseDecimal at their scale,
// int64 columns as base-10 integers; an empty cell is an error, not zero.
type CSVSource struct {
	r      *csv.Reader
	line   int
	idCol  int
	valCol []int
	cols   []Column
	vals   []int64
}

// NewCSVSource reads the header of r and returns a source for the session
// columns cols, taking identifiers from the column named idColumn.
func NewCSVSource(r io.Reader, idColumn string, cols []Column) (*CSVSource, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("maskshare: csv header: %w", err)
	}
	s := &CSVSource{r: cr, line: 1, idCol: -1, cols: cols, vals: make([]int64, len(cols))}
	index := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // spreadsheets add a BOM
		if _, dup := index[h]; dup {
			return nil, fmt.Errorf("maskshare: csv header names column %q twice", h)
		}
		index[h] = i
	}
	var ok bool
	if s.idCol, ok = index[idColumn]; !ok {
		return nil, fmt.Errorf("%w: csv header has no identifier column %q (it has %q)", ErrSchema, idColumn, header)
	}
	for _, c := range cols {
		i, ok := index[c.Name]
		if !ok {
			return nil, fmt.Errorf("%w: csv header has no column %q (it has %q)", ErrSchema, c.Name, header)
		}
		s.valCol = append(s.valCol, i)
	}
	return s, nil
}

// Next implements Source. Errors name the CSV line (1 is the header).
func (s *CSVSource) Next() (string, []int64, error) {
	rec, err := s.r.Read()
	if err == io.EOF {
		return "", nil, io.EOF
	}
	s.line++
	if err != nil {
		return "", nil, fmt.Errorf("maskshare: csv line %d: %w", s.line, err)
	}
	id := rec[s.idCol]
	if !utf8.ValidString(id) {
		return "", nil, fmt.Errorf("%w: csv line %d: identifier is not UTF-8", ErrInvalidID, s.line)
	}
	for i, c := range s.cols {
		v, err := parseCell(strings.TrimSpace(rec[s.valCol[i]]), c)
		if err != nil {
			return "", nil, fmt.Errorf("%w: csv line %d, column %q: %v", ErrSchema, s.line, c.Name, err)
		}
		s.vals[i] = v
	}
	return strings.Clone(id), s.vals, nil
}

func parseCell(cell string, c Column) (int64, error) {
	if cell == "" {
		return 0, errors.New("empty cell")
	}
	return ParseDecimal(cell, c.Scale) // int64 columns have scale 0
}

// SQLSource reads rows from a query whose first column is the identifier and
// whose next columns are the session's columns, in order. Integer SQL values
// are taken as whole units (scaled for decimal columns); text and NUMERIC
// values are parsed with ParseDecimal; floating-point values are refused
// unless they are whole numbers, since binary fractions are not exact.
type SQLSource struct {
	rows *sql.Rows
	cols []Column
	dest []any
	raw  []any
	vals []int64
	row  int
}

// NewSQLSource returns a source over rows; it does not close them.
func NewSQLSource(rows *sql.Rows, cols []Column) *SQLSource {
	s := &SQLSource{rows: rows, cols: cols, raw: make([]any, len(cols)+1), vals: make([]int64, len(cols))}
	s.dest = make([]any, len(s.raw))
	for i := range s.raw {
		s.dest[i] = &s.raw[i]
	}
	return s
}

// Next implements Source. Errors name the row by its ordinal in the
// query's result, counting from 1.
func (s *SQLSource) Next() (string, []int64, error) {
	if !s.rows.Next() {
		if err := s.rows.Err(); err != nil {
			return "", nil, fmt.Errorf("maskshare: sql: %w", err)
		}
		return "", nil, io.EOF
	}
	s.row++
	if err := s.rows.Scan(s.dest...); err != nil {
		return "", nil, fmt.Errorf("maskshare: sql row %d: %w", s.row, err)
	}
	var id string
	switch v := s.raw[0].(type) {
	case string:
		id = v
	case []byte:
		id = string(v)
	case int64:
		id = fmt.Sprint(v)
	case nil:
		return "", nil, fmt.Errorf("%w: sql row %d: NULL identifier", ErrInvalidID, s.row)
	default:
		return "", nil, fmt.Errorf("%w: sql row %d: identifier of type %T", ErrInvalidID, s.row, v)
	}
	for i, c := range s.cols {
		v, err := sqlValue(s.raw[i+1], c)
		if err != nil {
			return "", nil, fmt.Errorf("%w: sql row %d, column %q: %v", ErrSchema, s.row, c.Name, err)
		}
		s.vals[i] = v
	}
	return id, s.vals, nil
}

func sqlValue(raw any, c Column) (int64, error) {
	switch v := raw.(type) {
	case int64:
		return scaleInt(v, c.Scale)
	case []byte:
		return ParseDecimal(string(v), c.Scale)
	case string:
		return ParseDecimal(v, c.Scale)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) >= 1<<53 {
			return 0, fmt.Errorf("floating-point value %v is not exact; select it as text or NUMERIC", v)
		}
		return scaleInt(int64(v), c.Scale)
	case nil:
		return 0, errors.New("NULL value")
	default:
		return 0, fmt.Errorf("unsupported type %T", v)
	}
}

func scaleInt(v int64, scale uint8) (int64, error) {
	for range scale {
		if v > math.MaxInt64/10 || v < math.MinInt64/10 {
			return 0, fmt.Errorf("%d does not fit at scale %d", v, scale)
		}
		v *= 10
	}
	return v, nil
}
