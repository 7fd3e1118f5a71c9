package maskshare

import (
	"errors"
	"fmt"

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
}

func abortCode(err error) uint8 {
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

// AbortError reports that the session was aborted by another participant
// (Party is its name, or "coordinator"). No result was revealed.
type AbortError struct {
	Party  string
	Reason string
	code   uint8
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("maskshare: session aborted by %s: %s", e.Party, e.Reason)
}

// Unwrap returns the sentinel error matching the abort's reason, if any, so
// that errors.Is(err, ErrDuplicateID) holds for every participant.
func (e *AbortError) Unwrap() error {
	if int(e.code) < len(abortCodes) {
		return abortCodes[e.code]
	}
	return nil
}

// abortError builds the AbortError for a received Abort message.
func abortError(m *wire.Abort, names []string) *AbortError {
	who := "coordinator"
	if int(m.From) < len(names) {
		who = "party " + names[m.From]
	}
	return &AbortError{Party: who, Reason: m.Reason, code: m.Code}
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
