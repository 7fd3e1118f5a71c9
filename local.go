package maskshare

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/maskshare/maskshare/transport"
)

// RunLocal runs a whole session in one process: a coordinator and one party
// per table (tables[i] is party i's, named params.Parties[i]), connected by
// in-memory pipes. It returns every party's result and the coordinator's
// report, or, if the session aborted, the error of the participant that
// caused it (every participant failed with it or an *AbortError naming it).
//
// cfg (may be nil) applies to every participant, except that RunLocal
// makes a fresh identity key for every party and pins it at the others and
// the coordinator, as separate institutions would (see LocalConfigs).
func RunLocal(ctx context.Context, params Params, tables []*Table, cfg *Config) ([]*Result, *Report, error) {
	if len(tables) != len(params.Parties) {
		return nil, nil, fmt.Errorf("%w: %d tables for %d parties", ErrParams, len(tables), len(params.Parties))
	}
	coordCfg, partyCfgs, err := LocalConfigs(params, cfg)
	if err != nil {
		return nil, nil, err
	}
	coord, err := NewCoordinator(params, coordCfg)
	if err != nil {
		return nil, nil, err
	}
	parties := make([]*Party, len(tables))
	for i, t := range tables {
		if parties[i], err = NewParty(params.Parties[i], params, t, partyCfgs[i]); err != nil {
			return nil, nil, err
		}
	}
	coordEnds := make([]transport.Conn, len(tables))
	partyEnds := make([]transport.Conn, len(tables))
	for i := range tables {
		coordEnds[i], partyEnds[i] = transport.Pipe()
	}
	defer func() {
		for _, c := range coordEnds {
			c.Close()
		}
	}()

	results := make([]*Result, len(tables))
	errs := make([]error, len(tables)+1)
	var report *Report
	var g errgroup.Group
	g.Go(func() error {
		report, errs[len(tables)] = coord.Run(ctx, coordEnds)
		return nil
	})
	for i, p := range parties {
		g.Go(func() error {
			results[i], errs[i] = p.Run(ctx, partyEnds[i])
			return nil
		})
	}
	g.Wait()
	if err := Cause(errs...); err != nil {
		return nil, nil, err
	}
	return results, report, nil
}

// LocalConfigs returns the configurations of a coordinator and of every
// party of a session run in one process: copies of cfg (nil means the
// defaults) in which every party has a fresh identity key, pinned at every
// other participant. The private keys stay in the returned configurations.
// With cfg.InsecureNoIdentities every participant gets cfg itself.
func LocalConfigs(params Params, cfg *Config) (*Config, []*Config, error) {
	parties := make([]*Config, len(params.Parties))
	if cfg != nil && cfg.InsecureNoIdentities {
		for i := range parties {
			parties[i] = cfg
		}
		return cfg, parties, nil
	}
	keys := make(map[string]ed25519.PublicKey, len(parties))
	base := Config{}
	if cfg != nil {
		base = *cfg
	}
	for i, name := range params.Parties {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		keys[name] = pub
		c := base
		c.Identity, c.PeerKeys = priv, keys
		parties[i] = &c
	}
	coord := base
	coord.Identity, coord.PeerKeys = nil, keys
	return &coord, parties, nil
}

// Cause picks, among the errors of a session's participants, one that is
// not merely an *AbortError relaying someone else's failure: the error of
// the participant that caused the abort. It returns nil if all are nil.
func Cause(errs ...error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		var ae *AbortError
		if !errors.As(err, &ae) {
			return err
		}
	}
	return first
}
