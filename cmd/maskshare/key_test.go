package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/transport"
)

// startNamedKeynode starts `maskshare keynode` for the identity in
// dir/name, trusting the institutions' keys, and returns it with the node
// key it printed.
func startNamedKeynode(t *testing.T, dir, name, addr string, institutions []string) (*proc, string) {
	t.Helper()
	args := []string{"keynode", "--listen", addr, "--dir", filepath.Join(name, "data"),
		"--key", filepath.Join(name, name+".key"), "--cert", filepath.Join(name, name+".crt"), "--ca", filepath.Join("ca", "ca.crt")}
	for _, k := range institutions {
		args = append(args, "--institution", k)
	}
	p := start(t, dir, args...)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := p.stdout.String()
		if strings.Contains(out, "listening on "+addr) && strings.Contains(out, "tls key:") {
			return p, field(t, out, "node key:")
		}
		select {
		case err := <-p.done:
			t.Fatalf("keynode %s exited: %v\n%s\n%s", name, err, out, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("keynode %s did not start:\n%s\n%s", name, p.stdout.String(), p.stderr)
	return nil, ""
}

// testNodes are the nodes of the CLI tests: 2 institutions, more reliable
// than the 4 clients.
func testNodes() keyPlacementFile {
	f := keyPlacementFile{}
	for _, name := range []string{"bank-1", "bank-2"} {
		f.Nodes = append(f.Nodes, keyNodeSpec{Name: name, Kind: "institution", Loss: "1/1000", Compromise: "0.001"})
	}
	for i := range 4 {
		f.Nodes = append(f.Nodes, keyNodeSpec{Name: fmt.Sprintf("client-%d", i+1), Kind: "client", Loss: "1/20", Compromise: "1/100"})
	}
	return f
}

// libraryNodes converts the nodes for package slicing, the oracle.
func libraryNodes(t *testing.T, f keyPlacementFile) []slicing.Node {
	t.Helper()
	var out []slicing.Node
	for _, n := range f.Nodes {
		l, err := slicing.ParseProbability(n.Loss)
		if err != nil {
			t.Fatal(err)
		}
		c, err := slicing.ParseProbability(n.Compromise)
		if err != nil {
			t.Fatal(err)
		}
		k := slicing.Client
		if n.Kind == "institution" {
			k = slicing.Institution
		}
		out = append(out, slicing.Node{Name: n.Name, Kind: k, Slices: n.Slices, Loss: l, Compromise: c})
	}
	return out
}

// checkOdds compares the odds a command printed with the library's: the
// exact fraction (when printed), the float and the power of two of each
// probability, the threshold and the institutions' rule.
func checkOdds(t *testing.T, out string, o *slicing.Odds, wantFractions bool) {
	t.Helper()
	var th, n int
	if _, err := fmt.Sscanf(field(t, out, "threshold:"), "%d of %d slices", &th, &n); err != nil || th != o.Threshold || n != o.Slices {
		t.Errorf("printed threshold %q, library: %d of %d (%v)", field(t, out, "threshold:"), o.Threshold, o.Slices, err)
	}
	rule := field(t, out, fmt.Sprintf("institutions hold %d slices together; below the threshold:", o.InstitutionSlices))
	if (rule == "yes") != o.InstitutionsBelow {
		t.Errorf("printed rule %q, library InstitutionsBelow = %v", rule, o.InstitutionsBelow)
	}
	for _, p := range []struct {
		name string
		r    *big.Rat
	}{
		{"P(lost):", o.Lost},
		{"P(compromised):", o.Compromised},
		{"P(compromised, institutions collude):", o.CompromisedWithInstitutions},
	} {
		parts := strings.Split(field(t, out, p.name), "  ~ ")
		if len(parts) != 3 {
			t.Fatalf("%s printed as %q", p.name, field(t, out, p.name))
		}
		if strings.HasPrefix(parts[0], "(") {
			if wantFractions {
				t.Errorf("%s: no exact fraction printed: %q", p.name, parts[0])
			}
		} else if got, ok := new(big.Rat).SetString(parts[0]); !ok || got.Cmp(p.r) != 0 {
			t.Errorf("%s printed %s, library %s", p.name, parts[0], p.r.RatString())
		}
		f, err := strconv.ParseFloat(parts[1], 64)
		want := slicing.Float(p.r)
		if err != nil || math.Abs(f-want) > 1e-5*math.Abs(want) {
			t.Errorf("%s printed %q, library %g", p.name, parts[1], want)
		}
		if parts[2] != slicing.Pow2(p.r) {
			t.Errorf("%s printed %q, library %q", p.name, parts[2], slicing.Pow2(p.r))
		}
	}
}

// readPlacement reads a placement file the CLI wrote.
func readPlacement(t *testing.T, path string) keyPlacementFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f keyPlacementFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return f
}

// signScalar is an RFC 8032 signature with the secret scalar a and a random
// nonce: a recovered key is a scalar, not a seed. R = r·B,
// k = SHA-512(R || A || msg), S = r + k·a.
func signScalar(t *testing.T, a *edwards25519.Scalar, msg []byte) []byte {
	t.Helper()
	var rb [64]byte
	rand.Read(rb[:])
	r, err := edwards25519.NewScalar().SetUniformBytes(rb[:])
	if err != nil {
		t.Fatal(err)
	}
	R := new(edwards25519.Point).ScalarBaseMult(r)
	A := new(edwards25519.Point).ScalarBaseMult(a)
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(A.Bytes())
	h.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return append(R.Bytes(), edwards25519.NewScalar().MultiplyAdd(k, a, r).Bytes()...)
}

// TestKeyCLI runs the key slicing system through the CLI alone, with 6
// `maskshare keynode` processes: key place chooses the placement (checked
// against slicing.Plan), key odds prints its odds (checked against
// Placement.Odds), the user's device splits a key onto the nodes, an
// institution refreshes it and repairs a node that lost its disk, client
// nodes go down, an institution authorises a new device's recovery, and the
// recovered key signs a message that crypto/ed25519 verifies under the
// public key split printed. The institutions alone then fail with exit code
// 3.
func TestKeyCLI(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "ca", "init", "--dir", "ca", "--name", "test-ca")
	nodes := testNodes()
	keys := map[string]string{}
	var names []string
	for _, n := range nodes.Nodes {
		names = append(names, n.Name)
	}
	for _, name := range append(slices.Clone(names), "alice", "alice-phone2") {
		keys[name] = keygen(t, filepath.Join(dir, name), name)
		run(t, dir, "ca", "sign", "--dir", "ca", filepath.Join(name, name+".csr"))
	}
	institutions := []string{keys["bank-1"], keys["bank-2"]}
	procs := map[string]*proc{}
	for i := range nodes.Nodes {
		n := &nodes.Nodes[i]
		n.Addr = freeAddr(t)
		procs[n.Name], n.NodeKey = startNamedKeynode(t, dir, n.Name, n.Addr, institutions)
	}
	writeJSON(t, filepath.Join(dir, "nodes.json"), nodes)

	// key place: the library's plan, written as a placement.
	out := run(t, dir, "key", "place", "--nodes", "nodes.json", "--loss-target", "1/1000", "--out", "placement.json")
	wantP, wantOdds, err := slicing.Plan(libraryNodes(t, nodes), &slicing.Target{Loss: big.NewRat(1, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	placement := readPlacement(t, filepath.Join(dir, "placement.json"))
	if placement.Threshold != wantP.Threshold {
		t.Fatalf("place chose t = %d, slicing.Plan %d", placement.Threshold, wantP.Threshold)
	}
	for i, n := range placement.Nodes {
		if n.Slices != wantP.Nodes[i].Slices || n.Name != nodes.Nodes[i].Name || n.Addr != nodes.Nodes[i].Addr || n.NodeKey != nodes.Nodes[i].NodeKey {
			t.Fatalf("placement node %d: %+v; slicing.Plan gives %d slices to %s", i, n, wantP.Nodes[i].Slices, wantP.Nodes[i].Name)
		}
	}
	checkOdds(t, out, wantOdds, true)

	// key odds of the written placement: Placement.Odds.
	out = run(t, dir, "key", "odds", "--placement", "placement.json")
	odds, err := (&slicing.Placement{Threshold: placement.Threshold, Nodes: libraryNodes(t, placement)}).Odds()
	if err != nil {
		t.Fatal(err)
	}
	checkOdds(t, out, odds, true)
	th := placement.Threshold
	if !odds.InstitutionsBelow {
		t.Fatalf("the plan breaks the institutions' rule: %+v", odds)
	}

	// key split, on alice's device.
	out = run(t, dir, "key", "split", "--placement", "placement.json", "--key", "alice/alice.key", "--cert", "alice/alice.crt", "--ca", "ca/ca.crt")
	pubHex := field(t, out, "public key:")
	com1 := field(t, out, "commitment:")
	if !strings.Contains(out, "the key was not saved") {
		t.Fatalf("split output:\n%s", out)
	}
	pub, err := hex.DecodeString(pubHex)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("split printed public key %q", pubHex)
	}

	// A pinned node key that the node does not have: split refuses to
	// seal to that node (exit code 3) and names it.
	wrong := readPlacement(t, filepath.Join(dir, "placement.json"))
	wrong.Nodes[3].NodeKey = wrong.Nodes[2].NodeKey
	writeJSON(t, filepath.Join(dir, "wrong-key.json"), wrong)
	code, out := runExit(t, dir, "key", "split", "--placement", "wrong-key.json", "--key-id", "other", "--key", "alice/alice.key", "--cert", "alice/alice.crt", "--ca", "ca/ca.crt")
	if code != exitPeer || !strings.Contains(out, wrong.Nodes[3].Name+": the node reports node key") {
		t.Fatalf("split with a wrong pinned node key: exit %d\n%s", code, out)
	}

	// key refresh, by bank-1: epoch 2, same public key.
	bank1 := []string{"--key", "bank-1/bank-1.key", "--cert", "bank-1/bank-1.crt", "--ca", "ca/ca.crt"}
	bank2 := []string{"--key", "bank-2/bank-2.key", "--cert", "bank-2/bank-2.crt", "--ca", "ca/ca.crt"}
	out = run(t, dir, append([]string{"key", "refresh", "--placement", "placement.json", "--user", "alice"}, bank1...)...)
	com2 := field(t, out, "commitment:")
	if field(t, out, "epoch:") != "2" || com2 == com1 || !strings.Contains(out, "public key:  "+pubHex+" (unchanged)") {
		t.Fatalf("refresh output:\n%s", out)
	}

	// client-1 loses its disk and comes back empty (a new node key);
	// bank-2 repairs its slice at epoch 2.
	c1 := nodes.Nodes[2]
	procs[c1.Name].cmd.Process.Signal(syscall.SIGKILL)
	procs[c1.Name].wait(t, 10*time.Second)
	if err := os.RemoveAll(filepath.Join(dir, c1.Name, "data")); err != nil {
		t.Fatal(err)
	}
	var newKey string
	procs[c1.Name], newKey = startNamedKeynode(t, dir, c1.Name, c1.Addr, institutions)
	if newKey == c1.NodeKey {
		t.Fatal("a wiped node kept its node key")
	}
	out = run(t, dir, append([]string{"key", "repair", "--placement", "placement.json", "--user", "alice", "--node", c1.Name}, bank2...)...)
	firstClientIndex := uint32(placement.Nodes[0].Slices + placement.Nodes[1].Slices + 1)
	if !strings.Contains(out, fmt.Sprintf("repaired slice %d on %s at epoch 2", firstClientIndex, c1.Name)) {
		t.Fatalf("repair output:\n%s", out)
	}
	roots, err := transport.LoadCAPool(filepath.Join(dir, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	bankID, err := transport.LoadIdentity(filepath.Join(dir, "bank-2", "bank-2.crt"), filepath.Join(dir, "bank-2", "bank-2.key"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := (&slicing.NodeClient{Identity: bankID, Trust: transport.Trust{Roots: roots}}).Dial(context.Background(), slicing.NodeAddr{Name: c1.Name, Addr: c1.Addr})
	if err != nil {
		t.Fatal(err)
	}
	l, err := nc.List(context.Background(), "alice", "signing")
	nc.Close()
	if err != nil || l.Epoch() != 2 || !slices.Equal(l.Indexes, []uint32{firstClientIndex}) {
		t.Fatalf("client-1 after repair: %+v, %v", l, err)
	}
	h := l.Commitments.Hash()
	if hex.EncodeToString(h[:]) != com2 {
		t.Fatal("client-1 holds another sharing than the refresh's")
	}
	// repair again: nothing to do.
	out = run(t, dir, append([]string{"key", "repair", "--placement", "placement.json", "--user", "alice", "--node", c1.Name}, bank2...)...)
	if !strings.Contains(out, "nothing to repair") {
		t.Fatalf("second repair:\n%s", out)
	}

	// Client nodes go down, from the last, while t slices survive.
	left, down := placement.Nodes[0].Slices+placement.Nodes[1].Slices, []string{}
	for _, n := range placement.Nodes[2:] {
		left += n.Slices
	}
	for i := len(placement.Nodes) - 1; i >= 2 && left-placement.Nodes[i].Slices >= th; i-- {
		n := placement.Nodes[i]
		procs[n.Name].cmd.Process.Signal(syscall.SIGKILL)
		procs[n.Name].wait(t, 10*time.Second)
		left -= n.Slices
		down = append(down, n.Name)
	}
	if len(down) == 0 {
		t.Fatalf("the placement leaves no slack to take a node down: %+v", placement)
	}

	// A new device: a requester key, bank-1's authorisation, recovery.
	out = run(t, dir, "key", "request", "--out", "alice-phone2/request.hpke")
	requester := field(t, out, "requester key:")
	if fi, err := os.Stat(filepath.Join(dir, "alice-phone2", "request.hpke")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("request key file: %v %v", fi, err)
	}
	if pubFile, err := os.ReadFile(filepath.Join(dir, "alice-phone2", "request.hpke.pub")); err != nil || strings.TrimSpace(string(pubFile)) != requester {
		t.Fatalf("request.hpke.pub: %q, %v; printed %s", pubFile, err, requester)
	}
	// The institution gets the .pub file (the new device is identified
	// out of band).
	run(t, dir, append([]string{"key", "authorize", "--user", "alice", "--epoch", "2", "--requester", "alice-phone2/request.hpke.pub", "--out", "auth.bin"}, bank1[:4]...)...)
	phone := []string{"--key", "alice-phone2/alice-phone2.key", "--cert", "alice-phone2/alice-phone2.crt", "--ca", "ca/ca.crt", "--dial-timeout", "1s"}
	// Without --commitment every node is asked, so the nodes that are
	// down are named; --public-key still pins the result.
	recoverArgs := append([]string{"key", "recover", "--placement", "placement.json", "--auth", "auth.bin",
		"--requester", "alice-phone2/request.hpke", "--public-key", pubHex, "--out", "alice-phone2/alice.key"}, phone...)
	out = run(t, dir, recoverArgs...)
	if field(t, out, "public key:") != pubHex || field(t, out, "commitment:") != com2 {
		t.Fatalf("recover output:\n%s\nsplit's public key %s", out, pubHex)
	}
	for _, name := range down {
		if !strings.Contains(out, "skipped "+name+": ") {
			t.Errorf("recover does not name %s, which is down:\n%s", name, out)
		}
	}
	keyPath := filepath.Join(dir, "alice-phone2", "alice.key")
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != keyFileType || block.Headers["Public-Key"] != pubHex {
		t.Fatalf("key file:\n%s", data)
	}
	a, err := edwards25519.NewScalar().SetCanonicalBytes(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("alice pays bob 10")
	if !ed25519.Verify(pub, msg, signScalar(t, a, msg)) {
		t.Fatal("crypto/ed25519 rejects the recovered key's signature under split's public key")
	}
	// Never overwritten.
	if code, out := runExit(t, dir, recoverArgs...); code != exitInput || !strings.Contains(out, "exists") {
		t.Fatalf("recover onto an existing key file: exit %d\n%s", code, out)
	}

	// The institutions alone: 2 of their slices, fewer than t.
	out = run(t, dir, "key", "request", "--out", "bank-1/request.hpke")
	run(t, dir, append([]string{"key", "authorize", "--user", "alice", "--epoch", "2", "--requester", field(t, out, "requester key:"),
		"--node", "bank-1", "--node", "bank-2", "--out", "auth-banks.bin"}, bank1[:4]...)...)
	code, out = runExit(t, dir, append([]string{"key", "recover", "--placement", "placement.json", "--auth", "auth-banks.bin",
		"--requester", "bank-1/request.hpke", "--commitment", com2, "--out", "bank-1/alice.key"}, append(bank1, "--dial-timeout", "1s")...)...)
	if code != exitPeer || !strings.Contains(out, "not enough") {
		t.Fatalf("the institutions alone: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bank-1", "alice.key")); err == nil {
		t.Fatal("a failed recovery wrote a key file")
	}
}

// TestKeyOddsExact checks key odds on a placement whose probabilities all
// differ, with --exact (every fraction printed whole) and without (long
// fractions elided), against Placement.Odds.
func TestKeyOddsExact(t *testing.T) {
	dir := t.TempDir()
	f := keyPlacementFile{Threshold: 9}
	for i := range 16 {
		kind := "client"
		if i < 2 {
			kind = "institution"
		}
		f.Nodes = append(f.Nodes, keyNodeSpec{Name: fmt.Sprintf("n%d", i), Kind: kind, Slices: 1 + i%3,
			Loss: fmt.Sprintf("%d/%d", i+1, 97+i), Compromise: fmt.Sprintf("0.00%d", i+1)})
	}
	writeJSON(t, filepath.Join(dir, "p.json"), f)
	odds, err := (&slicing.Placement{Threshold: f.Threshold, Nodes: libraryNodes(t, f)}).Odds()
	if err != nil {
		t.Fatal(err)
	}
	checkOdds(t, run(t, dir, "key", "odds", "--placement", "p.json", "--exact"), odds, true)
	out := run(t, dir, "key", "odds", "--placement", "p.json")
	checkOdds(t, out, odds, false)
	if len(odds.Lost.RatString()) > maxFraction && !strings.Contains(field(t, out, "P(lost):"), "--exact prints it") {
		t.Fatalf("a long fraction was not elided:\n%s", out)
	}
}

// TestKeyBadInput checks that bad flags and files give exit code 2 and a
// message naming what is wrong, before any node is contacted.
func TestKeyBadInput(t *testing.T) {
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "alice"), "alice")
	nodes := testNodes()
	writeJSON(t, filepath.Join(dir, "nodes.json"), nodes)
	bad := testNodes()
	bad.Nodes[3].Loss = "3/2"
	bad.Threshold = 2
	for i := range bad.Nodes {
		bad.Nodes[i].Slices = 1
	}
	writeJSON(t, filepath.Join(dir, "bad-loss.json"), bad)
	inst := testNodes()
	inst.Threshold = 4
	for i := range inst.Nodes {
		inst.Nodes[i].Slices, inst.Nodes[i].Addr = 2, "127.0.0.1:1"
	}
	writeJSON(t, filepath.Join(dir, "inst.json"), inst)
	if err := os.WriteFile(filepath.Join(dir, "typo.json"), []byte(`{"threshold": 2, "nodes": [{"name": "a", "kind": "client", "slices": 2, "los": "1/2"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "exists.key"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	alice := []string{"--key", "alice/alice.key", "--cert", "alice/alice.crt", "--ca", "alice/alice.crt"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"key"}, "usage"},
		{[]string{"key", "frob"}, `unknown key command "frob"`},
		{[]string{"key", "odds", "--placement", "bad-loss.json"}, "nodes[3] (client-2): loss"},
		{[]string{"key", "odds", "--placement", "typo.json"}, `unknown field "los"`},
		{[]string{"key", "odds", "--placement", "nodes.json"}, "threshold: required"},
		{[]string{"key", "place", "--nodes", "nodes.json", "--loss-target", "2^-64"}, "lowest reachable is 2^-"},
		{[]string{"key", "place", "--nodes", "nodes.json", "--loss-target", "2^64"}, "--loss-target"},
		{[]string{"key", "place", "--nodes", "missing.json", "--loss-target", "2^-10"}, "missing.json"},
		{append([]string{"key", "split", "--placement", "inst.json"}, alice...), "institutions together would hold 4 slices, threshold 4"},
		{append([]string{"key", "split", "--placement", "inst.json", "--out", "exists.key"}, alice...), "exists.key exists"},
		{[]string{"key", "request", "--out", "exists.key"}, "exists.key exists"},
		{[]string{"key", "authorize", "--key", "alice/alice.key", "--cert", "alice/alice.crt", "--user", "alice", "--requester", "hpke1:AAAA", "--out", "a.bin"}, "--requester"},
		{append([]string{"key", "recover", "--placement", "inst.json", "--auth", "nodes.json", "--requester", "exists.key", "--out", "new.key"}, alice...), "--auth"},
	} {
		code, out := runExit(t, dir, tc.args...)
		if code != exitInput || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args[1:], code, exitInput, tc.want, out)
		}
	}
}
