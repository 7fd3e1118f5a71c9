package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	"github.com/maskshare/maskshare/transport"
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
	stdout syncBuffer
	stderr *lineBuffer
	done   chan error
}

// syncBuffer is a bytes.Buffer that a test may read while the process
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	return startCommand(t, dir, binary(t), args...)
}

// startCommand is start for any command.
func startCommand(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), stderr: &lineBuffer{}, done: make(chan error, 1)}
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

// setup is a deployment in a temporary directory: every participant made
// its own key with keygen in a directory of its own (dir/NAME), and the
// others know only its public key; with ca, a CA (dir/ca) certified every
// participant from its certificate request.
type setup struct {
	dir, addr string
	banks     []string
	keys      map[string]string // participant → public key, as keygen printed it
	ca        bool
	sessions  []sessionConfig
	workDir   string // the coordinator's work_dir, if set
}

func newSetup(t *testing.T, ca bool) *setup {
	s := &setup{dir: t.TempDir(), addr: freeAddr(t), banks: []string{"bank-a", "bank-b", "bank-c"}, keys: map[string]string{}, ca: ca}
	for _, name := range append([]string{"coordinator"}, s.banks...) {
		s.keys[name] = keygen(t, filepath.Join(s.dir, name), name)
	}
	if ca {
		run(t, s.dir, "ca", "init", "--dir", "ca", "--name", "test-ca")
		for _, name := range append([]string{"coordinator"}, s.banks...) {
			out := run(t, s.dir, "ca", "sign", "--dir", "ca", filepath.Join(name, name+".csr"))
			// The CA certified the key the participant made.
			if !strings.Contains(out, "issued "+name+" ") || !strings.Contains(out, s.keys[name]) {
				t.Fatalf("ca sign %s:\n%s", name, out)
			}
		}
	}
	return s
}

// run runs the binary in dir and returns its stdout; it must succeed.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("maskshare %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// runFail runs the binary in dir, which must fail, and returns its output.
func runFail(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("maskshare %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// keygen makes name's identity in dir and returns the public key it
// printed, checked against its fingerprint and against pubkey.
func keygen(t *testing.T, dir, name string) string {
	t.Helper()
	out := run(t, "", "keygen", "--dir", dir, name)
	key := field(t, out, "public key:")
	pub, err := transport.ParsePublicKey(key)
	if err != nil {
		t.Fatalf("keygen printed %q: %v", key, err)
	}
	if fp := field(t, out, "fingerprint:"); fp != transport.Fingerprint(pub) {
		t.Fatalf("keygen printed fingerprint %q for %s", fp, key)
	}
	if !strings.Contains(out, "never the .key") {
		t.Fatalf("keygen output:\n%s", out)
	}
	if got := strings.TrimSpace(run(t, dir, "pubkey", name+".crt")); got != key {
		t.Fatalf("pubkey %s.crt = %q, keygen printed %q", name, got, key)
	}
	return key
}

// field returns the rest of the line of out that starts with prefix.
func field(t *testing.T, out, prefix string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in:\n%s", prefix, out)
	return ""
}

// peers returns the pins of names, less except.
func (s *setup) peers(names []string, except string) map[string]string {
	m := make(map[string]string)
	for _, n := range names {
		if n != except {
			m[n] = s.keys[n]
		}
	}
	return m
}

func (s *setup) partyConfig(name, session string, params maskshare.Params) partyConfig {
	cfg := partyConfig{
		Name: name, Coordinator: s.addr, Session: session,
		Key: filepath.Join(name, name+".key"), Cert: filepath.Join(name, name+".crt"),
		CoordinatorKey: s.keys["coordinator"], Peers: s.peers(params.Parties, name),
		IDColumn: "customer", Timeout: duration(2 * time.Minute), Params: params,
	}
	if s.ca {
		cfg.CA = filepath.Join("ca", "ca.crt")
	}
	return cfg
}

func (s *setup) addSession(t *testing.T, name string, params maskshare.Params, tables []*maskshare.Table) {
	sc := sessionConfig{Name: name, Params: params, Peers: s.peers(params.Parties, "")}
	if i := slices.IndexFunc(s.sessions, func(x sessionConfig) bool { return x.Name == name }); i >= 0 {
		s.sessions[i] = sc
	} else {
		s.sessions = append(s.sessions, sc)
	}
	for i, bank := range s.banks {
		writeCSV(t, filepath.Join(s.dir, name+"-"+bank+".csv"), tables[i])
		writeJSON(t, filepath.Join(s.dir, name+"-"+bank+".json"), s.partyConfig(bank, name, params))
	}
}

// editParty rewrites a party's configuration.
func (s *setup) editParty(t *testing.T, session, bank string, edit func(*partyConfig)) {
	path := filepath.Join(s.dir, session+"-"+bank+".json")
	var cfg partyConfig
	if err := readConfig(path, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(&cfg)
	writeJSON(t, path, cfg)
}

func (s *setup) startCoordinator(t *testing.T, args ...string) *proc {
	cfg := coordinatorConfig{
		Listen: s.addr, Key: filepath.Join("coordinator", "coordinator.key"), Cert: filepath.Join("coordinator", "coordinator.crt"),
		PhaseTimeout: duration(time.Minute), Sessions: s.sessions, WorkDir: s.workDir,
	}
	if s.ca {
		cfg.CA = filepath.Join("ca", "ca.crt")
	}
	writeJSON(t, filepath.Join(s.dir, "coordinator.json"), cfg)
	return start(t, s.dir, append([]string{"coordinator", "--config", "coordinator.json"}, args...)...)
}

func (s *setup) startParty(t *testing.T, session, bank string) *proc {
	return start(t, s.dir, "party", "--config", session+"-"+bank+".json", "--data", session+"-"+bank+".csv", "--out", session+"-"+bank+"-result.csv")
}

// startParties starts every bank's party of session, in bank order.
func (s *setup) startParties(t *testing.T, session string) []*proc {
	parties := make([]*proc, len(s.banks))
	for i, bank := range s.banks {
		parties[i] = s.startParty(t, session, bank)
	}
	return parties
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

// TestMultiProcess runs a session between processes whose keys were each
// made separately by keygen and are trusted by pins alone.
func TestMultiProcess(t *testing.T) { testMultiProcess(t, false) }

// TestMultiProcessCA is TestMultiProcess with a CA that certified every
// participant from its request, on top of the pins.
func TestMultiProcessCA(t *testing.T) { testMultiProcess(t, true) }

func testMultiProcess(t *testing.T, ca bool) {
	s := newSetup(t, ca)
	params := demo.Params(3, maskshare.Keyed, 2)
	tables := demo.Generate(9, 3, 2000, 0.3, 3)
	s.addSession(t, "exposure", params, tables)
	// bank-a and bank-b exchange their sealed parts directly; bank-c's go
	// through the coordinator's relay.
	direct := map[string]string{"bank-a": freeAddr(t), "bank-b": freeAddr(t)}
	for _, bank := range []string{"bank-a", "bank-b"} {
		s.editParty(t, "exposure", bank, func(cfg *partyConfig) {
			cfg.DirectListen = direct[bank]
			cfg.DirectPeers = map[string]string{}
			for peer, addr := range direct {
				if peer != bank {
					cfg.DirectPeers[peer] = addr
				}
			}
		})
	}
	// The parties start first: they wait for the coordinator.
	parties := s.startParties(t, "exposure")
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
		path := filepath.Join(s.dir, "exposure-"+bank+"-result.csv")
		checkOutput(t, path, params, tables, i)
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", path, fi.Mode(), err)
		}
	}
	coord.cmd.Process.Signal(os.Interrupt)
	if err := coord.wait(t, 30*time.Second); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
	if !strings.Contains(coord.stdout.String(), "result size") {
		t.Fatalf("coordinator report missing:\n%s", coord.stdout.String())
	}
}

// TestPartyFromOtherCARefused: with a CA and pins, a party whose certificate
// holds its pinned key but was issued by another CA is refused; both must
// hold.
func TestPartyFromOtherCARefused(t *testing.T) {
	s := newSetup(t, true)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(1, 3, 50, 0.5, 3))
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()
	run(t, s.dir, "ca", "init", "--dir", "rogue-ca", "--name", "rogue-ca")
	run(t, s.dir, "ca", "sign", "--dir", "rogue-ca", "--out", filepath.Join("bank-c", "rogue.crt"), filepath.Join("bank-c", "bank-c.csr"))
	s.editParty(t, "exposure", "bank-c", func(cfg *partyConfig) {
		cfg.Cert = filepath.Join("bank-c", "rogue.crt")
		cfg.Timeout = duration(20 * time.Second)
	})
	p := s.startParty(t, "exposure", "bank-c")
	err := p.wait(t, time.Minute)
	if err == nil || !strings.Contains(p.stderr.String(), "authentication failed") {
		t.Fatalf("rogue party: err %v, stderr:\n%s", err, p.stderr)
	}
	coord.stderr.waitFor(t, "unknown authority", 30*time.Second)
}

// TestWrongPeerPinRefused: a party that pins a wrong key for another party
// refuses the session; every party ends with an authentication error and
// nobody writes a result.
func TestWrongPeerPinRefused(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(4, 3, 100, 0.5, 3))
	impostor := keygen(t, filepath.Join(s.dir, "impostor"), "bank-b")
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.Peers["bank-b"] = impostor })
	coord := s.startCoordinator(t, "--runs", "1")
	parties := s.startParties(t, "exposure")
	for i, p := range parties {
		err := p.wait(t, time.Minute)
		if err == nil || !strings.Contains(p.stderr.String(), "authentication failed") {
			t.Fatalf("%s: err %v, stderr:\n%s", s.banks[i], err, p.stderr)
		}
		t.Logf("%s: %s", s.banks[i], lastLine(p.stderr.String()))
	}
	for _, bank := range s.banks {
		if _, err := os.Stat(filepath.Join(s.dir, "exposure-"+bank+"-result.csv")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s wrote a result: %v", bank, err)
		}
	}
	if err := coord.wait(t, time.Minute); err != nil || !strings.Contains(coord.stdout.String(), "FAILED") {
		t.Fatalf("coordinator: %v\n%s", err, coord.stdout.String())
	}
}

// TestTLSPinsRefused: a party that pins a wrong key for the coordinator
// refuses it in the TLS handshake, and the coordinator refuses a party whose
// key it has not pinned.
func TestTLSPinsRefused(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(5, 3, 50, 0.5, 3))
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()

	wrongCoord := keygen(t, filepath.Join(s.dir, "other-coordinator"), "coordinator")
	s.editParty(t, "exposure", "bank-a", func(cfg *partyConfig) { cfg.CoordinatorKey = wrongCoord })
	p := s.startParty(t, "exposure", "bank-a")
	err := p.wait(t, time.Minute)
	stderr := p.stderr.String()
	if err == nil || !strings.Contains(stderr, "authentication failed") || !strings.Contains(stderr, "not the pinned key") {
		t.Fatalf("party pinning a wrong coordinator key: err %v, stderr:\n%s", err, stderr)
	}

	// bank-c made a new key, which the coordinator has not pinned.
	keygen(t, filepath.Join(s.dir, "new-bank-c"), "bank-c")
	s.editParty(t, "exposure", "bank-c", func(cfg *partyConfig) {
		cfg.Key, cfg.Cert = filepath.Join("new-bank-c", "bank-c.key"), filepath.Join("new-bank-c", "bank-c.crt")
	})
	p = s.startParty(t, "exposure", "bank-c")
	err = p.wait(t, time.Minute)
	stderr = p.stderr.String()
	if err == nil || !strings.Contains(stderr, "authentication failed") || !strings.Contains(stderr, "rejected this party's certificate") {
		t.Fatalf("party not pinned at the coordinator: err %v, stderr:\n%s", err, stderr)
	}
	coord.stderr.waitFor(t, "not the pinned key", 30*time.Second)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func TestKilledPartyAbortsSessionAndCoordinatorServesOn(t *testing.T) {
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.ECDH, 0)
	small := demo.Generate(2, 3, 200, 0.5, 3)
	big := demo.Generate(3, 3, 4000, 0.5, 3)
	s.addSession(t, "big", params, big)
	s.sessions[0].MinInterval = new(duration) // the second run follows at once
	coord := s.startCoordinator(t)

	parties := s.startParties(t, "big")
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
