package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"
)

// Every message type has a canonical encoding: all integers have a fixed
// width, every length and count is explicit and checked against the bytes
// present (no trailing bytes are accepted), booleans must be 0 or 1, and
// Encode writes fields in the order the decoder reads them. The one lossy
// step in an encoder, Abort's truncation of the reason, never applies to a
// decoded message, whose reason has at most MaxReasonLen bytes. So the
// fuzzers assert the strong property: whatever decodes re-encodes to the
// identical bytes (and decodes again to an equal message).

// fuzzSamples returns the encodings of a few valid messages of type t,
// with the session shape each was made for.
func fuzzSamples(t Type) []sample {
	r := rand.New(rand.NewPCG(uint64(t), 99))
	out := make([]sample, 8)
	for i := range out {
		out[i] = randSample(r, t)
	}
	return out
}

// checkDecoded asserts what every decoder promises for input b.
func checkDecoded(t *testing.T, typ Type, b []byte, m encoder, err error, decode func([]byte) (encoder, error), invariants func(encoder) error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	if got, perr := Peek(b); perr != nil || got != typ {
		t.Fatalf("decoded, but Peek = %v, %v", got, perr)
	}
	if invariants != nil {
		if e := invariants(m); e != nil {
			t.Fatalf("decoded message breaks an invariant: %v", e)
		}
	}
	re := m.Encode()
	if !bytes.Equal(re, b) {
		t.Fatalf("not canonical: decoded %x\nre-encodes to %x", b, re)
	}
	m2, err := decode(re)
	if err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	if !reflect.DeepEqual(normalize(m2), normalize(m)) {
		t.Fatalf("decode(encode(m)) = %+v, m = %+v", m2, m)
	}
}

func validName(s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) {
		return fmt.Errorf("name %q", s)
	}
	return nil
}

func FuzzDecodeOpen(f *testing.F) {
	for _, s := range fuzzSamples(TypeOpen) {
		f.Add(s.msg.Encode())
	}
	f.Add([]byte{Version, byte(TypeOpen)})
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeOpen, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeOpen, b, m, err, dec, func(e encoder) error {
			m := e.(*Open)
			p := m.Params
			if len(p.Parties) < 2 || len(p.Parties) > MaxParties || int(m.Index) >= len(p.Parties) {
				return fmt.Errorf("index %d of %d parties", m.Index, len(p.Parties))
			}
			if len(p.Columns) < 1 || len(p.Columns) > MaxColumns {
				return fmt.Errorf("%d columns", len(p.Columns))
			}
			for _, s := range p.Parties {
				if err := validName(s, MaxNameLen); err != nil {
					return err
				}
			}
			for _, c := range p.Columns {
				if err := validName(c.Name, MaxNameLen); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func FuzzDecodeHello(f *testing.F) {
	for _, s := range fuzzSamples(TypeHello) {
		f.Add(s.msg.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeHello, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeHello, b, m, err, dec, func(e encoder) error {
			if n := len(e.(*Hello).Sig); n > MaxSigLen {
				return fmt.Errorf("signature of %d bytes", n)
			}
			return nil
		})
	})
}

func FuzzDecodePeers(f *testing.F) {
	for _, s := range fuzzSamples(TypePeers) {
		f.Add(s.msg.Encode(), uint16(s.n))
	}
	f.Fuzz(func(t *testing.T, b []byte, nRaw uint16) {
		n := int(nRaw)
		dec := decoderFor(TypePeers, n, 0)
		m, err := dec(b)
		checkDecoded(t, TypePeers, b, m, err, dec, func(e encoder) error {
			m := e.(*Peers)
			if len(m.Hellos) != n {
				return fmt.Errorf("%d hellos for %d parties", len(m.Hellos), n)
			}
			for _, h := range m.Hellos {
				if len(h.Sig) > MaxSigLen {
					return fmt.Errorf("signature of %d bytes", len(h.Sig))
				}
			}
			return nil
		})
	})
}

func FuzzDecodeSealed(f *testing.F) {
	for _, s := range fuzzSamples(TypeSealed) {
		f.Add(s.msg.Encode(), uint16(s.n), uint16(s.self))
	}
	f.Fuzz(func(t *testing.T, b []byte, nRaw, selfRaw uint16) {
		n, self := int(nRaw), int(selfRaw)
		dec := decoderFor(TypeSealed, n, self)
		m, err := dec(b)
		checkDecoded(t, TypeSealed, b, m, err, dec, func(e encoder) error {
			m := e.(*Sealed)
			if len(m.Boxes) != n-1 {
				return fmt.Errorf("%d boxes for %d parties", len(m.Boxes), n)
			}
			seen := map[uint16]bool{}
			for _, x := range m.Boxes {
				if int(x.Peer) >= n || int(x.Peer) == self || seen[x.Peer] || len(x.Sealed) > MaxSealedSize {
					return fmt.Errorf("box for peer %d (self %d, n %d) of %d bytes", x.Peer, self, n, len(x.Sealed))
				}
				seen[x.Peer] = true
			}
			return nil
		})
	})
}

func FuzzDecodeTags(f *testing.F) {
	for _, s := range fuzzSamples(TypeTags) {
		f.Add(s.msg.Encode())
	}
	f.Add(countMessage(TypeTags, nil, 1<<31, make([]byte, 16)))
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeTags, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeTags, b, m, err, dec, func(e encoder) error {
			if n := len(e.(*Tags).Tags); n > MaxRecords || 6+n*TagSize != len(b) {
				return fmt.Errorf("%d tags in %d bytes", n, len(b))
			}
			return nil
		})
	})
}

func FuzzDecodeElements(f *testing.F) {
	for _, s := range fuzzSamples(TypeElements) {
		f.Add(s.msg.Encode(), uint16(s.n))
	}
	f.Fuzz(func(t *testing.T, b []byte, nRaw uint16) {
		n := int(nRaw)
		dec := decoderFor(TypeElements, n, 0)
		m, err := dec(b)
		checkDecoded(t, TypeElements, b, m, err, dec, func(e encoder) error {
			m := e.(*Elements)
			if int(m.Owner) >= n || int(m.Hop) > n {
				return fmt.Errorf("owner %d, hop %d for %d parties", m.Owner, m.Hop, n)
			}
			c := len(m.Chain)
			if c < 1 || c > n || c < int(m.Hop) || c > int(m.Hop)+1 || len(m.Proofs) != c-1 {
				return fmt.Errorf("chain of %d points and %d proofs at hop %d of %d parties", c, len(m.Proofs), m.Hop, n)
			}
			if len(m.Elems) > MaxRecords || 12+KeySize+c*ElementSize+(c-1)*ProofSize+len(m.Elems)*ElementSize != len(b) {
				return fmt.Errorf("%d elements in %d bytes", len(m.Elems), len(b))
			}
			return nil
		})
	})
}

func FuzzDecodeMatch(f *testing.F) {
	for _, s := range fuzzSamples(TypeMatch) {
		f.Add(s.msg.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeMatch, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeMatch, b, m, err, dec, func(e encoder) error {
			m := e.(*Match)
			if n := len(m.Matches); n > int(m.Padded) || m.Padded > MaxRecords || 14+int(m.Padded)*matchSize != len(b) {
				return fmt.Errorf("%d matches padded to %d in %d bytes", n, m.Padded, len(b))
			}
			for _, x := range m.Matches {
				if x.Holders > MaxParties {
					return fmt.Errorf("%d holders", x.Holders)
				}
			}
			return nil
		})
	})
}

func FuzzDecodeMasked(f *testing.F) {
	for _, s := range fuzzSamples(TypeMasked) {
		f.Add(s.msg.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeMasked, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeMasked, b, m, err, dec, func(e encoder) error {
			m := e.(*Masked)
			if m.Columns == 0 || m.Columns > MaxColumns || m.Size > MaxRecords || len(m.Words) != int(m.Columns)*int(m.Size) {
				return fmt.Errorf("%d words for %d × %d", len(m.Words), m.Columns, m.Size)
			}
			return nil
		})
	})
}

func FuzzDecodeReveal(f *testing.F) {
	for _, s := range fuzzSamples(TypeReveal) {
		f.Add(s.msg.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeReveal, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeReveal, b, m, err, dec, func(e encoder) error {
			m := e.(*Reveal)
			if len(m.Totals) > MaxColumns || m.Count > m.Padded || m.Padded > MaxRecords || len(m.Values) != int(m.Count)*len(m.Totals) ||
				len(b) != 12+8*len(m.Totals)*(1+int(m.Padded)) {
				return fmt.Errorf("%d values for %d records padded to %d of %d columns", len(m.Values), m.Count, m.Padded, len(m.Totals))
			}
			return nil
		})
	})
}

func FuzzDecodeConfirm(f *testing.F) {
	for _, s := range fuzzSamples(TypeConfirm) {
		f.Add(s.msg.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeConfirm, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeConfirm, b, m, err, dec, func(encoder) error {
			if len(b) != 2+KeySize {
				return fmt.Errorf("confirm of %d bytes", len(b))
			}
			return nil
		})
	})
}

func FuzzDecodeDone(f *testing.F) {
	for _, s := range fuzzSamples(TypeDone) {
		f.Add(s.msg.Encode(), uint16(s.n))
	}
	f.Fuzz(func(t *testing.T, b []byte, nRaw uint16) {
		n := int(nRaw)
		dec := decoderFor(TypeDone, n, 0)
		m, err := dec(b)
		checkDecoded(t, TypeDone, b, m, err, dec, func(e encoder) error {
			if got := len(e.(*Done).MACs); got != n {
				return fmt.Errorf("%d MACs for %d parties", got, n)
			}
			return nil
		})
	})
}

func FuzzDecodeSizes(f *testing.F) {
	for _, s := range fuzzSamples(TypeSizes) {
		f.Add(s.msg.Encode(), uint16(s.n))
	}
	f.Fuzz(func(t *testing.T, b []byte, nRaw uint16) {
		n := int(nRaw)
		dec := decoderFor(TypeSizes, n, 0)
		m, err := dec(b)
		checkDecoded(t, TypeSizes, b, m, err, dec, func(e encoder) error {
			sz := e.(*Sizes).Sizes
			if len(sz) != n {
				return fmt.Errorf("%d sizes, want %d", len(sz), n)
			}
			for _, x := range sz {
				if x > MaxRecords {
					return fmt.Errorf("size %d", x)
				}
			}
			return nil
		})
	})
}

func FuzzDecodeRejoinResume(f *testing.F) {
	for _, t := range []Type{TypeRejoin, TypeResume, TypeAck} {
		for _, s := range fuzzSamples(t) {
			f.Add(s.msg.Encode(), uint8(t))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		typ := []Type{TypeRejoin, TypeResume, TypeAck}[which%3]
		dec := decoderFor(typ, 0, 0)
		m, err := dec(b)
		checkDecoded(t, typ, b, m, err, dec, func(encoder) error { return nil })
	})
}

func FuzzDecodeAbort(f *testing.F) {
	for _, s := range fuzzSamples(TypeAbort) {
		f.Add(s.msg.Encode())
	}
	f.Add(abortMessage(0, 0, []byte("\xff"), nil))
	f.Add(abortMessage(1, 2, []byte("duplicate"), bytes.Repeat([]byte{7}, 64)))
	f.Add(abortMessage(Coordinator, 9, nil, make([]byte, MaxSigLen+1)))
	f.Add(abortMessage(1, 2, []byte("no signature field"), nil)[:2+2+1+2+18])
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := decoderFor(TypeAbort, 0, 0)
		m, err := dec(b)
		checkDecoded(t, TypeAbort, b, m, err, dec, func(e encoder) error {
			a := e.(*Abort)
			if len(a.Sig) > MaxSigLen {
				return fmt.Errorf("%d-byte signature", len(a.Sig))
			}
			return validName(a.Reason, MaxReasonLen)
		})
	})
}

func FuzzPeek(f *testing.F) {
	for _, typ := range allTypes {
		f.Add(fuzzSamples(typ)[0].msg.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{Version, 0})
	f.Add([]byte{Version, 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, err := Peek(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if len(b) >= 2 && b[0] == Version && b[1] >= 1 && b[1] <= byte(maxType) {
				t.Fatalf("Peek(%x) rejects a known version and type: %v", head(b), err)
			}
			return
		}
		if len(b) < 2 || b[0] != Version || Type(b[1]) != typ || typ < TypeOpen || typ > maxType {
			t.Fatalf("Peek(%x) = %v", head(b), typ)
		}
		// The decoder of every other type rejects the message.
		for _, other := range allTypes {
			if other != typ {
				if _, err := decoderFor(other, 3, 0)(b); err == nil {
					t.Fatalf("%v message decodes as %v", typ, other)
				}
			}
		}
	})
}
