package slicing

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/transport"
)

const knChildEnv = "SLICING_KEYNODE_CHILD" // the child's working directory

// TestKeyNodeChild is the key node process of TestKeyNodeKill9: it serves
// from the data directory and identity files the parent made, printing its
// address, until killed.
func TestKeyNodeChild(t *testing.T) {
	dir := os.Getenv(knChildEnv)
	if dir == "" {
		t.Skip("child process of TestKeyNodeKill9")
	}
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	id, err := transport.LoadIdentity(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"))
	if err != nil {
		fail(err)
	}
	roots, err := transport.LoadCAPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		fail(err)
	}
	instCert, err := transport.LoadCertificate(filepath.Join(dir, "bank.crt"))
	if err != nil {
		fail(err)
	}
	cfg, err := transport.ServerConfig(id, transport.Trust{Roots: roots}, []string{transport.AnyPeer})
	if err != nil {
		fail(err)
	}
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
	node, err := OpenKeyNode(filepath.Join(dir, "data"), &KeyNodeConfig{Name: id.Name,
		Institutions: institutionKeys(instCert)})
	if err != nil {
		fail(err)
	}
	l, err := transport.Listen("127.0.0.1:0", cfg)
	if err != nil {
		fail(err)
	}
	fmt.Printf("addr %s\n", l.Addr())
	fail(node.Serve(context.Background(), l))
}

// knChild is a running key node process.
type knChild struct {
	cmd  *exec.Cmd
	addr NodeAddr
}

func startKnChild(t *testing.T, dir string) *knChild {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyNodeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), knChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		t.Fatalf("key node child said %q (%v)", line, err)
	}
	return &knChild{cmd: cmd, addr: NodeAddr{Name: "node-a", Addr: addr}}
}

// TestKeyNodeKill9 kills a key node process with SIGKILL while a client
// stores slices one user at a time, restarts it on the same data, and
// checks that every store the node acknowledged is there and releases.
func TestKeyNodeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	n := newKnNet(t)
	dir := t.TempDir()
	nodeID, err := n.ca.Issue("node-a")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		nodeID.WriteFiles(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")),
		transport.WriteCertificate(filepath.Join(dir, "ca.crt"), n.ca.Certificate),
		transport.WriteCertificate(filepath.Join(dir, "bank.crt"), n.inst.Certificate),
		os.Mkdir(filepath.Join(dir, "data"), 0o700),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	child := startKnChild(t, dir)
	proc := child.cmd.Process
	ctx := context.Background()
	user := func(i int) string { return fmt.Sprintf("user-%04d", i) }
	acked := 0
	const killAt = 60
	sharings := map[int]*knSharing{}
	storeErr := make(chan error, 1)
	go func() {
		// An institution registers the users (it may register any).
		nc, err := (&NodeClient{Identity: n.inst, Trust: n.user.Trust}).Dial(ctx, child.addr)
		if err != nil {
			storeErr <- err
			return
		}
		defer nc.Close()
		st, err := nc.Status(ctx)
		if err != nil {
			storeErr <- err
			return
		}
		for i := 0; ; i++ {
			ks := knDeal(t, user(i), "signing", 1, 2, 3)
			if err := nc.Store(ctx, ks.c, ks.seal(t, st.PublicKey, 1, 2, 3)); err != nil {
				storeErr <- err
				return
			}
			sharings[i] = ks
			acked = i + 1 // read after storeErr
			if acked == killAt {
				// Kill while the next store is on its way.
				go func() {
					time.Sleep(time.Millisecond)
					proc.Signal(syscall.SIGKILL)
				}()
			}
		}
	}()
	err = <-storeErr
	if !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("store ended with %v, want a closed connection", err)
	}
	child.cmd.Wait()
	if acked < killAt {
		t.Fatalf("only %d stores acknowledged before the kill", acked)
	}
	t.Logf("killed after %d acknowledged stores", acked)

	child = startKnChild(t, dir)
	nc := n.dial(&NodeClient{Identity: n.inst, Trust: n.user.Trust}, child.addr)
	for i := range acked {
		l, err := nc.List(ctx, user(i), "signing")
		if err != nil || l.Epoch() != 1 || len(l.Indexes) != 3 || l.Commitments.Hash() != sharings[i].c.Hash() {
			t.Fatalf("acknowledged store %d after restart: %+v, %v", i, l, err)
		}
	}
	req := knKey(t)
	last := acked - 1
	rec, err := Recover(ctx, n.user, &RecoverRequest{UserID: user(last), KeyID: "signing", Epoch: 1,
		Authorization: n.authorize(req, func(a *custody.Authorization) { a.UserID = user(last) }),
		Requester:     req, Nodes: []NodeAddr{child.addr}, Commitment: sharings[last].c.Hash()})
	if err != nil {
		t.Fatalf("recovery after restart: %v", err)
	}
	if rec.Secret.Equal(sharings[last].secret) != 1 {
		t.Fatal("recovered another secret after restart")
	}
}

func institutionKeys(certs ...*x509.Certificate) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, c := range certs {
		if k, ok := c.PublicKey.(ed25519.PublicKey); ok {
			out = append(out, k)
		}
	}
	return out
}
