package frost

import (
	"bytes"
	"encoding/hex"
	"testing"

	"filippo.io/edwards25519"
)

// Multiples of the generator from RFC 9496 Appendix A.1.
var ristrettoMultiples = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
	"6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
	"94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
}

func TestRistrettoMultiples(t *testing.T) {
	p := edwards25519.NewIdentityPoint()
	b := edwards25519.NewGeneratorPoint()
	for i, want := range ristrettoMultiples {
		got := hex.EncodeToString(ristrettoEncode(p))
		if got != want {
			t.Fatalf("%d·B = %s, want %s", i, got, want)
		}
		raw, _ := hex.DecodeString(want)
		q, ok := ristrettoDecode(raw)
		if !ok || !ristrettoEqual(p, q) || !bytes.Equal(ristrettoEncode(q), raw) {
			t.Fatalf("%d·B does not round-trip", i)
		}
		p.Add(p, b)
	}
}

// Bad encodings from RFC 9496 Appendix A.2 (a sample: non-canonical,
// negative, non-square).
func TestRistrettoBadEncodings(t *testing.T) {
	for _, h := range []string{
		"00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		raw, _ := hex.DecodeString(h)
		if _, ok := ristrettoDecode(raw); ok {
			t.Errorf("decoded bad encoding %s", h)
		}
	}
}
