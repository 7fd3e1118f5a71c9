package maskshare

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/maskshare/maskshare/internal/kkrt"
	"github.com/maskshare/maskshare/internal/wire"
)

var updateOPRF = flag.Bool("update-oprf", false, "rewrite testdata/psi_oprf.json")

// oprfVector is one known answer of the oprf mode's derivations
// (docs/PROTOCOL.md, "The oprf mode"); all values hex.
type oprfVector struct {
	Session string `json:"session"` // sid
	I       int    `json:"i"`
	J       int    `json:"j"`
	Input   string `json:"input"`     // an identifier x
	Element string `json:"element"`   // its kkrt element under the session
	Value   string `json:"value"`     // v_ij(x), the pair's value (tags)
	KKRT    string `json:"kkrt_name"` // the kkrt session name, receiver i, sender j
	Tag     string `json:"tag"`
	KeyOf   string `json:"key_value"` // w_lh(x) = F_{l→h}(b_h(x), x), l = min(i,j), h = max(i,j)
	Key     string `json:"key"`
	Index   int    `json:"index"`  // r
	Secret  string `json:"secret"` // s_r, sealed by d = i for j
	Box     string `json:"box"`
}

type oprfVectors struct {
	Comment string       `json:"comment"`
	Vectors []oprfVector `json:"vectors"`
}

// refOPRF computes a vector from the specification's text alone.
func refOPRF(sid []byte, x string, i, j int, v, w []byte, r int, secret []byte) oprfVector {
	be16 := func(x int) []byte { return []byte{byte(x >> 8), byte(x)} }
	be32 := func(x int) []byte { return []byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)} }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	lo, hi := min(i, j), max(i, j)
	elem := sha256.Sum256(cat([]byte("maskshare/kkrt/v2 element\x00"), sid, []byte(x)))
	name := sha256.Sum256(cat([]byte("maskshare oprf session v1"), sid, be16(i), be16(j)))
	key := sha256.Sum256(cat([]byte("maskshare oprf key v2"), sid, be16(lo), be16(hi), w))
	aead, _ := chacha20poly1305.New(key[:])
	nonce := cat(be32(r), be16(i), be16(j), make([]byte, 4))
	box := aead.Seal(nil, nonce, secret, cat([]byte("maskshare oprf secret v1"), sid, be32(r), be16(i), be16(j)))
	return oprfVector{Session: hex.EncodeToString(sid), Input: x, Element: hex.EncodeToString(elem[:16]), I: i, J: j, Value: hex.EncodeToString(v), KKRT: hex.EncodeToString(name[:]),
		Tag: hex.EncodeToString(v[:12]), KeyOf: hex.EncodeToString(w), Key: hex.EncodeToString(key[:]), Index: r, Secret: hex.EncodeToString(secret), Box: hex.EncodeToString(box)}
}

func TestOPRFVectors(t *testing.T) {
	var in oprfVectors
	knownAnswers(t, "testdata/psi_oprf.json", "-update-oprf", *updateOPRF, &in, func() any {
		var out oprfVectors
		out.Comment = "maskshare oprf mode, protocol version 5 (docs/PROTOCOL.md, \"The oprf mode\"): element = SHA-256(\"maskshare/kkrt/v2 element\\0\" || session || input)[:16], the element of input in every OPRF session of the run; kkrt_name = SHA-256(\"maskshare oprf session v1\" || session || be16 i || be16 j); " +
			"tag = value[:12]; key = SHA-256(\"maskshare oprf key v2\" || session || be16 min(i,j) || be16 max(i,j) || key_value), key_value the lower party's PRF at the identifier's bin in the higher party's table; " +
			"box = ChaCha20-Poly1305 (RFC 8439) of secret under key, nonce = be32 index || be16 i || be16 j || 0^4, ad = \"maskshare oprf secret v1\" || session || be32 index || be16 i || be16 j, sealed by i for j. " +
			"Generated from the specification's text by go test . -run TestOPRFVectors -update-oprf"
		for k, c := range []struct{ i, j, r int }{{0, 1, 0}, {1, 0, 4}, {2, 0, 7}, {3, 1020, 1 << 20}} {
			sid := bytes.Repeat([]byte{byte(0x10 + k)}, 32)
			v := bytes.Repeat([]byte{byte(0xa0 + k), byte(k)}, 16)
			w := bytes.Repeat([]byte{byte(0xc0 + k), byte(0x30 + k)}, 16)
			sec := bytes.Repeat([]byte{byte(0x50 + k)}, 16)
			out.Vectors = append(out.Vectors, refOPRF(sid, fmt.Sprintf("customer-%d@bank.example", k), c.i, c.j, v, w, c.r, sec))
		}
		return &out
	})
	if len(in.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	unhex := func(s string) []byte {
		x, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, x := range in.Vectors {
		sid := [32]byte(unhex(x.Session))
		v, w := kkrt.Value(unhex(x.Value)), kkrt.Value(unhex(x.KeyOf))
		if e := kkrt.ElementOf(&sid, []byte(x.Input)); hex.EncodeToString(e[:]) != x.Element {
			t.Errorf("element %x, want %s", e, x.Element)
		}
		if name := oprfSession(sid, x.I, x.J); hex.EncodeToString(name[:]) != x.KKRT {
			t.Errorf("kkrt session name %x, want %s", name, x.KKRT)
		}
		var tag [wire.OPRFTagSize]byte
		putOPRFTag(tag[:], &v, &kkrt.Value{}) // v ⊕ 0
		if hex.EncodeToString(tag[:]) != x.Tag {
			t.Errorf("tag %x, want %s", tag, x.Tag)
		}
		// The key is symmetric in the pair.
		for _, ij := range [][2]int{{x.I, x.J}, {x.J, x.I}} {
			if key := pairHash(oprfKeyLabel, sid, ij[0], ij[1], &w); hex.EncodeToString(key[:]) != x.Key {
				t.Errorf("key %x, want %s", key, x.Key)
			}
		}
		box := secretAEAD(sid, x.I, x.J, &w).Seal(nil, secretNonce(x.Index, x.I, x.J), unhex(x.Secret), secretAD(sid, x.Index, x.I, x.J))
		if hex.EncodeToString(box) != x.Box {
			t.Errorf("box %x, want %s", box, x.Box)
		}
		if _, err := secretAEAD(sid, x.J, x.I, &w).Open(nil, secretNonce(x.Index, x.J, x.I), box, secretAD(sid, x.Index, x.J, x.I)); err == nil {
			t.Error("a box opens as sealed in the other direction")
		}
	}
}
