package cosign

import (
	"crypto/x509"
	"fmt"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

// bucketClient holds a device's credential, one field a key.
const bucketClient = "cosign/client"

// ClientBuckets are the buckets a device's store needs: its credential
// and its [Monitor]'s checkpoint.
var ClientBuckets = append([]string{bucketClient}, MonitorBuckets...)

var credentialFields = []string{"user", "share", "public", "cert", "org", "ra", "dkg"}

// SaveCredential keeps cred in a device's store (made with
// [ClientBuckets]), replacing what it held, in one transaction. The store
// then holds the device's share: keep it where the device keeps secrets.
func SaveCredential(store *custody.Store, cred *Credential) error {
	vals := [][]byte{[]byte(cred.User), cred.Share.Marshal(), cred.Public.Marshal(), cred.Cert.Raw,
		cred.OrgCert.Raw, cred.RACert.Raw, cred.DKG.Marshal()}
	return store.Update(func(tx *custody.Tx) error {
		for i, f := range credentialFields {
			if err := tx.Put(bucketClient, []byte(f), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadCredential reads the credential SaveCredential kept and checks it
// (its certificates chain to its RA and carry its key).
func LoadCredential(store *custody.Store) (*Credential, error) {
	vals := make([][]byte, len(credentialFields))
	err := store.View(func(tx *custody.Tx) error {
		for i, f := range credentialFields {
			v, err := tx.Get(bucketClient, []byte(f))
			if err != nil {
				return fmt.Errorf("cosign: credential %s: %w", f, err)
			}
			vals[i] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cr := &Credential{User: string(vals[0])}
	bad := func(what string, err error) (*Credential, error) {
		return nil, fmt.Errorf("%w: credential %s: %w", ErrBadMessage, what, err)
	}
	if cr.Share, err = frost.UnmarshalKeyShare(vals[1]); err != nil {
		return bad("share", err)
	}
	if cr.Public, err = frost.UnmarshalPublicKeyPackage(vals[2]); err != nil {
		return bad("public key", err)
	}
	for i, c := range []**x509.Certificate{&cr.Cert, &cr.OrgCert, &cr.RACert} {
		if *c, err = x509.ParseCertificate(vals[3+i]); err != nil {
			return bad(credentialFields[3+i], err)
		}
	}
	if cr.DKG, err = frost.UnmarshalDKGCertificate(vals[6]); err != nil {
		return bad("DKG certificate", err)
	}
	if err := cr.check(cr.Cert.NotBefore.Add(raBackdate)); err != nil {
		return nil, err
	}
	return cr, nil
}
