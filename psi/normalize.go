package psi

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// ErrEmptyID is returned by Normalize for an identifier that is empty
	// or consists of white space only.
	ErrEmptyID = errors.New("psi: empty identifier")

	// ErrInvalidUTF8 is returned by Normalize for an identifier that is
	// not valid UTF-8.
	ErrInvalidUTF8 = errors.New("psi: identifier is not valid UTF-8")
)

// Normalize returns the canonical form of the identifier id that every party
// must apply before tagging or hashing it.
//
// Leading and trailing white space, as defined by Unicode (see
// strings.TrimSpace), is removed; white space inside the identifier is kept.
// If foldCase is true, every rune r is then replaced by
// unicode.ToLower(unicode.ToUpper(r)), so that for example U+212A KELVIN
// SIGN, "K" and "k" all agree. This is simple, rune-by-rune case
// folding: "ß" and "SS" stay different. The case tables are those of the Go
// release (unicode.Version), so parties whose identifiers contain non-ASCII
// letters should be built with the same release.
//
// No Unicode normalisation (NFC, NFKC) is applied: "é" written as one code
// point and "é" written as "e" followed by U+0301 are different identifiers.
// Callers whose sources mix such spellings must normalise them beforehand.
//
// Normalize returns ErrInvalidUTF8 if id is not valid UTF-8 and ErrEmptyID if
// nothing is left after trimming. It is idempotent: normalising its output
// again with the same foldCase returns that output unchanged. Distinct
// inputs can normalise to the same identifier, so a party must deduplicate
// its identifiers after normalising them (see ErrDuplicateItem).
func Normalize(id string, foldCase bool) (string, error) {
	// Validate before trimming, so that invalid bytes are reported instead of
	// being silently kept (TrimSpace does not inspect them).
	if !utf8.ValidString(id) {
		return "", ErrInvalidUTF8
	}
	s := strings.TrimSpace(id)
	if s == "" {
		return "", ErrEmptyID
	}
	if foldCase {
		// strings.Map returns s itself, without allocating, when no rune changes.
		s = strings.Map(foldRune, s)
	}
	return s, nil
}

// foldRune maps r to a representative of its simple case-folding orbit.
// Going through upper case first merges runes such as U+212A KELVIN SIGN and
// U+017F LATIN SMALL LETTER LONG S, whose lower case alone differs from the
// ASCII letter's. It never maps a non-space rune to a space, so folding after
// trimming cannot create new leading or trailing space.
func foldRune(r rune) rune {
	return unicode.ToLower(unicode.ToUpper(r))
}
