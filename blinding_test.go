package maskshare

// Attacks by a party that deviates in ecdh mode: it blinds a list it is
// handed otherwise than with the key it committed to, and hides it behind
// an honest MAC (docs/PROTOCOL.md §5, "Blinding proofs").

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
	"github.com/maskshare/maskshare/transport"
)

// cheatingBlinder is a party's own connection to the coordinator that
// rewrites the list the party returns at hop `hop` and MACs the result
// with the party's own key, as a party that deviates would.
type cheatingBlinder struct {
	transport.Conn
	ps   *partySession
	hop  int
	edit func(ps *partySession, owner int, m *wire.Elements) error
}

func (c cheatingBlinder) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypeElements {
		m, err := wire.DecodeElements(msg, c.ps.n)
		if err != nil {
			return err
		}
		if int(m.Hop) == c.hop {
			owner := int(m.Owner)
			if err := c.edit(c.ps, owner, m); err != nil {
				return err
			}
			next := (c.ps.index + 1) % c.ps.n
			m.MAC = listMAC(c.ps.listTo[next], c.ps.sid, owner, c.hop, m)
			msg = m.Encode()
		}
	}
	return c.Conn.Send(ctx, msg)
}

// blindWithOtherKey redoes a party's blinding at hop with a key other than
// the one it committed to, consistently: the elements, the check point,
// and an honest proof for the other key.
func blindWithOtherKey(ps *partySession, owner int, m *wire.Elements) error {
	hop := int(m.Hop)
	other, err := psi.NewKey()
	if err != nil {
		return err
	}
	if err := other.Div(ps.blindKey).Blind(m.Elems, m.Elems); err != nil {
		return err
	}
	m.Chain[hop], m.Proofs[hop-1], err = other.Prove(proofContext(ps.sid, owner, hop), &m.Chain[hop-1])
	return err
}

// replaceElement puts a random element in place of one the party blinded.
func replaceElement(ps *partySession, _ int, m *wire.Elements) error {
	key, err := psi.NewKey()
	if err != nil {
		return err
	}
	key.HashAndBlind(m.Elems[:1], []string{"not anyone's"}, ps.sid)
	return nil
}

// swapElements returns two elements in each other's places, which the MAC
// (over the sorted list) cannot see.
func swapElements(_ *partySession, _ int, m *wire.Elements) error {
	m.Elems[0], m.Elems[1] = m.Elems[1], m.Elems[0]
	return nil
}

func dropElement(_ *partySession, _ int, m *wire.Elements) error {
	m.Elems = m.Elems[1:]
	return nil
}

// forgeProof keeps the honest blinding but replaces the proof by one made
// with another key: what a party without a proof would have to send.
func forgeProof(ps *partySession, owner int, m *wire.Elements) error {
	hop := int(m.Hop)
	other, err := psi.NewKey()
	if err != nil {
		return err
	}
	_, m.Proofs[hop-1], err = other.Prove(proofContext(ps.sid, owner, hop), &m.Chain[hop-1])
	return err
}

// replayProof sends the proof of another hop's context: the proof of
// the same statement bound to hop − 1 (or hop + 1 at hop 1), which must
// not verify at this hop.
func replayProof(ps *partySession, owner int, m *wire.Elements) error {
	hop := int(m.Hop)
	other := hop + 1
	if hop > 1 {
		other = hop - 1
	}
	var err error
	_, m.Proofs[hop-1], err = ps.blindKey.Prove(proofContext(ps.sid, owner, other), &m.Chain[hop-1])
	return err
}

// alterEarlierProof blinds honestly but passes on a bad proof of the
// party before it: the next party finds it, but cannot tell whether the
// earlier party or this one made it bad.
func alterEarlierProof(_ *partySession, _ int, m *wire.Elements) error {
	m.Proofs[m.Hop-2][40] ^= 1
	return nil
}

// In ecdh mode a party that blinds a list with a key other than its
// committed one, forges or replays its proof, or replaces, swaps or drops
// an element, and MACs what it sends honestly, is caught: by the next
// party (the proof does not verify: it is named, unless the bad proof is
// an earlier party's that it passed on), by the list's owner
// (the list came back not blinded by the committed keys: nobody can be
// named), or by the coordinator (the list changed size: it is named). Every
// honest party ends with ErrCheating.
func TestPartyCannotCheatECDHBlinding(t *testing.T) {
	const cheater = 1
	type detector int
	const (
		nextParty detector = iota
		owner
		coordinator
	)
	attacks := []struct {
		name   string
		edit   func(*partySession, int, *wire.Elements) error
		check  string
		by     detector
		named  bool // the detector names the cheater
		minHop int
	}{
		{"blinds with another key", blindWithOtherKey, "ecdh blinding proof", nextParty, true, 1},
		{"forges its proof", forgeProof, "ecdh blinding proof", nextParty, true, 1},
		{"replays a proof of another hop", replayProof, "ecdh blinding proof", nextParty, true, 1},
		{"alters an earlier party's proof", alterEarlierProof, "ecdh blinding proof", nextParty, false, 2},
		{"replaces an element", replaceElement, "ecdh blinding check", owner, false, 1},
		{"swaps two elements", swapElements, "ecdh blinding check", owner, false, 1},
		{"drops an element", dropElement, "ecdh list size", coordinator, true, 1},
	}
	for _, n := range []int{2, 3, 4} {
		hops := []int{1}
		if n > 2 {
			hops = append(hops, n-1)
		}
		for _, hop := range hops {
			for _, a := range attacks {
				if hop < a.minHop {
					continue
				}
				t.Run(fmt.Sprintf("n=%d/hop=%d/%s", n, hop, a.name), func(t *testing.T) {
					s := smallSession(n)
					s.params.Mode = ECDH
					s.partyConn = func(i int, ps *partySession, c transport.Conn) transport.Conn {
						if i != cheater {
							return c
						}
						return cheatingBlinder{Conn: c, ps: ps, hop: hop, edit: a.edit}
					}
					o := s.run(t)
					if o.coord == nil || o.report != nil {
						t.Fatal("the coordinator finished")
					}
					if !errors.Is(o.coord, ErrCheating) {
						t.Fatalf("coordinator: %v, want ErrCheating", o.coord)
					}
					culprit := "party " + s.params.Parties[cheater]
					det := -1 // the coordinator
					switch a.by {
					case nextParty:
						det = (cheater + 1) % n
					case owner:
						det = (cheater - hop + n) % n
					}
					var ce *CheatingError
					if det < 0 {
						if !errors.As(o.coord, &ce) || ce.Check != a.check || ce.Party != culprit {
							t.Fatalf("coordinator: %v, want check %q naming %s", o.coord, a.check, culprit)
						}
					}
					for i, err := range o.errs {
						if i == cheater {
							continue
						}
						if err == nil || o.results[i] != nil {
							t.Fatalf("party %d finished", i)
						}
						if !errors.Is(err, ErrCheating) {
							t.Fatalf("party %d: %v, want ErrCheating", i, err)
						}
						if i == det {
							t.Log(err)
							want := ""
							if a.named {
								want = culprit
							}
							if !errors.As(err, &ce) || ce.Check != a.check || ce.Party != want {
								t.Fatalf("party %d: %v, want check %q naming %q", i, err, a.check, want)
							}
							continue
						}
						// The others hear it in the detector's signed abort.
						who := "coordinator"
						if det >= 0 {
							who = "party " + s.params.Parties[det]
						}
						var ae *AbortError
						if !errors.As(err, &ae) || ae.Party != who {
							t.Fatalf("party %d: %v, want %s's abort", i, err, who)
						}
					}
				})
			}
		}
	}
}

// The check chain travels under the list MAC: a coordinator that alters a
// check point or a proof is caught like one that alters an element.
func TestCoordinatorCannotAlterECDHChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		hop  int
		edit func(*wire.Elements)
	}{
		{"owner's check point replaced", 1, func(m *wire.Elements) { m.Chain[0] = probe(t, [32]byte{}, 1)[0] }},
		{"check point replaced", 2, func(m *wire.Elements) { m.Chain[1] = m.Chain[0] }},
		{"proof altered", 2, func(m *wire.Elements) { m.Proofs[0][40] ^= 1 }},
		{"proof altered on the way back", 3, func(m *wire.Elements) { m.Proofs[1][3] ^= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := runEditedECDH(t, tc.hop, tc.edit)
			var ce *CheatingError
			if !errors.As(o.errs[1], &ce) || ce.Check != "ecdh list authentication" {
				t.Fatalf("bank-b: %v, want the list refused as cheating", o.errs[1])
			}
			for _, i := range []int{0, 2} {
				var ae *AbortError
				if !errors.As(o.errs[i], &ae) || ae.Party != "party bank-b" || !errors.Is(o.errs[i], ErrCheating) {
					t.Fatalf("party %d: %v, want bank-b's abort for cheating", i, o.errs[i])
				}
			}
		})
	}
}

// editHello is a party's own connection that rewrites its Hello and signs
// it again with the party's identity: a party that commits to a bad key.
type editHello struct {
	transport.Conn
	ps   *partySession
	edit func(*wire.Hello)
}

func (c editHello) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypeHello {
		h, err := wire.DecodeHello(msg)
		if err != nil {
			return err
		}
		c.edit(h)
		h.Sig = signHello(c.ps.cfg.identity(), c.ps.sid, c.ps.index, h, paramsDigest(&c.ps.wp))
		msg = h.Encode()
	}
	return c.Conn.Send(ctx, msg)
}

// editPeers is a coordinator's connection that rewrites the Peers message.
type editPeers struct {
	transport.Conn
	n    int
	edit func(*wire.Peers)
}

func (c editPeers) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypePeers {
		m, err := wire.DecodePeers(msg, c.n)
		if err != nil {
			return err
		}
		c.edit(m)
		msg = m.Encode()
	}
	return c.Conn.Send(ctx, msg)
}

// The key commitment is part of the signed Hello: a party's commitment must
// be a valid element in ecdh mode and zero in keyed mode, and a coordinator
// cannot substitute one.
func TestKeyCommitments(t *testing.T) {
	other, err := psi.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode PSIMode
		edit func(*wire.Hello)
	}{
		{"ecdh commitment is the identity", ECDH, func(h *wire.Hello) { h.Blind = psi.Element{} }},
		{"ecdh commitment is not an element", ECDH, func(h *wire.Hello) { h.Blind = psi.Element{0xff} }},
		{"keyed-mode commitment", Keyed, func(h *wire.Hello) { h.Blind = other.Public() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smallSession(3)
			s.params.Mode = tc.mode
			s.partyConn = func(i int, ps *partySession, c transport.Conn) transport.Conn {
				if i != 2 {
					return c
				}
				return editHello{Conn: c, ps: ps, edit: tc.edit}
			}
			o := s.run(t)
			if !errors.Is(o.coord, ErrProtocol) || !strings.Contains(o.coord.Error(), "commitment") {
				t.Fatalf("coordinator: %v, want the commitment refused", o.coord)
			}
			for i, err := range o.errs {
				if o.results[i] != nil || !errors.Is(err, ErrProtocol) {
					t.Fatalf("party %d: %v, want the coordinator's abort", i, err)
				}
			}
		})
	}

	t.Run("substituted by the coordinator", func(t *testing.T) {
		s := smallSession(3)
		s.params.Mode = ECDH
		s.wrap = func(i int, c transport.Conn) transport.Conn {
			if i != 0 {
				return c
			}
			return editPeers{Conn: c, n: 3, edit: func(m *wire.Peers) { m.Hellos[1].Blind = other.Public() }}
		}
		o := s.run(t)
		if !errors.Is(o.errs[0], ErrAuthentication) {
			t.Fatalf("bank-a: %v, want the substituted commitment refused", o.errs[0])
		}
		if o.coord == nil {
			t.Fatal("the coordinator finished")
		}
	})
}
