// Package idpay implements identity keys for payments by QR code, the
// fourth key-custody system of the maskshare specification (SPEC.md §4.4):
// a user's Ed25519 key, made on the user's device, is tied to (business
// sub-domain ID, user ID) by a compact certificate from that sub-domain's
// issuer, so that a payer checks whom it pays with the issuer's public key
// alone, online (embodiment 1: the back end issues a fresh challenge, checks
// certificates and signatures, refuses replays and records the payment in a
// [custody.Store]) or offline (embodiment 2: the payee signs a fresh
// challenge with the transaction, the payer verifies it and signs back, and
// both keep receipts that the back end settles once when they reconnect).
//
// It replaces the historical combined-public-key (CPK) scheme, whose keys are
// linear combinations of one secret matrix, so that about a thousand
// colluding users can compute anyone's key (docs/CUSTODY.md, "Identity keys
// for QR payments", derives it; cpk_test.go demonstrates it). Here every key
// is independent and a coalition of users learns nothing about another's.
//
// Every object has a strict, versioned binary encoding (version byte, kind
// byte, fixed-order fields, big-endian integers, length-prefixed IDs, an
// Ed25519 signature over a domain-separated prefix of the encoding); QR
// codes carry it in base45 (RFC 9285) in the QR alphanumeric mode.
package idpay
