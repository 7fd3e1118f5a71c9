// Package psi implements the private set intersection (PSI) primitives of
// maskshare: normalisation of customer identifiers, two ways of turning them
// into pseudonymous items, and the intersection that the coordinator computes
// over those items.
//
// # Identifiers
//
// Parties must agree byte for byte on an identifier before any of the
// constructions below can match it, so every identifier should first go
// through [Normalize]: leading and trailing Unicode white space is removed
// and, optionally, case is folded rune by rune with
// unicode.ToLower(unicode.ToUpper(r)). No Unicode normalisation (NFC, NFKC) is
// applied, so precomposed and decomposed spellings of the same text differ.
//
// # Keyed mode
//
// In keyed mode the parties share a secret key that the coordinator never
// learns. A [Tagger] maps each identifier to a 128-bit [Tag], the truncated
// HMAC-SHA256 of a per-session context and the identifier. Tags are cheap
// (well under a microsecond each) but anyone holding the key can tag guessed
// identifiers, so a party colluding with the coordinator can test whether an
// identifier is in another party's list.
//
// # ECDH mode
//
// In ECDH mode no secret is shared. Each party draws a [Key] and the items are
// ristretto255 elements: a party hashes its identifiers to the group and
// blinds them with its key ([Key.HashAndBlind]); every other party then
// blinds the list once more with its own key ([Key.Blind]). Scalar
// multiplication commutes, so an identifier held by several parties ends up
// as the same fully blinded [Element] in each of their lists. In the random
// oracle model and under the decisional Diffie–Hellman assumption in
// ristretto255, the fully blinded elements of identifiers that a party does
// not hold look random to that party and to the coordinator, provided every
// party follows the protocol and keeps its key secret. The hash is RFC 9380's
// hash_to_ristretto255 (expand_message_xmd with SHA-512, then RFC 9496's
// element derivation) with the domain separation tag "maskshare-ecdh-v1".
// The group is ristretto255 (RFC 9496) on filippo.io/edwards25519
// (internal/ristretto255); scalars are edwards25519.Scalar, and blinding
// is edwards25519's constant-time variable-base Point.ScalarMult. Every
// identifier costs every party a scalar multiplication, some tens of
// microseconds of CPU time, which [Key.HashAndBlind] and [Key.Blind]
// spread over all cores.
//
// # Intersection
//
// [Intersect] is run by the coordinator over the tags or fully blinded
// elements of all parties. It reports the items held by at least k parties,
// numbered in ascending byte order of the item, without seeing anything but
// the items themselves.
//
// Both modes give the coordinator the intersection pattern (which positions
// of which lists hold a common item) and the list sizes; hiding those is not
// a goal of this package. The protocol that orders the messages between the
// parties lives in the root maskshare package.
package psi
