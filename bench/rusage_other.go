//go:build !linux

package bench

import "os"

// rusageMaxRSS is not measured on this system (getrusage's units differ).
func rusageMaxRSS(*os.ProcessState) uint64 { return 0 }
