package cosign

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"
)

// CertKeys is [UserKeys] from users' certificates, as an auditor rebuilds
// them from a log's enrolment and revocation entries ([ExportUserKeys]):
// a user's key at a time is that of the certificate it enrolled, valid
// then (and chaining to the RA), and not yet revoked.
type CertKeys struct {
	roots *x509.CertPool
	users map[string][]*certKey
}

type certKey struct {
	cert      *x509.Certificate
	hash      [sha256.Size]byte
	pub       ed25519.PublicKey
	revokedAt time.Time
}

// NewCertKeys returns the keys of users' certificates, each verified
// against roots when used; a certificate's user is its CommonName.
func NewCertKeys(roots *x509.CertPool, certs ...*x509.Certificate) *CertKeys {
	k := &CertKeys{roots: roots, users: map[string][]*certKey{}}
	for _, c := range certs {
		pub, _ := c.PublicKey.(ed25519.PublicKey)
		u := c.Subject.CommonName
		k.users[u] = append(k.users[u], &certKey{cert: c, hash: sha256.Sum256(c.Raw), pub: pub})
	}
	return k
}

// UserKey returns user's key at time at.
func (k *CertKeys) UserKey(user string, at time.Time) (ed25519.PublicKey, error) {
	for _, c := range k.users[user] {
		if !c.revokedAt.IsZero() && !at.Before(c.revokedAt) {
			continue
		}
		if pub, err := VerifyCert(c.cert, k.roots, at); err == nil {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("%w: %q at %v", ErrUnknownUser, user, at)
}

// Users returns the number of users with at least one certificate.
func (k *CertKeys) Users() int { return len(k.users) }

// ExportUserKeys reads an export ([Log.Export]) and returns the users'
// keys its enrolment entries certify: each enrolment's certificate must
// chain to roots (the RA) at the entry's time and name the entry's user,
// and its DKG certificate must be for the certificate's key. A revocation
// entry ends the revoked certificate's use at its time. The entries'
// signatures are not checked here: pass the result to [VerifyExport],
// which checks every entry, the enrolments included, with it.
func ExportUserKeys(export []byte, roots *x509.CertPool) (*CertKeys, error) {
	k := &CertKeys{roots: roots, users: map[string][]*certKey{}}
	sc := bufio.NewScanner(bytes.NewReader(export))
	sc.Buffer(nil, 2*MaxEntrySize+16)
	if !sc.Scan() || sc.Text() != exportHeader {
		return nil, fmt.Errorf("%w: not an export", ErrMalformed)
	}
	for n := 0; sc.Scan() && sc.Text() != ""; n++ {
		rec, err := decodeBase64(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: base64", ErrMalformed, n)
		}
		e, err := ParseEntry(rec)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", n, err)
		}
		switch e.Kind {
		case KindEnrolment:
			en, err := ParseEnrolment(e.Payload)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			pub, err := VerifyCert(en.Certificate, roots, e.Time)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			if en.Certificate.Subject.CommonName != e.User {
				return nil, fmt.Errorf("entry %d: %w: certificate of %q enrolled for %q", n, ErrCertificate, en.Certificate.Subject.CommonName, e.User)
			}
			k.users[e.User] = append(k.users[e.User], &certKey{cert: en.Certificate, hash: sha256.Sum256(en.Certificate.Raw), pub: pub})
		case KindRevocation:
			if len(e.Payload) < 33 {
				return nil, fmt.Errorf("entry %d: %w: revocation record", n, ErrMalformed)
			}
			for _, c := range k.users[e.User] {
				if bytes.Equal(c.hash[:], e.Payload[1:33]) && c.revokedAt.IsZero() {
					c.revokedAt = e.Time.Add(time.Nanosecond)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return k, nil
}
