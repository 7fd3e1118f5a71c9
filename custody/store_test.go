package custody

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func openTestStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenStore(path, &StoreConfig{Buckets: []string{"b", NonceBucket, NonceExpiryBucket}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreBasics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := openTestStore(t, path)
	if _, err := s.Get("b", []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	v := []byte("value")
	if err := s.Put("b", []byte("k"), v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X' // the store kept its own copy
	got, err := s.Get("b", []byte("k"))
	if err != nil || string(got) != "value" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := s.Put("nobucket", []byte("k"), v); err == nil {
		t.Fatal("Put into a missing bucket succeeded")
	}
	// A failing transaction leaves nothing behind.
	boom := errors.New("boom")
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("b", []byte("k2"), []byte("v2")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := s.Get("b", []byte("k2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled-back write visible: %v", err)
	}
	for _, k := range []string{"p/1", "p/2", "q/1"} {
		if err := s.Put("b", []byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	s.View(func(tx *Tx) error {
		return tx.ForEachPrefix("b", []byte("p/"), func(k, v []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if strings.Join(keys, ",") != "p/1,p/2" {
		t.Fatalf("ForEachPrefix = %v", keys)
	}
	if err := s.Delete("b", []byte("p/1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("b", []byte("p/1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	// A second opener waits for the lock, then gives up.
	if _, err := OpenStore(path, &StoreConfig{LockTimeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("opened a store another handle holds")
	}
	s.Close()
	if err := s.Put("b", []byte("k"), v); !errors.Is(err, ErrStoreClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, %v", fi.Mode().Perm(), err)
	}
}

// crashRecord is record i of the crash test: its value is derived from i, so
// that the parent can check it whole.
func crashRecord(i int) (key, value []byte) {
	key = binary.BigEndian.AppendUint64(nil, uint64(i))
	h := sha256.Sum256(key)
	value = bytes.Repeat(h[:], 1+i%40) // 32 B to 1.3 KiB, spilling pages
	return key, value
}

const crashEnv = "CUSTODY_STORE_CRASH_CHILD"

// TestStoreCrashChild is the child of TestStoreKill9: it writes records
// until killed, printing each index once its transaction has committed.
func TestStoreCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child process of TestStoreKill9")
	}
	s, err := OpenStore(path, &StoreConfig{Buckets: []string{"b"}})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		k, v := crashRecord(i)
		// Every other record also rewrites an older one and deletes
		// another, so that the kill may land in a transaction that
		// frees and reuses pages.
		err := s.Update(func(tx *Tx) error {
			if err := tx.Put("b", k, v); err != nil {
				return err
			}
			if i%2 == 1 {
				ok, ov := crashRecord(i / 2)
				if err := tx.Put("b", ok, ov); err != nil {
					return err
				}
				if err := tx.Put("b", []byte("scratch"), v); err != nil {
					return err
				}
				return tx.Delete("b", []byte("scratch"))
			}
			return nil
		})
		if err != nil {
			fmt.Println("write:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "ack %d\n", i)
		w.Flush()
	}
}

// TestStoreKill9 kills a process with SIGKILL while it writes, then checks
// that the store opens cleanly and holds every record the process
// acknowledged, intact.
func TestStoreKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "crash.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a varying number of acknowledgements, while the
		// child is in the middle of later writes.
		killAt := 200 + 150*round
		sc := bufio.NewScanner(out)
		acked := -1
		for sc.Scan() {
			line := sc.Text()
			n, ok := strings.CutPrefix(line, "ack ")
			if !ok {
				t.Fatalf("child: %s", line)
			}
			i, err := strconv.Atoi(n)
			if err != nil || i != acked+1 {
				t.Fatalf("child acknowledged %q after %d", line, acked)
			}
			acked = i
			if acked == killAt {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Acknowledgements already in the pipe when the kill landed
		// count too: they were written after their commit.
		cmd.Wait()
		if acked < killAt {
			t.Fatalf("child stopped after %d acknowledgements, before the kill", acked)
		}
		s, err := OpenStore(path, &StoreConfig{LockTimeout: time.Second})
		if err != nil {
			t.Fatalf("reopen after kill -9: %v", err)
		}
		err = s.View(func(tx *Tx) error {
			for err := range tx.tx.Check() { // bbolt's consistency check
				return fmt.Errorf("consistency check: %w", err)
			}
			for i := 0; i <= acked; i++ {
				k, want := crashRecord(i)
				got, err := tx.Get("b", k)
				if err != nil {
					return fmt.Errorf("acknowledged record %d: %w", i, err)
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("acknowledged record %d is corrupt", i)
				}
			}
			return nil
		})
		s.Close()
		if err != nil {
			t.Fatalf("round %d, killed after %d acknowledgements: %v", round, acked, err)
		}
		t.Logf("round %d: killed after %d acknowledgements; all present and intact", round, acked)
	}
}
