package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/maskshare/maskshare"
)

// phaseClock records when each participant started and ended each phase,
// through the sessions' progress callbacks, so that phases can be measured
// across participants.
type phaseClock struct {
	mu     sync.Mutex
	starts map[phaseKey]time.Time
	ends   map[phaseKey]time.Time
	// latest is the phase a party started last: what the heap sampler
	// charges its samples to.
	latest atomic.Pointer[string]
}

type phaseKey struct{ role, phase string }

// coordinatorRole is the role name the coordinator reports progress under.
const coordinatorRole = "coordinator"

// phase returns the phase a party started last, or "" before any.
func (c *phaseClock) phase() string {
	if p := c.latest.Load(); p != nil {
		return *p
	}
	return ""
}

func newPhaseClock() *phaseClock {
	return &phaseClock{starts: map[phaseKey]time.Time{}, ends: map[phaseKey]time.Time{}}
}

// progress is the maskshare.Config.Progress callback; participants call it
// concurrently.
func (c *phaseClock) progress(p maskshare.Progress) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Done {
		c.ends[phaseKey{p.Role, p.Phase}] = now
	} else {
		c.starts[phaseKey{p.Role, p.Phase}] = now
		if p.Role != coordinatorRole {
			c.latest.Store(&p.Phase)
		}
	}
}

// window returns the time from the first party starting phase `from` to
// the last party ending phase `to`.
func (c *phaseClock) window(roles []string, from, to string) float64 {
	var first, last time.Time
	for _, r := range roles {
		s, ok1 := c.starts[phaseKey{r, from}]
		e, ok2 := c.ends[phaseKey{r, to}]
		if !ok1 || !ok2 {
			continue
		}
		if first.IsZero() || s.Before(first) {
			first = s
		}
		if e.After(last) {
			last = e
		}
	}
	if first.IsZero() {
		return 0
	}
	return last.Sub(first).Seconds()
}

// phases lists the phases in the order the parties run them, and returns
// the masking and aggregation times: the compute time (the slowest party's
// "mask", the coordinator's "sum", the slowest party's "unmask"; windows
// across parties would count the parties' skew, not work) and
// the whole window from the first party starting "mask" to the last ending
// "output" (which adds sending the vectors, the coordinator's reveal and
// the parties building their results).
func (c *phaseClock) phases(names []string, results []*maskshare.Result, rep *maskshare.Report) (list []PhaseTime, compute, window float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := map[string]int{}
	slot := func(name string) *PhaseTime {
		i, ok := at[name]
		if !ok {
			i = len(list)
			at[name] = i
			list = append(list, PhaseTime{Phase: name})
		}
		return &list[i]
	}
	for _, r := range results {
		for _, p := range r.Phases {
			pt := slot(p.Phase)
			pt.PartyMax = max(pt.PartyMax, p.Duration.Seconds())
		}
	}
	for _, p := range rep.Phases {
		slot(p.Phase).Coordinator += p.Duration.Seconds()
	}
	for i := range list {
		list[i].Window = c.window(names, list[i].Phase, list[i].Phase)
	}
	for _, p := range list {
		switch p.Phase {
		case "mask", "unmask":
			compute += p.PartyMax
		case "sum":
			compute += p.Coordinator
		}
	}
	return list, compute, c.window(names, "mask", "output")
}
