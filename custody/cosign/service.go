package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
)

// Buckets of the service's store, besides [LogBuckets].
const (
	bucketUsers    = "cosign/users"    // user → user record
	bucketRequests = "cosign/requests" // request id → u64 log index of its authorisation
)

// ServiceBuckets are the buckets a [Service] keeps in its store.
var ServiceBuckets = append([]string{bucketUsers, bucketRequests, bucketKeys}, LogBuckets...)

// Service limits.
const (
	// MaxEnrolSessions bounds the enrolments in progress.
	MaxEnrolSessions = 256
	// EnrolTimeout is how long an enrolment may take between its steps.
	EnrolTimeout = 2 * time.Minute
)

// Participant identifiers of a user's split key.
const (
	ClientID   uint16 = 1 // the mobile client
	ServiceID  uint16 = 2 // the service
	RecoveryID uint16 = 3 // the offline recovery share, when there is one
)

// ServiceConfig configures a [Service]. Org, OrgCert, OrgKey and RA are
// required.
type ServiceConfig struct {
	// Org is the organisation's name, its certificate's CommonName.
	Org string
	// OrgCert is the organisation's certificate, issued by the RA.
	OrgCert *x509.Certificate
	// OrgKey signs documents for the organisation: a [SealedSigner], or a
	// hardware module's crypto.Signer. It is used only for a request whose
	// user's co-signature and certificate verified.
	OrgKey crypto.Signer
	// RA issues the users' certificates at enrolment and is the root their
	// certificates are verified against.
	RA *RA
	// Admins are the TLS names of the peers that may revoke any user.
	Admins []string
	// MaxSkew bounds how far a request's time may be from the service's
	// clock; zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// Logger receives request events; nil means none. Keys, shares and
	// nonces are never logged.
	Logger *slog.Logger
	// Now is the service's clock; nil means time.Now.
	Now func() time.Time
}

// Peer is the authenticated peer of a request: its TLS certificate name
// and key.
type Peer = custody.Peer

// userState is a user record's state.
type userState byte

const (
	statePending  userState = 1 // key made and certified; enrolment entry not yet logged
	stateEnrolled userState = 2
	stateRevoked  userState = 3
)

// userRecord is what the service keeps of a user.
//
//	record = 0x01 || state u8 || revoked-at u64 (Unix ns, 0 if not) ||
//	         u32 len || certificate DER || u32 len || public key package ||
//	         u32 len || DKG certificate || u32 len || service key share sealed to the service
type userRecord struct {
	state     userState
	revokedAt time.Time
	cert      *x509.Certificate
	pub       *frost.PublicKeyPackage
	dkg       *frost.DKGCertificate
	sealed    []byte
}

func (u *userRecord) marshal() []byte {
	b := []byte{payloadVersion, byte(u.state)}
	var ns uint64
	if !u.revokedAt.IsZero() {
		ns = uint64(u.revokedAt.UnixNano())
	}
	b = binary.BigEndian.AppendUint64(b, ns)
	b = binfmt.AppendBytes32(b, u.cert.Raw)
	b = binfmt.AppendBytes32(b, u.pub.Marshal())
	b = binfmt.AppendBytes32(b, u.dkg.Marshal())
	return binfmt.AppendBytes32(b, u.sealed)
}

func parseUserRecord(b []byte) (*userRecord, error) {
	r := newReader(b)
	v, st, ns := r.U8(), userState(r.U8()), r.U64()
	cb, pb, db, sb := r.Bytes32(MaxCertSize), r.Bytes32(maxFrostMsg), r.Bytes32(MaxDKGCertSize), r.Bytes32(maxFrostMsg)
	if !r.Done() || v != payloadVersion || st < statePending || st > stateRevoked || ns > 1<<63-1 {
		return nil, fmt.Errorf("%w: user record", ErrBadMessage)
	}
	u := &userRecord{state: st, sealed: bytes.Clone(sb)}
	if ns != 0 {
		u.revokedAt = time.Unix(0, int64(ns)).UTC()
	}
	var err error
	if u.cert, err = x509.ParseCertificate(cb); err != nil {
		return nil, fmt.Errorf("%w: user record certificate: %w", ErrBadMessage, err)
	}
	if u.pub, err = frost.UnmarshalPublicKeyPackage(pb); err != nil {
		return nil, fmt.Errorf("%w: user record key: %w", ErrBadMessage, err)
	}
	if u.dkg, err = frost.UnmarshalDKGCertificate(db); err != nil {
		return nil, fmt.Errorf("%w: user record DKG certificate: %w", ErrBadMessage, err)
	}
	return u, nil
}

// enrolSession is an enrolment in progress (the service is DKG
// participant 2 and the coordinator).
type enrolSession struct {
	user     string
	peer     ed25519.PublicKey
	expires  time.Time
	part     *frost.DKGParticipant
	coord    *frost.DKGCoordinator
	recovery *custody.PublicKey
	res      *frost.DKGResult
	piece    *frost.RepairPiece // the service's own piece of the recovery share
	step     op                 // the last step done
}

// Service is the co-signing service: it holds the organisation's key and
// each user's service share, and signs for the organisation only on a
// request that the user co-signed with its split key. Every action is
// appended to its [Log]. Safe for concurrent use.
type Service struct {
	store   *custody.Store
	hpke    *custody.PrivateKey
	log     *Log
	org     string
	orgCert *x509.Certificate
	orgKey  crypto.Signer
	ra      *RA
	roots   *x509.CertPool
	admins  []string
	logger  *slog.Logger
	now     func() time.Time
	skew    time.Duration

	mu       sync.RWMutex // users, sessions
	users    map[string]*userRecord
	sessions map[string]*enrolSession
	writeMu  sync.Mutex // serialises check-then-commit of actions
	owned    bool       // Close closes the store
}

// NewService makes a service on an open store (opened with
// [ServiceBuckets]); hpke seals its key shares at rest; logKey signs the
// log's checkpoints and the service's entries; origin names the log.
func NewService(store *custody.Store, hpke *custody.PrivateKey, origin string, logKey crypto.Signer, cfg *ServiceConfig) (*Service, error) {
	if store == nil || hpke == nil || cfg == nil || cfg.OrgKey == nil || cfg.OrgCert == nil || cfg.RA == nil || cfg.RA.CA == nil {
		return nil, errors.New("cosign: a service needs a store, an HPKE key, the organisation's key and certificate and an RA")
	}
	if err := checkName(cfg.Org); err != nil {
		return nil, err
	}
	s := &Service{store: store, hpke: hpke, org: cfg.Org, orgCert: cfg.OrgCert, orgKey: cfg.OrgKey,
		ra: cfg.RA, roots: cfg.RA.Roots(), admins: slices.Clone(cfg.Admins), logger: cfg.Logger,
		now: cfg.Now, skew: cfg.MaxSkew, users: map[string]*userRecord{}, sessions: map[string]*enrolSession{}}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.skew <= 0 {
		s.skew = DefaultMaxSkew
	}
	orgPub, ok := cfg.OrgKey.Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("cosign: the organisation's key is not Ed25519")
	}
	if certPub, err := VerifyCert(cfg.OrgCert, s.roots, s.now()); err != nil {
		return nil, fmt.Errorf("cosign: organisation certificate: %w", err)
	} else if !certPub.Equal(orgPub) || cfg.OrgCert.Subject.CommonName != cfg.Org {
		return nil, errors.New("cosign: the organisation's certificate is not for its key and name")
	}
	var err error
	if s.log, err = OpenLog(store, origin, logKey, (*serviceUsers)(s), &LogConfig{MaxSkew: s.skew, Now: s.now}); err != nil {
		return nil, err
	}
	err = store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(bucketUsers, nil, func(k, v []byte) error {
			u, err := parseUserRecord(v)
			if err != nil {
				return fmt.Errorf("cosign: stored user %q: %w", k, err)
			}
			s.users[string(k)] = u
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Log returns the service's action log.
func (s *Service) Log() *Log { return s.log }

// OrgCertificate returns the organisation's certificate.
func (s *Service) OrgCertificate() *x509.Certificate { return s.orgCert }

// serviceUsers is the service's registry as the log's [UserKeys]: a
// user's key at a time is its certificate's, if the certificate was valid
// then and not yet revoked.
type serviceUsers Service

func (su *serviceUsers) UserKey(user string, at time.Time) (ed25519.PublicKey, error) {
	s := (*Service)(su)
	s.mu.RLock()
	u := s.users[user]
	s.mu.RUnlock()
	if u == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	if !u.revokedAt.IsZero() && !at.Before(u.revokedAt) {
		return nil, fmt.Errorf("%w: %q revoked at %v", ErrUnknownUser, user, u.revokedAt)
	}
	pub, err := VerifyCert(u.cert, s.roots, at)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownUser, err)
	}
	return pub, nil
}

func (s *Service) user(name string) *userRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.users[name]
}

// Handle answers one encoded request from peer, as the network server
// does for each request. A response acknowledging an action is sent only
// after the action and its log entries are durable.
func (s *Service) Handle(peer Peer, req []byte) []byte {
	q, err := parseRequest(req)
	if err != nil {
		s.logger.Info("cosign: bad request", "peer", peer.Name, "err", err)
		return custody.ErrorResponse(uint8(codeBadMessage), err.Error())
	}
	var body []byte
	ctx := context.Background()
	switch q.op {
	case opEnrolInit:
		body, err = s.enrolInit(peer, q)
	case opEnrolRound1:
		body, err = s.enrolRound1(peer, q)
	case opEnrolSign:
		body, err = s.enrolSign(peer, q)
	case opEnrolCert:
		body, err = s.enrolCert(peer, q)
	case opPropose:
		body, err = s.propose(peer, q)
	case opCommit:
		body, err = s.commit(peer, q)
	case opRevoke:
		body, err = s.revoke(peer, q)
	case opStatus:
		body = binfmt.AppendString8(nil, s.log.Origin())
		body = binary.BigEndian.AppendUint16(body, uint16(len(s.log.VerifierKey())))
		body = append(body, s.log.VerifierKey()...)
	case opCheckpoint:
		var c []byte
		c, err = s.log.Checkpoint(ctx)
		body = binfmt.AppendBytes32(nil, c)
	case opConsistency:
		var p ConsistencyProof
		if p, err = s.log.ProveConsistency(ctx, int64(q.a), int64(q.b)); err == nil {
			body = binfmt.AppendBytes32(nil, p.Marshal())
		}
	case opInclusion:
		var p *InclusionProof
		if p, err = s.log.ProveInclusion(ctx, int64(q.a), int64(q.b)); err == nil {
			body = binfmt.AppendBytes32(nil, p.Marshal())
		}
	case opEntry:
		var e *Entry
		if e, err = s.log.Entry(ctx, int64(q.a)); err == nil {
			var b []byte
			b, err = e.Marshal()
			body = binfmt.AppendBytes32(nil, b)
		}
	}
	if err != nil {
		c := codeOf(err)
		s.logger.Info("cosign: request refused", "peer", peer.Name, "op", q.op, "err", err)
		text := err.Error()
		if c == codeInternal {
			text = ErrInternal.Error()
		}
		return custody.ErrorResponse(uint8(c), text)
	}
	s.logger.Debug("cosign: request served", "peer", peer.Name, "op", q.op)
	return custody.OKResponse(body)
}

// --- enrolment ---

func (s *Service) session(peer Peer, id []byte, want op) (*enrolSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.sessions[string(id)]
	if e == nil || s.now().After(e.expires) || !e.peer.Equal(peer.Key) || e.step != want {
		return nil, ErrSession
	}
	return e, nil
}

func (s *Service) enrolInit(peer Peer, q *request) ([]byte, error) {
	if err := checkName(q.user); err != nil {
		return nil, err
	}
	if peer.Name != q.user {
		return nil, fmt.Errorf("%w: %q may not enrol %q (only the user's own device, certified for its name)", ErrForbidden, peer.Name, q.user)
	}
	if u := s.user(q.user); u != nil && u.state == stateEnrolled {
		return nil, fmt.Errorf("%w: %q is enrolled; revoke it first", ErrBadRequest, q.user)
	}
	static, err := frost.NewDKGStaticKey(frost.Ed25519)
	if err != nil {
		return nil, err
	}
	sid := make([]byte, sessionIDSize)
	rand.Read(sid)
	keys := [][]byte{q.static, static.PublicKey()}
	cfg := &frost.DKGConfig{Suite: frost.Ed25519, Threshold: 2, StaticKeys: keys,
		Context: frost.DKGContext(frost.Ed25519, sid, keys)}
	part, err := frost.NewDKGParticipant(cfg, ServiceID, static)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	coord, err := frost.NewDKGCoordinator(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	r1, err := part.Round1()
	if err != nil {
		return nil, err
	}
	if err := coord.AddRound1(r1); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	for k, e := range s.sessions {
		// A user's new enrolment replaces its unfinished one: one user
		// cannot fill MaxEnrolSessions and lock the others out.
		if now.After(e.expires) || e.user == q.user {
			delete(s.sessions, k)
		}
	}
	if len(s.sessions) >= MaxEnrolSessions {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: too many enrolments in progress", ErrBadRequest)
	}
	s.sessions[string(sid)] = &enrolSession{user: q.user, peer: peer.Key, expires: now.Add(EnrolTimeout),
		part: part, coord: coord, recovery: q.recovery, step: opEnrolInit}
	s.mu.Unlock()
	// The service's Round 1 reaches the client in its Round 2 message.
	return append(sid, static.PublicKey()...), nil
}

func (s *Service) enrolRound1(peer Peer, q *request) ([]byte, error) {
	e, err := s.session(peer, q.session, opEnrolInit)
	if err != nil {
		return nil, err
	}
	m, err := frost.UnmarshalDKGRound1(q.msg)
	if err != nil {
		return nil, fmt.Errorf("%w: DKG round 1: %w", ErrBadMessage, err)
	}
	if m.From() != ClientID {
		return nil, fmt.Errorf("%w: DKG round 1 of participant %d, not the client's", ErrBadMessage, m.From())
	}
	if err := e.coord.AddRound1(m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	r2, err := e.coord.Round2()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	sig, err := e.part.Round2(r2[ServiceID-1])
	if err != nil {
		return nil, fmt.Errorf("%w: DKG round 2: %w", ErrBadRequest, err)
	}
	if err := e.coord.AddSignature(sig); err != nil {
		return nil, err
	}
	e.step = opEnrolRound1
	return binfmt.AppendBytes32(nil, r2[ClientID-1].Marshal()), nil
}

var recoveryHelpers = []uint16{ClientID, ServiceID}

func (s *Service) enrolSign(peer Peer, q *request) ([]byte, error) {
	e, err := s.session(peer, q.session, opEnrolRound1)
	if err != nil {
		return nil, err
	}
	m, err := frost.UnmarshalDKGSignature(q.msg)
	if err != nil {
		return nil, fmt.Errorf("%w: DKG signature: %w", ErrBadMessage, err)
	}
	if m.From() != ClientID {
		return nil, fmt.Errorf("%w: DKG signature of participant %d, not the client's", ErrBadMessage, m.From())
	}
	if err := e.coord.AddSignature(m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	sigs, err := e.coord.Signatures()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if e.res, err = e.part.Finish(sigs); err != nil {
		return nil, fmt.Errorf("%w: DKG: %w", ErrBadRequest, err)
	}
	b := binfmt.AppendBytes32(nil, sigs.Marshal())
	var piece []byte
	if e.recovery != nil {
		pieces, err := frost.RepairSplit(e.res.KeyShare, recoveryHelpers, RecoveryID)
		if err != nil {
			return nil, err
		}
		e.piece = pieces[1]
		piece = pieces[0].Marshal()
	}
	e.step = opEnrolSign
	return binfmt.AppendBytes32(b, piece), nil
}

func recoveryInfo(user string, groupKey []byte, from uint16) []byte {
	return custody.Info("cosign/recovery-sum", []byte(user), groupKey, binary.BigEndian.AppendUint16(nil, from))
}

func shareInfo(user string, groupKey []byte) []byte {
	return custody.Info("cosign/service-share", []byte(user), groupKey)
}

func (s *Service) enrolCert(peer Peer, q *request) ([]byte, error) {
	e, err := s.session(peer, q.session, opEnrolSign)
	if err != nil {
		return nil, err
	}
	pub := e.res.PublicKey
	var sealedSum []byte
	if e.recovery != nil {
		p, err := frost.UnmarshalRepairPiece(q.msg)
		if err != nil {
			return nil, fmt.Errorf("%w: repair piece: %w", ErrBadMessage, err)
		}
		sum, err := frost.RepairCombine(frost.Ed25519, ServiceID, recoveryHelpers, RecoveryID, []*frost.RepairPiece{p, e.piece})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if sealedSum, err = custody.Seal(e.recovery, recoveryInfo(e.user, pub.GroupKey(), ServiceID), sum.Marshal()); err != nil {
			return nil, err
		}
		if pub, err = frost.EnrolPublicKey(pub, recoveryHelpers, RecoveryID); err != nil {
			return nil, err
		}
	} else if len(q.msg) != 0 {
		return nil, fmt.Errorf("%w: repair piece without a recovery key", ErrBadMessage)
	}
	cert, err := s.ra.IssueUser(s.org, e.user, e.res.Certificate, e.res.PublicKey)
	if err != nil {
		return nil, err
	}
	sealed, err := custody.Seal(s.hpke.Public(), shareInfo(e.user, pub.GroupKey()), e.res.KeyShare.Marshal())
	if err != nil {
		return nil, err
	}
	rec := &userRecord{state: statePending, cert: cert, pub: pub, dkg: e.res.Certificate, sealed: sealed}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if u := s.user(e.user); u != nil && u.state == stateEnrolled {
		return nil, fmt.Errorf("%w: %q is enrolled", ErrBadRequest, e.user)
	}
	if err := s.store.Put(bucketUsers, []byte(e.user), rec.marshal()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.users[e.user] = rec
	delete(s.sessions, string(q.session))
	s.mu.Unlock()
	e.res.KeyShare.Erase()
	b := binfmt.AppendBytes32(nil, cert.Raw)
	b = binfmt.AppendBytes32(b, s.orgCert.Raw)
	b = binfmt.AppendBytes32(b, s.ra.CA.Certificate.Raw)
	b = binfmt.AppendBytes32(b, pub.Marshal())
	b = binfmt.AppendBytes32(b, e.res.Certificate.Marshal())
	return binfmt.AppendBytes32(b, sealedSum), nil
}

// --- co-signed actions ---

// checkProposal checks everything about a proposal that does not need the
// user's signature: the peer, the time, the user's state and certificate,
// and the action's payload. It returns the user's record and the entries.
func (s *Service) checkProposal(peer Peer, p *Proposal, n int) (*userRecord, []*Entry, error) {
	if err := checkName(p.User); err != nil {
		return nil, nil, err
	}
	if peer.Name != p.User {
		return nil, nil, fmt.Errorf("%w: %q may not act for %q", ErrForbidden, peer.Name, p.User)
	}
	now := s.now()
	if d := now.Sub(p.Time); d > s.skew || d < -s.skew {
		return nil, nil, fmt.Errorf("%w: request at %v, service clock %v", ErrClockSkew, p.Time, now)
	}
	u := s.user(p.User)
	switch {
	case u == nil:
		return nil, nil, fmt.Errorf("%w: %q", ErrNotEnrolled, p.User)
	case u.state == stateRevoked:
		return nil, nil, fmt.Errorf("%w: %q since %v", ErrRevoked, p.User, u.revokedAt)
	case p.Action == ActionEnrol && u.state != statePending:
		return nil, nil, fmt.Errorf("%w: %q has no enrolment pending", ErrBadRequest, p.User)
	case p.Action != ActionEnrol && u.state != stateEnrolled:
		return nil, nil, fmt.Errorf("%w: %q", ErrNotEnrolled, p.User)
	}
	if _, err := VerifyCert(u.cert, s.roots, p.Time); err != nil {
		return nil, nil, err
	}
	switch p.Action {
	case ActionEnrol:
		want := (&Enrolment{Certificate: u.cert, DKG: u.dkg}).Marshal()
		if !bytes.Equal(p.Payload, want) {
			return nil, nil, fmt.Errorf("%w: enrolment record is not the user's certificate and DKG", ErrBadRequest)
		}
	case ActionUse:
		q, err := ParseRequest(p.Payload)
		if err != nil {
			return nil, nil, err
		}
		if q.Org != s.org {
			return nil, nil, fmt.Errorf("%w: request for organisation %q, this service signs for %q", ErrBadRequest, q.Org, s.org)
		}
		if _, err := s.store.Get(bucketRequests, q.ID[:]); err == nil {
			return nil, nil, fmt.Errorf("%w: %x", ErrReplay, q.ID)
		} else if !errors.Is(err, custody.ErrNotFound) {
			return nil, nil, err
		}
	case ActionRevoke:
		r := newReader(p.Payload)
		v, h := r.U8(), r.Bytes(32)
		by := r.String8()
		reason := r.String8()
		if !r.Done() || v != payloadVersion || by != p.User || checkText(reason, MaxReasonLen, "reason") != nil ||
			!bytes.Equal(p.Payload, revocationPayload(u.cert.Raw, by, reason)) || h == nil {
			return nil, nil, fmt.Errorf("%w: revocation record", ErrBadRequest)
		}
	}
	es, err := p.Entries(s.orgCert.Raw)
	if err != nil {
		return nil, nil, err
	}
	if n != len(es) {
		return nil, nil, fmt.Errorf("%w: %d commitments or signatures for %d entries", ErrBadMessage, n, len(es))
	}
	return u, es, nil
}

// refuse logs a refusal of p, signed by the service, and returns err.
func (s *Service) refuse(p *Proposal, err error) error {
	if p == nil || checkUser(p.User) != nil {
		return err
	}
	e := &Entry{Kind: KindRefusal, Time: s.now().UTC(), User: p.User, Payload: refusalPayload(p.Action, p.Payload, err.Error())}
	if serr := s.log.SignAsService(e); serr != nil {
		s.logger.Error("cosign: signing refusal", "err", serr)
		return err
	}
	if _, _, lerr := s.log.Append(context.Background(), e); lerr != nil {
		s.logger.Error("cosign: logging refusal", "err", lerr)
	}
	return err
}

func (s *Service) openShare(user string, u *userRecord) (*frost.KeyShare, error) {
	b, err := custody.Open(s.hpke, shareInfo(user, u.pub.GroupKey()), u.sealed)
	if err != nil {
		return nil, fmt.Errorf("cosign: opening the service share of %q: %w", user, err)
	}
	defer clear(b)
	return frost.UnmarshalKeyShare(b)
}

// propose is the service's part of a co-signature: after checking the
// proposal, it commits and signs its share for each entry with the
// client's commitments. The client aggregates; the service never holds
// the user's whole key, and without this step the client cannot sign.
func (s *Service) propose(peer Peer, q *request) ([]byte, error) {
	u, es, err := s.checkProposal(peer, q.proposal, len(q.frost))
	if err != nil {
		return nil, s.refuse(q.proposal, err)
	}
	ks, err := s.openShare(q.proposal.User, u)
	if err != nil {
		return nil, err
	}
	defer ks.Erase()
	b := []byte{byte(len(es))}
	for i, e := range es {
		cc, err := frost.UnmarshalSigningCommitments(q.frost[i])
		if err != nil || cc.Suite() != frost.Ed25519 || cc.Identifier() == ServiceID || !slices.Contains(u.pub.Identifiers(), cc.Identifier()) {
			return nil, fmt.Errorf("%w: client commitments", ErrBadMessage)
		}
		msg, err := e.Message(s.log.Origin())
		if err != nil {
			return nil, err
		}
		nonces, mine, err := frost.Commit(ks)
		if err != nil {
			return nil, err
		}
		pkg, err := frost.NewSigningPackage(msg, byID(cc, mine))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
		share, err := frost.Sign(ks, nonces, pkg)
		if err != nil {
			return nil, err
		}
		b = binfmt.AppendBytes32(b, mine.Marshal())
		b = binfmt.AppendBytes32(b, share.Marshal())
	}
	return b, nil
}

// commit takes the user's co-signatures of a proposal, verifies them with
// the user's certificate and acts: for a use, only then does it sign with
// the organisation's key, and it returns the signature only after the
// request id is spent and the entries are logged, in one transaction.
func (s *Service) commit(peer Peer, q *request) ([]byte, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	p := q.proposal
	u, es, err := s.checkProposal(peer, p, len(q.frost))
	if err != nil {
		return nil, s.refuse(p, err)
	}
	userKey := u.cert.PublicKey.(ed25519.PublicKey)
	for i, e := range es {
		e.Signature = q.frost[i]
		if err := e.Verify(s.log.Origin(), userKey); err != nil {
			return nil, s.refuse(p, fmt.Errorf("%w: %v entry", ErrSignature, e.Kind))
		}
	}
	var orgSig []byte
	var reqID []byte
	next := *u
	switch p.Action {
	case ActionUse:
		rq, _ := ParseRequest(p.Payload) // checked by checkProposal
		reqID = rq.ID[:]
		if orgSig, err = s.orgKey.Sign(rand.Reader, DocumentMessage(rq.Document), crypto.Hash(0)); err != nil {
			return nil, fmt.Errorf("cosign: organisation key: %w", err)
		}
	case ActionEnrol:
		next.state = stateEnrolled
	case ActionRevoke:
		next.state, next.revokedAt = stateRevoked, p.Time.Add(time.Nanosecond)
	}
	var first int64
	var checkpoint []byte
	err = s.store.Update(func(tx *custody.Tx) error {
		if reqID != nil {
			if _, err := tx.Get(bucketRequests, reqID); err == nil {
				return fmt.Errorf("%w: %x", ErrReplay, reqID)
			} else if !errors.Is(err, custody.ErrNotFound) {
				return err
			}
		}
		var err error
		if first, checkpoint, err = s.log.AppendTx(tx, es...); err != nil {
			return err
		}
		if reqID != nil {
			return tx.Put(bucketRequests, reqID, binary.BigEndian.AppendUint64(nil, uint64(first)))
		}
		return tx.Put(bucketUsers, []byte(p.User), next.marshal())
	})
	if err != nil {
		clear(orgSig)
		if errors.Is(err, ErrReplay) || errors.Is(err, ErrDuplicate) {
			return nil, s.refuse(p, err)
		}
		return nil, err
	}
	if p.Action != ActionUse {
		s.mu.Lock()
		s.users[p.User] = &next
		s.mu.Unlock()
	}
	b := append([]byte{byte(len(orgSig))}, orgSig...)
	b = binary.BigEndian.AppendUint64(b, uint64(first))
	return binfmt.AppendBytes32(b, checkpoint), nil
}

// revoke is a revocation signed by the service, asked for by an
// administrator or by the user's own device (which may have lost its
// share: this needs no co-signature).
func (s *Service) revoke(peer Peer, q *request) ([]byte, error) {
	if err := checkName(q.user); err != nil {
		return nil, err
	}
	if err := checkText(q.reason, MaxReasonLen, "reason"); err != nil {
		return nil, err
	}
	if peer.Name != q.user && !slices.Contains(s.admins, peer.Name) {
		return nil, fmt.Errorf("%w: %q may not revoke %q", ErrForbidden, peer.Name, q.user)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	u := s.user(q.user)
	if u == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotEnrolled, q.user)
	}
	if u.state == stateRevoked {
		return nil, fmt.Errorf("%w: %q already", ErrRevoked, q.user)
	}
	e := &Entry{Kind: KindRevocation, Time: s.now().UTC(), User: q.user, Payload: revocationPayload(u.cert.Raw, peer.Name, q.reason)}
	if err := s.log.SignAsService(e); err != nil {
		return nil, err
	}
	next := *u
	next.state, next.revokedAt = stateRevoked, e.Time.Add(time.Nanosecond)
	var first int64
	var checkpoint []byte
	err := s.store.Update(func(tx *custody.Tx) error {
		var err error
		if first, checkpoint, err = s.log.AppendTx(tx, e); err != nil {
			return err
		}
		return tx.Put(bucketUsers, []byte(q.user), next.marshal())
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.users[q.user] = &next
	s.mu.Unlock()
	b := binary.BigEndian.AppendUint64(nil, uint64(first))
	return binfmt.AppendBytes32(b, checkpoint), nil
}

// byID orders two signers' commitments by identifier, as a signing
// package needs.
func byID(a, b *frost.SigningCommitments) []*frost.SigningCommitments {
	if a.Identifier() > b.Identifier() {
		a, b = b, a
	}
	return []*frost.SigningCommitments{a, b}
}
