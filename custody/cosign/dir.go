package cosign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/maskshare/maskshare/custody"
)

// Files of a service's data directory.
const (
	// ServiceKeyFile holds the service's HPKE private key (mode 0600),
	// which seals the organisation's key, the log key and the service's
	// shares of the users' keys in the store.
	ServiceKeyFile = "service.hpke"
	// ServiceStoreFile is the service's bbolt database.
	ServiceStoreFile = "cosign.db"
)

// Store keys of the service's settings, in the keys bucket.
const (
	metaOrgCert = "org.cert"
	metaOrigin  = "origin"
)

// InitService makes a service's data directory: its HPKE key, and in its
// store the organisation's key (made here, sealed, certified by ra under
// org), the log key (sealed) and the log named origin. It returns the
// organisation's certificate. It refuses a directory already initialised.
func InitService(dir, org, origin string, ra *RA) (*x509.Certificate, error) {
	if err := checkName(org); err != nil {
		return nil, err
	}
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, ServiceStoreFile)); err == nil {
		return nil, fmt.Errorf("cosign: %s is already a service directory", dir)
	}
	hk, _, err := custody.LoadOrCreateKey(filepath.Join(dir, ServiceKeyFile), custody.DefaultSuite)
	if err != nil {
		return nil, err
	}
	st, err := custody.OpenStore(filepath.Join(dir, ServiceStoreFile), &custody.StoreConfig{Buckets: ServiceBuckets})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	orgPub, orgPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	defer clear(orgPriv)
	_, logPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	defer clear(logPriv)
	cert, err := ra.IssueOrg(org, orgPub)
	if err != nil {
		return nil, err
	}
	if err := SealKey(st, hk.Public(), OrgKeyName, orgPriv); err != nil {
		return nil, err
	}
	if err := SealKey(st, hk.Public(), LogKeyName, logPriv); err != nil {
		return nil, err
	}
	if err := st.Put(bucketKeys, []byte(metaOrgCert), cert.Raw); err != nil {
		return nil, err
	}
	if err := st.Put(bucketKeys, []byte(metaOrigin), []byte(origin)); err != nil {
		return nil, err
	}
	return cert, nil
}

// OpenService opens the service whose data live in dir ([InitService]).
// cfg.RA is required; the organisation's name, certificate and key come
// from the store unless cfg sets them. Close closes the store.
func OpenService(dir string, cfg *ServiceConfig) (*Service, error) {
	if cfg == nil || cfg.RA == nil {
		return nil, errors.New("cosign: OpenService needs the RA")
	}
	hk, err := custody.ReadPrivateKeyFile(filepath.Join(dir, ServiceKeyFile))
	if err != nil {
		return nil, err
	}
	st, err := custody.OpenStore(filepath.Join(dir, ServiceStoreFile), &custody.StoreConfig{Buckets: ServiceBuckets})
	if err != nil {
		return nil, err
	}
	s, err := openService(st, hk, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

func openService(st *custody.Store, hk *custody.PrivateKey, cfg *ServiceConfig) (*Service, error) {
	c := *cfg
	origin, err := st.Get(bucketKeys, []byte(metaOrigin))
	if err != nil {
		return nil, fmt.Errorf("cosign: not a service store (no log origin): %w", err)
	}
	if c.OrgCert == nil {
		der, err := st.Get(bucketKeys, []byte(metaOrgCert))
		if err != nil {
			return nil, fmt.Errorf("cosign: organisation certificate: %w", err)
		}
		if c.OrgCert, err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("cosign: organisation certificate: %w", err)
		}
	}
	if c.Org == "" {
		c.Org = c.OrgCert.Subject.CommonName
	}
	if c.OrgKey == nil {
		if c.OrgKey, err = OpenSealedSigner(st, hk, OrgKeyName); err != nil {
			return nil, err
		}
	}
	logKey, err := OpenSealedSigner(st, hk, LogKeyName)
	if err != nil {
		return nil, err
	}
	return NewService(st, hk, string(origin), logKey, &c)
}

// Close closes the store of a service from [OpenService].
func (s *Service) Close() error {
	if s.owned {
		return s.store.Close()
	}
	return nil
}

// OpenStoredLog opens the log of a service's store with its HPKE key
// (which opens the sealed log key), without the rest of the service: for
// exporting the log of a stopped service.
func OpenStoredLog(st *custody.Store, hk *custody.PrivateKey) (*Log, error) {
	origin, err := st.Get(bucketKeys, []byte(metaOrigin))
	if err != nil {
		return nil, fmt.Errorf("cosign: not a service store (no log origin): %w", err)
	}
	logKey, err := OpenSealedSigner(st, hk, LogKeyName)
	if err != nil {
		return nil, err
	}
	return OpenLog(st, string(origin), logKey, nil, nil)
}
