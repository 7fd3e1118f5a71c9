package cosign

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// seedRequests are encodings of every request op.
func seedRequests(tb testing.TB) [][]byte {
	rk, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		tb.Fatal(err)
	}
	q := &Request{Org: testOrg, Document: doc("d"), ID: NewRequestID(), Purpose: "p"}
	payload, _ := q.Marshal()
	p := &Proposal{Action: ActionUse, User: "alice", Time: time.Unix(1_800_000_000, 0), Payload: payload}
	sid := bytes.Repeat([]byte{7}, sessionIDSize)
	reqs := []*request{
		{op: opEnrolInit, user: "alice", static: make([]byte, 32)},
		{op: opEnrolInit, user: "alice", static: make([]byte, 32), recovery: rk.Public()},
		{op: opEnrolRound1, session: sid, msg: []byte{1, 2}},
		{op: opEnrolSign, session: sid, msg: []byte{3}},
		{op: opEnrolCert, session: sid},
		{op: opPropose, proposal: p, frost: [][]byte{{1}, {2}}},
		{op: opCommit, proposal: p, frost: [][]byte{make([]byte, 64), make([]byte, 64)}},
		{op: opRevoke, user: "alice", reason: "lost"},
		{op: opCheckpoint}, {op: opStatus},
		{op: opConsistency, a: 1, b: 5}, {op: opInclusion, a: 2, b: 9}, {op: opEntry, a: 3},
	}
	var out [][]byte
	for _, r := range reqs {
		out = append(out, r.marshal())
	}
	return out
}

// FuzzParseServiceRequest: the service's request decoder never panics,
// and what it accepts re-encodes to the same bytes.
func FuzzParseServiceRequest(f *testing.F) {
	for _, b := range seedRequests(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := parseRequest(b)
		if err != nil {
			return
		}
		if got := q.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", got, b)
		}
	})
}

// FuzzHandle: the service answers any request bytes from a device with a
// well-formed response, and never panics.
func FuzzHandle(f *testing.F) {
	for _, b := range seedRequests(f) {
		f.Add(b)
	}
	e := newEnv(f)
	e.enrol(f, "alice")
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := e.svc.Handle(peerOf("alice"), b)
		if _, err := parseResponse(resp); err != nil && !isRemote(err) {
			t.Fatalf("malformed response %x: %v", resp, err)
		}
	})
}

func isRemote(err error) bool {
	_, ok := err.(*RemoteError)
	return ok
}

// FuzzParseRequest: the request (authorisation payload) decoder accepts
// exactly what Marshal writes.
func FuzzParseRequest(f *testing.F) {
	q := &Request{Org: testOrg, Document: doc("d"), ID: NewRequestID(), Purpose: "purchase order"}
	b, _ := q.Marshal()
	f.Add(b)
	f.Add(b[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseRequest(b)
		if err != nil {
			return
		}
		got, err := q.Marshal()
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzParseEnrolment, FuzzParseRecoveryKit and FuzzParseUserRecord: the
// enrolment record, recovery kit and stored user record decoders never
// panic, and accept only what re-encodes identically.
func FuzzParseEnrolment(f *testing.F) {
	e := newEnv(f)
	cred := e.enrol(f, "alice")
	good := (&Enrolment{Certificate: cred.Cert, DKG: cred.DKG}).Marshal()
	f.Add(good)
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		en, err := ParseEnrolment(b)
		if err != nil {
			return
		}
		if !bytes.Equal(en.Marshal(), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseRecoveryKit(f *testing.F) {
	e := newEnv(f)
	rk, _ := custody.GenerateKey(custody.DefaultSuite)
	_, kit, err := e.client("carol").Enrol(context.Background(), "carol", rk.Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kit.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseRecoveryKit(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Marshal(), b) {
			t.Fatal("re-encoding differs")
		}
		k.Open(rk) // must not panic, whatever the sums hold
	})
}

func FuzzParseUserRecord(f *testing.F) {
	e := newEnv(f)
	e.enrol(f, "alice")
	rec, err := e.svc.store.Get(bucketUsers, []byte("alice"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := parseUserRecord(b)
		if err != nil {
			return
		}
		if !bytes.Equal(u.marshal(), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// scripted is a Conn that answers every request with the next of its
// responses.
type scripted struct{ resp [][]byte }

func (s *scripted) RoundTrip(_ context.Context, _ []byte) ([]byte, error) {
	if len(s.resp) == 0 {
		return custody.ErrorResponse(uint8(codeInternal), "no more"), nil
	}
	r := s.resp[0]
	s.resp = s.resp[1:]
	return r, nil
}

// FuzzClientResponses: every client call decodes arbitrary responses
// without panicking (enrolment steps, co-signature, revocation, log
// queries), and a response that decodes is well-formed.
func FuzzClientResponses(f *testing.F) {
	e := newEnv(f)
	rec := &recorder{c: e.svc.Local(peerOf("alice"))}
	cl := NewClient(rec)
	cred, _, err := cl.Enrol(context.Background(), "alice", nil)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := cl.Sign(context.Background(), cred, doc("x"), ""); err != nil {
		f.Fatal(err)
	}
	for _, r := range rec.resp {
		f.Add(r, uint8(0))
	}
	f.Add([]byte{1, 3, 0, 2, 'n', 'o'}, uint8(1))
	status := rec.resp[4] // the first status response (after four enrolment steps)
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		ctx := context.Background()
		one := func() *Client { return NewClient(&scripted{resp: [][]byte{b}}) }
		withStatus := func() *Client { return NewClient(&scripted{resp: [][]byte{status, b, b}}) }
		switch which % 9 {
		case 0:
			one().Enrol(ctx, "alice", nil)
		case 1:
			NewClient(&scripted{resp: [][]byte{b, b, b, b}}).Enrol(ctx, "alice", nil)
		case 2:
			withStatus().Sign(ctx, cred, doc("y"), "")
		case 3:
			one().Revoke(ctx, "alice", "r")
		case 4:
			one().Checkpoint(ctx)
		case 5:
			one().ProveConsistency(ctx, 1, 2)
		case 6:
			one().ProveInclusion(ctx, 1, 2)
		case 7:
			one().Entry(ctx, 0)
		case 8:
			one().Status(ctx)
		}
	})
}

// recorder records a connection's responses.
type recorder struct {
	c    Conn
	resp [][]byte
}

func (r *recorder) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	b, err := r.c.RoundTrip(ctx, req)
	r.resp = append(r.resp, b)
	return b, err
}

// FuzzExportUserKeys: reading users' keys from an arbitrary export never
// panics; from a real export it finds the enrolled user.
func FuzzExportUserKeys(f *testing.F) {
	e := newEnv(f)
	e.enrol(f, "alice")
	exp := e.export(f)
	keys, err := ExportUserKeys(exp, e.ra.Roots())
	if err != nil || keys.Users() != 1 {
		f.Fatalf("%v %v", keys, err)
	}
	f.Add(exp)
	f.Add([]byte(exportHeader + "\n\n"))
	roots := e.ra.Roots()
	f.Fuzz(func(t *testing.T, b []byte) {
		ExportUserKeys(b, roots)
	})
}

// FuzzEnrolResponses: the decoders of the four enrolment responses never
// panic on any body.
func FuzzEnrolResponses(f *testing.F) {
	e := newEnv(f)
	rk, _ := custody.GenerateKey(custody.DefaultSuite)
	rec := &recorder{c: e.svc.Local(peerOf("carol"))}
	if _, _, err := NewClient(rec).Enrol(context.Background(), "carol", rk.Public()); err != nil {
		f.Fatal(err)
	}
	for i, r := range rec.resp[:4] {
		f.Add(uint8(i), r[2:]) // the body, after version and code
	}
	f.Fuzz(func(t *testing.T, step uint8, b []byte) {
		r := newReader(b)
		switch step % 4 {
		case 0:
			parseEnrolInit(r)
		case 1:
			parseEnrolRound1(r)
		case 2:
			parseEnrolSign(r, len(b)%2 == 0)
		case 3:
			if ec, err := parseEnrolCert(r); err == nil && (ec.cert == nil || ec.pub == nil || ec.dkg == nil) {
				t.Fatal("decoded an incomplete enrolment")
			}
		}
	})
}
