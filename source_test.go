package maskshare

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var srcCols = []Column{{Name: "balance", Type: Decimal, Scale: 2}, {Name: "loans"}}

func TestCSVSource(t *testing.T) {
	in := "\ufeffname,loans,customer,balance\nx,2,alice,10.50\ny,1,bob,-3\n"
	src, err := NewCSVSource(strings.NewReader(in), "customer", srcCols)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := ReadTable(context.Background(), src, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tb.IDs, []string{"alice", "bob"}) || !slices.Equal(tb.Values[0], []int64{1050, -300}) || !slices.Equal(tb.Values[1], []int64{2, 1}) {
		t.Fatalf("read %+v", tb)
	}
}

func TestCSVSourceErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"customer,balance\na,1\n", `no column "loans"`},
		{"id,balance,loans\na,1,1\n", `no identifier column "customer"`},
		{"customer,balance,loans\na,1,1\nb,1.234,1\n", "csv line 3"},
		{"customer,balance,loans\na,,1\n", "empty cell"},
		{"customer,balance,loans\na,1\n", "csv line 2"},
		{"customer,balance,loans\n\xff\xfe,1,1\n", "not UTF-8"},
		{"customer,balance,balance,loans\n", "twice"},
		{"", "header"},
	}
	for _, tc := range cases {
		src, err := NewCSVSource(strings.NewReader(tc.in), "customer", srcCols)
		if err == nil {
			_, err = ReadTable(context.Background(), src, 2)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.in, err, tc.want)
		}
	}
}

// FuzzCSVSource: arbitrary input never panics, and every row read has the
// session's number of values and a UTF-8 identifier.
func FuzzCSVSource(f *testing.F) {
	f.Add("customer,balance,loans\nalice,1.5,2\n")
	f.Add("customer,balance,loans\n\"a,b\",1,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		src, err := NewCSVSource(strings.NewReader(in), "customer", srcCols)
		if err != nil {
			return
		}
		for range 1000 {
			id, vals, err := src.Next()
			if err != nil {
				return
			}
			if len(vals) != 2 || !utf8.ValidString(id) {
				t.Fatalf("row %q %v", id, vals)
			}
		}
	})
}

// A minimal database/sql driver serving fixed rows, so SQLSource is tested
// through the real database/sql machinery.
type fakeDriver struct{ rows [][]driver.Value }
type fakeConn struct{ d *fakeDriver }
type fakeStmt struct{ d *fakeDriver }
type fakeRows struct {
	rows [][]driver.Value
	i    int
}

func (d *fakeDriver) Open(string) (driver.Conn, error)        { return fakeConn{d}, nil }
func (c fakeConn) Prepare(string) (driver.Stmt, error)        { return fakeStmt(c), nil }
func (c fakeConn) Close() error                               { return nil }
func (c fakeConn) Begin() (driver.Tx, error)                  { return nil, errors.New("no tx") }
func (s fakeStmt) Close() error                               { return nil }
func (s fakeStmt) NumInput() int                              { return 0 }
func (s fakeStmt) Exec([]driver.Value) (driver.Result, error) { return nil, errors.New("no exec") }
func (s fakeStmt) Query([]driver.Value) (driver.Rows, error)  { return &fakeRows{rows: s.d.rows}, nil }
func (r *fakeRows) Columns() []string                         { return []string{"id", "balance", "loans"} }
func (r *fakeRows) Close() error                              { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.i == len(r.rows) {
		return io.EOF
	}
	copy(dest, r.rows[r.i])
	r.i++
	return nil
}

func TestSQLSource(t *testing.T) {
	d := &fakeDriver{rows: [][]driver.Value{
		{"alice", []byte("10.50"), int64(2)},
		{[]byte("bob"), int64(7), "3"},
		{"carol", float64(2), int64(1)},
	}}
	db := sql.OpenDB(connector{d})
	defer db.Close()
	rows, err := db.Query("select")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tb, err := ReadTable(context.Background(), NewSQLSource(rows, srcCols), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tb.IDs, []string{"alice", "bob", "carol"}) || !slices.Equal(tb.Values[0], []int64{1050, 700, 200}) || !slices.Equal(tb.Values[1], []int64{2, 3, 1}) {
		t.Fatalf("read %+v", tb)
	}

	for _, bad := range []driver.Value{float64(1.5), nil, "x"} {
		d.rows = [][]driver.Value{{"a", bad, int64(1)}}
		rows, _ := db.Query("select")
		_, err := ReadTable(context.Background(), NewSQLSource(rows, srcCols), 2)
		rows.Close()
		if !errors.Is(err, ErrSchema) {
			t.Errorf("value %#v: error %v, want ErrSchema", bad, err)
		}
	}

	// A NULL identifier names its row, counted from 1 in the result.
	d.rows = [][]driver.Value{{"a", int64(1), int64(1)}, {nil, int64(1), int64(1)}}
	rows, _ = db.Query("select")
	_, err = ReadTable(context.Background(), NewSQLSource(rows, srcCols), 2)
	rows.Close()
	if !errors.Is(err, ErrInvalidID) || !strings.Contains(err.Error(), "sql row 2: NULL identifier") {
		t.Errorf("NULL identifier: error %v", err)
	}
}

type connector struct{ d *fakeDriver }

func (c connector) Connect(context.Context) (driver.Conn, error) { return fakeConn(c), nil }
func (c connector) Driver() driver.Driver                        { return c.d }
