package cosign

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare/transport"
)

const serviceCrashEnv = "MASKSHARE_COSIGN_SERVICE_CRASH_DIR"

// TestServiceCrashChild is the child of TestServiceKill9: the service
// process. It serves the service in the directory it is given over
// loopback mutual TLS, printing "addr ADDR", until it is killed.
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
	id, err := transport.LoadIdentity(filepath.Join(dir, "cosign.pem"), filepath.Join(dir, "cosign.key"))
	if err != nil {
		fail("identity", err)
	}
	s, err := OpenService(filepath.Join(dir, "svc"), &ServiceConfig{RA: &RA{CA: ca}})
	if err != nil {
		fail("open", err)
	}
	l, err := Listen("127.0.0.1:0", id, transport.Trust{Roots: ca.Pool()}, nil)
	if err != nil {
		fail("listen", err)
	}
	fmt.Printf("addr %s\n", l.Addr())
	fail("serve", s.Serve(context.Background(), l))
}

// TestServiceKill9 kills the service's process with SIGKILL while four
// clients have requests in flight over mutual TLS, three times, then
// checks what it left: every acknowledged request's id is spent and its
// authorisation and key-use entries are in the log at the index
// acknowledged; every authorisation in the log, acknowledged or not, has
// its key-use entry next to it and its id spent (an append is all or
// nothing); the export verifies offline with the keys of its own
// enrolment entries; the reopened service refuses a replay of an
// acknowledged request, and serves again.
func TestServiceKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	ctx := context.Background()
	for round := range 3 {
		dir := t.TempDir()
		ca, err := transport.NewCA("acme-ra")
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.WriteFiles(filepath.Join(dir, "ra.pem"), filepath.Join(dir, "ra.key")); err != nil {
			t.Fatal(err)
		}
		id, err := ca.Issue("cosign")
		if err != nil {
			t.Fatal(err)
		}
		if err := id.WriteFiles(filepath.Join(dir, "cosign.pem"), filepath.Join(dir, "cosign.key")); err != nil {
			t.Fatal(err)
		}
		e := &testEnv{dir: filepath.Join(dir, "svc"), ra: &RA{CA: ca}}
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
		line, err := bufio.NewReader(out).ReadString('\n')
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
		if err != nil || !ok {
			cmd.Process.Kill()
			t.Fatalf("service did not start: %q %v", line, err)
		}

		type ack struct {
			index int64
			id    [RequestIDSize]byte
		}
		var mu sync.Mutex
		var acks []ack
		killAt := 12 + 8*round
		killed := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		clients := make([]*Client, 4)
		creds := make([]*Credential, 4)
		for c := range clients {
			user := fmt.Sprint("user", c)
			clients[c] = e.dial(t, addr, user)
			if creds[c], _, err = clients[c].Enrol(ctx, user, nil); err != nil {
				t.Fatal(err)
			}
		}
		for c := range clients {
			user, cl, cred := fmt.Sprint("user", c), clients[c], creds[c]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					q := &Request{Org: testOrg, Document: doc(fmt.Sprint(user, i)), ID: NewRequestID()}
					rc, err := cl.SignRequest(ctx, cred, q, time.Now())
					if err != nil {
						select {
						case <-killed:
							return // the service died under this request
						default:
							t.Errorf("%s: %v", user, err)
							return
						}
					}
					mu.Lock()
					acks = append(acks, ack{rc.Index, q.ID})
					if len(acks) == killAt {
						once.Do(func() {
							// killed first: another client may see its
							// connection reset before Signal returns.
							close(killed)
							cmd.Process.Signal(syscall.SIGKILL)
						})
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		cmd.Wait()
		if t.Failed() {
			t.FailNow()
		}

		e.open(t)
		l := e.svc.Log()
		n, err := l.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acks {
			got, err := e.svc.store.Get(bucketRequests, a.id[:])
			if err != nil || len(got) != 8 || int64(binary.BigEndian.Uint64(got)) != a.index {
				t.Fatalf("acknowledged request %x at %d: stored %x, %v", a.id, a.index, got, err)
			}
		}
		// Every authorisation in the log is whole: key-use next, id spent.
		auths := 0
		for i := range n {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if en.Kind != KindAuthorisation {
				continue
			}
			auths++
			q, _ := ParseRequest(en.Payload)
			if use, err := l.Entry(ctx, i+1); err != nil || use.Kind != KindKeyUse || use.User != en.User {
				t.Fatalf("authorisation %d without its key-use entry: %v", i, err)
			}
			got, err := e.svc.store.Get(bucketRequests, q.ID[:])
			if err != nil || int64(binary.BigEndian.Uint64(got)) != i {
				t.Fatalf("logged request %x not spent: %v", q.ID, err)
			}
		}
		if auths < len(acks) {
			t.Fatalf("%d authorisations logged, %d acknowledged", auths, len(acks))
		}
		rep, err := e.verifyExport(t, e.export(t))
		if err != nil {
			t.Fatal(err)
		}
		last := acks[len(acks)-1]
		auth, _ := l.Entry(ctx, last.index)
		use, _ := l.Entry(ctx, last.index+1)
		p := &Proposal{Action: ActionUse, User: auth.User, Time: auth.Time, Payload: auth.Payload}
		if _, err := e.client(auth.User).commit(ctx, p, [][]byte{auth.Signature, use.Signature}); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay after the crash: %v", err)
		}
		cred, _, err := e.client("late").Enrol(ctx, "late", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client("late").Sign(ctx, cred, doc("after the crash"), ""); err != nil {
			t.Fatal(err)
		}
		e.svc.Close()
		t.Logf("round %d: killed with %d acknowledged signatures; %d authorisations in a log of %d entries, all whole, verified", round, len(acks), auths, rep.Entries)
	}
}
