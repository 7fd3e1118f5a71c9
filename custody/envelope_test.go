package custody

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func mustKey(t testing.TB, s Suite) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	for _, suite := range Suites {
		t.Run(suite.String(), func(t *testing.T) {
			k := mustKey(t, suite)
			info := Info("test", []byte("user"), []byte("key"))
			msg := []byte("a slice")
			env, err := Seal(k.Public(), info, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(env) != EnvelopeOverhead+len(msg) {
				t.Fatalf("envelope of %d bytes, want %d", len(env), EnvelopeOverhead+len(msg))
			}
			got, err := Open(k, info, env)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("Open = %q, %v", got, err)
			}
			env2, _ := Seal(k.Public(), info, msg)
			if bytes.Equal(env, env2) {
				t.Fatal("two seals of one message are equal: no fresh encapsulation")
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	k, other := mustKey(t, DefaultSuite), mustKey(t, DefaultSuite)
	info := Info("test", []byte("a"), []byte("b"))
	env, err := Seal(k.Public(), info, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other, info, env); !errors.Is(err, ErrOpen) {
		t.Errorf("another node's key: %v, want ErrOpen", err)
	}
	if _, err := Open(k, Info("test", []byte("a"), []byte("c")), env); !errors.Is(err, ErrOpen) {
		t.Errorf("another info: %v, want ErrOpen", err)
	}
	// Moving bytes between fields must change the info.
	if _, err := Open(k, Info("test", []byte("ab"), []byte("")), env); !errors.Is(err, ErrOpen) {
		t.Errorf("shifted info: %v, want ErrOpen", err)
	}
	for _, i := range []int{1 + suiteSize, len(env) / 2, len(env) - 1} {
		bad := bytes.Clone(env)
		bad[i] ^= 1
		if _, err := Open(k, info, bad); !errors.Is(err, ErrOpen) {
			t.Errorf("flipped byte %d: %v, want ErrOpen", i, err)
		}
	}
	aes := mustKey(t, SuiteAES)
	if _, err := Open(aes, info, env); !errors.Is(err, ErrOpen) {
		t.Errorf("key of another suite: %v, want ErrOpen", err)
	}
	bad := bytes.Clone(env)
	bad[2] ^= 0xff // the KEM id
	if _, err := Open(k, info, bad); !errors.Is(err, ErrBadEnvelope) || !errors.Is(err, ErrUnsupportedSuite) {
		t.Errorf("unknown suite: %v, want ErrBadEnvelope and ErrUnsupportedSuite", err)
	}
	if _, err := Open(k, info, env[:EnvelopeOverhead-1]); !errors.Is(err, ErrBadEnvelope) {
		t.Errorf("short envelope: %v, want ErrBadEnvelope", err)
	}
}

func TestInfoInjective(t *testing.T) {
	cases := [][]any{
		{"l", [][]byte{[]byte("ab"), []byte("c")}},
		{"l", [][]byte{[]byte("a"), []byte("bc")}},
		{"l", [][]byte{[]byte("abc")}},
		{"l", [][]byte{[]byte("abc"), nil}},
		{"la", [][]byte{[]byte("bc")}},
		{"", [][]byte{[]byte("labc")}},
	}
	seen := map[string]int{}
	for i, c := range cases {
		s := string(Info(c[0].(string), c[1].([][]byte)...))
		if j, ok := seen[s]; ok {
			t.Errorf("cases %d and %d give the same info", j, i)
		}
		seen[s] = i
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	k := mustKey(t, DefaultSuite)
	b := k.Public().Bytes()
	if len(b) != PublicKeySize {
		t.Fatalf("%d bytes, want %d", len(b), PublicKeySize)
	}
	p, err := ParsePublicKey(b)
	if err != nil || !p.Equal(k.Public()) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	p, err = ParsePublicKeyString(k.Public().String())
	if err != nil || !p.Equal(k.Public()) {
		t.Fatalf("ParsePublicKeyString: %v", err)
	}
	// A key parsed back seals to the same recipient.
	env, err := Seal(p, nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(k, nil, env); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "hpke1:", k.Public().String() + "A", "hpke2:" + k.Public().String()[6:]} {
		if _, err := ParsePublicKeyString(s); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKeyString(%.12q...) = %v, want ErrBadKey", s, err)
		}
	}
	b[0] = 2
	if _, err := ParsePublicKey(b); !errors.Is(err, ErrBadKey) {
		t.Errorf("version 2: %v", err)
	}
}

func TestPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.hpke")
	k, created, err := LoadOrCreateKey(path, DefaultSuite)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateKey: %v, created %v", err, created)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKey(path, DefaultSuite)
	if err != nil || created || !k2.Public().Equal(k.Public()) {
		t.Fatalf("reload: %v, created %v", err, created)
	}
	if err := WritePrivateKeyFile(path, k); err == nil {
		t.Fatal("WritePrivateKeyFile replaced an existing key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateKeyFile(path); err == nil {
		t.Fatal("read a key file that others can read")
	}
}

func FuzzParseEnvelope(f *testing.F) {
	k := mustKey(f, DefaultSuite)
	env, err := Seal(k.Public(), Info("fuzz"), []byte("seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Add(env[:EnvelopeOverhead])
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrBadEnvelope) {
				t.Fatalf("error %v does not wrap ErrBadEnvelope", err)
			}
			return
		}
		if !bytes.Equal(e.Bytes(), b) {
			t.Fatal("re-encoding differs")
		}
		// Whatever parses must fail to open cleanly unless it is a
		// real envelope for k.
		if _, err := Open(k, Info("fuzz"), b); err != nil && !errors.Is(err, ErrOpen) {
			t.Fatalf("Open: %v", err)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(mustKey(f, DefaultSuite).Public().Bytes())
	f.Add(mustKey(f, SuiteAES).Public().Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) && !errors.Is(err, ErrUnsupportedSuite) {
				t.Fatalf("error %v wraps neither ErrBadKey nor ErrUnsupportedSuite", err)
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatal("re-encoding differs")
		}
		q, err := ParsePublicKeyString(p.String())
		if err != nil || !q.Equal(p) {
			t.Fatalf("text form does not round-trip: %v", err)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	b, err := mustKey(f, DefaultSuite).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKey(b)
		if err != nil {
			return
		}
		got, err := k.MarshalBinary()
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
