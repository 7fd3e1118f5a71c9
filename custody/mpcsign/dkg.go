package mpcsign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

// Account creation runs COCKTAIL-DKG (C2SP, package frost) among n pool
// nodes, coordinated by the holder: no process ever holds the account's
// key. Each participating node makes a static key for the session only,
// runs the DKG's rounds, seals its key share to the holder's HPKE key
// (bound to the account, epoch 1 and its identifier, as the holder keeps
// it at rest) and erases it; the holder keeps the success certificate.

const (
	dkgSessionSize = 32
	// dkgExtensionLabel prefixes the transcript's extension, which binds
	// the account id into the DKG and its certificate.
	dkgExtensionLabel = "maskshare/mpcsign/dkg/v1\x00"
	// DKGTimeout bounds a node's DKG session between its steps.
	DKGTimeout = time.Minute
	// MaxDKGSessionsPerPeer bounds the DKG sessions one peer has open at
	// a node, so that no peer can take all MaxSessions of them.
	MaxDKGSessionsPerPeer = 32
)

// dkgSession is a node's state in one DKG: memory only.
type dkgSession struct {
	peer    ed25519.PublicKey
	account string
	t, n    int
	id      uint16
	key     *frost.DKGStaticKey
	part    *frost.DKGParticipant
	timer   *time.Timer
}

func dkgExtension(account string) []byte { return append([]byte(dkgExtensionLabel), account...) }

// dkg runs a node's step of a DKG session.
func (s *Signer) dkg(peer Peer, q *request) ([]byte, error) {
	s.mu.Lock()
	d := s.dkgs[q.session]
	if q.op == opDKGStart {
		if d != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: DKG session exists", ErrConflict)
		}
		if len(s.dkgs) >= MaxSessions {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %d DKG sessions pending", ErrBusy, MaxSessions)
		}
		mine := 0
		for _, o := range s.dkgs {
			if samePeer(o.peer, peer.Key) {
				mine++
			}
		}
		if mine >= MaxDKGSessionsPerPeer {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %d DKG sessions of this peer pending", ErrBusy, mine)
		}
		key, err := frost.NewDKGStaticKey(frost.Ed25519)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		d = &dkgSession{peer: bytes.Clone(peer.Key), account: q.account, t: q.t, n: q.n, id: q.id, key: key}
		id := q.session
		d.timer = time.AfterFunc(DKGTimeout, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.dkgs[id] == d {
				delete(s.dkgs, id)
			}
		})
		s.dkgs[id] = d
		s.mu.Unlock()
		return key.PublicKey(), nil
	}
	if d == nil || !samePeer(d.peer, peer.Key) {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: no DKG session", ErrNoSession)
	}
	if q.op == opDKGFinish {
		delete(s.dkgs, q.session)
		d.timer.Stop()
	}
	s.mu.Unlock()
	fail := func(err error) ([]byte, error) {
		s.mu.Lock()
		if s.dkgs[q.session] == d {
			delete(s.dkgs, q.session)
			d.timer.Stop()
		}
		s.mu.Unlock()
		return nil, err
	}
	switch q.op {
	case opDKGRound1:
		if len(q.staticKeys) != d.n || !bytes.Equal(q.staticKeys[d.id-1], d.key.PublicKey()) || d.part != nil {
			return fail(fmt.Errorf("%w: DKG static keys do not place this node at %d of %d", ErrBadMessage, d.id, d.n))
		}
		cfg := &frost.DKGConfig{Suite: frost.Ed25519, Threshold: d.t, StaticKeys: q.staticKeys,
			Context: frost.DKGContext(frost.Ed25519, q.session[:], q.staticKeys), Extension: dkgExtension(d.account)}
		p, err := frost.NewDKGParticipant(cfg, d.id, d.key)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", ErrBadMessage, err))
		}
		m, err := p.Round1()
		if err != nil {
			return fail(err)
		}
		d.part = p
		return m.Marshal(), nil
	case opDKGRound2:
		m, err := frost.UnmarshalDKGRound2(q.pkg)
		if err != nil {
			return fail(fmt.Errorf("%w: DKG round two: %w", ErrBadMessage, err))
		}
		if d.part == nil {
			return fail(fmt.Errorf("%w: DKG round two before round one", ErrBadMessage))
		}
		sig, err := d.part.Round2(m)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", ErrBadMessage, err))
		}
		return sig.Marshal(), nil
	default: // opDKGFinish
		sigs, err := frost.UnmarshalDKGSignatures(q.pkg)
		if err != nil {
			return nil, fmt.Errorf("%w: DKG signatures: %w", ErrBadMessage, err)
		}
		if d.part == nil {
			return nil, fmt.Errorf("%w: DKG signatures before round one", ErrBadMessage)
		}
		holder, err := custody.ParsePublicKey(q.holderKey)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
		res, err := d.part.Finish(sigs)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
		pt := res.KeyShare.Marshal()
		res.KeyShare.Erase()
		defer clear(pt)
		s.log.Info("mpcsign: DKG done; key share sealed to the holder and erased", "account", d.account, "id", d.id)
		return custody.Seal(holder, restInfo(d.account, 1, d.id), pt)
	}
}

// dkgKey makes an account's t-of-n key by COCKTAIL-DKG among the nodes
// (n of them; participant i is nodes[i-1] and gets share identifier i).
// It returns the public key package, the success certificate and the key
// shares, each checked against the certificate's public key package; the
// caller erases the shares.
func (h *Holder) dkgKey(ctx context.Context, account string, t int, nodes []string) (*frost.PublicKeyPackage, *frost.DKGCertificate, []*frost.KeyShare, error) {
	n := len(nodes)
	var session [dkgSessionSize]byte
	if _, err := rand.Read(session[:]); err != nil {
		return nil, nil, nil, err
	}
	conns := make([]*nodeConn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	out := make([][]byte, n)
	// each runs one step at every node in parallel; out[i] is node i's reply.
	each := func(req func(i int) *request) error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if conns[i] == nil {
					if conns[i], errs[i] = h.dial(ctx, nodes[i]); errs[i] != nil {
						return
					}
				}
				out[i], errs[i] = conns[i].roundTrip(ctx, req(i))
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	err := each(func(i int) *request {
		return &request{op: opDKGStart, session: session, account: account, t: t, n: n, id: uint16(i + 1)}
	})
	if err != nil {
		return nil, nil, nil, err
	}
	static := make([][]byte, n)
	for i := range n {
		if len(out[i]) != 32 {
			return nil, nil, nil, fmt.Errorf("%w: node %s: DKG static key", ErrBadMessage, nodes[i])
		}
		static[i] = out[i]
	}
	cfg := &frost.DKGConfig{Suite: frost.Ed25519, Threshold: t, StaticKeys: static,
		Context: frost.DKGContext(frost.Ed25519, session[:], static), Extension: dkgExtension(account)}
	coord, err := frost.NewDKGCoordinator(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := each(func(int) *request { return &request{op: opDKGRound1, session: session, staticKeys: static} }); err != nil {
		return nil, nil, nil, err
	}
	for i := range n {
		m, err := frost.UnmarshalDKGRound1(out[i])
		if err == nil && m.From() != uint16(i+1) {
			err = fmt.Errorf("%w: from %d", ErrBadMessage, m.From())
		}
		if err == nil {
			err = coord.AddRound1(m)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("mpcsign: node %s: DKG round one: %w", nodes[i], err)
		}
	}
	r2, err := coord.Round2()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := each(func(i int) *request { return &request{op: opDKGRound2, session: session, pkg: r2[i].Marshal()} }); err != nil {
		return nil, nil, nil, err
	}
	for i := range n {
		m, err := frost.UnmarshalDKGSignature(out[i])
		if err == nil && m.From() != uint16(i+1) {
			err = fmt.Errorf("%w: from %d", ErrBadMessage, m.From())
		}
		if err == nil {
			err = coord.AddSignature(m)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("mpcsign: node %s: DKG signature: %w", nodes[i], err)
		}
	}
	sigs, err := coord.Signatures()
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := coord.Certificate()
	if err != nil {
		return nil, nil, nil, err
	}
	pub, err := cert.PublicKeyPackage()
	if err != nil {
		return nil, nil, nil, err
	}
	hk := h.key.Public().Bytes()
	if err := each(func(int) *request {
		return &request{op: opDKGFinish, session: session, pkg: sigs.Marshal(), holderKey: hk}
	}); err != nil {
		return nil, nil, nil, err
	}
	rec := &Account{ID: account, Epoch: 1, Key: pub}
	shares := make([]*frost.KeyShare, n)
	for i := range n {
		var err error
		if shares[i], err = h.openSealedShare(rec, uint16(i+1), out[i]); err != nil {
			eraseAll(shares)
			return nil, nil, nil, fmt.Errorf("mpcsign: node %s: DKG share: %w", nodes[i], err)
		}
	}
	return pub, cert, shares, nil
}
