//go:build unix

package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

// postgresBin finds initdb and pg_ctl: on PATH, or where Debian's
// postgresql package puts them (/usr/lib/postgresql/VERSION/bin, not on
// PATH), the newest version first. Without them the test is skipped, unless
// MASKSHARE_REQUIRE_TOOLS=1 (as in .ci/run), where it fails.
func postgresBin(t *testing.T) (initdb, pgCtl string) {
	t.Helper()
	dir := ""
	if p, err := exec.LookPath("initdb"); err == nil {
		dir = filepath.Dir(p)
	} else if found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(found) > 0 {
		slices.SortFunc(found, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
		dir = filepath.Dir(found[0])
	}
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return filepath.Join(dir, "initdb"), filepath.Join(dir, "pg_ctl")
		}
	}
	if os.Getenv("MASKSHARE_REQUIRE_TOOLS") == "1" {
		t.Fatal("PostgreSQL's initdb and pg_ctl not found (on PATH or in /usr/lib/postgresql/*/bin) and MASKSHARE_REQUIRE_TOOLS=1")
	}
	t.Skip("PostgreSQL's initdb and pg_ctl not found (on PATH or in /usr/lib/postgresql/*/bin); install it (apt-get install -y postgresql) or set MASKSHARE_REQUIRE_TOOLS=1 to make this a failure")
	return "", ""
}

// pgVersion is the major version in a /usr/lib/postgresql/VERSION/bin path.
func pgVersion(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// pgServer is a PostgreSQL server of the test's own, in a temporary
// directory, listening on a unix socket there and on a loopback TCP port.
type pgServer struct {
	dir, port, user, password string
}

// admin connects over the unix socket, which trusts local users.
func (p *pgServer) admin(t *testing.T) *sql.DB {
	db, err := sql.Open("pgx", fmt.Sprintf("host=%s port=%s user=%s dbname=postgres", p.dir, p.port, p.user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tcpDSN is a DSN over TCP, where the server asks for the password.
func (p *pgServer) tcpDSN(password string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%s/postgres?sslmode=disable&connect_timeout=10", p.user, password, p.port)
}

// startPostgres initialises a cluster and starts it; t.Cleanup stops it.
// PostgreSQL refuses to run as root, so as root it runs as nobody.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	initdb, pgCtl := postgresBin(t)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		var uid, gid int
		if err == nil {
			uid, err = strconv.Atoi(u.Uid)
		}
		if err == nil {
			gid, err = strconv.Atoi(u.Gid)
		}
		if err != nil {
			if os.Getenv("MASKSHARE_REQUIRE_TOOLS") == "1" {
				t.Fatalf("running as root and no user nobody to run PostgreSQL as: %v", err)
			}
			t.Skipf("running as root and no user nobody to run PostgreSQL as (it refuses root): %v", err)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// server's user must reach the directory. A short path also keeps the
	// socket's path within the 107 bytes unix sockets allow.
	dir, err := os.MkdirTemp("", "mspg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // after the server stops
	p := &pgServer{dir: dir, port: freePort(t), user: "maskshare", password: "pg-Pass-" + strconv.Itoa(os.Getpid())}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, path := range []string{dir, pwfile} {
			if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pg := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(name), strings.Join(args, " "), err, out, log)
		}
	}
	data := filepath.Join(dir, "data")
	pg(initdb, "-D", data, "-U", p.user, "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--no-locale", "--no-sync")
	pg(pgCtl, "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o",
		fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, dir), "start")
	t.Cleanup(func() { pg(pgCtl, "-D", data, "-m", "fast", "-w", "stop") })
	return p
}

// TestPostgresSourceSession: a party reads its table from a real PostgreSQL
// server by the query in its configuration, the DSN (with the password)
// taken from an environment variable, in a session of processes; its result
// and the others' equal the plaintext join of the same data.
func TestPostgresSourceSession(t *testing.T) {
	pg := startPostgres(t)
	params := demo.Params(3, maskshare.Keyed, 2)
	tables := demo.Generate(33, 3, 1500, 0.4, 3)
	createTable(t, pg.admin(t), "NUMERIC(14,2)", tables[0])

	s := newSetup(t, false)
	s.addSession(t, "pg", params, tables)
	os.Remove(filepath.Join(s.dir, "pg-bank-a.csv"))
	s.editParty(t, "pg", "bank-a", func(cfg *partyConfig) {
		cfg.IDColumn = ""
		cfg.Source = &sourceConfig{Driver: "postgres", DSNEnv: "MASKSHARE_TEST_PG_DSN", Query: sourceQuery}
	})
	t.Setenv("MASKSHARE_TEST_PG_DSN", pg.tcpDSN(pg.password)) // the party's process inherits it
	if cfg, err := os.ReadFile(filepath.Join(s.dir, "pg-bank-a.json")); err != nil || strings.Contains(string(cfg), pg.password) {
		t.Fatalf("configuration holds the password (%v)", err)
	}
	coord := s.startCoordinator(t, "--runs", "1")
	parties := []*proc{
		start(t, s.dir, "party", "--config", "pg-bank-a.json", "--out", "pg-bank-a-result.csv"),
		s.startParty(t, "pg", "bank-b"), s.startParty(t, "pg", "bank-c"),
	}
	for i, p := range parties {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", s.banks[i], err, p.stderr)
		}
	}
	for i, bank := range s.banks {
		checkOutput(t, filepath.Join(s.dir, "pg-"+bank+"-result.csv"), params, tables, i)
	}
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
}

// TestPostgresSourceErrors: against a real server, a wrong password fails
// with the server's reason and never shows the password; a column of a type
// the session cannot read is named before any row; NULLs name their row;
// the query runs read-only.
func TestPostgresSourceErrors(t *testing.T) {
	pg := startPostgres(t)
	tb := maskshare.NewTable(3)
	tb.AddRow("alice", 1050, 2, 0)
	tb.AddRow("bob", -300, 1, 1)
	createTable(t, pg.admin(t), "NUMERIC(14,2)", tb)
	cols := demo.Params(3, maskshare.Keyed, 0).Columns
	ctx := context.Background()
	read := func(dsn, query string) (*maskshare.Table, *dbSource, error) {
		src := sourceFor(t, t.TempDir(), sourceConfig{Driver: "postgres", DSN: dsn, Query: query})
		got, err := readSource(ctx, src, cols)
		return got, src, err
	}

	got, _, err := read(pg.tcpDSN(pg.password), sourceQuery)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, tb)

	for _, dsn := range []string{
		pg.tcpDSN("Wrong-pw-42"),
		fmt.Sprintf("host=127.0.0.1 port=%s user=%s password='Wrong-pw-42' dbname=postgres sslmode=disable", pg.port, pg.user),
	} {
		_, src, err := read(dsn, sourceQuery)
		if err == nil {
			t.Fatal("wrong password: no error")
		}
		msg := tableInput{src: src}.String() + ": " + err.Error()
		if strings.Contains(msg, "Wrong-pw-42") || !strings.Contains(msg, "password authentication failed") || unreachable(err) {
			t.Fatalf("wrong password: %s", msg)
		}
	}

	cases := []struct{ query, want string }{
		{`SELECT customer, balance, loans, overdue > 0 FROM customers`, `query column 4 ("?column?", for overdue) has type BOOL`},
		{`SELECT customer, balance, loans FROM customers`, "returns 3 columns"},
		{`SELECT customer, balance, NULLIF(loans, 1), overdue FROM customers ORDER BY customer`, `sql row 2, column "loans": NULL value`},
		{`SELECT NULLIF(customer, 'alice'), balance, loans, overdue FROM customers ORDER BY customer`, "sql row 1: NULL identifier"},
		{`SELECT customer, balance * 1.001, loans, overdue FROM customers ORDER BY customer`, `sql row 1, column "balance"`},
		{`DELETE FROM customers RETURNING customer, balance, loans, overdue`, "read-only transaction"},
	}
	for _, tc := range cases {
		_, _, err := read(pg.tcpDSN(pg.password), tc.query)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.query, err, tc.want)
		}
	}
	got, _, err = read(pg.tcpDSN(pg.password), sourceQuery)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, tb) // the DELETE deleted nothing
}
