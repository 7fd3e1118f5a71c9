package cosign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/maskshare/maskshare/custody"
)

const testOrigin = "cosign.example/log"

// testKey derives a fixed Ed25519 key from a name, so that a child
// process and its parent agree on it.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("maskshare cosign test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

var (
	aliceKey = testKey("alice")
	bobKey   = testKey("bob")
	logKey   = testKey("log")
	testUser = UserKeyMap{
		"alice": aliceKey.Public().(ed25519.PublicKey),
		"bob":   bobKey.Public().(ed25519.PublicKey),
	}
)

func openStore(t testing.TB, path string) *custody.Store {
	t.Helper()
	s, err := custody.OpenStore(path, &custody.StoreConfig{Buckets: append(append([]string{}, LogBuckets...), MonitorBuckets...)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newLog opens a fresh log with origin and key, in a temporary store.
func newLog(t testing.TB, origin string, key ed25519.PrivateKey) *Log {
	t.Helper()
	s := openStore(t, filepath.Join(t.TempDir(), "log.db"))
	t.Cleanup(func() { s.Close() })
	l, err := OpenLog(s, origin, key, testUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// userEntry returns an entry by user, signed with key for origin.
func userEntry(t testing.TB, origin string, kind Kind, user string, key ed25519.PrivateKey, payload string) *Entry {
	t.Helper()
	e := &Entry{Kind: kind, Signer: SignedByUser, Time: time.Now().UTC(), User: user, Payload: []byte(payload)}
	if err := e.Sign(origin, key); err != nil {
		t.Fatal(err)
	}
	return e
}

func mustAppend(t testing.TB, l *Log, es ...*Entry) []byte {
	t.Helper()
	_, signed, err := l.Append(context.Background(), es...)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func logVerifier(t testing.TB, l *Log) note.Verifier {
	t.Helper()
	v, _, err := ParseVerifierKey(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// --- An independent RFC 6962 §2.1 implementation, the oracle. ---

func oracleLeaf(d []byte) [32]byte { return sha256.Sum256(append([]byte{0x00}, d...)) }

func oracleNode(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{0x01}, l[:]...), r[:]...))
}

// split returns the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// oracleMTH is MTH(D[n]) over leaf hashes.
func oracleMTH(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return oracleNode(oracleMTH(leaves[:k]), oracleMTH(leaves[k:]))
}

// oraclePath is PATH(m, D[n]), the audit path of leaf m.
func oraclePath(m int, leaves [][32]byte) [][32]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(oraclePath(m, leaves[:k]), oracleMTH(leaves[k:]))
	}
	return append(oraclePath(m-k, leaves[k:]), oracleMTH(leaves[:k]))
}

// oracleSubproof is SUBPROOF(m, D[n], b), for PROOF(m, D[n]).
func oracleSubproof(m int, leaves [][32]byte, b bool) [][32]byte {
	n := len(leaves)
	if m == n {
		if b {
			return nil
		}
		return [][32]byte{oracleMTH(leaves)}
	}
	k := split(n)
	if m <= k {
		return append(oracleSubproof(m, leaves[:k], b), oracleMTH(leaves[k:]))
	}
	return append(oracleSubproof(m-k, leaves[k:], false), oracleMTH(leaves[:k]))
}

func leafHashes(t testing.TB, l *Log, n int64) [][32]byte {
	t.Helper()
	var out [][32]byte
	for i := int64(0); i < n; i++ {
		e, err := l.Entry(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, oracleLeaf(rec))
	}
	return out
}

func sameHashes[H ~[32]byte](a []H, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if [32]byte(a[i]) != b[i] {
			return false
		}
	}
	return true
}

// TestLogAgainstOracle appends entries one by one and in batches and
// checks, at every size, that the signed checkpoint's root, every
// inclusion proof and every consistency proof are exactly those of an
// independent RFC 6962 implementation, and that they verify.
func TestLogAgainstOracle(t *testing.T) {
	ctx := context.Background()
	l := newLog(t, testOrigin, logKey)
	v := logVerifier(t, l)
	var sizes []int64
	n := int64(0)
	for round := 0; n < 45; round++ {
		batch := 1 + round%7
		var es []*Entry
		for i := 0; i < batch; i++ {
			es = append(es, userEntry(t, testOrigin, KindAuthorisation, "alice", aliceKey, fmt.Sprintf("request %d", n+int64(i))))
		}
		first, signed, err := l.Append(ctx, es...)
		if err != nil {
			t.Fatal(err)
		}
		if first != n {
			t.Fatalf("batch appended at %d, want %d", first, n)
		}
		n += int64(batch)
		c, err := OpenCheckpoint(signed, v)
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != n {
			t.Fatalf("checkpoint size %d after %d entries", c.Size, n)
		}
		sizes = append(sizes, n)
	}
	leaves := leafHashes(t, l, n)
	for _, size := range sizes {
		signed, err := l.CheckpointAt(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(signed, v)
		if err != nil {
			t.Fatal(err)
		}
		if [32]byte(c.Hash) != oracleMTH(leaves[:size]) {
			t.Fatalf("size %d: root %s differs from the oracle's", size, c.Hash)
		}
		for i := int64(0); i < size; i++ {
			p, err := l.ProveInclusion(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if !sameHashes(p.Hashes, oraclePath(int(i), leaves[:size])) {
				t.Fatalf("inclusion proof of %d in %d differs from the oracle's", i, size)
			}
			p2, err := ParseInclusionProof(p.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			e, _ := l.Entry(ctx, i)
			rec, _ := e.Marshal()
			if _, err := p2.Verify(rec, v); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
			// The proof of another entry does not prove this one.
			if i > 0 {
				other, _ := l.Entry(ctx, i-1)
				orec, _ := other.Marshal()
				if _, err := p2.Verify(orec, v); !errors.Is(err, ErrInclusion) {
					t.Fatalf("entry %d passed as %d: %v", i-1, i, err)
				}
			}
		}
		for _, old := range sizes {
			if old > size {
				break
			}
			p, err := l.ProveConsistency(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if old < size && !sameHashes(p.Hashes, oracleSubproof(int(old), leaves[:size], true)) {
				t.Fatalf("consistency proof %d→%d differs from the oracle's", old, size)
			}
			p2, err := ParseConsistencyProof(p.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			oc := Checkpoint{Origin: testOrigin, Size: old, Hash: oracleMTH(leaves[:old])}
			if err := CheckConsistency(oc, c, p2); err != nil {
				t.Fatalf("consistency %d→%d: %v", old, size, err)
			}
		}
	}
}

// TestAppendRefuses checks every refusal, and that a refused batch appends
// nothing.
func TestAppendRefuses(t *testing.T) {
	ctx := context.Background()
	l := newLog(t, testOrigin, logKey)
	good := userEntry(t, testOrigin, KindKeyUse, "alice", aliceKey, "doc sha256:00")
	mustAppend(t, l, good)

	edited := userEntry(t, testOrigin, KindKeyUse, "alice", aliceKey, "doc sha256:01")
	edited.Payload = []byte("doc sha256:02")
	otherLog := userEntry(t, "cosign.example/other", KindKeyUse, "alice", aliceKey, "doc sha256:03")
	wrongKey := userEntry(t, testOrigin, KindKeyUse, "alice", bobKey, "doc sha256:04")
	unknown := userEntry(t, testOrigin, KindKeyUse, "mallory", aliceKey, "doc sha256:05")
	old := &Entry{Kind: KindKeyUse, Signer: SignedByUser, Time: time.Now().Add(-time.Hour), User: "alice", Payload: []byte("x")}
	if err := old.Sign(testOrigin, aliceKey); err != nil {
		t.Fatal(err)
	}
	userRefusal := &Entry{Kind: KindRefusal, Signer: SignedByUser, Time: time.Now(), User: "alice", Payload: []byte("x"), Signature: make([]byte, 64)}
	forgedService := userEntry(t, testOrigin, KindRevocation, "alice", aliceKey, "revoke")
	forgedService.Signer = SignedByService
	for _, tc := range []struct {
		name string
		e    *Entry
		want error
	}{
		{"edited after signing", edited, ErrEntrySignature},
		{"signed for another log", otherLog, ErrEntrySignature},
		{"signed by another user's key", wrongKey, ErrEntrySignature},
		{"unknown user", unknown, ErrUnknownUser},
		{"an hour old", old, ErrClockSkew},
		{"refusal signed by a user", userRefusal, ErrMalformed},
		{"user signature passed as the service's", forgedService, ErrEntrySignature},
		{"replay", good, ErrDuplicate},
	} {
		if _, _, err := l.Append(ctx, tc.e); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		// In a batch after a good entry, nothing is appended.
		fresh := userEntry(t, testOrigin, KindAuthorisation, "bob", bobKey, "fresh "+tc.name)
		if _, _, err := l.Append(ctx, fresh, tc.e); !errors.Is(err, tc.want) {
			t.Errorf("%s in a batch: %v, want %v", tc.name, err, tc.want)
		}
		if n, _ := l.Size(ctx); n != 1 {
			t.Fatalf("%s: size %d after refusals", tc.name, n)
		}
	}
	// The same entry twice in one batch is a replay too.
	dup := userEntry(t, testOrigin, KindAuthorisation, "bob", bobKey, "twice")
	if _, _, err := l.Append(ctx, dup, dup); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate within a batch: %v", err)
	}
	if _, _, err := l.Append(ctx); err == nil {
		t.Error("empty append accepted")
	}
}

// TestServiceEntry appends a refusal signed by the service and checks its
// signature with crypto/ed25519 alone, with the key from the vkey.
func TestServiceEntry(t *testing.T) {
	l := newLog(t, testOrigin, logKey)
	e := &Entry{Kind: KindRefusal, Time: time.Now(), User: "bob", Payload: []byte("request 7: certificate revoked")}
	if err := l.SignAsService(e); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, e)
	_, pub, err := ParseVerifierKey(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub, logKey.Public().(ed25519.PublicKey)) {
		t.Fatal("vkey does not carry the log key")
	}
	msg := append([]byte("maskshare/cosign/entry/v1\x00"), byte(len(testOrigin)))
	msg = append(msg, testOrigin...)
	rec, _ := e.Marshal()
	msg = append(msg, rec[:len(rec)-64]...)
	if !ed25519.Verify(pub, msg, e.Signature) {
		t.Fatal("crypto/ed25519 rejects the service's entry signature")
	}
}

// TestReopen checks that a log survives closing its store, and that a
// store holding one log refuses to open as another.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "log.db")
	s := openStore(t, path)
	l, err := OpenLog(s, testOrigin, logKey, testUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed := mustAppend(t, l, userEntry(t, testOrigin, KindEnrolment, "alice", aliceKey, "cert serial 1"),
		userEntry(t, testOrigin, KindEnrolment, "bob", bobKey, "cert serial 2"))
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	if _, err := OpenLog(s, testOrigin, bobKey, testUser, nil); err == nil {
		t.Fatal("opened with another log key")
	}
	if _, err := OpenLog(s, "cosign.example/other", logKey, testUser, nil); err == nil {
		t.Fatal("opened with another origin")
	}
	l, err = OpenLog(s, testOrigin, logKey, testUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Checkpoint(ctx)
	if err != nil || !bytes.Equal(got, signed) {
		t.Fatalf("checkpoint after reopen: %v\n%s", err, got)
	}
	e, err := l.Entry(ctx, 1)
	if err != nil || e.User != "bob" || string(e.Payload) != "cert serial 2" {
		t.Fatalf("entry 1 after reopen: %+v, %v", e, err)
	}
	if _, err := l.Entry(ctx, 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("entry 2: %v", err)
	}
}

// FuzzParseEntry checks that the entry decoder never panics and accepts
// only canonical encodings (what it accepts re-encodes to the same bytes).
func FuzzParseEntry(f *testing.F) {
	e := &Entry{Kind: KindKeyUse, Signer: SignedByUser, Time: time.Unix(1700000000, 5), User: "alice", Payload: []byte("doc"), Signature: make([]byte, 64)}
	good, _ := e.Marshal()
	f.Add(good)
	e.Payload = nil
	empty, _ := e.Marshal()
	f.Add(empty)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical encoding:\n%x\n%x", b, again)
		}
	})
}
