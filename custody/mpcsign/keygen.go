package mpcsign

import (
	"fmt"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/share"
)

// newAccountKey makes an account's t-of-n FROST key with share
// identifiers 1..n. Interim: RFC 9591's trusted dealer (frost.Deal), run
// by the holder, which sees the whole key for the moment of the deal;
// COCKTAIL-DKG replaces it here, and only here, when package frost has it.
func newAccountKey(t, n int) (*frost.PublicKeyPackage, []*frost.KeyShare, error) {
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = uint16(i + 1)
	}
	return frost.Deal(frost.Ed25519, nil, t, ids)
}

// keyShareSecretOffset is where frost's KeyShare encoding holds the secret
// share: header (3) || t (2) || id (2) || secret (32) || ...
const keyShareSecretOffset = 7

// refreshKey returns new shares of the same key for the next epoch:
// each share plus its share of a random sharing of zero (package share's
// DealZero, Feldman, degree t−1), and the public key package they make.
// Interim: the holder, which holds every share, deals the zero sharing;
// frost's refresh replaces it here when package frost has it. The group
// key cannot move: a zero sharing adds zero at x = 0, and the result is
// checked by frost.NewPublicKeyPackage (one polynomial of degree t−1
// through the same group key) and frost.NewKeyShare (each secret matches
// its verifying share).
func refreshKey(old *frost.PublicKeyPackage, shares []*frost.KeyShare) (*frost.PublicKeyPackage, []*frost.KeyShare, error) {
	t := old.Threshold()
	idx := make([]uint32, len(shares))
	for i, k := range shares {
		idx[i] = uint32(k.Identifier())
	}
	deltas, _, err := share.DealZero(share.Feldman, t, idx, 1)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		for i := range deltas {
			deltas[i] = share.Share{}
		}
	}()
	secrets := make([]*edwards25519.Scalar, len(shares))
	defer func() {
		for _, s := range secrets {
			if s != nil {
				s.Set(edwards25519.NewScalar())
			}
		}
	}()
	verifying := make(map[uint16][]byte, len(shares))
	for i, k := range shares {
		enc := k.Marshal()
		s, err := edwards25519.NewScalar().SetCanonicalBytes(enc[keyShareSecretOffset : keyShareSecretOffset+32])
		clear(enc)
		if err != nil {
			return nil, nil, fmt.Errorf("mpcsign: key share encoding: %w", err)
		}
		secrets[i] = s.Add(s, &deltas[i].Value)
		verifying[k.Identifier()] = new(edwards25519.Point).ScalarBaseMult(secrets[i]).Bytes()
	}
	pub, err := frost.NewPublicKeyPackage(frost.Ed25519, t, old.GroupKey(), verifying)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*frost.KeyShare, len(shares))
	for i, k := range shares {
		b := secrets[i].Bytes()
		out[i], err = frost.NewKeyShare(pub, k.Identifier(), b)
		clear(b)
		if err != nil {
			return nil, nil, err
		}
	}
	return pub, out, nil
}
