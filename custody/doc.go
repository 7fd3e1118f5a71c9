// Package custody holds what the four key-custody systems of SPEC.md §4 share:
// node identities, sealed envelopes, the embedded store and authorisation.
// Each system lives in its own sub-package (custody/slicing for key slicing
// with recovery, and the others as they arrive) and builds on these shared
// parts rather than on each other.
package custody
