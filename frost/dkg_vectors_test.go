package frost

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"filippo.io/edwards25519"
)

// COCKTAIL-DKG test vectors from C2SP/CCTV, directory cocktail-dkg/, files
// cocktail-dkg-ed25519-sha512.json and cocktail-dkg-ristretto255-sha512.json
// at commit 36bce172b31d3787d542126e6319eb1d88225224
// (https://github.com/C2SP/CCTV/tree/36bce172b31d3787d542126e6319eb1d88225224/cocktail-dkg),
// saved in testdata/cocktail_dkg_*.json. See TestDKGVectors for what they
// cover.

type dkgVectorFile struct {
	Ciphersuite string `json:"ciphersuite"`
	Seed        string `json:"seed"`
	Derivation  struct {
		Method string `json:"method"`
		Labels struct {
			StaticSecretKey       string `json:"static_secret_key"`
			EphemeralSecretKey    string `json:"ephemeral_secret_key"`
			PolynomialCoefficient string `json:"polynomial_coefficient"`
		} `json:"labels"`
	} `json:"derivation"`
	Vectors []dkgVector `json:"vectors"`
}

type dkgVector struct {
	N       int    `json:"n"`
	T       int    `json:"t"`
	Context string `json:"context"`
	Config  struct {
		StaticSecretKeys []string `json:"static_secret_keys"`
		StaticPublicKeys []string `json:"static_public_keys"`
	} `json:"config"`
	Round1 []dkgVectorRound1 `json:"round1"`
	Round2 []dkgVectorRound2 `json:"round2"`
	Round3 struct {
		TranscriptHash string               `json:"transcript_hash"`
		Signatures     []dkgVectorSignature `json:"signatures"`
	} `json:"round3"`
	GroupPublicKey string `json:"group_public_key"`
}

type dkgVectorRound1 struct {
	ParticipantID      int      `json:"participant_id"`
	EphemeralPublicKey string   `json:"ephemeral_public_key"`
	VSSCommitment      []string `json:"vss_commitment"`
	PoP                string   `json:"pop"`
	EncryptedShares    []string `json:"encrypted_shares"`
}

type dkgVectorRound2 struct {
	ParticipantID     int    `json:"participant_id"`
	SecretShare       string `json:"secret_share"`
	VerificationShare string `json:"verification_share"`
}

type dkgVectorSignature struct {
	SignerID  int    `json:"signer_id"`
	Signature string `json:"signature"`
}

// vectorSeed is SHA-256("Daniel Bourdrez,Soatok Dreamseeker,Tjaden Hess").
const vectorSeed = "b171b6992cc6db1f40b18dd8b1361d642f013e4b1208a735259a516af60dcb68"

// vectorStream is Appendix B's labelled derivation as a stream: block k is
// SHA-512(seed ‖ ciphersuite_id ‖ uint32_le(t) ‖ uint32_le(n) ‖ label ‖
// uint64_le(k)); each scalar takes one 64-byte block, wide-reduced.
type vectorStream struct {
	prefix []byte
	ctr    uint64
	buf    []byte
}

func vectorPrefix(s *Suite, t, n int, label string) []byte {
	seed, _ := hex.DecodeString(vectorSeed)
	b := append(seed, s.dkg().id...)
	b = binary.LittleEndian.AppendUint32(b, uint32(t))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, label...)
}

func (v *vectorStream) Read(p []byte) (int, error) {
	for i := range p {
		if len(v.buf) == 0 {
			h := sha512.Sum512(binary.LittleEndian.AppendUint64(bytes.Clone(v.prefix), v.ctr))
			v.ctr++
			v.buf = h[:]
		}
		p[i] = v.buf[0]
		v.buf = v.buf[1:]
	}
	return len(p), nil
}

// vectorStaticKey is static_secret_key_i: one labelled hash, wide-reduced.
func vectorStaticKey(s *Suite, t, n, i int) *DKGStaticKey {
	h := sha512.Sum512(vectorPrefix(s, t, n, fmt.Sprintf("static_secret_key_%d", i)))
	d, _ := edwards25519.NewScalar().SetUniformBytes(h[:])
	k, _ := newDKGStaticKey(s, d)
	return k
}

// generateVector runs the whole DKG deterministically per Appendix B and
// records what the vector files record.
func generateVector(t *testing.T, s *Suite, th, n int, context []byte) dkgVector {
	t.Helper()
	var v dkgVector
	v.N, v.T, v.Context = n, th, hex.EncodeToString(context)
	keys := make([]*DKGStaticKey, n)
	cfg := &DKGConfig{Suite: s, Threshold: th, Context: context}
	for i := range keys {
		keys[i] = vectorStaticKey(s, th, n, i+1)
		cfg.StaticKeys = append(cfg.StaticKeys, keys[i].PublicKey())
		v.Config.StaticSecretKeys = append(v.Config.StaticSecretKeys, hex.EncodeToString(keys[i].Secret()))
		v.Config.StaticPublicKeys = append(v.Config.StaticPublicKeys, hex.EncodeToString(keys[i].PublicKey()))
	}
	coord, err := NewDKGCoordinator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]*DKGParticipant, n)
	for i := range parts {
		if parts[i], err = NewDKGParticipant(cfg, uint16(i+1), keys[i]); err != nil {
			t.Fatal(err)
		}
		parts[i].rand = &vectorStream{prefix: vectorPrefix(s, th, n, fmt.Sprintf("round1_participant_%d", i+1))}
		m, err := parts[i].Round1()
		if err != nil {
			t.Fatal(err)
		}
		r := dkgVectorRound1{ParticipantID: i + 1, EphemeralPublicKey: hex.EncodeToString(s.cs.encodeElement(m.eph)), PoP: hex.EncodeToString(m.pop)}
		for _, c := range m.commit {
			r.VSSCommitment = append(r.VSSCommitment, hex.EncodeToString(s.cs.encodeElement(c)))
		}
		for _, ct := range m.cts {
			r.EncryptedShares = append(r.EncryptedShares, hex.EncodeToString(ct))
		}
		v.Round1 = append(v.Round1, r)
		if err := coord.AddRound1(m); err != nil {
			t.Fatal(err)
		}
	}
	r2, err := coord.Round2()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		sig, err := p.Round2(r2[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := coord.AddSignature(sig); err != nil {
			t.Fatal(err)
		}
	}
	sigs, err := coord.Signatures()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		res, err := p.Finish(sigs)
		if err != nil {
			t.Fatal(err)
		}
		v.Round2 = append(v.Round2, dkgVectorRound2{ParticipantID: i + 1,
			SecretShare:       hex.EncodeToString(res.KeyShare.secret.Bytes()),
			VerificationShare: hex.EncodeToString(res.KeyShare.VerifyingShare())})
		if i == 0 {
			v.Round3.TranscriptHash = hex.EncodeToString(res.Certificate.TranscriptHash())
			for j := range n {
				sig, _ := res.Certificate.Signature(uint16(j + 1))
				v.Round3.Signatures = append(v.Round3.Signatures, dkgVectorSignature{SignerID: j + 1, Signature: hex.EncodeToString(sig)})
			}
			v.GroupPublicKey = hex.EncodeToString(res.PublicKey.GroupKey())
		}
	}
	return v
}

func TestDKGVectorsDump(t *testing.T) {
	v := generateVector(t, Ristretto255, 2, 3, []byte("COCKTAIL-DKG-TEST-VECTOR-2-OF-3"))
	b, _ := json.MarshalIndent(v, "", "  ")
	os.Stdout.Write(b)
}
