package maskshare

import (
	"errors"
	"fmt"
	"slices"

	"github.com/maskshare/maskshare/internal/wire"
)

// Errors a session can end with. Input errors wrap them in an *InputError;
// a session aborted by another participant returns an *AbortError whose
// Unwrap gives the sentinel for the reason, when there is one.
var (
	ErrEmptyInput       = errors.New("maskshare: empty input")
	ErrDuplicateID      = errors.New("maskshare: duplicate identifier")
	ErrInvalidID        = errors.New("maskshare: invalid identifier")
	ErrSchema           = errors.New("maskshare: table does not match the session's columns")
	ErrOverflow         = errors.New("maskshare: values could overflow the n-party sum")
	ErrParams           = errors.New("maskshare: invalid session parameters")
	ErrParamsMismatch   = errors.New("maskshare: session parameters differ between participants")
	ErrResultTooSmall   = errors.New("maskshare: result smaller than the session's minimum; nothing revealed")
	ErrProtocol         = errors.New("maskshare: protocol violation")
	ErrAuthentication   = errors.New("maskshare: peer authentication failed")
	ErrTranscript       = errors.New("maskshare: participants disagree on the result")
	ErrPartyUnavailable = errors.New("maskshare: a participant stopped answering")
	ErrNoIdentities     = errors.New("maskshare: no peer identities (set Config.InsecureNoIdentities to run without)")
	ErrRunLimit         = errors.New("maskshare: the coordinator's run limit for this session is reached")
	// ErrCheating is wrapped by every error that reports a deviation from
	// the protocol a participant cannot have made honestly, detected by one
	// of the integrity checks; the error is a *CheatingError naming the
	// check: "abort attribution" (an abort the coordinator relays as a
	// party's that the party did not sign; see AbortError); in ecdh mode
	// "ecdh list authentication" (a list altered between the parties that
	// produce and consume it), "ecdh blinding proof" (a blinding not proven
	// with the key its party committed to), "ecdh blinding check" (a list
	// that came back to its owner not blinded element by element with the
	// committed keys) and "ecdh list size"; "match" and "values" (the
	// parties' checks of the coordinator's Match and sums); "match",
	// "reveal", "confirm" and "message order" for a message no honest
	// coordinator sends; and "transcript" (docs/PROTOCOL.md §5, §6.1, §9).
	ErrCheating = errors.New("maskshare: a participant deviated from the protocol")
	// ErrStopped reports a session that the coordinator ended because it
	// was stopped (shut down, or its context ended), not because of a party.
	ErrStopped = errors.New("maskshare: the coordinator stopped the session")
	// ErrSuspended reports a bucketed session with checkpoints that
	// stopped because a participant was lost or stopped: every
	// participant keeps its state, and running it again (Party.Run and
	// Coordinator.Run with fresh connections) resumes it from the last
	// step every participant completed.
	ErrSuspended = errors.New("maskshare: session suspended; run it again to resume")
)

// abortCodes maps the sentinels that travel in Abort messages to their codes;
// index 0 is "other".
var abortCodes = []error{
	nil,
	ErrEmptyInput,
	ErrDuplicateID,
	ErrInvalidID,
	ErrSchema,
	ErrOverflow,
	ErrParams,
	ErrParamsMismatch,
	ErrResultTooSmall,
	ErrProtocol,
	ErrAuthentication,
	ErrTranscript,
	ErrPartyUnavailable,
	ErrNoIdentities,
	ErrRunLimit,
	ErrCheating,
	ErrStopped,
	ErrSuspended,
}

func abortCode(err error) uint8 {
	// A deviation is reported as such, whatever else its error wraps (a
	// coordinator's malformed Match is also a protocol violation).
	if errors.Is(err, ErrCheating) {
		return uint8(slices.Index(abortCodes, ErrCheating))
	}
	if errors.Is(err, ErrSuspended) { // whatever lost the participant
		return uint8(slices.Index(abortCodes, ErrSuspended))
	}
	for i, e := range abortCodes[1:] {
		if errors.Is(err, e) {
			return uint8(i + 1)
		}
	}
	return 0
}

// InputError reports bad input in a party's own table. Row is the 0-based
// index of the row in the table (-1 when the error is not about one row) and
// Other the earlier row it conflicts with, if any.
type InputError struct {
	Row    int
	Other  int
	Column string
	Err    error
	Detail string
}

func (e *InputError) Error() string {
	msg := e.Err.Error()
	if e.Row >= 0 {
		msg += fmt.Sprintf(" at row %d", e.Row)
	}
	if e.Other >= 0 {
		msg += fmt.Sprintf(" (same as row %d)", e.Other)
	}
	if e.Column != "" {
		msg += fmt.Sprintf(" in column %q", e.Column)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

// CheatingError reports that an integrity check found a deviation from the
// protocol: Check names the check, Party the participant that deviated
// ("coordinator" or "party NAME"; empty when it cannot be known) and Err
// says what was found, without secrets. errors.Is(err, ErrCheating) holds.
type CheatingError struct {
	Check string
	Party string
	Err   error
}

func (e *CheatingError) Error() string {
	who := "a participant"
	if e.Party != "" {
		who = "the " + e.Party
		if e.Party != "coordinator" {
			who = e.Party
		}
	}
	msg := fmt.Sprintf("maskshare: %s deviated from the protocol (check %q)", who, e.Check)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrCheating and Err, so that a deviation that is also,
// say, a protocol violation satisfies errors.Is for both.
func (e *CheatingError) Unwrap() []error { return []error{ErrCheating, e.Err} }

// AbortError reports that the session was aborted by another participant
// (Party is "party NAME", or "coordinator"). No result was revealed.
//
// An abort from a party reaches the others through the coordinator, signed
// by the party's identity key. It names the party only if the signature
// verifies under the key pinned for it; otherwise Party is "coordinator",
// the Reason says which party the abort claimed to come from, and the error
// also wraps a *CheatingError (check "abort attribution", ErrCheating):
// an honest coordinator relays only aborts it has verified, so a forged,
// altered or replayed one is the coordinator's deviation. Without identities
// (Config.InsecureNoIdentities and no key pinned for the party) there is
// nothing to verify and the coordinator's word is all there is: the abort
// names the party it says.
type AbortError struct {
	Party  string
	Reason string
	code   uint8
	cheat  *CheatingError
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("maskshare: session aborted by %s: %s", e.Party, e.Reason)
}

// Unwrap returns the sentinel error matching the abort's code, if any, so
// that errors.Is(err, ErrDuplicateID) holds for every participant, and for
// an abort whose claimed sender did not sign it the *CheatingError too, so
// that errors.Is(err, ErrCheating) holds as well.
func (e *AbortError) Unwrap() []error {
	var out []error
	if int(e.code) < len(abortCodes) && abortCodes[e.code] != nil {
		out = append(out, abortCodes[e.code])
	}
	if e.cheat != nil {
		out = append(out, e.cheat)
	}
	return out
}

// abortError builds the AbortError for a received Abort message, taking its
// sender at its word.
func abortError(m *wire.Abort, names []string) *AbortError {
	who := "coordinator"
	if int(m.From) < len(names) {
		who = "party " + names[m.From]
	}
	// The reason is a peer's text: never printed raw.
	return &AbortError{Party: who, Reason: printable(m.Reason), code: m.Code}
}

// publicReason is what other participants are told when err aborts the
// session: the error's category, never row numbers or values.
func publicReason(err error) string {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Err.Error()
	}
	var ae *AbortError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return err.Error()
}
