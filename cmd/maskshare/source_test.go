package main

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

// createTable makes the customers table the tests read, in the demo's
// columns and with an extra one, and fills it with tb in one transaction.
// Balances are text: SQLite would turn a DECIMAL "10.50" into a binary
// floating-point 10.5, which the source refuses as inexact.
func createTable(t *testing.T, db *sql.DB, balanceType string, tb *maskshare.Table) {
	t.Helper()
	if _, err := db.Exec(`CREATE TABLE customers (customer TEXT, branch TEXT, balance ` + balanceType + `, loans INTEGER, overdue BIGINT)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO customers VALUES ($1, 'HQ', $2, $3, $4)`)
	if err != nil {
		t.Fatal(err)
	}
	for r, id := range tb.IDs {
		if _, err := ins.Exec(id, maskshare.FormatDecimal(tb.Values[0][r], 2), tb.Values[1][r], tb.Values[2][r]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// sqliteFile makes a SQLite database at path holding tb.
func sqliteFile(t *testing.T, path string, tb *maskshare.Table) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	createTable(t, db, "TEXT", tb)
}

const sourceQuery = `SELECT customer, balance, loans, overdue FROM customers`

// sameTable fails unless got holds want's rows in want's order.
func sameTable(t *testing.T, got, want *maskshare.Table) {
	t.Helper()
	if !slices.Equal(got.IDs, want.IDs) {
		t.Fatalf("identifiers differ: got %d rows, want %d", got.Len(), want.Len())
	}
	for c := range want.Values {
		if !slices.Equal(got.Values[c], want.Values[c]) {
			t.Fatalf("column %d differs", c)
		}
	}
}

// TestSQLiteSourceSession: a party reads its table from a real SQLite file
// by the query in its configuration, in a session of processes, and its
// result (and the CSV parties') equals the plaintext join of the same
// data; --out naming the database file is refused before anything runs.
func TestSQLiteSourceSession(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 2)
	tables := demo.Generate(21, 3, 1500, 0.4, 3)
	s.addSession(t, "db", params, tables)
	sqliteFile(t, filepath.Join(s.dir, "bank-a.db"), tables[0])
	os.Remove(filepath.Join(s.dir, "db-bank-a.csv")) // the database is bank-a's only copy
	s.editParty(t, "db", "bank-a", func(cfg *partyConfig) {
		cfg.IDColumn = ""
		cfg.Source = &sourceConfig{Driver: "sqlite", DSN: "bank-a.db", Query: sourceQuery}
	})

	out := runFail(t, s.dir, "party", "--config", "db-bank-a.json", "--out", "bank-a.db")
	if !strings.Contains(out, "is the source's SQLite database") {
		t.Fatalf("--out the database file:\n%s", out)
	}

	coord := s.startCoordinator(t, "--runs", "1")
	parties := []*proc{
		start(t, s.dir, "party", "--config", "db-bank-a.json", "--out", "db-bank-a-result.csv"),
		s.startParty(t, "db", "bank-b"), s.startParty(t, "db", "bank-c"),
	}
	for i, p := range parties {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", s.banks[i], err, p.stderr)
		}
	}
	for i, bank := range s.banks {
		checkOutput(t, filepath.Join(s.dir, "db-"+bank+"-result.csv"), params, tables, i)
	}
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
}

// TestSourceConfigErrors: the table comes from exactly one of --data and a
// source, and a source's fields are checked before anything is read or
// dialled, each error naming the field.
func TestSourceConfigErrors(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "c", params, demo.Generate(5, 3, 20, 0.5, 3))
	sqliteFile(t, filepath.Join(s.dir, "a.db"), demo.Generate(5, 1, 20, 0.5, 3)[0])
	good := sourceConfig{Driver: "sqlite", DSN: "a.db", Query: sourceQuery}
	t.Setenv("MASKSHARE_TEST_EMPTY", "")
	cases := []struct {
		name string
		edit func(*partyConfig)
		data bool
		want string
	}{
		{"both", func(c *partyConfig) { c.IDColumn, c.Source = "", &good }, true, "both --data c-bank-a.csv and the source"},
		{"neither", func(*partyConfig) {}, false, "no table: give --data CSV, or a source"},
		{"id_column", func(c *partyConfig) { c.Source = &good }, false, "id_column: names a CSV column"},
		{"driver", func(c *partyConfig) {
			c.IDColumn, c.Source = "", &sourceConfig{Driver: "mysql", DSN: "x", Query: "SELECT 1"}
		}, false, `source.driver: "mysql": want postgres or sqlite`},
		{"query", func(c *partyConfig) { c.IDColumn, c.Source = "", &sourceConfig{Driver: "sqlite", DSN: "a.db"} }, false, "source.query: required"},
		{"no dsn", func(c *partyConfig) { c.IDColumn, c.Source = "", &sourceConfig{Driver: "sqlite", Query: "SELECT 1"} }, false, "one is required"},
		{"two dsns", func(c *partyConfig) {
			c.IDColumn, c.Source = "", &sourceConfig{Driver: "postgres", DSN: "host=x", DSNEnv: "PG", Query: "SELECT 1"}
		}, false, "give one, not both"},
		{"empty env", func(c *partyConfig) {
			c.IDColumn, c.Source = "", &sourceConfig{Driver: "postgres", DSNEnv: "MASKSHARE_TEST_EMPTY", Query: "SELECT 1"}
		}, false, "MASKSHARE_TEST_EMPTY is not set or empty"},
		{"missing file", func(c *partyConfig) {
			c.IDColumn, c.Source = "", &sourceConfig{Driver: "sqlite", DSN: "nope.db", Query: "SELECT 1"}
		}, false, "nope.db: no such file"},
		{"memory", func(c *partyConfig) {
			c.IDColumn, c.Source = "", &sourceConfig{Driver: "sqlite", DSN: ":memory:", Query: "SELECT 1"}
		}, false, "in-memory"},
		{"directory", func(c *partyConfig) {
			c.IDColumn, c.Source = "", &sourceConfig{Driver: "sqlite", DSN: "file:.", Query: "SELECT 1"}
		}, false, "not a regular file"},
	}
	for _, tc := range cases {
		s.addSession(t, "c", params, demo.Generate(5, 3, 20, 0.5, 3))
		s.editParty(t, "c", "bank-a", tc.edit)
		args := []string{"party", "--config", "c-bank-a.json"}
		if tc.data {
			args = append(args, "--data", "c-bank-a.csv")
		}
		start := time.Now()
		out := runFail(t, s.dir, args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: output %q, want it to mention %q", tc.name, out, tc.want)
		}
		// Refused at once, not after trying the coordinator.
		if d := time.Since(start); d > declineTimeout/2 {
			t.Errorf("%s: took %v", tc.name, d)
		}
	}
	// No database file was made by the refused configurations.
	if _, err := os.Stat(filepath.Join(s.dir, "nope.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nope.db: %v", err)
	}
}

// freePort returns a TCP port on the loopback interface that nothing
// listens on (for now).
func freePort(t *testing.T) string {
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// sourceFor checks a source configuration as loadParty would, for a
// configuration file in dir.
func sourceFor(t *testing.T, dir string, sc sourceConfig) *dbSource {
	t.Helper()
	src, err := checker{filepath.Join(dir, "party.json")}.source(&sc)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestSQLiteSourceErrors: queries whose result does not fit the session
// fail with an error naming the column, or the row (counted from 1 in the
// query's result) and column; the file is opened read-only.
func TestSQLiteSourceErrors(t *testing.T) {
	dir := t.TempDir()
	tb := maskshare.NewTable(3)
	tb.AddRow("alice", 1050, 2, 0)
	tb.AddRow("bob", -300, 1, 1)
	tb.AddRow("carol", 7, 0, 0)
	path := filepath.Join(dir, "bank.db")
	sqliteFile(t, path, tb)
	cols := demo.Params(3, maskshare.Keyed, 0).Columns
	ctx := context.Background()

	got, err := readSource(ctx, sourceFor(t, dir, sourceConfig{Driver: "sqlite", DSN: "file:bank.db?_pragma=busy_timeout(1000)", Query: sourceQuery}), cols)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, tb)
	// A REAL column selected as text at the session's scale, as the README
	// suggests, reads exactly.
	got, err = readSource(ctx, sourceFor(t, dir, sourceConfig{Driver: "sqlite", DSN: "bank.db",
		Query: `SELECT customer, printf('%.2f', CAST(balance AS REAL)), loans, overdue FROM customers`}), cols)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, tb)

	cases := []struct{ query, want string }{
		{`SELECT customer, balance, loans FROM customers`, "returns 3 columns (customer, balance, loans); want 4: the identifier, balance, loans, overdue"},
		{`SELECT customer, balance, loans, overdue, branch FROM customers`, "returns 5 columns"},
		{`SELECT customer, balance, CASE customer WHEN 'bob' THEN NULL ELSE loans END, overdue FROM customers`, `sql row 2, column "loans": NULL value`},
		{`SELECT CASE customer WHEN 'carol' THEN NULL ELSE customer END, balance, loans, overdue FROM customers`, "sql row 3: NULL identifier"},
		{`SELECT customer, branch, loans, overdue FROM customers`, `sql row 1, column "balance"`},
		{`SELECT customer, balance, loans * 1.5, overdue FROM customers`, `sql row 2, column "loans": floating-point value 1.5 is not exact`},
		{`SELECT customer, balance, loans, overdue FROM nosuch`, "no such table: nosuch"},
		{`DELETE FROM customers RETURNING customer, balance, loans, overdue`, "readonly"},
	}
	for _, tc := range cases {
		_, err := readSource(ctx, sourceFor(t, dir, sourceConfig{Driver: "sqlite", DSN: "bank.db", Query: tc.query}), cols)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.query, err, tc.want)
		}
	}
	// The DELETE changed nothing.
	got, err = readSource(ctx, sourceFor(t, dir, sourceConfig{Driver: "sqlite", DSN: "bank.db", Query: sourceQuery}), cols)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, tb)

	// A duplicate found by the party's check names both rows of the
	// result, counted from 1.
	src := sourceFor(t, dir, sourceConfig{Driver: "sqlite", DSN: "bank.db",
		Query: `SELECT CASE customer WHEN 'carol' THEN 'alice' ELSE customer END, balance, loans, overdue FROM customers`})
	dup, err := readSource(ctx, src, cols)
	if err != nil {
		t.Fatal(err)
	}
	party, err := maskshare.NewParty("bank-a", demo.Params(3, maskshare.Keyed, 0), dup, &maskshare.Config{InsecureNoIdentities: true})
	if err != nil {
		t.Fatal(err)
	}
	err = tableInput{src: src}.rows(party.Validate())
	if err == nil || !strings.Contains(err.Error(), "query row 3 (same as query row 1)") || !errors.Is(err, maskshare.ErrDuplicateID) {
		t.Fatalf("duplicate: %v", err)
	}
}

// TestRedactDSN: passwords in URL and key=value DSNs, quoted or not, are
// hidden, and the rest is kept to help the reader.
func TestRedactDSN(t *testing.T) {
	cases := []struct{ dsn, want string }{
		{"postgres://bank:s3cret@db.example:5432/crm?sslmode=verify-full", "postgres://bank:xxxxx@db.example:5432/crm?sslmode=verify-full"},
		{"postgresql://bank:p%40ss@db/crm", "postgresql://bank:xxxxx@db/crm"},
		{"postgres://bank@db/crm", "postgres://bank@db/crm"},
		{"postgres://bank:p@ss:w@db/crm", "postgres://bank:xxxxx@db/crm"},
		{"postgres://db:5432/crm", "postgres://db:5432/crm"},
		{"postgres://db/crm?user=bank&password=s3cret&sslmode=require", "postgres://db/crm?user=bank&password=xxxxx&sslmode=require"},
		{"host=db user=bank password=s3cret dbname=crm", "host=db user=bank password=xxxxx dbname=crm"},
		{`host=db password = 'it\'s s3 cret\\' dbname=crm`, "host=db password = xxxxx dbname=crm"},
		{"host=db PASSWORD=s3cret", "host=db PASSWORD=xxxxx"},
	}
	for _, tc := range cases {
		if got := redactDSN(tc.dsn); got != tc.want {
			t.Errorf("redactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

// TestPostgresBadDSN: a DSN that cannot work fails with the driver's reason
// and without its password, in every DSN form.
func TestPostgresBadDSN(t *testing.T) {
	cols := demo.Params(3, maskshare.Keyed, 0).Columns
	port := freePort(t) // nothing listens there
	for _, dsn := range []string{
		"postgres://bank:pw-s3cret-1@127.0.0.1:" + port + "/crm?connect_timeout=5",
		"host=127.0.0.1 port=" + port + " user=bank password=pw-s3cret-1 dbname=crm connect_timeout=5",
		"host=127.0.0.1 port=" + port + " password='pw-s3cret-1' dbname=crm",
		"host=127.0.0.1 port=" + port + " password='pw-s3cret-1", // unterminated quote
		"postgres://bank:pw-s3cret-1@127.0.0.1:notaport/crm",
	} {
		src := sourceFor(t, t.TempDir(), sourceConfig{Driver: "postgres", DSN: dsn, Query: "SELECT 1"})
		_, err := readSource(context.Background(), src, cols)
		if err == nil {
			t.Fatalf("%s: no error", redactDSN(dsn))
		}
		msg := tableInput{src: src}.String() + " " + err.Error()
		t.Log(msg)
		if strings.Contains(msg, "s3cret") {
			t.Errorf("password in the message: %s", msg)
		}
		// Connection refused is worth retrying (exit code 1); a DSN that
		// does not parse is bad input (2).
		if unreachable(err) != strings.Contains(msg, "connection refused") {
			t.Errorf("unreachable = %v: %s", unreachable(err), msg)
		}
		if !strings.Contains(msg, "xxxxx") || !strings.Contains(msg, "source postgres") ||
			!strings.Contains(msg, "failed to connect") && !strings.Contains(msg, "cannot parse") {
			t.Errorf("message: %s", msg)
		}
	}
}

// TestReadmeSourceExamples: the README's source examples are configurations
// the party accepts, field for field.
func TestReadmeSourceExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := section(t, string(readme), "### Reading a party's table from a database", "Libraries can feed rows")
	var drivers []string
	for _, block := range strings.Split(sec, "```json\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		var cfg struct {
			Source sourceConfig `json:"source"`
		}
		if err := decodeConfig("README", []byte("{"+block+"}"), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Source.Query == "" {
			t.Fatalf("example without a query:\n%s", block)
		}
		drivers = append(drivers, cfg.Source.Driver)
	}
	if !slices.Equal(drivers, []string{"postgres", "sqlite"}) {
		t.Fatalf("README's source examples are for %v", drivers)
	}
}

// FuzzRedactDSN: whatever the password, a URL DSN (with the password
// escaped as net/url writes it) and a key=value DSN (unquoted, so without
// white space) come out with exactly the password replaced.
func FuzzRedactDSN(f *testing.F) {
	f.Add("s3cret")
	f.Add("p@ss:w/o?r#d%")
	f.Add("'")
	f.Fuzz(func(t *testing.T, pw string) {
		u := "postgres://" + url.UserPassword("bank", pw).String() + "@db/crm"
		if got := redactDSN(u); got != "postgres://bank:xxxxx@db/crm" {
			t.Fatalf("redactDSN(%q) = %q", u, got)
		}
		if pw == "" || strings.ContainsAny(pw, " \t\n\v\f\r\u0085\u00a0&'") {
			return
		}
		kv := "host=db password=" + pw + " dbname=crm"
		if got := redactDSN(kv); got != "host=db password=xxxxx dbname=crm" {
			t.Fatalf("redactDSN(%q) = %q", kv, got)
		}
	})
}

// FuzzSQLitePath: any SQLite DSN either is refused or names a file, and its
// parameters survive a round trip through the read-only DSN built from them.
func FuzzSQLitePath(f *testing.F) {
	f.Add("customers.db")
	f.Add("file:dir/customers.db?_pragma=busy_timeout(1000)&mode=rw")
	f.Add("file:%zz")
	f.Add(":memory:")
	f.Fuzz(func(t *testing.T, dsn string) {
		path, params, err := sqlitePath(dsn)
		if err != nil {
			return
		}
		if path == "" || path == ":memory:" {
			t.Fatalf("%q: path %q accepted", dsn, path)
		}
		params.Set("mode", "ro")
		u, err := url.Parse((&url.URL{Scheme: "file", Path: "/abs/" + path, RawQuery: params.Encode()}).String())
		if err != nil || u.Path != "/abs/"+path || u.Query().Get("mode") != "ro" {
			t.Fatalf("%q: rebuilt as %v (%v)", dsn, u, err)
		}
	})
}
