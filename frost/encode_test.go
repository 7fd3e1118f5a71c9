package frost

import (
	"bytes"
	"errors"
	"testing"
)

// fixture returns one of each message of a 2-of-3 key in suite s.
func fixture(t testing.TB, s *Suite) (*PublicKeyPackage, *KeyShare, *SigningCommitments, *SigningPackage, *SignatureShare) {
	pub, keys, err := Deal(s, nil, 2, []uint16{1, 7, 300})
	if err != nil {
		t.Fatal(err)
	}
	p, shares := signWith(t, keys, []int{0, 2}, []byte("fixture message"))
	return pub, keys[0], p.commitments[1], p, shares[0]
}

// TestEncodingRoundTrip: every message decodes to what was encoded and
// re-encodes to the same bytes; truncation, extension, another kind or
// version, an unknown suite are refused.
func TestEncodingRoundTrip(t *testing.T) {
	for _, s := range suites {
		pub, key, comm, pkg, share := fixture(t, s)
		decoders := []struct {
			name string
			enc  []byte
			dec  func([]byte) ([]byte, error)
		}{
			{"commitments", comm.Marshal(), func(b []byte) ([]byte, error) {
				c, err := UnmarshalSigningCommitments(b)
				if err != nil {
					return nil, err
				}
				return c.Marshal(), nil
			}},
			{"share", share.Marshal(), func(b []byte) ([]byte, error) {
				c, err := UnmarshalSignatureShare(b)
				if err != nil {
					return nil, err
				}
				return c.Marshal(), nil
			}},
			{"package", pkg.Marshal(), func(b []byte) ([]byte, error) {
				c, err := UnmarshalSigningPackage(b)
				if err != nil {
					return nil, err
				}
				return c.Marshal(), nil
			}},
			{"key share", key.Marshal(), func(b []byte) ([]byte, error) {
				c, err := UnmarshalKeyShare(b)
				if err != nil {
					return nil, err
				}
				return c.Marshal(), nil
			}},
			{"public key", pub.Marshal(), func(b []byte) ([]byte, error) {
				c, err := UnmarshalPublicKeyPackage(b)
				if err != nil {
					return nil, err
				}
				return c.Marshal(), nil
			}},
		}
		for i, d := range decoders {
			got, err := d.dec(d.enc)
			if err != nil || !bytes.Equal(got, d.enc) {
				t.Fatalf("%s %s: round trip: %v", s, d.name, err)
			}
			for name, bad := range map[string][]byte{
				"truncated":     d.enc[:len(d.enc)-1],
				"extended":      append(bytes.Clone(d.enc), 0),
				"version 2":     append([]byte{2}, d.enc[1:]...),
				"unknown suite": append([]byte{d.enc[0], d.enc[1], 9}, d.enc[3:]...),
				"other kind":    decoders[(i+1)%len(decoders)].enc,
			} {
				if _, err := d.dec(bad); !errors.Is(err, ErrEncoding) {
					t.Errorf("%s %s %s: %v", s, d.name, name, err)
				}
			}
		}
		// A corrupted element or scalar in each is refused: 0xff… is not
		// canonical for either suite.
		ff := bytes.Repeat([]byte{0xff}, 32)
		c := comm.Marshal()
		copy(c[5:], ff)
		if _, err := UnmarshalSigningCommitments(c); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s bad hiding commitment: %v", s, err)
		}
		sh := share.Marshal()
		copy(sh[5:], ff)
		if _, err := UnmarshalSignatureShare(sh); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s non-canonical share: %v", s, err)
		}
		k := key.Marshal()
		k[len(k)-40] ^= 1 // inside the verifying share
		if _, err := UnmarshalKeyShare(k); err == nil {
			t.Errorf("%s key share with altered verifying share accepted", s)
		}
	}
}

// TestPackageDecoderChecks: a decoded package with unsorted or repeated
// signers, or a lying message length, is refused.
func TestPackageDecoderChecks(t *testing.T) {
	_, _, _, pkg, _ := fixture(t, Ed25519)
	b := pkg.Marshal()
	e1 := bytes.Clone(b[5 : 5+commitmentEntrySize])
	e2 := bytes.Clone(b[5+commitmentEntrySize : 5+2*commitmentEntrySize])
	swapped := bytes.Clone(b)
	copy(swapped[5:], e2)
	copy(swapped[5+commitmentEntrySize:], e1)
	if _, err := UnmarshalSigningPackage(swapped); !errors.Is(err, ErrUnsorted) {
		t.Errorf("unsorted: %v", err)
	}
	dup := bytes.Clone(b)
	copy(dup[5+commitmentEntrySize:], e1)
	if _, err := UnmarshalSigningPackage(dup); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	long := bytes.Clone(b)
	long[5+2*commitmentEntrySize] = 0xff
	if _, err := UnmarshalSigningPackage(long); !errors.Is(err, ErrEncoding) {
		t.Errorf("lying length: %v", err)
	}
}

func seeds(f *testing.F, enc func(*PublicKeyPackage, *KeyShare, *SigningCommitments, *SigningPackage, *SignatureShare) []byte) {
	for _, s := range suites {
		b := enc(fixture(f, s))
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{1})
}

// The fuzzers check that decoders never panic and that whatever they accept
// re-encodes to the same bytes.

func FuzzUnmarshalSigningCommitments(f *testing.F) {
	seeds(f, func(_ *PublicKeyPackage, _ *KeyShare, c *SigningCommitments, _ *SigningPackage, _ *SignatureShare) []byte {
		return c.Marshal()
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := UnmarshalSigningCommitments(b); err == nil && !bytes.Equal(c.Marshal(), b) {
			t.Fatal("accepted bytes do not re-encode")
		}
	})
}

func FuzzUnmarshalSignatureShare(f *testing.F) {
	seeds(f, func(_ *PublicKeyPackage, _ *KeyShare, _ *SigningCommitments, _ *SigningPackage, s *SignatureShare) []byte {
		return s.Marshal()
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := UnmarshalSignatureShare(b); err == nil && !bytes.Equal(s.Marshal(), b) {
			t.Fatal("accepted bytes do not re-encode")
		}
	})
}

func FuzzUnmarshalSigningPackage(f *testing.F) {
	seeds(f, func(_ *PublicKeyPackage, _ *KeyShare, _ *SigningCommitments, p *SigningPackage, _ *SignatureShare) []byte {
		return p.Marshal()
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := UnmarshalSigningPackage(b); err == nil && !bytes.Equal(p.Marshal(), b) {
			t.Fatal("accepted bytes do not re-encode")
		}
	})
}

func FuzzUnmarshalKeyShare(f *testing.F) {
	seeds(f, func(_ *PublicKeyPackage, k *KeyShare, _ *SigningCommitments, _ *SigningPackage, _ *SignatureShare) []byte {
		return k.Marshal()
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := UnmarshalKeyShare(b); err == nil && !bytes.Equal(k.Marshal(), b) {
			t.Fatal("accepted bytes do not re-encode")
		}
	})
}

func FuzzUnmarshalPublicKeyPackage(f *testing.F) {
	seeds(f, func(p *PublicKeyPackage, _ *KeyShare, _ *SigningCommitments, _ *SigningPackage, _ *SignatureShare) []byte {
		return p.Marshal()
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := UnmarshalPublicKeyPackage(b); err == nil && !bytes.Equal(p.Marshal(), b) {
			t.Fatal("accepted bytes do not re-encode")
		}
	})
}

// FuzzVerify: Suite.Verify never panics on arbitrary keys and signatures.
func FuzzVerify(f *testing.F) {
	pub, keys, _ := Deal(Ed25519, nil, 2, idsUpTo(3))
	p, shares := signWith(f, keys, []int{0, 1}, []byte("m"))
	sig, _ := Aggregate(pub, p, shares)
	f.Add(pub.GroupKey(), []byte("m"), sig)
	f.Fuzz(func(t *testing.T, pk, msg, sig []byte) {
		for _, s := range suites {
			_ = s.Verify(pk, msg, sig)
		}
	})
}
