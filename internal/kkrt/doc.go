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
// holding a set X of at most Config.MaxItems distinct elements, which ends
// up with F at each of its elements and learns nothing else. One round
// trip, both messages versioned and of exact, bounded length:
//
//	sender → receiver  msg0 = 0x02 ‖ 0x00 ‖ seed[32] ‖ (R_{i,0} ‖ R_{i,1}) for i < 512      32,802 B
//	receiver → sender  msg1 = 0x02 ‖ 0x01 ‖ be32(nbins) ‖ A_i for i < 512 ‖ U (N rows of 64 B)
//
// [NewSender] draws the seed and makes msg0; [NewReceiver] consumes msg0,
// makes msg1 and has its [Receiver.Outputs] at once; [Sender.Finish]
// consumes msg1, after which [Sender.Eval], [Sender.Candidates] and
// [Sender.Candidate] work. N = nbins rounded up to a multiple of 64.
//
// Elements are the caller's: [ElementOf](key, x) compresses an input x to
// 128 bits, and the caller computes each input's element once and passes
// the elements to every session it runs on the set, as receiver and as
// sender (the engine: once per session of its own, with its session
// identifier as key, for all its pairs and buckets).
//
// # Construction
//
// Everything public is derived from sid = SHA-256("maskshare/kkrt/v2
// sid\0" ‖ session ‖ seed), so the sender's fresh seed fixes the code and
// the hash functions after the receiver's inputs are chosen (KKRT16 takes
// the code at random from the family; the semi-honest proof needs it
// independent of the inputs).
//
//   - Elements: e(x) = SHA-256("maskshare/kkrt/v2 element\0" ‖ key ‖ x)[:16]
//     ([ElementOf]), key the caller's, the same for both parties of a
//     session. Only this compression of the input is under the caller's
//     key; the code C, the cuckoo hash functions and every output stay
//     keyed by the session's sid (the sender's fresh seed), so the
//     semi-honest argument is that of a session on 128-bit inputs,
//     unchanged.
//   - Pseudorandom code (KKRT16): C(e) = AES_k0(e) ‖ AES_k1(e) ‖
//     AES_k2(e) ‖ AES_k3(e), w = 512 bits, k_i from sid.
//   - Base OTs: 512 Masny–Rindal endemic OTs on ristretto255 (see below);
//     the sender is the chooser, with random choice bits s ∈ {0,1}^512.
//   - OT extension (IKNP as in KKRT16 Fig. 2): the receiver expands its
//     seed pairs with AES-128-CTR into columns t^i = G(k_{i,0}) and sends
//     rows u_j = t_j ⊕ G(k_{i,1})_j ⊕ C(r_j), where r_j is the element in
//     instance j (a pseudorandom dummy if the instance is empty). The sender
//     keeps q_j = G(k_{i,s_i})_j ⊕ (u_j ∧ s) = t_j ⊕ (C(r_j) ∧ s).
//     Columns become rows by 64×64-bit block transposition.
//   - Output: F(j, e) = H(j, q_j ⊕ (C(e) ∧ s)), the receiver's value
//     H(j, t_j), with H(j, row) = SHA-256("maskshare/kkrt/v2 output\0" ‖
//     sid[:16] ‖ be32(j) ‖ row): 32 bytes, untruncated (the engine truncates
//     as its own bound requires).
//   - Cuckoo hashing of the receiver's elements: 3 hash functions from
//     AES_{k_cuckoo}(e), nbins = ceil(1.54·max(m, 4096)) bins and no
//     stash, so every element's instance is one of its 3 bins; the sender
//     evaluates every element at its 3 bins ([Sender.Candidates]: 3
//     values, in hash-function order). Instances from nbins to N−1 only
//     pad the matrix to whole 64-row blocks and hold dummies.
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
//	                          condition) with probability < 2^-102 per pair; < 2^-80
//	                          for 2^20 sender elements at all their 3 candidates
//	HashCount                 3 (MaxCandidates = 3: no stash)
//	bins                      ceil(1.54·max(m, 4096)), no stash: insertion failure
//	                          < 2^-40 by the stash-less fit of Pinkas–Schneider–
//	                          Weinert–Wieder (Eurocrypt 2018, eprint 2018/120), as
//	                          cryptoTools' CuckooIndex::selectParams implements it:
//	                          λ ≈ a·e + b for e = bins/n, a ≈ 123.5, b ≈ −130 − log2 n
//	                          (a, |b| slightly smaller below n = 2^12), so λ = 40
//	                          needs e = 1.48 at n = 2^12 and 1.538 at n = 2^20, and
//	                          one factor 1.54 serves every size (λ ≥ 40.19 up to
//	                          2^20); failure is ErrCuckoo, not a retry
//	MaxItemsLimit             2^20 receiver elements per session
//	element                   128 bits under the caller's key (the same for both
//	                          parties): collisions among honest sets < m²·2^-129;
//	                          a party choosing inputs after learning the key needs
//	                          2^64 work to find one
//	ValueSize                 32 bytes
//
// The fit is conservative for this package's insertion (a random walk of
// at most 1000 kicks): as a sanity check, not the security argument, a
// local run of it placed 4096 elements in 1.20·n bins without a stash in 20,000 of 20,000
// trials and in 1.25·n bins in 40,000 of 40,000, and 65,536 elements in
// 1.22·n and 1.25·n bins in 2,000 of 2,000 and 4,000 of 4,000, where the
// fit predicts failure rates of about 2^-6, 2^-12, 2^-4.7 and 2^-8.4.
//
// Traffic is 32,802 bytes from the sender and 16,390 + 64·N bytes from
// the receiver (about 99 bytes per receiver element at large m, at
// least 422 KB for a small set).
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
//	sender → receiver  msg0 = 0x02 ‖ 0x02 ‖ seed[32]                                       34 B
//	receiver → sender  msg1 = 0x02 ‖ 0x03 ‖ be32(nbins) ‖ U (N rows of 64 B)
//
// ([NewSenderRun], [NewReceiverRun], [RunOnBase]), with the run's own sid
// from its fresh seed and column keys AES_{k_i}(SHA-256("maskshare/kkrt/v2
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
// length and the bins it touches depend on them; there is no stash, so
// nothing else), the duplicate check, the receiver's choice per instance
// between hashing an output (occupied) or not (empty), and the sender's
// row lookups in Eval, Candidates and Candidate (indexed by its element's
// bins; Candidates always reads exactly its 3 bins' rows). All depend only on the local party's
// own elements through keyed hashes, never on the peer's secrets, and the
// peer sees none of it but the total running time, which depends on the
// set size it learns anyway and on the walk's length: the case
// docs/PROTOCOL.md §10 accepts for "a party's own data on its own
// machine". An attacker reading the caches of that machine could learn
// which bins the party's elements occupy.
package kkrt
