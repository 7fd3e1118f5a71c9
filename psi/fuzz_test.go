package psi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"filippo.io/edwards25519"
	"github.com/cloudflare/circl/group"
)

// fuzzKey is fixed so that fuzzing is reproducible.
const fuzzKeyHex = "2a0b6a5f1e4c3d2b19f8e7d6c5b4a3928170605f4e3d2c1b0a09f8e7d6c5b40e"

// FuzzBlind feeds Blind lists of up to eight arbitrary 32-byte strings.
func FuzzBlind(f *testing.F) {
	for _, tc := range invalidEncodings {
		f.Add(mustHexF(tc.hex))
	}
	gen := mustHexF("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76") // generator
	f.Add(gen)
	f.Add(append(append([]byte{}, gen...), mustHexF(invalidEncodings[5].hex)...))
	f.Add(bytes.Repeat([]byte{0xff}, 32))

	k := mustKey(f, fuzzKeyHex)
	kInv := k.inverse()
	f.Fuzz(func(t *testing.T, data []byte) {
		n := min(len(data)/ElementSize, 8)
		if n == 0 {
			return
		}
		src := make([]Element, n)
		for i := range src {
			src[i] = Element(data[i*ElementSize:])
		}
		dst := make([]Element, n)
		err := k.Blind(dst, src)

		firstBad := -1
		e := group.Ristretto255.NewElement()
		for i := range src {
			// circl is the oracle of what decodes.
			if e.UnmarshalBinary(src[i][:]) != nil || e.IsIdentity() {
				firstBad = i
				break
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidElement) {
				t.Fatalf("Blind error %v does not wrap ErrInvalidElement", err)
			}
			if want := fmt.Sprintf("at index %d:", firstBad); firstBad < 0 || !strings.Contains(err.Error(), want) {
				t.Fatalf("Blind error %q, want one naming index %d", err, firstBad)
			}
			if slices.ContainsFunc(dst, func(x Element) bool { return x != Element{} }) {
				t.Fatalf("Blind failed but wrote to dst")
			}
			return
		}
		if firstBad >= 0 {
			t.Fatalf("Blind accepted invalid element %d: %x", firstBad, src[firstBad])
		}
		for i := range dst {
			if e.UnmarshalBinary(dst[i][:]) != nil || e.IsIdentity() {
				t.Fatalf("Blind(%x) = %x, not a valid non-identity element", src[i], dst[i])
			}
		}
		// Unblinding yields canonical encodings, so an accepted input must
		// have been canonical.
		back := make([]Element, n)
		if err := kInv.Blind(back, dst); err != nil {
			t.Fatalf("unblinding: %v", err)
		}
		if !slices.Equal(back, src) {
			t.Fatalf("Blind accepted a non-canonical encoding: %x unblinds to %x", src, back)
		}
	})
}

func FuzzKeyFromBytes(f *testing.F) {
	f.Add(mustHexF(orderHex))
	f.Add(mustHexF(fuzzKeyHex))
	f.Add(make([]byte, 32))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := keyFromBytes(data)
		if err != nil {
			return
		}
		if k.s.Equal(edwards25519.NewScalar()) == 1 {
			t.Fatalf("keyFromBytes(%x) accepted zero", data)
		}
		if enc := k.s.Bytes(); !bytes.Equal(enc, data) {
			t.Fatalf("keyFromBytes(%x) accepted a non-canonical scalar (re-encodes as %x)", data, enc)
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", " ", "abc", " AbC ", "\u212a", "\xff", " \u00a0x\u3000", "ß", "\xed\xa0\x80"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, id string, fold bool) {
		got, err := Normalize(id, fold)
		switch {
		case !utf8.ValidString(id):
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrInvalidUTF8", id, got, err)
			}
			return
		case strings.TrimSpace(id) == "":
			if !errors.Is(err, ErrEmptyID) {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrEmptyID", id, got, err)
			}
			return
		case err != nil:
			t.Fatalf("Normalize(%q): %v", id, err)
		}
		if got != strings.TrimSpace(got) || got == "" {
			t.Fatalf("Normalize(%q) = %q is not trimmed", id, got)
		}
		if !fold && got != strings.TrimSpace(id) {
			t.Fatalf("Normalize(%q, false) = %q changed more than white space", id, got)
		}
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(strings.TrimSpace(id)) {
			t.Fatalf("Normalize(%q) = %q changed the number of runes", id, got)
		}
		again, err := Normalize(got, fold)
		if err != nil || again != got {
			t.Fatalf("Normalize is not idempotent: %q -> %q -> %q, %v", id, got, again, err)
		}
	})
}

// FuzzIntersect decodes data into small lists of tags that share their
// first bytes (so that equal items are frequent) and compares Intersect with
// a quadratic reference.
func FuzzIntersect(f *testing.F) {
	f.Add([]byte{3, 2, 1, 2, 3, 0xff, 2, 3, 0xff, 1}, uint8(2))
	f.Add([]byte{2, 1, 1, 0xff, 1}, uint8(1))
	f.Add([]byte{2, 1, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, kb uint8) {
		if len(data) == 0 {
			return
		}
		n := 2 + int(data[0])%6
		lists := make([][]Tag, n)
		cur := 0
		for _, b := range data[1:] {
			if b == 0xff {
				cur = (cur + 1) % n
				continue
			}
			lists[cur] = append(lists[cur], Tag{0x5a, TagSize - 1: b})
		}
		k := 1 + int(kb)%n
		size, matches, err := Intersect(lists, k)

		// Reference: duplicates, then holder counts by brute force.
		for i, l := range lists {
			for a := range l {
				for b := a + 1; b < len(l); b++ {
					if l[a] == l[b] {
						if !errors.Is(err, ErrDuplicateItem) {
							t.Fatalf("list %d repeats %x at %d and %d, got err %v", i, l[a], a, b, err)
						}
						return
					}
				}
			}
		}
		if err != nil {
			t.Fatalf("Intersect: %v", err)
		}
		holders := func(x Tag) int {
			h := 0
			for _, l := range lists {
				for _, y := range l {
					if x == y {
						h++
					}
				}
			}
			return h
		}
		var qual []Tag
		for _, l := range lists {
			for _, x := range l {
				if holders(x) >= k && !containsTag(qual, x) {
					qual = append(qual, x)
				}
			}
		}
		if size != len(qual) {
			t.Fatalf("size %d, want %d", size, len(qual))
		}
		for i, l := range lists {
			var want []Match
			for pos, x := range l {
				if h := holders(x); h >= k {
					rank := 0
					for _, y := range qual {
						if bytes.Compare(y[:], x[:]) < 0 {
							rank++
						}
					}
					want = append(want, Match{Pos: uint32(pos), Index: uint32(rank), Holders: uint16(h)})
				}
			}
			if len(want) != len(matches[i]) {
				t.Fatalf("list %d: %d matches, want %d", i, len(matches[i]), len(want))
			}
			for j := range want {
				if want[j] != matches[i][j] {
					t.Fatalf("list %d match %d: %+v, want %+v", i, j, matches[i][j], want[j])
				}
			}
		}
	})
}

func containsTag(s []Tag, x Tag) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func mustHexF(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
