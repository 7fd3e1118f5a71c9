package cosign

import (
	"bufio"
	"bytes"
	"context"
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
)

const crashEnv = "MASKSHARE_COSIGN_CRASH_DB"

// crashEntry is the i-th entry the child appends: fixed, so that the
// parent can check it byte for byte (Ed25519 signatures are
// deterministic).
func crashEntry(i int) *Entry {
	e := &Entry{Kind: KindAuthorisation, Signer: SignedByUser, Time: time.Unix(1_800_000_000, int64(i)).UTC(),
		User: "alice", Payload: []byte(fmt.Sprintf("request %d", i))}
	if err := e.Sign(testOrigin, aliceKey); err != nil {
		panic(err)
	}
	return e
}

// TestLogCrashChild is the child of TestLogKill9: it appends entries,
// one at a time and in batches of up to 9, printing "ack FIRST LAST" once
// Append has returned, until it is killed.
func TestLogCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child process of TestLogKill9")
	}
	s, err := custody.OpenStore(path, &custody.StoreConfig{Buckets: LogBuckets})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	l, err := OpenLog(s, testOrigin, logKey, testUser, &LogConfig{MaxSkew: -1})
	if err != nil {
		fmt.Println("open log:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; {
		batch := 1 + i%9
		es := make([]*Entry, batch)
		for j := range es {
			es[j] = crashEntry(i + j)
		}
		first, _, err := l.Append(context.Background(), es...)
		if err != nil || first != int64(i) {
			fmt.Println("append:", first, err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "ack %d %d\n", i, i+batch-1)
		w.Flush()
		i += batch
	}
}

// TestLogKill9 kills a process with SIGKILL while it appends, then checks
// the log it left: every acknowledged entry is there, intact, in order;
// the latest checkpoint verifies and covers exactly the entries present;
// every entry's inclusion proof verifies against it; the root recomputed
// from the entries by the independent oracle is the checkpoint's; and the
// export passes the offline verifier.
func TestLogKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	ctx := context.Background()
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "crash.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestLogCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 40 + 35*round // acknowledgements before the kill
		sc := bufio.NewScanner(out)
		acked, acks := -1, 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("child: %s", sc.Text())
			}
			first, _ := strconv.Atoi(f[1])
			last, _ := strconv.Atoi(f[2])
			if first != acked+1 || last < first {
				t.Fatalf("child acknowledged %q after %d", sc.Text(), acked)
			}
			acked = last
			if acks++; acks == killAt {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		cmd.Wait()
		if acks < killAt {
			t.Fatalf("child stopped after %d acknowledgements, before the kill", acks)
		}

		s, err := custody.OpenStore(path, &custody.StoreConfig{Buckets: LogBuckets, LockTimeout: time.Second})
		if err != nil {
			t.Fatalf("reopen after kill -9: %v", err)
		}
		l, err := OpenLog(s, testOrigin, logKey, testUser, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := l.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n < int64(acked)+1 {
			t.Fatalf("round %d: %d entries after %d were acknowledged", round, n, acked+1)
		}
		signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(signed, logVerifier(t, l))
		if err != nil || c.Size != n {
			t.Fatalf("latest checkpoint %+v for %d entries: %v", c, n, err)
		}
		var leaves [][32]byte
		for i := int64(0); i < n; i++ {
			e, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
			rec, _ := e.Marshal()
			want, _ := crashEntry(int(i)).Marshal()
			if !bytes.Equal(rec, want) {
				t.Fatalf("entry %d is not the one appended", i)
			}
			p, err := l.ProveInclusion(ctx, i, -1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Verify(rec, logVerifier(t, l)); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
			leaves = append(leaves, oracleLeaf(rec))
		}
		if oracleMTH(leaves) != [32]byte(c.Hash) {
			t.Fatal("the oracle's root of the entries is not the checkpoint's")
		}
		var exp bytes.Buffer
		if err := l.Export(ctx, &exp); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyExport(&exp, l.VerifierKey(), &VerifyConfig{Users: testUser}); err != nil {
			t.Fatal(err)
		}
		// The log goes on appending after the crash.
		if _, _, err := l.Append(ctx, userEntry(t, testOrigin, KindAuthorisation, "bob", bobKey, "after the crash")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		t.Logf("round %d: killed after %d acknowledged entries; %d present, all verified", round, acked+1, n)
	}
}
