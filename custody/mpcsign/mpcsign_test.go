package mpcsign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

// subsets returns every k-subset of s, in order.
func subsets(s []string, k int) [][]string {
	if k == 0 {
		return [][]string{nil}
	}
	var out [][]string
	for i := 0; i+k <= len(s); i++ {
		for _, rest := range subsets(s[i+1:], k-1) {
			out = append(out, append([]string{s[i]}, rest...))
		}
	}
	return out
}

func TestEverySubsetSigns(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4", "n5")
	acct := p.create(3, 5)
	for i, set := range subsets(p.names, 3) {
		msg := fmt.Appendf(nil, "transfer %d", i)
		sig, err := p.sign(msg, set)
		if err != nil {
			t.Fatalf("nodes %v: %v", set, err)
		}
		if !ed25519.Verify(acct.GroupKey(), msg, sig) {
			t.Fatalf("nodes %v: signature does not verify with crypto/ed25519", set)
		}
		p.nextStep() // the next set shares nodes with this one
	}
	// More than t nodes sign too.
	msg := []byte("four signers")
	sig, err := p.sign(msg, p.names[:4])
	if err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
		t.Fatalf("4 of 5: %v", err)
	}
}

func TestChooseNodesRandom(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4", "n5")
	p.create(2, 3)
	seen := map[string]bool{}
	for range 30 {
		set, err := p.holder.ChooseNodes(context.Background(), "acct")
		if err != nil {
			t.Fatal(err)
		}
		if len(set) != 2 || !slices.IsSorted(set) || set[0] == set[1] {
			t.Fatalf("ChooseNodes = %v", set)
		}
		seen[fmt.Sprint(set)] = true
	}
	// 10 possible pairs, 30 draws: all the same would be a broken draw
	// (probability 10·(1/10)^30).
	if len(seen) < 2 {
		t.Fatalf("ChooseNodes always chose %v", seen)
	}
}

func TestFewerThanThreshold(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	p.create(3, 4)
	// An authorisation of two nodes for a 3-of-4 account.
	_, err := p.sign([]byte("m"), []string{"n1", "n2"})
	var tf *TooFewError
	if !errors.As(err, &tf) || !errors.Is(err, ErrTooFewNodes) || tf.Need != 3 {
		t.Fatalf("2 of 3: %v", err)
	}
	// A node refuses to take part in a request of fewer than t nodes even
	// if the holder asks.
	q := p.round1Request("n1", []byte("m"), []string{"n1", "n2"}, nil)
	if err := p.handle("n1", q); !errors.Is(err, ErrTooFewNodes) {
		t.Fatalf("node on 2 of 3: %v", err)
	}
	// Two of four nodes down: fewer than t healthy.
	p.nodes["n3"].stop()
	p.nodes["n4"].stop()
	_, err = p.holder.ChooseNodes(context.Background(), "acct")
	if !errors.As(err, &tf) || tf.Healthy != 2 || len(tf.Failed) != 2 {
		t.Fatalf("ChooseNodes with 2 of 4 up: %v", err)
	}
}

// round1Request builds the round-one request the holder would send node
// for an authorisation of message by nodes, with share id 1 sealed to
// sealTo (node by default).
func (p *testPool) round1Request(node string, message []byte, nodes []string, edit func(*Authorization)) []byte {
	return p.round1RequestTo(node, node, message, nodes, edit)
}

func (p *testPool) round1RequestTo(node, sealTo string, message []byte, nodes []string, edit func(*Authorization)) []byte {
	p.t.Helper()
	auth := p.authorize(message, nodes, edit)
	a, err := ParseAuthorization(auth)
	if err != nil {
		p.t.Fatal(err)
	}
	rec, _, err := p.holder.Account("acct")
	if err != nil {
		p.t.Fatal(err)
	}
	var sealed []byte
	err = p.holder.store.View(func(tx *custody.Tx) error {
		k, err := p.holder.openShare(tx, rec, 1)
		if err != nil {
			return err
		}
		defer k.Erase()
		sealed, err = custody.Seal(p.nodes[sealTo].signer.PublicKey(), shareInfo(a, rec.Epoch, 1, sealTo), k.Marshal())
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return (&request{op: opRound1, record: rec.Marshal(), auth: auth, id: 1, sealed: sealed, message: message}).marshal()
}

// handle runs a request at node as the holder and returns its refusal.
func (p *testPool) handle(node string, req []byte) error {
	p.t.Helper()
	resp := p.nodes[node].signer.Handle(Peer{Name: "holder", Key: p.holdID.PublicKey()}, req)
	_, err := parseResponse(node, resp)
	return err
}

func TestNodeRefusesWithoutValidAuthorization(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.create(2, 3)
	msg := []byte("pay 10 to bob")
	set := []string{"n1", "n2"}
	_, otherDevice, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name string
		req  func() []byte
		want error
	}{
		{"bad device signature", func() []byte {
			q := p.round1Request("n1", msg, set, nil)
			a := p.authorize(msg, set, nil)
			b, _ := ParseAuthorization(a)
			forged, _ := b.Sign(otherDevice)
			return (&request{op: opRound1, record: p.account.Marshal(), auth: forged, id: 1, sealed: mustParse(t, q).sealed, message: msg}).marshal()
		}, ErrBadDeviceSignature},
		{"wrong code", func() []byte {
			return p.round1Request("n1", msg, set, func(a *Authorization) { a.Code = flipDigit(a.Code) })
		}, ErrBadCode},
		{"stale code", func() []byte {
			old, _ := Code(p.totp, p.clock.Now().Add(-5*time.Duration(p.account.Period)*time.Second))
			return p.round1Request("n1", msg, set, func(a *Authorization) { a.Code = old })
		}, ErrStaleCode},
		{"stale authorisation time", func() []byte {
			return p.round1Request("n1", msg, set, func(a *Authorization) { a.Time = a.Time.Add(-10 * time.Minute) })
		}, ErrStaleCode},
		{"message changed", func() []byte {
			q := mustParse(t, p.round1Request("n1", msg, set, nil))
			q.message = []byte("pay 10000 to mallory")
			return q.marshal()
		}, ErrWrongMessage},
		{"node not in the set", func() []byte {
			return p.round1Request("n3", msg, set, nil)
		}, ErrNotInNodeSet},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node := "n1"
			if c.name == "node not in the set" {
				node = "n3"
			}
			err := p.handle(node, c.req())
			if !errors.Is(err, c.want) || !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var re *RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("%v is not a RemoteError", err)
			}
		})
	}
	// None of the refusals spent the step: a valid request still signs.
	sig, err := p.sign(msg, set)
	if err != nil || !ed25519.Verify(p.account.GroupKey(), msg, sig) {
		t.Fatalf("valid request after refusals: %v", err)
	}
}

func mustParse(t *testing.T, b []byte) *request {
	q, err := parseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func flipDigit(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestReplayAndCodeReuse(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.create(2, 3)
	msg := []byte("pay 10 to bob")
	set := []string{"n1", "n2"}
	auth := p.authorize(msg, set, nil)
	if _, err := p.holder.Sign(context.Background(), msg, auth); err != nil {
		t.Fatal(err)
	}
	// The same authorisation again: its request id is spent at each node.
	if _, err := p.holder.Sign(context.Background(), msg, auth); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed request: %v", err)
	}
	// A new request with the same code (same step) at a node that used it.
	if _, err := p.sign([]byte("another"), set); !errors.Is(err, ErrCodeReused) {
		t.Fatalf("code reused: %v", err)
	}
	// After restarts, the nodes still refuse the replayed request id.
	p.restart("n1")
	p.restart("n2")
	if _, err := p.holder.Sign(context.Background(), msg, auth); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed request after restart: %v", err)
	}
	// The next step's code works.
	p.nextStep()
	if _, err := p.sign([]byte("another"), set); err != nil {
		t.Fatalf("next step: %v", err)
	}
	// Once the request has expired everywhere, the ids are purged: the
	// tables do not grow without bound.
	p.clock.Advance(RequestLifetime + time.Minute)
	p.nextStep()
	if _, err := p.sign([]byte("later"), set); err != nil {
		t.Fatal(err)
	}
	var n int
	p.nodes["n1"].signer.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(nodeRequests, nil, func(_, _ []byte) error { n++; return nil })
	})
	if n != 1 {
		t.Fatalf("%d request ids kept after expiry, want 1 (the live one)", n)
	}
}

func TestRound2Checks(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.create(2, 3)
	// Round two without round one.
	var id [RequestIDSize]byte
	req := (&request{op: opRound2, reqID: id, pkg: []byte{1}}).marshal()
	if err := p.handle("n1", req); !errors.Is(err, ErrNoSession) {
		t.Fatalf("round two alone: %v", err)
	}
	// Round two with a package of another message.
	msg := []byte("m")
	q1 := p.round1Request("n1", msg, []string{"n1", "n2"}, nil)
	resp := p.nodes["n1"].signer.Handle(Peer{Key: p.holdID.PublicKey()}, q1)
	body, err := parseResponse("n1", resp)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := frost.UnmarshalSigningCommitments(body)
	a, _ := ParseAuthorization(mustParse(t, q1).auth)
	// A second signer's commitment, made here from share 2.
	k2 := p.holderShare(2)
	_, c2, _ := frost.Commit(k2)
	pkg, err := frost.NewSigningPackage([]byte("other"), []*frost.SigningCommitments{c1, c2})
	if err != nil {
		t.Fatal(err)
	}
	req = (&request{op: opRound2, reqID: a.RequestID, pkg: pkg.Marshal()}).marshal()
	if err := p.handle("n1", req); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("round two, other message: %v", err)
	}
	// The session is gone (and its share erased) after any round two.
	if err := p.handle("n1", req); !errors.Is(err, ErrNoSession) {
		t.Fatalf("round two twice: %v", err)
	}
}

func (p *testPool) holderShare(id uint16) *frost.KeyShare {
	p.t.Helper()
	rec, _, _ := p.holder.Account("acct")
	var k *frost.KeyShare
	err := p.holder.store.View(func(tx *custody.Tx) (err error) { k, err = p.holder.openShare(tx, rec, id); return err })
	if err != nil {
		p.t.Fatal(err)
	}
	return k
}

func TestShareSealedToAIsUselessAtB(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.create(2, 3)
	set := []string{"n1", "n2"}
	// Sealed to n1, sent to n2 (both authorised).
	req := p.round1RequestTo("n2", "n1", []byte("m"), set, nil)
	if err := p.handle("n2", req); !errors.Is(err, ErrBadShare) {
		t.Fatalf("n1's share at n2: %v", err)
	}
	// And it does not open with n2's key under n1's info either.
	q := mustParse(t, req)
	a, _ := ParseAuthorization(q.auth)
	if _, err := custody.Open(p.nodes["n2"].signer.key, shareInfo(a, 1, 1, "n1"), q.sealed); !errors.Is(err, custody.ErrOpen) {
		t.Fatalf("open with n2's key: %v", err)
	}
	// It opens at n1 only for this request: another request id fails.
	p.nextStep()
	other := mustParse(t, p.round1Request("n1", []byte("m"), set, nil))
	other.sealed = q.sealed
	if err := p.handle("n1", other.marshal()); !errors.Is(err, ErrBadShare) {
		t.Fatalf("share of another request: %v", err)
	}
}

func TestNodeNeverStoresShare(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	acct := p.create(2, 3)
	// The secrets to look for: every share's secret scalar and encoding.
	var needles [][]byte
	for _, id := range acct.Shares() {
		k := p.holderShare(id)
		enc := k.Marshal()
		needles = append(needles, bytes.Clone(enc[keyShareSecretOffset:keyShareSecretOffset+32]), enc)
		k.Erase()
	}
	for i, set := range subsets(p.names, 2) {
		if _, err := p.sign(fmt.Appendf(nil, "m%d", i), set); err != nil {
			t.Fatal(err)
		}
		p.nextStep()
	}
	if _, err := p.holder.Refresh(context.Background(), "acct"); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := p.holder.Account("acct")
	for _, id := range rec.Shares() {
		k := p.holderShare(id)
		enc := k.Marshal()
		needles = append(needles, bytes.Clone(enc[keyShareSecretOffset:keyShareSecretOffset+32]))
		k.Erase()
	}
	for i, set := range subsets(p.names, 2) {
		if _, err := p.sign(fmt.Appendf(nil, "n%d", i), set); err != nil {
			t.Fatal(err)
		}
		p.nextStep()
	}
	for _, n := range p.names {
		tn := p.nodes[n]
		tn.stop()
		files, _ := filepath.Glob(filepath.Join(tn.dir, "*"))
		if len(files) != 2 {
			t.Fatalf("node %s wrote %v, want its key and store only", n, files)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range needles {
				if bytes.Contains(b, s) {
					t.Fatalf("node %s: %s holds a share", n, filepath.Base(f))
				}
			}
		}
	}
	// The test can fail: the holder's own store does hold each share, sealed,
	// and the needles are found in plaintext where they are.
	if !bytes.Contains(needles[1], needles[0]) {
		t.Fatal("needle check is broken")
	}
}

// cheat wraps a node so that its round-two signature shares are wrong
// (z + 1): a node that deviates.
type cheat struct{ Handler }

func (c cheat) Handle(peer Peer, req []byte) []byte {
	resp := c.Handler.Handle(peer, req)
	if len(req) > 1 && op(req[1]) == opRound2 && len(resp) == 2+37 && resp[1] == byte(codeOK) {
		z, err := edwards25519.NewScalar().SetCanonicalBytes(resp[len(resp)-32:])
		if err == nil {
			one, _ := edwards25519.NewScalar().SetCanonicalBytes(append([]byte{1}, make([]byte, 31)...))
			copy(resp[len(resp)-32:], z.Add(z, one).Bytes())
		}
	}
	return resp
}

func TestCheaterIdentified(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	p.wrap["n3"] = func(h Handler) Handler { return cheat{h} }
	p.restart("n3")
	acct := p.create(3, 4)
	msg := []byte("m")
	_, err := p.sign(msg, []string{"n1", "n3", "n4"})
	var ce *CheaterError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCheater) || !errors.Is(err, frost.ErrInvalidShare) {
		t.Fatalf("cheater: %v", err)
	}
	if !slices.Equal(ce.Nodes, []string{"n3"}) || len(ce.Identifiers) != 1 {
		t.Fatalf("cheaters %v (%v), want n3", ce.Nodes, ce.Identifiers)
	}
	recs, err := p.holder.Cheaters("acct")
	if err != nil || len(recs) != 1 || !slices.Equal(recs[0].Nodes, []string{"n3"}) || recs[0].RequestID != ce.RequestID {
		t.Fatalf("recorded cheaters %+v, %v", recs, err)
	}
	// The holder no longer draws the cheater.
	for range 20 {
		set, err := p.holder.ChooseNodes(context.Background(), "acct")
		if err != nil || slices.Contains(set, "n3") {
			t.Fatalf("ChooseNodes after the cheat: %v, %v", set, err)
		}
	}
	// Without the cheater the account signs.
	p.nextStep()
	sig, err := p.sign(msg, []string{"n1", "n2", "n4"})
	if err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
		t.Fatal(err)
	}
}

func TestRefresh(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	acct := p.create(2, 3)
	old := p.holderShare(1)
	res, err := p.holder.Refresh(context.Background(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	if res.Epoch != 2 || len(res.Acks) != 3 {
		t.Fatalf("refresh: %+v", res)
	}
	rec, _, _ := p.holder.Account("acct")
	if !bytes.Equal(rec.GroupKey(), acct.GroupKey()) || rec.Epoch != 2 {
		t.Fatal("refresh changed the group key or did not move the epoch")
	}
	epoch, ids, err := p.holder.usableShares("acct")
	if err != nil || epoch != 2 || len(ids) != 3 {
		t.Fatalf("usable shares %v at %d: %v", ids, epoch, err)
	}
	// Old shares are gone from the holder's store.
	n := 0
	p.holder.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(holderShares, epochPrefix("acct", 1), func(_, _ []byte) error { n++; return nil })
	})
	if n != 0 {
		t.Fatalf("%d epoch-1 shares left", n)
	}
	msg := []byte("after refresh")
	sig, err := p.sign(msg, []string{"n2", "n4"})
	if err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
		t.Fatalf("sign after refresh: %v", err)
	}
	// An old share does not combine with a new one.
	nw := p.holderShare(2)
	n1, c1, _ := frost.Commit(old)
	n2, c2, _ := frost.Commit(nw)
	pkg, _ := frost.NewSigningPackage(msg, []*frost.SigningCommitments{c1, c2})
	s1, err1 := frost.Sign(old, n1, pkg)
	s2, err2 := frost.Sign(nw, n2, pkg)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := frost.Aggregate(rec.Key, pkg, []*frost.SignatureShare{s1, s2}); !errors.Is(err, frost.ErrInvalidShare) {
		t.Fatalf("old and new share combined: %v", err)
	}
	// n2 and n4 have seen epoch 2: they refuse a share of epoch 1.
	p.nextStep()
	q := mustParse(t, p.round1Request("n2", msg, []string{"n2", "n4"}, nil))
	q.record = acct.Marshal()
	if err := p.handle("n2", q.marshal()); !errors.Is(err, ErrEpoch) {
		t.Fatalf("epoch-1 record after epoch 2: %v", err)
	}
}

func TestRefreshNeedsThresholdAcks(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	p.create(3, 4)
	// Nodes enrolled but an ack needs a live node: with every node down
	// the refresh fails and the old shares stay.
	for _, n := range p.names {
		p.nodes[n].stop()
	}
	if _, err := p.holder.Refresh(context.Background(), "acct"); !errors.Is(err, ErrRefreshIncomplete) {
		t.Fatalf("refresh with no node: %v", err)
	}
	epoch, ids, err := p.holder.usableShares("acct")
	if err != nil || epoch != 1 || len(ids) != 4 {
		t.Fatalf("after failed refresh: epoch %d, shares %v, %v", epoch, ids, err)
	}
	for _, n := range p.names {
		p.start(n)
	}
	// The next refresh discards the pending one and completes.
	res, err := p.holder.Refresh(context.Background(), "acct")
	if err != nil || res.Epoch != 2 {
		t.Fatalf("refresh: %+v, %v", res, err)
	}
}

func TestAccountConflicts(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.create(2, 3)
	// The holder refuses to create the same account again.
	_, _, err := p.holder.CreateAccount(context.Background(), "acct", p.device.Public().(ed25519.PublicKey), &CreateOptions{Threshold: 2, Shares: 3})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	// Another holder cannot use or re-enrol the account at a node.
	other, _ := p.ca.Issue("other")
	resp := p.nodes["n1"].signer.Handle(Peer{Name: "other", Key: other.PublicKey()}, p.round1Request("n1", []byte("m"), []string{"n1", "n2"}, nil))
	if _, err := parseResponse("n1", resp); !errors.Is(err, ErrForbidden) {
		t.Fatalf("other holder: %v", err)
	}
	secret := make([]byte, 20)
	sealed, _ := custody.Seal(p.nodes["n1"].signer.PublicKey(), totpInfo("acct", "n1"), secret)
	enrol := (&request{op: opEnrol, record: p.account.Marshal(), sealed: sealed}).marshal()
	if _, err := parseResponse("n1", p.nodes["n1"].signer.Handle(Peer{Key: other.PublicKey()}, enrol)); !errors.Is(err, ErrConflict) {
		t.Fatalf("re-enrol: %v", err)
	}
	// A record with another device key is refused.
	_, dev2, _ := ed25519.GenerateKey(rand.Reader)
	q := mustParse(t, p.round1Request("n1", []byte("m"), []string{"n1", "n2"}, nil))
	r2 := *p.account
	r2.Device = dev2.Public().(ed25519.PublicKey)
	q.record = r2.Marshal()
	if err := p.handle("n1", q.marshal()); !errors.Is(err, ErrConflict) {
		t.Fatalf("swapped device key: %v", err)
	}
}

// TestTOTPVectors checks the code computation on RFC 6238 Appendix B's
// SHA-1 vectors (8 digits, 30 s, secret "12345678901234567890").
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		t    int64
		code string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}} {
		got, err := codeAt(secret, 8, 30, v.t/30)
		if err != nil || got != v.code {
			t.Errorf("T = %d: %s, want %s (%v)", v.t, got, v.code, err)
		}
	}
}

// keyShareSecretOffset is where frost's KeyShare encoding holds the secret
// share: header (3) || t (2) || id (2) || secret (32) || ...
const keyShareSecretOffset = 7

// TestCreateByDKG checks that an account's key comes from COCKTAIL-DKG
// among n pool nodes: the success certificate verifies, its public key
// package is the account's, and every share the holder keeps matches it.
// A DKG session belongs to the peer that started it.
func TestCreateByDKG(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4", "n5")
	acct := p.create(3, 4)
	cert, err := p.holder.Certificate("acct")
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Verify(); err != nil {
		t.Fatalf("certificate: %v", err)
	}
	pub, err := cert.PublicKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub.Marshal(), acct.Key.Marshal()) {
		t.Fatal("the account's key is not the certificate's")
	}
	if !bytes.Contains(cert.Transcript(), dkgExtension("acct")) {
		t.Fatal("the transcript does not bind the account id")
	}
	_, ids, err := p.holder.usableShares("acct")
	if err != nil || len(ids) != 4 {
		t.Fatalf("shares %v: %v", ids, err)
	}
	// Another peer cannot drive a node's DKG session.
	var session [dkgSessionSize]byte
	session[0] = 7
	start := (&request{op: opDKGStart, session: session, account: "x", t: 2, n: 2, id: 1}).marshal()
	if err := p.handle("n1", start); err != nil {
		t.Fatal(err)
	}
	other, _ := p.ca.Issue("other")
	r1 := (&request{op: opDKGRound1, session: session, staticKeys: [][]byte{make([]byte, 32), make([]byte, 32)}}).marshal()
	resp := p.nodes["n1"].signer.Handle(Peer{Name: "other", Key: other.PublicKey()}, r1)
	if _, err := parseResponse("n1", resp); !errors.Is(err, ErrNoSession) {
		t.Fatalf("another peer's DKG step: %v", err)
	}
	// Static keys that do not place the node where it started: refused,
	// and the session is gone.
	if err := p.handle("n1", r1); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("bad static keys: %v", err)
	}
	if err := p.handle("n1", r1); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after a refused step: %v", err)
	}
}

// TestRepair loses a share from the holder's store, repairs it from t
// others (frost's repairable scheme, without rebuilding the key), and
// checks the repaired share is the lost one and signs.
func TestRepair(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3", "n4")
	acct := p.create(2, 4)
	lost := p.holderShare(3)
	want := lost.Marshal()
	lost.Erase()
	if _, err := p.holder.Repair("acct", 3); !errors.Is(err, ErrConflict) {
		t.Fatalf("repair of an intact share: %v", err)
	}
	if err := p.holder.store.Delete(holderShares, shareKey("acct", acct.Epoch, 3)); err != nil {
		t.Fatal(err)
	}
	if _, ids, _ := p.holder.usableShares("acct"); len(ids) != 3 {
		t.Fatalf("shares after the loss: %v", ids)
	}
	helpers, err := p.holder.Repair("acct", 3)
	if err != nil || len(helpers) != 2 || slices.Contains(helpers, 3) {
		t.Fatalf("repair: helpers %v, %v", helpers, err)
	}
	got := p.holderShare(3)
	if !bytes.Equal(got.Marshal(), want) {
		t.Fatal("repaired share differs from the lost one")
	}
	got.Erase()
	// It signs: every share takes part in turn.
	for i, set := range subsets(p.names, 4) {
		msg := fmt.Appendf(nil, "after repair %d", i)
		sig, err := p.sign(msg, set)
		if err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
			t.Fatal(err)
		}
	}
	// Too few helpers: lose three of four shares of a 2-of-4 key.
	for _, id := range []uint16{1, 2} {
		p.holder.store.Delete(holderShares, shareKey("acct", acct.Epoch, id))
	}
	p.holder.store.Delete(holderShares, shareKey("acct", acct.Epoch, 3))
	if _, err := p.holder.Repair("acct", 3); !errors.Is(err, ErrTooFewNodes) {
		t.Fatalf("repair from one share: %v", err)
	}
}

// TestHolderChecksFirst: the holder itself refuses an authorisation the
// nodes would refuse for its device signature or message, before it
// re-seals any share.
func TestHolderChecksFirst(t *testing.T) {
	p := newTestPool(t, "n1", "n2", "n3")
	p.create(2, 3)
	msg := []byte("m")
	auth := p.authorize(msg, []string{"n1", "n2"}, nil)
	if _, err := p.holder.Sign(context.Background(), []byte("other"), auth); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("other message: %v", err)
	}
	bad := bytes.Clone(auth)
	bad[len(bad)-1] ^= 1
	if _, err := p.holder.Sign(context.Background(), msg, bad); !errors.Is(err, ErrBadDeviceSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	// Nothing was spent at the nodes: the authorisation still works.
	if _, err := p.holder.Sign(context.Background(), msg, auth); err != nil {
		t.Fatal(err)
	}
}

// TestDKGSessionsPerPeer: one peer cannot take all of a node's DKG session
// slots. Once it has MaxDKGSessionsPerPeer open, its next start is refused
// with ErrBusy (through the wire, as the holder sees it), while another
// peer still starts one; a session that ends frees its slot.
func TestDKGSessionsPerPeer(t *testing.T) {
	p := newTestPool(t, "n1")
	sessionOf := func(peer Peer, i int) (session [dkgSessionSize]byte) {
		session[0], session[1], session[2] = byte(i), byte(i>>8), byte(len(peer.Name))
		return session
	}
	start := func(peer Peer, i int) error {
		req := (&request{op: opDKGStart, session: sessionOf(peer, i), account: "x", t: 2, n: 2, id: 1}).marshal()
		_, err := parseResponse("n1", p.nodes["n1"].signer.Handle(peer, req))
		return err
	}
	holder := Peer{Name: "holder", Key: p.holdID.PublicKey()}
	for i := range MaxDKGSessionsPerPeer {
		if err := start(holder, i); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if err := start(holder, MaxDKGSessionsPerPeer); !errors.Is(err, ErrBusy) {
		t.Fatalf("session %d of one peer: %v, want ErrBusy", MaxDKGSessionsPerPeer+1, err)
	}
	other, _ := p.ca.Issue("other")
	if err := start(Peer{Name: "other", Key: other.PublicKey()}, 0); err != nil {
		t.Fatalf("another peer's session: %v", err)
	}
	// A refused step ends a session: its slot is free again.
	bad := (&request{op: opDKGRound1, session: sessionOf(holder, 0), staticKeys: [][]byte{make([]byte, 32), make([]byte, 32)}}).marshal()
	if err := p.handle("n1", bad); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("bad round one: %v", err)
	}
	if err := start(holder, MaxDKGSessionsPerPeer); err != nil {
		t.Fatalf("after a session ended: %v", err)
	}
}
