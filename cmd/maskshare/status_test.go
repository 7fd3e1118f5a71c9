package main

import (
	"bytes"
	"testing"

	"github.com/maskshare/maskshare"
)

// TestStatusLogAbove: on a terminal, a log line goes above the status line,
// which is drawn again after it, and end clears it; elsewhere the log line
// is written as it is.
func TestStatusLogAbove(t *testing.T) {
	var b bytes.Buffer
	s := &status{w: &b, tty: true}
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "keys"})
	s.Write([]byte("level=WARN msg=x\n"))
	s.end()
	line := "bank-a: phase 1, keys..."
	if want := clearLine + line + clearLine + "level=WARN msg=x\n" + line + clearLine; b.String() != want {
		t.Errorf("terminal: %q, want %q", b.String(), want)
	}
	b.Reset()
	s = &status{w: &b}
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "keys"})
	s.Write([]byte("level=WARN msg=x\n"))
	s.end()
	if want := "bank-a: keys...\nlevel=WARN msg=x\n"; b.String() != want {
		t.Errorf("not a terminal: %q, want %q", b.String(), want)
	}
}
