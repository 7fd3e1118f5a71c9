//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

// lockDir does not lock on this system: run one process per working
// directory.
func lockDir(string) (unlock func(), err error) { return func() {}, nil }
