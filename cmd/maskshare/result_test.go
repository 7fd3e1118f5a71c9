package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

// The tests in this file check the party's result file (--out): checked
// before the session, written whole or not at all, never over the input.

// disjointTables returns tables with no identifier in common.
func disjointTables(banks, rows int) []*maskshare.Table {
	tables := make([]*maskshare.Table, banks)
	for b := range tables {
		tables[b] = maskshare.NewTable(3)
		for r := range rows {
			tables[b].AddRow(fmt.Sprintf("%s-customer-%d", demo.BankName(b), r), int64(100*r), int64(r), 0)
		}
	}
	return tables
}

// noTempFiles fails if a temporary result file is left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

// TestResultPathCheckedBeforeSession: an --out that is the --data file (by
// another spelling of its path, or a hard link to it), or whose directory
// is missing, is refused before the party connects (no coordinator runs
// here: the party would wait for it until its timeout), and the data file
// is untouched.
func TestResultPathCheckedBeforeSession(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(1, 3, 20, 0.5, 3))
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(20 * time.Second) })
	data := "exposure-bank-a.csv"
	before, err := os.ReadFile(filepath.Join(s.dir, data))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(s.dir, data), filepath.Join(s.dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ out, want string }{
		{"./sub/../" + data, "is the --data file"},
		{filepath.Join(s.dir, data), "is the --data file"},
		{"link.csv", "is the --data file"},
		{filepath.Join("missing", "result.csv"), "--out missing/result.csv: its directory"},
		{"sub", "not a regular file"},
	} {
		begin := time.Now()
		out := runFail(t, s.dir, "party", "--config", "exposure-bank-a.json", "--data", data, "--out", tc.out)
		if !strings.Contains(out, tc.want) {
			t.Errorf("--out %s: want %q in:\n%s", tc.out, tc.want, out)
		}
		if d := time.Since(begin); d > 10*time.Second {
			t.Errorf("--out %s: refused after %v, not before the session", tc.out, d)
		}
		if after, err := os.ReadFile(filepath.Join(s.dir, data)); err != nil || !bytes.Equal(before, after) {
			t.Fatalf("--out %s changed the data file (%v)", tc.out, err)
		}
	}
	noTempFiles(t, s.dir)
	noTempFiles(t, filepath.Join(s.dir, "sub"))
}

// TestResultFile runs sessions to the end and checks what the result file
// holds: an empty result keeps the column header; under the cardinality
// policy the file and the report give the result size and no count of
// qualifying records; a write that fails part way (a file size limit)
// leaves the earlier file whole instead of a truncated one; a failed
// session leaves an existing file as it was.
func TestResultFile(t *testing.T) {
	s := newSetup(t, false)
	perRecord := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "empty", perRecord, disjointTables(3, 5))
	card := demo.Params(3, maskshare.Keyed, 2)
	card.Reveal = maskshare.CardinalityOnly
	s.addSession(t, "card", card, demo.Generate(7, 3, 300, 0.3, 3))
	bigTables := demo.Generate(8, 3, 3000, 0.5, 3)
	s.addSession(t, "big", perRecord, bigTables)
	s.sessions[2].MinInterval = new(duration) // it runs twice
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()

	runSession := func(session string, start func(bank string) *proc) []*proc {
		parties := make([]*proc, len(s.banks))
		for i, bank := range s.banks {
			parties[i] = start(bank)
		}
		for _, p := range parties {
			p.wait(t, 2*time.Minute)
		}
		return parties
	}
	ok := func(session string, parties []*proc) {
		t.Helper()
		for i, p := range parties {
			if p.cmd.ProcessState.ExitCode() != 0 {
				t.Fatalf("%s %s: %v\nstderr:\n%s", session, s.banks[i], p.cmd.ProcessState, p.stderr)
			}
		}
	}
	result := func(session, bank string) string {
		data, err := os.ReadFile(filepath.Join(s.dir, session+"-"+bank+"-result.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	// Nothing qualifies: the header still names the columns.
	ok("empty", runSession("empty", func(bank string) *proc { return s.startParty(t, "empty", bank) }))
	for _, bank := range s.banks {
		if got, want := result("empty", bank), "id,holders,balance,loans,overdue\n"; got != want {
			t.Errorf("empty result of %s: %q, want %q", bank, got, want)
		}
	}

	// Cardinality: the size, and no claim about qualifying records.
	parties := runSession("card", func(bank string) *proc { return s.startParty(t, "card", bank) })
	ok("card", parties)
	for i, bank := range s.banks {
		report := parties[i].stdout.String()
		size := field(t, report, "party "+bank+":")
		if strings.Contains(report, "qualify;") || !strings.Contains(size, "result size ") {
			t.Errorf("cardinality report of %s:\n%s", bank, report)
		}
		got := result("card", bank)
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) != 2 || lines[0] != "result_size" || !strings.Contains(size, "result size "+lines[1]+" ") || lines[1] == "0" {
			t.Errorf("cardinality result of %s: %q; report %q", bank, got, size)
		}
	}

	// bank-a's write fails part way: the file it had stays whole.
	old := []byte("id,holders\nan earlier result,3\n")
	aOut := filepath.Join(s.dir, "big-bank-a-result.csv")
	if err := os.WriteFile(aOut, old, 0o600); err != nil {
		t.Fatal(err)
	}
	parties = runSession("big", func(bank string) *proc {
		if bank != "bank-a" {
			return s.startParty(t, "big", bank)
		}
		// A file size limit of a few KiB: the result is larger.
		return startCommand(t, s.dir, "/bin/sh", "-c", `ulimit -f 4 && exec "$0" "$@"`, binary(t),
			"party", "--config", "big-bank-a.json", "--data", "big-bank-a.csv", "--out", "big-bank-a-result.csv")
	})
	if parties[0].cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("bank-a wrote a result past the file size limit:\n%s", parties[0].stderr)
	}
	if got, err := os.ReadFile(aOut); err != nil || !bytes.Equal(got, old) {
		t.Errorf("after a failed write the result file holds %d bytes (%v), not the earlier file", len(got), err)
	}
	for i := 1; i < 3; i++ {
		if parties[i].cmd.ProcessState.ExitCode() != 0 {
			t.Fatalf("big %s: %v\n%s", s.banks[i], parties[i].cmd.ProcessState, parties[i].stderr)
		}
		checkOutput(t, filepath.Join(s.dir, "big-"+s.banks[i]+"-result.csv"), perRecord, bigTables, i)
	}
	noTempFiles(t, s.dir)

	// A session that fails (bank-c's table has a duplicate) leaves the
	// existing results as they were.
	bOut := filepath.Join(s.dir, "big-bank-b-result.csv")
	bBefore, _ := os.ReadFile(bOut)
	dup := bigTables[2]
	dup.IDs[5] = dup.IDs[4]
	writeCSV(t, filepath.Join(s.dir, "big-bank-c.csv"), dup)
	parties = runSession("big", func(bank string) *proc { return s.startParty(t, "big", bank) })
	for i, p := range parties {
		if p.cmd.ProcessState.ExitCode() == 0 {
			t.Fatalf("%s succeeded with a duplicate at bank-c", s.banks[i])
		}
	}
	if got, _ := os.ReadFile(aOut); !bytes.Equal(got, old) {
		t.Errorf("a failed session changed bank-a's file")
	}
	if got, _ := os.ReadFile(bOut); !bytes.Equal(got, bBefore) {
		t.Errorf("a failed session changed bank-b's file")
	}
	noTempFiles(t, s.dir)
}
