package main

import (
	"fmt"
	"io"
	"os"
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
	if !p.Done {
		s.phase++
		s.line = fmt.Sprintf("%s: phase %d, %s...", p.Role, s.phase, p.Phase)
	} else {
		s.line = fmt.Sprintf("%s: phase %d, %s done in %v", p.Role, s.phase, p.Phase, p.Elapsed.Round(time.Millisecond))
	}
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
