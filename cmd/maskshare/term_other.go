//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

import "os"

// isTerminal reports false: progress is printed as plain lines.
func isTerminal(*os.File) bool { return false }
