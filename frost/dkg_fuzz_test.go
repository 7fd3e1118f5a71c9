package frost

import (
	"bytes"
	"testing"
)

// dkgSeedSet holds valid encodings of every DKG, refresh and repair message
// of both suites, as fuzz seeds.
type dkgSeedSet struct {
	round1, round2, sig, sigs, cert, refreshC, refreshS, piece, sum [][]byte
}

func dkgSeeds(tb testing.TB) *dkgSeedSet {
	tb.Helper()
	var set dkgSeedSet
	for _, s := range []*Suite{Ed25519, Ristretto255} {
		ds := newDKGSession(tb, s, 2, 3)
		for _, p := range ds.parts {
			m, _ := p.Round1()
			ds.coord.AddRound1(m)
			set.round1 = append(set.round1, m.Marshal())
		}
		r2, _ := ds.coord.Round2()
		for i, p := range ds.parts {
			set.round2 = append(set.round2, r2[i].Marshal())
			sig, _ := p.Round2(r2[i])
			ds.coord.AddSignature(sig)
			set.sig = append(set.sig, sig.Marshal())
		}
		sigs, _ := ds.coord.Signatures()
		set.sigs = append(set.sigs, sigs.Marshal())
		res, _ := ds.parts[0].Finish(sigs)
		set.cert = append(set.cert, res.Certificate.Marshal())
		pub, ks, _ := Deal(s, nil, 2, []uint16{1, 2, 3})
		c, shares, _ := NewRefresh(ks[0], pub, 1)
		set.refreshC = append(set.refreshC, c.Marshal())
		set.refreshS = append(set.refreshS, shares[1].Marshal())
		pieces, _ := RepairSplit(ks[0], []uint16{1, 2}, 3)
		set.piece = append(set.piece, pieces[1].Marshal())
		p2, _ := RepairSplit(ks[1], []uint16{1, 2}, 3)
		sum, _ := RepairCombine(s, 1, []uint16{1, 2}, 3, []*RepairPiece{pieces[0], p2[0]})
		set.sum = append(set.sum, sum.Marshal())
	}
	return &set
}

// fuzzDecoder seeds f with valid encodings (and truncations of them) and
// checks that whatever the decoder accepts re-encodes to the same bytes.
func fuzzDecoder[T interface{ Marshal() []byte }](f *testing.F, seeds [][]byte, dec func([]byte) (T, error)) {
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := dec(b); err == nil && !bytes.Equal(v.Marshal(), b) {
			t.Fatal("accepted bytes do not re-encode")
		}
	})
}

func FuzzUnmarshalDKGRound1(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).round1, UnmarshalDKGRound1)
}

func FuzzUnmarshalDKGRound2(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).round2, UnmarshalDKGRound2)
}

func FuzzUnmarshalDKGSignature(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).sig, UnmarshalDKGSignature)
}

func FuzzUnmarshalDKGSignatures(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).sigs, UnmarshalDKGSignatures)
}

func FuzzUnmarshalDKGCertificate(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).cert, UnmarshalDKGCertificate)
}

func FuzzUnmarshalRefreshCommitment(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).refreshC, UnmarshalRefreshCommitment)
}

func FuzzUnmarshalRefreshShare(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).refreshS, UnmarshalRefreshShare)
}

func FuzzUnmarshalRepairPiece(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).piece, UnmarshalRepairPiece)
}

func FuzzUnmarshalRepairSum(f *testing.F) {
	fuzzDecoder(f, dkgSeeds(f).sum, UnmarshalRepairSum)
}

// TestDKGDecodersRefuse: each decoder refuses another kind's message, a
// wrong version, a bad element and trailing bytes.
func TestDKGDecodersRefuse(t *testing.T) {
	set := dkgSeeds(t)
	r1 := set.round1[0]
	if _, err := UnmarshalDKGRound2(r1); err == nil {
		t.Fatal("Round 1 message decoded as Round 2")
	}
	bad := bytes.Clone(r1)
	bad[0] = 9
	if _, err := UnmarshalDKGRound1(bad); err == nil {
		t.Fatal("unknown version accepted")
	}
	bad = bytes.Clone(r1)
	copy(bad[dkgRoutingSize:], make([]byte, elementSize)) // C_0 = identity
	if _, err := UnmarshalDKGRound1(bad); err == nil {
		t.Fatal("identity commitment accepted")
	}
	if _, err := UnmarshalDKGRound1(append(bytes.Clone(r1), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	bad = bytes.Clone(r1)
	// First frame's length: after C (2 points), PoP and E.
	off := dkgRoutingSize + 2*elementSize + dkgSigSize + elementSize
	bad[off] = 0xff
	if _, err := UnmarshalDKGRound1(bad); err == nil {
		t.Fatal("huge ciphertext length accepted")
	}
	cert := bytes.Clone(set.cert[0])
	cert[headerSize+4+8] ^= 1 // the ciphersuite ID inside T
	if _, err := UnmarshalDKGCertificate(cert); err == nil {
		t.Fatal("certificate for an unknown suite accepted")
	}
}
