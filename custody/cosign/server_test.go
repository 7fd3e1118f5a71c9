package cosign

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/transport"
)

// serve runs e's service on a loopback mutual-TLS listener until the test
// ends and returns its address.
func (e *testEnv) serve(t testing.TB) string {
	t.Helper()
	id, err := e.ra.CA.Issue("cosign")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1:0", id, transport.Trust{Roots: e.ra.CA.Pool()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return l.Addr().String()
}

// dial connects to the service at addr as the device named name.
func (e *testEnv) dial(t testing.TB, addr, name string) *Client {
	t.Helper()
	id, err := e.ra.CA.Issue(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), id, transport.Trust{Roots: e.ra.CA.Pool()}, "cosign", addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewClient(c)
}

// TestServiceOverTLS runs the whole system over the mutual-TLS
// transport: two users enrol and sign, one is refused, each keeps a
// monitor of the log; a copy of the log with an entry edited, deleted,
// reordered or truncated fails the offline verifier; and a history the
// operator rewrote and re-signed with the log key verifies on its own but
// fails against the checkpoint Alice kept and at her monitor's next sync.
func TestServiceOverTLS(t *testing.T) {
	e := newEnv(t)
	addr := e.serve(t)
	ctx := context.Background()
	alice, bob := e.dial(t, addr, "alice"), e.dial(t, addr, "bob")
	ac, _, err := alice.Enrol(ctx, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	bc, _, err := bob.Enrol(ctx, "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := alice.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	am, err := NewMonitor(nil, st.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	bm, _ := NewMonitor(nil, st.VerifierKey)
	rc, err := alice.Sign(ctx, ac, doc("order 1"), "purchase order")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := am.Sync(ctx, alice); err != nil {
		t.Fatal(err)
	}
	// Alice checks that her authorisation is in the log she holds.
	c, _ := am.Checkpoint()
	p, err := alice.ProveInclusion(ctx, rc.Index, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := am.VerifyEntry(p, rc.Entries[0], NewCertKeys(e.ra.Roots(), ac.Cert)); err != nil {
		t.Fatal(err)
	}
	// Bob signs with Alice's credential from his device: refused.
	if _, err := bob.Sign(ctx, ac, doc("order 2"), ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bob acting for alice: %v", err)
	}
	if _, err := bob.Sign(ctx, bc, doc("order 3"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bm.Sync(ctx, bob); err != nil {
		t.Fatal(err)
	}
	_, kept := am.Checkpoint()
	if err := bm.Compare(kept, mustConsistency(t, bob, am, bm)); err != nil {
		t.Fatal(err)
	}

	exp := e.export(t)
	if _, err := e.verifyExport(t, exp, kept); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(exp), "\n")
	n := 0
	for lines[1+n] != "" {
		n++
	}
	tamper := map[string]struct {
		f    func([]string) []string
		want error
	}{
		"edit": {func(l []string) []string {
			b, _ := decodeBase64(l[3])
			b[len(b)-70] ^= 1
			l[3] = base64.StdEncoding.EncodeToString(b)
			return l
		}, ErrEntrySignature},
		"delete":   {func(l []string) []string { return append(l[:3:3], l[4:]...) }, ErrInclusion},
		"reorder":  {func(l []string) []string { l[3], l[4] = l[4], l[3]; return l }, ErrInclusion},
		"truncate": {func(l []string) []string { return append(l[:1+3:1+3], l[1+n:]...) }, ErrInclusion},
	}
	for name, tc := range tamper {
		l := tc.f(append([]string{}, lines...))
		if _, err := e.verifyExport(t, []byte(strings.Join(l, "\n")), kept); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", name, err, tc.want)
		}
	}

	// The operator rewrites history with the log key: the same entries
	// without Alice's authorisation and key-use, under a freshly signed
	// checkpoint. On its own the rewritten log verifies; against the
	// checkpoint Alice's phone kept, and at her monitor's next sync, it
	// does not.
	users, err := ExportUserKeys(exp, e.ra.Roots())
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := OpenSealedSigner(e.svc.store, e.svc.hpke, LogKeyName)
	if err != nil {
		t.Fatal(err)
	}
	fst, err := custody.OpenStore(filepath.Join(t.TempDir(), "rewritten.db"), &custody.StoreConfig{Buckets: LogBuckets})
	if err != nil {
		t.Fatal(err)
	}
	defer fst.Close()
	forged, err := OpenLog(fst, e.svc.Log().Origin(), logKey, users, &LogConfig{MaxSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if int64(i-1) == rc.Index || int64(i-1) == rc.Index+1 {
			continue
		}
		b, _ := decodeBase64(lines[i])
		en, err := ParseEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := forged.Append(ctx, en); err != nil {
			t.Fatal(err)
		}
	}
	var fb bytes.Buffer
	if err := forged.Export(ctx, &fb); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifyExport(t, fb.Bytes()); err != nil {
		t.Fatalf("the rewritten log does not verify on its own: %v", err)
	}
	if _, err := e.verifyExport(t, fb.Bytes(), kept); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("rewritten log against alice's checkpoint: %v", err)
	}
	var ce *ConsistencyError
	if _, err := am.Sync(ctx, forged); !errors.As(err, &ce) {
		t.Fatalf("alice's monitor syncing from the rewritten log: %v", err)
	}
}

func mustConsistency(t testing.TB, c *Client, a, b *Monitor) ConsistencyProof {
	t.Helper()
	ca, _ := a.Checkpoint()
	cb, _ := b.Checkpoint()
	lo, hi := min(ca.Size, cb.Size), max(ca.Size, cb.Size)
	p, err := c.ProveConsistency(context.Background(), lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRestartKeepsUsers: a service reopened from its directory serves
// enrolled users, refuses replays of what it served before, and its log
// goes on.
func TestRestartKeepsUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	e.restart(t)
	rc, err := e.client("alice").Sign(ctx, cred, doc("after restart"), "")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Index != 1 {
		t.Fatalf("index %d after restart", rc.Index)
	}
	exp := e.export(t)
	if _, err := e.verifyExport(t, exp); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(exp, []byte("\n\n")) {
		t.Fatal("export format")
	}
}
