package cosign

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// vectorLog builds the log of testdata/log-v1.export: fixed keys (derived
// from names by testKey), fixed times, two appends, one service refusal.
func vectorLog(t *testing.T) *Log {
	s := openStore(t, filepath.Join(t.TempDir(), "vector.db"))
	t.Cleanup(func() { s.Close() })
	l, err := OpenLog(s, testOrigin, logKey, testUser, &LogConfig{MaxSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int64) time.Time { return time.Unix(1_800_000_000+sec, 0).UTC() }
	enrol := &Entry{Kind: KindEnrolment, Signer: SignedByUser, Time: at(0), User: "alice", Payload: []byte("certificate serial 01")}
	auth := &Entry{Kind: KindAuthorisation, Signer: SignedByUser, Time: at(60), User: "alice", Payload: []byte("request 1 sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")}
	use := &Entry{Kind: KindKeyUse, Signer: SignedByUser, Time: at(61), User: "alice", Payload: []byte("request 1 signed")}
	for _, e := range []*Entry{enrol, auth, use} {
		if err := e.Sign(testOrigin, aliceKey); err != nil {
			t.Fatal(err)
		}
	}
	refusal := &Entry{Kind: KindRefusal, Time: at(120), User: "bob", Payload: []byte("request 2: not enrolled")}
	if err := l.SignAsService(refusal); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, enrol)
	mustAppend(t, l, auth, use, refusal)
	return l
}

// TestExportVector freezes the formats: the log built from fixed inputs
// exports byte for byte as testdata/log-v1.export (made by this code with
// MASKSHARE_UPDATE_VECTORS=1; Ed25519 signatures are deterministic), and
// that file verifies. A change to the entry, checkpoint or export
// encoding fails here.
func TestExportVector(t *testing.T) {
	path := filepath.Join("testdata", "log-v1.export")
	var got bytes.Buffer
	l := vectorLog(t)
	if err := l.Export(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MASKSHARE_UPDATE_VECTORS") == "1" {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "log-v1.vkey"), []byte(l.VerifierKey()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("export differs from %s:\n%s", path, got.Bytes())
	}
	vkey, err := os.ReadFile(filepath.Join("testdata", "log-v1.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	if string(bytes.TrimSpace(vkey)) != l.VerifierKey() {
		t.Fatal("verifier key differs from testdata/log-v1.vkey")
	}
	rep, err := VerifyExport(bytes.NewReader(want), l.VerifierKey(), &VerifyConfig{Users: testUser})
	if err != nil || rep.Entries != 4 || rep.ServiceSigned != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
}
