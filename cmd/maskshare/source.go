package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/maskshare/maskshare"

	// The database drivers live here, in the CLI, never in the library:
	// library callers pass their own *sql.Rows to maskshare.NewSQLSource.
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"; pure Go
)

// sourceConfig is a party's table read from a database, the alternative to
// --data CSV. The query's first column is the identifier and the next ones
// are the session's columns, by position in params.columns (the query's
// column names do not matter: alias or cast as you like).
type sourceConfig struct {
	// Driver is "postgres" (pgx) or "sqlite" (modernc.org/sqlite).
	Driver string `json:"driver"`
	// DSN is the data source name: for postgres a URL or key=value
	// string; for sqlite the database file's path (relative to the
	// configuration file), optionally "file:PATH?PARAMS". Never printed
	// unredacted.
	DSN string `json:"dsn,omitempty"`
	// DSNEnv names an environment variable holding the DSN instead, so
	// that a password need not sit in the configuration file.
	DSNEnv string `json:"dsn_env,omitempty"`
	// Query selects the rows: identifier first, then one column per
	// session column, in order.
	Query string `json:"query"`
}

// dbSource is a checked source.
type dbSource struct {
	driver string // the database/sql driver name
	dsn    string // what the driver opens (a secret, possibly)
	query  string
	name   string // names the source in messages: never holds a password
	file   string // the SQLite database file, absolute; "" for postgres
}

// source checks the source field: the driver, the query and the DSN, which
// for SQLite must name an existing database file (opened read-only).
func (c checker) source(sc *sourceConfig) (*dbSource, error) {
	s := &dbSource{query: strings.TrimSpace(sc.Query)}
	if s.query == "" {
		return nil, c.errorf("source.query", "required (such as SELECT id, balance, loans FROM customers)")
	}
	dsn, field := sc.DSN, "source.dsn"
	switch {
	case sc.DSN != "" && sc.DSNEnv != "":
		return nil, c.errorf("source.dsn, source.dsn_env", "give one, not both")
	case sc.DSNEnv != "":
		field = fmt.Sprintf("source.dsn_env (%s)", sc.DSNEnv)
		if dsn = os.Getenv(sc.DSNEnv); dsn == "" {
			return nil, c.errorf("source.dsn_env", "the environment variable %s is not set or empty", sc.DSNEnv)
		}
	case sc.DSN == "":
		return nil, c.errorf("source.dsn, source.dsn_env", "one is required (the database to read)")
	}
	switch sc.Driver {
	case "postgres":
		s.driver, s.dsn = "pgx", dsn
		s.name = "source postgres " + redactDSN(dsn)
	case "sqlite":
		path, params, err := sqlitePath(dsn)
		if err != nil {
			return nil, c.errorf(field, "%w", err)
		}
		if s.file, err = filepath.Abs(c.file(path)); err != nil {
			return nil, c.errorf(field, "%w", err)
		}
		fi, err := os.Stat(s.file)
		if err != nil {
			return nil, c.errorf(field, "the SQLite database: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, c.errorf(field, "the SQLite database %s is not a regular file", s.file)
		}
		// Read-only: a party never writes its own records, and a
		// mistyped path must not create an empty database.
		params.Set("mode", "ro")
		s.driver = "sqlite"
		s.dsn = (&url.URL{Scheme: "file", Path: s.file, RawQuery: params.Encode()}).String()
		s.name = "source sqlite " + s.file
	default:
		return nil, c.errorf("source.driver", "%q: want postgres or sqlite", sc.Driver)
	}
	return s, nil
}

// sqlitePath splits a SQLite DSN, a path or "file:PATH?PARAMS", into the
// file's path and the parameters.
func sqlitePath(dsn string) (string, url.Values, error) {
	path, query, _ := strings.Cut(dsn, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("parameters: %w", err)
	}
	if rest, ok := strings.CutPrefix(path, "file:"); ok {
		if path, err = url.PathUnescape(strings.TrimPrefix(rest, "//")); err != nil {
			return "", nil, err
		}
	}
	if path == "" || path == ":memory:" || params.Get("mode") == "memory" {
		return "", nil, errors.New("names no database file (an in-memory database holds no table)")
	}
	return path, params, nil
}

// Passwords in a DSN: URL userinfo, and password=… in key=value form or a
// URL's query (quoted values may hold spaces and escaped quotes).
var (
	dsnUserinfo = regexp.MustCompile(`(?i)^([a-z][a-z0-9+.-]*://[^/?#:@]*:)[^/?#]*@`) // to the last '@', as net/url reads it
	dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// redactDSN hides the passwords a DSN may hold.
func redactDSN(dsn string) string {
	dsn = dsnUserinfo.ReplaceAllString(dsn, "${1}xxxxx@")
	return dsnPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// redactedError is a driver's error with the DSN's password taken out of
// its text; errors.Is and errors.As still see the driver's error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact takes the DSN's password out of an error's text, wherever the
// driver may have echoed it (whole or as part of the DSN).
func (s *dbSource) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.ReplaceAll(err.Error(), s.dsn, redactDSN(s.dsn))
	msg = redactDSN(msg)
	for _, pw := range dsnSecrets(s.dsn) {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// dsnSecrets returns the passwords in dsn, as written and unquoted or
// unescaped, long enough to replace in free text without mangling it.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
		}
	}
	if m := dsnUserinfo.FindStringSubmatch(dsn); m != nil {
		raw := strings.TrimSuffix(dsn[len(m[1]):len(m[0])], "@")
		add(raw)
		if u, err := url.PathUnescape(raw); err == nil {
			add(u)
		}
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(dsn, -1) {
		add(m[2])
		if unq, ok := strings.CutPrefix(m[2], "'"); ok {
			add(strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(strings.TrimSuffix(unq, "'")))
		}
		if u, err := url.QueryUnescape(m[2]); err == nil {
			add(u)
		}
	}
	return out
}

// readSource runs the source's query and reads its rows, one at a time as
// the driver yields them, into the party's table.
func readSource(ctx context.Context, s *dbSource, cols []maskshare.Column) (*maskshare.Table, error) {
	var table *maskshare.Table
	err := withSource(ctx, s, cols, func(src maskshare.Source) (err error) {
		table, err = maskshare.ReadTable(ctx, src, len(cols))
		return err
	})
	return table, err
}

// withSource runs the source's query and gives read its rows as a
// maskshare.Source, which yields them one at a time as the driver does.
func withSource(ctx context.Context, s *dbSource, cols []maskshare.Column, read func(maskshare.Source) error) error {
	db, err := sql.Open(s.driver, s.dsn)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, s.redact(err))
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// Read-only, so that a query can change nothing (PostgreSQL refuses
	// writes in the transaction; the SQLite file is opened read-only).
	var tx *sql.Tx
	var rows *sql.Rows
	if s.file == "" {
		if tx, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
			return fmt.Errorf("%s: %w", s.name, s.redact(err))
		}
		defer tx.Rollback()
		rows, err = tx.QueryContext(ctx, s.query)
	} else {
		rows, err = db.QueryContext(ctx, s.query)
	}
	if err != nil {
		return fmt.Errorf("%s: query: %w", s.name, s.redact(err))
	}
	defer rows.Close()
	if err := checkColumns(rows, cols, s.file == ""); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if err := read(maskshare.NewSQLSource(rows, cols)); err != nil {
		return fmt.Errorf("%s: %w (rows of the query's result counted from 1)", s.name, s.redact(err))
	}
	return nil
}

// unreachable reports an error reaching a database server over the
// network: worth retrying, unlike bad input (a refused login, a query the
// server rejects, rows that do not fit), so it is not exit code 2.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// checkColumns checks the query's columns against the session's before any
// row is read: their number and, where the driver reports them reliably
// (PostgreSQL; a SQLite declared type is free text), their types.
func checkColumns(rows *sql.Rows, cols []maskshare.Column, pg bool) error {
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	names := make([]string, len(types))
	for i, ct := range types {
		names[i] = ct.Name()
	}
	want := []string{"the identifier"}
	for _, c := range cols {
		want = append(want, c.Name)
	}
	if len(types) != len(want) {
		return fmt.Errorf("%w: the query returns %d columns (%s); want %d: %s, in this order",
			maskshare.ErrSchema, len(types), strings.Join(names, ", "), len(want), strings.Join(want, ", "))
	}
	if !pg {
		return nil
	}
	for i, ct := range types {
		t := ct.DatabaseTypeName()
		if ok := (pgValueTypes[t] && (i > 0 || !strings.HasPrefix(t, "FLOAT"))) || (i == 0 && pgIDTypes[t]); !ok {
			return fmt.Errorf("%w: query column %d (%q, for %s) has type %s; select an integer, NUMERIC or text (cast it: ::text)",
				maskshare.ErrSchema, i+1, names[i], want[i], t)
		}
	}
	return nil
}

// PostgreSQL types that maskshare.SQLSource reads, as pgx names them. Floats
// are read only when whole (SQLSource refuses inexact ones row by row).
var (
	pgValueTypes = map[string]bool{"INT2": true, "INT4": true, "INT8": true, "NUMERIC": true, "TEXT": true, "VARCHAR": true, "BPCHAR": true, "FLOAT4": true, "FLOAT8": true}
	pgIDTypes    = map[string]bool{"UUID": true, "NAME": true}
)
