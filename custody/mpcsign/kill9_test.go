package mpcsign

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/transport"
)

const kill9Env = "MPCSIGN_KILL9_CHILD"

type kill9Config struct {
	Dir, Cert, Key, CA string
	Pool               []NodeAddr
}

// TestHolderKill9MidRefresh kills a holder process (SIGKILL) while it
// refreshes an account over and over, at varying points, and checks that
// the reopened holder has lost no acknowledged refresh (its epoch is at
// least the last one the child reported done), holds all n shares of its
// current epoch (never fewer than t usable), signs with them, and
// refreshes again.
func TestHolderKill9MidRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	p := newTestPool(t, "n1", "n2", "n3", "n4", "n5")
	acct := p.create(3, 5)
	dir := t.TempDir()
	cfg := kill9Config{Dir: dir, Cert: filepath.Join(dir, "holder.crt"), Key: filepath.Join(dir, "holder.key"), CA: filepath.Join(dir, "ca.crt")}
	if err := p.holdID.WriteFiles(cfg.Cert, cfg.Key); err != nil {
		t.Fatal(err)
	}
	if err := p.ca.WriteFiles(cfg.CA, filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	for _, n := range p.names {
		cfg.Pool = append(cfg.Pool, NodeAddr{Name: n, Addr: p.nodes[n].addr})
	}
	// The child uses the test holder's data: move it into dir.
	hdir := filepath.Dir(p.holder.store.Path())
	p.holder.Close()
	for _, f := range []string{HolderKeyFile, HolderStoreFile} {
		if err := os.Rename(filepath.Join(hdir, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	cj, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "child.json")
	os.WriteFile(cfgPath, cj, 0o600)
	var h *Holder
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHolderKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), kill9Env+"="+cfgPath)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 1 + round%2
		acked, seen := uint32(0), 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			e, ok := strings.CutPrefix(sc.Text(), "refreshed ")
			if !ok {
				continue
			}
			v, err := strconv.ParseUint(e, 10, 32)
			if err != nil {
				t.Fatal(err)
			}
			acked = uint32(v)
			if seen++; seen == killAfter {
				// Somewhere inside the next refresh.
				time.Sleep(time.Duration(round*3) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		if seen < killAfter {
			t.Fatalf("child stopped after %d refreshes", seen)
		}
		h, err = OpenHolder(dir, &HolderConfig{Identity: p.holdID, Trust: transport.Trust{Roots: p.ca.Pool()}, Pool: cfg.Pool, DialTimeout: time.Second})
		if err != nil {
			t.Fatalf("reopen after kill -9: %v", err)
		}
		epoch, ids, err := h.usableShares("acct")
		if err != nil {
			t.Fatal(err)
		}
		if epoch < acked {
			t.Fatalf("round %d: epoch %d after the child acknowledged epoch %d", round, epoch, acked)
		}
		if len(ids) != 5 {
			t.Fatalf("round %d: %d usable shares at epoch %d, want all 5", round, len(ids), epoch)
		}
		rec, _, _ := h.Account("acct")
		if string(rec.GroupKey()) != string(acct.GroupKey()) {
			t.Fatal("group key changed")
		}
		// Old epochs' shares went with the commit; a pending refresh's
		// shares (epoch+1) may remain until the next Refresh.
		pending, older := 0, 0
		h.store.View(func(tx *custody.Tx) error {
			return tx.ForEachPrefix(holderShares, nil, func(k, _ []byte) error {
				switch e := binary.BigEndian.Uint32(k[len(k)-6:]); {
				case e < epoch:
					older++
				case e == epoch+1:
					pending++
				}
				return nil
			})
		})
		if older != 0 {
			t.Fatalf("round %d: %d shares of older epochs kept", round, older)
		}
		p.holder = h
		p.nextStep()
		msg := fmt.Appendf(nil, "after kill %d", round)
		sig, err := p.sign(msg, []string{"n1", "n3", "n5"})
		if err != nil || !ed25519.Verify(acct.GroupKey(), msg, sig) {
			t.Fatalf("round %d: sign after kill: %v", round, err)
		}
		t.Logf("round %d: killed after epoch %d was acknowledged; holder at epoch %d with %d shares (%d pending shares of an interrupted refresh), signs", round, acked, epoch, len(ids), pending)
		h.Close()
	}
}

// TestHolderKill9Child is the child of TestHolderKill9MidRefresh: it
// refreshes until killed, printing each acknowledged epoch.
func TestHolderKill9Child(t *testing.T) {
	path := os.Getenv(kill9Env)
	if path == "" {
		t.Skip("child process of TestHolderKill9MidRefresh")
	}
	var cfg kill9Config
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	id, err := transport.LoadIdentity(cfg.Cert, cfg.Key)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := transport.LoadCAPool(cfg.CA)
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenHolder(cfg.Dir, &HolderConfig{Identity: id, Trust: transport.Trust{Roots: roots}, Pool: cfg.Pool})
	if err != nil {
		t.Fatal(err)
	}
	for {
		res, err := h.Refresh(context.Background(), "acct")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("refreshed %d\n", res.Epoch)
	}
}
