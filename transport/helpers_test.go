package transport

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// testTimeout bounds every test's blocking calls; it is a safety net, never an
// assertion.
const testTimeout = 60 * time.Second

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testPKI is a CA with a coordinator and some parties.
type testPKI struct {
	ca    *CA
	pool  *x509.CertPool
	coord *Identity
	ids   map[string]*Identity
}

const coordName = "coordinator"

func newTestPKI(t testing.TB, parties ...string) *testPKI {
	t.Helper()
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, pool: ca.Pool(), ids: map[string]*Identity{}}
	if p.coord, err = ca.Issue(coordName); err != nil {
		t.Fatal(err)
	}
	for _, name := range parties {
		if p.ids[name], err = ca.Issue(name); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// testLogger logs everything, to exercise the logging calls, to stderr if
// TRANSPORT_TEST_LOG is set and to nowhere otherwise.
func testLogger(testing.TB) *slog.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("TRANSPORT_TEST_LOG") != "" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (p *testPKI) serverConfig(t testing.TB, allowed ...string) *Config {
	t.Helper()
	if len(allowed) == 0 {
		allowed = []string{AnyPeer}
	}
	cfg, err := ServerConfig(p.coord, Trust{Roots: p.pool}, allowed)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = testLogger(t)
	return cfg
}

func (p *testPKI) clientConfig(t testing.TB, party string) *Config {
	t.Helper()
	cfg, err := ClientConfig(p.ids[party], Trust{Roots: p.pool}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger, cfg.DialBackoff = testLogger(t), 10*time.Millisecond
	return cfg
}

func listenLoopback(t testing.TB, cfg *Config) *Listener {
	t.Helper()
	l, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// connect dials l as party and accepts the connection on the other side.
func connect(t testing.TB, l *Listener, party, session string, ccfg *Config) (Conn, *Incoming) {
	t.Helper()
	ctx := testContext(t)
	type res struct {
		in  *Incoming
		err error
	}
	ch := make(chan res, 1)
	go func() {
		in, err := l.Accept(ctx)
		ch <- res{in, err}
	}()
	c, err := Dial(ctx, l.Addr().String(), session, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.in.Conn.Close() })
	return c, r.in
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// smallInts returns n bytes of big-endian uint32s below 1000, as in a list of
// indices or counts.
func smallInts(t testing.TB, n int) []byte {
	r := randomBytes(t, n)
	b := make([]byte, n)
	for i := 0; i+4 <= n; i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.BigEndian.Uint32(r[i:])%1000)
	}
	return b
}
