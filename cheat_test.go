package maskshare

// Attacks by a coordinator that deviates from the protocol, written as
// test-only wrappers around its connections (docs/PROTOCOL.md §9).

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

// editElements is a hostile coordinator's connection that rewrites the
// ecdh lists it hands its party at the given hop.
type editElements struct {
	transport.Conn
	hop  int
	edit func(*wire.Elements)
}

func (c editElements) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypeElements {
		m, err := wire.DecodeElements(msg, MaxParties)
		if err != nil {
			return err
		}
		if int(m.Hop) == c.hop {
			c.edit(m)
			msg = m.Encode()
		}
	}
	return c.Conn.Send(ctx, msg)
}

// runEditedECDH runs an ecdh session of three parties in which the
// coordinator's connection to bank-b rewrites the lists it hands it at hop.
func runEditedECDH(t *testing.T, hop int, edit func(*wire.Elements)) outcome {
	t.Helper()
	s := smallSession(3)
	s.params.Mode = ECDH
	s.wrap = func(i int, c transport.Conn) transport.Conn {
		if i != 1 {
			return c
		}
		return editElements{Conn: c, hop: hop, edit: edit}
	}
	return s.run(t)
}

// probe returns elements the coordinator makes itself: hashed identifiers
// of its dictionary, blinded with a key of its own.
func probe(t *testing.T, sid [32]byte, n int) []psi.Element {
	key, err := psi.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("guess-%d", i)
	}
	out := make([]psi.Element, n)
	key.HashAndBlind(out, ids, sid)
	return out
}

// In ecdh mode every list a party blinds, and its own list when it comes
// back, must be exactly what the previous party produced: a coordinator
// that slips its own elements in to have them blinded (the probing attack
// that learns membership), drops or replaces one, or hands a party another
// owner's list is caught by the party that receives it, and the session
// ends for everyone.
func TestCoordinatorCannotAlterECDHLists(t *testing.T) {
	var sid [32]byte
	extra := probe(t, sid, 3)
	for _, tc := range []struct {
		name string
		hop  int
		edit func(*wire.Elements)
	}{
		{"probe elements added", 1, func(m *wire.Elements) { m.Elems = append(m.Elems, extra...) }},
		{"probe elements added on the way back", 3, func(m *wire.Elements) { m.Elems = append(m.Elems[:len(m.Elems)-3], extra...) }},
		{"an element replaced", 2, func(m *wire.Elements) { m.Elems[0] = extra[0] }},
		{"an element dropped", 1, func(m *wire.Elements) { m.Elems = m.Elems[1:] }},
		{"another owner's list", 1, func(m *wire.Elements) { m.Owner = (m.Owner + 1) % 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := runEditedECDH(t, tc.hop, tc.edit)
			if o.coord == nil {
				t.Fatal("the session finished")
			}
			for i, err := range o.errs {
				if err == nil || o.results[i] != nil {
					t.Fatalf("party %d finished", i)
				}
			}
			if tc.name == "another owner's list" {
				// Caught already by the hop check: not the list the ring
				// gives this party.
				if !errors.Is(o.errs[1], ErrProtocol) && !errors.Is(o.errs[1], ErrAuthentication) {
					t.Fatalf("bank-b: %v", o.errs[1])
				}
				return
			}
			var ce *CheatingError
			if !errors.As(o.errs[1], &ce) || ce.Check != "ecdh list authentication" || !strings.Contains(o.errs[1].Error(), "is not what party") {
				t.Fatalf("bank-b: %v, want the list refused as cheating", o.errs[1])
			}
			// The others learn it from bank-b's signed abort.
			for _, i := range []int{0, 2} {
				var ae *AbortError
				if !errors.As(o.errs[i], &ae) || ae.Party != "party bank-b" || !errors.Is(o.errs[i], ErrCheating) {
					t.Fatalf("party %d: %v, want bank-b's abort for cheating", i, o.errs[i])
				}
			}
		})
	}
}
