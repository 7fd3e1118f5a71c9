package mpcsign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/transport"
)

// Files of a pool node's data directory.
const (
	// SignerKeyFile holds the node's HPKE private key (mode 0600).
	SignerKeyFile = "signer.hpke"
	// SignerStoreFile is the node's bbolt database: account records,
	// sealed TOTP secrets, spent request ids and TOTP steps. Never a
	// share.
	SignerStoreFile = "signer.db"
)

// Node limits.
const (
	// MaxConnections bounds the connections a node serves at once.
	MaxConnections = 64
	// IdleTimeout closes a connection without a request for this long.
	IdleTimeout = 30 * time.Second
	// RoundTimeout is how long a node keeps a request's share and nonces
	// between round one and round two; then it erases them.
	RoundTimeout = time.Minute
	// MaxSessions bounds the requests between their two rounds at once.
	MaxSessions = 1024
)

const (
	nodeAccounts = "mpcsign.node.accounts" // account -> node account record
	nodeRequests = "mpcsign.node.requests" // account prefix || request id -> u64 expiry
	nodeSteps    = "mpcsign.node.steps"    // account prefix || u64 step -> u64 expiry || request id
)

// SignerBuckets are the buckets a node's store needs.
var SignerBuckets = []string{nodeAccounts, nodeRequests, nodeSteps}

// SignerConfig configures a pool node. Name is required.
type SignerConfig struct {
	// Name is the node's name, as in its TLS certificate: authorisations
	// name nodes by it and shares are sealed to it.
	Name string
	// Logger receives request events; nil means none. Shares, codes and
	// secrets are never logged.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Signer is a pool node. It keeps, per account, the public record and the
// TOTP secret sealed to its own HPKE key (from the enrolment), and the
// request ids and TOTP steps it has accepted (until they expire). For a
// signing request it checks the owner's authorisation, opens the share
// the holder sealed to it for that request, runs FROST's two rounds and
// erases the share; a share is never written to its store.
//
// Only the holder that enrolled an account (by its TLS key) may use the
// account at the node.
type Signer struct {
	store *custody.Store
	key   *custody.PrivateKey
	name  string
	log   *slog.Logger
	now   func() time.Time
	owned bool

	mu       sync.Mutex
	sessions map[[RequestIDSize]byte]*session
	dkgs     map[[dkgSessionSize]byte]*dkgSession
	wg       sync.WaitGroup
}

// session is a request between its two rounds: in memory only.
type session struct {
	peer   ed25519.PublicKey
	key    *frost.KeyShare
	nonces *frost.SigningNonces
	hash   [sha256.Size]byte
	nodes  int
	timer  *time.Timer
}

// erase clears the share and the nonces (frost.Sign erases nonces on its
// first call, even when it refuses, as it does a nil package).
func (s *session) erase() {
	if s.nonces != nil {
		frost.Sign(s.key, s.nonces, nil)
	}
	if s.key != nil {
		s.key.Erase()
	}
	s.key, s.nonces = nil, nil
}

// NewSigner makes a node on an open store (opened with [SignerBuckets])
// and its HPKE private key.
func NewSigner(store *custody.Store, key *custody.PrivateKey, cfg *SignerConfig) (*Signer, error) {
	if store == nil || key == nil {
		return nil, errors.New("mpcsign: signer needs a store and a key")
	}
	if cfg == nil || !transport.ValidName(cfg.Name) {
		return nil, errors.New("mpcsign: signer needs a valid name (its certificate name)")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Signer{store: store, key: key, name: cfg.Name, log: log.With("node", cfg.Name), now: now,
		sessions: make(map[[RequestIDSize]byte]*session), dkgs: make(map[[dkgSessionSize]byte]*dkgSession)}, nil
}

// OpenSigner opens the node whose data live in dir ([SignerKeyFile], made
// on first start, and [SignerStoreFile]), making dir (0700) if missing.
// Close closes the store.
func OpenSigner(dir string, cfg *SignerConfig) (*Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, _, err := custody.LoadOrCreateKey(filepath.Join(dir, SignerKeyFile), custody.DefaultSuite)
	if err != nil {
		return nil, err
	}
	st, err := custody.OpenStore(filepath.Join(dir, SignerStoreFile), &custody.StoreConfig{Buckets: SignerBuckets})
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(st, key, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Close erases every pending session, waits for Serve's connections and,
// for a node from [OpenSigner], closes the store.
func (s *Signer) Close() error {
	s.wg.Wait()
	s.mu.Lock()
	for id, ss := range s.sessions {
		ss.timer.Stop()
		ss.erase()
		delete(s.sessions, id)
	}
	for id, d := range s.dkgs {
		d.timer.Stop()
		delete(s.dkgs, id)
	}
	s.mu.Unlock()
	if s.owned {
		return s.store.Close()
	}
	return nil
}

// PublicKey returns the node's HPKE public key.
func (s *Signer) PublicKey() *custody.PublicKey { return s.key.Public() }

// Name returns the node's name.
func (s *Signer) Name() string { return s.name }

// Peer is the authenticated peer of a request.
type Peer = custody.Peer

// Handler answers one encoded request; [Signer] is one.
type Handler interface {
	Handle(peer Peer, req []byte) []byte
}

// Serve accepts connections for [SessionName] on l and answers their
// requests with h until ctx ends, then closes l.
func (s *Signer) Serve(ctx context.Context, l *transport.Listener) error {
	return Serve(ctx, l, s, s.log, &s.wg)
}

// Serve runs h on the connections of l (see [Signer.Serve]); wg, if not
// nil, counts the connections being served.
func Serve(ctx context.Context, l *transport.Listener, h Handler, log *slog.Logger, wg *sync.WaitGroup) error {
	srv := server(h, log)
	srv.Conns = wg
	return srv.Serve(ctx, l)
}

// server is a node's connection handling (custody.Server) with h.
func server(h Handler, log *slog.Logger) *custody.Server {
	return &custody.Server{Session: SessionName, MaxConnections: MaxConnections, MaxRequestSize: MaxRequestSize,
		IdleTimeout: IdleTimeout, Handle: h.Handle, Logger: log, Name: "mpcsign"}
}

// Handle answers one encoded request from peer. A response is sent only
// after what it relies on (a spent request id) is durable.
func (s *Signer) Handle(peer Peer, req []byte) []byte {
	q, err := parseRequest(req)
	if err != nil {
		s.log.Info("mpcsign: bad request", "peer", peer.Name, "err", err)
		return custody.ErrorResponse(uint8(codeBadMessage), err.Error())
	}
	var body []byte
	switch q.op {
	case opStatus:
		body, err = s.status()
	case opEnrol:
		err = s.enrol(peer, q)
	case opRound1:
		body, err = s.round1(peer, q)
	case opRound2:
		body, err = s.round2(peer, q)
	case opCheck:
		body, err = s.check(peer, q)
	case opDKGStart, opDKGRound1, opDKGRound2, opDKGFinish:
		body, err = s.dkg(peer, q)
	}
	if err != nil {
		c := codeOf(err)
		s.log.Info("mpcsign: request refused", "peer", peer.Name, "op", q.op, "err", err)
		text := err.Error()
		if c == codeInternal {
			text = ErrNodeInternal.Error()
		}
		return custody.ErrorResponse(uint8(c), text)
	}
	s.log.Debug("mpcsign: request served", "peer", peer.Name, "op", q.op)
	return custody.OKResponse(body)
}

func (s *Signer) status() ([]byte, error) {
	var n uint64
	err := s.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(nodeAccounts, nil, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(s.key.Public().Bytes(), n), nil
}

// nodeAccount is what a node keeps per account:
// 0x01 || holder's TLS key (32) || u32 len || record || u32 len || sealed TOTP secret.
type nodeAccount struct {
	owner  ed25519.PublicKey
	record *Account
	raw    []byte // the record's encoding
	totp   []byte // sealed to the node
}

func (n *nodeAccount) marshal() []byte {
	b := append([]byte{1}, n.owner...)
	b = binfmt.AppendBytes32(b, n.raw)
	return binfmt.AppendBytes32(b, n.totp)
}

func parseNodeAccount(b []byte) (*nodeAccount, error) {
	r := binfmt.NewReader(b)
	v := r.U8()
	n := &nodeAccount{owner: bytes.Clone(r.Bytes(ed25519.PublicKeySize))}
	n.raw = r.Bytes32(MaxRecordSize)
	n.totp = r.Bytes32(MaxSealedTOTP)
	if v != 1 || !r.Done() {
		return nil, fmt.Errorf("mpcsign: corrupt node account record")
	}
	var err error
	if n.record, err = ParseAccount(n.raw); err != nil {
		return nil, fmt.Errorf("mpcsign: corrupt node account record: %w", err)
	}
	return n, nil
}

func (s *Signer) account(tx *custody.Tx, id string) (*nodeAccount, error) {
	b, err := tx.Get(nodeAccounts, []byte(id))
	if errors.Is(err, custody.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if err != nil {
		return nil, err
	}
	return parseNodeAccount(b)
}

func samePeer(a, b ed25519.PublicKey) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}

func totpInfo(account, node string) []byte {
	return custody.Info("mpcsign/totp", []byte(account), []byte(node))
}

func shareInfo(a *Authorization, epoch uint32, id uint16, node string) []byte {
	return custody.Info("mpcsign/share", []byte(a.Account), a.RequestID[:], a.MessageHash[:],
		binary.BigEndian.AppendUint32(nil, epoch), binary.BigEndian.AppendUint16(nil, id), []byte(node))
}

func checkInfo(account string, epoch uint32, id uint16, node string) []byte {
	return custody.Info("mpcsign/check", []byte(account), binary.BigEndian.AppendUint32(nil, epoch),
		binary.BigEndian.AppendUint16(nil, id), []byte(node))
}

// enrol records a new account: its record and its TOTP secret, sealed to
// this node. The enrolling peer becomes the account's holder here.
func (s *Signer) enrol(peer Peer, q *request) error {
	rec, err := ParseAccount(q.record)
	if err != nil {
		return err
	}
	secret, err := custody.Open(s.key, totpInfo(rec.ID, s.name), q.sealed)
	if err != nil {
		return fmt.Errorf("%w: TOTP secret: %w", ErrBadMessage, err)
	}
	n := len(secret)
	clear(secret)
	if n == 0 || n > MaxTOTPSecret {
		return fmt.Errorf("%w: TOTP secret of %d bytes", ErrBadMessage, n)
	}
	return s.store.Update(func(tx *custody.Tx) error {
		old, err := s.account(tx, rec.ID)
		if err == nil {
			if samePeer(old.owner, peer.Key) && bytes.Equal(old.raw, q.record) {
				return nil // a retried enrolment
			}
			return fmt.Errorf("%w: account %s is enrolled already", ErrConflict, rec.ID)
		}
		if !errors.Is(err, ErrUnknownAccount) {
			return err
		}
		na := &nodeAccount{owner: bytes.Clone(peer.Key), raw: q.record, totp: q.sealed}
		s.log.Info("mpcsign: account enrolled", "account", rec.ID, "holder", peer.Name)
		return tx.Put(nodeAccounts, []byte(rec.ID), na.marshal())
	})
}

// openKeyShare opens a sealed share and checks it is share id of rec.
func (s *Signer) openKeyShare(rec *Account, id uint16, info, sealed []byte) (*frost.KeyShare, error) {
	pt, err := custody.Open(s.key, info, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: does not open for this node and request", ErrBadShare)
	}
	defer clear(pt)
	k, err := frost.UnmarshalKeyShare(pt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadShare, err)
	}
	vs, ok := rec.Key.VerifyingShare(id)
	if k.Identifier() != id || !ok || !bytes.Equal(k.VerifyingShare(), vs) || !bytes.Equal(k.GroupKey(), rec.Key.GroupKey()) ||
		k.Threshold() != rec.Threshold() {
		k.Erase()
		return nil, fmt.Errorf("%w: not share %d of the account's key at epoch %d", ErrBadShare, id, rec.Epoch)
	}
	return k, nil
}

// checkRecord checks that rec may be used for the stored account by peer:
// the holder's TLS key, the same account, and no older epoch than the
// node has seen.
func checkRecord(na *nodeAccount, peer Peer, rec *Account) error {
	if !samePeer(na.owner, peer.Key) {
		return fmt.Errorf("%w: peer %s is not the holder of account %s", ErrForbidden, peer.Name, rec.ID)
	}
	if !sameAccount(na.record, rec) {
		return fmt.Errorf("%w: record differs from the enrolled account", ErrConflict)
	}
	if rec.Epoch < na.record.Epoch {
		return fmt.Errorf("%w: epoch %d, node is at %d", ErrEpoch, rec.Epoch, na.record.Epoch)
	}
	return nil
}

func stepKey(account string, step int64) []byte {
	return binary.BigEndian.AppendUint64(binfmt.AppendString8(nil, account), uint64(step))
}

func requestKey(account string, id [RequestIDSize]byte) []byte {
	return append(binfmt.AppendString8(nil, account), id[:]...)
}

// round1 checks the authorisation, spends its request id and TOTP step
// (durably), opens the share and commits (FROST round one).
func (s *Signer) round1(peer Peer, q *request) ([]byte, error) {
	rec, err := ParseAccount(q.record)
	if err != nil {
		return nil, err
	}
	a, err := ParseAuthorization(q.auth)
	if err != nil {
		return nil, err
	}
	if a.Account != rec.ID {
		return nil, fmt.Errorf("%w: authorisation for account %s, record of %s", ErrBadMessage, a.Account, rec.ID)
	}
	var na *nodeAccount
	if err := s.store.View(func(tx *custody.Tx) error { na, err = s.account(tx, rec.ID); return err }); err != nil {
		return nil, err
	}
	if err := checkRecord(na, peer, rec); err != nil {
		return nil, err
	}
	// The owner's authorisation, checked here before the share is opened.
	if !ed25519.Verify(na.record.Device, signedBytes(q.auth[:len(q.auth)-ed25519.SignatureSize]), a.Signature) {
		return nil, ErrBadDeviceSignature
	}
	if _, ok := slices.BinarySearch(a.Nodes, s.name); !ok {
		return nil, fmt.Errorf("%w: %s not in %v", ErrNotInNodeSet, s.name, a.Nodes)
	}
	if h := sha256.Sum256(q.message); subtle.ConstantTimeCompare(h[:], a.MessageHash[:]) != 1 {
		return nil, ErrWrongMessage
	}
	if len(a.Nodes) < rec.Threshold() {
		return nil, fmt.Errorf("%w: %d nodes authorised, threshold %d", ErrTooFewNodes, len(a.Nodes), rec.Threshold())
	}
	secret, err := custody.Open(s.key, totpInfo(rec.ID, s.name), na.totp)
	if err != nil {
		return nil, fmt.Errorf("mpcsign: opening the stored TOTP secret: %w", err)
	}
	now := s.now()
	step, err := matchCode(secret, na.record, a, now)
	clear(secret)
	if err != nil {
		return nil, err
	}
	// Spend the request id and the code's step in one durable transaction
	// before anything is opened: of concurrent uses, one wins, and a
	// restart does not forget.
	expiry := now.Add(RequestLifetime).Unix()
	err = s.store.Update(func(tx *custody.Tx) error {
		if err := purge(tx, now.Unix()); err != nil {
			return err
		}
		rk := requestKey(a.Account, a.RequestID)
		if _, err := tx.Get(nodeRequests, rk); err == nil {
			return ErrReplay
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		sk := stepKey(a.Account, step)
		if v, err := tx.Get(nodeSteps, sk); err == nil {
			if len(v) != 8+RequestIDSize || !bytes.Equal(v[8:], a.RequestID[:]) {
				return ErrCodeReused
			}
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		if err := tx.Put(nodeRequests, rk, binary.BigEndian.AppendUint64(nil, uint64(expiry))); err != nil {
			return err
		}
		if err := tx.Put(nodeSteps, sk, append(binary.BigEndian.AppendUint64(nil, uint64(expiry)), a.RequestID[:]...)); err != nil {
			return err
		}
		if rec.Epoch > na.record.Epoch {
			// The holder has moved to a refreshed epoch: older shares are
			// refused from now on.
			na.record, na.raw = rec, q.record
			return tx.Put(nodeAccounts, []byte(rec.ID), na.marshal())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	k, err := s.openKeyShare(rec, q.id, shareInfo(a, rec.Epoch, q.id, s.name), q.sealed)
	if err != nil {
		return nil, err
	}
	nonces, comm, err := frost.Commit(k)
	if err != nil {
		k.Erase()
		return nil, err
	}
	ss := &session{peer: bytes.Clone(peer.Key), key: k, nonces: nonces, hash: a.MessageHash, nodes: len(a.Nodes)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= MaxSessions {
		ss.erase()
		return nil, fmt.Errorf("%w: %d requests pending", ErrBusy, MaxSessions)
	}
	s.sessions[a.RequestID] = ss
	id := a.RequestID
	ss.timer = time.AfterFunc(RoundTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.sessions[id] == ss {
			delete(s.sessions, id)
			ss.erase()
		}
	})
	s.log.Info("mpcsign: round one", "account", rec.ID, "request", fmt.Sprintf("%x", a.RequestID), "share", q.id, "epoch", rec.Epoch)
	return comm.Marshal(), nil
}

// purge deletes request ids and steps whose expiry (the value's first 8
// bytes) has passed. It walks both tables: they hold what the last
// RequestLifetime accepted, which the request rate bounds.
func purge(tx *custody.Tx, now int64) error {
	for _, bucket := range []string{nodeRequests, nodeSteps} {
		var dead [][]byte
		err := tx.ForEachPrefix(bucket, nil, func(k, v []byte) error {
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= now {
				dead = append(dead, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := tx.Delete(bucket, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// round2 signs the package (FROST round two) for a request that passed
// round one, and erases the share.
func (s *Signer) round2(peer Peer, q *request) ([]byte, error) {
	s.mu.Lock()
	ss := s.sessions[q.reqID]
	if ss != nil && samePeer(ss.peer, peer.Key) {
		delete(s.sessions, q.reqID)
		ss.timer.Stop()
	} else {
		ss = nil
	}
	s.mu.Unlock()
	if ss == nil {
		return nil, ErrNoSession
	}
	defer ss.erase()
	p, err := frost.UnmarshalSigningPackage(q.pkg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if h := sha256.Sum256(p.Message()); subtle.ConstantTimeCompare(h[:], ss.hash[:]) != 1 {
		return nil, ErrWrongMessage
	}
	if len(p.Identifiers()) != ss.nodes {
		return nil, fmt.Errorf("%w: %d signers in the package, %d nodes authorised", ErrNotInNodeSet, len(p.Identifiers()), ss.nodes)
	}
	sh, err := frost.Sign(ss.key, ss.nonces, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return sh.Marshal(), nil
}

// check verifies a refreshed share for the holder: it opens, matches the
// new record and is erased. The node's state does not change; its reply is
// the acknowledgement the holder counts before deleting old shares.
func (s *Signer) check(peer Peer, q *request) ([]byte, error) {
	rec, err := ParseAccount(q.record)
	if err != nil {
		return nil, err
	}
	var na *nodeAccount
	if err := s.store.View(func(tx *custody.Tx) error { na, err = s.account(tx, rec.ID); return err }); err != nil {
		return nil, err
	}
	if err := checkRecord(na, peer, rec); err != nil {
		return nil, err
	}
	if rec.Epoch == na.record.Epoch {
		return nil, fmt.Errorf("%w: a refreshed share must be of a newer epoch than %d", ErrEpoch, na.record.Epoch)
	}
	k, err := s.openKeyShare(rec, q.id, checkInfo(rec.ID, rec.Epoch, q.id, s.name), q.sealed)
	if err != nil {
		return nil, err
	}
	vs := k.VerifyingShare()
	k.Erase()
	b := binary.BigEndian.AppendUint32(nil, rec.Epoch)
	b = binary.BigEndian.AppendUint16(b, q.id)
	return append(b, vs...), nil
}
