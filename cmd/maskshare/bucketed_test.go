package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

// bucketedSetup is a deployment whose session "big" is bucketed (500 rows
// per bucket), with a work_dir for the coordinator and every party.
func bucketedSetup(t *testing.T, mode maskshare.PSIMode, k, rows int, seed uint64) (*setup, maskshare.Params, []*maskshare.Table) {
	t.Helper()
	s := newSetup(t, false)
	params := demo.Params(3, mode, k)
	params.BucketRows = 500
	tables := demo.Generate(seed, 3, rows, 0.4, 3)
	s.workDir = "coordinator-work"
	s.addSession(t, "big", params, tables)
	for _, bank := range s.banks {
		s.editParty(t, "big", bank, func(cfg *partyConfig) { cfg.WorkDir = bank + "-work" })
	}
	return s, params, tables
}

// checkBucketedOutputs checks every party's result file against the
// plaintext join, and that nothing is left of the session: no table copy
// or description in the work directories, no temporary result file.
func checkBucketedOutputs(t *testing.T, s *setup, params maskshare.Params, tables []*maskshare.Table) {
	t.Helper()
	for i, bank := range s.banks {
		path := filepath.Join(s.dir, "big-"+bank+"-result.csv")
		checkOutput(t, path, params, tables, i)
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v", path, fi, err)
		}
		left, err := os.ReadDir(filepath.Join(s.dir, bank+"-work"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range left {
			if e.Name() != "lock" {
				t.Errorf("%s's work_dir still holds %s after the session", bank, e.Name())
			}
		}
	}
	matches, _ := filepath.Glob(filepath.Join(s.dir, ".*.partial"))
	if len(matches) > 0 {
		t.Errorf("temporary result files left: %v", matches)
	}
	noTempFiles(t, s.dir)
}

// TestBucketedSession runs bucketed sessions of three party processes and a
// coordinator (a few thousand rows each, 500 rows per bucket, so several
// buckets) through the CLI, in every mode: every party's result
// file equals the plaintext join, progress shows the buckets, the table is
// read into the work directory once and nothing is left there afterwards.
func TestBucketedSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   maskshare.PSIMode
		k      int
		sqlite bool // bank-a reads its table from a SQLite file
	}{{"keyed", maskshare.Keyed, 2, true}, {"ecdh", maskshare.ECDH, 0, false}, {"oprf", maskshare.OPRF, 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			s, params, tables := bucketedSetup(t, tc.mode, tc.k, 3000, 21)
			source := []string{"big-bank-a.csv", "big-bank-b.csv", "big-bank-c.csv"}
			if tc.sqlite {
				sqliteFile(t, filepath.Join(s.dir, "bank-a.db"), tables[0])
				os.Remove(filepath.Join(s.dir, "big-bank-a.csv"))
				s.editParty(t, "big", "bank-a", func(cfg *partyConfig) {
					cfg.IDColumn = ""
					cfg.Source = &sourceConfig{Driver: "sqlite", DSN: "bank-a.db", Query: sourceQuery}
				})
				source[0] = "source sqlite " + filepath.Join(s.dir, "bank-a.db")
			}
			coord := s.startCoordinator(t, "--runs", "1")
			var parties []*proc
			for _, bank := range s.banks {
				if tc.sqlite && bank == "bank-a" {
					parties = append(parties, start(t, s.dir, "party", "--config", "big-bank-a.json", "--out", "big-bank-a-result.csv"))
				} else {
					parties = append(parties, s.startParty(t, "big", bank))
				}
			}
			for i, p := range parties {
				if err := p.wait(t, 2*time.Minute); err != nil {
					t.Fatalf("%s: %v\n%s\ncoordinator:\n%s", s.banks[i], err, p.stderr, coord.stderr)
				}
				stderr := p.stderr.String()
				if !strings.Contains(stderr, "read 3000 rows of "+source[i]+" into") || !strings.Contains(stderr, s.banks[i]+": aggregate step 1/") {
					t.Fatalf("%s: progress:\n%s", s.banks[i], stderr)
				}
				if !strings.Contains(p.stdout.String(), "party "+s.banks[i]+": 3000 rows, ") {
					t.Fatalf("%s: report:\n%s", s.banks[i], p.stdout.String())
				}
			}
			if err := coord.wait(t, 30*time.Second); err != nil {
				t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
			}
			if !strings.Contains(coord.stdout.String(), "result size") {
				t.Fatalf("coordinator:\n%s", coord.stdout.String())
			}
			if fi, err := os.Stat(filepath.Join(s.dir, "coordinator-work", "big")); err != nil || fi.Mode().Perm() != 0o700 {
				t.Fatalf("coordinator's session directory: %v, %v", fi, err)
			}
			checkBucketedOutputs(t, s, params, tables)
		})
	}
}

// TestBucketedUnfinishedRunKeepsCopy: a party whose run ends unfinished
// (its timeout runs out with no coordinator) keeps its table's copy, and
// the next run with the same data uses it rather than read the data again;
// the session then succeeds with the plaintext join's result.
func TestBucketedUnfinishedRunKeepsCopy(t *testing.T) {
	s, params, tables := bucketedSetup(t, maskshare.Keyed, 0, 2000, 22)
	s.editParty(t, "big", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(2 * time.Second) })
	p := s.startParty(t, "big", "bank-a")
	p.wait(t, time.Minute)
	if code := p.cmd.ProcessState.ExitCode(); code != exitTimeout {
		t.Fatalf("bank-a with no coordinator: exit %d\n%s", code, p.stderr)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "bank-a-work", sourceDescName)); err != nil {
		t.Fatalf("the unfinished run left no table copy: %v", err)
	}
	s.editParty(t, "big", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(2 * time.Minute) })
	coord := s.startCoordinator(t, "--runs", "1")
	parties := s.startParties(t, "big")
	for i, p := range parties {
		if err := p.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("%s: %v\n%s\ncoordinator:\n%s", s.banks[i], err, p.stderr, coord.stderr)
		}
	}
	if stderr := parties[0].stderr.String(); !strings.Contains(stderr, "2000 rows: the copy of big-bank-a.csv") || strings.Contains(stderr, "read 2000 rows") {
		t.Fatalf("bank-a did not reuse its copy:\n%s", stderr)
	}
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
	checkBucketedOutputs(t, s, params, tables)
}

// TestBucketedDuplicateEndsForGood: a duplicate identifier, which a
// bucketed session finds only in its bucket, ends the session for all
// (exit 2 at the party that holds it, naming its CSV lines; 3 at the
// others), and a run that ended for good leaves neither a table copy nor
// a result, temporary or not.
func TestBucketedDuplicateEndsForGood(t *testing.T) {
	s, _, tables := bucketedSetup(t, maskshare.Keyed, 0, 2000, 23)
	c := tables[2]
	c.IDs[7] = c.IDs[3]
	writeCSV(t, filepath.Join(s.dir, "big-bank-c.csv"), c)
	coord := s.startCoordinator(t, "--runs", "1")
	parties := s.startParties(t, "big")
	for i, p := range parties {
		p.wait(t, 2*time.Minute)
		code, stderr := p.cmd.ProcessState.ExitCode(), p.stderr.String()
		t.Logf("%s: exit %d: %s", s.banks[i], code, lastLine(stderr))
		switch {
		case i == 2 && (code != exitInput || !strings.Contains(stderr, "duplicate identifier: csv line 9 (same as csv line 5)")):
			t.Errorf("bank-c: exit %d\n%s", code, stderr)
		case i < 2 && (code != exitPeer || !strings.Contains(stderr, "bank-c")):
			t.Errorf("%s: exit %d\n%s", s.banks[i], code, stderr)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "big-"+s.banks[i]+"-result.csv")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s wrote a result: %v", s.banks[i], err)
		}
		for _, name := range []string{sourceDescName, spoolDirName} {
			if _, err := os.Stat(filepath.Join(s.dir, s.banks[i]+"-work", name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s kept %s: %v", s.banks[i], name, err)
			}
		}
	}
	coord.wait(t, 30*time.Second)
	matches, _ := filepath.Glob(filepath.Join(s.dir, ".*.partial"))
	if len(matches) > 0 {
		t.Errorf("temporary result files left: %v", matches)
	}
}

// TestBucketedKillAndResume kills (SIGKILL) a party in the middle of a
// bucketed session, after its progress shows buckets done, and starts it
// again with the same command; then kills the coordinator in the middle of
// another run and starts it again. Both sessions finish with the plaintext
// join's result.
func TestBucketedKillAndResume(t *testing.T) {
	t.Run("party", func(t *testing.T) {
		s, params, tables := bucketedSetup(t, maskshare.ECDH, 0, 8000, 24)
		// The default min_interval (1m) stays: the resumed run is the run
		// it continues, not a new one.
		coord := s.startCoordinator(t, "--runs", "1")
		parties := s.startParties(t, "big")
		waitBuckets(t, parties[1], "bank-b", 3)
		parties[1].cmd.Process.Kill()
		if err := parties[1].wait(t, 10*time.Second); err == nil {
			t.Fatal("bank-b finished before it was killed")
		}
		// Records of the buckets done are in its temporary result file.
		if fi, err := os.Stat(partialPath(filepath.Join(s.dir, "big-bank-b-result.csv"))); err != nil {
			t.Fatalf("killed bank-b left no temporary result: %v", err)
		} else {
			t.Logf("bank-b killed with %d bytes of result written", fi.Size())
		}
		parties[1] = s.startParty(t, "big", "bank-b")
		for i, p := range parties {
			if err := p.wait(t, 3*time.Minute); err != nil {
				t.Fatalf("%s: %v\n%s\ncoordinator:\n%s", s.banks[i], err, p.stderr, coord.stderr)
			}
		}
		if stderr := parties[1].stderr.String(); !strings.Contains(stderr, "the copy of big-bank-b.csv") {
			t.Fatalf("the restarted bank-b read its data again:\n%s", stderr)
		}
		if err := coord.wait(t, 30*time.Second); err != nil {
			t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
		}
		checkResumed(t, coord)
		checkBucketedOutputs(t, s, params, tables)
	})
	t.Run("coordinator", func(t *testing.T) {
		s, params, tables := bucketedSetup(t, maskshare.ECDH, 0, 8000, 25)
		coord := s.startCoordinator(t, "--runs", "1")
		parties := s.startParties(t, "big")
		waitBuckets(t, parties[0], "bank-a", 3)
		coord.cmd.Process.Kill()
		if err := coord.wait(t, 10*time.Second); err == nil {
			t.Fatal("the coordinator finished before it was killed")
		}
		coord = s.startCoordinator(t, "--runs", "1")
		for i, p := range parties {
			if err := p.wait(t, 3*time.Minute); err != nil {
				t.Fatalf("%s: %v\n%s\ncoordinator:\n%s", s.banks[i], err, p.stderr, coord.stderr)
			}
			if !strings.Contains(p.stderr.String(), "session suspended") {
				t.Fatalf("%s did not resume:\n%s", s.banks[i], p.stderr)
			}
		}
		if err := coord.wait(t, 30*time.Second); err != nil {
			t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
		}
		checkResumed(t, coord)
		checkBucketedOutputs(t, s, params, tables)
	})
}

// waitBuckets waits until party p's progress shows at least n buckets
// done: steps of B, B being the bucket count (32 in these tests, at least
// 16), not the steps of an ecdh bucket's blinding (n+1 of them).
func waitBuckets(t *testing.T, p *proc, name string, n int) {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(name) + `: (?:intersect|aggregate) step (\d+)/(\d+),`)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, m := range re.FindAllStringSubmatch(p.stderr.String(), -1) {
			step, _ := strconv.Atoi(m[1])
			steps, _ := strconv.Atoi(m[2])
			if steps >= 16 && step >= n {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not show %d buckets done:\n%s", name, n, p.stderr)
}

// checkResumed checks that the coordinator's run was a resumed one, and
// that it ran at most one step (a bucket's intersection or aggregation)
// again that a participant had completed.
func checkResumed(t *testing.T, coord *proc) {
	t.Helper()
	out := coord.stdout.String()
	var from, redone int
	i := strings.Index(out, "resumed from step ")
	if i < 0 {
		t.Fatalf("the coordinator's run did not resume:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "resumed from step %d; steps run again: %d", &from, &redone); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	t.Logf("resumed from step %d, %d steps run again", from, redone)
	if from < 2 || redone > 1 {
		t.Fatalf("resumed from step %d with %d steps run again:\n%s", from, redone, out)
	}
}

// TestBucketedConfig checks the work_dir and memory fields of both
// configurations: required, refused where useless, relative to the file,
// made with mode 0700, refused if others may enter it; memory parsed with
// its unit, with a default when bucketed and a floor.
func TestBucketedConfig(t *testing.T) {
	s, _, _ := bucketedSetup(t, maskshare.Keyed, 0, 50, 26)
	cfgA := filepath.Join(s.dir, "big-bank-a.json")
	load := func() (*partySetup, error) { return loadParty(cfgA) }

	ps, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.dir, "bank-a-work"); ps.workDir != want || ps.memory != defaultBucketedMem {
		t.Fatalf("work_dir %q (want %q), memory %d", ps.workDir, want, ps.memory)
	}
	if fi, err := os.Stat(ps.workDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("work_dir: %v, %v", fi, err)
	}
	for _, tc := range []struct {
		edit func(*partyConfig)
		want string // "" for success
		mem  int64
	}{
		{func(c *partyConfig) { c.Memory = 1 << 30 }, "", 1 << 30},
		{func(c *partyConfig) { c.WorkDir = "" }, "work_dir: required for a bucketed session", 0},
		{func(c *partyConfig) { c.Params.BucketRows = 0 }, "work_dir: set, but no session is bucketed", 0},
		{func(c *partyConfig) { c.Memory = 16 << 20 }, "memory: 16.00 MiB is below the least of 32MiB", 0},
		{func(c *partyConfig) { c.WorkDir = "big-bank-a.csv" }, "not a directory", 0},
	} {
		s.editParty(t, "big", "bank-a", func(c *partyConfig) { c.WorkDir, c.Memory, c.Params.BucketRows = "bank-a-work", 0, 500 })
		s.editParty(t, "big", "bank-a", tc.edit)
		ps, err := load()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s", err)
		case tc.want == "" && ps.memory != tc.mem:
			t.Errorf("memory %d, want %d", ps.memory, tc.mem)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), cfgA)):
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	s.editParty(t, "big", "bank-a", func(c *partyConfig) { c.WorkDir, c.Memory = "bank-a-work", 0 })

	// A work_dir others may enter is refused, through the CLI: exit 2.
	open := filepath.Join(s.dir, "open-work")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	s.editParty(t, "big", "bank-a", func(c *partyConfig) { c.WorkDir = "open-work" })
	code, out := runExit(t, s.dir, "party", "--config", "big-bank-a.json", "--data", "big-bank-a.csv")
	if code != exitInput || !strings.Contains(out, "big-bank-a.json: work_dir: ") || !strings.Contains(out, "chmod 700") {
		t.Errorf("open work_dir: exit %d\n%s", code, out)
	}

	// Sizes and their units, strictly.
	for in, want := range map[string]int64{"512MiB": 512 << 20, "2GiB": 2 << 30, "1500MB": 1500e6, "1048576": 1 << 20, "64 MiB": 64 << 20} {
		var b byteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || int64(b) != want {
			t.Errorf("%q: %d, %v; want %d", in, b, err, want)
		}
		text, _ := b.MarshalText()
		var back byteSize
		if err := back.UnmarshalText(text); err != nil || back != b {
			t.Errorf("%q: marshalled as %q, read back as %d, %v", in, text, back, err)
		}
	}
	for _, in := range []string{"", "lots", "-1MiB", "1.5GiB", "99999999999TiB", "12 parsecs"} {
		var b byteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %d", in, b)
		}
	}

	// The coordinator: work_dir required once a session is bucketed, and
	// each bucketed session gets a directory of its own.
	s.workDir = ""
	coord := s.startCoordinator(t, "--runs", "1")
	if err := coord.wait(t, 20*time.Second); err == nil || !strings.Contains(coord.stderr.String(), "coordinator.json: work_dir: required for a bucketed session") {
		t.Fatalf("coordinator without work_dir: %v\n%s", err, coord.stderr)
	}
	s.workDir = "coordinator-work"
	writeJSON(t, filepath.Join(s.dir, "coordinator.json"), coordinatorConfig{
		Listen: s.addr, Key: filepath.Join("coordinator", "coordinator.key"), Cert: filepath.Join("coordinator", "coordinator.crt"),
		Sessions: s.sessions, WorkDir: s.workDir, Memory: 256 << 20,
	})
	cs, err := loadCoordinator(filepath.Join(s.dir, "coordinator.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.dir, "coordinator-work", "big"); cs.sessions[0].workDir != want || cs.memory != 256<<20 {
		t.Fatalf("session work dir %q (want %q), memory %d", cs.sessions[0].workDir, want, cs.memory)
	}
	if fi, err := os.Stat(cs.sessions[0].workDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("session work dir: %v, %v", fi, err)
	}
}

// TestSpoolReuse: the table's copy is reused only for the same input; a
// CSV or SQLite file changed since (size or modification time), another
// query, other columns, or a copy cut short are read again, never used
// stale.
func TestSpoolReuse(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "t.csv")
	tables := demo.Generate(5, 1, 300, 0, 3)
	writeCSV(t, csvPath, tables[0])
	cfg := partyConfig{IDColumn: "customer", Params: demo.Params(2, maskshare.Keyed, 0)}
	in := tableInput{path: csvPath}
	spool := func(wantReused bool, wantRows int64) {
		t.Helper()
		sp, reused, err := spoolTable(t.Context(), work, in, cfg)
		if err != nil || reused != wantReused || sp.Rows() != wantRows {
			t.Fatalf("spoolTable: reused %v (want %v), %v rows (want %d), %v", reused, wantReused, sp, wantRows, err)
		}
	}
	spool(false, 300)
	spool(true, 300)

	// The file changes: more rows.
	tables[0].AddRow("zz-new-customer", 1, 1, 1)
	writeCSV(t, csvPath, tables[0])
	spool(false, 301)
	spool(true, 301)

	// Same size, later modification time: read again.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(csvPath, later, later); err != nil {
		t.Fatal(err)
	}
	spool(false, 301)

	// Other session columns (a decimal's scale decides the values read).
	cfg.Params.Columns = append([]maskshare.Column(nil), cfg.Params.Columns...)
	cfg.Params.Columns[0].Scale = 3
	spool(false, 301)
	spool(true, 301)

	// A copy cut short (its description in the library's directory gone).
	if err := os.Remove(filepath.Join(work, spoolDirName, "table.json")); err != nil {
		t.Fatal(err)
	}
	spool(false, 301)

	// A SQLite source: the same query on the same file is reused; the
	// file changed is read again.
	db := filepath.Join(dir, "t.db")
	sqliteFile(t, db, tables[0])
	cfg.IDColumn = ""
	in = tableInput{src: sourceFor(t, dir, sourceConfig{Driver: "sqlite", DSN: "t.db", Query: sourceQuery})}
	spool(false, 301)
	spool(true, 301)
	if err := os.Chtimes(db, later, later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	spool(false, 301)
	in.src.query += " WHERE customer <> 'zz-new-customer'"
	spool(false, 300)

	// forgetTable leaves nothing to reuse.
	if err := forgetTable(work); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Fatalf("forgetTable left %v", left)
	}
	spool(false, 300)
}

// TestResultRecordsRewind checks the resumable result file: records synced
// survive a crash (the file closed without commit) and a Rewind to their
// mark, records after the mark are cut, a file an earlier run left is
// started over when no Rewind keeps it, marks outside the file or a file
// of other columns are refused, and commit renames it into place.
func TestResultRecordsRewind(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "result.csv")
	params := demo.Params(3, maskshare.Keyed, 0)
	params.Reveal = maskshare.PerRecord
	rec := func(id string, v int64) *maskshare.Record {
		return &maskshare.Record{ID: id, Holders: 3, Values: []int64{v * 100, v, 0}}
	}
	r, err := openResultRecords(out, params)
	if err != nil {
		t.Fatal(err)
	}
	write := func(r *resultRecords, ids ...string) {
		t.Helper()
		for i, id := range ids {
			if err := r.WriteRecord(rec(id, int64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(r, "a", "b")
	m1, err := r.Sync()
	if err != nil {
		t.Fatal(err)
	}
	write(r, "c")
	if _, err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	write(r, "d") // not synced
	r.close()     // the process dies

	r, err = openResultRecords(out, params)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int64{-1, 3, 1 << 40} {
		if err := r.Rewind(bad); err == nil {
			t.Errorf("Rewind(%d) accepted", bad)
		}
	}
	if err := r.Rewind(m1); err != nil {
		t.Fatal(err)
	}
	if r.count() != 2 {
		t.Fatalf("%d records after the rewind, want 2", r.count())
	}
	write(r, "e")
	if err := r.commit(&maskshare.Result{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "id,holders,balance,loans,overdue\na,3,0.00,0,0\nb,3,1.00,1,0\ne,3,0.00,0,0\n"; string(got) != want {
		t.Fatalf("result:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(partialPath(out)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file after commit: %v", err)
	}

	// An earlier run's file that no Rewind keeps is started over.
	r, _ = openResultRecords(out, params)
	write(r, "x", "y")
	r.Sync()
	r.close()
	r, _ = openResultRecords(out, params)
	write(r, "z")
	if err := r.commit(&maskshare.Result{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, []byte("id,holders,balance,loans,overdue\nz,3,0.00,0,0\n")) {
		t.Fatalf("result:\n%s", got)
	}

	// A file of other columns is not this session's.
	r, _ = openResultRecords(out, params)
	write(r, "x")
	m, _ := r.Sync()
	r.close()
	other := params
	other.Reveal = maskshare.TotalsOnly
	r, _ = openResultRecords(out, other)
	if err := r.Rewind(m); err == nil || !strings.Contains(err.Error(), "another session's records") {
		t.Fatalf("Rewind into another session's file: %v", err)
	}
	r.discard()
	if _, err := os.Stat(partialPath(out)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file after discard: %v", err)
	}

	// Cardinality: the result size only.
	card := params
	card.Reveal = maskshare.CardinalityOnly
	r, _ = openResultRecords(out, card)
	if err := r.commit(&maskshare.Result{Size: 42}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != "result_size\n42\n" {
		t.Fatalf("cardinality result:\n%s", got)
	}
}

// TestBucketedSuspendedTimesOut: a party killed in the middle of a
// bucketed session and never started again leaves the others' session
// suspended; they join it again until their timeout. Each ends with a
// timeout (exit 4) when its own runs out, keeping its copy and the
// session's state: the session can still resume when they are run again
// with the lost party (the first to give up says so, suspended, not
// failed, so the other keeps waiting).
func TestBucketedSuspendedTimesOut(t *testing.T) {
	s, _, _ := bucketedSetup(t, maskshare.ECDH, 0, 3000, 27)
	s.editParty(t, "big", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(15 * time.Second) })
	s.editParty(t, "big", "bank-b", func(cfg *partyConfig) { cfg.Timeout = duration(time.Minute) })
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()
	parties := s.startParties(t, "big")
	waitBuckets(t, parties[2], "bank-c", 2)
	parties[2].cmd.Process.Kill()
	for i, p := range parties[:2] {
		p.wait(t, 2*time.Minute)
		code, stderr := p.cmd.ProcessState.ExitCode(), p.stderr.String()
		_, kept := os.Stat(filepath.Join(s.dir, s.banks[i]+"-work", sourceDescName))
		switch {
		case !strings.Contains(stderr, "session suspended"):
			t.Errorf("%s was not suspended:\n%s", s.banks[i], stderr)
		case i == 0 && (code != exitTimeout || !strings.Contains(stderr, "run the same command again to resume") || !strings.Contains(lastLine(stderr), "timeout (15s) ran out before the suspended session could resume") || kept != nil):
			t.Errorf("bank-a: exit %d, copy %v\n%s", code, kept, stderr)
		case i == 1 && (code != exitTimeout || !strings.Contains(lastLine(stderr), "timeout (1m0s) ran out before the suspended session could resume") || kept != nil):
			t.Errorf("bank-b: exit %d, copy %v\n%s", code, kept, stderr)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "big-"+s.banks[i]+"-result.csv")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s wrote a result: %v", s.banks[i], err)
		}
	}
	if !strings.Contains(coord.stdout.String(), "suspended") {
		t.Errorf("coordinator:\n%s", coord.stdout.String())
	}
}
