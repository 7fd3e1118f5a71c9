// Package cosign is escrowed co-signing with a log nobody can rewrite
// (SPEC.md §4.3, issue 12): an organisation's staff sign for it from their
// phones, while the organisation's key stays in a cloud signing service.
//
// The parts:
//
//   - Enrolment ([Client.Enrol], [RA]): a registration authority (a small
//     CA on crypto/x509, wrapping a transport.CA) certifies the
//     organisation and each user; a user's signing key is made by
//     two-party COCKTAIL-DKG (package frost, Ed25519) between the user's
//     mobile client and the service, optionally 2-of-3 with an offline
//     recovery share made by frost's repairable-share protocol and sealed
//     with HPKE (package custody) to a recovery key ([RecoveryKit]), so
//     neither the phone nor the service can sign alone, and a lost phone
//     does not lose the key. The user's certificate carries the group key:
//     its signatures are plain Ed25519.
//   - Use ([Client.Sign], [Service]): the client asks the service to sign
//     a document with the organisation's key; the [Request] (document
//     hash, id, organisation, purpose, time) is co-signed with the user's
//     split key by FROST 2-of-2, the service's share taking part only after
//     it checked the request; the service verifies the user's signature and
//     certificate (chain, validity, not revoked) before it touches the
//     organisation's key (a crypto.Signer, by default a [SealedSigner]
//     over an HPKE envelope in the store), spends the request id and logs
//     the co-signed entries in one transaction. The service is served over
//     the transport package's mutual TLS ([Service.Serve], [Dial]).
//   - The action log: every action — enrolment,
//     authorisation, use of the organisation's key, refusal, revocation —
//     is an [Entry] carrying the signature of the user it is by (or of the
//     service, for its refusals), appended to an RFC 6962 Merkle tree
//     (golang.org/x/mod/sumdb/tlog) kept crash-safe in a [custody.Store]
//     by [Log]. After every append the service signs a checkpoint in the
//     c2sp.org/tlog-checkpoint format as a c2sp.org/signed-note
//     (golang.org/x/mod/sumdb/note, Ed25519), and serves inclusion proofs
//     (c2sp.org/tlog-proof, [InclusionProof]) and consistency proofs
//     ([ConsistencyProof]). A client's [Monitor] keeps the last checkpoint
//     it saw and accepts a new one only with a consistency proof, so a
//     rewritten, truncated or forked history is caught ([ErrInconsistent],
//     [ErrTruncated], [ErrForked]); two clients comparing checkpoints catch
//     a split view ([CompareCheckpoints]). [VerifyExport] (and
//     `maskshare log verify`) checks an exported log offline.
//   - CLI and demo: `maskshare cosign` and examples/cosign.
//
// Who can rewrite what: the service holds the log key, so it can sign any
// checkpoint; it cannot make a client that holds a checkpoint accept a
// history that does not extend it, nor forge a user's entry (entries carry
// the user's signature over their canonical encoding and the log's name).
// A user cannot deny an entry its key signed. What nobody can detect
// without a kept checkpoint is a history rewritten before anyone saw it:
// clients should keep theirs and compare them.
//
// The formats are specified in docs/CUSTODY.md, "Action log
// (custody/cosign)" and "Escrowed co-signing (custody/cosign)", and in the
// c2sp.org specifications and RFC 9591 named above.
package cosign
