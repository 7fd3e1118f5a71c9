package cosign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/transport"
)

const testOrg = "acme"

// testEnv is a service in a temporary directory, with its RA.
type testEnv struct {
	dir string
	ra  *RA
	svc *Service
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	ca, err := transport.NewCA("acme-ra")
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{dir: filepath.Join(t.TempDir(), "svc"), ra: &RA{CA: ca}}
	if _, err := InitService(e.dir, testOrg, "cosign.acme.example/log", e.ra); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	t.Cleanup(func() { e.svc.Close() })
	return e
}

func (e *testEnv) open(t testing.TB) {
	t.Helper()
	s, err := OpenService(e.dir, &ServiceConfig{RA: e.ra, Admins: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = s
}

// restart closes and reopens the service, as a process restart does.
func (e *testEnv) restart(t testing.TB) {
	t.Helper()
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

func peerOf(name string) Peer {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return Peer{Name: name, Key: pub}
}

// client returns a client of the service acting as the device of name.
func (e *testEnv) client(name string) *Client {
	return NewClient(e.svc.Local(peerOf(name)))
}

func (e *testEnv) enrol(t testing.TB, user string) *Credential {
	t.Helper()
	cred, kit, err := e.client(user).Enrol(context.Background(), user, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kit != nil {
		t.Fatal("a recovery kit without a recovery key")
	}
	return cred
}

func doc(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func (e *testEnv) export(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.svc.Log().Export(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// verifyExport checks the service's log offline with the users' keys
// rebuilt from its enrolment entries.
func (e *testEnv) verifyExport(t testing.TB, exp []byte, old ...[]byte) (*ExportReport, error) {
	t.Helper()
	keys, err := ExportUserKeys(exp, e.ra.Roots())
	if err != nil {
		return nil, err
	}
	return VerifyExport(bytes.NewReader(exp), e.svc.Log().VerifierKey(), &VerifyConfig{Users: keys, Old: old})
}

func kinds(t testing.TB, l *Log) []Kind {
	t.Helper()
	ctx := context.Background()
	n, err := l.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ks []Kind
	for i := range n {
		en, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, en.Kind)
	}
	return ks
}

// TestEnrolAndSign: a user enrols (two-party DKG, certificate from the
// RA, co-signed enrolment entry) and has a document signed with the
// organisation's key; the organisation's signature verifies with its
// certificate, the user's entries with the user's certificate, and the
// exported log verifies offline with keys rebuilt from its enrolments.
func TestEnrolAndSign(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	if !bytes.Equal(cred.Cert.PublicKey.(ed25519.PublicKey), cred.Public.GroupKey()) {
		t.Fatal("certificate does not carry the group key")
	}
	rc, err := e.client("alice").Sign(ctx, cred, doc("contract 1"), "supplier contract")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDocument(e.svc.OrgCertificate(), e.ra.Roots(), doc("contract 1"), rc.OrgSignature, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := VerifyDocument(e.svc.OrgCertificate(), e.ra.Roots(), doc("contract 2"), rc.OrgSignature, time.Now()); !errors.Is(err, ErrSignature) {
		t.Fatalf("organisation signature verifies for another document: %v", err)
	}
	for _, en := range rc.Entries {
		if err := en.Verify(e.svc.Log().Origin(), cred.Cert.PublicKey.(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
	}
	if got := kinds(t, e.svc.Log()); !equalKinds(got, KindEnrolment, KindAuthorisation, KindKeyUse) {
		t.Fatalf("log holds %v", got)
	}
	rep, err := e.verifyExport(t, e.export(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.UserSigned != 3 || rep.Unchecked != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func equalKinds(got []Kind, want ...Kind) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestClientAloneCannotSign: the client's share alone makes no signature
// (FROST refuses one share of a 2-of-2 key, and a signature aggregated
// with a made-up service share does not verify), and the service refuses
// to act on such a signature, logging the refusal.
func TestClientAloneCannotSign(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	msg := []byte("anything")
	n1, c1, _ := frost.Commit(cred.Share)
	pkg1, err := frost.NewSigningPackage(msg, []*frost.SigningCommitments{c1})
	if err == nil {
		if _, err = frost.Sign(cred.Share, n1, pkg1); !errors.Is(err, frost.ErrTooFewSigners) {
			t.Fatalf("one share of a 2-of-2 key signs: %v", err)
		}
	}
	// A forged second share: the client plays both signers with a
	// random scalar for the service's share.
	rq := &Request{Org: testOrg, Document: doc("forged"), ID: NewRequestID()}
	payload, _ := rq.Marshal()
	p := &Proposal{Action: ActionUse, User: "alice", Time: time.Now(), Payload: payload}
	es, _ := p.Entries(e.svc.OrgCertificate().Raw)
	var sigs [][]byte
	for _, en := range es {
		m, _ := en.Message(e.svc.Log().Origin())
		sigs = append(sigs, forgeWithOneShare(t, cred.Share, cred.Public, m))
		if ed25519.Verify(cred.Cert.PublicKey.(ed25519.PublicKey), m, sigs[len(sigs)-1]) {
			t.Fatal("a signature from one share verifies")
		}
	}
	before := len(kinds(t, e.svc.Log()))
	if _, err := e.client("alice").commit(ctx, p, sigs); !errors.Is(err, ErrSignature) {
		t.Fatalf("commit with the client's share alone: %v", err)
	}
	if got := kinds(t, e.svc.Log()); len(got) != before+1 || got[before] != KindRefusal {
		t.Fatalf("refusal not logged: %v", got)
	}
}

// forgeWithOneShare is the best a holder of one share k can do alone:
// FROST with a made-up partner share is refused at aggregation (the fake
// share is named), so it signs in Ed25519's format with its share as the
// secret and the group key as the public key. It returns that signature.
func forgeWithOneShare(t testing.TB, k *frost.KeyShare, pub *frost.PublicKeyPackage, m []byte) []byte {
	t.Helper()
	other := ServiceID
	if k.Identifier() == ServiceID {
		other = ClientID
	}
	_, fakeKeys, err := frost.Deal(frost.Ed25519, nil, 2, []uint16{ClientID, ServiceID})
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeKeys[other-1]
	n1, c1, _ := frost.Commit(k)
	n2, c2, _ := frost.Commit(fake)
	pkg, err := frost.NewSigningPackage(m, byID(c1, c2))
	if err != nil {
		t.Fatal(err)
	}
	s1, err := frost.Sign(k, n1, pkg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := frost.Sign(fake, n2, pkg)
	if err != nil {
		t.Fatal(err)
	}
	var ce *frost.CheaterError
	if _, err := frost.Aggregate(pub, pkg, sharesByID(s1, s2)); !errors.As(err, &ce) || ce.Identifiers[0] != other {
		t.Fatalf("aggregation with a made-up share: %v", err)
	}
	// KeyShare encoding: header (3) || threshold (2) || id (2) || secret (32) || ...
	enc := k.Marshal()
	sk, err := edwards25519.NewScalar().SetCanonicalBytes(enc[7:39])
	if err != nil {
		t.Fatal(err)
	}
	return schnorrSign(sk, k.GroupKey(), m)
}

// schnorrSign is Ed25519's signing equation with secret scalar sk and the
// public key claimed to be pub: valid only if sk·B = pub.
func schnorrSign(sk *edwards25519.Scalar, pub, m []byte) []byte {
	var seed [64]byte
	rand.Read(seed[:])
	r, _ := edwards25519.NewScalar().SetUniformBytes(seed[:])
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	h := sha512.New()
	h.Write(R)
	h.Write(pub)
	h.Write(m)
	c, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	z := edwards25519.NewScalar().MultiplyAdd(c, sk, r)
	return append(R, z.Bytes()...)
}

// TestServiceAloneCannotSign: the service, with its share and its log key,
// cannot put an authorisation in the user's name into its own log: one
// share makes no signature, a forged one does not verify, and entries of
// the users' kinds signed by the service are refused.
func TestServiceAloneCannotSign(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.enrol(t, "alice")
	u := e.svc.user("alice")
	ks, err := e.svc.openShare("alice", u)
	if err != nil {
		t.Fatal(err)
	}
	rq := &Request{Org: testOrg, Document: doc("the service wants this"), ID: NewRequestID()}
	payload, _ := rq.Marshal()
	en := &Entry{Kind: KindAuthorisation, Signer: SignedByUser, Time: time.Now().UTC(), User: "alice", Payload: payload}
	m, _ := en.Message(e.svc.Log().Origin())
	n, c, _ := frost.Commit(ks)
	if pkg, err := frost.NewSigningPackage(m, []*frost.SigningCommitments{c}); err == nil {
		if _, err := frost.Sign(ks, n, pkg); !errors.Is(err, frost.ErrTooFewSigners) {
			t.Fatalf("the service's share alone signs: %v", err)
		}
	}
	en.Signature = forgeWithOneShare(t, ks, u.pub, m)
	if _, _, err := e.svc.Log().Append(ctx, en); !errors.Is(err, ErrEntrySignature) {
		t.Fatalf("log accepted the service's forged authorisation: %v", err)
	}
	// Its own key does not sign for the user either: the log will not
	// sign a user's kind as the service, and the log key's signature in
	// the user's place does not verify.
	en2 := *en
	if err := e.svc.Log().SignAsService(&en2); !errors.Is(err, ErrMalformed) {
		t.Fatalf("the service signed an authorisation as itself: %v", err)
	}
	logKey, err := OpenSealedSigner(e.svc.store, e.svc.hpke, LogKeyName)
	if err != nil {
		t.Fatal(err)
	}
	en2.Signer = SignedByUser
	if err := en2.Sign(e.svc.Log().Origin(), logKey); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Log().Append(ctx, &en2); !errors.Is(err, ErrEntrySignature) {
		t.Fatalf("log accepted the log key's signature as the user's: %v", err)
	}
	// And through the protocol the service's commit path checks the same.
	p := &Proposal{Action: ActionUse, User: "alice", Time: en.Time, Payload: payload}
	es, _ := p.Entries(e.svc.OrgCertificate().Raw)
	var sigs [][]byte
	for _, x := range es {
		mm, _ := x.Message(e.svc.Log().Origin())
		sigs = append(sigs, forgeWithOneShare(t, ks, u.pub, mm))
	}
	if _, err := e.client("alice").commit(ctx, p, sigs); !errors.Is(err, ErrSignature) {
		t.Fatalf("commit with the service's share alone: %v", err)
	}
	if got := kinds(t, e.svc.Log()); got[len(got)-1] != KindRefusal {
		t.Fatalf("log %v", got)
	}
}

// TestRequestBoundToDocument: co-signatures of a request for one document
// do not get another signed: changing the document, the request id, the
// organisation, the purpose or the time in the commit is refused.
func TestRequestBoundToDocument(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	cl := e.client("alice")
	rq := &Request{Org: testOrg, Document: doc("pay 10"), ID: NewRequestID(), Purpose: "invoice"}
	payload, _ := rq.Marshal()
	p := &Proposal{Action: ActionUse, User: "alice", Time: time.Now(), Payload: payload}
	es, err := cl.cosignatures(ctx, cred, p)
	if err != nil {
		t.Fatal(err)
	}
	sigs := [][]byte{es[0].Signature, es[1].Signature}
	for name, change := range map[string]func(q *Request, p *Proposal){
		"document": func(q *Request, p *Proposal) { q.Document = doc("pay 10000") },
		"id":       func(q *Request, p *Proposal) { q.ID = NewRequestID() },
		"purpose":  func(q *Request, p *Proposal) { q.Purpose = "other" },
		"time":     func(q *Request, p *Proposal) { p.Time = p.Time.Add(time.Second) },
	} {
		q2, p2 := *rq, *p
		change(&q2, &p2)
		p2.Payload, _ = q2.Marshal()
		if _, err := cl.commit(ctx, &p2, sigs); !errors.Is(err, ErrSignature) {
			t.Fatalf("%s changed: %v", name, err)
		}
	}
	q2 := *rq
	q2.Org = "other-org"
	p2 := *p
	p2.Payload, _ = q2.Marshal()
	if _, err := cl.commit(ctx, &p2, sigs); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("another organisation: %v", err)
	}
	// The unchanged one is served.
	rc, err := cl.commit(ctx, p, sigs)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(e.svc.OrgCertificate().PublicKey.(ed25519.PublicKey), DocumentMessage(doc("pay 10")), rc.OrgSignature) {
		t.Fatal("organisation signature")
	}
}

// TestReplayRefused: a request id is served once: the same co-signed
// request again, the same id for another document, and the same request
// after a restart are refused, and each refusal is logged.
func TestReplayRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	cl := e.client("alice")
	rq := &Request{Org: testOrg, Document: doc("once"), ID: NewRequestID()}
	payload, _ := rq.Marshal()
	p := &Proposal{Action: ActionUse, User: "alice", Time: time.Now(), Payload: payload}
	es, err := cl.cosignatures(ctx, cred, p)
	if err != nil {
		t.Fatal(err)
	}
	sigs := [][]byte{es[0].Signature, es[1].Signature}
	if _, err := cl.commit(ctx, p, sigs); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.commit(ctx, p, sigs); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	rq2 := *rq
	rq2.Document = doc("twice")
	if _, err := cl.SignRequest(ctx, cred, &rq2, time.Now()); !errors.Is(err, ErrReplay) {
		t.Fatalf("same id, another document: %v", err)
	}
	e.restart(t)
	cl = e.client("alice")
	if _, err := cl.commit(ctx, p, sigs); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay after restart: %v", err)
	}
	got := kinds(t, e.svc.Log())
	if !equalKinds(got, KindEnrolment, KindAuthorisation, KindKeyUse, KindRefusal, KindRefusal, KindRefusal) {
		t.Fatalf("log %v", got)
	}
}

// TestRevokedUserRefused: after an administrator revokes a user (a
// service-signed entry), and after a user revokes itself (a co-signed
// entry), the user's requests are refused, across a restart; another user
// cannot revoke; the log verifies offline, revocations included.
func TestRevokedUserRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.enrol(t, "alice")
	bob := e.enrol(t, "bob")
	if _, err := e.client("bob").Revoke(ctx, "alice", "not bob's to do"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bob revokes alice: %v", err)
	}
	if _, err := e.client("admin").Revoke(ctx, "alice", "left the company"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client("alice").Sign(ctx, alice, doc("after revocation"), ""); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked user: %v", err)
	}
	if _, err := e.client("bob").RevokeSelf(ctx, bob, "phone compromised"); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	if _, err := e.client("bob").Sign(ctx, bob, doc("after revocation"), ""); !errors.Is(err, ErrRevoked) {
		t.Fatalf("self-revoked user after restart: %v", err)
	}
	got := kinds(t, e.svc.Log())
	if !equalKinds(got, KindEnrolment, KindEnrolment, KindRevocation, KindRefusal, KindRevocation, KindRefusal) {
		t.Fatalf("log %v", got)
	}
	rep, err := e.verifyExport(t, e.export(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.UserSigned != 3 || rep.ServiceSigned != 3 {
		t.Fatalf("report %+v", rep)
	}
	// Re-enrolment after revocation is allowed, with a new key.
	alice2 := e.enrol(t, "alice")
	if bytes.Equal(alice2.Public.GroupKey(), alice.Public.GroupKey()) {
		t.Fatal("same key after re-enrolment")
	}
	if _, err := e.client("alice").Sign(ctx, alice2, doc("new key"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifyExport(t, e.export(t)); err != nil {
		t.Fatal(err)
	}
}

// TestOnlyOwnDevice: a device acts only for the user its certificate
// names.
func TestOnlyOwnDevice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.enrol(t, "alice")
	if _, _, err := e.client("mallory").Enrol(ctx, "alice", nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("enrol for another: %v", err)
	}
	if _, err := e.client("mallory").Sign(ctx, alice, doc("x"), ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("sign for another: %v", err)
	}
	if _, _, err := e.client("alice").Enrol(ctx, "alice", nil); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("enrol twice: %v", err)
	}
}

// TestRecoveryKit: with a recovery key, the user's key is 2-of-3; the
// phone is lost; the recovery share, opened from its kit with the
// recovery key, signs with the service. The kit does not open with
// another key, and the phone's share and the recovery share together
// also make the key (so the kit must stay offline).
func TestRecoveryKit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rk, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		t.Fatal(err)
	}
	cred, kit, err := e.client("carol").Enrol(ctx, "carol", rk.Public())
	if err != nil {
		t.Fatal(err)
	}
	kit2, err := ParseRecoveryKit(kit.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := custody.GenerateKey(custody.DefaultSuite)
	if _, err := kit2.Open(other); !errors.Is(err, custody.ErrOpen) {
		t.Fatalf("kit opens with another key: %v", err)
	}
	share, err := kit2.Open(rk)
	if err != nil {
		t.Fatal(err)
	}
	// The phone is lost: a new device with the recovery share.
	recovered, err := kit2.Credential(share)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.client("carol").Sign(ctx, recovered, doc("after losing the phone"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(recovered.Cert.PublicKey.(ed25519.PublicKey), mustMessage(t, rc.Entries[0], e.svc.Log().Origin()), rc.Entries[0].Signature) {
		t.Fatal("recovered signature does not verify with the certificate")
	}
	// Shares 1 and 3 without the service: a threshold of the 2-of-3 key.
	m := []byte("offline")
	n1, c1, _ := frost.Commit(cred.Share)
	n3, c3, _ := frost.Commit(share)
	pkg, _ := frost.NewSigningPackage(m, []*frost.SigningCommitments{c1, c3})
	s1, _ := frost.Sign(cred.Share, n1, pkg)
	s3, _ := frost.Sign(share, n3, pkg)
	sig, err := frost.Aggregate(cred.Public, pkg, []*frost.SignatureShare{s1, s3})
	if err != nil || !ed25519.Verify(cred.Cert.PublicKey.(ed25519.PublicKey), m, sig) {
		t.Fatalf("phone and recovery share: %v", err)
	}
	if _, err := e.verifyExport(t, e.export(t)); err != nil {
		t.Fatal(err)
	}
}

func mustMessage(t testing.TB, en *Entry, origin string) []byte {
	t.Helper()
	m, err := en.Message(origin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestClockSkewRefused: a request dated too far from the service's clock
// is refused before the service's share takes part.
func TestClockSkewRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	q := &Request{Org: testOrg, Document: doc("old"), ID: NewRequestID()}
	if _, err := e.client("alice").SignRequest(ctx, cred, q, time.Now().Add(-time.Hour)); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("backdated request: %v", err)
	}
}

// TestRemoteErrorText: refusals reach the client with their sentinel and
// a readable reason.
func TestRemoteErrorText(t *testing.T) {
	e := newEnv(t)
	_, err := e.client("bob").Sign(context.Background(), &Credential{User: "bob", OrgCert: e.svc.OrgCertificate(), Share: mustShare(t)}, doc("x"), "")
	var re *RemoteError
	if !errors.As(err, &re) || !errors.Is(err, ErrNotEnrolled) || !strings.Contains(re.Text, "bob") {
		t.Fatalf("%v", err)
	}
}

func mustShare(t testing.TB) *frost.KeyShare {
	_, ks, err := frost.Deal(frost.Ed25519, nil, 2, []uint16{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	return ks[0]
}

func sharesByID(a, b *frost.SignatureShare) []*frost.SignatureShare {
	if a.Identifier() > b.Identifier() {
		a, b = b, a
	}
	return []*frost.SignatureShare{a, b}
}

// TestConcurrentReplay: the same co-signed request committed from eight
// connections at once is served exactly once.
func TestConcurrentReplay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	rq := &Request{Org: testOrg, Document: doc("race"), ID: NewRequestID()}
	payload, _ := rq.Marshal()
	p := &Proposal{Action: ActionUse, User: "alice", Time: time.Now(), Payload: payload}
	es, err := e.client("alice").cosignatures(ctx, cred, p)
	if err != nil {
		t.Fatal(err)
	}
	sigs := [][]byte{es[0].Signature, es[1].Signature}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := e.client("alice").commit(ctx, p, sigs)
			errs <- err
		}()
	}
	served := 0
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			served++
		case !errors.Is(err, ErrReplay):
			t.Fatalf("concurrent commit: %v", err)
		}
	}
	if served != 1 {
		t.Fatalf("served %d times", served)
	}
}
