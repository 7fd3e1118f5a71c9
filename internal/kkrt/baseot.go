package kkrt

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
)

// Base OTs: the endemic OT of Masny and Rindal ("Endemic Oblivious
// Transfer", CCS 2019, eprint 2019/706: OT from a two-message key
// agreement, instantiated with Diffie–Hellman) on ristretto255, one
// independent instance per base OT, composed in parallel. With G the
// generator and H_i a random oracle into the group (hash_to_ristretto255,
// RFC 9380 suite ristretto255_XMD:SHA-512_R255MAP_RO_, message
// sid ‖ be32(i) ‖ point), for base OT i:
//
//	chooser, bit c:  sk ← Z_q; R_{1−c} ← G (uniform); R_c = sk·G − H_i(R_{1−c})
//	                 sends (R_0, R_1)
//	sender:          a ← Z_q; A = a·G; for b ∈ {0,1}:
//	                 k_b = KDF(i, b, A, a·(R_b + H_i(R_{1−b})))
//	                 sends A
//	chooser:         k_c = KDF(i, c, A, sk·A)
//
// KDF is SHA-256(labelOTKey ‖ sid ‖ be32(i) ‖ b ‖ A ‖ key point)[:16].
// The paper proves this UC-secure (random OT, endemic) in the random
// oracle model under CDH; the proof covers one OT, so every OT here has
// its own a and sk. In KKRT16 the OPRF sender is the base-OT chooser (its
// choice bits are the secret s) and the OPRF receiver the base-OT sender.

var g = group.Ristretto255

// randScalar reads 64 bytes and reduces them (uniform up to 2^-250).
// circl's RandomScalar ignores its reader, which the test hook needs.
func randScalar(rnd io.Reader) (group.Scalar, error) {
	var buf [64]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return nil, fmt.Errorf("kkrt: randomness: %w", err)
	}
	return g.HashToScalar(buf[:], []byte("maskshare/kkrt/v2 scalar")), nil
}

func otHash(sid *[32]byte, i int, point []byte) group.Element {
	msg := make([]byte, 0, 32+4+pointSize)
	msg = append(msg, sid[:]...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(i))
	msg = append(msg, point...)
	return g.HashToElement(msg, []byte(labelOTHash))
}

func otKDF(sid *[32]byte, i int, b byte, a, key []byte) [16]byte {
	h := sha256.New()
	h.Write([]byte(labelOTKey))
	h.Write(sid[:])
	var ib [5]byte
	binary.BigEndian.PutUint32(ib[:], uint32(i))
	ib[4] = b
	h.Write(ib[:])
	h.Write(a)
	h.Write(key)
	var sum [32]byte
	var k [16]byte
	copy(k[:], h.Sum(sum[:0]))
	return k
}

func marshal(e group.Element) []byte {
	b, err := e.MarshalBinaryCompress()
	if err != nil {
		panic("kkrt: " + err.Error()) // unreachable for ristretto255
	}
	return b
}

// decodePoint decodes a canonical, non-identity ristretto255 encoding.
func decodePoint(b []byte) (group.Element, error) {
	e := g.NewElement()
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: invalid group element", ErrMalformed)
	}
	if e.IsIdentity() {
		return nil, fmt.Errorf("%w: identity group element", ErrMalformed)
	}
	return e, nil
}

// otChoose is the chooser's first move for choice bits c (bit i of
// c[i/64]); it appends the (R_0, R_1) pairs to msg and returns the sk_i.
func otChoose(rnd io.Reader, sid *[32]byte, c *[rowWords]uint64, msg []byte) ([]group.Scalar, []byte, error) {
	sks := make([]group.Scalar, BaseOTs)
	for i := range sks {
		sk, err := randScalar(rnd)
		if err != nil {
			return nil, nil, err
		}
		t, err := randScalar(rnd)
		if err != nil {
			return nil, nil, err
		}
		other := marshal(g.NewElement().MulGen(t))
		mine := g.NewElement().MulGen(sk)
		mine.Add(mine, g.NewElement().Neg(otHash(sid, i, other)))
		if c[i/64]>>(i%64)&1 == 0 {
			msg = append(append(msg, marshal(mine)...), other...)
		} else {
			msg = append(append(msg, other...), marshal(mine)...)
		}
		sks[i] = sk
	}
	return sks, msg, nil
}

// otSend is the sender's move on the chooser's pairs (BaseOTs·2 points):
// it appends the A_i to msg and returns both keys of every OT.
func otSend(rnd io.Reader, sid *[32]byte, pairs []byte, msg []byte) ([][2][16]byte, []byte, error) {
	out := make([][2][16]byte, BaseOTs)
	for i := range out {
		r := [2][]byte{pairs[2*i*pointSize : (2*i+1)*pointSize], pairs[(2*i+1)*pointSize : (2*i+2)*pointSize]}
		var pr [2]group.Element
		for b := range pr {
			e, err := decodePoint(r[b])
			if err != nil {
				return nil, nil, err
			}
			pr[b] = e
		}
		a, err := randScalar(rnd)
		if err != nil {
			return nil, nil, err
		}
		A := marshal(g.NewElement().MulGen(a))
		for b := range 2 {
			p := g.NewElement().Add(pr[b], otHash(sid, i, r[1-b]))
			out[i][b] = otKDF(sid, i, byte(b), A, marshal(p.Mul(p, a)))
		}
		msg = append(msg, A...)
	}
	return out, msg, nil
}

// otReceive is the chooser's last step on the sender's A_i.
func otReceive(sid *[32]byte, c *[rowWords]uint64, sks []group.Scalar, as []byte) ([][16]byte, error) {
	out := make([][16]byte, BaseOTs)
	for i := range out {
		A := as[i*pointSize : (i+1)*pointSize]
		e, err := decodePoint(A)
		if err != nil {
			return nil, err
		}
		b := byte(c[i/64] >> (i % 64) & 1)
		out[i] = otKDF(sid, i, b, A, marshal(e.Mul(e, sks[i])))
	}
	return out, nil
}
