// Package mpcsign is the signer pool of SPEC.md §4.2: an account's Ed25519
// key exists only as n FROST shares (RFC 9591, package frost), any t nodes
// drawn per request from a pool of at least n sign, and nothing is signed
// unless the account's owner authorised that exact message with a device
// signature (Ed25519) and a fresh TOTP code (RFC 6238).
//
// A share's identity (frost identifier, account, epoch) is separate from
// the node that uses it. Shares rest sealed (package custody's HPKE
// envelope, X-Wing hybrid post-quantum KEM by default) to the key holder's
// key in the holder's bbolt store ([Holder]). For each request the holder
// re-seals t shares, each to one of the t nodes chosen for it, binding the
// request id, account, message hash, epoch, share identifier and node name
// into the HPKE info. Each pool node ([Signer]) checks the authorisation
// itself before it opens its share, runs FROST's two rounds over the
// mutual-TLS transport, and erases the share: a node never stores one.
//
// [Holder.Refresh] replaces an account's shares by new ones of the same key
// at the next epoch. Each account has a refresh interval; run
// [Holder.RefreshDue] periodically (maskshare wallet refresh --due from a
// timer) to refresh those whose interval has passed.
//
// The wire formats, the authorisation rule and the threat model are in
// docs/CUSTODY.md, "Signer pool (custody/mpcsign)".
package mpcsign
