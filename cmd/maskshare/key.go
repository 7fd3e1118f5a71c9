package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/internal/durable"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// The maskshare key commands drive the key slicing system of SPEC.md §4.1
// (docs/CUSTODY.md): placement and odds, and the device's, the
// institution's and the recovering user's side of the key nodes that
// `maskshare keynode` serves.

const keyUsage = `usage:
  maskshare key odds --placement FILE [--exact]
        the exact odds that a placement's key is lost or stolen
  maskshare key place --nodes FILE --loss-target P [--out FILE]
        choose the threshold and the slices per node (slicing.Plan)
  maskshare key split --placement FILE --key FILE --cert FILE [--ca FILE] [--key-id ID] [--out KEYFILE]
        the device: make a key, deal it to the placement's key nodes, sealed
  maskshare key request --out FILE
        the new device: a fresh HPKE key for a recovery
  maskshare key authorize --key FILE --cert FILE --user ID --requester FILE.pub --out FILE
        an institution: authorise a release to the requester key
  maskshare key recover --placement FILE --auth FILE --requester FILE --key FILE --cert FILE [--ca FILE] --out KEYFILE
        the new device: fetch the slices, rebuild the key, save it (0600)
  maskshare key refresh --placement FILE --user ID --key FILE --cert FILE [--ca FILE]
        an institution (or the owner): new slices of the same key, new epoch
  maskshare key repair --placement FILE --user ID --node NAME --key FILE --cert FILE [--ca FILE]
        an institution: rebuild a node's lost slices from the others

Run "maskshare key COMMAND -h" for a command's flags.`

// runKey runs `maskshare key SUBCOMMAND`.
func runKey(ctx context.Context, stdout io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, keyUsage)
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "odds":
		return runKeyOdds(stdout, rest)
	case "place":
		return runKeyPlace(stdout, rest)
	case "split":
		return runKeySplit(ctx, stdout, rest)
	case "request":
		return runKeyRequest(stdout, rest)
	case "authorize", "authorise":
		return runKeyAuthorize(stdout, rest)
	case "recover":
		return runKeyRecover(ctx, stdout, rest)
	case "refresh":
		return runKeyRefresh(ctx, stdout, rest)
	case "repair":
		return runKeyRepair(ctx, stdout, rest)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, keyUsage)
		return nil
	}
	return badInput(fmt.Errorf("unknown key command %q\n%s", sub, keyUsage))
}

// keyNodeSpec is one key node in a nodes or placement file.
type keyNodeSpec struct {
	// Name is the name in the node's certificate.
	Name string `json:"name"`
	// Kind is "institution" or "client".
	Kind string `json:"kind"`
	// Addr is the node's host:port (needed to split, recover, refresh and
	// repair, not for place and odds).
	Addr string `json:"addr,omitempty"`
	// NodeKey, if set, pins the node's HPKE public key as maskshare keynode
	// prints it ("node key: hpke1:..."): split refuses a node that reports
	// another key. Without it, split seals to the key the node reports
	// over its authenticated (mutual TLS) connection.
	NodeKey string `json:"node_key,omitempty"`
	// TLSKey, if set, pins the node's TLS key ("tls key: ed25519:..."),
	// alone or with a CA.
	TLSKey string `json:"tls_key,omitempty"`
	// Slices is the number of slices the node keeps (placements only).
	Slices int `json:"slices"`
	// Loss and Compromise are the node's probabilities of losing its
	// slices and of being broken into: "1/1000" or "0.001".
	Loss       string `json:"loss,omitempty"`
	Compromise string `json:"compromise,omitempty"`
}

// keyPlacementFile is a nodes file (for place) or a placement (for odds,
// split, recover, refresh and repair): the same JSON, with the threshold
// and each node's slices set in a placement.
type keyPlacementFile struct {
	Threshold int           `json:"threshold,omitempty"`
	Nodes     []keyNodeSpec `json:"nodes"`
}

// loadPlacementFile reads a nodes or placement file and checks what every
// command needs: distinct valid names and kinds.
func loadPlacementFile(path string) (*keyPlacementFile, error) {
	data, err := readSmallFile(path, maxPlacementFile)
	if err != nil {
		return nil, badInput(err)
	}
	return parsePlacementFile(path, data)
}

// maxPlacementFile bounds a nodes or placement file: MaxNodes nodes of a
// few hundred bytes each, with room for pinned keys.
const maxPlacementFile = slicing.MaxNodes * 4096

// parsePlacementFile decodes a nodes or placement file read from path.
func parsePlacementFile(path string, data []byte) (*keyPlacementFile, error) {
	var f keyPlacementFile
	if err := decodeConfig(path, data, &f); err != nil {
		return nil, badInput(err)
	}
	if len(f.Nodes) == 0 {
		return nil, badInput(fmt.Errorf("%s: nodes: none", path))
	}
	if len(f.Nodes) > slicing.MaxNodes {
		return nil, badInput(fmt.Errorf("%s: nodes: %d, more than %d", path, len(f.Nodes), slicing.MaxNodes))
	}
	seen := map[string]bool{}
	for i, n := range f.Nodes {
		where := fmt.Sprintf("%s: nodes[%d]", path, i)
		if !transport.ValidName(n.Name) {
			return nil, badInput(fmt.Errorf("%s: name %q: want a certificate name (letters, digits, '.', '-' and '_')", where, n.Name))
		}
		if seen[n.Name] {
			return nil, badInput(fmt.Errorf("%s: name %q appears twice", where, n.Name))
		}
		seen[n.Name] = true
		if n.Kind != "institution" && n.Kind != "client" {
			return nil, badInput(fmt.Errorf("%s (%s): kind %q: want \"institution\" or \"client\"", where, n.Name, n.Kind))
		}
		if n.Slices < 0 || n.Slices > slicing.MaxNodeSlices {
			return nil, badInput(fmt.Errorf("%s (%s): slices %d: want 0 to %d", where, n.Name, n.Slices, slicing.MaxNodeSlices))
		}
	}
	return &f, nil
}

// slicingNodes converts the nodes; with odds, loss and compromise are
// required.
func (f *keyPlacementFile) slicingNodes(path string, odds bool) ([]slicing.Node, error) {
	out := make([]slicing.Node, len(f.Nodes))
	for i, n := range f.Nodes {
		out[i] = slicing.Node{Name: n.Name, Kind: slicing.Client, Slices: n.Slices}
		if n.Kind == "institution" {
			out[i].Kind = slicing.Institution
		}
		if !odds {
			continue
		}
		for _, p := range []struct {
			field, text string
			dst         **big.Rat
		}{{"loss", n.Loss, &out[i].Loss}, {"compromise", n.Compromise, &out[i].Compromise}} {
			if p.text == "" {
				return nil, badInput(fmt.Errorf("%s: nodes[%d] (%s): %s: required, a probability such as \"1/1000\" or \"0.001\"", path, i, n.Name, p.field))
			}
			r, err := slicing.ParseProbability(p.text)
			if err != nil {
				return nil, badInput(fmt.Errorf("%s: nodes[%d] (%s): %s: %w", path, i, n.Name, p.field, err))
			}
			*p.dst = r
		}
	}
	return out, nil
}

// hasOdds reports whether every node states its probabilities.
func (f *keyPlacementFile) hasOdds() bool {
	for _, n := range f.Nodes {
		if n.Loss == "" || n.Compromise == "" {
			return false
		}
	}
	return true
}

// placement returns the file as a checked placement: a threshold, slices,
// and the odds if every node states its probabilities (else nil odds).
func (f *keyPlacementFile) placement(path string) (*slicing.Placement, *slicing.Odds, error) {
	if f.Threshold < 1 {
		return nil, nil, badInput(fmt.Errorf("%s: threshold: required, at least 1 (a placement, as maskshare key place writes it)", path))
	}
	withOdds := f.hasOdds()
	nodes, err := f.slicingNodes(path, withOdds)
	if err != nil {
		return nil, nil, err
	}
	p := &slicing.Placement{Threshold: f.Threshold, Nodes: nodes}
	if !withOdds {
		if p.Total() < p.Threshold {
			return nil, nil, badInput(fmt.Errorf("%s: threshold %d is more than the %d slices of the nodes", path, p.Threshold, p.Total()))
		}
		return p, nil, nil
	}
	if err := p.Validate(); err != nil {
		return nil, nil, badInput(fmt.Errorf("%s: %w", path, err))
	}
	odds, err := p.Odds()
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("%s: %w", path, err))
	}
	return p, odds, nil
}

// maxFraction is the longest exact fraction printed without --exact.
const maxFraction = 48

// printOdds prints a placement's odds: each probability as a fraction (if
// short, or with exact), a float and a power of two, then the rule.
func printOdds(w io.Writer, o *slicing.Odds, exact bool) {
	fmt.Fprintf(w, "threshold:  %d of %d slices\n", o.Threshold, o.Slices)
	below := "yes"
	if !o.InstitutionsBelow {
		below = "NO: the institutions together can rebuild the key"
	}
	fmt.Fprintf(w, "institutions hold %d slices together; below the threshold: %s\n", o.InstitutionSlices, below)
	for _, p := range []struct {
		name string
		r    *big.Rat
	}{
		{"P(lost)", o.Lost},
		{"P(compromised)", o.Compromised},
		{"P(compromised, institutions collude)", o.CompromisedWithInstitutions},
	} {
		frac := p.r.RatString()
		if len(frac) > maxFraction && !exact {
			frac = fmt.Sprintf("(a fraction of %d digits; --exact prints it)", len(frac))
		}
		fmt.Fprintf(w, "%-37s %s  ~ %.6g  ~ %s\n", p.name+":", frac, slicing.Float(p.r), slicing.Pow2(p.r))
	}
}

// printPlacement prints each node's slices.
func printPlacement(w io.Writer, p *slicing.Placement) {
	for _, n := range p.Nodes {
		fmt.Fprintf(w, "  %-24s %-11s %3d slices\n", n.Name, n.Kind, n.Slices)
	}
}

func runKeyOdds(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key odds", flag.ContinueOnError)
	path := flags.String("placement", "", "placement file: threshold, and each node's kind, slices, loss and compromise (required)")
	exact := flags.Bool("exact", false, "print every probability as an exact fraction, however long")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key odds --placement FILE [--exact]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *path == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	f, err := loadPlacementFile(*path)
	if err != nil {
		return err
	}
	if !f.hasOdds() {
		if _, err := f.slicingNodes(*path, true); err != nil { // names the node
			return err
		}
	}
	_, odds, err := f.placement(*path)
	if err != nil {
		return err
	}
	printOdds(stdout, odds, *exact)
	return nil
}

// parseTarget reads a loss target: "2^-64" or a probability.
func parseTarget(s string) (*big.Rat, error) {
	if e, ok := strings.CutPrefix(s, "2^-"); ok {
		k, err := strconv.Atoi(e)
		if err != nil || k < 0 || k >= slicing.MaxTargetBits || strconv.Itoa(k) != e {
			return nil, fmt.Errorf("--loss-target %q: want 2^-K with K from 0 to %d, or a probability", s, slicing.MaxTargetBits-1)
		}
		return new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), uint(k))), nil
	}
	r, err := slicing.ParseProbability(s)
	if err != nil {
		return nil, fmt.Errorf("--loss-target %q: %w (or write 2^-K)", s, err)
	}
	return r, nil
}

func runKeyPlace(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key place", flag.ContinueOnError)
	path := flags.String("nodes", "", "nodes file: each node's name, kind, loss and compromise, and addr and node_key for split (required)")
	target := flags.String("loss-target", "", "largest acceptable P(lost): 2^-64, 1/1000000 or 0.000001 (required)")
	minInst := flags.Int("min-institution-slices", 0, "fewest slices per institution")
	maxInst := flags.Int("max-institution-slices", slicing.DefaultMaxInstitutionSlices, "most slices per institution")
	out := flags.String("out", "", "write the placement (JSON) to this file; default: stdout, with the summary on stderr")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key place --nodes FILE --loss-target P [--out FILE]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *path == "" || *target == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	loss, err := parseTarget(*target)
	if err != nil {
		return badInput(err)
	}
	if *minInst < 0 || *maxInst < 1 || *minInst > *maxInst {
		return badInput(fmt.Errorf("--min-institution-slices %d, --max-institution-slices %d: want 0 ≤ min ≤ max, max ≥ 1", *minInst, *maxInst))
	}
	f, err := loadPlacementFile(*path)
	if err != nil {
		return err
	}
	nodes, err := f.slicingNodes(*path, true)
	if err != nil {
		return err
	}
	p, odds, err := slicing.Plan(nodes, &slicing.Target{Loss: loss, MinInstitutionSlices: *minInst, MaxInstitutionSlices: *maxInst})
	var unreachable *slicing.UnreachableError
	if errors.As(err, &unreachable) {
		return badInput(fmt.Errorf("no placement of these nodes has P(lost) ≤ %s: the lowest reachable is %s (%.6g); add nodes, make them more reliable or relax --loss-target",
			slicing.Pow2(loss), slicing.Pow2(unreachable.Best), slicing.Float(unreachable.Best)))
	}
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", *path, err))
	}
	res := keyPlacementFile{Threshold: p.Threshold, Nodes: slices.Clone(f.Nodes)}
	for i := range res.Nodes {
		res.Nodes[i].Slices = p.Nodes[i].Slices
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	summary := stdout
	if *out == "" {
		summary = os.Stderr
	}
	fmt.Fprintf(summary, "placement for P(lost) ≤ %s (%s):\n", *target, slicing.Pow2(loss))
	printPlacement(summary, p)
	printOdds(summary, odds, false)
	if *out == "" {
		_, err := stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(summary, "wrote %s\n", *out)
	return nil
}

// nodeFlags are the flags of the commands that talk to key nodes: this
// participant's TLS identity and how it authenticates the nodes.
type nodeFlags struct {
	key, cert, ca string
	timeout       time.Duration
}

func (nf *nodeFlags) register(flags *flag.FlagSet, who string) {
	flags.StringVar(&nf.key, "key", "", who+"'s TLS private key, maskshare keygen's NAME.key (required)")
	flags.StringVar(&nf.cert, "cert", "", who+"'s certificate (required)")
	flags.StringVar(&nf.ca, "ca", "", "certificate of the CA that issued the nodes' certificates (or pin each node's tls_key in the placement)")
	flags.DurationVar(&nf.timeout, "dial-timeout", 5*time.Second, "how long to try to reach each node")
}

// client loads the identity and the trust in the placement's nodes.
func (nf *nodeFlags) client(f *keyPlacementFile, path string) (*slicing.NodeClient, error) {
	if err := checkPrivateFile(nf.key); err != nil {
		return nil, badInput(fmt.Errorf("--key: %w", err))
	}
	id, err := transport.LoadIdentity(nf.cert, nf.key)
	if err != nil {
		return nil, badInput(fmt.Errorf("--key, --cert: %w", err))
	}
	if now := time.Now(); now.After(id.Certificate.NotAfter) {
		return nil, badInput(fmt.Errorf("--cert: expired at %s", id.Certificate.NotAfter.UTC().Format(time.RFC3339)))
	}
	trust := transport.Trust{}
	if nf.ca != "" {
		if trust.Roots, err = transport.LoadCAPool(nf.ca); err != nil {
			return nil, badInput(fmt.Errorf("--ca: %w", err))
		}
	}
	for i, n := range f.Nodes {
		if n.TLSKey == "" {
			continue
		}
		k, err := transport.ParsePublicKey(n.TLSKey)
		if err != nil {
			return nil, badInput(fmt.Errorf("%s: nodes[%d] (%s): tls_key: %w", path, i, n.Name, err))
		}
		if trust.Pins == nil {
			trust.Pins = map[string]ed25519.PublicKey{}
		}
		trust.Pins[n.Name] = k
	}
	if trust.Roots == nil && trust.Pins == nil {
		return nil, badInput(errors.New("--ca, or tls_key in the placement: the nodes must be authenticated"))
	}
	if trust.Pins != nil && trust.Roots == nil {
		for i, n := range f.Nodes {
			if n.TLSKey == "" && n.Slices > 0 {
				return nil, badInput(fmt.Errorf("%s: nodes[%d] (%s): tls_key: required when other nodes are pinned and there is no --ca", path, i, n.Name))
			}
		}
	}
	return &slicing.NodeClient{Identity: id, Trust: trust, DialTimeout: nf.timeout}, nil
}

// holders returns the nodes that keep slices, with the share indexes
// slicing.DealSlices gives them: consecutive, in the placement's order.
func (f *keyPlacementFile) holders(path string) ([]slicing.Holding, error) {
	var out []slicing.Holding
	next := uint32(1)
	for i, n := range f.Nodes {
		if n.Slices == 0 {
			continue
		}
		if n.Addr == "" {
			return nil, badInput(fmt.Errorf("%s: nodes[%d] (%s): addr: required for a node that keeps slices", path, i, n.Name))
		}
		h := slicing.Holding{Node: slicing.NodeAddr{Name: n.Name, Addr: n.Addr}}
		for range n.Slices {
			h.Indexes = append(h.Indexes, next)
			next++
		}
		out = append(out, h)
	}
	return out, nil
}

// peerError marks an error as another participant's failure (exit code 3):
// key nodes that are down, refuse or misbehave.
type peerError struct{ err error }

func (e *peerError) Error() string { return e.err.Error() }
func (e *peerError) Unwrap() error { return e.err }

func peerFailure(err error) error {
	if err == nil {
		return nil
	}
	return &peerError{err}
}

// keyFileType is the PEM type of a saved user key: the secret scalar
// (32 bytes, little-endian, canonical), not an RFC 8032 seed.
const keyFileType = "MASKSHARE SECRET SCALAR"

// refuseExistingKey fails if path exists: a key file is never replaced.
func refuseExistingKey(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return badInput(fmt.Errorf("--out %s exists: a key file is never replaced (move it away, or choose another --out)", path))
	}
	return nil
}

// writeKeyFile writes the secret to a new file, mode 0600, synced.
func writeKeyFile(path, user, key string, secret *edwards25519.Scalar, pub []byte) error {
	block := &pem.Block{Type: keyFileType, Headers: map[string]string{"User": user, "Key": key}, Bytes: secret.Bytes()}
	if pub != nil {
		block.Headers["Public-Key"] = hex.EncodeToString(pub)
	}
	data := pem.EncodeToMemory(block)
	defer clear(data)
	defer clear(block.Bytes)
	return outFileError(durable.CreateFile(path, data, 0o600))
}

// outFileError makes a failure to create the --out file (it exists, its
// directory does not, or may not be written) the user's, exit code 2.
func outFileError(err error) error {
	if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return badInput(fmt.Errorf("--out: %w", err))
	}
	return err
}

// publicKey returns the Ed25519 public key of a Feldman sharing, or nil.
func publicKey(c *share.Commitments) []byte {
	if c.Scheme != share.Feldman {
		return nil
	}
	p, err := c.PublicKey()
	if err != nil {
		return nil
	}
	return p.Bytes()
}

func parseScheme(s string) (share.Scheme, error) {
	switch s {
	case "feldman":
		return share.Feldman, nil
	case "pedersen":
		return share.Pedersen, nil
	}
	return 0, fmt.Errorf("--scheme %q: want feldman (a signing key, whose public key is public) or pedersen (any secret, hidden)", s)
}

func runKeySplit(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key split", flag.ContinueOnError)
	var nf nodeFlags
	nf.register(flags, "the user's device")
	path := flags.String("placement", "", "placement file (maskshare key place): threshold, and each node's slices and addr (required)")
	user := flags.String("user", "", "user id (default: the certificate's name, which the nodes require of a registering device)")
	keyID := flags.String("key-id", "signing", "key id, to tell a user's keys apart")
	schemeName := flags.String("scheme", "feldman", "feldman (a signing key; prints its Ed25519 public key) or pedersen (any secret)")
	out := flags.String("out", "", "also save the key here (0600; never replaced); by default it never touches disk")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key split --placement FILE --key FILE --cert FILE [--ca FILE] [--key-id ID] [--out KEYFILE]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *path == "" || nf.key == "" || nf.cert == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	scheme, err := parseScheme(*schemeName)
	if err != nil {
		return badInput(err)
	}
	if *out != "" {
		if err := refuseExistingKey(*out); err != nil {
			return err
		}
	}
	f, err := loadPlacementFile(*path)
	if err != nil {
		return err
	}
	p, odds, err := f.placement(*path)
	if err != nil {
		return err
	}
	if inst := p.InstitutionSlices(); inst >= p.Threshold {
		return badInput(fmt.Errorf("%s: the institutions together would hold %d slices, threshold %d: they could rebuild the key (SPEC §4.1 wants fewer)", *path, inst, p.Threshold))
	}
	holders, err := f.holders(*path)
	if err != nil {
		return err
	}
	nodeKeys := make(map[string]*custody.PublicKey)
	for i, n := range f.Nodes {
		if n.Slices == 0 {
			continue
		}
		if n.NodeKey == "" {
			continue
		}
		if nodeKeys[n.Name], err = custody.ParsePublicKeyString(n.NodeKey); err != nil {
			return badInput(fmt.Errorf("%s: nodes[%d] (%s): node_key: %w", *path, i, n.Name, err))
		}
	}
	cl, err := nf.client(f, *path)
	if err != nil {
		return err
	}
	if *user == "" {
		*user = cl.Identity.Name
	}
	if !custody.ValidID(*user) || !custody.ValidID(*keyID) {
		return badInput(fmt.Errorf("--user %q, --key-id %q: want 1 to %d bytes of text without control characters", *user, *keyID, custody.MaxIDLen))
	}

	secret, err := slicing.NewSecret()
	if err != nil {
		return err
	}
	defer secret.Set(edwards25519.NewScalar())
	addrs := make([]slicing.NodeAddr, len(holders))
	weights := make([]int, len(holders))
	for i, h := range holders {
		addrs[i], weights[i] = h.Node, len(h.Indexes)
	}
	const epoch = 1
	assign, com, err := slicing.DealSlices(*user, *keyID, scheme, secret, p.Threshold, epoch, addrs, weights)
	if err != nil {
		return badInput(err)
	}
	if err := storeSealed(ctx, cl, com, assign, nodeKeys); err != nil {
		return peerFailure(fmt.Errorf("storing the slices: %w (the key was not saved; the nodes that stored slices keep them for key id %q: split again with another --key-id)", err, *keyID))
	}
	pub := publicKey(com)
	fmt.Fprintf(stdout, "registered %s/%s: %d slices on %d nodes, any %d rebuild the key; the institutions hold %d\n",
		*user, *keyID, p.Total(), len(holders), p.Threshold, p.InstitutionSlices())
	if odds != nil {
		fmt.Fprintf(stdout, "P(lost) ~ %s, P(compromised) ~ %s\n", slicing.Pow2(odds.Lost), slicing.Pow2(odds.Compromised))
	}
	fmt.Fprintf(stdout, "epoch:       %d\n", epoch)
	h := com.Hash()
	fmt.Fprintf(stdout, "commitment:  %s\n", hex.EncodeToString(h[:]))
	if pub != nil {
		fmt.Fprintf(stdout, "public key:  %s\n", hex.EncodeToString(pub))
	}
	if *out != "" {
		if err := writeKeyFile(*out, *user, *keyID, secret, pub); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "saved the key in %s (0600)\n", *out)
	} else {
		fmt.Fprintln(stdout, "the key was not saved: only sealed slices left this machine")
	}
	return nil
}

// storeSealed stores each assignment on its node, sealed to the node key
// the node reports over its authenticated connection; where the placement
// pins a node key, a node that reports another is refused and its slices
// never leave.
func storeSealed(ctx context.Context, cl *slicing.NodeClient, c *share.Commitments, assign []slicing.SliceAssignment, keys map[string]*custody.PublicKey) error {
	errs := slicing.NodeErrors{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, a := range assign {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			err := storeOne(ctx, cl, c, a, keys[a.Node.Name])
			for _, s := range a.Slices {
				clear(s.Share)
			}
			if err != nil {
				mu.Lock()
				errs[a.Node.Name] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func storeOne(ctx context.Context, cl *slicing.NodeClient, c *share.Commitments, a slicing.SliceAssignment, key *custody.PublicKey) error {
	nc, err := cl.Dial(ctx, a.Node)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := nc.Status(ctx)
	if err != nil {
		return err
	}
	if key == nil {
		key = st.PublicKey // authenticated by the node's TLS certificate
	} else if !st.PublicKey.Equal(key) {
		return fmt.Errorf("the node reports node key %.24s..., the placement pins %.24s...: refusing to seal to it", st.PublicKey, key)
	}
	batch := make([]*slicing.SealedSlice, len(a.Slices))
	for i, s := range a.Slices {
		if batch[i], err = slicing.SealSlice(key, s); err != nil {
			return err
		}
	}
	return nc.Store(ctx, c, batch)
}

func runKeyRequest(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key request", flag.ContinueOnError)
	out := flags.String("out", "", "file for the fresh private key (0600; never replaced) (required)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key request --out FILE")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *out == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if err := refuseExistingKey(*out); err != nil {
		return err
	}
	k, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		return err
	}
	if err := refuseExistingKey(*out + ".pub"); err != nil {
		return err
	}
	if err := custody.WritePrivateKeyFile(*out, k); err != nil {
		return badInput(fmt.Errorf("--out: %w", err))
	}
	if err := os.WriteFile(*out+".pub", []byte(k.Public().String()+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "made a requester key in %s (0600) and its public key in %s.pub: give the institution %s.pub\n", *out, *out, *out)
	fmt.Fprintf(stdout, "requester key: %s\n", k.Public())
	return nil
}

func runKeyAuthorize(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key authorize", flag.ContinueOnError)
	keyPath := flags.String("key", "", "the institution's TLS private key, whose public key the nodes trust (--institution) (required)")
	certPath := flags.String("cert", "", "the institution's certificate (required)")
	user := flags.String("user", "", "user id whose key to release (required)")
	keyID := flags.String("key-id", "signing", "key id")
	epoch := flags.Uint64("epoch", 1, "the sharing's epoch (1 after split, one more after each refresh)")
	requester := flags.String("requester", "", "the requester's public key: hpke1:..., or the .pub file maskshare key request wrote (required)")
	var nodes listFlag
	flags.Var(&nodes, "node", "a node that may release (repeatable; default: any node)")
	valid := flags.Duration("valid", 15*time.Minute, "how long the authorisation is valid (at most 24h)")
	out := flags.String("out", "", "file for the signed authorisation (required)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key authorize --key FILE --cert FILE --user ID [--key-id ID] [--epoch N] --requester FILE.pub|hpke1:... [--node NAME...] --out FILE")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *keyPath == "" || *certPath == "" || *user == "" || *requester == "" || *out == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if *valid <= 0 || *valid > custody.MaxAuthorizationLifetime {
		return badInput(fmt.Errorf("--valid %v: want more than 0 and at most %v", *valid, custody.MaxAuthorizationLifetime))
	}
	if *epoch < 1 || *epoch > 1<<32-1 {
		return badInput(fmt.Errorf("--epoch %d: want 1 to %d", *epoch, uint32(1<<32-1)))
	}
	reqText := *requester
	if !strings.HasPrefix(reqText, "hpke1:") {
		b, err := readSmallFile(reqText, 4*custody.PublicKeySize)
		if err != nil {
			return badInput(fmt.Errorf("--requester: %w (want hpke1:... or the .pub file of maskshare key request)", err))
		}
		reqText = strings.TrimSpace(string(b))
	}
	req, err := custody.ParsePublicKeyString(reqText)
	if err != nil {
		return badInput(fmt.Errorf("--requester: %w", err))
	}
	if err := checkPrivateFile(*keyPath); err != nil {
		return badInput(fmt.Errorf("--key: %w", err))
	}
	id, err := transport.LoadIdentity(*certPath, *keyPath)
	if err != nil {
		return badInput(fmt.Errorf("--key, --cert: %w", err))
	}
	nonce, err := custody.NewNonce()
	if err != nil {
		return err
	}
	a := &custody.Authorization{UserID: *user, KeyID: *keyID, Epoch: *epoch, Requester: req,
		Nodes: nodes, Expiry: time.Now().Add(*valid), Nonce: nonce}
	signed, err := a.Sign(id.PrivateKey)
	if err != nil {
		return badInput(err)
	}
	if err := outFileError(durable.CreateFile(*out, signed, 0o644)); err != nil {
		return err
	}
	where := "any node"
	if len(nodes) > 0 {
		where = strings.Join(nodes, ", ")
	}
	fmt.Fprintf(stdout, "%s authorised the release of %s/%s at epoch %d to requester %.24s... from %s, until %s\n",
		id.Name, *user, *keyID, *epoch, req, where, a.Expiry.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "wrote %s: give it to the requester; each node accepts it once\n", *out)
	return nil
}

// parseCommitment reads a commitment hash printed by split or refresh.
func parseCommitment(s string) (h [slicing.CommitmentSize]byte, err error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, badInput(fmt.Errorf("--commitment %q: want the %d hex digits split or refresh printed", s, 2*len(h)))
	}
	copy(h[:], b)
	return h, nil
}

func runKeyRecover(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key recover", flag.ContinueOnError)
	var nf nodeFlags
	nf.register(flags, "the recovering device")
	path := flags.String("placement", "", "placement file: the nodes to ask (required)")
	authPath := flags.String("auth", "", "the institution's authorisation, from maskshare key authorize (required)")
	reqPath := flags.String("requester", "", "the private key from maskshare key request (required)")
	commitment := flags.String("commitment", "", "the commitment hash split printed: only slices of that sharing count (recommended)")
	wantPub := flags.String("public-key", "", "the public key split printed: refuse another key")
	out := flags.String("out", "", "file for the recovered key (0600; never replaced) (required)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key recover --placement FILE --auth FILE --requester FILE --key FILE --cert FILE [--ca FILE] [--commitment HEX] --out KEYFILE")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *path == "" || *authPath == "" || *reqPath == "" || *out == "" || nf.key == "" || nf.cert == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if err := refuseExistingKey(*out); err != nil {
		return err
	}
	r := &slicing.RecoverRequest{}
	if *commitment != "" {
		var err error
		if r.Commitment, err = parseCommitment(*commitment); err != nil {
			return err
		}
	}
	authBytes, err := readSmallFile(*authPath, custody.MaxAuthorizationSize)
	if err != nil {
		return badInput(fmt.Errorf("--auth: %w", err))
	}
	auth, err := custody.ParseAuthorization(authBytes)
	if err != nil {
		return badInput(fmt.Errorf("--auth: %w", err))
	}
	if auth.Epoch > 1<<32-1 {
		return badInput(fmt.Errorf("--auth: epoch %d out of range", auth.Epoch))
	}
	if err := checkPrivateFile(*reqPath); err != nil {
		return badInput(fmt.Errorf("--requester: %w", err))
	}
	if r.Requester, err = custody.ReadPrivateKeyFile(*reqPath); err != nil {
		return badInput(fmt.Errorf("--requester: %w", err))
	}
	if !r.Requester.Public().Equal(auth.Requester) {
		return badInput(errors.New("--auth names another requester key than --requester: the nodes would seal the slices to a key you do not have"))
	}
	if time.Now().After(auth.Expiry) {
		return badInput(fmt.Errorf("--auth expired at %s: ask the institution for another", auth.Expiry.UTC().Format(time.RFC3339)))
	}
	f, err := loadPlacementFile(*path)
	if err != nil {
		return err
	}
	holders, err := f.holders(*path)
	if err != nil {
		return err
	}
	cl, err := nf.client(f, *path)
	if err != nil {
		return err
	}
	r.UserID, r.KeyID, r.Epoch, r.Authorization = auth.UserID, auth.KeyID, uint32(auth.Epoch), authBytes
	for _, h := range holders {
		r.Nodes = append(r.Nodes, h.Node)
	}
	rec, err := slicing.Recover(ctx, cl, r)
	if err != nil {
		return peerFailure(fmt.Errorf("recovering %s/%s: %w", r.UserID, r.KeyID, err))
	}
	defer rec.Secret.Set(edwards25519.NewScalar())
	pub := publicKey(rec.Commitments)
	if *wantPub != "" && hex.EncodeToString(pub) != strings.ToLower(*wantPub) {
		return peerFailure(fmt.Errorf("recovered a key with public key %x, not --public-key %s: not saved", pub, *wantPub))
	}
	if err := writeKeyFile(*out, r.UserID, r.KeyID, rec.Secret, pub); err != nil {
		return err
	}
	for _, name := range sortedKeys(rec.Failed) {
		fmt.Fprintf(stdout, "skipped %s: %v\n", name, rec.Failed[name])
	}
	fmt.Fprintf(stdout, "recovered %s/%s at epoch %d (threshold %d) into %s (0600)\n", r.UserID, r.KeyID, r.Epoch, rec.Commitments.Threshold(), *out)
	h := rec.Commitments.Hash()
	fmt.Fprintf(stdout, "commitment:  %s\n", hex.EncodeToString(h[:]))
	if pub != nil {
		fmt.Fprintf(stdout, "public key:  %s\n", hex.EncodeToString(pub))
	}
	return nil
}

func sortedKeys(m slicing.NodeErrors) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return b, nil
}

// listing is what one node holds of a key.
type listing struct {
	node slicing.NodeAddr
	l    *slicing.KeyListing
	err  error
}

// listAll asks every node of the placement what it holds of (user, key).
func listAll(ctx context.Context, cl *slicing.NodeClient, nodes []slicing.NodeAddr, user, key string) []listing {
	out := make([]listing, len(nodes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, n := range nodes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i].node = n
			nc, err := cl.Dial(ctx, n)
			if err != nil {
				out[i].err = err
				return
			}
			defer nc.Close()
			out[i].l, out[i].err = nc.List(ctx, user, key)
		})
	}
	wg.Wait()
	return out
}

// currentSharing picks the sharing to work on from the nodes' listings:
// the one with the given commitment hash, else the newest epoch's, which
// must then be the same at every node that has that epoch.
func currentSharing(ls []listing, want string) (*share.Commitments, error) {
	var cur *share.Commitments
	for _, l := range ls {
		if l.err != nil {
			continue
		}
		c := l.l.Commitments
		h := c.Hash()
		if want != "" {
			if hex.EncodeToString(h[:]) == strings.ToLower(want) {
				return c, nil
			}
			continue
		}
		switch {
		case cur == nil || c.Epoch > cur.Epoch:
			cur = c
		case c.Epoch == cur.Epoch && c.Hash() != cur.Hash():
			return nil, peerFailure(fmt.Errorf("node %s holds another sharing at epoch %d than the others: name the right one with --commitment", l.node.Name, c.Epoch))
		}
	}
	if cur == nil {
		var errs []error
		for _, l := range ls {
			errs = append(errs, l.err)
		}
		if want != "" {
			errs = append(errs, fmt.Errorf("no node holds the sharing %s", want))
		}
		return nil, peerFailure(fmt.Errorf("no node listed the key: %w", errors.Join(errs...)))
	}
	return cur, nil
}

// institutionFlags are the flags of the institution-run commands.
type institutionFlags struct {
	nodeFlags
	path, user, keyID, commitment string
}

func (inf *institutionFlags) register(flags *flag.FlagSet) {
	inf.nodeFlags.register(flags, "the institution (or, for refresh, the key's owner)")
	flags.StringVar(&inf.path, "placement", "", "placement file: the key's nodes (required)")
	flags.StringVar(&inf.user, "user", "", "user id (required)")
	flags.StringVar(&inf.keyID, "key-id", "signing", "key id")
	flags.StringVar(&inf.commitment, "commitment", "", "commitment hash of the current sharing (default: the newest epoch the nodes hold)")
}

// load reads the placement, lists what the nodes hold and picks the
// current sharing.
func (inf *institutionFlags) load(ctx context.Context) (*keyPlacementFile, *slicing.NodeClient, []listing, *share.Commitments, error) {
	f, err := loadPlacementFile(inf.path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	holders, err := f.holders(inf.path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cl, err := inf.client(f, inf.path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	nodes := make([]slicing.NodeAddr, len(holders))
	for i, h := range holders {
		nodes[i] = h.Node
	}
	ls := listAll(ctx, cl, nodes, inf.user, inf.keyID)
	c, err := currentSharing(ls, inf.commitment)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return f, cl, ls, c, nil
}

func runKeyRefresh(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key refresh", flag.ContinueOnError)
	var inf institutionFlags
	inf.register(flags)
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key refresh --placement FILE --user ID [--key-id ID] --key FILE --cert FILE [--ca FILE]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if inf.path == "" || inf.user == "" || inf.key == "" || inf.cert == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	_, cl, ls, cur, err := inf.load(ctx)
	if err != nil {
		return err
	}
	var holders []slicing.Holding
	for _, l := range ls {
		switch {
		case l.err != nil:
			fmt.Fprintf(stdout, "skipped %s: %v (it keeps the old epoch: repair it after the refresh)\n", l.node.Name, l.err)
		case l.l.Commitments.Hash() != cur.Hash():
			fmt.Fprintf(stdout, "skipped %s: it holds epoch %d, not the current sharing (repair it after the refresh)\n", l.node.Name, l.l.Epoch())
		default:
			holders = append(holders, slicing.Holding{Node: l.node, Indexes: l.l.Indexes})
		}
	}
	next, err := slicing.RefreshSharing(ctx, cl, inf.user, inf.keyID, cur, holders)
	if err != nil {
		return peerFailure(fmt.Errorf("refresh of %s/%s from epoch %d: %w", inf.user, inf.keyID, cur.Epoch, err))
	}
	h := next.Hash()
	fmt.Fprintf(stdout, "refreshed %s/%s on %d nodes: epoch %d → %d; slices of epoch %d are now useless\n",
		inf.user, inf.keyID, len(holders), cur.Epoch, next.Epoch, cur.Epoch)
	fmt.Fprintf(stdout, "epoch:       %d\n", next.Epoch)
	fmt.Fprintf(stdout, "commitment:  %s\n", hex.EncodeToString(h[:]))
	if pub := publicKey(next); pub != nil {
		fmt.Fprintf(stdout, "public key:  %s (unchanged)\n", hex.EncodeToString(pub))
	}
	return nil
}

func runKeyRepair(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("key repair", flag.ContinueOnError)
	var inf institutionFlags
	inf.register(flags)
	target := flags.String("node", "", "the node whose slices to rebuild: those the placement gives it that it lacks at the current epoch (required)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare key repair --placement FILE --user ID [--key-id ID] --node NAME --key FILE --cert FILE [--ca FILE]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if inf.path == "" || inf.user == "" || *target == "" || inf.key == "" || inf.cert == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	f, err := loadPlacementFile(inf.path)
	if err != nil {
		return err
	}
	planned, err := f.holders(inf.path)
	if err != nil {
		return err
	}
	var want *slicing.Holding
	for i := range planned {
		if planned[i].Node.Name == *target {
			want = &planned[i]
		}
	}
	if want == nil {
		return badInput(fmt.Errorf("--node %s: no node of that name keeps slices in %s", *target, inf.path))
	}
	_, cl, ls, cur, err := inf.load(ctx)
	if err != nil {
		return err
	}
	var have []uint32
	var helpers []slicing.Holding
	held := 0
	for _, l := range ls {
		if l.err != nil || l.l.Commitments.Hash() != cur.Hash() {
			continue
		}
		if l.node.Name == *target {
			have = l.l.Indexes
			continue
		}
		if held < cur.Threshold() {
			helpers = append(helpers, slicing.Holding{Node: l.node, Indexes: l.l.Indexes})
			held += len(l.l.Indexes)
		}
	}
	var missing []uint32
	for _, x := range want.Indexes {
		if !slices.Contains(have, x) {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		fmt.Fprintf(stdout, "%s holds all its slices (%v) at epoch %d: nothing to repair\n", *target, want.Indexes, cur.Epoch)
		return nil
	}
	if held < cur.Threshold() {
		return peerFailure(fmt.Errorf("only %d slices of the current sharing (epoch %d) on reachable nodes besides %s, %d needed to repair", held, cur.Epoch, *target, cur.Threshold()))
	}
	for _, x := range missing {
		if err := slicing.RepairSlice(ctx, cl, inf.user, inf.keyID, cur, helpers, x, want.Node); err != nil {
			return peerFailure(fmt.Errorf("repair of slice %d on %s: %w", x, *target, err))
		}
		fmt.Fprintf(stdout, "repaired slice %d on %s at epoch %d\n", x, *target, cur.Epoch)
	}
	names := make([]string, len(helpers))
	for i, h := range helpers {
		names[i] = h.Node.Name
	}
	fmt.Fprintf(stdout, "helpers: %s; nobody saw a share or the key\n", strings.Join(names, ", "))
	return nil
}
