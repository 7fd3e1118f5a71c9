package main

import (
	"errors"

	"github.com/maskshare/maskshare"
)

// resumeSupported says whether the library resumes suspended sessions;
// the kill-and-resume tests need it.
const resumeSupported = true

// suspended reports whether err is a bucketed session stopped by a lost
// participant, with its state kept on disk: running it again resumes it.
func suspended(err error) bool { return errors.Is(err, maskshare.ErrSuspended) }

// setWorkDir makes dir the coordinator's directory for a bucketed
// session's checkpoints.
func setWorkDir(cfg *maskshare.Config, dir string) { cfg.WorkDir = dir }
