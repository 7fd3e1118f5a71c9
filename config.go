package maskshare

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"time"
)

// Config holds the optional settings of a Party or a Coordinator. A nil
// *Config means the defaults.
type Config struct {
	// Identity is a party's long-term Ed25519 key. When set, the party signs
	// its ephemeral session key with it, so a relaying coordinator cannot
	// substitute keys (it could otherwise read and alter sealed parts).
	Identity ed25519.PrivateKey
	// PeerKeys maps party names to their identity public keys. When set, a
	// party (and the coordinator) refuses the session unless every other
	// party's ephemeral key is signed by the key named here.
	PeerKeys map[string]ed25519.PublicKey
	// Logger receives structured logs: phases, sizes, timings; never an
	// identifier, a value, a key or a seed. Nil discards logs.
	Logger *slog.Logger
	// Progress, if set, is called as each phase starts and ends.
	Progress func(Progress)
	// PhaseTimeout bounds how long the coordinator waits for the parties'
	// messages in one phase; a party that has not answered by then is
	// reported unavailable and the session aborted for all. Zero means no
	// bound beyond the context's deadline: choose it from the data's size,
	// since blinding a million records takes minutes in ecdh mode.
	PhaseTimeout time.Duration
	// Direct, if set, lets a party deliver its sealed boxes to other
	// parties directly instead of through the coordinator's relay; a box
	// that cannot be delivered directly is relayed. Boxes are sealed end to
	// end either way.
	Direct DirectLinks
}

// DirectLinks carries sealed boxes between parties without the
// coordinator. Implementations must authenticate the peer (for example by
// mutual TLS): the box is sealed to the recipient, but the receiving side
// relies on the link to name the sender.
type DirectLinks interface {
	// Send delivers msg to the named party for the session. An error means
	// the party could not be reached in time; the box is then relayed.
	Send(ctx context.Context, session [32]byte, peer string, msg []byte) error
	// Recv returns the message the named party delivered for the session,
	// waiting for it until ctx ends.
	Recv(ctx context.Context, session [32]byte, peer string) ([]byte, error)
}

// directTimeout bounds one attempt at direct delivery before relaying.
const directTimeout = 5 * time.Second

func (c *Config) phaseTimeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.PhaseTimeout
}

// Progress reports that a session phase started (Done false) or ended.
type Progress struct {
	Role    string // "coordinator" or the party's name
	Phase   string
	Done    bool
	Elapsed time.Duration // time spent in the phase, when Done
}

// PhaseTime is the wall time one phase of a session took.
type PhaseTime struct {
	Phase    string
	Duration time.Duration
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func (c *Config) logger() *slog.Logger {
	if c == nil || c.Logger == nil {
		return discard
	}
	return c.Logger
}

// phases records phase timings and reports progress.
type phases struct {
	role    string
	cfg     *Config
	log     *slog.Logger
	list    []PhaseTime
	current string
	started time.Time
}

func newPhases(role string, cfg *Config) *phases {
	return &phases{role: role, cfg: cfg, log: cfg.logger()}
}

// start ends the current phase, if any, and starts the named one.
func (p *phases) start(name string) {
	p.end()
	p.current, p.started = name, time.Now()
	p.log.Debug("phase start", "role", p.role, "phase", name)
	if p.cfg != nil && p.cfg.Progress != nil {
		p.cfg.Progress(Progress{Role: p.role, Phase: name})
	}
}

func (p *phases) end() {
	if p.current == "" {
		return
	}
	d := time.Since(p.started)
	p.list = append(p.list, PhaseTime{Phase: p.current, Duration: d})
	p.log.Info("phase done", "role", p.role, "phase", p.current, "duration", d)
	if p.cfg != nil && p.cfg.Progress != nil {
		p.cfg.Progress(Progress{Role: p.role, Phase: p.current, Done: true, Elapsed: d})
	}
	p.current = ""
}
