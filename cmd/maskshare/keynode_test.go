package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// startKeynode starts `maskshare keynode` in dir and waits for it to print
// its address and node key.
func startKeynode(t *testing.T, dir, addr, instKey string) (*proc, string) {
	t.Helper()
	p := start(t, dir, "keynode", "--listen", addr, "--dir", "node-a/data",
		"--key", "node-a/node-a.key", "--cert", "node-a/node-a.crt", "--ca", "ca/ca.crt",
		"--institution", instKey, "--log-level", "debug")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := p.stdout.String()
		if strings.Contains(out, "listening on "+addr) && strings.Contains(out, "tls key:") {
			return p, field(t, out, "node key:")
		}
		select {
		case err := <-p.done:
			t.Fatalf("keynode exited: %v\n%s\n%s", err, out, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("keynode did not start:\n%s\n%s", p.stdout.String(), p.stderr)
	return nil, ""
}

// TestKeynode runs `maskshare keynode` as a process: a user's device stores
// its slices over mutual TLS, the node is killed with SIGKILL and
// restarted, and the slices are released with an institution's
// authorisation; SIGTERM then stops the node cleanly.
func TestKeynode(t *testing.T) {
	dir := t.TempDir()
	keys := map[string]string{}
	run(t, dir, "ca", "init", "--dir", "ca", "--name", "test-ca")
	for _, name := range []string{"node-a", "bank-1", "alice"} {
		keys[name] = keygen(t, filepath.Join(dir, name), name)
		run(t, dir, "ca", "sign", "--dir", "ca", filepath.Join(name, name+".csr"))
	}
	roots, err := transport.LoadCAPool(filepath.Join(dir, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	identity := func(name string) *transport.Identity {
		id, err := transport.LoadIdentity(filepath.Join(dir, name, name+".crt"), filepath.Join(dir, name, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	device := &slicing.NodeClient{Identity: identity("alice"), Trust: transport.Trust{Roots: roots}}
	bank := identity("bank-1")

	addr := freeAddr(t)
	p, nodeKey := startKeynode(t, dir, addr, keys["bank-1"])
	node := slicing.NodeAddr{Name: "node-a", Addr: addr}
	ctx := context.Background()
	nc, err := device.Dial(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	st, err := nc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if st.PublicKey.String() != nodeKey {
		t.Fatalf("status key %s, printed %s", st.PublicKey, nodeKey)
	}
	secret, err := slicing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	assign, com, err := slicing.DealSlices("alice", "signing", share.Feldman, secret, 2, 1, []slicing.NodeAddr{node}, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	if err := slicing.Register(ctx, device, com, assign); err != nil {
		t.Fatal(err)
	}

	// kill -9 and restart on the same data: same node key, slices there.
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	p, key2 := startKeynode(t, dir, addr, keys["bank-1"])
	if key2 != nodeKey {
		t.Fatalf("node key changed across a restart: %s, then %s", nodeKey, key2)
	}
	requester, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := custody.NewNonce()
	auth := &custody.Authorization{UserID: "alice", KeyID: "signing", Epoch: 1, Requester: requester.Public(),
		Nodes: []string{"node-a"}, Expiry: time.Now().Add(5 * time.Minute), Nonce: nonce}
	signed, err := auth.Sign(bank.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	// The user's new device; only the requester key matters to the node.
	recovery := &slicing.NodeClient{Identity: identity("alice"), Trust: transport.Trust{Roots: roots}}
	r := &slicing.RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: signed, Requester: requester, Nodes: []slicing.NodeAddr{node}, Commitment: com.Hash()}
	rec, err := slicing.Recover(ctx, recovery, r)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Secret.Equal(secret) != 1 {
		t.Fatal("recovered another secret")
	}
	// The node refuses the same authorisation again.
	if _, err := slicing.Recover(ctx, recovery, r); !errors.Is(err, custody.ErrReplay) {
		t.Fatalf("replayed authorisation: %v", err)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("keynode after SIGTERM: %v\n%s", err, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "shut down") {
		t.Fatalf("no shutdown message:\n%s", p.stderr)
	}
}

func TestKeynodeFlags(t *testing.T) {
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "node-a"), "node-a")
	base := []string{"keynode", "--listen", "127.0.0.1:0", "--dir", "data", "--key", "node-a/node-a.key", "--cert", "node-a/node-a.crt"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(base, "--ca", "node-a/node-a.crt"), "--institution"},
		{append(base, "--peer", "x=ed25519:AAAA", "--institution", "ed25519:AAAA"), "--institution 1"},
		{append(base, "--institution", keygen(t, filepath.Join(dir, "bank"), "bank")), "--ca or --peer"},
	} {
		out := runFail(t, dir, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%v: output does not name %q:\n%s", tc.args[9:], tc.want, out)
		}
	}
}
