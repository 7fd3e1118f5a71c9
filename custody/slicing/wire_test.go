package slicing

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/share"
)

// knWireSharing is a fixed-size sharing for the wire tests.
func knWireSharing(t testing.TB, k *custody.PrivateKey, epoch uint32) (*share.Commitments, []*SealedSlice) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	shares, c, err := share.Deal(share.Pedersen, secret, 2, []uint32{1, 2}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	var out []*SealedSlice
	for _, sh := range shares {
		b, _ := sh.MarshalBinary()
		ss, err := SealSlice(k.Public(), &Slice{UserID: "u", KeyID: "k", Epoch: epoch, Index: sh.Index, Commitment: c.Hash(), Share: b})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ss)
	}
	return c, out
}

func knRequests(t testing.TB) [][]byte {
	k := knKey(t)
	c, ss := knWireSharing(t, k, 1)
	s1, s2 := ss[0], ss[1]
	_, inst, _ := ed25519.GenerateKey(nil)
	a := &custody.Authorization{UserID: "u", KeyID: "k", Epoch: 1, Requester: k.Public(), Expiry: time.Unix(2e9, 0)}
	auth, err := a.Sign(inst)
	if err != nil {
		t.Fatal(err)
	}
	head := &repairHead{user: "u", key: "k", epoch: 1, target: 3, helpers: []uint32{1, 2}}
	parcels := []parcel{{from: 1, to: 2, env: s1.Envelope}, {from: 2, to: 3, env: s2.Envelope}}
	var out [][]byte
	for _, q := range []*repairRequest{
		{op: opRepairSplit, head: head, keys: []*custody.PublicKey{k.Public()}, keyOf: []uint8{0, 0}},
		{op: opRepairCombine, head: head, targetKey: k.Public(), parcels: parcels},
		{op: opRepairFinish, head: head, commitments: c, parcels: parcels[1:]},
	} {
		b, err := q.marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, q := range []*request{
		{op: opStatus},
		{op: opStore, commitments: c, slices: []*SealedSlice{s1, s2}},
		{op: opRefresh, commitments: c, slices: []*SealedSlice{s1}},
		{op: opApplyRefresh, commitments: c, slices: []*SealedSlice{s2}},
		{op: opRelease, user: "u", key: "k", epoch: 1, auth: auth},
		{op: opList, user: "u", key: "k"},
	} {
		b, err := q.marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestRequestRoundTrip(t *testing.T) {
	for _, b := range knRequests(t) {
		q, err := parseRequest(b)
		if err != nil {
			t.Fatalf("parse %x...: %v", b[:2], err)
		}
		b2, err := q.marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("%v request does not round-trip: %v", q.op, err)
		}
	}
	k := knKey(t)
	c1, s1 := knWireSharing(t, k, 1)
	_, s2 := knWireSharing(t, k, 2)
	a, b, c := s1[0], s2[1], s1[0]
	for name, batch := range map[string][]*SealedSlice{
		"mixed epochs":    {a, b},
		"duplicate index": {a, c},
		"empty":           nil,
	} {
		if _, err := (&request{op: opStore, commitments: c1, slices: batch}).marshal(); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s batch: %v, want ErrBadMessage", name, err)
		}
	}
	// Slices not bound to the commitments they come with.
	b2, err := (&request{op: opStore, commitments: c1, slices: s2}).marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseRequest(b2); !errors.Is(err, ErrBadMessage) {
		t.Errorf("slices of other commitments: %v, want ErrBadMessage", err)
	}
}

func TestErrorCodes(t *testing.T) {
	for c := codeOK + 1; c < codeLimit; c++ {
		if got := codeOf(codeErrors[c]); got != c {
			t.Errorf("codeOf(%v) = %d, want %d", codeErrors[c], got, c)
		}
		_, err := parseResponse("n", opStatus, custody.ErrorResponse(uint8(c), "why\x1b[2J"))
		var re *RemoteError
		if !errors.As(err, &re) || !errors.Is(err, codeErrors[c]) {
			t.Fatalf("code %d: %v", c, err)
		}
		if re.Text != "why?[2J" {
			t.Fatalf("text %q not made printable", re.Text)
		}
	}
	if codeOf(errors.New("disk on fire")) != codeInternal {
		t.Error("an unnamed error is not internal")
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, b := range knRequests(f) {
		f.Add(b)
	}
	f.Add([]byte{1, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := parseRequest(b)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) && !errors.Is(err, ErrBadSlice) {
				t.Fatalf("error %v wraps neither ErrBadMessage nor ErrBadSlice", err)
			}
			return
		}
		b2, err := q.marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzParseResponse feeds the client's decoders of every response kind.
func FuzzParseResponse(f *testing.F) {
	k := knKey(f)
	c, ss := knWireSharing(f, k, 1)
	batch, _ := appendCommitments(nil, c)
	batch, _ = appendBatch(batch, ss)
	f.Add(byte(opRelease), custody.OKResponse(batch))
	f.Add(byte(opStatus), custody.OKResponse(marshalStatus(&NodeStatus{PublicKey: k.Public(), Keys: 3})))
	listing, _ := marshalListing(&KeyListing{Commitments: c, Indexes: []uint32{1, 2}})
	f.Add(byte(opList), custody.OKResponse(listing))
	cenc, _ := appendCommitments(nil, c)
	f.Add(byte(opApplyRefresh), custody.OKResponse(cenc))
	f.Add(byte(opStore), custody.OKResponse(nil))
	f.Add(byte(opStore), custody.ErrorResponse(uint8(codeReplay), "replayed"))
	f.Fuzz(func(t *testing.T, o byte, b []byte) {
		r, err := parseResponse("n", op(o), b)
		if err != nil {
			var re *RemoteError
			if !errors.Is(err, ErrBadMessage) && !errors.As(err, &re) {
				t.Fatalf("error %v", err)
			}
			return
		}
		switch op(o % 7) {
		case opStatus:
			if s, err := parseStatus(r); err == nil && s.PublicKey == nil {
				t.Fatal("status without a key")
			}
		case opRelease:
			c, err := r.commitments()
			if err != nil {
				return
			}
			if bt, err := r.batch(); err == nil {
				if len(bt) == 0 || len(bt) > MaxBatch {
					t.Fatalf("batch of %d", len(bt))
				}
				_ = checkCommitments(c, bt)
			}
		case opList:
			if l, err := parseListing(r); err == nil && (len(l.Indexes) > MaxBatch || l.Commitments == nil) {
				t.Fatalf("listing of %d", len(l.Indexes))
			}
		case opApplyRefresh:
			if c, err := r.commitments(); err == nil && c.Threshold() < 1 {
				t.Fatal("commitments without points")
			}
		default:
			r.Done()
		}
	})
}

// FuzzKeyNodeHandle feeds a key node arbitrary requests (from a peer that
// may register user "u"): it must answer each with a well-formed response
// and never panic.
func FuzzKeyNodeHandle(f *testing.F) {
	for _, b := range knRequests(f) {
		f.Add(b)
	}
	_, inst, _ := ed25519.GenerateKey(nil)
	st, err := custody.OpenStore(filepath.Join(f.TempDir(), "db"), &custody.StoreConfig{Buckets: KeyNodeBuckets})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	node, err := NewKeyNode(st, knKey(f), &KeyNodeConfig{Name: "node-a", Institutions: []ed25519.PublicKey{inst.Public().(ed25519.PublicKey)}})
	if err != nil {
		f.Fatal(err)
	}
	peerKey, _, _ := ed25519.GenerateKey(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := node.Handle(Peer{Name: "u", Key: peerKey}, b)
		if len(resp) > MaxResponseSize {
			t.Fatalf("response of %d bytes", len(resp))
		}
		_, err := parseResponse("node-a", opStatus, resp)
		var re *RemoteError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("malformed response: %v", err)
		}
	})
}

// FuzzParseKeyMeta feeds the decoder of a node's per-key record, which a
// damaged disk could hand it.
func FuzzParseKeyMeta(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	f.Add((&keyMeta{epoch: 7, owner: pub}).marshal())
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseKeyMeta(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.marshal(), b) {
			t.Fatal("re-encoding differs")
		}
	})
}
