package maskshare

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
			cands, err := st.senders[honest].Candidates(nil, []byte(id))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range cands {
				for _, out := range st.own[honest] {
					v := xorValue(&a, &out.Value)
					tag := pairHash(oprfTagLabel, o.sessions[j].sid, j, honest, &v)
					if honestTags[string(tag[:wire.OPRFTagSize])] {
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

// TestOPRFTamperedRelayRefused: a coordinator that alters one byte of an
// OPRF message it relays, or swaps two boxes' senders, is caught by the
// pair's AEAD before the message is used.
func TestOPRFTamperedRelayRefused(t *testing.T) {
	for _, what := range []string{"flip", "swap"} {
		t.Run(what, func(t *testing.T) {
			params := testParams(3, 1)
			params.Mode = OPRF
			tables := genTables(rand.New(rand.NewPCG(5, 5)), 3, 1, 30, 1000)
			s := &session{params: params, tables: tables, wrap: func(i int, c transport.Conn) transport.Conn {
				if i != 1 {
					return c
				}
				return tap{Conn: c, send: func(msg []byte) []byte {
					if typ, _ := wire.Peek(msg); typ != wire.TypePairwise {
						return msg
					}
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
				}}
			}}
			o := s.run(t)
			if o.coord == nil || o.results[1] != nil {
				t.Fatal("the session finished")
			}
			if !errors.Is(o.errs[1], ErrAuthentication) {
				t.Fatalf("party 1 ended with %v, want ErrAuthentication", o.errs[1])
			}
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
