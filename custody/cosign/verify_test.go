package cosign

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// history returns n entries as the honest log holds them: users'
// authorisations and uses, and a refusal signed by the service (l's key).
func history(t testing.TB, l *Log, n int) [][]byte {
	t.Helper()
	var recs [][]byte
	for i := 0; i < n; i++ {
		var e *Entry
		switch {
		case i == 4:
			e = &Entry{Kind: KindRefusal, Time: time.Now(), User: "bob", Payload: []byte("request 4: not authorised")}
			if err := l.SignAsService(e); err != nil {
				t.Fatal(err)
			}
		case i%2 == 0:
			e = userEntry(t, testOrigin, KindAuthorisation, "alice", aliceKey, fmt.Sprintf("request %d doc sha256:%02x", i, i))
		default:
			e = userEntry(t, testOrigin, KindKeyUse, "bob", bobKey, fmt.Sprintf("request %d signed", i))
		}
		rec, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// rawLog is a log run by a dishonest service: it holds the log key and
// writes whatever records it likes (unchecked), signing a checkpoint after
// each batch.
func rawLog(t testing.TB, batches ...[][]byte) *Log {
	t.Helper()
	l := newLog(t, testOrigin, logKey)
	for _, b := range batches {
		if len(b) == 0 {
			continue
		}
		err := l.store.Update(func(tx *custody.Tx) error {
			_, _, err := l.appendRecords(tx, b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func clone(recs [][]byte) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = bytes.Clone(r)
	}
	return out
}

func editPayload(rec []byte) []byte {
	e, err := ParseEntry(rec)
	if err != nil {
		panic(err)
	}
	e.Payload = append(e.Payload, '!')
	out, err := e.Marshal()
	if err != nil {
		panic(err)
	}
	return out
}

func export(t testing.TB, l *Log) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := l.Export(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMonitorDetectsTampering: a client's monitor saw the honest log at 8
// entries; the service then shows it a history changed in each way (and
// signed with the log key). Every change is caught, typed, and the
// monitor keeps its checkpoint.
func TestMonitorDetectsTampering(t *testing.T) {
	ctx := context.Background()
	honest := newLog(t, testOrigin, logKey)
	recs := history(t, honest, 12)
	good := rawLog(t, recs[:8], recs[8:])

	extra := history(t, honest, 13)[12]
	edited := clone(recs)
	edited[3] = editPayload(edited[3])
	deleted := append(clone(recs[:3]), clone(recs[4:])...)
	deleted = append(deleted, extra)
	reordered := clone(recs)
	reordered[2], reordered[5] = reordered[5], reordered[2]
	sameSize := clone(recs[:8])
	sameSize[7] = editPayload(sameSize[7])

	for _, tc := range []struct {
		name string
		log  *Log
		want error
	}{
		{"honest growth", good, nil},
		{"edit an entry", rawLog(t, edited), ErrInconsistent},
		{"delete an entry", rawLog(t, deleted), ErrInconsistent},
		{"reorder two entries", rawLog(t, reordered), ErrInconsistent},
		{"truncate", rawLog(t, recs[:6]), ErrTruncated},
		{"rewrite at the same size", rawLog(t, sameSize), ErrForked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMonitor(nil, good.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			at8, _ := good.CheckpointAt(ctx, 8)
			p, _ := good.ProveConsistency(ctx, 0, 8)
			if _, err := m.Update(at8, p); err != nil {
				t.Fatal(err)
			}
			before, _ := m.Checkpoint()
			_, err = m.Sync(ctx, tc.log)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConsistencyError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if ce.Old.Size != before.Size || ce.Old.Hash != before.Hash {
				t.Fatalf("evidence names %+v, not the monitor's checkpoint", ce.Old)
			}
			if after, _ := m.Checkpoint(); after.Size != before.Size || after.Hash != before.Hash {
				t.Fatal("the monitor moved to the tampered checkpoint")
			}
		})
	}
}

// TestMonitorRefusesBadCheckpoint: a checkpoint with a broken signature,
// and one signed by another key under the log's name, are refused.
func TestMonitorRefusesBadCheckpoint(t *testing.T) {
	ctx := context.Background()
	l := newLog(t, testOrigin, logKey)
	signed := mustAppend(t, l, userEntry(t, testOrigin, KindEnrolment, "alice", aliceKey, "cert 1"))
	m, _ := NewMonitor(nil, l.VerifierKey())
	p, _ := l.ProveConsistency(ctx, 0, 1)
	bad := bytes.Clone(signed)
	bad[len(bad)-10] ^= 0x04
	if _, err := m.Update(bad, p); !errors.Is(err, ErrCheckpointSignature) {
		t.Fatalf("flipped signature: %v", err)
	}
	impostor := rawLog(t)                              // same origin, the log key…
	impostor.signer, _ = LogSigner(testOrigin, bobKey) // …replaced by another
	_, forged, err := impostor.Append(ctx, userEntry(t, testOrigin, KindEnrolment, "alice", aliceKey, "cert 1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(forged, p); !errors.Is(err, ErrCheckpointSignature) {
		t.Fatalf("other key: %v", err)
	}
	if c, _ := m.Checkpoint(); c.Size != 0 {
		t.Fatal("monitor moved")
	}
	if _, err := m.Update(signed, p); err != nil {
		t.Fatal(err)
	}
}

// TestSplitView: the service shows client A one history and client B
// another, each consistent on its own. Each client's monitor accepts its
// view; comparing their checkpoints exposes the fork, whichever log is
// asked for the proof and whether the sizes differ or not.
func TestSplitView(t *testing.T) {
	ctx := context.Background()
	honest := newLog(t, testOrigin, logKey)
	recs := history(t, honest, 12)
	forkB := append(clone(recs[:6]), editPayload(recs[6]))
	forkB = append(forkB, clone(recs[7:])...)
	for _, sizeB := range []int{10, 11, 12} {
		logA := rawLog(t, recs[:4], recs[4:10])
		logB := rawLog(t, forkB[:4], forkB[4:sizeB])
		a, _ := NewMonitor(nil, logA.VerifierKey())
		b, _ := NewMonitor(nil, logB.VerifierKey())
		if _, err := a.Sync(ctx, logA); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Sync(ctx, logB); err != nil {
			t.Fatal(err)
		}
		_, signedA := a.Checkpoint()
		_, signedB := b.Checkpoint()
		// A asks for a proof from 10 to B's size, from either log.
		for _, src := range []*Log{logA, logB} {
			n, _ := src.Size(ctx)
			p, err := src.ProveConsistency(ctx, 10, min(int64(sizeB), n))
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Compare(signedB, p); !errors.Is(err, ErrForked) {
				t.Errorf("B at %d: A compares: %v", sizeB, err)
			}
			if err := b.Compare(signedA, p); !errors.Is(err, ErrForked) {
				t.Errorf("B at %d: B compares: %v", sizeB, err)
			}
		}
		// A proof of an entry of B's view does not pass at A.
		pb, _ := logB.ProveInclusion(ctx, 6, 10)
		if sizeB == 10 {
			if err := a.VerifyInclusion(pb, forkB[6]); !errors.Is(err, ErrForked) {
				t.Errorf("B's inclusion proof at A: %v", err)
			}
		}
	}
	// Two honest clients at different sizes agree.
	l := rawLog(t, recs[:5], recs[5:])
	a, _ := NewMonitor(nil, l.VerifierKey())
	at5, _ := l.CheckpointAt(ctx, 5)
	if _, err := a.Update(at5, ConsistencyProof{}); err != nil {
		t.Fatal(err)
	}
	latest, _ := l.Checkpoint(ctx)
	p, _ := l.ProveConsistency(ctx, 5, 12)
	if err := a.Compare(latest, p); err != nil {
		t.Fatalf("honest views: %v", err)
	}
}

// TestMonitorVerifyEntry: an entry the service slipped in with a user
// signature that does not verify is included in the tree, but the client
// that fetches it sees the bad signature; honest entries pass.
func TestMonitorVerifyEntry(t *testing.T) {
	ctx := context.Background()
	honest := newLog(t, testOrigin, logKey)
	recs := history(t, honest, 6)
	forged, _ := ParseEntry(recs[2])
	forged.Signature = bytes.Clone(forged.Signature)
	forged.Signature[0] ^= 1
	rec, _ := forged.Marshal()
	recs[2] = rec
	l := rawLog(t, recs)
	m, _ := NewMonitor(nil, l.VerifierKey())
	if _, err := m.Sync(ctx, l); err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 6; i++ {
		e, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.ProveInclusion(ctx, i, -1)
		if err != nil {
			t.Fatal(err)
		}
		err = m.VerifyEntry(p, e, testUser)
		if i == 2 {
			if !errors.Is(err, ErrEntrySignature) {
				t.Fatalf("forged entry: %v", err)
			}
		} else if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	// A proof against an older checkpoint is stale at this monitor.
	p, _ := l.ProveInclusion(ctx, 0, 6)
	old, _ := l.CheckpointAt(ctx, 0)
	m2, _ := NewMonitor(nil, l.VerifierKey())
	if _, err := m2.Update(old, ConsistencyProof{}); err != nil {
		t.Fatal(err)
	}
	e, _ := l.Entry(ctx, 0)
	if err := m2.VerifyEntry(p, e, testUser); !errors.Is(err, ErrStale) {
		t.Fatalf("stale: %v", err)
	}
}

// TestMonitorPersists: a monitor restarted on its store remembers its
// checkpoint, so a log truncated while the client was away is caught.
func TestMonitorPersists(t *testing.T) {
	ctx := context.Background()
	honest := newLog(t, testOrigin, logKey)
	recs := history(t, honest, 10)
	l := rawLog(t, recs)
	path := filepath.Join(t.TempDir(), "client.db")
	s := openStore(t, path)
	m, err := NewMonitor(s, l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sync(ctx, l); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	m, err = NewMonitor(s, l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := m.Checkpoint(); c.Size != 10 {
		t.Fatalf("restarted monitor at size %d", c.Size)
	}
	if _, err := m.Sync(ctx, rawLog(t, recs[:9])); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated after restart: %v", err)
	}
}

func lines(b []byte) []string { return strings.Split(string(b), "\n") }

// TestVerifyExport checks an honest export, then the offline verifier's
// verdict on each kind of tampering: with the export's own checkpoint
// (the entries must hash to it) and, when the service re-signed the
// changed history with the log key, against a checkpoint a client kept.
func TestVerifyExport(t *testing.T) {
	ctx := context.Background()
	honest := newLog(t, testOrigin, logKey)
	recs := history(t, honest, 12)
	l := rawLog(t, recs[:8], recs[8:])
	vkey := l.VerifierKey()
	at8, _ := l.CheckpointAt(ctx, 8)
	at12, _ := l.Checkpoint(ctx)
	exp := export(t, l)

	rep, err := VerifyExport(bytes.NewReader(exp), vkey, &VerifyConfig{Users: testUser, Old: [][]byte{at8, at12}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 12 || rep.UserSigned != 11 || rep.ServiceSigned != 1 || rep.Unchecked != 0 || rep.ByKind[KindRefusal] != 1 || len(rep.Old) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if rep, err := VerifyExport(bytes.NewReader(exp), vkey, nil); err != nil || rep.Unchecked != 11 {
		t.Fatalf("without users: %+v, %v", rep, err)
	}

	// Text edits of the export, its checkpoint left as it was.
	ls := lines(exp) // ls[0] header, ls[1..12] entries, ls[13] empty, then the note
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "\n")) }
	edit := func(f func(ls []string) []string) []byte { return join(f(append([]string{}, ls...))) }
	b64 := base64.StdEncoding.EncodeToString
	wrongSig, _ := ParseEntry(recs[2])
	if err := wrongSig.Sign(testOrigin, bobKey); err != nil { // alice's entry, bob's signature
		t.Fatal(err)
	}
	wrongRec, _ := wrongSig.Marshal()
	badNote := bytes.Clone(exp)
	badNote[len(badNote)-8] ^= 0x02

	for _, tc := range []struct {
		name  string
		exp   []byte
		users UserKeys
		want  error
	}{
		{"edit an entry", edit(func(ls []string) []string { ls[4] = b64(editPayload(recs[3])); return ls }), testUser, ErrEntrySignature},
		{"edit an entry, users unchecked", edit(func(ls []string) []string { ls[4] = b64(editPayload(recs[3])); return ls }), nil, ErrInclusion},
		{"delete an entry", edit(func(ls []string) []string { return append(ls[:4], ls[5:]...) }), testUser, ErrInclusion},
		{"reorder two entries", edit(func(ls []string) []string { ls[3], ls[6] = ls[6], ls[3]; return ls }), testUser, ErrInclusion},
		{"truncate", edit(func(ls []string) []string { return append(ls[:10], ls[13:]...) }), testUser, ErrInclusion},
		{"add an entry", edit(func(ls []string) []string { return append(ls[:13], append([]string{ls[1]}, ls[13:]...)...) }), testUser, ErrInclusion},
		{"bad checkpoint signature", badNote, testUser, ErrCheckpointSignature},
		{"wrong user signature", edit(func(ls []string) []string { ls[3] = b64(wrongRec); return ls }), testUser, ErrEntrySignature},
		{"unknown user", exp, UserKeyMap{"alice": testUser["alice"]}, ErrUnknownUser},
		{"cut in the note", exp[:len(exp)-20], testUser, ErrCheckpointSignature},
		{"not an export", []byte("hello\n"), testUser, ErrMalformed},
		{"no checkpoint", join(ls[:13]), testUser, ErrMalformed},
		{"bad base64", edit(func(ls []string) []string { ls[2] = "!" + ls[2][1:]; return ls }), testUser, ErrMalformed},
	} {
		if _, err := VerifyExport(bytes.NewReader(tc.exp), vkey, &VerifyConfig{Users: tc.users}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	// The service rewrites history and re-signs it with the log key: the
	// export is self-consistent, but not with the checkpoints clients kept.
	extra := history(t, honest, 13)[12]
	reordered := clone(recs)
	reordered[2], reordered[5] = reordered[5], reordered[2]
	deleted := append(clone(recs[:3]), clone(recs[4:])...)
	fork := append(clone(recs[:9]), extra)
	for _, tc := range []struct {
		name string
		recs [][]byte
		old  []byte
		want error
	}{
		{"delete, re-signed", deleted, at8, ErrInconsistent},
		{"delete, re-signed (vs size 12)", deleted, at12, ErrTruncated},
		{"reorder, re-signed", reordered, at8, ErrInconsistent},
		{"truncate, re-signed", recs[:7], at8, ErrTruncated},
		{"fork after 9, re-signed", fork, at12, ErrInconsistent},
	} {
		forged := export(t, rawLog(t, tc.recs))
		if _, err := VerifyExport(bytes.NewReader(forged), vkey, &VerifyConfig{Users: testUser}); err != nil {
			t.Fatalf("%s: the re-signed export should be self-consistent: %v", tc.name, err)
		}
		_, err := VerifyExport(bytes.NewReader(forged), vkey, &VerifyConfig{Users: testUser, Old: [][]byte{tc.old}})
		var ce *ConsistencyError
		if !errors.Is(err, tc.want) || !errors.As(err, &ce) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// An edit stays caught by the user's signature even when re-signed.
	edited := clone(recs)
	edited[3] = editPayload(edited[3])
	if _, err := VerifyExport(bytes.NewReader(export(t, rawLog(t, edited))), vkey, &VerifyConfig{Users: testUser}); !errors.Is(err, ErrEntrySignature) {
		t.Errorf("edit, re-signed: %v", err)
	}
}

// FuzzVerifyExport feeds arbitrary exports to the verifier: it must not
// panic, and what it accepts must hash to a checkpoint the log key signed.
func FuzzVerifyExport(f *testing.F) {
	honest := newLog(f, testOrigin, logKey)
	good := export(f, rawLog(f, history(f, honest, 5)))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("maskshare/cosign/export@v1\n\n"))
	f.Add([]byte("maskshare/cosign/export@v1\nAQ==\n\ncosign.example/log\n1\nAA==\n\n— x y\n"))
	vkey := honest.VerifierKey()
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyExport(bytes.NewReader(b), vkey, &VerifyConfig{Users: testUser})
		if err == nil && rep.Checkpoint.Size != rep.Entries {
			t.Fatalf("accepted %d entries for a checkpoint of %d", rep.Entries, rep.Checkpoint.Size)
		}
	})
}
