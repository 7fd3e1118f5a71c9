// Package frost implements FROST, the two-round threshold Schnorr signature
// scheme of RFC 9591 ("The Flexible Round-Optimized Schnorr Threshold
// (FROST) Protocol for Two-Round Schnorr Signatures"), for the ciphersuites
// FROST(Ed25519, SHA-512) ([Ed25519], §6.1) and FROST(ristretto255, SHA-512)
// ([Ristretto255], §6.2), on filippo.io/edwards25519. It passes the RFC's
// Appendix E vectors byte for byte, and its Ed25519 group signatures are
// RFC 8032 signatures that crypto/ed25519 and OpenSSL verify.
//
// A t-of-n key is a [PublicKeyPackage] (group key, every signer's verifying
// share, t) and one [KeyShare] per signer. [Deal] makes them as the RFC's
// trusted dealer (Appendix C); a DKG or a refresh makes them with
// [NewPublicKeyPackage] and [NewKeyShare], which check that the pieces fit
// together. Signing:
//
//  1. each of at least t signers calls [Commit] and sends its
//     [SigningCommitments] to the coordinator, keeping the [SigningNonces];
//  2. the coordinator sends a [SigningPackage] (message, commitments sorted
//     by identifier) to those signers; each returns a [SignatureShare] from
//     [Sign], which consumes its nonces;
//  3. the coordinator calls [Aggregate], which verifies the signature and,
//     if it is invalid, names every signer with an invalid share in a
//     [*CheaterError].
//
// FROST is not robust: one cheating signer stops a signature, but is
// identified, and the coordinator can retry without it.
//
// Keys without a dealer: [DKGParticipant] implements C2SP COCKTAIL-DKG
// v0.2.1 (https://c2sp.org/cocktail-dkg) for COCKTAIL(Ed25519, SHA-512)
// and COCKTAIL(Ristretto255, SHA-512), with [DKGCoordinator] as the
// untrusted relay and [DKGCertificate] as the success certificate an
// auditor verifies; a participant that cheats is named in a
// [*DKGBlameError]. [NewRefresh] and [ApplyRefresh] refresh the shares of a
// key (Herzberg et al., CRYPTO 1995) without changing it; [RepairSplit],
// [RepairCombine] and [RepairFinish] rebuild a lost share or enrol a new
// signer (Laing and Stinson, eprint 2017/1155).
//
// Identifiers are uint16 values 1..65535 (the RFC's non-zero scalars), at
// most [MaxSigners] per key. The binary encodings (Marshal and the
// Unmarshal functions) are versioned and carry the suite; every decoder
// validates canonical scalars, valid non-identity elements of the suite's
// prime-order group, identifiers and bounds before use.
//
// Constant time. Secret scalars — secret shares, nonces, polynomial
// coefficients, the share z_i = d + e·ρ + λ·s·c — are only handled with
// edwards25519.Scalar arithmetic, and multiplied into points only by the
// constant-time ScalarBaseMult; ristretto255 encoding is constant time.
// Variable time, because all inputs are public: commitment and verifying
// share arithmetic (binding factors, group commitment, Lagrange
// coefficients, which depend on identifiers only), signature and share
// verification (VarTimeDoubleScalarBaseMult, VarTimeMultiScalarMult),
// decoding, and the consistency checks of public key material.
package frost
