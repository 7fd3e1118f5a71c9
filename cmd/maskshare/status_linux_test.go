package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

// openPTY opens a pseudo-terminal and returns its two ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the pseudo-terminal's slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestIsTerminal(t *testing.T) {
	_, slave := openPTY(t)
	if !isTerminal(slave) {
		t.Error("a pseudo-terminal is not a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(w) || isTerminal(null) {
		t.Error("a pipe or /dev/null (a character device) taken for a terminal")
	}
}

// TestProgressLine: a party whose stderr is a terminal shows one status
// line, rewritten at each phase with its number and name and cleared at the
// end; a party whose stderr is not a terminal prints a plain line per phase
// start and end.
func TestProgressLine(t *testing.T) {
	master, slave := openPTY(t)
	s := newSetup(t, false)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(12, 3, 100, 0.5, 3))
	coord := s.startCoordinator(t)
	defer coord.cmd.Process.Kill()

	cmd := exec.Command(binary(t), "party", "--config", "exposure-bank-a.json", "--data", "exposure-bank-a.csv")
	cmd.Dir = s.dir
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child has its own
	term := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(master) // until EIO once the child exits
		term <- b
	}()
	others := []*proc{s.startParty(t, "exposure", "bank-b"), s.startParty(t, "exposure", "bank-c")}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bank-a: %v", err)
	}
	var out string
	select {
	case b := <-term:
		out = string(b)
	case <-time.After(30 * time.Second):
		t.Fatal("no end of the terminal's output")
	}
	for _, want := range []string{clearLine + "bank-a: phase 1, prepare...", clearLine + "bank-a: phase 1, prepare done in ", ", intersect..."} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "bank-a: intersect...\r\n") || strings.Contains(out, "done in 0s\r\n") || !strings.HasSuffix(out, clearLine) {
		t.Errorf("terminal output not one status line, cleared at the end:\n%q", out)
	}
	if !strings.Contains(stdout.String(), "party bank-a:") {
		t.Errorf("bank-a's report:\n%s", stdout.String())
	}
	for i, p := range others {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%v: %v", p.cmd.Args, err)
		}
		stderr := p.stderr.String()
		name := s.banks[i+1]
		if strings.Contains(stderr, "\x1b[") || !strings.Contains(stderr, name+": intersect...\n"+name+": intersect done in ") {
			t.Errorf("%s (stderr a pipe): not plain lines:\n%q", name, stderr)
		}
	}
}
