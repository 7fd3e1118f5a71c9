package bench

import (
	"os"
	"syscall"
)

// rusageMaxRSS returns the peak resident set size of an exited child from
// its wait status (Linux reports it in KiB), or 0 if unknown.
func rusageMaxRSS(ps *os.ProcessState) uint64 {
	if ps == nil {
		return 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss < 0 {
		return 0
	}
	return uint64(ru.Maxrss) << 10
}
