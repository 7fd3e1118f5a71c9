package maskshare

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config holds the optional settings of a Party or a Coordinator. A nil
// *Config means the defaults.
type Config struct {
	// Identity is a party's long-term Ed25519 key, made on its own machine.
	// The party signs its ephemeral session key with it, so a relaying
	// coordinator can neither read nor substitute what the parties seal to
	// each other. Required for a party unless InsecureNoIdentities is set.
	Identity ed25519.PrivateKey
	// PeerKeys pins the identity public keys of the parties, by name: a
	// party (and the coordinator) refuses the session unless every other
	// party's ephemeral key is signed by the key pinned here. It must name
	// every party (for a party: every other party; its own entry, if any,
	// must match Identity) unless InsecureNoIdentities is set.
	PeerKeys map[string]ed25519.PublicKey
	// InsecureNoIdentities lets a session run without identity keys. The
	// coordinator can then substitute the parties' session keys and read
	// and alter every sealed part: use it only where the coordinator is one
	// of the parties' own processes (tests, RunLocal with keys of its own).
	InsecureNoIdentities bool
	// WorkDir is the coordinator's directory for the checkpoints of its
	// bucketed sessions, which let a session suspended by a lost
	// participant resume (ErrSuspended); empty means no checkpoints. A
	// party's is its Spool's directory.
	WorkDir string
	// MaxRuns bounds how many times a Coordinator runs its session to the
	// point where the result size is revealed; later runs are refused with
	// ErrRunLimit. Every further run lets a party difference two results,
	// so set it from what the session is for. Zero means no bound.
	MaxRuns int
	// MinRunInterval is the shortest time a Coordinator leaves between
	// runs that reveal a result; a run that starts sooner is refused with
	// ErrRunLimit. Zero means no minimum.
	MinRunInterval time.Duration
	// Logger receives structured logs: phases, sizes, timings; never an
	// identifier, a value, a key or a seed. Nil discards logs.
	Logger *slog.Logger
	// Progress, if set, is called as each phase starts and ends, and as
	// each step of a long phase ends (an ecdh intersection: one step per
	// list blinded or relayed). It is called from the session's goroutine:
	// it must return quickly.
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
	// Send delivers msg (at most 2+wire.MaxSealedSize bytes) to the named
	// party for the session, and returns nil only once that party has
	// acknowledged holding it, so a nil return means the recipient will find
	// the box when it calls Recv. Any error (the party unreachable, silent
	// or refusing the box, or ctx ending first) means the box may not be
	// held; the caller then relays it. Send returns by the time ctx ends.
	Send(ctx context.Context, session [32]byte, peer string, msg []byte) error
	// Recv returns the message the named party delivered for the session
	// and removes it: at once if it is held, otherwise when it arrives or
	// ctx ends (returning an error wrapping ctx.Err()). A box is held for a
	// limited time (netsession.Direct: 10 minutes) and is returned at most
	// once. Since Send succeeds only once the box is held, the session
	// bounds ctx by directTimeout: a box not there when the empty relayed
	// box arrives is not coming, and the session aborts.
	Recv(ctx context.Context, session [32]byte, peer string) ([]byte, error)
}

// directTimeout bounds one attempt at direct delivery before relaying, and
// the wait for a box whose sender said it was delivered directly.
const directTimeout = 5 * time.Second

// checkIdentities enforces that a participant has the identities the
// protocol needs: a party its own key and the pinned keys of all others, the
// coordinator the pinned keys of all parties (self is -1).
func (c *Config) checkIdentities(params *Params, self int) error {
	if c != nil && c.InsecureNoIdentities {
		return nil
	}
	if self >= 0 && (c == nil || len(c.Identity) != ed25519.PrivateKeySize) {
		return fmt.Errorf("%w: party %s has no identity key", ErrNoIdentities, params.Parties[self])
	}
	for i, name := range params.Parties {
		var pub ed25519.PublicKey
		if c != nil {
			pub = c.PeerKeys[name]
		}
		if i == self {
			if pub != nil && !pub.Equal(c.Identity.Public()) {
				return fmt.Errorf("%w: the key pinned for %s is not this party's identity", ErrNoIdentities, name)
			}
			continue
		}
		if len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: no pinned key for party %s", ErrNoIdentities, name)
		}
	}
	return nil
}

func (c *Config) identity() ed25519.PrivateKey {
	if c == nil {
		return nil
	}
	return c.Identity
}

// pinnedKey returns the identity key pinned for the named party and whether
// its signatures must be checked: always, unless the session runs without
// identities and pins no key for it.
func (c *Config) pinnedKey(name string) (ed25519.PublicKey, bool) {
	var pub ed25519.PublicKey
	if c != nil {
		pub = c.PeerKeys[name]
	}
	insecure := c != nil && c.InsecureNoIdentities
	return pub, pub != nil || !insecure
}

func (c *Config) phaseTimeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.PhaseTimeout
}

// Progress reports that a session phase started (Done false) or ended, or
// that a step of it ended (Steps > 0).
type Progress struct {
	Role    string // "coordinator" or the party's name
	Phase   string
	Done    bool
	Elapsed time.Duration // time spent in the phase so far (all of it, when Done)
	// Step of Steps steps of the phase are done, having handled Records
	// records (elements blinded or relayed) so far. Steps is zero for a
	// phase without steps and in the reports of its start and end.
	Step, Steps int
	Records     int64
}

// Left estimates the time the phase still needs from the pace of its steps
// so far; ok is false before the first step ends or outside steps.
func (p Progress) Left() (d time.Duration, ok bool) {
	if p.Steps <= 0 || p.Step <= 0 || p.Step > p.Steps {
		return 0, false
	}
	return time.Duration(int64(p.Elapsed) / int64(p.Step) * int64(p.Steps-p.Step)), true
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
	// hold keeps the current phase: a bucketed session runs the phases
	// of a whole one for every bucket, timed as one.
	hold bool
}

func newPhases(role string, cfg *Config) *phases {
	return &phases{role: role, cfg: cfg, log: cfg.logger()}
}

// start ends the current phase, if any, and starts the named one.
func (p *phases) start(name string) {
	if p.hold {
		return
	}
	p.end()
	p.current, p.started = name, time.Now()
	p.log.Debug("phase start", "role", p.role, "phase", name)
	if p.cfg != nil && p.cfg.Progress != nil {
		p.cfg.Progress(Progress{Role: p.role, Phase: name})
	}
}

// step reports that step of steps steps of the current phase ended, with
// records records handled so far in the phase.
func (p *phases) step(step, steps int, records int64) {
	if p.cfg != nil && p.cfg.Progress != nil {
		p.cfg.Progress(Progress{Role: p.role, Phase: p.current, Elapsed: time.Since(p.started), Step: step, Steps: steps, Records: records})
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
