package cosign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/maskshare/maskshare/transport"
)

// Vectors from the C2SP specifications (../shared/refs).
const (
	// c2sp.org/signed-note, "Example".
	specVkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
	specNote = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
	// c2sp.org/tlog-checkpoint, the note text of its example.
	specCheckpoint = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	// c2sp.org/tlog-proof, its example (the signatures elided as there).
	specProof = "c2sp.org/tlog-proof@v1\n" +
		"extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n" +
		"index 73894\n" +
		"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n" +
		"B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n" +
		"EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n" +
		"RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n" +
		"AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n" +
		"\n" +
		"example.com/fancylog\n" +
		"109482\n" +
		"sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n" +
		"\n" +
		"— example.com/fancylog hI2DJw[...]1roloI=\n"
)

// TestSpecVectors parses the C2SP specifications' examples: the
// signed-note example verifies with its vkey (through ParseVerifierKey,
// whose key id check is the spec's formula), the checkpoint example
// parses and re-encodes byte for byte, and so does the tlog-proof example.
func TestSpecVectors(t *testing.T) {
	v, pub, err := ParseVerifierKey(specVkey)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := note.Open([]byte(specNote), note.VerifierList(v)); err != nil || n.Text != "This is an example message.\n" {
		t.Fatalf("spec note: %v", err)
	}
	// The same by hand with crypto/ed25519.
	sig, _ := base64.StdEncoding.DecodeString("Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=")
	if binary.BigEndian.Uint32(sig) != 0x530d903a || !ed25519.Verify(pub, []byte("This is an example message.\n"), sig[4:]) {
		t.Fatal("crypto/ed25519 rejects the spec's note")
	}

	c, err := ParseCheckpoint([]byte(specCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != "example.com/behind-the-sofa" || c.Size != 20852163 {
		t.Fatalf("parsed %+v", c)
	}
	if text, _ := c.Text(); string(text) != specCheckpoint {
		t.Fatalf("re-encoded as %q", text)
	}

	p, err := ParseInclusionProof([]byte(specProof))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 73894 || len(p.Hashes) != 5 || !strings.HasPrefix(string(p.Extra), "age-v1.2.1-darwin-arm64.tar.gz") {
		t.Fatalf("parsed %+v", p)
	}
	if !bytes.Equal(p.Marshal(), []byte(specProof)) {
		t.Fatalf("re-encoded as\n%s", p.Marshal())
	}
}

// TestCheckpointSignatureByHand verifies a checkpoint the log signed with
// crypto/ed25519 alone, following c2sp.org/signed-note: the text is
// everything up to the last empty line, the signature line is the origin
// and base64(key id || Ed25519 signature), key id =
// SHA-256(origin || 0x0A || 0x01 || public key)[:4].
func TestCheckpointSignatureByHand(t *testing.T) {
	l := newLog(t, testOrigin, logKey)
	signed := mustAppend(t, l, userEntry(t, testOrigin, KindEnrolment, "alice", aliceKey, "cert 1"))
	i := bytes.LastIndex(signed, []byte("\n\n"))
	text, sigLine := signed[:i+1], string(signed[i+2:])
	name, b64, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(sigLine, "— "), "\n"), " ")
	if !ok || name != testOrigin {
		t.Fatalf("signature line %q", sigLine)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) != 4+64 {
		t.Fatalf("signature %q", b64)
	}
	pub := logKey.Public().(ed25519.PublicKey)
	id := sha256.Sum256(append([]byte(testOrigin+"\n\x01"), pub...))
	if !bytes.Equal(sig[:4], id[:4]) {
		t.Fatal("key id is not the spec's")
	}
	if !ed25519.Verify(pub, text, sig[4:]) {
		t.Fatal("crypto/ed25519 rejects the checkpoint signature")
	}
	c, err := ParseCheckpoint(text)
	if err != nil || c.Size != 1 {
		t.Fatalf("%+v, %v", c, err)
	}
}

// TestOpenCheckpointRefuses: another key with the same name, a flipped
// signature bit, another origin, and a note without a known signature.
func TestOpenCheckpointRefuses(t *testing.T) {
	l := newLog(t, testOrigin, logKey)
	v := logVerifier(t, l)
	signed := mustAppend(t, l, userEntry(t, testOrigin, KindEnrolment, "alice", aliceKey, "cert 1"))
	if _, err := OpenCheckpoint(signed, v); err != nil {
		t.Fatal(err)
	}
	impostor, _ := LogSigner(testOrigin, bobKey)
	c, _ := ParseCheckpoint(signed[:bytes.LastIndex(signed, []byte("\n\n"))+1])
	forged, err := SignCheckpoint(c, impostor)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(signed)
	flipped[len(flipped)-6] ^= 0x01
	if flipped[len(flipped)-6] == '=' || flipped[len(flipped)-6] == '\n' {
		t.Fatal("test flips padding")
	}
	otherSigner, _ := LogSigner("cosign.example/other", logKey)
	oc := c
	oc.Origin = "cosign.example/other"
	other, _ := SignCheckpoint(oc, otherSigner)
	for name, msg := range map[string][]byte{"impostor key": forged, "flipped bit": flipped, "other origin": other} {
		if _, err := OpenCheckpoint(msg, v); !errors.Is(err, ErrCheckpointSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A witness's cosignature (an unknown key) is ignored, as the spec says.
	w, _ := LogSigner("witness.example/w1", bobKey)
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(cosigned, v); err != nil {
		t.Fatalf("cosigned checkpoint: %v", err)
	}
}

// TestCheckConsistency covers each verdict of CheckConsistency.
func TestCheckConsistency(t *testing.T) {
	h := func(b byte) tlog.Hash { return tlog.Hash{b} }
	old := Checkpoint{Origin: testOrigin, Size: 5, Hash: h(1)}
	var ce *ConsistencyError
	if err := CheckConsistency(old, Checkpoint{Origin: testOrigin, Size: 4, Hash: h(2)}, ConsistencyProof{}); !errors.Is(err, ErrTruncated) || !errors.As(err, &ce) || ce.Old.Size != 5 {
		t.Errorf("truncated: %v", err)
	}
	if err := CheckConsistency(old, Checkpoint{Origin: testOrigin, Size: 5, Hash: h(2)}, ConsistencyProof{}); !errors.Is(err, ErrForked) {
		t.Errorf("same size, other root: %v", err)
	}
	if err := CheckConsistency(old, old, ConsistencyProof{}); err != nil {
		t.Errorf("same checkpoint: %v", err)
	}
	if err := CheckConsistency(old, Checkpoint{Origin: testOrigin, Size: 9, Hash: h(3)}, ConsistencyProof{Old: 5, New: 9, Hashes: []tlog.Hash{h(4), h(5)}}); !errors.Is(err, ErrInconsistent) || errors.Is(err, ErrForked) {
		t.Errorf("bad proof: %v", err)
	}
	if err := CompareCheckpoints(Checkpoint{Origin: testOrigin, Size: 9, Hash: h(3)}, old, ConsistencyProof{Old: 5, New: 9}); !errors.Is(err, ErrForked) {
		t.Errorf("compare: %v", err)
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(specCheckpoint))
	f.Add([]byte(specCheckpoint + "ext line\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n01\nAA==\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		text, err := c.Text()
		if err != nil || !bytes.Equal(text, b) {
			t.Fatalf("accepted %q, re-encodes as %q (%v)", b, text, err)
		}
	})
}

func FuzzParseInclusionProof(f *testing.F) {
	f.Add([]byte(specProof))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\no\n1\nAA==\n"))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra \nindex 01\n\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseInclusionProof(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("accepted %q, re-encodes as %q", b, p.Marshal())
		}
	})
}

func FuzzParseConsistencyProof(f *testing.F) {
	f.Add(ConsistencyProof{Old: 3, New: 7, Hashes: []tlog.Hash{{1}, {2}}}.Marshal())
	f.Add(ConsistencyProof{}.Marshal())
	f.Add([]byte("maskshare/cosign/consistency-proof@v1\nold 7\nnew 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseConsistencyProof(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("accepted %q, re-encodes as %q", b, p.Marshal())
		}
	})
}

// TestVerifierKeyRoundTrip: vkeys of random keys, whose base64 often
// holds '+', parse back to their key.
func TestVerifierKeyRoundTrip(t *testing.T) {
	plus := 0
	for i := 0; i < 200; i++ {
		pub, _, _ := ed25519.GenerateKey(nil)
		vkey, err := VerifierKey(testOrigin, pub)
		if err != nil {
			t.Fatal(err)
		}
		plus += strings.Count(vkey, "+") - 2
		v, got, err := ParseVerifierKey(vkey)
		if err != nil || !bytes.Equal(got, pub) || v.Name() != testOrigin {
			t.Fatalf("%s: %v", vkey, err)
		}
	}
	if plus == 0 {
		t.Fatal("no vkey had a '+' in its key: the test proves nothing")
	}
}

// TestErrorsKeepTheirCause: a refusal wraps both the package's sentinel
// and the cause below it, so that callers can tell them apart with
// errors.Is.
func TestErrorsKeepTheirCause(t *testing.T) {
	_, err := ParseUserKeys(strings.NewReader("alice ed25519:nope\n"))
	if !errors.Is(err, ErrMalformed) || !errors.Is(err, transport.ErrBadPublicKey) {
		t.Errorf("bad key in a users file: %v", err)
	}
}
