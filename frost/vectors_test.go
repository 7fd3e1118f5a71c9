package frost

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"filippo.io/edwards25519"
)

// The test vectors of RFC 9591 ("The Flexible Round-Optimized Schnorr
// Threshold (FROST) Protocol for Two-Round Schnorr Signatures"), Appendix
// E.1 (FROST(Ed25519, SHA-512)) and E.2 (FROST(ristretto255, SHA-512)),
// in the JSON form of the RFC's companion repository, kept unchanged in
// testdata/.

type rfcVector struct {
	Config struct {
		MaxParticipants string `json:"MAX_PARTICIPANTS"`
		MinParticipants string `json:"MIN_PARTICIPANTS"`
		Name            string `json:"name"`
	} `json:"config"`
	Inputs struct {
		ParticipantList []uint16 `json:"participant_list"`
		GroupSecretKey  string   `json:"group_secret_key"`
		GroupPublicKey  string   `json:"group_public_key"`
		Message         string   `json:"message"`
		Coefficients    []string `json:"share_polynomial_coefficients"`
		Shares          []struct {
			Identifier uint16 `json:"identifier"`
			Share      string `json:"participant_share"`
		} `json:"participant_shares"`
	} `json:"inputs"`
	RoundOne struct {
		Outputs []struct {
			Identifier         uint16 `json:"identifier"`
			HidingRandomness   string `json:"hiding_nonce_randomness"`
			BindingRandomness  string `json:"binding_nonce_randomness"`
			HidingNonce        string `json:"hiding_nonce"`
			BindingNonce       string `json:"binding_nonce"`
			HidingCommitment   string `json:"hiding_nonce_commitment"`
			BindingCommitment  string `json:"binding_nonce_commitment"`
			BindingFactorInput string `json:"binding_factor_input"`
			BindingFactor      string `json:"binding_factor"`
		} `json:"outputs"`
	} `json:"round_one_outputs"`
	RoundTwo struct {
		Outputs []struct {
			Identifier uint16 `json:"identifier"`
			SigShare   string `json:"sig_share"`
		} `json:"outputs"`
	} `json:"round_two_outputs"`
	Final struct {
		Sig string `json:"sig"`
	} `json:"final_output"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustScalar(t *testing.T, s string) *edwards25519.Scalar {
	t.Helper()
	x, ok := decodeScalar(unhex(t, s))
	if !ok {
		t.Fatalf("bad scalar %s", s)
	}
	return x
}

func TestRFCVectors(t *testing.T) {
	for _, tc := range []struct {
		file  string
		suite *Suite
	}{
		{"../testdata/frost_ed25519_sha512.json", Ed25519},
		{"../testdata/frost_ristretto255_sha512.json", Ristretto255},
	} {
		t.Run(tc.suite.String(), func(t *testing.T) { testRFCVector(t, tc.file, tc.suite) })
	}
}

func testRFCVector(t *testing.T, file string, s *Suite) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v rfcVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Config.Name != s.String() {
		t.Fatalf("vector for %q, suite %q", v.Config.Name, s)
	}
	in := v.Inputs
	var coeffs []*edwards25519.Scalar
	for _, c := range in.Coefficients {
		coeffs = append(coeffs, mustScalar(t, c))
	}
	var ids []uint16
	for _, sh := range in.Shares {
		ids = append(ids, sh.Identifier)
	}
	threshold := len(coeffs) + 1
	pub, keys, err := dealWithCoefficients(s, mustScalar(t, in.GroupSecretKey), coeffs, threshold, ids)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pub.GroupKey()); got != in.GroupPublicKey {
		t.Fatalf("group key %s, want %s", got, in.GroupPublicKey)
	}
	byID := map[uint16]*KeyShare{}
	for i, sh := range in.Shares {
		if got := hex.EncodeToString(keys[i].secret.Bytes()); got != sh.Share {
			t.Fatalf("share %d = %s, want %s", sh.Identifier, got, sh.Share)
		}
		byID[sh.Identifier] = keys[i]
	}
	// The public key package built from the encodings must accept them.
	vs := map[uint16][]byte{}
	for _, id := range ids {
		vs[id], _ = pub.VerifyingShare(id)
	}
	if _, err := NewPublicKeyPackage(s, threshold, pub.GroupKey(), vs); err != nil {
		t.Fatal(err)
	}

	msg := unhex(t, in.Message)
	var nonces []*SigningNonces
	var comms []*SigningCommitments
	for _, o := range v.RoundOne.Outputs {
		n, c, err := commitWithRandomness(byID[o.Identifier], unhex(t, o.HidingRandomness), unhex(t, o.BindingRandomness))
		if err != nil {
			t.Fatal(err)
		}
		for _, chk := range []struct{ name, got, want string }{
			{"hiding nonce", hex.EncodeToString(n.hiding.Bytes()), o.HidingNonce},
			{"binding nonce", hex.EncodeToString(n.binding.Bytes()), o.BindingNonce},
			{"hiding commitment", hex.EncodeToString(s.cs.encodeElement(c.hiding)), o.HidingCommitment},
			{"binding commitment", hex.EncodeToString(s.cs.encodeElement(c.binding)), o.BindingCommitment},
		} {
			if chk.got != chk.want {
				t.Fatalf("signer %d %s = %s, want %s", o.Identifier, chk.name, chk.got, chk.want)
			}
		}
		nonces = append(nonces, n)
		comms = append(comms, c)
	}
	p, err := NewSigningPackage(msg, comms)
	if err != nil {
		t.Fatal(err)
	}
	ss := newSession(s, pub.groupKey, p)
	for i, o := range v.RoundOne.Outputs {
		// binding_factor_input = PK || H4(msg) || H5(list) || id.
		input := unhex(t, o.BindingFactorInput)
		if !bytes.Equal(input[:elementSize], pub.GroupKey()) ||
			!bytes.Equal(input[elementSize:elementSize+64], s.cs.h4(msg)) ||
			!bytes.Equal(input[len(input)-scalarSize:], scalarFromUint16(o.Identifier).Bytes()) {
			t.Fatalf("signer %d: binding factor input differs", o.Identifier)
		}
		if got := hex.EncodeToString(s.cs.h1(input).Bytes()); got != o.BindingFactor {
			t.Fatalf("H1(input) = %s, want %s", got, o.BindingFactor)
		}
		if got := hex.EncodeToString(ss.rho[i].Bytes()); got != o.BindingFactor {
			t.Fatalf("signer %d binding factor %s, want %s", o.Identifier, got, o.BindingFactor)
		}
	}
	var shares []*SignatureShare
	for i, o := range v.RoundTwo.Outputs {
		sh, err := Sign(byID[o.Identifier], nonces[i], p)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(sh.z.Bytes()); got != o.SigShare {
			t.Fatalf("signer %d share %s, want %s", o.Identifier, got, o.SigShare)
		}
		if err := VerifySignatureShare(pub, p, sh); err != nil {
			t.Fatal(err)
		}
		shares = append(shares, sh)
	}
	sig, err := Aggregate(pub, p, shares)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sig); got != v.Final.Sig {
		t.Fatalf("signature %s, want %s", got, v.Final.Sig)
	}
	if err := s.Verify(pub.GroupKey(), msg, sig); err != nil {
		t.Fatal(err)
	}
	if s == Ed25519 && !ed25519.Verify(pub.GroupKey(), msg, sig) {
		t.Fatal("crypto/ed25519 rejects the RFC's signature")
	}
}
