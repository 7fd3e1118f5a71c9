package mpcsign

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/maskshare/maskshare/transport"
)

// fakeClock is the nodes' clock in tests, so that TOTP steps can pass
// without waiting.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testPool is a CA, a holder and pool nodes on loopback, the owner's
// device key and, after create, the account's TOTP key.
type testPool struct {
	t       testing.TB
	ca      *transport.CA
	clock   *fakeClock
	holder  *Holder
	holdID  *transport.Identity
	nodes   map[string]*testNode
	names   []string
	device  ed25519.PrivateKey
	totp    *otp.Key
	account *Account
	wrap    map[string]func(Handler) Handler // node name -> handler wrapper
	hdir    string                           // the holder's data directory
	hcfg    *HolderConfig
}

type testNode struct {
	name, dir, addr string
	signer          *Signer
	stop            func()
}

func newTestPool(t testing.TB, names ...string) *testPool {
	t.Helper()
	ca, err := transport.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	p := &testPool{t: t, ca: ca, clock: new(fakeClock), nodes: make(map[string]*testNode), names: names, wrap: make(map[string]func(Handler) Handler)}
	p.clock.ns.Store(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC).UnixNano())
	_, p.device, _ = ed25519.GenerateKey(rand.Reader)
	var pool []NodeAddr
	for _, n := range names {
		tn := &testNode{name: n, dir: t.TempDir()}
		p.nodes[n] = tn
		p.start(n)
		pool = append(pool, NodeAddr{Name: n, Addr: tn.addr})
	}
	if p.holdID, err = ca.Issue("holder"); err != nil {
		t.Fatal(err)
	}
	p.hdir = t.TempDir()
	p.hcfg = &HolderConfig{Identity: p.holdID, Trust: transport.Trust{Roots: ca.Pool()}, Pool: pool, DialTimeout: time.Second, Now: p.clock.Now}
	if p.holder, err = OpenHolder(p.hdir, p.hcfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.holder.Close() })
	return p
}

// start runs (or restarts, at the same address) a node.
func (p *testPool) start(name string) {
	t := p.t
	tn := p.nodes[name]
	s, err := OpenSigner(tn.dir, &SignerConfig{Name: name, Now: p.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.ca.Issue(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := transport.ServerConfig(id, transport.Trust{Roots: p.ca.Pool()}, []string{transport.AnyPeer})
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
	addr := tn.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l *transport.Listener
	for i := 0; ; i++ {
		if l, err = transport.Listen(addr, cfg); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old socket may linger a moment
	}
	if err != nil {
		t.Fatal(err)
	}
	tn.addr = l.Addr().(*net.TCPAddr).String()
	tn.signer = s
	var h Handler = s
	if w := p.wrap[name]; w != nil {
		h = w(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, h, nil, &s.wg) }()
	stopped := false
	tn.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	}
	t.Cleanup(tn.stop)
}

func (p *testPool) restart(name string) {
	p.nodes[name].stop()
	p.start(name)
}

// create makes a t-of-n account "acct" enrolled at every pool node.
func (p *testPool) create(th, n int) *Account {
	p.t.Helper()
	a, key, err := p.holder.CreateAccount(context.Background(), "acct", p.device.Public().(ed25519.PublicKey),
		&CreateOptions{Threshold: th, Shares: n, Period: 30})
	if err != nil {
		p.t.Fatal(err)
	}
	p.account, p.totp = a, key
	return a
}

// code is the device's TOTP code now (the nodes' clock).
func (p *testPool) code() string {
	c, err := Code(p.totp, p.clock.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// authorize is the owner's device signing message for nodes, with the
// current code; edit may change the authorisation before it is signed.
func (p *testPool) authorize(message []byte, nodes []string, edit func(*Authorization)) []byte {
	p.t.Helper()
	a, err := NewAuthorization("acct", message, nodes, p.code(), p.clock.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	if edit != nil {
		edit(a)
	}
	b, err := a.Sign(p.device)
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// nextStep moves the nodes' clock to the next TOTP step, so that a new
// code is accepted at nodes that have used the current one.
func (p *testPool) nextStep() { p.clock.Advance(time.Duration(p.account.Period) * time.Second) }

func (p *testPool) sign(message []byte, nodes []string) ([]byte, error) {
	p.t.Helper()
	return p.holder.Sign(context.Background(), message, p.authorize(message, nodes, nil))
}
