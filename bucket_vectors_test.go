package maskshare

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"testing"
)

var updateBucket = flag.Bool("update-bucket", false, "rewrite testdata/bucket.json")

// bucketVector is one known answer of the bucket function and the step
// session ids (docs/PROTOCOL.md, "Bucketed sessions"); bytes in hex.
type bucketVector struct {
	Key     string `json:"key"` // K_b
	ID      string `json:"id"`  // the normalised identifier, as text
	Buckets int    `json:"buckets"`
	Bucket  int    `json:"bucket"`
	Session string `json:"session"` // sid
	Pass    int    `json:"pass"`
	Index   int    `json:"index"` // the bucket of the step
	Attempt int    `json:"attempt"`
	Step    string `json:"step_session"`
}

type bucketVectors struct {
	Comment string         `json:"comment"`
	Vectors []bucketVector `json:"vectors"`
}

// refBucket computes a vector from the specification's text alone.
func refBucket(key []byte, id string, buckets int, sid []byte, pass, index, attempt int) bucketVector {
	block, _ := aes.NewCipher(key)
	x := make([]byte, 16)
	binary.BigEndian.PutUint64(x[8:], uint64(len(id)))
	block.Encrypt(x, x)
	data := []byte(id)
	for len(data) > 0 {
		chunk := make([]byte, 16)
		n := copy(chunk, data)
		data = data[n:]
		for i := range x {
			x[i] ^= chunk[i]
		}
		block.Encrypt(x, x)
	}
	be32 := func(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
	h := sha256.New()
	for _, p := range [][]byte{[]byte("maskshare bucket step v1"), sid, be32(pass), be32(index), be32(attempt)} {
		h.Write(p)
	}
	return bucketVector{Key: hex.EncodeToString(key), ID: id, Buckets: buckets, Bucket: int(binary.BigEndian.Uint32(x[:4]) % uint32(buckets)),
		Session: hex.EncodeToString(sid), Pass: pass, Index: index, Attempt: attempt, Step: hex.EncodeToString(h.Sum(nil))}
}

func TestBucketVectors(t *testing.T) {
	var vs bucketVectors
	knownAnswers(t, "testdata/bucket.json", "-update-bucket", *updateBucket, &vs, func() any {
		rng := rand.New(rand.NewPCG(15, 15))
		out := bucketVectors{Comment: "maskshare bucketed sessions (docs/PROTOCOL.md, \"Bucketed sessions\"): bucket = be32(CBC-MAC_AES-128(key, 0^8 || be64 len(id) || id zero-padded to 16-byte blocks)[0:4]) mod buckets; step_session = SHA-256(\"maskshare bucket step v1\" || session || be32 pass || be32 index || be32 attempt). Generated from the specification's text by go test . -run TestBucketVectors -update-bucket"}
		ids := []string{"", "a", "DE10-CUST-000123456", "exactly sixteen!", "seventeen bytes!!", "ünïcödé identifier with spaces and more than two blocks"}
		for i, id := range ids {
			key := make([]byte, 16)
			sid := make([]byte, 32)
			for j := range key {
				key[j] = byte(rng.Uint32())
			}
			for j := range sid {
				sid[j] = byte(rng.Uint32())
			}
			out.Vectors = append(out.Vectors, refBucket(key, id, 1<<(i*3%17), sid, 1+i%2, rng.IntN(1<<16), rng.IntN(3)))
		}
		return &out
	})
	if len(vs.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs.Vectors {
		key, _ := hex.DecodeString(v.Key)
		sidb, _ := hex.DecodeString(v.Session)
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		bk := &bucketer{block: cipher.Block(block), mask: uint32(v.Buckets - 1)}
		if got := bk.of(v.ID); got != v.Bucket {
			t.Errorf("bucket of %q in %d: %d, want %d", v.ID, v.Buckets, got, v.Bucket)
		}
		step := stepSession([32]byte(sidb), v.Pass, v.Index, v.Attempt)
		if got := hex.EncodeToString(step[:]); got != v.Step {
			t.Errorf("step session %d/%d/%d: %s, want %s", v.Pass, v.Index, v.Attempt, got, v.Step)
		}
	}
}

// knownAnswers reads the known-answer file at path into v. With update
// (the test's flag, named updateFlag) it first rewrites the file with what
// gen computes from the specification's text.
func knownAnswers(t *testing.T, path, updateFlag string, update bool, v any, gen func() any) {
	t.Helper()
	if update {
		b, err := json.MarshalIndent(gen(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with %s to create it)", err, updateFlag)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
