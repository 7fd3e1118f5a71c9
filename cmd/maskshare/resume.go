package main

import "github.com/maskshare/maskshare"

// The library's resume of bucketed sessions (maskshare.ErrSuspended and
// Config.WorkDir) is reached through these two functions only.

// resumeSupported says whether the library resumes suspended sessions;
// the kill-and-resume tests need it.
const resumeSupported = false

// suspended reports whether err is a bucketed session stopped by a lost
// participant, with its state kept on disk: running it again resumes it.
func suspended(err error) bool {
	_ = err
	return false // the library does not suspend sessions yet
}

// setWorkDir makes dir the coordinator's directory for a bucketed
// session's checkpoints.
func setWorkDir(cfg *maskshare.Config, dir string) {
	_, _ = cfg, dir // the library keeps no coordinator checkpoints yet
}
