package custody

import (
	"path/filepath"
	"testing"
)

func BenchmarkSeal(b *testing.B) {
	k := mustKey(b, DefaultSuite)
	info, msg := Info("bench", []byte("alice")), make([]byte, 74) // a Pedersen share
	for b.Loop() {
		if _, err := Seal(k.Public(), info, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustKey(b, DefaultSuite)
	info := Info("bench", []byte("alice"))
	env, err := Seal(k.Public(), info, make([]byte, 74))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Open(k, info, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStorePut is one durable (fsync'd) write: the floor of every
// acknowledged store at a key node.
func BenchmarkStorePut(b *testing.B) {
	s, err := OpenStore(filepath.Join(b.TempDir(), "db"), &StoreConfig{Buckets: []string{"b"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v := make([]byte, 1300)
	i := 0
	for b.Loop() {
		i++
		if err := s.Put("b", []byte{byte(i >> 16), byte(i >> 8), byte(i)}, v); err != nil {
			b.Fatal(err)
		}
	}
}
