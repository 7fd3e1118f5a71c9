package wire

import (
	"bytes"
	"errors"
	"testing"
)

// The oprf mode's decoders keep the promise of the others: whatever
// decodes is within its bounds and re-encodes to the same bytes; anything
// else is ErrMalformed.

func oprfSamples() (pw, pt, sc, mt []byte) {
	pw = (&Pairwise{Stage: 1, Boxes: []PairBox{{Peer: 0, Sealed: []byte("abc")}, {Peer: 2, Sealed: make([]byte, 40)}}}).Encode()
	pt = (&PairTags{Rows: 2, Peers: []PeerTags{{Peer: 0, Cands: OPRFCandidates, Tags: make([]byte, 2*OPRFCandidates*OPRFTagSize)}, {Peer: 2, Cands: OPRFCandidates, Tags: bytes.Repeat([]byte{7}, 2*OPRFCandidates*OPRFTagSize)}}}).Encode()
	sc = (&Secrets{Lists: []SecretBoxes{{Peer: 2, Boxes: make([]byte, 2*SecretBoxSize)}, {Peer: 0, Boxes: make([]byte, SecretBoxSize)}}}).Encode()
	mt = (&Match{Size: 3, Padded: 3, Width: 2, Matches: []MatchEntry{{Pos: 0, Index: 2, Holders: 3}, {Pos: 1, Index: 0, Holders: 3, Designated: true}}, Cands: []uint8{1, 2, 0, 1}}).Encode()
	return
}

func secretsCount(p int) int { return 1 + p/2 } // peer 0: 1, peer 2: 2

func FuzzDecodePairwise(f *testing.F) {
	pw, _, _, _ := oprfSamples()
	f.Add(pw)
	f.Add(pw[:len(pw)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodePairwise(b, 3, 1, 1, func(int) int { return 40 })
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(m.Boxes) != 2 || m.Boxes[0].Peer == m.Boxes[1].Peer {
			t.Fatalf("decoded %+v", m)
		}
		for _, x := range m.Boxes {
			if x.Peer == 1 || x.Peer > 2 || len(x.Sealed) > 40 {
				t.Fatalf("decoded box %+v", x)
			}
		}
		if re := m.Encode(); !bytes.Equal(re, b) {
			t.Fatalf("not canonical: %x re-encodes to %x", b, re)
		}
	})
}

func FuzzDecodePairTags(f *testing.F) {
	_, pt, _, _ := oprfSamples()
	f.Add(pt)
	f.Add(pt[:len(pt)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodePairTags(b, 3, 1)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(m.Peers) != 2 || m.Peers[0].Peer != 0 || m.Peers[1].Peer != 2 {
			t.Fatalf("decoded peers %+v", m.Peers)
		}
		for _, p := range m.Peers {
			if p.Cands != OPRFCandidates || len(p.Tags) != int(m.Rows)*int(p.Cands)*OPRFTagSize {
				t.Fatalf("decoded peer %d: %d candidates, %d bytes for %d rows", p.Peer, p.Cands, len(p.Tags), m.Rows)
			}
		}
		if re := m.Encode(); !bytes.Equal(re, b) {
			t.Fatalf("not canonical: %x re-encodes to %x", b, re)
		}
	})
}

func FuzzDecodeSecrets(f *testing.F) {
	_, _, sc, _ := oprfSamples()
	f.Add(sc)
	f.Add(sc[:len(sc)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeSecrets(b, 3, 1, secretsCount)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(m.Lists) != 2 || m.Lists[0].Peer == m.Lists[1].Peer {
			t.Fatalf("decoded %+v", m)
		}
		for _, l := range m.Lists {
			if l.Peer == 1 || l.Peer > 2 || len(l.Boxes) != secretsCount(int(l.Peer))*SecretBoxSize {
				t.Fatalf("decoded list %+v", l)
			}
		}
		if re := m.Encode(); !bytes.Equal(re, b) {
			t.Fatalf("not canonical: %x re-encodes to %x", b, re)
		}
	})
}

func FuzzDecodeMatchWidth(f *testing.F) {
	_, _, _, mt := oprfSamples()
	f.Add(mt)
	f.Add(mt[:len(mt)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMatchWidth(b, 2)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(m.Cands) != 2*len(m.Matches) {
			t.Fatalf("%d candidate bytes for %d entries", len(m.Cands), len(m.Matches))
		}
		for _, c := range m.Cands {
			if c >= OPRFCandidates {
				t.Fatalf("candidate %d", c)
			}
		}
		if re := m.Encode(); !bytes.Equal(re, b) {
			t.Fatalf("not canonical: %x re-encodes to %x", b, re)
		}
	})
}

func TestOPRFMessagesRoundTrip(t *testing.T) {
	pw, pt, sc, mt := oprfSamples()
	if _, err := DecodePairwise(pw, 3, 1, 1, func(int) int { return 40 }); err != nil {
		t.Errorf("Pairwise: %v", err)
	}
	if _, err := DecodePairwise(pw, 3, 1, 0, func(int) int { return 40 }); err == nil {
		t.Error("Pairwise of another stage decodes")
	}
	if _, err := DecodePairwise(pw, 3, 1, 1, func(int) int { return 39 }); err == nil {
		t.Error("Pairwise box beyond its limit decodes")
	}
	if _, err := DecodePairTags(pt, 3, 1); err != nil {
		t.Errorf("PairTags: %v", err)
	}
	if _, err := DecodePairTags(pt, 3, 0); err == nil {
		t.Error("PairTags naming the sender as a peer decodes")
	}
	if _, err := DecodeSecrets(sc, 3, 1, secretsCount); err != nil {
		t.Errorf("Secrets: %v", err)
	}
	if _, err := DecodeSecrets(sc, 3, 1, func(int) int { return 1 }); err == nil {
		t.Error("Secrets with the wrong count decodes")
	}
	if _, err := DecodeMatchWidth(mt, 2); err != nil {
		t.Errorf("Match: %v", err)
	}
	if _, err := DecodeMatch(mt); err == nil {
		t.Error("oprf Match decodes as a keyed one")
	}
	// Another candidate count than OPRFCandidates, or a candidate byte
	// beyond it, is refused.
	few := (&PairTags{Rows: 1, Peers: []PeerTags{{Peer: 0, Cands: OPRFCandidates - 1, Tags: make([]byte, (OPRFCandidates-1)*OPRFTagSize)}, {Peer: 2, Cands: OPRFCandidates, Tags: make([]byte, OPRFCandidates*OPRFTagSize)}}}).Encode()
	if _, err := DecodePairTags(few, 3, 1); err == nil {
		t.Errorf("PairTags with %d candidates a row decodes", OPRFCandidates-1)
	}
	beyond := (&Match{Size: 1, Padded: 1, Width: 1, Matches: []MatchEntry{{Pos: 0, Index: 0, Holders: 2}}, Cands: []uint8{OPRFCandidates}}).Encode()
	if _, err := DecodeMatchWidth(beyond, 1); err == nil {
		t.Errorf("a Match naming candidate %d decodes", OPRFCandidates)
	}
}

// TestEncodePairwiseSealed: boxes sealed into the message give the bytes
// Encode gives for the same boxes; a box of another length than
// announced panics.
func TestEncodePairwiseSealed(t *testing.T) {
	boxes := []PairBox{{Peer: 0, Sealed: []byte("abc")}, {Peer: 2, Sealed: bytes.Repeat([]byte{9}, 40)}}
	want := (&Pairwise{Stage: 1, Boxes: boxes}).Encode()
	got := EncodePairwiseSealed(1, []uint16{0, 2}, []int{3, 40}, func(p int, dst []byte) []byte { return append(dst, boxes[p].Sealed...) })
	if !bytes.Equal(got, want) {
		t.Fatalf("sealed in place %x, want %x", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("a box longer than announced did not panic")
		}
	}()
	EncodePairwiseSealed(1, []uint16{0}, []int{3}, func(p int, dst []byte) []byte { return append(dst, "abcd"...) })
}
