package psi

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run "go test ./psi -run Vectors -update" to regenerate the known-answer
// files after a deliberate change of construction. Any other change to
// their contents is a compatibility break between parties.
var update = flag.Bool("update", false, "rewrite the known-answer files in testdata/")

var (
	keyedVectorFile = filepath.Join("..", "testdata", "psi_keyed.json")
	ecdhVectorFile  = filepath.Join("..", "testdata", "psi_ecdh.json")
)

// vectorIDs are normalised identifiers covering ASCII, non-ASCII, and
// lengths on both sides of SHA-256 and SHA-512 block boundaries.
var vectorIDs = []string{
	"DE89370400440532013000",
	"cust-0001",
	"k",
	"zürich-42",
	"σ",
	"a b",
	strings.Repeat("0123456789", 7),
	strings.Repeat("é", 100),
}

const (
	vectorKeyHex     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	vectorSessionHex = "6d61736b7368617265206b6e6f776e2d616e73776572207465737420763100ff"
	// vectorScalarHex is little endian and below the group order.
	vectorScalarHex = "2a0b6a5f1e4c3d2b19f8e7d6c5b4a3928170605f4e3d2c1b0a09f8e7d6c5b40e"
)

type keyedVectors struct {
	Comment string `json:"comment"`
	Key     string `json:"key"`
	Session string `json:"session"`
	Vectors []struct {
		ID  string `json:"id"`
		Tag string `json:"tag"`
	} `json:"vectors"`
}

type ecdhVectors struct {
	Comment string `json:"comment"`
	DST     string `json:"dst"`
	Scalar  string `json:"scalar"`
	Session string `json:"session"`
	Vectors []struct {
		ID      string `json:"id"`
		Hash    string `json:"hash"`
		Blinded string `json:"blinded"`
	} `json:"vectors"`
}

func session32(t *testing.T, h string) [32]byte {
	t.Helper()
	var s [32]byte
	require.Len(t, mustHex(t, h), 32)
	copy(s[:], mustHex(t, h))
	return s
}

func computeKeyed(t *testing.T, keyHex, sessionHex string, ids []string) []string {
	t.Helper()
	tg, err := NewTagger(mustHex(t, keyHex), session32(t, sessionHex))
	require.NoError(t, err)
	out := make([]string, len(ids))
	for i, id := range ids {
		x := tg.Tag(id)
		out[i] = hex.EncodeToString(x[:])
	}
	return out
}

func computeECDH(t *testing.T, scalarHex, sessionHex string, ids []string) (hashes, blinded []string) {
	t.Helper()
	session := session32(t, sessionHex)
	one := mustKey(t, "0100000000000000000000000000000000000000000000000000000000000000")
	h := make([]Element, len(ids))
	b := make([]Element, len(ids))
	one.HashAndBlind(h, ids, session)
	mustKey(t, scalarHex).HashAndBlind(b, ids, session)
	for i := range ids {
		hashes = append(hashes, hex.EncodeToString(h[i][:]))
		blinded = append(blinded, hex.EncodeToString(b[i][:]))
	}
	return hashes, blinded
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	require.NoError(t, json.Unmarshal(b, v))
}

func TestGenerateVectors(t *testing.T) {
	if !*update {
		t.Skip("pass -update to regenerate testdata/psi_*.json")
	}
	kv := keyedVectors{
		Comment: "maskshare keyed mode: tag = HMAC-SHA256(key, \"maskshare keyed tag v1\" || session || id)[:16]; all values hex except id",
		Key:     vectorKeyHex,
		Session: vectorSessionHex,
	}
	for i, tag := range computeKeyed(t, vectorKeyHex, vectorSessionHex, vectorIDs) {
		kv.Vectors = append(kv.Vectors, struct {
			ID  string `json:"id"`
			Tag string `json:"tag"`
		}{vectorIDs[i], tag})
	}
	writeJSON(t, keyedVectorFile, kv)

	ev := ecdhVectors{
		Comment: "maskshare ECDH mode: hash = hash_to_ristretto255(session || id, dst) (RFC 9380, expand_message_xmd with SHA-512); blinded = scalar·hash; scalar is little endian; all values hex except id and dst",
		DST:     ecdhDST,
		Scalar:  vectorScalarHex,
		Session: vectorSessionHex,
	}
	hashes, blinded := computeECDH(t, vectorScalarHex, vectorSessionHex, vectorIDs)
	for i := range vectorIDs {
		ev.Vectors = append(ev.Vectors, struct {
			ID      string `json:"id"`
			Hash    string `json:"hash"`
			Blinded string `json:"blinded"`
		}{vectorIDs[i], hashes[i], blinded[i]})
	}
	writeJSON(t, ecdhVectorFile, ev)
}

func TestKeyedVectors(t *testing.T) {
	var kv keyedVectors
	readJSON(t, keyedVectorFile, &kv)
	require.NotEmpty(t, kv.Vectors)
	ids := make([]string, len(kv.Vectors))
	for i, v := range kv.Vectors {
		ids[i] = v.ID
	}
	got := computeKeyed(t, kv.Key, kv.Session, ids)
	for i, v := range kv.Vectors {
		assert.Equal(t, v.Tag, got[i], "id %q", v.ID)
	}
}

func TestECDHVectors(t *testing.T) {
	var ev ecdhVectors
	readJSON(t, ecdhVectorFile, &ev)
	require.NotEmpty(t, ev.Vectors)
	require.Equal(t, ecdhDST, ev.DST)
	ids := make([]string, len(ev.Vectors))
	for i, v := range ev.Vectors {
		ids[i] = v.ID
	}
	hashes, blinded := computeECDH(t, ev.Scalar, ev.Session, ids)
	for i, v := range ev.Vectors {
		assert.Equal(t, v.Hash, hashes[i], "hash of %q", v.ID)
		assert.Equal(t, v.Blinded, blinded[i], "blinded %q", v.ID)
	}
}
