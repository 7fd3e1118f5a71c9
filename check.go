package maskshare

// The parties' integrity checks of the coordinator's Match and sums
// (docs/PROTOCOL.md §6.1): a match check round before any value is sent,
// and value check words that travel with the values.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/share"
)

// checkWords is the number of columns the value check adds to the masked
// vector: the value check word, in Z_p (mask.CheckPrime).
const checkWords = 1

// labelCheck derives the keys of the checks that are not a record's: the
// match check's total word and the totals' value check.
const labelCheck = "maskshare check v2"

// totalsIndex is the index the totals' value check keys are derived at.
const totalsIndex = math.MaxUint32

// groupChecks returns the secret K_check the session-wide check keys are
// derived from (the value check's, and the g_M(r) that the designated
// holder of index r adds to the match check's total word), and the word
// g_T party 0 adds to that total. Every party knows them, the coordinator
// does not.
func (s *partySession) groupChecks() (secret [16]byte, gT uint64) {
	k := deriveKey(s.group, s.sid, labelCheck)
	return [16]byte(k[:16]), binary.LittleEndian.Uint64(k[16:])
}

// countTotal is Σ g_M(r) over the indexes r < M of the result: what the
// designated holders add to the match check's total word when every index
// has exactly one.
func (s *partySession) countTotal(secret [16]byte) uint64 {
	var mu sync.Mutex
	var total uint64
	forRanges(s.size, func(lo, hi int) {
		var m mask.RecordMasker
		var sum uint64
		for r := lo; r < hi; r++ {
			sum += m.CountKey(secret, uint32(s.size), uint32(r))
		}
		mu.Lock()
		total += sum
		mu.Unlock()
	})
	return total
}

// matchCheckWords is the length of the match check vector: a word per
// canonical index and the total word. Under the totals policy M must not
// show in any length, so the vector covers every index the set size bounds
// allow.
func matchCheckWords(policy RevealPolicy, size int, maxSize uint64) int {
	if policy == PerRecord {
		return size + 1
	}
	return int(maxSize) + 1
}

// cheating is the error for a failed check. The coordinator or any party
// may have caused it: which cannot be known from what a party sees.
func cheating(check, format string, args ...any) error {
	return &CheatingError{Check: check, Err: fmt.Errorf(format, args...)}
}

// matchCheckRound reports whether a session runs the match check round:
// under the per-record and totals policies, except per-record with k = n.
// There every party holds every index (a party refuses a Match with fewer
// than M entries), the designated holder of index r is party r mod n by
// rule, and the value check finds a record merged at an index with
// another: nothing the round would check is left for the coordinator to
// choose.
func matchCheckRound(policy RevealPolicy, k, n int) bool {
	return policy == TotalsOnly || policy == PerRecord && k < n
}

// deriveCheckKeys derives, once, every key a record's checks need: the sum
// the match check expects at each of the party's records (its
// contributions go to words), and under the per-record policy the value
// check's keys.
func (s *partySession) deriveCheckKeys(words []uint64) {
	s.expect = make([]uint64, len(s.matches))
	if s.params.Reveal == PerRecord {
		s.valueKeys = make([]valueKeys, len(s.matches))
	}
	forRanges(len(s.matches), func(lo, hi int) {
		var m mask.RecordMasker
		for j := lo; j < hi; j++ {
			x := s.matches[j]
			secret := s.qualified[s.posOf[j]]
			g, g2 := m.MatchKeys(secret, uint32(s.size), x.Index)
			s.expect[j] = uint64(x.Holders)*g + g2
			if !x.Designated {
				g2 = 0
			}
			words[x.Index] = g + g2 // distinct indexes
			if s.valueKeys != nil {
				k := &s.valueKeys[j]
				k.pad, k.alpha = m.ValueKeys(secret, uint32(s.size), x.Index)
			}
		}
	})
}

// checkMatch runs the match check round: each holder of a record adds g at
// the record's index, its designated holder also g2 (both from the record
// secret, the result size and the index), party 0 adds g_T to the total
// word; the vector is hidden like the values' and summed by the
// coordinator, which sends each party the sums at its indexes and the
// total. A party goes on only if every sum is h·g + g2 for the holder
// count h it was told, and the total is g_T + Σ_{r<M} g_M(r) (the
// designated holder of index r adds g_M(r)): so every index of its records holds
// exactly the h holders of the same identifier, one of them designated,
// every index of the result is held, and every party's vector was added
// once. Nothing about a value has been sent yet.
func (s *partySession) checkMatch(ctx context.Context) error {
	if !matchCheckRound(s.params.Reveal, s.params.threshold(), s.n) {
		// The value check's keys are derived while the vector is filled.
		s.valueKeys = make([]valueKeys, len(s.matches))
		s.keysPending = true
		return nil
	}
	w := matchCheckWords(s.params.Reveal, s.size, s.matchBound())
	words := make([]uint64, w)
	s.deriveCheckKeys(words)
	// The total word counts the records: each index has one designated
	// holder, who adds the index's own key, so it adds up to
	// g_T + Σ_{r<M} g_M(r) exactly when every index of the result is held
	// (b designated holders at one index add b·g_M(r), which stands for no
	// other index).
	secret, gT := s.groupChecks()
	var km mask.RecordMasker
	for _, x := range s.matches {
		if x.Designated {
			words[w-1] += km.CountKey(secret, uint32(s.size), x.Index)
		}
	}
	if s.index == 0 {
		words[w-1] += gT
	}
	s.hide(words, s.cols+checkWords)
	if err := s.conn.Send(ctx, (&wire.Masked{Columns: 1, Size: uint32(w), Words: words}).Encode()); err != nil {
		return s.unavailable(err)
	}
	words = nil
	m, err := s.receiveReveal(ctx, 1, len(s.matches), padded(s.params.Reveal, s.listSize, s.size))
	if err != nil {
		return coordinatorFault("match", err)
	}
	if m.Totals[0] != gT+s.countTotal(secret) {
		return cheating("match", "the match check's total is wrong: the result has indexes no party holds (a wrong M), or a party's vector was left out, added twice or altered")
	}
	bad := s.firstBad(func(j int) bool { return m.Values[s.posOf[j]] == s.expect[j] })
	s.expect = nil
	if bad >= 0 {
		return cheating("match", "the record at canonical index %d is not held by exactly the %d holders of one identifier with one of them designated (records merged, split or isolated, a wrong holder count or designation, or a party's vector altered)",
			s.matches[bad].Index, s.matches[bad].Holders)
	}
	return nil
}

// valueKeys are a record's value check keys: the pad F its designated
// holder adds and the multiplier α.
type valueKeys struct{ pad, alpha uint64 }

// firstBad calls ok(j) for every j of s.matches on all cores, a range
// stopping at its first false, and returns the first j (in canonical
// order) for which ok(j) was false, or −1.
func (s *partySession) firstBad(ok func(j int) bool) int {
	var mu sync.Mutex
	bad := -1
	forRanges(len(s.matches), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			if !ok(j) {
				mu.Lock()
				if bad < 0 || j < bad {
					bad = j
				}
				mu.Unlock()
				return
			}
		}
	})
	return bad
}

// hide adds to each column c of words (column-major, equal columns) the
// party's part streams and zero-sum mask for PRG column first+c.
func (s *partySession) hide(words []uint64, first int) {
	w := len(words)
	s.hideColumns(words, w, first, 1)
}

// hideColumns is hide for cols columns of w words.
func (s *partySession) hideColumns(words []uint64, w, first, cols int) {
	forColumns(cols, func(c int) {
		s.hideColumn(words[c*w:(c+1)*w], first+c)
	})
}

// hideColumn adds the parts received, subtracts the parts given away and
// applies the zero-sum mask, for PRG column c.
func (s *partySession) hideColumn(col []uint64, c int) {
	add := share.Streams(s.partsIn, s.index, s.sid, c)
	sub := share.Streams(s.partsOut, s.index, s.sid, c)
	md := mask.Domain{Session: s.sid, Purpose: mask.PurposeMask, Column: uint32(c)}
	add = append(add, mask.NewPRG(s.maskSeeds.Plus, md))
	sub = append(sub, mask.NewPRG(s.maskSeeds.Minus, md))
	mask.Mix(col, add, sub)
}

// totalsCheck is the party's check word of the totals' value check:
// α_T·Σ_c γ_c·t_c over its own totals t, plus F_T at party 0.
func (s *partySession) totalsCheck(gamma []uint64, padT, alphaT uint64, totals []uint64) uint64 {
	if s.index != 0 {
		padT = 0
	}
	return mask.CheckValue(padT, alphaT, gamma, totals)
}

// valueCheckKeys are the session's column weights γ_c and the keys of the
// totals' value check, all from K_check.
func (s *partySession) valueCheckKeys() (gamma []uint64, padT, alphaT uint64) {
	secret, _ := s.groupChecks()
	gamma = make([]uint64, s.cols)
	var m mask.RecordMasker
	m.ValueWeights(gamma, secret, uint32(s.size))
	padT, alphaT = m.ValueKeys(secret, uint32(s.size), totalsIndex)
	return gamma, padT, alphaT
}

// checkTotals checks the unmasked totals: their check words must be what
// all parties' check words add up to for these totals. (Each record's
// check is made as the result is filled: recordChecks.) A shifted total
// fails except with probability below 2^−47 (docs/PROTOCOL.md §6.1).
func (s *partySession) checkTotals(m *wire.Reveal) error {
	gamma, padT, alphaT := s.valueCheckKeys()
	want := mask.CheckValue(padT, alphaT, gamma, m.Totals[:s.cols])
	if !mask.CheckMatches(want, m.Totals[s.cols], s.n) {
		return cheating("values", "the column totals do not match their check: a total was shifted, or a party's vector altered")
	}
	return nil
}

// recordCheck reports whether the unmasked words v (values, then the two
// check words) of matches[j] pass its value check: the check words must be
// what its holders' add up to for these aggregates. A shifted aggregate, or
// words moved from another index, fail except with probability below
// 2^−47 (docs/PROTOCOL.md §6.1).
func (s *partySession) recordCheck(gamma []uint64, j int, v []uint64) bool {
	k := &s.valueKeys[j]
	return mask.CheckMatches(mask.CheckValue(k.pad, k.alpha, gamma, v[:s.cols]), v[s.cols], int(s.matches[j].Holders))
}

// badRecord is the error for a record that failed its value check.
func (s *partySession) badRecord(j int) error {
	return cheating("values", "the aggregates at canonical index %d do not match their check: shifted, or taken from another index", s.matches[j].Index)
}
