package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

// The tests in this file build the maskshare binary and run a coordinator
// and parties as separate processes talking over loopback mutual TLS.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "maskshare-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "maskshare")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeJSON(t *testing.T, path string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCSV writes a table with the demo's columns, in random column order
// and with extra columns, as a bank's export might be.
func writeCSV(t *testing.T, path string, tb *maskshare.Table) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"overdue", "customer", "branch", "balance", "loans"})
	for r, id := range tb.IDs {
		w.Write([]string{strconv.FormatInt(tb.Values[2][r], 10), id, "HQ",
			maskshare.FormatDecimal(tb.Values[0][r], 2), strconv.FormatInt(tb.Values[1][r], 10)})
	}
	w.Flush()
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr *lineBuffer
	done   chan error
}

// lineBuffer keeps stderr and lets a test wait for a line.
type lineBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineBuffer) feed(r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, s.Text())
		l.mu.Unlock()
	}
}

func (l *lineBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *lineBuffer) waitFor(t *testing.T, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(l.String(), substr) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q in stderr within %v:\n%s", substr, d, l.String())
}

func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), stderr: &lineBuffer{}, done: make(chan error, 1)}
	p.cmd.Dir = dir
	p.cmd.Stdout = &p.stdout
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.stderr.feed(errPipe)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(d):
		p.cmd.Process.Kill()
		t.Fatalf("%v did not finish within %v\nstderr:\n%s", p.cmd.Args, d, p.stderr)
		return nil
	}
}

// setup makes certificates, data files and configurations for the demo
// session named session in dir, and returns the tables.
type setup struct {
	dir, addr string
	banks     []string
	sessions  []sessionConfig
}

func newSetup(t *testing.T) *setup {
	dir := t.TempDir()
	s := &setup{dir: dir, addr: freeAddr(t), banks: []string{"bank-a", "bank-b", "bank-c"}}
	out, err := exec.Command(binary(t), append([]string{"keygen", "--dir", filepath.Join(dir, "certs"), "coordinator"}, s.banks...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	return s
}

func (s *setup) addSession(t *testing.T, name string, params maskshare.Params, tables []*maskshare.Table) {
	s.sessions = append(s.sessions, sessionConfig{Name: name, Params: params})
	for i, bank := range s.banks {
		writeCSV(t, filepath.Join(s.dir, name+"-"+bank+".csv"), tables[i])
		writeJSON(t, filepath.Join(s.dir, name+"-"+bank+".json"), partyConfig{
			Name: bank, Coordinator: s.addr, Session: name, Certs: "certs", IDColumn: "customer",
			Timeout: duration(2 * time.Minute), Params: params,
		})
	}
}

func (s *setup) startCoordinator(t *testing.T) *proc {
	writeJSON(t, filepath.Join(s.dir, "coordinator.json"), coordinatorConfig{
		Listen: s.addr, Certs: "certs", PhaseTimeout: duration(time.Minute), Sessions: s.sessions})
	return start(t, s.dir, "coordinator", "--config", "coordinator.json")
}

func (s *setup) startParty(t *testing.T, session, bank string) *proc {
	return start(t, s.dir, "party", "--config", session+"-"+bank+".json", "--data", session+"-"+bank+".csv", "--out", session+"-"+bank+"-result.csv")
}

// checkOutput compares a party's result file with a plaintext join.
func checkOutput(t *testing.T, path string, params maskshare.Params, tables []*maskshare.Table, self int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	join := demo.Join(tables)
	k := params.Threshold
	if k == 0 {
		k = len(tables)
	}
	var want []string
	for _, id := range tables[self].IDs {
		if join[id].Holders >= k {
			want = append(want, id)
		}
	}
	if !slices.Equal(rows[0], []string{"id", "holders", "balance", "loans", "overdue"}) {
		t.Fatalf("%s: header %v", path, rows[0])
	}
	var got []string
	for _, row := range rows[1:] {
		a := join[row[0]]
		if a == nil {
			t.Fatalf("%s: unknown id %q", path, row[0])
		}
		wantRow := []string{row[0], strconv.Itoa(a.Holders), maskshare.FormatDecimal(a.Sums[0], 2),
			strconv.FormatInt(a.Sums[1], 10), strconv.FormatInt(a.Sums[2], 10)}
		if !slices.Equal(row, wantRow) {
			t.Fatalf("%s: row %v, plaintext join %v", path, row, wantRow)
		}
		got = append(got, row[0])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %d qualifying ids, plaintext join %d", path, len(got), len(want))
	}
}

func TestMultiProcess(t *testing.T) {
	s := newSetup(t)
	params := demo.Params(3, maskshare.Keyed, 2)
	tables := demo.Generate(9, 3, 2000, 0.3, 3)
	s.addSession(t, "exposure", params, tables)
	// bank-a and bank-b exchange their sealed parts directly; bank-c's go
	// through the coordinator's relay.
	direct := map[string]string{"bank-a": freeAddr(t), "bank-b": freeAddr(t)}
	for _, bank := range []string{"bank-a", "bank-b"} {
		path := filepath.Join(s.dir, "exposure-"+bank+".json")
		var cfg partyConfig
		if err := readConfig(path, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.DirectListen, cfg.DirectPeers = direct[bank], direct
		writeJSON(t, path, cfg)
	}
	// The parties start first: they wait for the coordinator.
	parties := make([]*proc, 3)
	for i, bank := range s.banks {
		parties[i] = s.startParty(t, "exposure", bank)
	}
	time.Sleep(200 * time.Millisecond)
	coord := s.startCoordinator(t)
	for i, p := range parties {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", s.banks[i], err, p.stderr)
		}
		if !strings.Contains(p.stdout.String(), "bytes sent per record") {
			t.Fatalf("%s: no report:\n%s", s.banks[i], p.stdout.String())
		}
		if i < 2 && !strings.Contains(p.stdout.String(), "delivered directly: 1") {
			t.Fatalf("%s: no direct delivery:\n%s", s.banks[i], p.stdout.String())
		}
	}
	for i, bank := range s.banks {
		checkOutput(t, filepath.Join(s.dir, "exposure-"+bank+"-result.csv"), params, tables, i)
	}
	coord.cmd.Process.Signal(os.Interrupt)
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
	if !strings.Contains(coord.stdout.String(), "result size") {
		t.Fatalf("coordinator report missing:\n%s", coord.stdout.String())
	}
}

func TestPartyFromOtherCARefused(t *testing.T) {
	s := newSetup(t)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(1, 3, 50, 0.5, 3))
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()
	// bank-c's identity and CA come from somewhere else.
	out, err := exec.Command(binary(t), "keygen", "--dir", filepath.Join(s.dir, "rogue"), "--ca-name", "rogue-ca", "bank-c", "bank-a", "bank-b").CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(s.dir, "exposure-bank-c.json")
	var cfg partyConfig
	if err := readConfig(cfgPath, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Certs = "rogue"
	cfg.Timeout = duration(20 * time.Second)
	writeJSON(t, cfgPath, cfg)
	p := s.startParty(t, "exposure", "bank-c")
	err = p.wait(t, time.Minute)
	if err == nil || !strings.Contains(p.stderr.String(), "certificate") {
		t.Fatalf("rogue party: err %v, stderr:\n%s", err, p.stderr)
	}
}

func TestKilledPartyAbortsSessionAndCoordinatorServesOn(t *testing.T) {
	s := newSetup(t)
	params := demo.Params(3, maskshare.ECDH, 0)
	small := demo.Generate(2, 3, 200, 0.5, 3)
	big := demo.Generate(3, 3, 4000, 0.5, 3)
	s.addSession(t, "big", params, big)
	coord := s.startCoordinator(t)

	parties := make([]*proc, 3)
	for i, bank := range s.banks {
		parties[i] = s.startParty(t, "big", bank)
	}
	// Kill bank-c while it blinds.
	parties[2].stderr.waitFor(t, "bank-c: intersect...", time.Minute)
	parties[2].cmd.Process.Kill()
	for i := range 2 {
		err := parties[i].wait(t, time.Minute)
		stderr := parties[i].stderr.String()
		if err == nil || !strings.Contains(stderr, "aborted") || !strings.Contains(stderr, "bank-c") {
			t.Fatalf("%s after bank-c died: err %v, stderr:\n%s", s.banks[i], err, stderr)
		}
	}

	// The same coordinator serves the next session.
	s.addSession(t, "big", params, small) // rewrites the data files
	for i, bank := range s.banks {
		parties[i] = s.startParty(t, "big", bank)
	}
	for i, p := range parties {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("second run %s: %v\nstderr:\n%s\ncoordinator:\n%s", s.banks[i], err, p.stderr, coord.stderr)
		}
	}
	for i, bank := range s.banks {
		checkOutput(t, filepath.Join(s.dir, "big-"+bank+"-result.csv"), params, small, i)
	}
	if !strings.Contains(coord.stdout.String(), "FAILED") {
		t.Fatalf("coordinator did not report the failed run:\n%s", coord.stdout.String())
	}
}

func TestDemoCommand(t *testing.T) {
	out, err := exec.Command(binary(t), "demo", "--customers", "300", "--mode", "ecdh").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified: every bank's result equals the plaintext join") ||
		!strings.Contains(string(out), "bytes per record") {
		t.Fatalf("maskshare demo: %v\n%s", err, out)
	}
}
