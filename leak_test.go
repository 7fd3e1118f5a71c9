package maskshare

// Attacks by participants who only look (docs/PROTOCOL.md §9). Each test
// plays a curious party, or the coordinator together with one party, using
// only what it received and derived in a real session, mounts the attack
// an earlier version of the protocol fell to, and shows that it now learns
// nothing. Where it helps, a control mounts the same attack on the view the
// earlier protocol gave, to show that the attack itself works.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/psi"
	"github.com/maskshare/maskshare/transport"
)

// recordMasks returns the output masks of a party's qualifying records in
// the order of its Match message, as it derives them.
func recordMasks(ps *partySession) []uint64 {
	out := make([]uint64, len(ps.qualified)*ps.cols)
	ps.eachRecordMask(func(q int, mu []uint64) { copy(out[q*ps.cols:], mu) })
	return out
}

// runRecorded runs a session of params over tables, recording every party's
// link, and checks the results against the oracle.
func runRecorded(t *testing.T, params Params, tables []*Table) (outcome, [][][]byte) {
	t.Helper()
	s := &session{params: params, tables: tables}
	msgs := recordAll(s)
	o := s.run(t)
	if o.coord != nil {
		t.Fatal(o.coord)
	}
	checkAgainstOracle(t, params, tables, o.results, o.report)
	return o, msgs
}

// maskedSum adds up the masked vectors of values (and value checks) the
// parties sent, the last Masked message of each (the first is the match
// check's): the coordinator's view of the aggregates.
func maskedSum(t *testing.T, msgs [][][]byte, words int) []uint64 {
	t.Helper()
	sum := make([]uint64, words)
	for i := range msgs {
		all := messagesOf(msgs[i], wire.TypeMasked)
		v, err := wire.DecodeMasked(all[len(all)-1])
		if err != nil {
			t.Fatal(err)
		}
		mask.Add(sum, v.Words)
	}
	return sum
}

// recordAll wraps every party's coordinator-side connection in a recorder
// of its own: msgs[i] is everything party i sent and received, in order.
func recordAll(s *session) [][][]byte {
	n := len(s.params.Parties)
	msgs := make([][][]byte, n)
	mus := make([]sync.Mutex, n)
	s.wrap = func(i int, c transport.Conn) transport.Conn {
		return recorder{Conn: c, mu: &mus[i], msgs: &msgs[i]}
	}
	return msgs
}

func messagesOf(msgs [][]byte, typ wire.Type) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		if t, _ := wire.Peek(m); t == typ {
			out = append(out, m)
		}
	}
	return out
}

// zScore is the two-proportion z statistic of hits a out of na against b out
// of nb: how many standard errors the rates are apart.
func zScore(a, na, b, nb int) float64 {
	pa, pb := float64(a)/float64(na), float64(b)/float64(nb)
	p := float64(a+b) / float64(na+nb)
	se := math.Sqrt(p * (1 - p) * (1/float64(na) + 1/float64(nb)))
	if se == 0 {
		return 0
	}
	return (pa - pb) / se
}

// gapAttack is the attack on finding 1. The party tags every identifier it
// does not hold (it knows the keyed-mode PRF key), finds the two of its own
// qualifying records whose tags enclose it, and guesses that the
// identifier qualifies if their canonical indexes leave room for a record
// between them. indexOf gives the index of an own qualifying record by its
// tag. It returns the hit counts among the identifiers that qualify and
// those that do not.
func gapAttack(own []psi.Tag, indexOf func(psi.Tag) int, others []psi.Tag, qualifies []bool) (hitQ, nQ, hitN, nN int) {
	slices.SortFunc(own, func(a, b psi.Tag) int { return bytes.Compare(a[:], b[:]) })
	for i, x := range others {
		p, _ := slices.BinarySearchFunc(own, x, func(a, b psi.Tag) int { return bytes.Compare(a[:], b[:]) })
		if p == 0 || p == len(own) {
			continue
		}
		guess := indexOf(own[p])-indexOf(own[p-1]) > 1
		if qualifies[i] {
			nQ++
			if guess {
				hitQ++
			}
		} else {
			nN++
			if guess {
				hitN++
			}
		}
	}
	return
}

// Finding 1: with k < n, the gaps between a party's canonical indexes told
// it how many qualifying records lie between its own in tag order, so a
// party could decide membership of identifiers it does not hold. Now the
// canonical order is a fresh random permutation: the attack's guesses are
// independent of the truth.
func TestCanonicalIndexLeaksNoMembership(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	params := testParams(3, 1)
	params.Threshold = 2
	tables := genTables(rng, 3, 1, 4000, 1000)
	s := &session{params: params, tables: tables}
	o := s.run(t)
	if o.coord != nil {
		t.Fatal(o.coord)
	}
	checkAgainstOracle(t, params, tables, o.results, o.report)

	// The curious party: bank-a, with its PRF key and its result.
	ps := o.sessions[0]
	key := deriveKey(ps.group, ps.sid, labelPSI)
	tagger, err := psi.NewTagger(key[:], ps.sid)
	if err != nil {
		t.Fatal(err)
	}
	tagOf := func(id string) psi.Tag {
		norm, _ := psi.Normalize(id, params.FoldCase)
		tg, _ := tagger.Tag(norm)
		return tg
	}
	index := map[psi.Tag]int{}
	var own []psi.Tag
	for _, r := range o.results[0].Records {
		tg := tagOf(r.ID)
		index[tg] = r.Index
		own = append(own, tg)
	}
	held := map[string]bool{}
	for _, id := range tables[0].IDs {
		held[id] = true
	}
	want := oracle(params, tables)
	var others []psi.Tag
	var qualifies []bool
	seen := map[string]bool{}
	for _, tb := range tables[1:] {
		for _, id := range tb.IDs {
			if !held[id] && !seen[id] {
				seen[id] = true
				others = append(others, tagOf(id))
				qualifies = append(qualifies, want[id] != nil)
			}
		}
	}

	// Control: the earlier protocol numbered qualifying records by tag
	// rank. The same attack on that numbering decides membership.
	var all []psi.Tag
	for id := range want {
		all = append(all, tagOf(id))
	}
	slices.SortFunc(all, func(a, b psi.Tag) int { return bytes.Compare(a[:], b[:]) })
	rank := map[psi.Tag]int{}
	for i, tg := range all {
		rank[tg] = i
	}
	hq, nq, hn, nn := gapAttack(slices.Clone(own), func(tg psi.Tag) int { return rank[tg] }, others, qualifies)
	if adv := float64(hq)/float64(nq) - float64(hn)/float64(nn); adv < 0.5 {
		t.Fatalf("control: the gap attack on rank order has advantage %.2f; the attack is broken", adv)
	}

	hq, nq, hn, nn = gapAttack(own, func(tg psi.Tag) int { return index[tg] }, others, qualifies)
	if nq < 300 || nn < 300 {
		t.Fatalf("too few identifiers to judge: %d qualifying, %d not", nq, nn)
	}
	// Five standard errors: a false alarm about once in 3·10^6 runs.
	if z := zScore(hq, nq, hn, nn); math.Abs(z) > 5 {
		t.Fatalf("guesses depend on membership: %d/%d of qualifying and %d/%d of other identifiers guessed, z = %.1f", hq, nq, hn, nn, z)
	}
	t.Logf("gap attack: %d/%d qualifying and %d/%d other identifiers guessed (rank order would give %.0f%% advantage)",
		hq, nq, hn, nn, 100*(1-float64(hn)/float64(nn)))
}

// In both modes a party's own records come in the order of their tags
// (positions); the canonical indexes must not follow that order, or their
// gaps count records the party does not hold.
func TestCanonicalOrderIndependentOfTags(t *testing.T) {
	for _, mode := range []PSIMode{Keyed, ECDH} {
		t.Run(mode.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(73, uint64(mode)))
			params := testParams(3, 1)
			params.Threshold, params.Mode = 2, mode
			universe := 3000
			if mode == ECDH {
				universe = 900
			}
			tables := genTables(rng, 3, 1, universe, 1000)
			s := &session{params: params, tables: tables}
			o := s.run(t)
			if o.coord != nil {
				t.Fatal(o.coord)
			}
			for i, ps := range o.sessions {
				// Own qualifying records in the order of their tags.
				byPos := slices.Clone(ps.matches)
				slices.SortFunc(byPos, func(a, b wire.MatchEntry) int { return cmp.Compare(a.Pos, b.Pos) })
				up := 0
				for j := 1; j < len(byPos); j++ {
					if byPos[j].Index > byPos[j-1].Index {
						up++
					}
				}
				pairs := len(byPos) - 1
				if pairs < 200 {
					t.Fatalf("party %d: %d records, too few to judge", i, len(byPos))
				}
				// Under a random order, each next index is larger with
				// probability 1/2 (adjacent comparisons of a random
				// permutation are not independent, but their variance is
				// below that of independent coins: 6σ of a coin is ample).
				if dev := math.Abs(float64(up) - float64(pairs)/2); dev > 6*math.Sqrt(float64(pairs)/4) {
					t.Fatalf("party %d: index rises at %d of %d steps in tag order", i, up, pairs)
				}
			}
		})
	}
}

// bruteForceDigest is the attack on finding 2: the earlier protocol sent
// every party SHA-256("maskshare aggregate v1" || sid || le64(S)), the
// masked per-record aggregates, under the totals policy too, and every
// party knew the output mask R. For low-entropy columns a party tries every
// candidate aggregate vector and looks for its digest among the bytes it
// received. It returns the candidates confirmed.
func bruteForceDigest(sid [32]byte, outputMask []uint64, candidates [][]uint64, received [][]byte) [][]uint64 {
	var found [][]uint64
	for _, c := range candidates {
		h := sha256.New()
		h.Write([]byte("maskshare aggregate v1"))
		h.Write(sid[:])
		for i, v := range c {
			h.Write(binary.LittleEndian.AppendUint64(nil, v+outputMask[i]))
		}
		d := h.Sum(nil)
		for _, m := range received {
			if bytes.Contains(m, d) {
				found = append(found, c)
				break
			}
		}
	}
	return found
}

// allVectors lists every vector of length n over values 0..max.
func allVectors(n, max int) [][]uint64 {
	out := [][]uint64{{}}
	for range n {
		var next [][]uint64
		for _, v := range out {
			for x := 0; x <= max; x++ {
				next = append(next, append(slices.Clone(v), uint64(x)))
			}
		}
		out = next
	}
	return out
}

// Finding 2: under the totals policy a party could invert the digest of the
// per-record aggregates. Now nothing a party receives under that policy
// depends on anything but its output: the Reveal carries the masked totals
// alone (the party knows their mask), and the Done message the transcript
// MACs that equal its own. The brute force finds nothing.
func TestTotalsPolicyConfirmsNoGuess(t *testing.T) {
	for _, tc := range []struct {
		mode PSIMode
		k    int
	}{{Keyed, 2}, {Keyed, 3}, {ECDH, 2}} {
		mode, k := tc.mode, tc.k
		t.Run(fmt.Sprintf("%v/k=%d", mode, k), func(t *testing.T) {
			params := testParams(3, 1)
			params.Threshold, params.Reveal, params.Mode = k, TotalsOnly, mode
			// Seven common records with values 0 or 1 at each bank: every
			// aggregate is one of 0..3, 4^7 candidates.
			tables := make([]*Table, 3)
			rng := rand.New(rand.NewPCG(75, uint64(k)))
			for i := range tables {
				tables[i] = NewTable(1)
				for r := range 7 {
					tables[i].AddRow(fmt.Sprintf("cust-%d", r), rng.Int64N(2))
				}
				tables[i].AddRow(fmt.Sprintf("own-%d", i), 1)
			}
			o, msgs := runRecorded(t, params, tables)
			ps := o.sessions[0]
			var received [][]byte
			for _, m := range msgs[0] {
				if typ, _ := wire.Peek(m); typ != wire.TypeTags && typ != wire.TypeMasked && typ != wire.TypeHello &&
					typ != wire.TypeSealed && typ != wire.TypeConfirm && typ != wire.TypeElements {
					received = append(received, m) // what the coordinator sent it
				}
			}
			// The true per-record aggregates, in canonical order.
			want := oracle(params, tables)
			truth := make([]uint64, o.results[0].Size)
			for _, r := range o.results[0].Records {
				truth[r.Index] = uint64(want[r.ID].sums[0])
			}
			candidates := allVectors(len(truth), 3)
			// What the earlier output mask would have been: a group-derived
			// stream over the canonical indexes.
			outSeed := deriveKey(ps.group, ps.sid, labelOutput)
			oldMask := make([]uint64, len(truth))
			mask.Expand(oldMask, outSeed, mask.Domain{Session: ps.sid, Purpose: mask.PurposeOutput})

			// Control: a view holding the earlier digest gives the truth away.
			h := sha256.New()
			h.Write([]byte("maskshare aggregate v1"))
			h.Write(ps.sid[:])
			for i, v := range truth {
				h.Write(binary.LittleEndian.AppendUint64(nil, v+oldMask[i]))
			}
			old := bruteForceDigest(ps.sid, oldMask, candidates, [][]byte{h.Sum(nil)})
			if len(old) != 1 || !slices.Equal(old[0], truth) {
				t.Fatalf("control: brute force on the earlier digest found %d candidates", len(old))
			}

			if found := bruteForceDigest(ps.sid, oldMask, candidates, received); len(found) != 0 {
				t.Fatalf("brute force confirmed %d candidate vectors", len(found))
			}
			// Everything received after the intersection is the output.
			// The first reveal is the match check's (§6.1): words the party
			// derives itself from its own records.
			reveals := messagesOf(received, wire.TypeReveal)
			if len(reveals) != 2 {
				t.Fatalf("%d reveals", len(reveals))
			}
			rv, err := wire.DecodeReveal(reveals[1])
			if err != nil {
				t.Fatal(err)
			}
			if rv.Count != 0 || rv.Padded != 0 || len(reveals[1]) != 2+2+8*(len(params.Columns)+checkWords)+8 {
				t.Fatalf("totals policy reveal holds %d records padded to %d in %d bytes", rv.Count, rv.Padded, len(reveals[1]))
			}
			if got := rv.Totals[0] - ps.totalsMask()[0]; int64(got) != o.results[0].Totals[0] {
				t.Fatalf("reveal holds %d, not the totals", got)
			}
			mine := messagesOf(msgs[0], wire.TypeConfirm)[0][2:]
			done, _ := wire.DecodeDone(messagesOf(received, wire.TypeDone)[0], 3)
			for i, mac := range done.MACs {
				if !bytes.Equal(mac[:], mine) {
					t.Fatalf("MAC %d differs from the party's own", i)
				}
			}
		})
	}
}

// Finding 3: the output mask was derived from the group secret, so the
// coordinator with any one party unmasked every aggregate, including those
// of records the party does not hold. Now a record's mask comes from its
// secret, which only its holders know. The coalition adds up the masked
// vectors it received (the coordinator's view) and removes every mask its
// parties can derive; for records no member holds, nothing it can compute
// leaves the aggregate, nor even a small number (so guessing an identifier
// and checking plausibility fails too). The aggregates of records a member
// holds come out, as that member's output (the control). Coalitions: the
// coordinator with each party, and with two parties together.
func TestCoordinatorWithPartiesCannotUnmask(t *testing.T) {
	for _, mode := range []PSIMode{Keyed, ECDH} {
		t.Run(mode.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(77, uint64(mode)))
			params := testParams(4, 2)
			params.Threshold, params.Mode = 2, mode
			tables := genTables(rng, 4, 2, 800, 1000) // small values: plausibility is easy to judge
			o, msgs := runRecorded(t, params, tables)
			size, cols := o.report.Size, len(params.Columns)
			w := size + 1
			sum := maskedSum(t, msgs, (cols+checkWords)*w)
			// Who holds which canonical index, for judging only.
			aggregate := make([][]int64, size)
			holds := make([][]bool, size)
			for r := range holds {
				holds[r] = make([]bool, 4)
			}
			want := oracle(params, tables)
			for i, res := range o.results {
				for _, r := range res.Records {
					aggregate[r.Index] = want[r.ID].sums
					holds[r.Index][i] = true
				}
			}

			for _, coalition := range [][]int{{0}, {1}, {2}, {3}, {0, 1}, {2, 3}} {
				// Every mask the members can derive: the group's output
				// stream (the earlier design), and the record masks of
				// their own records, each tried at every index.
				var masks [][]uint64 // each cols words, or cols·w for a stream
				var streams [][]uint64
				for _, j := range coalition {
					ps := o.sessions[j]
					outSeed := deriveKey(ps.group, ps.sid, labelOutput)
					stream := make([]uint64, cols*w)
					for c := range cols {
						mask.Expand(stream[c*w:(c+1)*w], outSeed, mask.Domain{Session: ps.sid, Purpose: mask.PurposeOutput, Column: uint32(c)})
					}
					streams = append(streams, stream)
					rm := recordMasks(ps)
					for q := range ps.matches {
						masks = append(masks, rm[q*cols:(q+1)*cols])
					}
				}
				ownHeld, ownUnmasked, foreign := 0, 0, 0
				for r := range size {
					member := false
					for _, j := range coalition {
						member = member || holds[r][j]
					}
					if member {
						// Control: some member's record mask unmasks it.
						ownHeld++
						for _, m := range masks {
							if int64(sum[r]-m[0]) == aggregate[r][0] && int64(sum[w+r]-m[1]) == aggregate[r][1] {
								ownUnmasked++
								break
							}
						}
						continue
					}
					foreign++
					for c := range cols {
						tries := []uint64{sum[c*w+r]}
						for _, st := range streams {
							tries = append(tries, sum[c*w+r]-st[c*w+r])
						}
						for _, m := range masks {
							tries = append(tries, sum[c*w+r]-m[c])
						}
						for _, v := range tries {
							if int64(v) == aggregate[r][c] || int64(v) > -1<<32 && int64(v) < 1<<32 {
								t.Fatalf("coalition %v gets %d for record %d column %d, which no member holds (aggregate %d)",
									coalition, int64(v), r, c, aggregate[r][c])
							}
						}
					}
				}
				if ownUnmasked != ownHeld || foreign < 20 {
					t.Fatalf("coalition %v: unmasks %d of its %d records; %d foreign records", coalition, ownUnmasked, ownHeld, foreign)
				}
			}
		})
	}
}

// Parties without the coordinator see no masked vector and no value of a
// record none of them holds: everything they receive about records is
// about their own, and it unmasks to their output.
func TestPartiesSeeOnlyTheirRecords(t *testing.T) {
	for _, mode := range []PSIMode{Keyed, ECDH} {
		t.Run(mode.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(79, uint64(mode)))
			params := testParams(4, 1)
			params.Threshold, params.Mode = 2, mode
			tables := genTables(rng, 4, 1, 300, 1000)
			o, msgs := runRecorded(t, params, tables)
			for i := range msgs {
				if len(messagesOf(msgs[i], wire.TypeMasked)) != 2 { // the match check's and the values'

					t.Fatalf("party %d: %d masked vectors cross its link", i, len(messagesOf(msgs[i], wire.TypeMasked)))
				}
				m, err := wire.DecodeMatch(messagesOf(msgs[i], wire.TypeMatch)[0])
				if err != nil {
					t.Fatal(err)
				}
				rv, err := wire.DecodeReveal(messagesOf(msgs[i], wire.TypeReveal)[1])
				if err != nil {
					t.Fatal(err)
				}
				own := map[uint32]int64{}
				for _, r := range o.results[i].Records {
					own[uint32(r.Index)] = r.Values[0]
				}
				if len(m.Matches) != len(own) || int(rv.Count) != len(own) {
					t.Fatalf("party %d: %d matches and %d values for its %d records", i, len(m.Matches), rv.Count, len(own))
				}
				rm := recordMasks(o.sessions[i]) // in Match order
				for q, x := range m.Matches {
					v, ok := own[x.Index]
					if !ok || int64(rv.Values[q*(1+checkWords)]-rm[q]) != v {
						t.Fatalf("party %d: value %d at index %d is not its own record's output", i, q, x.Index)
					}
				}
			}
		})
	}
}

// The coordinator sees every per-record sum under a uniform mask, also in
// Z_2^64's low bits: if every holder added the same record mask, a record
// of two holders would carry 2·μ and leak its aggregate's parity. Records
// held by exactly two parties, with even values everywhere, must show odd
// masked sums half the time.
func TestMaskedAggregatesUniformLowBits(t *testing.T) {
	params := testParams(3, 1)
	params.Threshold = 2
	tables := make([]*Table, 3)
	for i := range tables {
		tables[i] = NewTable(1)
	}
	for r := range 3000 {
		id := fmt.Sprintf("cust-%d", r)
		skip := r % 3 // each record at exactly two parties
		for i := range tables {
			if i != skip {
				tables[i].AddRow(id, int64(2*(r%5)))
			}
		}
	}
	o, msgs := runRecorded(t, params, tables)
	size := o.report.Size
	sum := maskedSum(t, msgs, (1+checkWords)*(size+1))
	for bit := range 3 {
		ones := 0
		for _, x := range sum[:size] {
			ones += int(x >> bit & 1)
		}
		if dev := math.Abs(float64(ones) - float64(size)/2); dev > 6*math.Sqrt(float64(size)/4) {
			t.Fatalf("bit %d of the masked sums is set in %d of %d records", bit, ones, size)
		}
	}
}

// Finding 6: the lengths of Match and Reveal told a network observer how
// many of a party's records qualify. Two sessions in which bank-a has the
// same number of records and the result the same size, but 20 or 60 of
// bank-a's records qualify, send bank-a messages of the same lengths.
func TestMessageLengthsIndependentOfQualifyingCount(t *testing.T) {
	for _, reveal := range []RevealPolicy{PerRecord, TotalsOnly, CardinalityOnly} {
		t.Run(reveal.String(), func(t *testing.T) {
			lengths := make([][]int, 2)
			for world, common := range []int{20, 60} {
				params := testParams(3, 2)
				params.Threshold, params.Reveal = 2, reveal
				tables := []*Table{NewTable(2), NewTable(2), NewTable(2)}
				for r := range 100 {
					tables[0].AddRow(fmt.Sprintf("a-%d", r), int64(r), 1)
					if r < common {
						tables[1].AddRow(fmt.Sprintf("a-%d", r), 5, 1)
					}
				}
				// bank-b and bank-c share 80 − common more, so the result
				// has 80 records either way; bank-b has 100 records.
				for r := range 80 - common {
					tables[1].AddRow(fmt.Sprintf("bc-%d", r), 1, 1)
					tables[2].AddRow(fmt.Sprintf("bc-%d", r), 1, 1)
				}
				for r := tables[1].Len(); r < 100; r++ {
					tables[1].AddRow(fmt.Sprintf("b-%d", r), 1, 1)
				}
				for r := tables[2].Len(); r < 50; r++ {
					tables[2].AddRow(fmt.Sprintf("c-%d", r), 1, 1)
				}
				s := &session{params: params, tables: tables}
				msgs := recordAll(s)
				o := s.run(t)
				if o.coord != nil {
					t.Fatal(o.coord)
				}
				if o.report.Size != 80 || len(o.results[0].Records) != common && reveal != CardinalityOnly {
					t.Fatalf("world %d: result %d, bank-a qualifies %d", world, o.report.Size, len(o.results[0].Records))
				}
				for _, m := range msgs[0] {
					lengths[world] = append(lengths[world], len(m))
				}
			}
			if !slices.Equal(lengths[0], lengths[1]) {
				t.Fatalf("bank-a's message lengths differ: %v and %v", lengths[0], lengths[1])
			}
		})
	}
}

// rewriteMatch is a hostile coordinator's connection that rewrites the
// Match message it sends its party.
type rewriteMatch struct {
	transport.Conn
	edit func(*wire.Match)
}

func (c rewriteMatch) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypeMatch {
		m, err := wire.DecodeMatch(msg)
		if err != nil {
			return err
		}
		c.edit(m)
		msg = m.Encode()
	}
	return c.Conn.Send(ctx, msg)
}

// Finding 5: a party accepted any result size the coordinator claimed and
// allocated a vector for it. Now the size must fit the set size bounds the
// parties signed; a larger claim ends the session before any allocation.
func TestResultSizeBoundedBySetSizes(t *testing.T) {
	for _, claim := range []uint32{MaxRecords, 1 << 20, 0, 1} {
		s := smallSession(3)
		s.params.Threshold = 2
		if claim == 1 {
			s.params.Mode, claim = ECDH, 0
		}
		bound := uint64(0)
		for _, tb := range s.tables {
			bound += uint64(sizeBound(tb.Len()))
		}
		if claim == 0 {
			claim = uint32(bound/2) + 1 // just beyond what k = 2 allows
		}
		s.wrap = func(i int, c transport.Conn) transport.Conn {
			if i != 1 {
				return c
			}
			return rewriteMatch{Conn: c, edit: func(m *wire.Match) {
				m.Size = claim
				m.Padded = uint32(padded(PerRecord, s.tables[1].Len(), int(claim)))
			}}
		}
		o := s.run(t)
		if !errors.Is(o.errs[1], ErrProtocol) || !strings.Contains(o.errs[1].Error(), "set sizes allow") {
			t.Fatalf("claim %d: bank-b error %v, want the size refused", claim, o.errs[1])
		}
		for i, err := range o.errs {
			if err == nil || o.results[i] != nil {
				t.Fatalf("claim %d: party %d finished", claim, i)
			}
		}
	}
}

// maxResultSize is the tightest bound the signed set sizes give: at most
// ⌊ΣB/k⌋ records held by k parties each, and at most the sum of the
// n − k + 1 smallest bounds (each record is held by one of any n − k + 1
// parties). The cases name the term that binds.
func TestMaxResultSizeBound(t *testing.T) {
	for _, tc := range []struct {
		bounds []uint32
		k      int
		want   uint64
	}{
		{[]uint32{4, 1024, 1024}, 3, 4},       // k = n: the smallest set
		{[]uint32{4, 1024, 1024}, 2, 1026},    // ⌊2052/2⌋: every record in two of the sets
		{[]uint32{4, 8, 1024}, 2, 12},         // the two smallest: each record in set 1 or set 2
		{[]uint32{2, 2, 2, 2}, 3, 2},          // ⌊8/3⌋
		{[]uint32{1, 1 << 20, 1 << 20}, 3, 1}, // one small party caps an all-party result
	} {
		hellos := make([]wire.Hello, len(tc.bounds))
		for i, b := range tc.bounds {
			hellos[i].Bound = b
		}
		if got := maxResultSize(hellos, tc.k); got != tc.want {
			t.Errorf("bounds %v, k = %d: %d, want %d", tc.bounds, tc.k, got, tc.want)
		}
	}
}
