package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/transport"
)

// corruptCSV makes a party's data file unreadable: a value that is not a
// number.
func corruptCSV(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, "1,zz-bad-row,HQ,not-a-number,1\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A party that cannot read its data tells the coordinator why, and the
// others end at once with its name and reason; the coordinator's --runs 1
// returns (issue 9, item 1).
func TestBadPartyTellsTheOthers(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "s", params, demo.Generate(4, 3, 200, 0.5, 3))
	corruptCSV(t, filepath.Join(s.dir, "s-bank-c.csv"))
	coord := s.startCoordinator(t, "--runs", "1")
	a, b := s.startParty(t, "s", "bank-a"), s.startParty(t, "s", "bank-b")
	time.Sleep(2 * time.Second) // a and b wait for c
	c := s.startParty(t, "s", "bank-c")
	if err := c.wait(t, 30*time.Second); err == nil || !strings.Contains(c.stderr.String(), "not-a-number") {
		t.Fatalf("bank-c: %v\n%s", err, c.stderr)
	}
	for _, p := range []*proc{a, b} {
		err := p.wait(t, 30*time.Second)
		// c's reason is its error's category, never its data.
		stderr := p.stderr.String()
		if err == nil || !strings.Contains(stderr, "bank-c") || !strings.Contains(stderr, "table does not match") || strings.Contains(stderr, "not-a-number") {
			t.Fatalf("%v: %v\n%s", p.cmd.Args, err, stderr)
		}
	}
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
}

// A party whose table is bad (a duplicate identifier) fails before it
// dials: at once, even with no coordinator to reach (issue 9, item 1).
func TestBadTableFailsBeforeDialling(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	tables := demo.Generate(4, 3, 200, 0.5, 3)
	tables[0].AddRow(tables[0].IDs[0], 1, 1, 1)
	s.addSession(t, "s", params, tables)
	start := time.Now()
	p := s.startParty(t, "s", "bank-a") // no coordinator listens
	err := p.wait(t, 60*time.Second)
	if stderr := p.stderr.String(); err == nil || !strings.Contains(stderr, "duplicate identifier") {
		t.Fatalf("bank-a: %v\n%s", err, stderr)
	}
	// It tries to tell the coordinator for declineTimeout at most.
	if d := time.Since(start); d > declineTimeout+10*time.Second {
		t.Fatalf("bank-a took %v to fail", d)
	}
}

// A party that never arrives ends the session, after the coordinator's
// arrival bound (from the first arrival), for those that did, naming it
// (issue 9, item 1).
func TestCoordinatorArrivalTimeout(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "s", params, demo.Generate(4, 3, 200, 0.5, 3))
	coord := s.startCoordinator(t, "--runs", "1", "--arrival-timeout", "2s")
	// The bound runs from the first arrival: a coordinator nobody has
	// come to yet does not end the session.
	time.Sleep(3 * time.Second)
	a, b := s.startParty(t, "s", "bank-a"), s.startParty(t, "s", "bank-b")
	for _, p := range []*proc{a, b} {
		err := p.wait(t, 30*time.Second)
		if stderr := p.stderr.String(); err == nil || !strings.Contains(stderr, "bank-c did not arrive within 2s") {
			t.Fatalf("%v: %v\n%s", p.cmd.Args, err, stderr)
		}
	}
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
	if out := coord.stdout.String(); !strings.Contains(out, "FAILED") || !strings.Contains(out, "bank-c") {
		t.Fatalf("coordinator output:\n%s", out)
	}
}

// SIGTERM makes the coordinator tell the waiting parties it is shutting
// down, blaming none of them, and say so itself (issue 9, item 6).
func TestCoordinatorSIGTERM(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "s", params, demo.Generate(4, 3, 200, 0.5, 3))
	coord := s.startCoordinator(t)
	a, b := s.startParty(t, "s", "bank-a"), s.startParty(t, "s", "bank-b")
	time.Sleep(2 * time.Second)
	coord.cmd.Process.Signal(syscall.SIGTERM)
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
	if !strings.Contains(coord.stderr.String(), "shut down") {
		t.Fatalf("coordinator did not say it shut down:\n%s", coord.stderr)
	}
	for _, p := range []*proc{a, b} {
		err := p.wait(t, 30*time.Second)
		stderr := p.stderr.String()
		if err == nil || !strings.Contains(stderr, "coordinator shutting down") || strings.Contains(lastLine(stderr), "bank-") {
			t.Fatalf("%v: %v\n%s", p.cmd.Args, err, stderr)
		}
	}
}

// The coordinator's own certificate is checked against its CA and the
// clock at start-up (issue 9, item 5).
func TestOwnCertificateChecked(t *testing.T) {
	id, err := transport.NewSelfSigned("coordinator")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := transport.NewCA("some-ca")
	if err != nil {
		t.Fatal(err)
	}
	c := checker{"coordinator.json"}
	if err := c.ownCertificate(id, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.ownCertificate(id, ca.Pool(), time.Now()); err == nil || !strings.Contains(err.Error(), "not issued by the CA") {
		t.Fatalf("self-signed under a CA: %v", err)
	}
	if err := c.ownCertificate(id, nil, id.Certificate.NotBefore.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "not valid before") {
		t.Fatalf("before NotBefore: %v", err)
	}
	issued, err := ca.Issue("coordinator")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ownCertificate(issued, ca.Pool(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.ownCertificate(issued, ca.Pool(), issued.Certificate.NotAfter.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after NotAfter: %v", err)
	}
}

// A session whose party name cannot be a certificate name makes the
// coordinator fail at start-up with an error naming the field, and never
// serve (issue 9, item 5).
func TestCoordinatorBadPartyNameFailsFast(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	params.Parties[2] = "Bank C"
	s.sessions = []sessionConfig{{Name: "s", Params: params, Peers: map[string]string{
		"bank-a": s.keys["bank-a"], "bank-b": s.keys["bank-b"], "Bank C": s.keys["bank-c"]}}}
	coord := s.startCoordinator(t, "--runs", "1")
	err := coord.wait(t, 20*time.Second)
	if err == nil || !strings.Contains(coord.stderr.String(), `sessions[0].params.parties[2]: "Bank C" is not a valid name`) || strings.Contains(coord.stdout.String(), "FAILED") {
		t.Fatalf("coordinator: %v\nstdout:\n%.2000s\nstderr:\n%.2000s", err, coord.stdout.String(), coord.stderr)
	}
}

// A party killed while it waits for the others is no longer counted as
// present: the others wait on, and the session runs when it comes back
// (issue 9, item 2).
func TestKilledWaitingPartyDoesNotPoison(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	tables := demo.Generate(4, 3, 200, 0.5, 3)
	s.addSession(t, "s", params, tables)
	coord := s.startCoordinator(t, "--runs", "1")
	a := s.startParty(t, "s", "bank-a")
	time.Sleep(2 * time.Second) // admitted, waiting for the others
	a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	b, c := s.startParty(t, "s", "bank-b"), s.startParty(t, "s", "bank-c")
	time.Sleep(2 * time.Second)
	a = s.startParty(t, "s", "bank-a")
	for i, p := range []*proc{a, b, c} {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%v: %v\n%s\ncoordinator:\n%s", p.cmd.Args, err, p.stderr, coord.stderr)
		}
		checkOutput(t, filepath.Join(s.dir, "s-"+s.banks[i]+"-result.csv"), params, tables, i)
	}
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
}

// SIGTERM during a run: every party is told the coordinator is shutting
// down, and none is blamed (issue 9, item 6).
func TestCoordinatorSIGTERMDuringRun(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.ECDH, 0)
	s.addSession(t, "big", params, demo.Generate(3, 3, 4000, 0.5, 3))
	coord := s.startCoordinator(t)
	parties := s.startParties(t, "big")
	parties[2].stderr.waitFor(t, "bank-c: intersect...", time.Minute)
	coord.cmd.Process.Signal(syscall.SIGTERM)
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
	if out := coord.stdout.String(); !strings.Contains(out, "stopped") || !strings.Contains(out, "coordinator shutting down") {
		t.Fatalf("coordinator output:\n%s", out)
	}
	for _, p := range parties {
		err := p.wait(t, 30*time.Second)
		last := lastLine(p.stderr.String())
		if err == nil || !strings.Contains(last, "aborted by coordinator") || !strings.Contains(last, "coordinator shutting down") || strings.Contains(last, "bank-") {
			t.Fatalf("%v: %v\n%s", p.cmd.Args, err, p.stderr)
		}
	}
}
