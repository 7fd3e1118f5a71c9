package custody

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestVectors rebuilds testdata/authorization.json (an authorisation and
// an Info string) from its inputs and checks the bytes, then checks the
// signature with crypto/ed25519 alone over the documented signed message.
func TestVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/authorization.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		RequesterIKM    string   `json:"requester_ikm"`
		InstitutionSeed string   `json:"institution_seed"`
		UserID          string   `json:"user_id"`
		KeyID           string   `json:"key_id"`
		Epoch           uint64   `json:"epoch"`
		Nodes           []string `json:"nodes"`
		ExpiryUnix      int64    `json:"expiry_unix"`
		Nonce           string   `json:"nonce"`
		Authorization   string   `json:"authorization"`
		InfoLabel       string   `json:"info_label"`
		InfoFields      []string `json:"info_fields"`
		Info            string   `json:"info"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sk, err := hpke.MLKEM768X25519().DeriveKeyPair(unhex(v.RequesterIKM))
	if err != nil {
		t.Fatal(err)
	}
	inst := ed25519.NewKeyFromSeed(unhex(v.InstitutionSeed))
	a := &Authorization{UserID: v.UserID, KeyID: v.KeyID, Epoch: v.Epoch, Nodes: v.Nodes,
		Requester: &PublicKey{suite: DefaultSuite, k: sk.PublicKey()}, Expiry: time.Unix(v.ExpiryUnix, 0)}
	copy(a.Nonce[:], unhex(v.Nonce))
	got, err := a.Sign(inst)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(v.Authorization)
	if !bytes.Equal(got, want) {
		t.Fatalf("authorisation encoding changed:\n got %x\nwant %x", got, want)
	}
	body, sig := want[:len(want)-ed25519.SignatureSize], want[len(want)-ed25519.SignatureSize:]
	msg := append([]byte("maskshare/custody/authorisation/v1\x00"), body...)
	if !ed25519.Verify(inst.Public().(ed25519.PublicKey), msg, sig) {
		t.Fatal("the vector's signature does not verify over the documented message")
	}
	var fields [][]byte
	for _, f := range v.InfoFields {
		fields = append(fields, unhex(f))
	}
	if info := Info(v.InfoLabel, fields...); !bytes.Equal(info, unhex(v.Info)) {
		t.Fatalf("Info encoding changed: %x", info)
	}
}
