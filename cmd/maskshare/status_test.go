package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

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

// TestStatusSteps: a step of a long phase shows the steps done, the
// records handled and the time left at the pace so far, as a bar on a
// terminal and as a plain line elsewhere; the last step claims no time left.
func TestStatusSteps(t *testing.T) {
	var b bytes.Buffer
	s := &status{w: &b, tty: true}
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "keys"})
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "intersect"})
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "intersect", Elapsed: 20 * time.Second, Step: 2, Steps: 5, Records: 600000})
	if want := clearLine + "bank-a: phase 2, intersect [########............] step 2/5, 600000 records, about 30s left"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("terminal: %q, want it to end in %q", b.String(), want)
	}
	b.Reset()
	s = &status{w: &b}
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "intersect", Elapsed: 20 * time.Second, Step: 2, Steps: 5, Records: 600000})
	s.progress(maskshare.Progress{Role: "bank-a", Phase: "intersect", Elapsed: 50 * time.Second, Step: 5, Steps: 5, Records: 1500000})
	if want := "bank-a: intersect step 2/5, 600000 records, about 30s left\nbank-a: intersect step 5/5, 1500000 records\n"; b.String() != want {
		t.Errorf("not a terminal: %q, want %q", b.String(), want)
	}
}
