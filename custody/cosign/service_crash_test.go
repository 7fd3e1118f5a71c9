package cosign

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
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

	"github.com/maskshare/maskshare/transport"
)

const serviceCrashEnv = "MASKSHARE_COSIGN_SERVICE_CRASH_DIR"

// TestServiceCrashChild is the child of TestServiceKill9: it opens the
// service in the directory it is given, enrols alice, then has documents
// signed one after another, printing "ack INDEX ID" once each signature
// is returned, until it is killed.
func TestServiceCrashChild(t *testing.T) {
	dir := os.Getenv(serviceCrashEnv)
	if dir == "" {
		t.Skip("child process of TestServiceKill9")
	}
	fail := func(what string, err error) { fmt.Println(what+":", err); os.Exit(1) }
	ca, err := transport.LoadCA(filepath.Join(dir, "ra.pem"), filepath.Join(dir, "ra.key"))
	if err != nil {
		fail("ca", err)
	}
	s, err := OpenService(filepath.Join(dir, "svc"), &ServiceConfig{RA: &RA{CA: ca}})
	if err != nil {
		fail("open", err)
	}
	cl := NewClient(s.Local(peerOf("alice")))
	ctx := context.Background()
	cred, _, err := cl.Enrol(ctx, "alice", nil)
	if err != nil {
		fail("enrol", err)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		q := &Request{Org: testOrg, Document: doc(fmt.Sprint("document ", i)), ID: NewRequestID()}
		rc, err := cl.SignRequest(ctx, cred, q, time.Now())
		if err != nil {
			fail("sign", err)
		}
		fmt.Fprintf(w, "ack %d %x\n", rc.Index, q.ID)
		w.Flush()
	}
}

// TestServiceKill9 kills the service's process with SIGKILL while it
// serves requests, three times, then checks what it left: every
// acknowledged request's id is spent and its authorisation and key-use
// entries are in the log at the index acknowledged; the export verifies
// offline (every user entry's signature with the certificate from its
// enrolment); the service reopens and refuses a replay of an acknowledged
// request; and it serves again.
func TestServiceKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	ctx := context.Background()
	for round := range 3 {
		dir := t.TempDir()
		e := &testEnv{dir: filepath.Join(dir, "svc")}
		ca, err := transport.NewCA("acme-ra")
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.WriteFiles(filepath.Join(dir, "ra.pem"), filepath.Join(dir, "ra.key")); err != nil {
			t.Fatal(err)
		}
		e.ra = &RA{CA: ca}
		if _, err := InitService(e.dir, testOrg, "cosign.acme.example/log", e.ra); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestServiceCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), serviceCrashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 15 + 10*round
		type ack struct {
			index int64
			id    []byte
		}
		var acks []ack
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("child: %s", sc.Text())
			}
			idx, err1 := strconv.ParseInt(f[1], 10, 64)
			id, err2 := hex.DecodeString(f[2])
			if err1 != nil || err2 != nil {
				t.Fatalf("child: %s", sc.Text())
			}
			acks = append(acks, ack{idx, id})
			if len(acks) == killAt {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		cmd.Wait()
		if len(acks) < killAt {
			t.Fatalf("child stopped after %d acknowledgements, before the kill", len(acks))
		}
		e.open(t)
		l := e.svc.Log()
		for _, a := range acks {
			got, err := e.svc.store.Get(bucketRequests, a.id)
			if err != nil || int64(be64(got)) != a.index {
				t.Fatalf("acknowledged request %x at %d: stored %v, %v", a.id, a.index, got, err)
			}
			auth, err := l.Entry(ctx, a.index)
			if err != nil || auth.Kind != KindAuthorisation {
				t.Fatalf("entry %d: %v %v", a.index, auth, err)
			}
			q, err := ParseRequest(auth.Payload)
			if err != nil || string(q.ID[:]) != string(a.id) {
				t.Fatalf("entry %d is not request %x", a.index, a.id)
			}
			if use, err := l.Entry(ctx, a.index+1); err != nil || use.Kind != KindKeyUse {
				t.Fatalf("key-use entry %d: %v", a.index+1, err)
			}
		}
		rep, err := e.verifyExport(t, e.export(t))
		if err != nil {
			t.Fatal(err)
		}
		last := acks[len(acks)-1]
		auth, _ := l.Entry(ctx, last.index)
		use, _ := l.Entry(ctx, last.index+1)
		p := &Proposal{Action: ActionUse, User: "alice", Time: auth.Time, Payload: auth.Payload}
		_, err = e.client("alice").commit(ctx, p, [][]byte{auth.Signature, use.Signature})
		if !errors.Is(err, ErrReplay) && !errors.Is(err, ErrClockSkew) {
			t.Fatalf("replay after the crash: %v", err)
		}
		e.svc.Close()
		t.Logf("round %d: killed after %d acknowledged signatures; log of %d entries verified", round, len(acks), rep.Entries)
	}
}

func be64(b []byte) uint64 {
	if len(b) != 8 {
		return 1<<64 - 1
	}
	return binary.BigEndian.Uint64(b)
}
