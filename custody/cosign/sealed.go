package cosign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/maskshare/maskshare/custody"
)

// bucketKeys holds the service's sealed Ed25519 keys (the organisation's
// key, the log key) by name.
const bucketKeys = "cosign/keys"

// Names of the keys a service keeps sealed in its store.
const (
	OrgKeyName = "org"
	LogKeyName = "log"
)

func keyInfo(name string) []byte { return custody.Info("cosign/key", []byte(name)) }

// SealKey seals an Ed25519 private key (its seed) with HPKE to the
// service's key and stores it under name: at rest the key exists only as
// that envelope. It refuses to replace a key already stored.
func SealKey(store *custody.Store, to *custody.PublicKey, name string, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("cosign: sealing key %q: not an Ed25519 private key", name)
	}
	env, err := custody.Seal(to, keyInfo(name), priv.Seed())
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	return store.Update(func(tx *custody.Tx) error {
		if _, err := tx.Get(bucketKeys, []byte(name)); err == nil {
			return fmt.Errorf("cosign: the store already holds a key %q", name)
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		if err := tx.Put(bucketKeys, []byte(name+".pub"), pub); err != nil {
			return err
		}
		return tx.Put(bucketKeys, []byte(name), env)
	})
}

// SealedSigner is a crypto.Signer over an Ed25519 key kept sealed in a
// store ([SealKey]): each Sign opens the envelope, signs and wipes the
// seed, so the key is in memory only while it signs. A hardware module can
// stand in for it: the service needs only a crypto.Signer.
type SealedSigner struct {
	store *custody.Store
	key   *custody.PrivateKey
	name  string
	pub   ed25519.PublicKey
}

// OpenSealedSigner returns the signer of the key stored under name,
// opening it once to check that key opens it and matches its public key.
func OpenSealedSigner(store *custody.Store, key *custody.PrivateKey, name string) (*SealedSigner, error) {
	pub, err := store.Get(bucketKeys, []byte(name+".pub"))
	if err != nil {
		return nil, fmt.Errorf("cosign: key %q: %w", name, err)
	}
	s := &SealedSigner{store: store, key: key, name: name, pub: ed25519.PublicKey(pub)}
	if _, err := s.Sign(rand.Reader, []byte("check"), crypto.Hash(0)); err != nil {
		return nil, err
	}
	return s, nil
}

// Public returns the key's ed25519.PublicKey.
func (s *SealedSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs message (not a digest: opts must be crypto.Hash(0)) with
// plain Ed25519.
func (s *SealedSigner) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("cosign: sealed signer signs messages, not digests")
	}
	env, err := s.store.Get(bucketKeys, []byte(s.name))
	if err != nil {
		return nil, fmt.Errorf("cosign: key %q: %w", s.name, err)
	}
	seed, err := custody.Open(s.key, keyInfo(s.name), env)
	if err != nil {
		return nil, fmt.Errorf("cosign: opening key %q: %w", s.name, err)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("cosign: key %q: seed of %d bytes", s.name, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	if !priv.Public().(ed25519.PublicKey).Equal(s.pub) {
		return nil, fmt.Errorf("cosign: key %q does not match its public key", s.name)
	}
	return ed25519.Sign(priv, message), nil
}
