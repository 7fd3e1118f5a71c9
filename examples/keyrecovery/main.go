// Command keyrecovery runs the key slicing system of SPEC.md §4.1 on
// loopback: 2 institution key nodes and 20 client key nodes, each a
// separate process serving over mutual TLS with its slices in its own bbolt
// store. The placement comes from the planner (slicing.Plan): given each
// node's probability of losing its slices and of being broken into, and a
// loss target, it picks the threshold t and the slices of each node with
// the least chance of compromise, the institutions together holding fewer
// than t; the demo prints the choice and its exact odds. A user's device
// makes a signing key, splits it into verifiable slices and stores them
// sealed to each node. The device is lost and 8 client nodes go down; with
// an institution's authorisation, a new device gets the key back from the
// nodes left, and signs with it: crypto/ed25519 verifies the signature
// under the public key made at registration. Then the two institutions pool
// their slices and fail.
//
//	go run ./examples/keyrecovery
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/internal/child"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// The nodes and what the planner must meet. Institutions run hardened
// servers: they lose their slices with probability 1/1000 and are broken
// into with probability 1/1000. Clients are phones and laptops: 1/20 and
// 1/100. The loss target 2^-30 is chosen so that the planner's placement
// also survives the demo's 8 client nodes down, with slack (run checks it
// and stops if not): looser targets (2^-18, say) let the planner raise t so
// far that 8 clients down would lose the key, and tighter ones lower t,
// which raises P(compromised).
const (
	institutions    = 2
	clients         = 20
	clientsDown     = 8
	lossTarget      = 30                 // P(lost) ≤ 2^-lossTarget
	nodeEnv         = "KEYRECOVERY_NODE" // set in a node process: its directory
	institutionFile = "institutions.txt"
)

// plan returns the planner's placement of the demo's nodes and its odds.
func plan() (*slicing.Placement, *slicing.Odds, error) {
	var nodes []slicing.Node
	for i := range institutions {
		nodes = append(nodes, slicing.Node{Name: fmt.Sprintf("bank-%d", i+1), Kind: slicing.Institution,
			Loss: big.NewRat(1, 1000), Compromise: big.NewRat(1, 1000)})
	}
	for i := range clients {
		nodes = append(nodes, slicing.Node{Name: fmt.Sprintf("client-%02d", i+1), Kind: slicing.Client,
			Loss: big.NewRat(1, 20), Compromise: big.NewRat(1, 100)})
	}
	target := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), lossTarget))
	return slicing.Plan(nodes, &slicing.Target{Loss: target})
}

// downed returns the clientsDown client nodes with the most slices (the
// worst case for a recovery) and the slices left on the others.
func downed(p *slicing.Placement) (down []int, left int) {
	idx := make([]int, 0, clients)
	for i := institutions; i < len(p.Nodes); i++ {
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return p.Nodes[b].Slices - p.Nodes[a].Slices })
	down = idx[:clientsDown]
	left = p.Total()
	for _, i := range down {
		left -= p.Nodes[i].Slices
	}
	return down, left
}

func main() {
	if dir := os.Getenv(nodeEnv); dir != "" {
		if err := serveNode(dir); err != nil {
			fmt.Fprintln(os.Stderr, "keyrecovery node:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "keyrecovery:", err)
		os.Exit(1)
	}
}

// node is a running key node process.
type node struct {
	addr slicing.NodeAddr
	cmd  *exec.Cmd
	in   io.WriteCloser // closing it stops the node
}

func run() error {
	root, err := os.MkdirTemp("", "keyrecovery")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx := context.Background()

	// Each participant's identity (here all issued by one CA, made in
	// this process for brevity; in a deployment each makes its key on its
	// own machine and the CA signs its request).
	ca, err := transport.NewCA("keyrecovery-ca")
	if err != nil {
		return err
	}
	if err := transport.WriteCertificate(filepath.Join(root, "ca.crt"), ca.Certificate); err != nil {
		return err
	}
	p, odds, err := plan()
	if err != nil {
		return err
	}
	down, left := downed(p)
	fmt.Printf("planner (slicing.Plan) for P(lost) ≤ 2^-%d: any %d of %d slices rebuild the key; institutions hold %d (",
		lossTarget, p.Threshold, p.Total(), p.InstitutionSlices())
	for i, n := range p.Nodes[:institutions] {
		if i > 0 {
			fmt.Print(" + ")
		}
		fmt.Print(n.Slices)
	}
	fmt.Printf("), each client %s\n", clientSlices(p))
	fmt.Printf("exact odds: P(lost) = %s, P(compromised) = %s, P(compromised, institutions collude) = %s\n",
		slicing.Prob(odds.Lost), slicing.Prob(odds.Compromised), slicing.Prob(odds.CompromisedWithInstitutions))
	if left < p.Threshold {
		return fmt.Errorf("with %d client nodes down only %d slices remain, fewer than t = %d: choose a lower loss target", clientsDown, left, p.Threshold)
	}
	fmt.Printf("with any %d client nodes down at least %d slices remain, ≥ t = %d\n", clientsDown, left, p.Threshold)
	var names []string
	for _, n := range p.Nodes {
		names = append(names, n.Name)
	}
	ids := map[string]*transport.Identity{}
	var instKeys []string
	for i, name := range names {
		id, err := ca.Issue(name)
		if err != nil {
			return err
		}
		ids[name] = id
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		if err := id.WriteFiles(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")); err != nil {
			return err
		}
		if i < institutions {
			instKeys = append(instKeys, transport.FormatPublicKey(id.PublicKey()))
		}
	}
	if err := os.WriteFile(filepath.Join(root, institutionFile), []byte(strings.Join(instKeys, "\n")+"\n"), 0o600); err != nil {
		return err
	}

	// Start the 22 key nodes.
	nodes := make([]*node, len(names))
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.in.Close()
				n.cmd.Wait()
			}
		}
	}()
	for i, name := range names {
		if nodes[i], err = startNode(filepath.Join(root, name), name); err != nil {
			return err
		}
	}
	fmt.Printf("started %d institution and %d client key nodes\n", institutions, clients)
	trust := transport.Trust{Roots: ca.Pool()}

	// Registration, on the user's device: the key is made and split here;
	// only sealed slices leave.
	device, err := ca.Issue("alice") // certified for her user id: nodes take her registration
	if err != nil {
		return err
	}
	secret, err := slicing.NewSecret()
	if err != nil {
		return err
	}
	pub := ed25519.PublicKey(new(edwards25519.Point).ScalarBaseMult(secret).Bytes())
	var addrs []slicing.NodeAddr
	var weights []int
	for i, n := range nodes {
		if w := p.Nodes[i].Slices; w > 0 {
			addrs, weights = append(addrs, n.addr), append(weights, w)
		}
	}
	assign, com, err := slicing.DealSlices("alice", "signing", share.Feldman, secret, p.Threshold, 1, addrs, weights)
	if err != nil {
		return err
	}
	phone := &slicing.NodeClient{Identity: device, Trust: trust}
	if err := slicing.Register(ctx, phone, com, assign); err != nil {
		return err
	}
	// The institutions record the sharing's commitment hash and the public
	// key at registration.
	record := com.Hash()
	fmt.Printf("alice registered: %d slices on %d nodes, any %d rebuild the key; institutions hold %d\n",
		p.Total(), len(addrs), p.Threshold, p.InstitutionSlices())
	fmt.Printf("alice's public key: %x\n", pub)

	// The phone is lost with the key, and 8 client nodes go down.
	secret.Set(edwards25519.NewScalar())
	for _, i := range down {
		nodes[i].cmd.Process.Kill()
		nodes[i].cmd.Wait()
	}
	fmt.Printf("alice lost her phone; %d client nodes are down (those with the most slices)\n", clientsDown)

	// Recovery on a new device: a fresh key, which bank-1 authorises after
	// identifying alice.
	newPhone, err := ca.Issue("alice-new-phone")
	if err != nil {
		return err
	}
	requester, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		return err
	}
	auth, err := authorize(ids["bank-1"], requester, nil)
	if err != nil {
		return err
	}
	cl := &slicing.NodeClient{Identity: newPhone, Trust: trust, DialTimeout: time.Second}
	start := time.Now()
	rec, err := slicing.Recover(ctx, cl, &slicing.RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: auth, Requester: requester, Nodes: addrs, Commitment: record})
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	fmt.Printf("recovered alice's key in %v with %d client nodes down\n", time.Since(start).Round(time.Millisecond), clientsDown)
	msg := []byte("alice pays bob 10")
	sig, err := sign(rec.Secret, msg)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return errors.New("crypto/ed25519 rejects the recovered key's signature")
	}
	fmt.Println("signed with the recovered key; crypto/ed25519.Verify accepts it under alice's public key")

	// The institutions alone: both pool their slices (an authorisation
	// for their own key, from their own nodes).
	bankKey, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		return err
	}
	auth, err = authorize(ids["bank-1"], bankKey, []string{"bank-1", "bank-2"})
	if err != nil {
		return err
	}
	bank := &slicing.NodeClient{Identity: ids["bank-2"], Trust: trust, DialTimeout: time.Second}
	_, err = slicing.Recover(ctx, bank, &slicing.RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: auth, Requester: bankKey, Nodes: addrs[:institutionHolders(p)], Commitment: record})
	var re *slicing.RecoverError
	if !errors.As(err, &re) {
		return fmt.Errorf("the institutions alone: %v, want too few slices", err)
	}
	fmt.Printf("the institutions alone: %d slices of the %d needed: no key\n", re.Got, re.Need)
	return nil
}

// clientSlices describes the clients' slices: "1 slice" when all hold
// one, else how many hold each count.
func clientSlices(p *slicing.Placement) string {
	count := map[int]int{}
	for _, n := range p.Nodes[institutions:] {
		count[n.Slices]++
	}
	if len(count) == 1 {
		for w := range count {
			return fmt.Sprintf("%d slice(s)", w)
		}
	}
	var parts []string
	for _, w := range slices.Sorted(maps.Keys(count)) {
		parts = append(parts, fmt.Sprintf("%d with %d", count[w], w))
	}
	return strings.Join(parts, ", ") + " slice(s)"
}

// institutionHolders is the number of institutions that hold slices:
// they come first among the nodes that were dealt slices.
func institutionHolders(p *slicing.Placement) int {
	n := 0
	for _, node := range p.Nodes[:institutions] {
		if node.Slices > 0 {
			n++
		}
	}
	return n
}

// authorize is an institution's release authorisation for alice's key,
// to requester, valid for 5 minutes.
func authorize(inst *transport.Identity, requester *custody.PrivateKey, nodes []string) ([]byte, error) {
	nonce, err := custody.NewNonce()
	if err != nil {
		return nil, err
	}
	a := &custody.Authorization{UserID: "alice", KeyID: "signing", Epoch: 1, Requester: requester.Public(),
		Nodes: nodes, Expiry: time.Now().Add(5 * time.Minute), Nonce: nonce}
	return a.Sign(inst.PrivateKey)
}

// sign makes an Ed25519 signature (RFC 8032 §5.1.6's equations) with the
// secret scalar a and a random nonce r, since a recovered key is a scalar,
// not an RFC 8032 seed: R = r·B, k = SHA-512(R || A || msg), S = r + k·a.
func sign(a *edwards25519.Scalar, msg []byte) ([]byte, error) {
	var rb [64]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, err
	}
	r, err := edwards25519.NewScalar().SetUniformBytes(rb[:])
	if err != nil {
		return nil, err
	}
	R := new(edwards25519.Point).ScalarBaseMult(r)
	A := new(edwards25519.Point).ScalarBaseMult(a)
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(A.Bytes())
	h.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	S := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	return append(R.Bytes(), S.Bytes()...), nil
}

// startNode starts a key node process on dir and waits for its address.
func startNode(dir, name string) (*node, error) {
	p, err := child.Start("key node "+name, nodeEnv+"="+dir)
	if err != nil {
		return nil, err
	}
	return &node{addr: slicing.NodeAddr{Name: name, Addr: p.Addr}, cmd: p.Cmd, in: p.Stdin}, nil
}

// serveNode is a key node process: it serves from dir until its stdin
// closes (the demo ended) or it is killed.
func serveNode(dir string) error {
	root := filepath.Dir(dir)
	id, err := transport.LoadIdentity(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"))
	if err != nil {
		return err
	}
	roots, err := transport.LoadCAPool(filepath.Join(root, "ca.crt"))
	if err != nil {
		return err
	}
	text, err := os.ReadFile(filepath.Join(root, institutionFile))
	if err != nil {
		return err
	}
	var inst []ed25519.PublicKey
	for _, s := range strings.Fields(string(text)) {
		k, err := transport.ParsePublicKey(s)
		if err != nil {
			return err
		}
		inst = append(inst, k)
	}
	cfg, err := transport.ServerConfig(id, transport.Trust{Roots: roots}, []string{transport.AnyPeer})
	if err != nil {
		return err
	}
	cfg.MaxMessageSize = max(slicing.MaxRequestSize, slicing.MaxResponseSize)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	kn, err := slicing.OpenKeyNode(filepath.Join(dir, "data"), &slicing.KeyNodeConfig{Name: id.Name, Institutions: inst})
	if err != nil {
		return err
	}
	defer kn.Close()
	l, err := transport.Listen("127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", l.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return kn.Serve(ctx, l)
}
