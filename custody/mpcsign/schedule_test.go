package mpcsign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// createScheduled makes account id, t-of-n at nodes (nil: the whole
// pool), refreshed every every; "acct" becomes the pool's signing account.
func (p *testPool) createScheduled(id string, th, n int, nodes []string, every time.Duration) *Account {
	p.t.Helper()
	a, key, err := p.holder.CreateAccount(context.Background(), id, p.device.Public().(ed25519.PublicKey),
		&CreateOptions{Threshold: th, Shares: n, Nodes: nodes, Period: 30, RefreshEvery: every})
	if err != nil {
		p.t.Fatal(err)
	}
	if id == "acct" {
		p.account, p.totp = a, key
	}
	return a
}

func (p *testPool) epoch(id string) uint32 {
	p.t.Helper()
	a, _, err := p.holder.Account(id)
	if err != nil {
		p.t.Fatal(err)
	}
	return a.Epoch
}

func TestRefreshDueAfterInterval(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	created := p.clock.Now()
	p.createScheduled("acct", 2, 3, nil, time.Hour)
	s, err := p.holder.Schedule("acct")
	if err != nil || s.Every != time.Hour || !s.Last.Equal(created) {
		t.Fatalf("schedule %+v, %v; want every 1h, last %v", s, err, created)
	}
	for _, at := range []time.Duration{0, time.Hour - time.Second} {
		if due, err := p.holder.DueForRefresh(created.Add(at)); err != nil || len(due) != 0 {
			t.Fatalf("due %v after %v: %v", due, at, err)
		}
	}
	if due, err := p.holder.DueForRefresh(created.Add(time.Hour)); err != nil || !slices.Equal(due, []string{"acct"}) {
		t.Fatalf("due after the interval: %v, %v", due, err)
	}
	// Not due yet: RefreshDue does nothing.
	p.clock.Advance(time.Hour - time.Second)
	if res, err := p.holder.RefreshDue(context.Background()); err != nil || len(res) != 0 || p.epoch("acct") != 1 {
		t.Fatalf("RefreshDue before the interval: %v, %v, epoch %d", res, err, p.epoch("acct"))
	}
	// Changing the interval moves the due time from the same last refresh.
	if err := p.holder.SetRefreshInterval("acct", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if due, _ := p.holder.DueForRefresh(created.Add(30 * time.Minute)); !slices.Equal(due, []string{"acct"}) {
		t.Fatalf("due after a shorter interval: %v", due)
	}
	for _, bad := range []time.Duration{0, -time.Hour, time.Second / 2, 1500 * time.Millisecond, MaxRefreshInterval + time.Second} {
		if err := p.holder.SetRefreshInterval("acct", bad); !errors.Is(err, ErrBadInterval) {
			t.Fatalf("interval %v: %v", bad, err)
		}
		if bad == 0 {
			continue // 0 means the default at creation
		}
		_, _, err := p.holder.CreateAccount(context.Background(), "other", p.device.Public().(ed25519.PublicKey),
			&CreateOptions{Threshold: 1, Shares: 1, RefreshEvery: bad})
		if !errors.Is(err, ErrBadInterval) {
			t.Fatalf("create with interval %v: %v", bad, err)
		}
	}
	if err := p.holder.SetRefreshInterval("nobody", time.Hour); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("unknown account: %v", err)
	}
}

func TestRefreshDueRefreshesExactlyDue(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	acct := p.createScheduled("acct", 2, 3, nil, time.Hour)
	p.createScheduled("later", 2, 3, nil, 2*time.Hour)
	p.createScheduled("default", 3, 4, nil, 0)
	if s, _ := p.holder.Schedule("default"); s.Every != DefaultRefreshInterval {
		t.Fatalf("default interval %v", s.Every)
	}
	p.clock.Advance(90 * time.Minute)
	res, err := p.holder.RefreshDue(context.Background())
	if err != nil || len(res) != 1 || res["acct"] == nil || res["acct"].Epoch != 2 {
		t.Fatalf("RefreshDue: %v, %v", res, err)
	}
	if p.epoch("acct") != 2 || p.epoch("later") != 1 || p.epoch("default") != 1 {
		t.Fatalf("epochs %d %d %d, want 2 1 1", p.epoch("acct"), p.epoch("later"), p.epoch("default"))
	}
	rec, _, _ := p.holder.Account("acct")
	if !bytes.Equal(rec.GroupKey(), acct.GroupKey()) {
		t.Fatal("scheduled refresh changed the group key")
	}
	s, _ := p.holder.Schedule("acct")
	if !s.Last.Equal(p.clock.Now().Truncate(time.Second)) || s.Due(p.clock.Now()) {
		t.Fatalf("after refresh: last %v (now %v), due %v", s.Last, p.clock.Now(), s.Due(p.clock.Now()))
	}
	msg := []byte("after scheduled refresh")
	sig, err := p.sign(msg, []string{"n1", "n4"})
	if err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
		t.Fatalf("sign after scheduled refresh: %v", err)
	}
	// At 2 h both are due: "later" is the more overdue (due at 2 h,
	// "acct" at 2 h 30), so it comes first.
	p.clock.Advance(time.Hour)
	if due, _ := p.holder.DueForRefresh(p.clock.Now().Add(30 * time.Minute)); !slices.Equal(due, []string{"later", "acct"}) {
		t.Fatalf("due: %v", due)
	}
	p.clock.Advance(30 * time.Minute)
	if res, err := p.holder.RefreshDue(context.Background()); err != nil || len(res) != 2 {
		t.Fatalf("second RefreshDue: %v, %v", res, err)
	}
	if p.epoch("acct") != 3 || p.epoch("later") != 2 || p.epoch("default") != 1 {
		t.Fatalf("epochs %d %d %d, want 3 2 1", p.epoch("acct"), p.epoch("later"), p.epoch("default"))
	}
}

// refuseChecks wraps a node so that it refuses every new share a refresh
// asks it to check: a node that fails.
type refuseChecks struct{ Handler }

func (r refuseChecks) Handle(peer Peer, req []byte) []byte {
	if len(req) > 1 && op(req[1]) == opCheck {
		return custody.ErrorResponse(uint8(codeInternal), ErrNodeInternal.Error())
	}
	return r.Handler.Handle(peer, req)
}

func TestRefreshDueFailureNamed(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	p.wrap["n1"] = func(h Handler) Handler { return refuseChecks{h} }
	p.restart("n1")
	// "broken" is 3-of-3 at n1, n2, n3: without n1's acknowledgement its
	// refresh has 2 of the 3 it needs. "acct" and "fine" do not use n1.
	p.createScheduled("broken", 3, 3, []string{"n1", "n2", "n3"}, time.Hour)
	acct := p.createScheduled("acct", 2, 3, []string{"n2", "n3", "n4"}, time.Hour)
	p.createScheduled("fine", 2, 2, []string{"n3", "n4"}, time.Hour)
	p.clock.Advance(time.Hour)
	res, err := p.holder.RefreshDue(context.Background())
	var ae *AccountError
	if !errors.As(err, &ae) || ae.Account != "broken" || !errors.Is(err, ErrRefreshIncomplete) || !strings.Contains(err.Error(), "account broken") {
		t.Fatalf("RefreshDue error: %v", err)
	}
	if strings.Contains(err.Error(), "account acct") || strings.Contains(err.Error(), "account fine") {
		t.Fatalf("error names a refreshed account: %v", err)
	}
	if len(res) != 2 || res["acct"] == nil || res["fine"] == nil {
		t.Fatalf("refreshed %v", res)
	}
	if p.epoch("broken") != 1 || p.epoch("acct") != 2 || p.epoch("fine") != 2 {
		t.Fatalf("epochs %d %d %d, want 1 2 2", p.epoch("broken"), p.epoch("acct"), p.epoch("fine"))
	}
	// The failed account keeps its shares and stays due for the next run.
	if epoch, ids, err := p.holder.usableShares("broken"); err != nil || epoch != 1 || len(ids) != 3 {
		t.Fatalf("broken after the failure: epoch %d, shares %v, %v", epoch, ids, err)
	}
	if due, _ := p.holder.DueForRefresh(p.clock.Now()); !slices.Equal(due, []string{"broken"}) {
		t.Fatalf("due after the run: %v", due)
	}
	msg := []byte("m")
	if sig, err := p.sign(msg, []string{"n2", "n4"}); err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
		t.Fatalf("sign: %v", err)
	}
	// A record that does not decode is named too, and does not stop the
	// others.
	if err := p.holder.store.Put(holderAccounts, []byte("corrupt"), []byte{2, 0}); err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(time.Hour)
	res, err = p.holder.RefreshDue(context.Background())
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "account corrupt") || len(res) != 2 || p.epoch("acct") != 3 {
		t.Fatalf("RefreshDue with a corrupt record: %v, %v", res, err)
	}
	if err := p.holder.store.Delete(holderAccounts, []byte("corrupt")); err != nil {
		t.Fatal(err)
	}
	// A cancelled run names every account it did not refresh.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.holder.RefreshDue(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "account broken") {
		t.Fatalf("cancelled RefreshDue: %v", err)
	}
}

func TestLastRefreshSurvivesRestart(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.createScheduled("acct", 2, 3, nil, 2*time.Hour)
	p.clock.Advance(3 * time.Hour)
	if _, err := p.holder.RefreshDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	refreshed := p.clock.Now().Truncate(time.Second)
	if err := p.holder.Close(); err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(time.Hour)
	var err error
	if p.holder, err = OpenHolder(p.hdir, p.hcfg); err != nil {
		t.Fatal(err)
	}
	s, err := p.holder.Schedule("acct")
	if err != nil || !s.Last.Equal(refreshed) || s.Every != 2*time.Hour {
		t.Fatalf("after restart: %+v, %v; want last %v", s, err, refreshed)
	}
	if due, _ := p.holder.DueForRefresh(p.clock.Now()); len(due) != 0 {
		t.Fatalf("due 1 h after the refresh: %v", due)
	}
	if due, _ := p.holder.DueForRefresh(refreshed.Add(2 * time.Hour)); !slices.Equal(due, []string{"acct"}) {
		t.Fatalf("due 2 h after the refresh: %v", due)
	}
}

// An account stored before schedules (holder record version 1) takes the
// default interval, is due at once, and gets a version-2 record with its
// refresh time.
func TestVersion1AccountMigrates(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.createScheduled("acct", 2, 3, nil, time.Hour)
	err := p.holder.store.Update(func(tx *custody.Tx) error {
		b, err := tx.Get(holderAccounts, []byte("acct"))
		if err != nil {
			return err
		}
		v1 := bytes.Clone(b[:len(b)-12])
		v1[0] = 1
		return tx.Put(holderAccounts, []byte("acct"), v1)
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.holder.Schedule("acct")
	if err != nil || s.Every != DefaultRefreshInterval || !s.Last.IsZero() || !s.Due(p.clock.Now()) {
		t.Fatalf("version-1 schedule %+v, %v", s, err)
	}
	if res, err := p.holder.RefreshDue(context.Background()); err != nil || res["acct"] == nil {
		t.Fatalf("RefreshDue: %v, %v", res, err)
	}
	b, _ := p.holder.store.Get(holderAccounts, []byte("acct"))
	s, _ = p.holder.Schedule("acct")
	if b[0] != holderAccountVersion || !s.Last.Equal(p.clock.Now().Truncate(time.Second)) {
		t.Fatalf("after refresh: version %d, last %v", b[0], s.Last)
	}
	// Unknown versions are refused.
	b[0] = 3
	if _, err := parseHolderAccount(b); err == nil {
		t.Fatal("version 3 accepted")
	}
}
