package cosign

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/maskshare/maskshare/transport"
)

// FuzzParseUserKeys: a users file never panics the parser, and what it
// accepts is valid user ids with Ed25519 keys that, written out again one
// "USER KEY" per line, parse to the same map.
func FuzzParseUserKeys(f *testing.F) {
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	pub[0] = 9
	f.Add("# users\nalice " + transport.FormatPublicKey(pub) + "\n\nbob " + transport.FormatPublicKey(pub) + "\n")
	f.Add("alice\n")
	f.Add("alice ed25519:AAAA\n")
	f.Add("alice " + transport.FormatPublicKey(pub) + "\nalice " + transport.FormatPublicKey(pub) + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseUserKeys(strings.NewReader(in))
		if err != nil {
			return
		}
		var b strings.Builder
		for u, k := range m {
			if checkUser(u) != nil || len(k) != ed25519.PublicKeySize {
				t.Fatalf("accepted user %q with a %d-byte key", u, len(k))
			}
			b.WriteString(u + " " + transport.FormatPublicKey(k) + "\n")
		}
		m2, err := ParseUserKeys(strings.NewReader(b.String()))
		if err != nil || len(m2) != len(m) {
			t.Fatalf("re-encoded users file: %v (%d of %d users)", err, len(m2), len(m))
		}
		for u, k := range m {
			if !k.Equal(m2[u]) {
				t.Fatalf("user %q changed key", u)
			}
		}
	})
}

// FuzzParseVerifierKey: a vkey never panics the parser, and one it
// accepts names a valid origin and an Ed25519 key whose canonical vkey
// parses to the same name and key.
func FuzzParseVerifierKey(f *testing.F) {
	f.Add(specVkey)
	f.Add("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2")
	f.Add("a+00000000+AQ==")
	f.Add("+++")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, pub, err := ParseVerifierKey(vkey)
		if err != nil {
			return
		}
		if checkOrigin(v.Name()) != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("accepted origin %q with a %d-byte key", v.Name(), len(pub))
		}
		canon, err := note.NewEd25519VerifierKey(v.Name(), pub)
		if err != nil {
			t.Fatal(err)
		}
		v2, pub2, err := ParseVerifierKey(canon)
		if err != nil || v2.Name() != v.Name() || v2.KeyHash() != v.KeyHash() || !pub2.Equal(pub) {
			t.Fatalf("canonical vkey %q of accepted %q: %v", canon, vkey, err)
		}
	})
}
