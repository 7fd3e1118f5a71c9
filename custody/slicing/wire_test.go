package slicing

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

func knRequests(t testing.TB) [][]byte {
	k := knKey(t)
	s1, err := SealSlice(k.Public(), knSlice("u", "k", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := SealSlice(k.Public(), knSlice("u", "k", 1, 2))
	_, inst, _ := ed25519.GenerateKey(nil)
	a := &custody.Authorization{UserID: "u", KeyID: "k", Epoch: 1, Requester: k.Public(), Expiry: time.Unix(2e9, 0)}
	auth, err := a.Sign(inst)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, q := range []*request{
		{op: opStatus},
		{op: opStore, slices: []*SealedSlice{s1, s2}},
		{op: opRefresh, slices: []*SealedSlice{s1}},
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
	a, _ := SealSlice(k.Public(), knSlice("u", "k", 1, 1))
	b, _ := SealSlice(k.Public(), knSlice("u", "k", 2, 2))
	c, _ := SealSlice(k.Public(), knSlice("u", "k", 1, 1))
	for name, batch := range map[string][]*SealedSlice{
		"mixed epochs":    {a, b},
		"duplicate index": {a, c},
		"empty":           nil,
	} {
		if _, err := (&request{op: opStore, slices: batch}).marshal(); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s batch: %v, want ErrBadMessage", name, err)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	for c := codeOK + 1; c < codeLimit; c++ {
		if got := codeOf(codeErrors[c]); got != c {
			t.Errorf("codeOf(%v) = %d, want %d", codeErrors[c], got, c)
		}
		_, err := parseResponse("n", opStatus, errorResponse(c, "why\x1b[2J"))
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
	s1, _ := SealSlice(k.Public(), knSlice("u", "k", 1, 1))
	batch, _ := appendBatch(nil, []*SealedSlice{s1})
	f.Add(byte(opRelease), okResponse(batch))
	f.Add(byte(opStatus), okResponse(marshalStatus(&NodeStatus{PublicKey: k.Public(), Keys: 3})))
	f.Add(byte(opList), okResponse(marshalListing(&KeyListing{Epoch: 2, Entries: []ListEntry{{Index: 1}}})))
	f.Add(byte(opStore), okResponse(nil))
	f.Add(byte(opStore), errorResponse(codeReplay, "replayed"))
	f.Fuzz(func(t *testing.T, o byte, b []byte) {
		r, err := parseResponse("n", op(o), b)
		if err != nil {
			var re *RemoteError
			if !errors.Is(err, ErrBadMessage) && !errors.As(err, &re) {
				t.Fatalf("error %v", err)
			}
			return
		}
		switch op(o % 6) {
		case opStatus:
			if s, err := parseStatus(r); err == nil && s.PublicKey == nil {
				t.Fatal("status without a key")
			}
		case opRelease:
			if bt, err := r.batch(); err == nil && (len(bt) == 0 || len(bt) > MaxBatch) {
				t.Fatalf("batch of %d", len(bt))
			}
		case opList:
			if l, err := parseListing(r); err == nil && len(l.Entries) > MaxBatch {
				t.Fatalf("listing of %d", len(l.Entries))
			}
		default:
			r.done()
		}
	})
}
