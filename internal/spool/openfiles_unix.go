//go:build unix

package spool

import "syscall"

// openFiles is the process's limit on open files (its soft limit, which
// the Go runtime raises to the hard limit at start-up), or 0 if unknown.
func openFiles() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<20 {
		return 0
	}
	return int(l.Cur)
}
