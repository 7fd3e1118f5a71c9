package maskshare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/maskshare/maskshare/internal/kkrt"
	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// tap is the coordinator's end of a party's connection with hooks on what
// the coordinator receives from the party and sends it.
type tap struct {
	transport.Conn
	recv func(msg []byte) []byte
	send func(msg []byte) []byte
}

func (c tap) Recv(ctx context.Context) ([]byte, error) {
	msg, err := c.Conn.Recv(ctx)
	if err == nil && c.recv != nil {
		msg = c.recv(msg)
	}
	return msg, err
}

func (c tap) Send(ctx context.Context, msg []byte) error {
	if c.send != nil {
		msg = c.send(msg)
	}
	return c.Conn.Send(ctx, msg)
}

func TestOPRFRefusesThresholdBelowN(t *testing.T) {
	p := testParams(3, 1)
	p.Mode, p.Threshold = OPRF, 2
	err := p.Validate()
	if !errors.Is(err, ErrParams) || !strings.Contains(err.Error(), "oprf") {
		t.Fatalf("Validate(oprf, k = 2 of 3) = %v, want ErrParams naming the oprf mode", err)
	}
	if _, err := NewCoordinator(p, nil); !errors.Is(err, ErrParams) {
		t.Fatalf("NewCoordinator = %v, want ErrParams", err)
	}
	for _, k := range []int{0, 3} {
		p.Threshold = k
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate(oprf, k = %d of 3) = %v", k, err)
		}
	}
}

// TestOPRFCoalitionCannotTestHonestParty mounts the coordinator and every
// party but one (n = 3: parties 0 and 1 against party 2) with everything
// they hold after an oprf session: their kkrt sender states for the honest
// party's sessions (their PRFs at any instance and identifier), their
// receiver outputs from the honest party's PRF, and every tag the
// coordinator received. For an identifier none of them holds, no tag the
// coalition can form — its PRF at each of the identifier's possible
// instances combined with every honest-PRF value it has — equals any tag
// the honest party uploaded, so it cannot tell whether the honest party
// holds it. The same computation for identifiers a colluder holds does
// find the honest party's tags (the control: the attack is the real one).
func TestOPRFCoalitionCannotTestHonestParty(t *testing.T) {
	const n, honest = 3, 2
	params := testParams(n, 1)
	params.Mode = OPRF
	tables := make([]*Table, n)
	for i := range tables {
		tables[i] = NewTable(1)
	}
	var common, honestOnly, colluders []string
	for u := range 40 {
		id := fmt.Sprintf("common-%d", u)
		common = append(common, id)
		for i := range tables {
			tables[i].AddRow(id, int64(u))
		}
	}
	for u := range 40 {
		id := fmt.Sprintf("honest-only-%d", u)
		honestOnly = append(honestOnly, id)
		tables[honest].AddRow(id, 1)
		id = fmt.Sprintf("colluders-%d", u)
		colluders = append(colluders, id) // held by parties 0 and 1, not 2
		tables[0].AddRow(id, 1)
		tables[1].AddRow(id, 1)
	}
	var mu sync.Mutex
	var uploaded *wire.PairTags
	s := &session{params: params, tables: tables, wrap: func(i int, c transport.Conn) transport.Conn {
		if i != honest {
			return c
		}
		return tap{Conn: c, recv: func(msg []byte) []byte {
			if typ, _ := wire.Peek(msg); typ == wire.TypePairTags {
				m, err := wire.DecodePairTags(msg, n, honest)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				uploaded = m
				mu.Unlock()
			}
			return msg
		}}
	}}
	o := s.run(t)
	if o.coord != nil {
		t.Fatal(o.coord)
	}
	checkAgainstOracle(t, params, tables, o.results, o.report)
	honestTags := map[string]bool{}
	for _, p := range uploaded.Peers {
		for at := 0; at < len(p.Tags); at += wire.OPRFTagSize {
			honestTags[string(p.Tags[at:at+wire.OPRFTagSize])] = true
		}
	}
	// hits counts the coalition's tags for id that the honest party
	// uploaded: colluder j's PRF F_{j→h} at every instance id may have in
	// the honest party's table, ⊕ every value of the honest party's PRF
	// F_{h→j} that j received (at its own rows, whatever they are).
	hits := func(id string) int {
		found := 0
		for j := range n {
			if j == honest {
				continue
			}
			st := o.sessions[j].oprf
			sid := o.sessions[j].sid
			cands, err := st.senders[honest].Candidates(nil, kkrt.ElementOf(&sid, []byte(id)))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range cands {
				for _, out := range st.own[honest] {
					var tag [wire.OPRFTagSize]byte
					putOPRFTag(tag[:], &a, &out.Value)
					if honestTags[string(tag[:])] {
						found++
					}
				}
			}
		}
		return found
	}
	for _, id := range common {
		if hits(id) == 0 {
			t.Fatalf("control: the coalition's tags for %q, which it holds, match none of the honest party's: the attack is not the real one", id)
		}
	}
	for _, id := range honestOnly {
		if h := hits(id); h != 0 {
			t.Fatalf("the coalition formed %d of the honest party's tags for %q, which it does not hold: it can test membership", h, id)
		}
	}
	for _, id := range colluders { // not the honest party's: no match either
		if h := hits(id); h != 0 {
			t.Fatalf("%d of the honest party's tags match %q, which it does not hold", h, id)
		}
	}
	if len(o.sessions[0].oprf.own[honest]) != tables[0].Len() || o.sessions[0].oprf.senders[honest].Bins() == 0 {
		t.Fatal("the coalition's state is not the session's")
	}
}

// runOPRFAltered runs a 3-party oprf session whose coordinator passes
// every message of type typ that it sends to party 1 through alter.
func runOPRFAltered(t *testing.T, seed uint64, universe int, typ wire.Type, alter func(msg []byte) []byte) outcome {
	params := testParams(3, 1)
	params.Mode = OPRF
	tables := genTables(rand.New(rand.NewPCG(seed, seed)), 3, 1, universe, 1000)
	s := &session{params: params, tables: tables, wrap: func(i int, c transport.Conn) transport.Conn {
		if i != 1 {
			return c
		}
		return tap{Conn: c, send: func(msg []byte) []byte {
			if got, _ := wire.Peek(msg); got != typ {
				return msg
			}
			return alter(msg)
		}}
	}}
	o := s.run(t)
	if o.coord == nil {
		t.Fatal("the session finished")
	}
	return o
}

// TestOPRFTamperedRelayRefused: a coordinator that alters one byte of an
// OPRF message it relays, or swaps two boxes' senders, is caught by the
// pair's AEAD before the message is used.
func TestOPRFTamperedRelayRefused(t *testing.T) {
	for _, what := range []string{"flip", "swap"} {
		t.Run(what, func(t *testing.T) {
			o := runOPRFAltered(t, 5, 30, wire.TypePairwise, func(msg []byte) []byte {
				m, err := wire.DecodePairwise(msg, 3, 1, msg[2], func(int) int { return 1 << 30 })
				if err != nil {
					t.Error(err)
					return msg
				}
				if what == "flip" {
					m.Boxes[0].Sealed[100] ^= 1
				} else {
					m.Boxes[0].Peer, m.Boxes[1].Peer = m.Boxes[1].Peer, m.Boxes[0].Peer
				}
				return m.Encode()
			})
			if o.results[1] != nil || !errors.Is(o.errs[1], ErrAuthentication) {
				t.Fatalf("party 1 ended with %v, want ErrAuthentication", o.errs[1])
			}
		})
	}
}

// TestOPRFCandidateBytesChecked: a coordinator that names a candidate for
// a lower peer (where an honest one sends 0) is refused by the party at
// the Match; one that names another of the party's candidates for a
// higher peer makes the party evaluate its PRF at the wrong bin, so the
// record secrets it seals or opens with that peer fail, and a party
// aborts with check "oprf record secret".
func TestOPRFCandidateBytesChecked(t *testing.T) {
	for _, what := range []string{"lower", "higher"} {
		t.Run(what, func(t *testing.T) {
			o := runOPRFAltered(t, 6, 60, wire.TypeMatch, func(msg []byte) []byte {
				m, err := wire.DecodeMatchWidth(msg, 2)
				if err != nil {
					t.Error(err)
					return msg
				}
				for e := range m.Matches { // slot 0: party 0 (lower), 1: party 2
					if what == "lower" {
						m.Cands[e*2] = 1
					} else {
						m.Cands[e*2+1] = (m.Cands[e*2+1] + 1) % wire.OPRFCandidates
					}
				}
				return m.Encode()
			})
			var ce *CheatingError
			if what == "lower" {
				if !errors.As(o.errs[1], &ce) || ce.Check != "match" || ce.Party != "coordinator" {
					t.Fatalf("party 1 ended with %v, want the coordinator's ErrCheating, check match", o.errs[1])
				}
				return
			}
			for _, err := range o.errs {
				if errors.As(err, &ce) && ce.Check == "oprf record secret" {
					return
				}
			}
			t.Fatalf("no party caught the wrong bins: %v", o.errs)
		})
	}
}

// TestOPRFMessageSizes pins the bounds the coordinator receives the OPRF
// messages with: msg0 is fixed, msg1 follows the receiver's signed bound.
func TestOPRFMessageSizes(t *testing.T) {
	if kkrt.Msg1Size(1000) > kkrt.Msg1Size(1024) || kkrt.Msg1Size(1<<20) <= kkrt.Msg1Size(1<<19) {
		t.Fatal("kkrt.Msg1Size is not monotone in the set size: the signed bound would not bound msg1")
	}
}

// TestOPRFRecordsCliqueRule drives the coordinator's matching with tags
// made up so that each case is certain: a record is a row of party 0
// matching exactly one row of every other party, those rows matching each
// other; a row matching two rows of a party is not a record; and a row of
// party 0 whose matches at parties 1 and 2 do not match each other (a
// party used different identifiers in different sessions) is ErrCheating,
// check "oprf records".
func TestOPRFRecordsCliqueRule(t *testing.T) {
	const n, rows, cands = 3, 4, wire.OPRFCandidates
	rng := rand.New(rand.NewPCG(9, 9))
	// tags[i][j] are i's tags for j: rows × cands, random unless set.
	mk := func() [][][]byte {
		tags := make([][][]byte, n)
		for i := range tags {
			tags[i] = make([][]byte, n)
			for j := range tags[i] {
				b := make([]byte, rows*cands*wire.OPRFTagSize)
				for k := range b {
					b[k] = byte(rng.Uint32())
				}
				tags[i][j] = b
			}
		}
		return tags
	}
	// link makes row a of i (candidate ca) and row b of j (candidate cb)
	// share a tag.
	link := func(tags [][][]byte, i, a, ca, j, b, cb int) {
		src := tags[i][j][(a*cands+ca)*wire.OPRFTagSize:][:wire.OPRFTagSize]
		copy(tags[j][i][(b*cands+cb)*wire.OPRFTagSize:], src)
	}
	run := func(tags [][][]byte) (int, [][]uint8, error) {
		msgs := make([]*wire.PairTags, n)
		for i := range n {
			m := &wire.PairTags{Rows: rows}
			for j := range n {
				if j != i {
					m.Peers = append(m.Peers, wire.PeerTags{Peer: uint16(j), Cands: cands, Tags: tags[i][j]})
				}
			}
			msgs[i] = m
		}
		c := &coordSession{Coordinator: &Coordinator{params: testParams(n, 1)}, n: n}
		size, _, cb, err := c.oprfRecords(msgs)
		return size, cb, err
	}

	tags := mk()
	// Record: party 0 row 1, party 1 row 3, party 2 row 0.
	link(tags, 0, 1, 1, 1, 3, 0)
	link(tags, 0, 1, 0, 2, 0, 1)
	link(tags, 1, 3, 1, 2, 0, 0)
	// Not a record: party 0 row 2 matches two rows of party 1.
	link(tags, 0, 2, 0, 1, 0, 0)
	link(tags, 0, 2, 1, 1, 1, 1)
	link(tags, 0, 2, 0, 2, 2, 0)
	size, cb, err := run(tags)
	if err != nil || size != 1 {
		t.Fatalf("oprfRecords = %d records, %v; want 1", size, err)
	}
	// The candidate bytes for the record name, for each higher peer, which
	// of the party's candidates matched, and are 0 for lower peers:
	// party 0's for peers 1 and 2 are 1 and 0, party 1's for peer 2 is 1,
	// party 2 has no higher peer.
	for i, want := range [][]uint8{{1, 0}, {0, 1}, {0, 0}} {
		if got := cb[i]; !slices.Equal(got, want) {
			t.Errorf("party %d's candidate bytes %v, want %v", i, got, want)
		}
	}

	tags = mk()
	link(tags, 0, 0, 0, 1, 0, 0)
	link(tags, 0, 0, 0, 2, 0, 0) // rows 0 of parties 1 and 2 do not match
	var ce *CheatingError
	if _, _, err := run(tags); !errors.As(err, &ce) || ce.Check != "oprf records" {
		t.Fatalf("broken clique: %v, want ErrCheating, check \"oprf records\"", err)
	}
}

// TestOPRFModeJSON: the configs' "mode": "oprf" reads as OPRF and writes
// back as "oprf".
func TestOPRFModeJSON(t *testing.T) {
	var p Params
	if err := json.Unmarshal([]byte(`{"parties":["a","b"],"columns":[{"name":"x","type":"int64"}],"mode":"oprf"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Mode != OPRF || p.Validate() != nil {
		t.Fatalf("mode %v, Validate %v", p.Mode, p.Validate())
	}
	b, err := json.Marshal(p)
	if err != nil || !strings.Contains(string(b), `"mode":"oprf"`) {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
}

// TestMatchPairAgainstNaive checks the partitioned join against a plain
// one over tag maps, on lists large enough to be split (rows sharing
// one tag, a row matching two rows, two rows matching one, a row with two
// equal candidates) and on tiny ones (a single partition).
func TestMatchPairAgainstNaive(t *testing.T) {
	const ts, nc = wire.OPRFTagSize, wire.OPRFCandidates
	rng := rand.New(rand.NewPCG(11, 12))
	for _, rows := range []int{3, 50, 20000} {
		ti := &wire.PeerTags{Cands: nc, Tags: make([]byte, rows*nc*ts)}
		tj := &wire.PeerTags{Cands: nc, Tags: make([]byte, rows*nc*ts)}
		for _, b := range [][]byte{ti.Tags, tj.Tags} {
			for k := range b {
				b[k] = byte(rng.Uint32())
			}
		}
		tag := func(tags []byte, row, c int) []byte { return tags[(row*nc+c)*ts:][:ts] }
		for k := 0; k < rows/2; k++ { // plant matches, some of them conflicting
			a, b := rng.IntN(rows), rng.IntN(rows)
			copy(tag(tj.Tags, b, rng.IntN(nc)), tag(ti.Tags, a, rng.IntN(nc)))
			if k%7 == 0 { // a row with two equal candidates
				copy(tag(ti.Tags, a, (k/7)%nc), tag(ti.Tags, a, (k/7+1)%nc))
			}
		}
		// The plain join: the rows of j each row of i shares a tag with, and back.
		fwd := make([]map[int]bool, rows)
		back := make([]map[int]bool, rows)
		for a := range rows {
			for ca := range nc {
				for b := range rows {
					for cb := range nc {
						if bytes.Equal(tag(ti.Tags, a, ca), tag(tj.Tags, b, cb)) {
							if fwd[a] == nil {
								fwd[a] = map[int]bool{}
							}
							if back[b] == nil {
								back[b] = map[int]bool{}
							}
							fwd[a][b], back[b][a] = true, true
						}
					}
				}
			}
			if rows > 1000 && a > 300 { // the quadratic join only on a prefix
				break
			}
		}
		pm := matchPair(ti, tj, rows, rows)
		limit := rows
		if rows > 1000 {
			limit = 301
		}
		unique := 0
		for a := range limit {
			want := int32(noMatch)
			if len(fwd[a]) > 1 {
				want = manyMatch
			}
			for b := range fwd[a] {
				if len(fwd[a]) == 1 {
					want = int32(b)
					if len(back[b]) > 1 {
						want = manyMatch
					}
				}
			}
			if rows > 1000 && want >= 0 {
				// back[b] saw only the prefix: rows of i beyond it may match b too.
				b := int(want)
				for a2 := limit; a2 < rows; a2++ {
					for ca := range nc {
						for cb := range nc {
							if bytes.Equal(tag(ti.Tags, a2, ca), tag(tj.Tags, b, cb)) {
								want = manyMatch
							}
						}
					}
				}
			}
			if got := pm.other[a]; got != want {
				t.Fatalf("%d rows: row %d of i matches %d, want %d", rows, a, got, want)
			}
			if want >= 0 {
				unique++
				c := pm.ci[a]
				found := false
				for cb := range nc {
					found = found || bytes.Equal(tag(ti.Tags, a, int(c)), tag(tj.Tags, int(want), cb))
				}
				if !found {
					t.Fatalf("%d rows: row %d's candidate %d is not a tag of row %d", rows, a, c, want)
				}
			}
		}
		if rows >= 50 && unique == 0 {
			t.Fatalf("%d rows: no unique match planted", rows)
		}
	}
}
