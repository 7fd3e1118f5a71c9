package ristretto255

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"github.com/cloudflare/circl/expander"
	"github.com/cloudflare/circl/group"
)

// The vectors below are RFC 9496 Appendix A (A.1 the multiples of the
// generator, A.2 the bad encodings, A.3 element derivation), as copied into
// github.com/gtank/ristretto255 v0.1.2 (ristretto255_test.go), whose authors
// are the RFC's.

// multiples are the encodings of i·B for i = 0..15 (Appendix A.1).
var multiples = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
	"6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
	"94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
	"da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
	"e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
	"f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
	"44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
	"903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
	"02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
	"20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
	"bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
	"e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
	"aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
	"46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
	"e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
}

// badEncodings must all be refused by Decode (Appendix A.2).
var badEncodings = []string{
	// Bad: they're non-canonical field encodings.
	"00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	// Bad: they're negative field elements.
	"0100000000000000000000000000000000000000000000000000000000000000",
	"01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
	"c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
	"c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
	"47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
	"f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
	"87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
	// Bad: they give a nonsquare x^2.
	"26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
	"4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
	"de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
	"bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
	"2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
	"f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
	"8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
	"2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
	// Bad: they give a negative xy value.
	"3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
	"a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
	"d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
	"8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
	"32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
	"227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
	"5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
	"445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
	// Bad: s = -1 gives y = 0.
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

// uniform are the element derivation vectors of Appendix A.3: the element
// is FromUniformBytes(SHA-512(label)).
var uniform = []struct{ label, element string }{
	{"Ristretto is traditionally a short shot of espresso coffee", "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46"},
	{"made with the normal amount of ground coffee but extracted with", "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b"},
	{"about half the amount of water in the same amount of time", "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826"},
	{"by using a finer grind.", "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a"},
	{"This produces a concentrated shot of coffee per volume.", "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179"},
	{"Just pulling a normal shot short will produce a weaker shot", "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628"},
	{"and is not a Ristretto as some believe.", "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065"},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMultiples(t *testing.T) {
	p := Identity()
	b := edwards25519.NewGeneratorPoint()
	for i, want := range multiples {
		if got := hex.EncodeToString(AppendEncoding(nil, p)); got != want {
			t.Fatalf("%d·B encodes as %s, want %s", i, got, want)
		}
		q := new(edwards25519.Point)
		if err := Decode(q, mustHex(t, want)); err != nil {
			t.Fatalf("%d·B: %v", i, err)
		}
		if !Equal(p, q) || !bytes.Equal(AppendEncoding(nil, q), mustHex(t, want)) {
			t.Fatalf("%d·B does not round-trip", i)
		}
		if IsIdentity(q) != (i == 0) {
			t.Fatalf("IsIdentity(%d·B) = %v", i, IsIdentity(q))
		}
		p.Add(p, b)
	}
}

func TestBadEncodings(t *testing.T) {
	for _, h := range badEncodings {
		p := edwards25519.NewGeneratorPoint()
		if err := Decode(p, mustHex(t, h)); !errors.Is(err, ErrInvalidEncoding) {
			t.Errorf("Decode(%s) = %v, want ErrInvalidEncoding", h, err)
		}
		if p.Equal(edwards25519.NewGeneratorPoint()) != 1 {
			t.Errorf("Decode(%s) changed its destination", h)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if err := Decode(new(edwards25519.Point), make([]byte, n)); !errors.Is(err, ErrInvalidEncoding) {
			t.Errorf("Decode of %d bytes = %v", n, err)
		}
	}
}

func TestFromUniformBytes(t *testing.T) {
	for _, v := range uniform {
		h := sha512.Sum512([]byte(v.label))
		p := FromUniformBytes(new(edwards25519.Point), h[:])
		if got := hex.EncodeToString(AppendEncoding(nil, p)); got != v.element {
			t.Errorf("FromUniformBytes(SHA-512(%q)) = %s, want %s", v.label, got, v.element)
		}
	}
}

// TestEqualRepresentatives checks that Equal identifies the representatives
// of one element: P and P + T for each 4-torsion point T.
func TestEqualRepresentatives(t *testing.T) {
	// (x, y) = (sqrt(-1), 0) has order 4 on edwards25519; its multiples are
	// the 4-torsion, which ristretto255 quotients out.
	var zero, one field.Element
	tor, err := new(edwards25519.Point).SetExtendedCoordinates(feSqrtM1, zero.Zero(), one.One(), zero.Zero())
	if err != nil {
		t.Fatal(err)
	}
	p := HashToElement(new(edwards25519.Point), []byte("representatives"), []byte("test"))
	q := new(edwards25519.Point).Set(p)
	for i := range 4 {
		if !Equal(p, q) || !bytes.Equal(AppendEncoding(nil, p), AppendEncoding(nil, q)) {
			t.Fatalf("P + %d·T differs from P", i)
		}
		q.Add(q, tor)
	}
	if Equal(p, new(edwards25519.Point).Add(p, edwards25519.NewGeneratorPoint())) {
		t.Fatal("P equals P + B")
	}
}

// TestHashToElementCircl compares HashToElement with circl's
// group.Ristretto255.HashToElement, the implementation psi used before, on
// random messages and tags, including tags longer than 255 bytes.
func TestHashToElementCircl(t *testing.T) {
	for i := range 200 {
		msg := make([]byte, i*7%300)
		dst := make([]byte, 1+i*13%300)
		rand.Read(msg)
		rand.Read(dst)
		want, err := group.Ristretto255.HashToElement(msg, dst).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got := AppendEncoding(nil, HashToElement(new(edwards25519.Point), msg, dst))
		if !bytes.Equal(got, want) {
			t.Fatalf("msg %x, dst %x: got %x, circl %x", msg, dst, got, want)
		}
	}
}

// TestExpandMessageXMDCircl compares expandMessageXMD with circl's
// expander at output lengths other than HashToElement's 64 bytes.
func TestExpandMessageXMDCircl(t *testing.T) {
	for _, n := range []int{1, 32, 63, 64, 65, 128, 200, 255 * 64} {
		msg := make([]byte, n%97)
		dst := make([]byte, 1+n%301)
		rand.Read(msg)
		rand.Read(dst)
		got := make([]byte, n)
		expandMessageXMD(got, msg, dst)
		want := expander.NewExpanderMD(crypto.SHA512, dst).Expand(msg, uint(n))
		if !bytes.Equal(got, want) {
			t.Fatalf("length %d: got %x, circl %x", n, got, want)
		}
	}
}

// FuzzDecode checks that Decode accepts exactly the canonical encodings:
// whatever it accepts re-encodes to the same bytes and agrees with circl.
func FuzzDecode(f *testing.F) {
	for _, h := range append(append([]string{}, multiples...), badEncodings...) {
		f.Add(mustHex(f, h))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 33))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := new(edwards25519.Point)
		err := Decode(p, b)
		circlErr := group.Ristretto255.NewElement().UnmarshalBinary(b)
		if (err == nil) != (circlErr == nil) {
			t.Fatalf("Decode(%x) = %v, circl %v", b, err, circlErr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidEncoding) {
				t.Fatalf("Decode(%x) = %v", b, err)
			}
			return
		}
		if got := AppendEncoding(nil, p); !bytes.Equal(got, b) {
			t.Fatalf("Decode(%x) re-encodes as %x", b, got)
		}
	})
}
