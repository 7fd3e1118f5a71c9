package maskshare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// memDirect is an in-memory DirectLinks shared by all parties of a test:
// one mailbox per (session, sender, recipient). unreachable names parties
// that cannot be reached directly.
type memDirect struct {
	mu          sync.Mutex
	boxes       map[string]chan []byte
	unreachable map[string]bool
	sent        int
}

// link is party `self`'s view of the shared links.
type link struct {
	m    *memDirect
	self string
}

func (m *memDirect) box(sid [32]byte, from, to string) chan []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := fmt.Sprintf("%x/%s/%s", sid, from, to)
	if m.boxes[key] == nil {
		m.boxes[key] = make(chan []byte, 1)
	}
	return m.boxes[key]
}

func (l link) Send(ctx context.Context, sid [32]byte, peer string, msg []byte) error {
	if l.m.unreachable[peer] || l.m.unreachable[l.self] {
		return errors.New("unreachable")
	}
	l.m.mu.Lock()
	l.m.sent++
	l.m.mu.Unlock()
	l.m.box(sid, l.self, peer) <- msg
	return nil
}

func (l link) Recv(ctx context.Context, sid [32]byte, peer string) ([]byte, error) {
	select {
	case msg := <-l.m.box(sid, peer, l.self):
		return msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestDirectDelivery(t *testing.T) {
	for _, unreachable := range [][]string{nil, {"bank-c"}, {"bank-a", "bank-b", "bank-c", "bank-d"}} {
		s := smallSession(4)
		m := &memDirect{boxes: map[string]chan []byte{}, unreachable: map[string]bool{}}
		for _, u := range unreachable {
			m.unreachable[u] = true
		}
		s.partyCfg = make([]*Config, 4)
		for i, name := range s.params.Parties {
			s.partyCfg[i] = &Config{Direct: link{m: m, self: name}}
		}
		var mu sync.Mutex
		var msgs [][]byte
		s.wrap = func(i int, c transport.Conn) transport.Conn { return recorder{Conn: c, mu: &mu, msgs: &msgs} }
		o := s.run(t)
		if o.coord != nil {
			t.Fatalf("unreachable %v: %v", unreachable, o.coord)
		}
		checkAgainstOracle(t, s.params, s.tables, o.results, o.report)

		// Count what the relay saw: an empty box per direct delivery.
		relayedEmpty, relayedFull := 0, 0
		for _, msg := range msgs {
			if typ, _ := wire.Peek(msg); typ != wire.TypeSealed {
				continue
			}
			sealed, err := wire.DecodeSealed(msg, 4, int(0))
			if err != nil { // addressed to another party index; decode for it
				for self := 1; self < 4 && err != nil; self++ {
					sealed, err = wire.DecodeSealed(msg, 4, self)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range sealed.Boxes {
				if len(b.Sealed) == 0 {
					relayedEmpty++
				} else {
					relayedFull++
				}
			}
		}
		// Each box is seen twice: sent to the coordinator, relayed by it.
		reachable := 4 - len(unreachable)
		direct := 0
		if reachable > 1 {
			direct = reachable * (reachable - 1)
		}
		if m.sent != direct || relayedEmpty != 2*direct || relayedFull != 2*(12-direct) {
			t.Fatalf("unreachable %v: %d direct deliveries, relay saw %d empty and %d full boxes; want %d direct",
				unreachable, m.sent, relayedEmpty, relayedFull, direct)
		}
	}
}

// A party that claims direct delivery to a party without direct links makes
// the session abort, rather than hang or lose the part.
func TestDirectDeliveryToPartyWithoutLinks(t *testing.T) {
	s := smallSession(3)
	m := &memDirect{boxes: map[string]chan []byte{}, unreachable: map[string]bool{}}
	s.partyCfg = []*Config{{Direct: link{m: m, self: "bank-a"}}, nil, nil}
	o := s.run(t)
	if o.coord == nil || !errors.Is(o.errs[1], ErrProtocol) {
		t.Fatalf("coordinator %v, bank-b %v; want a protocol error at bank-b", o.coord, o.errs[1])
	}
}

// FuzzParseDirectMessage: any input parses or is refused without panic, and
// what parses re-encodes to the same bytes.
func FuzzParseDirectMessage(f *testing.F) {
	f.Add(directMessage(3, make([]byte, 80)))
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		from, box, ok := parseDirectMessage(msg)
		if !ok {
			return
		}
		if len(box) == 0 || len(box) > wire.MaxSealedSize || !bytes.Equal(directMessage(from, box), msg) {
			t.Fatalf("%x parsed as %d, %x", msg, from, box)
		}
	})
}
