package maskshare

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
)

// Key schedule of a session (docs/PROTOCOL.md, "Keys").
//
// Every party draws an ephemeral X25519 key for the session and, when the
// session uses identities, signs it with its Ed25519 identity key, so a
// relaying coordinator can neither read nor substitute what the parties seal
// to each other. From the X25519 shares each ordered pair (i, j) derives an
// AES-256-GCM key for boxes from i to j. Through those boxes each party
// contributes 32 random bytes to the group secret, which only the parties
// know and from which the keyed-mode PRF key, the output mask seed and the
// transcript MAC key are derived.

const (
	helloLabel   = "maskshare hello v2"
	sealLabel    = "maskshare seal v1"
	groupLabel   = "maskshare group v1"
	labelPSI     = "maskshare psi key v1"
	labelOutput  = "maskshare output mask v1"
	labelConfirm = "maskshare confirm v1"
	listLabel    = "maskshare list mac v2"
)

// helloMessage is what a party's identity key signs: the session, the
// party's index, its ephemeral key, its ecdh key commitment (zero in keyed
// mode), its set size bound and the digest of the parameters.
func helloMessage(sid [32]byte, index int, h *wire.Hello, paramsDigest [32]byte) []byte {
	m := make([]byte, 0, len(helloLabel)+32+2+32+32+4+32)
	m = append(m, helloLabel...)
	m = append(m, sid[:]...)
	m = binary.BigEndian.AppendUint16(m, uint16(index))
	m = append(m, h.Key[:]...)
	m = append(m, h.Blind[:]...)
	m = binary.BigEndian.AppendUint32(m, h.Bound)
	m = append(m, paramsDigest[:]...)
	return m
}

func signHello(id ed25519.PrivateKey, sid [32]byte, index int, h *wire.Hello, digest [32]byte) []byte {
	if id == nil {
		return nil
	}
	return ed25519.Sign(id, helloMessage(sid, index, h, digest))
}

func verifyHello(pub ed25519.PublicKey, sid [32]byte, index int, h *wire.Hello, digest [32]byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, helloMessage(sid, index, h, digest), h.Sig)
}

// checkCommitment checks a hello's ecdh key commitment: a valid element
// other than the identity in ecdh mode, all zero in the keyed and oprf modes.
func checkCommitment(mode PSIMode, y *psi.Element) error {
	if mode != ECDH {
		if *y != (psi.Element{}) {
			return fmt.Errorf("an ecdh key commitment in a %v-mode session", mode)
		}
		return nil
	}
	if err := psi.CheckElement(y); err != nil {
		return fmt.Errorf("ecdh key commitment: %v", err)
	}
	return nil
}

// pairKey derives the key for messages from party `from` to party `to`
// for one purpose (label), from the X25519 share of the two: only they can
// compute it, and each direction and purpose has its own.
func pairKey(priv *ecdh.PrivateKey, peer [32]byte, sid [32]byte, label string, from, to int, fromKey, toKey [32]byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer[:])
	if err != nil {
		return nil, fmt.Errorf("%w: bad ephemeral key: %v", ErrProtocol, err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil { // the all-zero output of a low-order point
		return nil, fmt.Errorf("%w: bad ephemeral key: %v", ErrProtocol, err)
	}
	info := make([]byte, 0, len(label)+4+64)
	info = append(info, label...)
	info = binary.BigEndian.AppendUint16(info, uint16(from))
	info = binary.BigEndian.AppendUint16(info, uint16(to))
	info = append(info, fromKey[:]...)
	info = append(info, toKey[:]...)
	return hkdf.Key(sha256.New, shared, sid[:], string(info), 32)
}

// pairAEAD returns the AEAD for boxes from party `from` to party `to`.
func pairAEAD(priv *ecdh.PrivateKey, peer [32]byte, sid [32]byte, from, to int, fromKey, toKey [32]byte) (cipher.AEAD, error) {
	key, err := pairKey(priv, peer, sid, sealLabel, from, to, fromKey, toKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// listMAC authenticates an ecdh list from the party that produced it (at
// hop `hop`, as the list of `owner`) to the party that consumes it, under
// their pair key: HMAC-SHA256 over the session, owner, hop, count, the
// check chain (points and proofs, in order) and the elements in ascending
// byte order. Sorting makes the MAC independent of the order, so it
// survives the coordinator's shuffles, while any element added, dropped or
// replaced on the way, or any change to the chain, changes it.
func listMAC(key []byte, sid [32]byte, owner, hop int, m *wire.Elements) [32]byte {
	sorted, _ := psi.Sort(m.Elems)
	h := hmac.New(sha256.New, key)
	h.Write([]byte(listLabel))
	h.Write(sid[:])
	var b [10]byte
	binary.BigEndian.PutUint16(b[0:], uint16(owner))
	binary.BigEndian.PutUint16(b[2:], uint16(hop))
	binary.BigEndian.PutUint32(b[4:], uint32(len(sorted)))
	binary.BigEndian.PutUint16(b[8:], uint16(len(m.Chain)))
	h.Write(b[:])
	for i := range m.Chain {
		h.Write(m.Chain[i][:])
	}
	for i := range m.Proofs {
		h.Write(m.Proofs[i][:])
	}
	for i := range sorted {
		h.Write(sorted[i][:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// proofContext binds a blinding proof to the session, the list's owner and
// the hop at which it was blinded, so that no proof can be replayed for
// another list, hop or session.
func proofContext(sid [32]byte, owner, hop int) []byte {
	c := make([]byte, 0, len(sid)+4)
	c = append(c, sid[:]...)
	c = binary.BigEndian.AppendUint16(c, uint16(owner))
	return binary.BigEndian.AppendUint16(c, uint16(hop))
}

// boxAD binds a box to its session and direction.
func boxAD(sid [32]byte, from, to int) []byte {
	ad := append([]byte(nil), sid[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(from))
	return binary.BigEndian.AppendUint16(ad, uint16(to))
}

// Each directional key seals exactly one box per session, so a fixed nonce
// never repeats under one key.
var zeroNonce [12]byte

func sealBox(aead cipher.AEAD, sid [32]byte, from, to int, plaintext []byte) []byte {
	return aead.Seal(nil, zeroNonce[:aead.NonceSize()], plaintext, boxAD(sid, from, to))
}

func openBox(aead cipher.AEAD, sid [32]byte, from, to int, box []byte) ([]byte, error) {
	pt, err := aead.Open(nil, zeroNonce[:aead.NonceSize()], box, boxAD(sid, from, to))
	if err != nil {
		return nil, fmt.Errorf("%w: box from party %d does not open (tampered or wrong key)", ErrAuthentication, from)
	}
	return pt, nil
}

// groupSecret combines every party's contribution, in party order.
func groupSecret(sid [32]byte, contributions [][32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(groupLabel))
	h.Write(sid[:])
	for _, c := range contributions {
		h.Write(c[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// deriveKey derives a purpose key from the group secret.
func deriveKey(group [32]byte, sid [32]byte, label string) [32]byte {
	k, err := hkdf.Key(sha256.New, group[:], sid[:], label, 32)
	if err != nil {
		panic("maskshare: hkdf: " + err.Error())
	}
	return [32]byte(k)
}

func paramsDigest(p *wire.Params) [32]byte {
	return sha256.Sum256(wire.EncodeParams(p))
}

// A direct delivery is the sender's index and the sealed box.
func directMessage(from int, box []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(from)), box...)
}

func parseDirectMessage(msg []byte) (from int, box []byte, ok bool) {
	if len(msg) < 3 || len(msg) > 2+wire.MaxSealedSize {
		return 0, nil, false
	}
	return int(binary.BigEndian.Uint16(msg)), msg[2:], true
}
