package slicing

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/custody"
)

func knKey(t testing.TB) *custody.PrivateKey {
	t.Helper()
	k, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func knSlice(user, key string, epoch, index uint32) *Slice {
	s := &Slice{UserID: user, KeyID: key, Epoch: epoch, Index: index,
		Share: []byte(fmt.Sprintf("share %s/%s/%d/%d", user, key, epoch, index))}
	s.Commitment[0] = byte(epoch)
	s.Commitment[31] = 0xc0
	return s
}

func TestSealedSliceRoundTrip(t *testing.T) {
	k := knKey(t)
	s := knSlice("alice", "signing", 3, 7)
	ss, err := SealSlice(k.Public(), s)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ss.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ss2, err := ParseSealedSlice(enc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ss2.Open(k)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != s.UserID || got.KeyID != s.KeyID || got.Epoch != s.Epoch || got.Index != s.Index ||
		got.Commitment != s.Commitment || !bytes.Equal(got.Share, s.Share) {
		t.Fatalf("opened %+v, want %+v", got, s)
	}
}

// TestSealedSliceBinding: a slice sealed for node A does not open at node B,
// and a sealed slice moved to another user, key, epoch, index or commitment
// does not open at all.
func TestSealedSliceBinding(t *testing.T) {
	a, b := knKey(t), knKey(t)
	ss, err := SealSlice(a.Public(), knSlice("alice", "signing", 3, 7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Open(b); !errors.Is(err, custody.ErrOpen) || !errors.Is(err, ErrBadSlice) {
		t.Errorf("node B opened node A's slice: %v", err)
	}
	moves := map[string]func(*SealedSlice){
		"user":       func(s *SealedSlice) { s.UserID = "mallory" },
		"key":        func(s *SealedSlice) { s.KeyID = "other" },
		"epoch":      func(s *SealedSlice) { s.Epoch++ },
		"index":      func(s *SealedSlice) { s.Index = 8 },
		"commitment": func(s *SealedSlice) { s.Commitment[5] ^= 1 },
	}
	for name, move := range moves {
		m := *ss
		move(&m)
		if _, err := m.Open(a); !errors.Is(err, custody.ErrOpen) {
			t.Errorf("slice moved to another %s opened: %v", name, err)
		}
	}
	if _, err := ss.Open(a); err != nil {
		t.Fatalf("the original no longer opens: %v", err)
	}
}

func TestSealSliceRefuses(t *testing.T) {
	k := knKey(t)
	for name, s := range map[string]*Slice{
		"index 0":     {UserID: "u", KeyID: "k", Index: 0, Share: []byte{1}},
		"empty user":  {UserID: "", KeyID: "k", Index: 1, Share: []byte{1}},
		"control":     {UserID: "u\n", KeyID: "k", Index: 1, Share: []byte{1}},
		"empty share": {UserID: "u", KeyID: "k", Index: 1},
		"huge share":  {UserID: "u", KeyID: "k", Index: 1, Share: make([]byte, MaxShareSize+1)},
	} {
		if _, err := SealSlice(k.Public(), s); !errors.Is(err, ErrBadSlice) {
			t.Errorf("%s: %v, want ErrBadSlice", name, err)
		}
	}
}

func FuzzParseSealedSlice(f *testing.F) {
	k := knKey(f)
	ss, err := SealSlice(k.Public(), knSlice("u", "k", 1, 1))
	if err != nil {
		f.Fatal(err)
	}
	enc, _ := ss.MarshalBinary()
	f.Add(enc)
	f.Add(enc[:40])
	f.Add([]byte{1, 1, 'u', 1, 'k'})
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := ParseSealedSlice(b)
		if err != nil {
			if !errors.Is(err, ErrBadSlice) {
				t.Fatalf("error %v does not wrap ErrBadSlice", err)
			}
			return
		}
		enc, err := ss.MarshalBinary()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		if _, err := ss.Open(k); err != nil && !errors.Is(err, custody.ErrOpen) {
			t.Fatalf("Open: %v", err)
		}
	})
}

func ExampleSealSlice() {
	node, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		panic(err)
	}
	s := &Slice{UserID: "alice", KeyID: "signing", Epoch: 1, Index: 3, Share: []byte("opaque share bytes")}
	sealed, err := SealSlice(node.Public(), s)
	if err != nil {
		panic(err)
	}
	sealed.Index = 4 // moved to another index: refused
	_, err = sealed.Open(node)
	fmt.Println(errors.Is(err, custody.ErrOpen))
	sealed.Index = 3
	opened, err := sealed.Open(node)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", opened.Share)
	// Output:
	// true
	// opaque share bytes
}

// TestSliceNotPrinted: printing a slice with any verb does not show its
// share bytes.
func TestSliceNotPrinted(t *testing.T) {
	s := Slice{UserID: "alice", KeyID: "k1", Epoch: 2, Index: 3, Share: []byte{0xde, 0xad, 0xbe, 0xef, 0x51, 0x7e}}
	dec := strings.Trim(fmt.Sprint(s.Share), "[]")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{s, &s} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, dec) || strings.Contains(out, "deadbeef") || strings.Contains(out, "0xde, 0xad") {
				t.Fatalf("%s of %T shows the share: %q", verb, v, out)
			}
		}
	}
}
