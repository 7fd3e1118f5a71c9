package maskshare

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// withIdentities gives every party of s an identity of its own, pinned at
// everyone, the same across runs of s, and returns the private keys.
func withIdentities(t *testing.T, s *session) map[string]ed25519.PrivateKey {
	t.Helper()
	keys := map[string]ed25519.PublicKey{}
	privs := map[string]ed25519.PrivateKey{}
	s.partyCfg = make([]*Config, len(s.params.Parties))
	for i, name := range s.params.Parties {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[name], privs[name] = pub, priv
		s.partyCfg[i] = &Config{Identity: priv, PeerKeys: keys}
	}
	// A party that stops (it was told the session is over) is not waited
	// for long.
	s.cfg = &Config{PeerKeys: keys, PhaseTimeout: time.Second}
	return privs
}

// abortTap records the Abort messages crossing a coordinator-side
// connection: sent (coordinator to party) and received (party to
// coordinator). strip drops the signature of what the party sends, as a
// party sending an unsigned abort would.
type abortTap struct {
	transport.Conn
	strip bool
	mu    sync.Mutex
	sent  [][]byte
	recvd [][]byte
}

func (c *abortTap) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypeAbort {
		c.mu.Lock()
		c.sent = append(c.sent, msg)
		c.mu.Unlock()
	}
	return c.Conn.Send(ctx, msg)
}

func (c *abortTap) Recv(ctx context.Context) ([]byte, error) {
	msg, err := c.Conn.Recv(ctx)
	if t, _ := wire.Peek(msg); err == nil && t == wire.TypeAbort {
		if c.strip {
			m, derr := wire.DecodeAbort(msg)
			if derr != nil {
				return nil, derr
			}
			m.Sig = nil
			msg = m.Encode()
		}
		c.mu.Lock()
		c.recvd = append(c.recvd, msg)
		c.mu.Unlock()
	}
	return msg, err
}

// forgeConn is a hostile coordinator's connection to its party: it sends
// forge(sid) instead of the first message of type at.
type forgeConn struct {
	transport.Conn
	at    wire.Type
	forge func(sid [32]byte) []byte
	sid   [32]byte
	done  bool
}

func (c *forgeConn) Send(ctx context.Context, msg []byte) error {
	switch t, _ := wire.Peek(msg); {
	case t == wire.TypeOpen:
		if o, err := wire.DecodeOpen(msg); err == nil {
			c.sid = o.Session
		}
	case t == c.at && !c.done:
		c.done = true
		msg = c.forge(c.sid)
	}
	return c.Conn.Send(ctx, msg)
}

func onlyParty(i int, f func(c transport.Conn) transport.Conn) func(int, transport.Conn) transport.Conn {
	return func(j int, c transport.Conn) transport.Conn {
		if j == i {
			return f(c)
		}
		return c
	}
}

// A party's abort reaches the others signed, as the party sent it, and
// names the party.
func TestAbortSignedRelay(t *testing.T) {
	s := smallSession(3)
	privs := withIdentities(t, s)
	tb := s.tables[1]
	tb.AddRow(tb.IDs[0], 1, 2)
	taps := make([]*abortTap, 3)
	s.wrap = func(i int, c transport.Conn) transport.Conn {
		taps[i] = &abortTap{Conn: c}
		return taps[i]
	}
	o := s.run(t)
	expectAbort(t, o, s.params, 1, ErrDuplicateID)
	for _, i := range []int{0, 2} {
		if errors.Is(o.errs[i], ErrCheating) {
			t.Fatalf("party %d takes a genuine abort for cheating: %v", i, o.errs[i])
		}
		if len(taps[i].sent) != 1 {
			t.Fatalf("party %d was sent %d aborts", i, len(taps[i].sent))
		}
		m, err := wire.DecodeAbort(taps[i].sent[0])
		if err != nil {
			t.Fatal(err)
		}
		pub := privs["bank-b"].Public().(ed25519.PublicKey)
		if m.From != 1 || !o.sessions[i].sidKnown || !verifyAbort(pub, o.sessions[i].sid, m) {
			t.Fatalf("party %d was sent an abort from %d without bank-b's signature for the session", i, m.From)
		}
		if string(taps[i].sent[0]) != string(taps[1].recvd[0]) {
			t.Fatalf("the abort relayed to party %d is not bank-b's message as it came", i)
		}
	}
	if len(taps[1].sent) != 0 {
		t.Fatal("the aborting party was told of its own abort")
	}
	if errors.Is(o.coord, ErrCheating) {
		t.Fatalf("coordinator error %v", o.coord)
	}
}

// checkForged asserts that err is bank-a's error for an abort that claimed
// to come from bank-b but was not signed by it for the session.
func checkForged(t *testing.T, o outcome, claimed error) {
	t.Helper()
	for i := range o.results {
		if o.results[i] != nil {
			t.Fatalf("party %d got a result", i)
		}
	}
	err := o.errs[0]
	var ae *AbortError
	if !errors.As(err, &ae) || ae.Party != "coordinator" {
		t.Fatalf("bank-a's error %v does not blame the coordinator", err)
	}
	if !errors.Is(err, ErrCheating) || !errors.Is(err, claimed) {
		t.Fatalf("bank-a's error %v is not ErrCheating and %v", err, claimed)
	}
	var ce *CheatingError
	if !errors.As(err, &ce) || ce.Check != "abort attribution" || ce.Party != "coordinator" {
		t.Fatalf("bank-a's error %v holds no CheatingError for the abort attribution by the coordinator", err)
	}
	if !strings.Contains(err.Error(), "bank-b") || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("bank-a's error %q does not say that bank-b did not sign the abort", err)
	}
}

// A hostile coordinator sends bank-a an abort "from" bank-b that bank-b did
// not sign: bank-a blames the coordinator and reports cheating.
func TestAbortForgedByCoordinator(t *testing.T) {
	dup := abortCode(ErrDuplicateID)
	for _, tc := range []struct {
		name  string
		forge func(privs map[string]ed25519.PrivateKey, sid [32]byte) *wire.Abort
	}{
		{"no signature", func(_ map[string]ed25519.PrivateKey, _ [32]byte) *wire.Abort {
			return &wire.Abort{From: 1, Code: dup, Reason: ErrDuplicateID.Error()}
		}},
		{"garbage signature", func(_ map[string]ed25519.PrivateKey, _ [32]byte) *wire.Abort {
			sig := make([]byte, ed25519.SignatureSize)
			rand.Read(sig)
			return &wire.Abort{From: 1, Code: dup, Reason: ErrDuplicateID.Error(), Sig: sig}
		}},
		{"signed by another party", func(privs map[string]ed25519.PrivateKey, sid [32]byte) *wire.Abort {
			m := &wire.Abort{From: 1, Code: dup, Reason: ErrDuplicateID.Error()}
			m.Sig = signAbort(privs["bank-c"], sid, m)
			return m
		}},
		{"code altered", func(privs map[string]ed25519.PrivateKey, sid [32]byte) *wire.Abort {
			m := &wire.Abort{From: 1, Code: abortCode(ErrProtocol), Reason: ErrDuplicateID.Error()}
			m.Sig = signAbort(privs["bank-b"], sid, m)
			m.Code = dup
			return m
		}},
		{"sender altered", func(privs map[string]ed25519.PrivateKey, sid [32]byte) *wire.Abort {
			m := &wire.Abort{From: 2, Code: dup, Reason: ErrDuplicateID.Error()}
			m.Sig = signAbort(privs["bank-b"], sid, m)
			m.From = 1
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smallSession(3)
			privs := withIdentities(t, s)
			s.wrap = onlyParty(0, func(c transport.Conn) transport.Conn {
				return &forgeConn{Conn: c, at: wire.TypePeers, forge: func(sid [32]byte) []byte {
					return tc.forge(privs, sid).Encode()
				}}
			})
			checkForged(t, s.run(t), ErrDuplicateID)
		})
	}
}

// bank-b's genuine abort from one session, replayed into another, is
// refused the same way: the signature covers the session id.
func TestAbortReplayedFromAnotherSession(t *testing.T) {
	s := smallSession(3)
	privs := withIdentities(t, s)
	s.tables[1].AddRow(s.tables[1].IDs[0], 1, 2)
	tap := &abortTap{}
	s.wrap = onlyParty(1, func(c transport.Conn) transport.Conn { tap.Conn = c; return tap })
	o := s.run(t)
	expectAbort(t, o, s.params, 1, ErrDuplicateID)
	if len(tap.recvd) != 1 {
		t.Fatalf("bank-b sent %d aborts", len(tap.recvd))
	}
	genuine := tap.recvd[0]
	m, err := wire.DecodeAbort(genuine)
	if err != nil {
		t.Fatal(err)
	}
	first := o.sessions[1].sid
	if !verifyAbort(privs["bank-b"].Public().(ed25519.PublicKey), first, m) {
		t.Fatal("bank-b's abort does not verify in its own session")
	}

	s2 := smallSession(3)
	s2.partyCfg, s2.cfg = s.partyCfg, s.cfg
	s2.wrap = onlyParty(0, func(c transport.Conn) transport.Conn {
		return &forgeConn{Conn: c, at: wire.TypePeers, forge: func([32]byte) []byte { return genuine }}
	})
	o = s2.run(t)
	if o.sessions[0].sid == first {
		t.Fatal("two sessions with the same id")
	}
	checkForged(t, o, ErrDuplicateID)
}

// A party whose abort is not signed still ends the session, but an honest
// coordinator does not pass it on as the party's: the others hear of it as
// the coordinator's word, which is not cheating.
func TestAbortUnsignedByParty(t *testing.T) {
	s := smallSession(3)
	withIdentities(t, s)
	s.tables[1].AddRow(s.tables[1].IDs[0], 1, 2)
	s.wrap = onlyParty(1, func(c transport.Conn) transport.Conn { return &abortTap{Conn: c, strip: true} })
	o := s.run(t)
	var ie *InputError
	if !errors.As(o.errs[1], &ie) {
		t.Fatalf("bank-b's error %v", o.errs[1])
	}
	for _, i := range []int{0, 2} {
		var ae *AbortError
		if !errors.As(o.errs[i], &ae) || ae.Party != "coordinator" || !errors.Is(o.errs[i], ErrDuplicateID) ||
			errors.Is(o.errs[i], ErrCheating) || !strings.Contains(o.errs[i].Error(), "bank-b") {
			t.Fatalf("party %d error %v, want the coordinator's abort naming bank-b, not cheating", i, o.errs[i])
		}
	}
	var ae *AbortError
	if !errors.As(o.coord, &ae) || ae.Party != "party bank-b" || !strings.Contains(ae.Reason, "not signed") {
		t.Fatalf("coordinator error %v, want bank-b's unsigned abort", o.coord)
	}
}

// Without identities there is nothing to verify: the coordinator's word is
// all there is, and an abort names the party it says.
func TestAbortWithoutIdentities(t *testing.T) {
	insecure := func() *session {
		s := smallSession(3)
		s.cfg = &Config{InsecureNoIdentities: true, PhaseTimeout: time.Second}
		s.partyCfg = []*Config{s.cfg, s.cfg, s.cfg}
		return s
	}
	s := insecure()
	s.tables[1].AddRow(s.tables[1].IDs[0], 1, 2)
	o := s.run(t)
	expectAbort(t, o, s.params, 1, ErrDuplicateID)

	s = insecure()
	s.wrap = onlyParty(0, func(c transport.Conn) transport.Conn {
		return &forgeConn{Conn: c, at: wire.TypePeers, forge: func([32]byte) []byte {
			return (&wire.Abort{From: 1, Code: abortCode(ErrDuplicateID), Reason: "forged"}).Encode()
		}}
	})
	o = s.run(t)
	var ae *AbortError
	if !errors.As(o.errs[0], &ae) || ae.Party != "party bank-b" || errors.Is(o.errs[0], ErrCheating) {
		t.Fatalf("without identities, bank-a's error %v, want an abort by party bank-b", o.errs[0])
	}
}

func TestCheatingError(t *testing.T) {
	if abortCode(ErrCheating) != 15 || abortCodes[15] != ErrCheating || abortCode(ErrRunLimit) != 14 {
		t.Fatalf("ErrCheating has code %d", abortCode(ErrCheating))
	}
	var err error = fmt.Errorf("wrapped: %w", &CheatingError{Check: "transcript", Party: "party bank-c", Err: errors.New("two MACs differ")})
	var ce *CheatingError
	if !errors.Is(err, ErrCheating) || !errors.As(err, &ce) || ce.Check != "transcript" {
		t.Fatalf("%v: errors.Is/As fail", err)
	}
	for _, want := range []string{"party bank-c", `"transcript"`, "two MACs differ"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%q does not say %s", err, want)
		}
	}
	if msg := (&CheatingError{Check: "x"}).Error(); !strings.Contains(msg, "a participant") {
		t.Fatalf("%q: unknown party not said", msg)
	}
	// An abort with ErrCheating's code unwraps to it.
	ae := abortError(&wire.Abort{From: wire.Coordinator, Code: 15, Reason: "r"}, []string{"a"})
	if !errors.Is(ae, ErrCheating) || ae.Party != "coordinator" {
		t.Fatalf("%v", ae)
	}
}
