package psi

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"github.com/cloudflare/circl/group"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orderHex is the ristretto255 group order ℓ = 2²⁵² + 27742317777372353535851937790883648493,
// little endian.
const orderHex = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func mustKey(t testing.TB, scalarHex string) *Key {
	t.Helper()
	k, err := keyFromBytes(mustHex(t, scalarHex))
	require.NoError(t, err)
	return k
}

func newTestKey(t testing.TB) *Key {
	t.Helper()
	k, err := NewKey()
	require.NoError(t, err)
	return k
}

// inverse returns the key k⁻¹, which undoes k's blinding.
func (k *Key) inverse() *Key {
	return &Key{s: edwards25519.NewScalar().Invert(k.s)}
}

// circlEncode is the encoding of a circl element, the oracle of the tests
// that check the arithmetic on filippo.io/edwards25519 against circl.
func circlEncode(t testing.TB, e group.Element) Element {
	t.Helper()
	b, err := e.MarshalBinary()
	require.NoError(t, err)
	return Element(b)
}

// randomElements returns n valid, distinct-with-overwhelming-probability
// elements.
func randomElements(t testing.TB, n int) []Element {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	out := make([]Element, n)
	newTestKey(t).HashAndBlind(out, ids, randomSession(t))
	return out
}

func TestNewKey(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		k := newTestKey(t)
		require.Zero(t, k.s.Equal(edwards25519.NewScalar()))
		b := k.s.Bytes()
		require.False(t, seen[string(b)], "NewKey repeated a scalar")
		seen[string(b)] = true
	}
}

func TestKeyFromBytes(t *testing.T) {
	valid := []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // 1
		"ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // ℓ-1
		"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00", // arbitrary
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0f", // 2²⁵²-1
	}
	for _, h := range valid {
		k, err := keyFromBytes(mustHex(t, h))
		require.NoError(t, err, h)
		assert.Equal(t, h, hex.EncodeToString(k.s.Bytes()))
	}
	invalid := []string{
		"",
		"01",
		"010000000000000000000000000000000000000000000000000000000000000000", // 33 bytes
		"0000000000000000000000000000000000000000000000000000000000000000",   // zero
		orderHex, // ℓ ≡ 0
		"eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // ℓ+1
		"0100000000000000000000000000000000000000000000000000000000000080", // 1 + 2²⁵⁵
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	}
	for _, h := range invalid {
		_, err := keyFromBytes(mustHex(t, h))
		assert.Error(t, err, h)
	}
}

func TestHashAndBlindDefinition(t *testing.T) {
	session := randomSession(t)
	ids := testIDs(40)
	one := mustKey(t, "0100000000000000000000000000000000000000000000000000000000000000")
	k := newTestKey(t)
	hashed := make([]Element, len(ids))
	blinded := make([]Element, len(ids))
	one.HashAndBlind(hashed, ids, session)
	k.HashAndBlind(blinded, ids, session)
	for i, id := range ids {
		h := group.Ristretto255.HashToElement(append(session[:], id...), []byte("maskshare-ecdh-v1"))
		require.Equal(t, circlEncode(t, h), hashed[i], "H(session || %q)", id)
		require.Equal(t, circlEncode(t, h.Mul(h, circlScalar(k.s))), blinded[i], "k·H(session || %q)", id)
	}
}

func TestHashAndBlindSeparation(t *testing.T) {
	k := newTestKey(t)
	s1, s2 := randomSession(t), randomSession(t)
	ids := []string{"a", "ab", "b", "cust-1"}
	e1 := make([]Element, len(ids))
	e2 := make([]Element, len(ids))
	k.HashAndBlind(e1, ids, s1)
	k.HashAndBlind(e2, ids, s2)
	seen := make(map[Element]bool)
	for _, e := range append(e1, e2...) {
		require.False(t, seen[e], "two (session, id) pairs give the same element")
		seen[e] = true
	}
}

func TestCommutativity(t *testing.T) {
	session := randomSession(t)
	ids := testIDs(64)
	keys := []*Key{newTestKey(t), newTestKey(t), newTestKey(t)}
	perms := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}

	var want []Element
	for _, p := range perms {
		got := make([]Element, len(ids))
		keys[p[0]].HashAndBlind(got, ids, session)
		for _, j := range p[1:] {
			require.NoError(t, keys[j].Blind(got, got))
		}
		if want == nil {
			want = got
			continue
		}
		require.Equal(t, want, got, "order %v", p)
	}

	// Blinding the bare hashes in every order gives the same as well.
	one := mustKey(t, "0100000000000000000000000000000000000000000000000000000000000000")
	hashed := make([]Element, len(ids))
	one.HashAndBlind(hashed, ids, session)
	for _, p := range perms {
		got := hashed
		for _, j := range p {
			next := make([]Element, len(got))
			require.NoError(t, keys[j].Blind(next, got))
			got = next
		}
		require.Equal(t, want, got, "order %v from bare hashes", p)
	}

	// Different keys do not collide.
	single := make([]Element, len(ids))
	keys[0].HashAndBlind(single, ids, session)
	assert.NotEqual(t, want, single)
}

func TestBlindInverse(t *testing.T) {
	k := newTestKey(t)
	src := randomElements(t, 100)
	dst := make([]Element, len(src))
	require.NoError(t, k.Blind(dst, src))
	require.NotEqual(t, src, dst)
	require.NoError(t, k.inverse().Blind(dst, dst))
	assert.Equal(t, src, dst)
}

func TestBlindParallelSizes(t *testing.T) {
	k := newTestKey(t)
	src := randomElements(t, 37)
	want := make([]Element, len(src))
	in := group.Ristretto255.NewElement()
	for i := range src {
		require.NoError(t, in.UnmarshalBinary(src[i][:]))
		want[i] = circlEncode(t, in.Mul(in, circlScalar(k.s)))
	}
	for _, procs := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for n := 0; n <= len(src); n++ {
				dst := make([]Element, n)
				require.NoError(t, k.Blind(dst, src[:n]))
				require.Equal(t, want[:n], dst, "n=%d", n)
			}
		})
	}
}

// invalidEncodings are the bad encodings of RFC 9496, Appendix A.2, and a
// few more: the identity and a valid element with the unused top bit set.
var invalidEncodings = []struct{ why, hex string }{
	{"identity", "0000000000000000000000000000000000000000000000000000000000000000"},
	{"generator with bit 255 set", "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2df6"},
	{"non-canonical field encoding", "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	{"non-canonical field encoding", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"non-canonical field encoding", "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"non-canonical field encoding", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"negative field element", "0100000000000000000000000000000000000000000000000000000000000000"},
	{"negative field element", "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"negative field element", "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20"},
	{"negative field element", "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562"},
	{"negative field element", "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78"},
	{"negative field element", "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24"},
	{"negative field element", "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72"},
	{"negative field element", "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309"},
	{"non-square x²", "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371"},
	{"non-square x²", "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f"},
	{"non-square x²", "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b"},
	{"non-square x²", "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042"},
	{"non-square x²", "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08"},
	{"non-square x²", "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22"},
	{"non-square x²", "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731"},
	{"non-square x²", "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b"},
	{"negative xy", "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e"},
	{"negative xy", "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220"},
	{"negative xy", "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e"},
	{"negative xy", "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32"},
	{"negative xy", "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b"},
	{"negative xy", "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165"},
	{"negative xy", "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e"},
	{"negative xy", "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b"},
	{"s = -1", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
}

func TestBlindRejectsInvalid(t *testing.T) {
	k := newTestKey(t)
	good := randomElements(t, 9)
	for _, tc := range invalidEncodings {
		for _, at := range []int{0, 4, 8} {
			src := append([]Element(nil), good...)
			copy(src[at][:], mustHex(t, tc.hex))
			before := append([]Element(nil), src...)
			err := k.Blind(src, src)
			require.ErrorIs(t, err, ErrInvalidElement, "%s %s", tc.why, tc.hex)
			assert.Contains(t, err.Error(), fmt.Sprintf("index %d", at))
			assert.Equal(t, before, src, "Blind wrote to dst despite an error")
		}
	}
	err := k.Blind(make([]Element, 1), []Element{{}})
	assert.ErrorContains(t, err, "identity")
}

func TestBlindRejectsGarbage(t *testing.T) {
	k := newTestKey(t)
	// About 1 in 8 random strings decodes (top bit, sign bit and a square
	// root check); the rest must be rejected.
	rejected := 0
	for range 400 {
		src := make([]Element, 1)
		_, err := rand.Read(src[0][:])
		require.NoError(t, err)
		if err := k.Blind(src, src); err != nil {
			require.ErrorIs(t, err, ErrInvalidElement)
			rejected++
		}
	}
	assert.Greater(t, rejected, 300)
}

func TestBlindReportsFirstBadIndex(t *testing.T) {
	k := newTestKey(t)
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			src := randomElements(t, 64)
			src[50] = Element{}
			src[63] = Element{}
			src[17][31] |= 0x80
			err := k.Blind(make([]Element, len(src)), src)
			require.ErrorIs(t, err, ErrInvalidElement)
			assert.True(t, strings.Contains(err.Error(), "index 17:"), err.Error())
		})
	}
}

func TestEcdhLengthMismatch(t *testing.T) {
	k := newTestKey(t)
	assert.Panics(t, func() { _ = k.Blind(make([]Element, 1), make([]Element, 2)) })
	assert.Panics(t, func() { k.HashAndBlind(make([]Element, 2), []string{"a"}, [32]byte{}) })
}

func TestZeroKeyPanics(t *testing.T) {
	var k Key
	assert.PanicsWithValue(t, "psi: Key not created by NewKey", func() { _ = k.Blind(nil, nil) })
	assert.PanicsWithValue(t, "psi: Key not created by NewKey", func() { k.HashAndBlind(nil, nil, [32]byte{}) })
}

// The owner's round trip: blinding with a one-time key t, then by every
// other party, then by a.Div(t), gives the same element as blinding with a
// and every other key directly, so tags match across parties.
func TestDivRoundTrip(t *testing.T) {
	var session [32]byte
	ids := []string{"cust-1", "cust-2", "zürich-42"}
	a, b, c, once := newTestKey(t), newTestKey(t), newTestKey(t), newTestKey(t)

	direct := make([]Element, len(ids))
	a.HashAndBlind(direct, ids, session)
	require.NoError(t, b.Blind(direct, direct))
	require.NoError(t, c.Blind(direct, direct))

	trip := make([]Element, len(ids))
	once.HashAndBlind(trip, ids, session)
	require.NoError(t, c.Blind(trip, trip))
	require.NoError(t, b.Blind(trip, trip))
	require.NoError(t, a.Div(once).Blind(trip, trip))
	assert.Equal(t, direct, trip)

	// Without removing the one-time key the elements differ.
	plain := make([]Element, len(ids))
	once.HashAndBlind(plain, ids, session)
	require.NoError(t, a.Blind(plain, plain))
	assert.NotEqual(t, direct[0], plain[0])
}

// ElementTags is SHA-512 over the label, the session and the element, split
// into tag and secret.
func TestElementTagsDefinition(t *testing.T) {
	var session [32]byte
	rand.Read(session[:])
	elems := randomElements(t, 3*tagChunk+5)
	tags := make([]Tag, len(elems))
	secrets := make([]Secret, len(elems))
	ElementTags(tags, secrets, elems, session)
	for i, e := range elems {
		h := sha512.Sum512(append(append([]byte("maskshare ecdh tag v2"), session[:]...), e[:]...))
		require.Equal(t, Tag(h[:16]), tags[i], "element %d", i)
		require.Equal(t, Secret(h[16:32]), secrets[i], "element %d", i)
	}
	assert.Panics(t, func() { ElementTags(tags[:1], secrets, elems, session) })
}
