package idpay

import (
	"bytes"
	"testing"
	"time"
)

// fuzzSeeds returns valid encodings of every kind, for the fuzzers' corpora.
func fuzzSeeds(t testing.TB) map[byte][]byte {
	f := newFixture(t, true)
	p := f.onlinePayment(t, 1250)
	rc := f.offlineReceipt(t, 7)
	l, _ := f.shop.Revoke(3, t0, t0.Add(time.Hour), []uint64{1, 5, 9})
	ch, _ := f.backend.NewChallenge(ctx, t0)
	rec := receiptRecord(rc, rc.Bytes(), t0)
	return map[byte][]byte{
		kindCertificate: p.Payer.Bytes(),
		kindRequest:     p.Request.Bytes(),
		kindPayment:     p.Bytes(),
		kindAcceptance:  rc.Acceptance.Bytes(),
		kindReceipt:     rc.Bytes(),
		kindRevocation:  l.Bytes(),
		kindChallenge:   ch.Bytes(),
		'r':             rec.encode(),
		'o':             paymentRecord(p, p.Bytes(), t0).encode(),
	}
}

// fuzzCanonical checks a decoder: it never panics, and whatever it accepts
// re-encodes to exactly the input (one encoding per object).
func fuzzCanonical(f *testing.F, seeds [][]byte, parse func([]byte) ([]byte, error)) {
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(append(bytes.Clone(s), 0))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		enc, err := parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}

func FuzzParseCertificate(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindCertificate]}, func(b []byte) ([]byte, error) {
		c, err := ParseCertificate(b)
		if err != nil {
			return nil, err
		}
		return c.Bytes(), nil
	})
}

func FuzzParseRevocationList(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindRevocation]}, func(b []byte) ([]byte, error) {
		l, err := ParseRevocationList(b)
		if err != nil {
			return nil, err
		}
		return l.Bytes(), nil
	})
}

func FuzzParseRequest(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindRequest]}, func(b []byte) ([]byte, error) {
		q, err := ParseRequest(b)
		if err != nil {
			return nil, err
		}
		return q.Bytes(), nil
	})
}

func FuzzParseChallenge(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindChallenge]}, func(b []byte) ([]byte, error) {
		c, err := ParseChallenge(b)
		if err != nil {
			return nil, err
		}
		return c.Bytes(), nil
	})
}

func FuzzParsePayment(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindPayment]}, func(b []byte) ([]byte, error) {
		p, err := ParsePayment(b)
		if err != nil {
			return nil, err
		}
		return p.Bytes(), nil
	})
}

func FuzzParseAcceptance(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindAcceptance]}, func(b []byte) ([]byte, error) {
		a, err := ParseAcceptance(b)
		if err != nil {
			return nil, err
		}
		return a.Bytes(), nil
	})
}

func FuzzParseReceipt(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s[kindReceipt]}, func(b []byte) ([]byte, error) {
		rc, err := ParseReceipt(b)
		if err != nil {
			return nil, err
		}
		return rc.Bytes(), nil
	})
}

func FuzzDecodeRecord(f *testing.F) {
	s := fuzzSeeds(f)
	fuzzCanonical(f, [][]byte{s['r'], s['o']}, func(b []byte) ([]byte, error) {
		r, err := decodeRecord(b)
		if err != nil {
			return nil, err
		}
		return r.encode(), nil
	})
}

// FuzzBase45Decode: the strict decoder accepts exactly the encoder's
// outputs.
func FuzzBase45Decode(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "UJCLQE7W581", "GGW", "0", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Base45Decode(s)
		if err != nil {
			return
		}
		if Base45Encode(b) != s {
			t.Fatalf("%q decodes to %x, which encodes to %q", s, b, Base45Encode(b))
		}
	})
}

// TestBase45RFC9285: the examples of RFC 9285 §4.3 and §4.4.
func TestBase45RFC9285(t *testing.T) {
	for _, v := range []struct{ in, out string }{
		{"AB", "BB8"}, {"Hello!!", "%69 VD92EX0"}, {"base-45", "UJCLQE7W581"}, {"ietf!", "QED8WEX0"},
	} {
		if got := Base45Encode([]byte(v.in)); got != v.out {
			t.Errorf("encode %q = %q, want %q", v.in, got, v.out)
		}
		if got, err := Base45Decode(v.out); err != nil || string(got) != v.in {
			t.Errorf("decode %q = %q, %v", v.out, got, err)
		}
	}
	for _, bad := range []string{"GGW", "0", "ab8", ":::"} { // GGW = 65536: out of range (RFC 9285 §6)
		if _, err := Base45Decode(bad); err == nil {
			t.Errorf("decoded invalid %q", bad)
		}
	}
}
