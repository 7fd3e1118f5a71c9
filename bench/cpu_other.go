//go:build !unix

package bench

// processCPU is not measured on this system; CPU times are reported as zero.
func processCPU() cpuTimes { return cpuTimes{} }
