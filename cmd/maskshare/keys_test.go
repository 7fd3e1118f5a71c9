package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/transport"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "new", "keys")
	key := keygen(t, keys, "bank-a")
	fi, err := os.Stat(filepath.Join(keys, "bank-a.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new directory: %v, %v", fi.Mode(), err)
	}
	for _, f := range []string{"bank-a.crt", "bank-a.csr"} {
		if _, err := os.Stat(filepath.Join(keys, f)); err != nil {
			t.Fatal(err)
		}
	}
	id, err := transport.LoadIdentity(filepath.Join(keys, "bank-a.crt"), filepath.Join(keys, "bank-a.key"))
	if err != nil || transport.FormatPublicKey(id.PublicKey()) != key {
		t.Fatalf("LoadIdentity: %v", err)
	}
	if got := strings.TrimSpace(run(t, dir, "pubkey", filepath.Join(keys, "bank-a.csr"))); got != key {
		t.Fatalf("pubkey of the request: %q", got)
	}
	if got := strings.TrimSpace(run(t, dir, "pubkey", "--fingerprint", filepath.Join(keys, "bank-a.crt"))); got != transport.Fingerprint(id.PublicKey()) {
		t.Fatalf("pubkey --fingerprint: %q", got)
	}
	// pubkey does not read private keys.
	if out := runFail(t, dir, "pubkey", filepath.Join(keys, "bank-a.key")); strings.Contains(out, "PRIVATE") {
		t.Fatalf("pubkey of a key: %s", out)
	}

	// A second keygen of the same name keeps the first key.
	before, _ := os.ReadFile(filepath.Join(keys, "bank-a.key"))
	if out := runFail(t, dir, "keygen", "--dir", keys, "bank-a"); !strings.Contains(out, "bank-a.key exists") {
		t.Fatalf("second keygen: %s", out)
	}
	if after, _ := os.ReadFile(filepath.Join(keys, "bank-a.key")); !bytes.Equal(before, after) {
		t.Fatal("the second keygen changed the key")
	}

	// Directories that others can use.
	for _, mode := range []os.FileMode{0o750, 0o705, 0o777, 0o701} {
		d := filepath.Join(dir, "shared-"+mode.String())
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		out := runFail(t, dir, "keygen", "--dir", d, "bank-b")
		if want := fmt.Sprintf("%s has mode %04o", d, mode); !strings.Contains(out, want) {
			t.Fatalf("keygen in a %v directory: %s (want %q)", mode, out, want)
		}
		if _, err := os.Stat(filepath.Join(d, "bank-b.key")); err == nil {
			t.Fatalf("keygen wrote a key in a %v directory", mode)
		}
	}

	// One name only, and a valid one.
	if out := runFail(t, dir, "keygen", "--dir", filepath.Join(dir, "two"), "bank-b", "bank-c"); !strings.Contains(out, "one NAME") {
		t.Fatalf("keygen of two names: %s", out)
	}
	if out := runFail(t, dir, "keygen", "--dir", filepath.Join(dir, "bad"), "bank b"); !strings.Contains(out, "invalid name") {
		t.Fatalf("keygen of an invalid name: %s", out)
	}
}

func TestCASign(t *testing.T) {
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "bank-a"), "bank-a")
	run(t, dir, "ca", "init", "--dir", "ca")
	if out := runFail(t, dir, "ca", "init", "--dir", "ca"); !strings.Contains(out, "ca.key exists") {
		t.Fatalf("second ca init: %s", out)
	}
	csrPath := filepath.Join(dir, "bank-a", "bank-a.csr")
	data, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)

	tamper := func(name string, edit func(der []byte)) {
		der := bytes.Clone(block.Bytes)
		edit(der)
		path := filepath.Join(dir, name+".csr")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		out := runFail(t, dir, "ca", "sign", "--dir", "ca", path)
		if !strings.Contains(out, "invalid certificate request") {
			t.Fatalf("%s: ca sign: %s", name, out)
		}
		if _, err := os.Stat(filepath.Join(dir, name+".crt")); err == nil {
			t.Fatalf("%s: ca sign wrote a certificate", name)
		}
	}
	// Another name in the request, and a damaged signature.
	tamper("renamed", func(der []byte) {
		i := bytes.Index(der, []byte("bank-a"))
		copy(der[i:], "bank-z")
	})
	tamper("bad-signature", func(der []byte) { der[len(der)-1] ^= 1 })

	// --name guards against signing the wrong request.
	if out := runFail(t, dir, "ca", "sign", "--dir", "ca", "--name", "bank-b", csrPath); !strings.Contains(out, `asks for "bank-a"`) {
		t.Fatalf("ca sign --name: %s", out)
	}
	out := run(t, dir, "ca", "sign", "--dir", "ca", "--name", "bank-a", csrPath)
	cert, err := transport.LoadCertificate(filepath.Join(dir, "bank-a", "bank-a.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := transport.LoadCAPool(filepath.Join(dir, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transport.LoadIdentity(filepath.Join(dir, "bank-a", "bank-a.crt"), filepath.Join(dir, "bank-a", "bank-a.key")); err != nil {
		t.Fatalf("the issued certificate does not hold the key: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "bank-a", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("issued certificate: %v", err)
	}
	if !strings.Contains(out, "issued bank-a") || !strings.Contains(out, "SHA256:") {
		t.Fatalf("ca sign output:\n%s", out)
	}
}

// TestConfigErrors checks that configuration errors name the file and the
// field.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ids := map[string]*transport.Identity{}
	for _, name := range []string{"coordinator", "bank-a", "bank-b", "bank-c"} {
		id, err := transport.NewSelfSigned(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := id.CreateFiles(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	other, _ := transport.NewSelfSigned("bank-b")
	key := func(name string) string { return transport.FormatPublicKey(ids[name].PublicKey()) }
	params := demo.Params(3, maskshare.Keyed, 0)
	goodParty := func() partyConfig {
		return partyConfig{Name: "bank-a", Coordinator: "127.0.0.1:1", Session: "s", Key: "bank-a.key", Cert: "bank-a.crt",
			CoordinatorKey: key("coordinator"), Peers: map[string]string{"bank-b": key("bank-b"), "bank-c": key("bank-c")}, Params: params}
	}
	goodCoord := func() coordinatorConfig {
		return coordinatorConfig{Listen: "127.0.0.1:0", Key: "coordinator.key", Cert: "coordinator.crt",
			Sessions: []sessionConfig{{Name: "s", Params: params, Peers: map[string]string{"bank-a": key("bank-a"), "bank-b": key("bank-b"), "bank-c": key("bank-c")}}}}
	}
	path := filepath.Join(dir, "config.json")

	p := goodParty()
	writeJSON(t, path, p)
	s, err := loadParty(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.peerKeys) != 3 || !s.peerKeys["bank-a"].Equal(ids["bank-a"].PublicKey()) || s.coordTrust.Roots != nil || s.directPeers != nil {
		t.Fatalf("party setup %+v", s)
	}
	c := goodCoord()
	writeJSON(t, path, c)
	cs, err := loadCoordinator(path)
	if err != nil {
		t.Fatal(err)
	}
	if cs.sessions[0].mcfg.MinRunInterval != defaultMinInterval || cs.sessions[0].mcfg.MaxRuns != 0 || len(cs.trust.Pins) != 3 || cs.cfg.Name != "coordinator" {
		t.Fatalf("coordinator setup %+v", cs)
	}

	partyCases := []struct {
		field string
		edit  func(*partyConfig)
	}{
		{"peers", func(c *partyConfig) { c.Peers = nil }},
		{"peers", func(c *partyConfig) { delete(c.Peers, "bank-c") }},
		{`peers["bank-x"]`, func(c *partyConfig) { c.Peers["bank-x"] = key("bank-c") }},
		{`peers["bank-b"]`, func(c *partyConfig) { c.Peers["bank-b"] = "ed25519:nope" }},
		{`peers["bank-a"]`, func(c *partyConfig) { c.Peers["bank-a"] = key("bank-b") }},
		{"peers", func(c *partyConfig) { c.Peers["bank-c"] = key("bank-b") }},
		{"ca, coordinator_key", func(c *partyConfig) { c.CoordinatorKey = "" }},
		{"coordinator_key", func(c *partyConfig) { c.CoordinatorKey = key("bank-b")[:20] }},
		{"key, cert", func(c *partyConfig) { c.Cert = "bank-b.crt" }},
		{"cert", func(c *partyConfig) {
			c.Name = "bank-b"
			c.Peers = map[string]string{"bank-a": key("bank-a"), "bank-c": key("bank-c")}
		}},
		{"key", func(c *partyConfig) { c.Key = "" }},
		{"ca", func(c *partyConfig) { c.CA = "bank-a.crt" }},
		{"name", func(c *partyConfig) { c.Name = "bank-x" }},
		{`direct_peers["bank-x"]`, func(c *partyConfig) { c.DirectPeers = map[string]string{"bank-x": "127.0.0.1:1"} }},
		{"params", func(c *partyConfig) { c.Params.Parties = nil }},
	}
	for _, tc := range partyCases {
		p := goodParty()
		tc.edit(&p)
		writeJSON(t, path, p)
		_, err := loadParty(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": "+tc.field+":") {
			t.Errorf("party, want an error about %s: %v", tc.field, err)
		}
	}
	coordCases := []struct {
		field string
		edit  func(*coordinatorConfig)
	}{
		{"listen", func(c *coordinatorConfig) { c.Listen = "" }},
		{"name", func(c *coordinatorConfig) { c.Name = "hub" }},
		{"sessions", func(c *coordinatorConfig) { c.Sessions = nil }},
		{"sessions[0].peers", func(c *coordinatorConfig) { c.Sessions[0].Peers = nil }},
		{"sessions[0].peers", func(c *coordinatorConfig) { delete(c.Sessions[0].Peers, "bank-b") }},
		{`sessions[0].peers["bank-b"]`, func(c *coordinatorConfig) { c.Sessions[0].Peers["bank-b"] = "ed25519:" }},
		{`sessions[0].peers["bank-b"]`, func(c *coordinatorConfig) { c.Sessions[0].Peers["bank-b"] = key("coordinator") }},
		{`sessions[1].peers["bank-b"]`, func(c *coordinatorConfig) {
			s := c.Sessions[0]
			s.Name, s.Peers = "t", map[string]string{"bank-a": key("bank-a"), "bank-b": transport.FormatPublicKey(other.PublicKey()), "bank-c": key("bank-c")}
			c.Sessions = append(c.Sessions, s)
		}},
		{"sessions[1].name", func(c *coordinatorConfig) { c.Sessions = append(c.Sessions, c.Sessions[0]) }},
		{"sessions[0].max_runs", func(c *coordinatorConfig) { c.Sessions[0].MaxRuns = -1 }},
		{"sessions[0].min_interval", func(c *coordinatorConfig) { d := duration(-1); c.Sessions[0].MinInterval = &d }},
		{"sessions[0].params", func(c *coordinatorConfig) { c.Sessions[0].Params.Columns = nil }},
	}
	for _, tc := range coordCases {
		c := goodCoord()
		tc.edit(&c)
		writeJSON(t, path, c)
		_, err := loadCoordinator(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": "+tc.field+":") {
			t.Errorf("coordinator, want an error about %s: %v", tc.field, err)
		}
	}

	// A key file that others can read.
	if err := os.Chmod(filepath.Join(dir, "bank-a.key"), 0o640); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, path, goodParty())
	if _, err := loadParty(path); err == nil || !strings.Contains(err.Error(), "mode 0640") {
		t.Errorf("group-readable key: %v", err)
	}
	// The old certs field.
	os.WriteFile(path, []byte(`{"certs": "certs"}`), 0o600)
	if _, err := loadParty(path); err == nil || !strings.Contains(err.Error(), "README") {
		t.Errorf("old certs field: %v", err)
	}
}

// TestCAKeptOffline: with ca.crt in the CA's directory and ca.key kept
// offline, ca init refuses to make a new CA over it, and keygen likewise
// keeps a certificate whose key is elsewhere.
func TestCAKeptOffline(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "ca", "init", "--dir", "ca")
	crt := filepath.Join(dir, "ca", "ca.crt")
	before, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "ca", "ca.key"), filepath.Join(dir, "offline.key")); err != nil {
		t.Fatal(err)
	}
	if out := runFail(t, dir, "ca", "init", "--dir", "ca"); !strings.Contains(out, "ca.crt exists") || !strings.Contains(out, "offline") {
		t.Fatalf("ca init over a CA whose key is offline: %s", out)
	}
	if after, _ := os.ReadFile(crt); !bytes.Equal(before, after) {
		t.Fatal("ca init replaced the CA's certificate")
	}
	if _, err := os.Stat(filepath.Join(dir, "ca", "ca.key")); err == nil {
		t.Fatal("ca init made a key beside the old certificate")
	}

	keygen(t, filepath.Join(dir, "bank-a"), "bank-a")
	crt = filepath.Join(dir, "bank-a", "bank-a.crt")
	before, _ = os.ReadFile(crt)
	if err := os.Rename(filepath.Join(dir, "bank-a", "bank-a.key"), filepath.Join(dir, "bank-a.key")); err != nil {
		t.Fatal(err)
	}
	if out := runFail(t, dir, "keygen", "--dir", "bank-a", "bank-a"); !strings.Contains(out, "bank-a.crt exists without bank-a.key") {
		t.Fatalf("keygen over a certificate without its key: %s", out)
	}
	if after, _ := os.ReadFile(crt); !bytes.Equal(before, after) {
		t.Fatal("keygen replaced the certificate")
	}
}

// TestPrivateKeyModeRefused: a key file that the group or others can read
// is refused when loaded, by ca sign and by a party, with the chmod that
// fixes it.
func TestPrivateKeyModeRefused(t *testing.T) {
	s := newSetup(t, true)
	params := demo.Params(3, maskshare.Keyed, 0)
	s.addSession(t, "exposure", params, demo.Generate(1, 3, 20, 0.5, 3))
	for _, mode := range []os.FileMode{0o640, 0o604} {
		caKey := filepath.Join("ca", "ca.key")
		if err := os.Chmod(filepath.Join(s.dir, caKey), mode); err != nil {
			t.Fatal(err)
		}
		out := runFail(t, s.dir, "ca", "sign", "--dir", "ca", "--out", "x.crt", filepath.Join("bank-a", "bank-a.csr"))
		if !strings.Contains(out, fmt.Sprintf("mode %04o", mode)) || !strings.Contains(out, "chmod 600 "+caKey) {
			t.Errorf("ca sign with a %v key: %s", mode, out)
		}
		key := filepath.Join("bank-a", "bank-a.key")
		if err := os.Chmod(filepath.Join(s.dir, key), mode); err != nil {
			t.Fatal(err)
		}
		out = runFail(t, s.dir, "party", "--config", "exposure-bank-a.json", "--data", "exposure-bank-a.csv")
		if !strings.Contains(out, fmt.Sprintf("mode %04o", mode)) || !strings.Contains(out, "chmod 600 "+key) {
			t.Errorf("party with a %v key: %s", mode, out)
		}
	}
}
