// Package kkrt implements the batched, related-key oblivious PRF of
// Kolesnikov, Kumaresan, Rosulek and Trieu, "Efficient Batched Oblivious
// PRF with Applications to Private Set Intersection" (CCS 2016, eprint
// 2016/799; KKRT16), for maskshare's oprf mode (issue 14). It is the
// two-party primitive only: the session engine runs one session per
// ordered pair of parties and relays its two messages.
//
// # Roles and messages
//
// A session has a sender, which ends up holding a PRF F, and a receiver
// holding a set X of at most Config.MaxItems distinct byte strings, which
// ends up with F at each of its elements and learns nothing else. One
// round trip, both messages versioned and of exact, bounded length:
//
//	sender → receiver  msg0 = 0x01 ‖ 0x00 ‖ seed[32] ‖ (R_{i,0} ‖ R_{i,1}) for i < 512      32,802 B
//	receiver → sender  msg1 = 0x01 ‖ 0x01 ‖ be32(nbins) ‖ A_i for i < 512 ‖ U (N rows of 64 B)
//
// [NewSender] draws the seed and makes msg0; [NewReceiver] consumes msg0,
// makes msg1 and has its [Receiver.Outputs] at once; [Sender.Finish]
// consumes msg1, after which [Sender.Eval] and [Sender.Candidates] work.
// N = nbins + stash rounded up to a multiple of 64.
//
// # Construction
//
// Everything public is derived from sid = SHA-256("maskshare/kkrt/v1
// sid\0" ‖ session ‖ seed), so the sender's fresh seed fixes the code and
// the hash functions after the receiver's inputs are chosen (KKRT16 takes
// the code at random from the family; the semi-honest proof needs it
// independent of the inputs).
//
//   - Elements: e(x) = SHA-256("maskshare/kkrt/v1 element\0" ‖ sid ‖ x)[:16].
//   - Pseudorandom code (KKRT16): C(e) = AES_k0(e) ‖ AES_k1(e) ‖
//     AES_k2(e) ‖ AES_k3(e), w = 512 bits, k_i from sid.
//   - Base OTs: 512 Masny–Rindal endemic OTs on ristretto255 (see below);
//     the sender is the chooser, with random choice bits s ∈ {0,1}^512.
//   - OT extension (IKNP as in KKRT16 Fig. 2): the receiver expands its
//     seed pairs with AES-128-CTR into columns t^i = G(k_{i,0}) and sends
//     rows u_j = t_j ⊕ G(k_{i,1})_j ⊕ C(r_j), where r_j is the element in
//     instance j (a pseudorandom dummy if the bin is empty). The sender
//     keeps q_j = G(k_{i,s_i})_j ⊕ (u_j ∧ s) = t_j ⊕ (C(r_j) ∧ s).
//     Columns become rows by 64×64-bit block transposition.
//   - Output: F(j, x) = H(j, q_j ⊕ (C(e(x)) ∧ s)), the receiver's value
//     H(j, t_j), with H(j, row) = SHA-256("maskshare/kkrt/v1 output\0" ‖
//     sid[:16] ‖ be32(j) ‖ row): 32 bytes, untruncated (the engine truncates
//     as its own bound requires).
//   - Cuckoo hashing of the receiver's elements: 3 hash functions from
//     AES_{k_cuckoo}(e), nbins = ceil(1.27·max(m, 4096)) bins and a stash
//     of 6 slots (m ≤ 2^16) or 4 (m ≤ 2^20), each slot one more
//     instance; the sender evaluates every element at its 3 bins and at
//     every stash slot ([Sender.Candidates]: 9 or 7 values).
//
// Base OTs are the Masny–Rindal OT from Diffie–Hellman key agreement
// ("Endemic Oblivious Transfer", CCS 2019, eprint 2019/706), UC-secure in
// the random-oracle model under CDH; this package does not use the
// original "Simplest OT" whose UC proof was found flawed. Each of the 512
// OTs is an independent instance (its own sender and chooser scalars),
// so the parallel composition is covered by the single-OT proof; costs
// are about 3 scalar multiplications per OT per side, some 60–100 ms per
// session, which only matters for small sets.
//
// # Parameters and security level
//
//	computational security   128 bits: AES-128 (PRG, code, hashes), SHA-256, ristretto255
//	statistical security      ≥ 40 bits (code distance, cuckoo failure)
//	CodeWidth w = BaseOTs     512: two codewords closer than κ = 128 bits (KKRT16's
//	                          condition) with probability < 2^-102 per pair; < 2^-78
//	                          for 2^20 sender elements at all their candidates
//	HashCount                 3
//	bins                      ceil(1.27·max(m, 4096))
//	stash                     6 for m ≤ 2^16, 4 for m ≤ 2^20: insertion failure
//	                          < 2^-40 by the table of Pinkas–Schneider–Segev–Zohner
//	                          (USENIX Security 2015) for 1.2·n bins, as in KKRT16;
//	                          overflow is ErrCuckoo, not a retry
//	MaxItemsLimit             2^20 receiver elements per session
//	element                   128 bits, keyed by sid: collisions among honest sets
//	                          < m²·2^-129; a party can find one only online (2^64)
//	ValueSize                 32 bytes
//
// Traffic is 32,802 bytes from the sender and 16,390 + 64·N bytes from
// the receiver (about 81 bytes per receiver element at large m, at
// least 353 KB for a small set).
//
// # Security model and leakage
//
// KKRT16's proof is for semi-honest parties; the base OTs are also
// secure against malicious parties, the extension is not (a malicious
// receiver choosing rows that are not codeword-consistent may learn more
// than one PRF value per instance). The engine must therefore run it
// between parties it trusts to follow the protocol, over authenticated,
// confidential channels. The sender learns nbins and so the receiver's
// set size (exactly from 4096 up, else only that it is at most 4096).
// Outputs are fresh per session: new base OTs give a new s and new q.
//
// # Runs on kept base OTs
//
// A pair that runs the OPRF again (the engine's bucketed sessions run it
// once per bucket) may skip the base OTs: the sender keeps s and its keys
// k_{i,s_i} ([Sender.Base]), the receiver both keys of each base OT
// ([Receiver.Base]), and a run is
//
//	sender → receiver  msg0 = 0x01 ‖ 0x02 ‖ seed[32]                                       34 B
//	receiver → sender  msg1 = 0x01 ‖ 0x03 ‖ be32(nbins) ‖ U (N rows of 64 B)
//
// ([NewSenderRun], [NewReceiverRun], [RunOnBase]), with the run's own sid
// from its fresh seed and column keys AES_{k_i}(SHA-256("maskshare/kkrt/v1
// run\0" ‖ sid)[:16]) in place of the k_i. This is one OT extension
// continued: the same s, columns from a PRF of the base keys that never
// repeat (every run's sid is new), and outputs hashed under the run's sid,
// so no (sid, instance) tweak of H repeats. The run's function is as new as
// a session's to anyone without the base keys. It saves the base OTs (some
// 0.1 s per pair); s is reused, so a run is no fresher than its session
// against the pair themselves.
//
// # Constant time
//
// On secret data: AES is crypto/aes, constant time where it uses the CPU's
// AES instructions (amd64, arm64, s390x, ppc64le), not in Go's table-based
// fallback on other platforms; the XOR and AND of rows, the PRG and the
// transposition are branch-free with data-independent memory access;
// SHA-256 is constant time; circl's ristretto255 scalar multiplication
// is constant time (decoding handles only public points). Not constant
// time: cuckoo hashing of the receiver's elements (the random walk's
// length and the bins it touches depend on them), the duplicate check,
// the receiver's choice per instance between hashing an output (occupied)
// or not (empty), and the sender's row lookups in Eval and Candidates
// (indexed by its element's bins). All depend only on the local party's
// own elements through keyed hashes, never on the peer's secrets, and the
// peer sees none of it but the total running time, which depends on the
// set size it learns anyway and on the walk's length: the case
// docs/PROTOCOL.md §10 accepts for "a party's own data on its own
// machine". An attacker reading the caches of that machine could learn
// which bins the party's elements occupy.
package kkrt
