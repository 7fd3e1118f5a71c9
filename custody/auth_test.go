package custody

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type authFixture struct {
	inst      ed25519.PrivateKey
	requester *PrivateKey
	v         *Verifier
	now       time.Time
}

func newAuthFixture(t *testing.T) *authFixture {
	_, inst, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	s := openTestStore(t, filepath.Join(t.TempDir(), "db"))
	f := &authFixture{inst: inst, requester: mustKey(t, DefaultSuite), now: now}
	f.v = &Verifier{
		Institutions: []ed25519.PublicKey{other.Public().(ed25519.PublicKey), inst.Public().(ed25519.PublicKey)},
		Node:         "node-3",
		Store:        s,
		Now:          func() time.Time { return f.now },
	}
	return f
}

func (f *authFixture) auth(t *testing.T, edit func(*Authorization)) *Authorization {
	nonce, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorization{UserID: "alice", KeyID: "k1", Epoch: 2, Requester: f.requester.Public(),
		Expiry: f.now.Add(10 * time.Minute), Nonce: nonce}
	if edit != nil {
		edit(a)
	}
	return a
}

func (f *authFixture) signed(t *testing.T, edit func(*Authorization)) []byte {
	b, err := f.auth(t, edit).Sign(f.inst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var subject = Subject{UserID: "alice", KeyID: "k1", Epoch: 2}

func TestAuthorizationAccepted(t *testing.T) {
	f := newAuthFixture(t)
	raw := f.signed(t, func(a *Authorization) { a.Nodes = []string{"node-1", "node-3"} })
	a, err := f.v.Verify(raw, subject)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Requester.Equal(f.requester.Public()) || a.UserID != "alice" || len(a.Nodes) != 2 {
		t.Fatalf("decoded %+v", a)
	}
	// Any node.
	if _, err := f.v.Verify(f.signed(t, nil), subject); err != nil {
		t.Fatal(err)
	}
}

func TestAuthorizationRefused(t *testing.T) {
	f := newAuthFixture(t)
	_, stranger, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name string
		raw  func() []byte
		subj Subject
		want error
	}{
		{"non-institution signer", func() []byte {
			b, err := f.auth(t, nil).Sign(stranger)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, subject, ErrUntrustedIssuer},
		{"forged signature", func() []byte {
			b := f.signed(t, nil)
			b[len(b)-1] ^= 1
			return b
		}, subject, ErrBadSignature},
		{"edited after signing", func() []byte {
			b := f.signed(t, nil)
			b[3] ^= 1 // "alice" becomes "amice"
			return b
		}, Subject{UserID: "amice", KeyID: "k1", Epoch: 2}, ErrBadSignature},
		{"expired", func() []byte {
			return f.signed(t, func(a *Authorization) { a.Expiry = f.now })
		}, subject, ErrExpired},
		{"too long-lived", func() []byte {
			return f.signed(t, func(a *Authorization) { a.Expiry = f.now.Add(MaxAuthorizationLifetime + time.Minute) })
		}, subject, ErrBadAuthorization},
		{"another user", func() []byte { return f.signed(t, nil) }, Subject{UserID: "bob", KeyID: "k1", Epoch: 2}, ErrWrongSubject},
		{"another key", func() []byte { return f.signed(t, nil) }, Subject{UserID: "alice", KeyID: "k2", Epoch: 2}, ErrWrongSubject},
		{"another epoch", func() []byte { return f.signed(t, nil) }, Subject{UserID: "alice", KeyID: "k1", Epoch: 3}, ErrWrongSubject},
		{"another node set", func() []byte {
			return f.signed(t, func(a *Authorization) { a.Nodes = []string{"node-1", "node-2"} })
		}, subject, ErrWrongSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.v.Verify(tt.raw(), tt.subj)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
			if tt.want != ErrBadAuthorization && !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("%v does not wrap ErrUnauthorized", err)
			}
			var ae *AuthorizationError
			if tt.want != ErrBadAuthorization && !errors.As(err, &ae) {
				t.Fatalf("%v is not an *AuthorizationError", err)
			}
		})
	}
}

func TestAuthorizationReplay(t *testing.T) {
	f := newAuthFixture(t)
	raw := f.signed(t, nil)
	// Many concurrent uses of one authorisation: exactly one passes.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, replays := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := f.v.Verify(raw, subject)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrReplay):
				replays++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || replays != 7 {
		t.Fatalf("%d accepted, %d replays; want 1 and 7", ok, replays)
	}
	// The nonce outlives a restart of the node.
	path := f.v.Store.Path()
	f.v.Store.Close()
	f.v.Store = openTestStore(t, path)
	if _, err := f.v.Verify(raw, subject); !errors.Is(err, ErrReplay) {
		t.Fatalf("after reopening: %v, want ErrReplay", err)
	}
	// Expired nonces are forgotten; their authorisation stays refused.
	f.now = f.now.Add(time.Hour)
	if _, err := f.v.Verify(f.signed(t, nil), subject); err != nil {
		t.Fatal(err)
	}
	n := 0
	f.v.Store.View(func(tx *Tx) error {
		return tx.ForEachPrefix(NonceBucket, nil, func(k, v []byte) error { n++; return nil })
	})
	if n != 1 {
		t.Fatalf("%d nonces kept, want 1 (the expired one purged)", n)
	}
	if _, err := f.v.Verify(raw, subject); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired replay: %v, want ErrExpired", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	_, inst, _ := ed25519.GenerateKey(nil)
	k, err := GenerateKey(DefaultSuite)
	if err != nil {
		f.Fatal(err)
	}
	a := &Authorization{UserID: "u", KeyID: "k", Epoch: 1, Requester: k.Public(), Nodes: []string{"n1"},
		Expiry: time.Unix(1e9, 0)}
	b, err := a.Sign(inst)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	a.Nodes = nil
	b, _ = a.Sign(inst)
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAuthorization(b)
		if err != nil {
			if !errors.Is(err, ErrBadAuthorization) {
				t.Fatalf("error %v does not wrap ErrBadAuthorization", err)
			}
			return
		}
		body := a.body(a.Issuer)
		if !bytes.Equal(append(body, a.Signature...), b) {
			t.Fatal("re-encoding differs")
		}
	})
}
