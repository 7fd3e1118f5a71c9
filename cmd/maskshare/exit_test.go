package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/custody/idpay"
	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/internal/demo"
)

// runExit runs the binary in dir, which must fail, and returns its exit
// code and combined output.
func runExit(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("maskshare %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return ee.ExitCode(), string(out)
}

// TestExitCodeMapping checks the class of each kind of error, the order
// included: an abort by another participant wraps the sentinel of its
// reason, and a forged one wraps ErrCheating.
func TestExitCodeMapping(t *testing.T) {
	abort := &maskshare.AbortError{Party: "party bank-c", Reason: "duplicate identifier"}
	cheat := &maskshare.CheatingError{Check: "match", Party: "coordinator"}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{badInput(errors.New("config.json: name: required")), exitInput},
		{fmt.Errorf("wrapped: %w", flag.ErrHelp), exitInput},
		{&maskshare.InputError{Row: 3, Other: 1, Err: maskshare.ErrDuplicateID}, exitInput},
		{fmt.Errorf("x: %w", maskshare.ErrParamsMismatch), exitInput},
		{fmt.Errorf("%w: %w", abort, maskshare.ErrDuplicateID), exitPeer},
		{abort, exitPeer},
		{fmt.Errorf("x: %w", maskshare.ErrPartyUnavailable), exitPeer},
		{fmt.Errorf("x: %w", maskshare.ErrAuthentication), exitPeer},
		{fmt.Errorf("join: %w", context.DeadlineExceeded), exitTimeout},
		{cheat, exitCheating},
		{fmt.Errorf("%w: %w", abort, cheat), exitCheating},
		{errors.New("disk on fire"), exitInternal},
		// Key nodes that failed: their errors may wrap a dial timeout.
		{peerFailure(slicing.NodeErrors{"client-3": fmt.Errorf("dial: %w", context.DeadlineExceeded)}), exitPeer},
		{peerFailure(&slicing.RecoverError{Got: 2, Need: 3}), exitPeer},
		// A payment or certificate that does not verify.
		{fmt.Errorf("verify: %w", idpay.ErrRefused), exitCheating},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestExitCodes provokes, through the CLI, each class that is cheap to
// provoke: this party's bad flags, configuration or data (2; the CSV error
// naming the file's line, the timeout error the timeout, never the data),
// a peer's abort (3), and the timeout (4).
func TestExitCodes(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	tables := demo.Generate(11, 3, 50, 0.5, 3)
	s.addSession(t, "exposure", params, tables)
	cfgA, dataA := "exposure-bank-a.json", "exposure-bank-a.csv"
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(3 * time.Second) })

	// Bad input: an unknown flag, a cell that is not a number, trailing
	// data after the configuration, a negative timeout.
	check := func(what string, want int, substr string, args ...string) string {
		t.Helper()
		code, out := runExit(t, s.dir, args...)
		if code != want || !strings.Contains(out, substr) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", what, code, want, substr, out)
		}
		return out
	}
	check("unknown flag", exitInput, "flag provided but not defined", "party", "--config", cfgA, "--data", dataA, "--bogus")
	bad := filepath.Join(s.dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("customer,balance,loans,overdue\nx1,1.00,1,0\nx2,ten,1,0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("bad cell", exitInput, "csv line 3", "party", "--config", cfgA, "--data", "bad.csv")

	raw, err := os.ReadFile(filepath.Join(s.dir, cfgA))
	if err != nil {
		t.Fatal(err)
	}
	for i, trailer := range []string{"}", "]", "{}", " x"} {
		path := fmt.Sprintf("trailing-%d.json", i)
		if err := os.WriteFile(filepath.Join(s.dir, path), append(raw[:len(raw):len(raw)], trailer...), 0o600); err != nil {
			t.Fatal(err)
		}
		check("trailing "+trailer, exitInput, path+": data after the configuration", "party", "--config", path, "--data", dataA)
	}

	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(-time.Second) })
	if out := check("negative timeout", exitInput, cfgA+": timeout: negative", "party", "--config", cfgA, "--data", dataA); strings.Contains(out, dataA) {
		t.Errorf("a negative timeout blames the data file:\n%s", out)
	}

	// Timeout: a bound so short it ends while the data is read, and one
	// that ends while waiting for a coordinator that never comes.
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(time.Nanosecond) })
	if out := check("timeout while reading", exitTimeout, "timeout (1ns) ran out while reading "+dataA, "party", "--config", cfgA, "--data", dataA); strings.Contains(out, "maskshare party: "+dataA) {
		t.Errorf("the timeout is blamed on the data file:\n%s", out)
	}
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(2 * time.Second) })
	check("timeout waiting", exitTimeout, "deadline exceeded", "party", "--config", cfgA, "--data", dataA)
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Timeout = duration(time.Minute) })

	// A peer's abort: bank-c's table repeats an identifier. bank-c exits
	// with bad input, naming the lines of its file (a blank line after the
	// header shifts them: data rows 4 and 5 are on lines 7 and 8); bank-a
	// and bank-b with a peer's failure, naming bank-c.
	c := tables[2]
	c.IDs[5] = c.IDs[4]
	writeCSV(t, filepath.Join(s.dir, "exposure-bank-c.csv"), c)
	data, err := os.ReadFile(filepath.Join(s.dir, "exposure-bank-c.csv"))
	if err != nil {
		t.Fatal(err)
	}
	header, rest, _ := strings.Cut(string(data), "\n")
	if err := os.WriteFile(filepath.Join(s.dir, "exposure-bank-c.csv"), []byte(header+"\n\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()
	parties := s.startParties(t, "exposure")
	for i, p := range parties {
		p.wait(t, time.Minute)
		code, stderr := p.cmd.ProcessState.ExitCode(), p.stderr.String()
		switch i {
		case 2:
			if code != exitInput || !strings.Contains(stderr, "exposure-bank-c.csv: maskshare: duplicate identifier: csv line 8 (same as csv line 7)") {
				t.Errorf("bank-c with a duplicate: exit %d:\n%s", code, stderr)
			}
		default:
			if code != exitPeer || !strings.Contains(stderr, "aborted by party bank-c") {
				t.Errorf("%s after bank-c's abort: exit %d:\n%s", s.banks[i], code, stderr)
			}
		}
	}
}

// TestExitCodeCoordinatorDies: a coordinator that dies during a session is
// a peer's failure (3) at every party, not an internal error, and nobody
// writes a result.
func TestExitCodeCoordinatorDies(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.ECDH, 0)
	s.addSession(t, "big", params, demo.Generate(3, 3, 4000, 0.5, 3))
	coord := s.startCoordinator(t)
	parties := s.startParties(t, "big")
	parties[2].stderr.waitFor(t, "bank-c: intersect...", time.Minute)
	coord.cmd.Process.Kill()
	for i, p := range parties {
		p.wait(t, time.Minute)
		if code := p.cmd.ProcessState.ExitCode(); code != exitPeer || !strings.Contains(p.stderr.String(), "coordinator") {
			t.Errorf("%s after the coordinator died: exit %d:\n%s", s.banks[i], code, lastLine(p.stderr.String()))
		}
		if _, err := os.Stat(filepath.Join(s.dir, "big-"+s.banks[i]+"-result.csv")); err == nil {
			t.Errorf("%s wrote a result", s.banks[i])
		}
	}
	noTempFiles(t, s.dir)
}
