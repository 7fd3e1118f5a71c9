package mpcsign

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. A node's refusal reaches the holder as a *RemoteError
// wrapping the same sentinel, so errors.Is works on both sides.
var (
	// ErrBadMessage reports a message that does not decode or breaks a
	// bound.
	ErrBadMessage = errors.New("mpcsign: malformed message")
	// ErrUnauthorized is wrapped by every refusal of an authorisation.
	ErrUnauthorized = errors.New("mpcsign: not authorised")
	// ErrBadDeviceSignature: the device signature does not verify under
	// the account's device key.
	ErrBadDeviceSignature = fmt.Errorf("%w: bad device signature", ErrUnauthorized)
	// ErrBadCode: the TOTP code is not the account's code for any recent
	// time step.
	ErrBadCode = fmt.Errorf("%w: wrong TOTP code", ErrUnauthorized)
	// ErrStaleCode: the TOTP code was the account's code, but for a time
	// step outside the accepted window, or the authorisation's time is
	// too far from the node's clock.
	ErrStaleCode = fmt.Errorf("%w: stale TOTP code or authorisation", ErrUnauthorized)
	// ErrCodeReused: the TOTP code's time step was already used at this
	// node, for another request (RFC 6238 §5.2: a code is accepted once).
	ErrCodeReused = fmt.Errorf("%w: TOTP code already used for another request", ErrUnauthorized)
	// ErrReplay: the request id was already accepted at this node.
	ErrReplay = fmt.Errorf("%w: request id already used", ErrUnauthorized)
	// ErrWrongMessage: the message to sign is not the one authorised.
	ErrWrongMessage = fmt.Errorf("%w: message differs from the authorised one", ErrUnauthorized)
	// ErrNotInNodeSet: the node is not in the authorised node set, or the
	// signing package's signers are not the authorised ones.
	ErrNotInNodeSet = fmt.Errorf("%w: node not in the authorised node set", ErrUnauthorized)

	// ErrUnknownAccount: the node or holder has no such account.
	ErrUnknownAccount = errors.New("mpcsign: unknown account")
	// ErrForbidden: the peer is not the account's holder.
	ErrForbidden = errors.New("mpcsign: forbidden")
	// ErrConflict: an account exists already, or a record would change
	// what may not change (group key, device key).
	ErrConflict = errors.New("mpcsign: conflict")
	// ErrEpoch: a share or package of an epoch the node does not accept.
	ErrEpoch = errors.New("mpcsign: wrong epoch")
	// ErrBadShare: a share does not open for this node and request, or
	// does not match the account's public key package.
	ErrBadShare = errors.New("mpcsign: bad share")
	// ErrNoSession: round two for a request this node has no round one
	// for (expired, finished, or never started).
	ErrNoSession = errors.New("mpcsign: no signing session for the request")
	// ErrNodeInternal: the node failed; details stay in its log.
	ErrNodeInternal = errors.New("mpcsign: node internal error")
	// ErrTooFewNodes: fewer than t healthy nodes, or fewer than t nodes
	// given.
	ErrTooFewNodes = errors.New("mpcsign: fewer nodes than the threshold")
	// ErrCheater: a signing failed because nodes sent invalid signature
	// shares; see CheaterError.
	ErrCheater = errors.New("mpcsign: cheating signer")
	// ErrRefreshIncomplete: a refresh gathered fewer than t
	// acknowledgements; the old shares are kept.
	ErrRefreshIncomplete = errors.New("mpcsign: refresh not acknowledged by t nodes")
	// ErrBusy: the node has as many sessions pending as it keeps
	// (MaxSessions), or this peer has (MaxDKGSessionsPerPeer); try again
	// once some finish or expire.
	ErrBusy = errors.New("mpcsign: node busy")
)

// RemoteError is a node's refusal, as the holder sees it.
type RemoteError struct {
	Node string
	Err  error  // the sentinel the node's code names
	Text string // the node's text
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("mpcsign: node %s: %s", e.Node, e.Text)
}

func (e *RemoteError) Unwrap() error { return e.Err }

// CheaterError names the nodes whose signature shares failed RFC 9591's
// check in one signing; the holder records it. It wraps ErrCheater and the
// frost.CheaterError it comes from.
type CheaterError struct {
	Account   string
	RequestID [RequestIDSize]byte
	Nodes     []string // node names, in the order of Identifiers
	// Identifiers are the frost identifiers of the cheaters' shares.
	Identifiers []uint16
	Err         error // the *frost.CheaterError
}

func (e *CheaterError) Error() string {
	return fmt.Sprintf("mpcsign: account %s, request %x: invalid signature shares from node(s) %s",
		e.Account, e.RequestID, strings.Join(e.Nodes, ", "))
}

func (e *CheaterError) Unwrap() []error { return []error{ErrCheater, e.Err} }

// TooFewError reports a request that could not get t nodes.
type TooFewError struct {
	Healthy, Need int
	Failed        map[string]error // node name -> why it was not used
}

func (e *TooFewError) Error() string {
	return fmt.Sprintf("mpcsign: %d healthy nodes, %d needed", e.Healthy, e.Need)
}

func (e *TooFewError) Unwrap() error { return ErrTooFewNodes }
