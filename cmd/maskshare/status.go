package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/maskshare/maskshare"
)

// status shows a party's progress: on a terminal, one line that each phase
// rewrites in place (its number and name); elsewhere, a plain line as each
// phase starts and ends. Log lines written through it go above the status
// line, which end clears.
type status struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	phase int    // phases started
	line  string // the status line shown, on a terminal
}

const clearLine = "\r\x1b[K"

func newStatus(f *os.File) *status { return &status{w: f, tty: isTerminal(f)} }

// progress is the maskshare.Config.Progress callback.
func (s *status) progress(p maskshare.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty {
		printProgress(s.w, p)
		return
	}
	if !p.Done && p.Steps == 0 {
		s.phase++
	}
	s.line = fmt.Sprintf("%s: phase %d, %s", p.Role, s.phase, describeProgress(p, true))
	io.WriteString(s.w, clearLine+s.line)
}

// Write writes a log line above the status line.
func (s *status) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty || s.line == "" {
		return s.w.Write(b)
	}
	io.WriteString(s.w, clearLine)
	n, err := s.w.Write(b)
	io.WriteString(s.w, s.line)
	return n, err
}

// end clears the status line.
func (s *status) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.line != "" {
		io.WriteString(s.w, clearLine)
		s.line = ""
	}
}

// describeProgress says where a phase is: "keys...", "keys done in 12ms",
// or, after a step of a long phase, the steps done (as a bar on a
// terminal), the records handled and an estimate of the time left.
func describeProgress(p maskshare.Progress, bar bool) string {
	switch {
	case p.Steps > 0:
		var b strings.Builder
		b.WriteString(p.Phase)
		if bar {
			const width = 20
			filled := width * p.Step / p.Steps
			fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", filled), strings.Repeat(".", width-filled))
		}
		fmt.Fprintf(&b, " step %d/%d, %d records", p.Step, p.Steps, p.Records)
		if left, ok := p.Left(); ok && p.Step < p.Steps {
			fmt.Fprintf(&b, ", about %v left", roundLeft(left))
		}
		return b.String()
	case p.Done:
		return fmt.Sprintf("%s done in %v", p.Phase, p.Elapsed.Round(time.Millisecond))
	default:
		return p.Phase + "..."
	}
}

// roundLeft rounds an estimate to what it is worth: seconds under ten
// minutes, minutes above.
func roundLeft(d time.Duration) time.Duration {
	if d < 10*time.Minute {
		return max(d.Round(time.Second), time.Second)
	}
	return d.Round(time.Minute)
}
