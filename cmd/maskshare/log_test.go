package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/cosign"
	"github.com/maskshare/maskshare/transport"
)

// TestLogVerify runs `maskshare log verify` on an exported action log,
// then on tampered exports: each tampering exits 5 naming what failed,
// and bad flags exit 2.
func TestLogVerify(t *testing.T) {
	binary(t)
	ctx := context.Background()
	dir := t.TempDir()
	const origin = "cosign.example/org-log"
	_, logKey, _ := ed25519.GenerateKey(rand.Reader)
	alicePub, alice, _ := ed25519.GenerateKey(rand.Reader)
	bobPub, bob, _ := ed25519.GenerateKey(rand.Reader)
	users := cosign.UserKeyMap{"alice": alicePub, "bob": bobPub}

	openLog := func(name string) *cosign.Log {
		s, err := custody.OpenStore(filepath.Join(dir, name), &custody.StoreConfig{Buckets: cosign.LogBuckets})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		l, err := cosign.OpenLog(s, origin, logKey, users, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := openLog("service.db")
	var entries []*cosign.Entry
	for i := 0; i < 9; i++ {
		user, key := "alice", alice
		if i%3 == 1 {
			user, key = "bob", bob
		}
		e := &cosign.Entry{Kind: cosign.KindAuthorisation, Signer: cosign.SignedByUser, Time: time.Now(), User: user,
			Payload: fmt.Appendf(nil, "request %d", i)}
		if err := e.Sign(origin, key); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	refusal := &cosign.Entry{Kind: cosign.KindRefusal, Time: time.Now(), User: "bob", Payload: []byte("request 9: revoked")}
	if err := l.SignAsService(refusal); err != nil {
		t.Fatal(err)
	}
	entries = append(entries, refusal)
	if _, _, err := l.Append(ctx, entries[:6]...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(ctx, entries[6:]...); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	exportOf := func(l *cosign.Log) []byte {
		var b bytes.Buffer
		if err := l.Export(ctx, &b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	exp := exportOf(l)
	write("log.export", exp)
	write("log.vkey", []byte(l.VerifierKey()+"\n"))
	write("users.txt", []byte(fmt.Sprintf("# the organisation's users\nalice %s\nbob %s\n",
		transport.FormatPublicKey(alicePub), transport.FormatPublicKey(bobPub))))
	at6, _ := l.CheckpointAt(ctx, 6)
	at10, _ := l.Checkpoint(ctx)
	write("at6.checkpoint", at6)
	write("at10.checkpoint", at10)

	out := run(t, dir, "log", "verify", "--log", "log.export", "--key", "log.vkey", "--users", "users.txt", "--old", "at6.checkpoint")
	for _, want := range []string{"log:        " + origin, "checkpoint: size 10", "entries:    10", "authorisation 9, refusal 1", "9 users', 1 service's verified", "extends:    at6.checkpoint (size 6)", "OK"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	out = run(t, dir, "log", "verify", "--log", "log.export", "--key", l.VerifierKey())
	if !strings.Contains(out, "warning:    9 users' signatures not checked") {
		t.Fatalf("without --users:\n%s", out)
	}

	ls := strings.Split(string(exp), "\n") // header, 10 entries, "", note
	tamper := func(f func(ls []string) []string) []byte {
		return []byte(strings.Join(f(append([]string{}, ls...)), "\n"))
	}
	edited, _ := cosign.ParseEntry(mustDecode(t, ls[3]))
	edited.Payload = []byte("request 2 for another document")
	editedRec, _ := edited.Marshal()
	wrong, _ := cosign.ParseEntry(mustDecode(t, ls[1]))
	if err := wrong.Sign(origin, bob); err != nil { // alice's entry, bob's key
		t.Fatal(err)
	}
	wrongRec, _ := wrong.Marshal()
	badNote := bytes.Clone(exp)
	badNote[len(badNote)-8] ^= 0x02
	// The service re-signs a history with entries 3 and 4 swapped.
	resigned := openLog("resigned.db")
	swapped := append([]*cosign.Entry{}, entries...)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	if _, _, err := resigned.Append(ctx, swapped...); err != nil {
		t.Fatal(err)
	}
	// …and one truncated to 8 entries.
	short := openLog("short.db")
	if _, _, err := short.Append(ctx, entries[:8]...); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, file string
		old        string
		want       string
	}{
		{"edit an entry", write("edit.export", tamper(func(ls []string) []string {
			ls[3] = base64.StdEncoding.EncodeToString(editedRec)
			return ls
		})), "", "entry 2: cosign: entry signature does not verify"},
		{"delete an entry", write("delete.export", tamper(func(ls []string) []string { return append(ls[:5], ls[6:]...) })), "", "the checkpoint is of 10 entries, the export has 9"},
		{"reorder two entries", write("reorder.export", tamper(func(ls []string) []string { ls[2], ls[7] = ls[7], ls[2]; return ls })), "", "entry not included in the checkpoint"},
		{"truncate", write("truncate.export", tamper(func(ls []string) []string { return append(ls[:9], ls[11:]...) })), "", "the checkpoint is of 10 entries, the export has 8"},
		{"bad checkpoint signature", write("badnote.export", badNote), "", "checkpoint not signed by the log"},
		{"wrong user signature", write("wrongsig.export", tamper(func(ls []string) []string {
			ls[1] = base64.StdEncoding.EncodeToString(wrongRec)
			return ls
		})), "", "entry 0: cosign: entry signature does not verify"},
		{"reorder, re-signed by the service", write("resigned.export", exportOf(resigned)), "at6.checkpoint", "log is inconsistent with an earlier checkpoint"},
		{"truncate, re-signed by the service", write("short.export", exportOf(short)), "at10.checkpoint", "inconsistent with an earlier checkpoint: truncated"},
	} {
		args := []string{"log", "verify", "--log", tc.file, "--key", "log.vkey", "--users", "users.txt"}
		if tc.old != "" {
			args = append(args, "--old", tc.old)
		}
		code, out := runExit(t, dir, args...)
		if code != exitCheating || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, exitCheating, tc.want, out)
		}
	}
	// The re-signed exports pass on their own: only a kept checkpoint
	// shows the rewrite.
	run(t, dir, "log", "verify", "--log", "resigned.export", "--key", "log.vkey", "--users", "users.txt")

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no --log", []string{"log", "verify", "--key", "log.vkey"}},
		{"bad key", []string{"log", "verify", "--log", "log.export", "--key", "nope+00000000+AAAA"}},
		{"missing export", []string{"log", "verify", "--log", "none.export", "--key", "log.vkey"}},
		{"old checkpoint of another log", []string{"log", "verify", "--log", "log.export", "--key", "log.vkey", "--old", "users.txt"}},
		{"no subcommand", []string{"log"}},
	} {
		if code, out := runExit(t, dir, tc.args...); code != exitInput {
			t.Errorf("%s: exit %d, want %d:\n%s", tc.name, code, exitInput, out)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
