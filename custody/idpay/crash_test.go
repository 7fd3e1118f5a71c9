package idpay

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "IDPAY_BACKEND_CRASH_CHILD"

// TestBackendCrashChild is the child of TestBackendKill9: it records online
// payments until killed, printing each transaction ID once the back end
// has acknowledged it.
func TestBackendCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child process of TestBackendKill9")
	}
	f := newFixture(t, false)
	b, err := OpenBackend(path, newTrust(nil, f.shop, f.bank))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	f.backend = b
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "issuers %x %x\n", f.shop.PublicKey(), f.bank.PublicKey())
	w.Flush()
	for i := 1; ; i++ {
		p := f.onlinePayment(t, uint64(i))
		if _, err := b.SubmitPayment(ctx, p.Bytes(), t0.Add(6*time.Second)); err != nil {
			fmt.Println("submit:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "ack %x %d\n", p.Request.TxID, i)
		w.Flush()
	}
}

// TestBackendKill9 kills the back end with SIGKILL while it records
// payments, then reopens its store and finds every acknowledged payment,
// intact (its signatures verify with crypto/ed25519) and still refused as
// a replay.
func TestBackendKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for round := range 2 {
		path := filepath.Join(t.TempDir(), "backend.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestBackendCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 60 + 90*round
		sc := bufio.NewScanner(out)
		var issuers []string
		acked := map[string]uint64{}
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "issuers "); ok {
				issuers = strings.Fields(rest)
				continue
			}
			var tx string
			var amount uint64
			if _, err := fmt.Sscanf(line, "ack %s %d", &tx, &amount); err != nil {
				t.Fatalf("child: %s", line)
			}
			acked[tx] = amount
			if len(acked) == killAt {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		cmd.Wait()
		if len(acked) < killAt || len(issuers) != 2 {
			t.Fatalf("child stopped after %d acknowledgements, before the kill", len(acked))
		}
		shop, _ := hex.DecodeString(issuers[0])
		bank, _ := hex.DecodeString(issuers[1])
		tr := NewTrust(nil)
		tr.AddIssuer("shop.example", shop)
		tr.AddIssuer("bank.example", bank)
		b, err := OpenBackend(path, tr)
		if err != nil {
			t.Fatalf("reopen after kill -9: %v", err)
		}
		for tx, amount := range acked {
			var id [TxIDSize]byte
			hex.Decode(id[:], []byte(tx))
			rec, err := b.Lookup(id)
			if err != nil {
				t.Fatalf("acknowledged payment %s: %v", tx, err)
			}
			p, err := ParsePayment(rec.Raw)
			if err != nil || rec.Amount != amount || !ed25519.Verify(p.Payer.PublicKey, p.SignedMessage(), p.Signature) ||
				!ed25519.Verify(shop, p.Request.Payee.SignedMessage(), p.Request.Payee.Signature) {
				t.Fatalf("acknowledged payment %s is corrupt: %v", tx, err)
			}
			if _, err := b.SubmitPayment(ctx, rec.Raw, t0.Add(6*time.Second)); err == nil {
				t.Fatalf("payment %s accepted again after the restart", tx)
			}
		}
		b.Close()
		t.Logf("round %d: killed after %d acknowledgements; all present, intact and refused as replays", round, len(acked))
	}
}
