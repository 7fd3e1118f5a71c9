package cosign

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
)

// Conn carries requests to a co-signing service and brings back its
// responses: a connection over the mutual-TLS transport ([Dial]), or a
// service in the same process ([Service.Local]).
type Conn interface {
	RoundTrip(ctx context.Context, req []byte) ([]byte, error)
}

type localConn struct {
	s    *Service
	peer Peer
}

func (c localConn) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.s.Handle(c.peer, req), nil
}

// Local returns a connection to s in the same process, as peer (what the
// TLS handshake would have authenticated).
func (s *Service) Local(peer Peer) Conn { return localConn{s, peer} }

// Credential is what a user's mobile client keeps: its share of the
// user's split key and the certificates. The share is secret.
type Credential struct {
	User    string
	Share   *frost.KeyShare
	Public  *frost.PublicKeyPackage
	Cert    *x509.Certificate // the user's, carrying the group key
	OrgCert *x509.Certificate
	RACert  *x509.Certificate
	DKG     *frost.DKGCertificate
}

// Client is a user's mobile client (or an administrator) talking to the
// service over c.
type Client struct {
	c      Conn
	status *Status
}

// Status is what a service says of itself.
type Status struct {
	Origin      string // the log's name
	VerifierKey string // the log's verifier key
}

// Status asks the service for its log's name and verifier key (kept after
// the first call: they do not change).
func (c *Client) Status(ctx context.Context) (*Status, error) {
	if c.status != nil {
		return c.status, nil
	}
	r, err := c.do(ctx, &request{op: opStatus})
	if err != nil {
		return nil, err
	}
	st := &Status{Origin: r.String8()}
	st.VerifierKey = r.String16(math.MaxUint16)
	if !r.Done() || checkOrigin(st.Origin) != nil {
		return nil, badResponse(opStatus)
	}
	if _, _, err := ParseVerifierKey(st.VerifierKey); err != nil {
		return nil, badResponse(opStatus)
	}
	c.status = st
	return st, nil
}

// NewClient returns a client over c.
func NewClient(c Conn) *Client { return &Client{c: c} }

func (c *Client) do(ctx context.Context, q *request) (*reader, error) {
	resp, err := c.c.RoundTrip(ctx, q.marshal())
	if err != nil {
		return nil, fmt.Errorf("cosign: %v: %w", q.op, err)
	}
	return parseResponse(resp)
}

func badResponse(o op) error { return fmt.Errorf("%w: %v response", ErrBadMessage, o) }

// Enrol makes user's split key by two-party DKG with the service (the
// client is participant 1, the service 2), has the RA certify its group
// key, and co-signs the enrolment entry with it. With a recovery key, the
// key becomes 2-of-3: a third share, for an offline holder, is made by
// the repairable-share protocol from the two shares without either side
// learning it, and comes back as a [RecoveryKit] sealed to the recovery
// key.
func (c *Client) Enrol(ctx context.Context, user string, recovery *custody.PublicKey) (*Credential, *RecoveryKit, error) {
	static, err := frost.NewDKGStaticKey(frost.Ed25519)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.do(ctx, &request{op: opEnrolInit, user: user, static: static.PublicKey(), recovery: recovery})
	if err != nil {
		return nil, nil, err
	}
	sid, svcStatic, err := parseEnrolInit(r)
	if err != nil {
		return nil, nil, err
	}
	keys := [][]byte{static.PublicKey(), svcStatic}
	cfg := &frost.DKGConfig{Suite: frost.Ed25519, Threshold: 2, StaticKeys: keys,
		Context: frost.DKGContext(frost.Ed25519, sid, keys)}
	part, err := frost.NewDKGParticipant(cfg, ClientID, static)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	mine, err := part.Round1()
	if err != nil {
		return nil, nil, err
	}
	if r, err = c.do(ctx, &request{op: opEnrolRound1, session: sid, msg: mine.Marshal()}); err != nil {
		return nil, nil, err
	}
	r2, err := parseEnrolRound1(r)
	if err != nil {
		return nil, nil, err
	}
	sig, err := part.Round2(r2)
	if err != nil {
		return nil, nil, fmt.Errorf("cosign: DKG round 2: %w", err)
	}
	if r, err = c.do(ctx, &request{op: opEnrolSign, session: sid, msg: sig.Marshal()}); err != nil {
		return nil, nil, err
	}
	sigs, theirPiece, err := parseEnrolSign(r, recovery != nil)
	if err != nil {
		return nil, nil, err
	}
	res, err := part.Finish(sigs)
	if err != nil {
		return nil, nil, fmt.Errorf("cosign: DKG: %w", err)
	}
	var myPiece []byte
	var mySum *frost.RepairSum
	if recovery != nil {
		pieces, err := frost.RepairSplit(res.KeyShare, recoveryHelpers, RecoveryID)
		if err != nil {
			return nil, nil, err
		}
		if mySum, err = frost.RepairCombine(frost.Ed25519, ClientID, recoveryHelpers, RecoveryID, []*frost.RepairPiece{pieces[0], theirPiece}); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
		myPiece = pieces[1].Marshal()
	}
	if r, err = c.do(ctx, &request{op: opEnrolCert, session: sid, msg: myPiece}); err != nil {
		return nil, nil, err
	}
	ec, err := parseEnrolCert(r)
	if err != nil {
		return nil, nil, err
	}
	cred := &Credential{User: user, Share: res.KeyShare, DKG: res.Certificate,
		Cert: ec.cert, OrgCert: ec.org, RACert: ec.ra, Public: ec.pub}
	if err := cred.check(time.Now()); err != nil {
		return nil, nil, err
	}
	if string(ec.dkg.Marshal()) != string(res.Certificate.Marshal()) {
		return nil, nil, fmt.Errorf("%w: the service's DKG certificate differs from ours", ErrBadMessage)
	}
	var kit *RecoveryKit
	if recovery != nil {
		want, err := frost.EnrolPublicKey(res.PublicKey, recoveryHelpers, RecoveryID)
		if err != nil || string(want.Marshal()) != string(cred.Public.Marshal()) {
			return nil, nil, fmt.Errorf("%w: the service's 2-of-3 key package is not ours", ErrBadMessage)
		}
		mine, err := custody.Seal(recovery, recoveryInfo(user, cred.Public.GroupKey(), ClientID), mySum.Marshal())
		if err != nil {
			return nil, nil, err
		}
		kit = &RecoveryKit{User: user, Public: cred.Public, Sums: [2][]byte{mine, ec.sum},
			Cert: cred.Cert, OrgCert: cred.OrgCert, RACert: cred.RACert, DKG: cred.DKG}
	} else if string(res.PublicKey.Marshal()) != string(cred.Public.Marshal()) {
		return nil, nil, fmt.Errorf("%w: the service's key package is not ours", ErrBadMessage)
	}
	enrolment := &Enrolment{Certificate: cred.Cert, DKG: cred.DKG}
	p := &Proposal{Action: ActionEnrol, User: user, Time: time.Now(), Payload: enrolment.Marshal()}
	if _, err := c.cosign(ctx, cred, p); err != nil {
		return nil, nil, err
	}
	return cred, kit, nil
}

// The decoders of the enrolment responses.

func parseEnrolInit(r *reader) (sid, static []byte, err error) {
	sid, static = r.Bytes(sessionIDSize), r.Bytes(32)
	if !r.Done() {
		return nil, nil, badResponse(opEnrolInit)
	}
	return sid, static, nil
}

func parseEnrolRound1(r *reader) (*frost.DKGRound2, error) {
	b := r.Bytes32(maxFrostMsg)
	if !r.Done() {
		return nil, badResponse(opEnrolRound1)
	}
	r2, err := frost.UnmarshalDKGRound2(b)
	if err != nil || r2.To() != ClientID {
		return nil, badResponse(opEnrolRound1)
	}
	return r2, nil
}

func parseEnrolSign(r *reader, recovery bool) (*frost.DKGSignatures, *frost.RepairPiece, error) {
	sigsb, pieceb := r.Bytes32(maxFrostMsg), r.Bytes32(maxFrostMsg)
	if !r.Done() || recovery != (len(pieceb) > 0) {
		return nil, nil, badResponse(opEnrolSign)
	}
	sigs, err := frost.UnmarshalDKGSignatures(sigsb)
	if err != nil {
		return nil, nil, badResponse(opEnrolSign)
	}
	var piece *frost.RepairPiece
	if recovery {
		if piece, err = frost.UnmarshalRepairPiece(pieceb); err != nil {
			return nil, nil, badResponse(opEnrolSign)
		}
	}
	return sigs, piece, nil
}

type enrolCertResponse struct {
	cert, org, ra *x509.Certificate
	pub           *frost.PublicKeyPackage
	dkg           *frost.DKGCertificate
	sum           []byte // the service's sealed repair sum, if any
}

func parseEnrolCert(r *reader) (*enrolCertResponse, error) {
	var certs [3][]byte
	for i := range certs {
		certs[i] = r.Bytes32(MaxCertSize)
	}
	pubb, dkgb, sum := r.Bytes32(maxFrostMsg), r.Bytes32(MaxDKGCertSize), r.Bytes32(maxSealedSum)
	if !r.Done() {
		return nil, badResponse(opEnrolCert)
	}
	ec := &enrolCertResponse{sum: sum}
	var err error
	for i, c := range []**x509.Certificate{&ec.cert, &ec.org, &ec.ra} {
		if *c, err = x509.ParseCertificate(certs[i]); err != nil {
			return nil, badResponse(opEnrolCert)
		}
	}
	if ec.pub, err = frost.UnmarshalPublicKeyPackage(pubb); err != nil {
		return nil, badResponse(opEnrolCert)
	}
	if ec.dkg, err = frost.UnmarshalDKGCertificate(dkgb); err != nil {
		return nil, badResponse(opEnrolCert)
	}
	return ec, nil
}

// check verifies that the credential's certificates chain to its RA and
// carry its key.
func (cr *Credential) check(at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(cr.RACert)
	pub, err := VerifyCert(cr.Cert, roots, at)
	if err != nil {
		return err
	}
	if !pub.Equal(ed25519.PublicKey(cr.Public.GroupKey())) || !pub.Equal(ed25519.PublicKey(cr.Share.GroupKey())) {
		return fmt.Errorf("%w: the user certificate is not for the split key", ErrCertificate)
	}
	if cr.Cert.Subject.CommonName != cr.User {
		return fmt.Errorf("%w: the user certificate names %q", ErrCertificate, cr.Cert.Subject.CommonName)
	}
	_, err = VerifyCert(cr.OrgCert, roots, at)
	return err
}

// Receipt is the result of a co-signed action.
type Receipt struct {
	// OrgSignature is the organisation's Ed25519 signature of
	// DocumentMessage(document hash), for a use.
	OrgSignature []byte
	// Index is the log index of the action's first entry.
	Index int64
	// Checkpoint is the signed checkpoint covering it.
	Checkpoint []byte
	// Entries are the entries the user co-signed, as logged.
	Entries []*Entry
}

// cosign runs the co-signature of p's entries: the client commits, the
// service checks p and answers with its commitments and signature shares,
// the client verifies the service's shares, adds its own and aggregates;
// then it sends the signatures for the service to act on.
func (c *Client) cosign(ctx context.Context, cred *Credential, p *Proposal) (*Receipt, error) {
	es, err := c.cosignatures(ctx, cred, p)
	if err != nil {
		return nil, err
	}
	sigs := make([][]byte, len(es))
	for i, e := range es {
		sigs[i] = e.Signature
	}
	rc, err := c.commit(ctx, p, sigs)
	if err != nil {
		return nil, err
	}
	rc.Entries = es
	return rc, nil
}

// cosignatures returns p's entries signed by the user's split key: the
// first half of cosign.
func (c *Client) cosignatures(ctx context.Context, cred *Credential, p *Proposal) ([]*Entry, error) {
	es, err := p.Entries(cred.OrgCert.Raw)
	if err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	nonces := make([]*frost.SigningNonces, len(es))
	q := &request{op: opPropose, proposal: p}
	for i := range es {
		n, cm, err := frost.Commit(cred.Share)
		if err != nil {
			return nil, err
		}
		nonces[i] = n
		q.frost = append(q.frost, cm.Marshal())
	}
	r, err := c.do(ctx, q)
	if err != nil {
		return nil, err
	}
	if int(r.U8()) != len(es) {
		return nil, badResponse(opPropose)
	}
	for i, e := range es {
		cmb, shb := r.Bytes32(maxFrostMsg), r.Bytes32(maxFrostMsg)
		if r.Failed() {
			return nil, badResponse(opPropose)
		}
		theirs, err := frost.UnmarshalSigningCommitments(cmb)
		if err != nil || theirs.Identifier() != ServiceID {
			return nil, badResponse(opPropose)
		}
		share, err := frost.UnmarshalSignatureShare(shb)
		if err != nil {
			return nil, badResponse(opPropose)
		}
		msg, err := e.Message(st.Origin)
		if err != nil {
			return nil, err
		}
		pkg, err := frost.NewSigningPackage(msg, byID(nonces[i].Commitments(), theirs))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
		if err := frost.VerifySignatureShare(cred.Public, pkg, share); err != nil {
			return nil, fmt.Errorf("cosign: the service's signature share: %w", err)
		}
		mine, err := frost.Sign(cred.Share, nonces[i], pkg)
		if err != nil {
			return nil, err
		}
		if e.Signature, err = frost.Aggregate(cred.Public, pkg, []*frost.SignatureShare{mine, share}); err != nil {
			return nil, err
		}
	}
	if !r.Done() {
		return nil, badResponse(opPropose)
	}
	return es, nil
}

// commit sends the co-signatures of p for the service to act on.
func (c *Client) commit(ctx context.Context, p *Proposal, sigs [][]byte) (*Receipt, error) {
	r, err := c.do(ctx, &request{op: opCommit, proposal: p, frost: sigs})
	if err != nil {
		return nil, err
	}
	rc := &Receipt{}
	rc.OrgSignature = r.Bytes8()
	rc.Index = int64(r.U64())
	rc.Checkpoint = r.Bytes32(maxCheckpoint)
	if !r.Done() || rc.Index < 0 || (len(rc.OrgSignature) != 0 && len(rc.OrgSignature) != ed25519.SignatureSize) {
		return nil, badResponse(opCommit)
	}
	return rc, nil
}

// NewRequestID returns a fresh random request id.
func NewRequestID() [RequestIDSize]byte {
	var id [RequestIDSize]byte
	rand.Read(id[:])
	return id
}

// Sign asks the service to sign the document of SHA-256 hash doc with the
// organisation's key, authorising it with the user's split key. It checks
// the organisation's signature before returning it.
func (c *Client) Sign(ctx context.Context, cred *Credential, doc [32]byte, purpose string) (*Receipt, error) {
	q := &Request{Org: cred.OrgCert.Subject.CommonName, Document: doc, ID: NewRequestID(), Purpose: purpose}
	return c.SignRequest(ctx, cred, q, time.Now())
}

// SignRequest is Sign for a request made by the caller, dated at.
func (c *Client) SignRequest(ctx context.Context, cred *Credential, q *Request, at time.Time) (*Receipt, error) {
	payload, err := q.Marshal()
	if err != nil {
		return nil, err
	}
	rc, err := c.cosign(ctx, cred, &Proposal{Action: ActionUse, User: cred.User, Time: at, Payload: payload})
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cred.RACert)
	if err := VerifyDocument(cred.OrgCert, roots, q.Document, rc.OrgSignature, at); err != nil {
		return nil, err
	}
	return rc, nil
}

// RevokeSelf revokes the user's own certificate with an entry the user
// co-signs.
func (c *Client) RevokeSelf(ctx context.Context, cred *Credential, reason string) (*Receipt, error) {
	if err := checkText(reason, MaxReasonLen, "reason"); err != nil {
		return nil, err
	}
	p := &Proposal{Action: ActionRevoke, User: cred.User, Time: time.Now(), Payload: revocationPayload(cred.Cert.Raw, cred.User, reason)}
	return c.cosign(ctx, cred, p)
}

// Revoke asks the service to revoke user's certificate, with an entry the
// service signs: for an administrator, or for a user who lost its share.
func (c *Client) Revoke(ctx context.Context, user, reason string) (*Receipt, error) {
	r, err := c.do(ctx, &request{op: opRevoke, user: user, reason: reason})
	if err != nil {
		return nil, err
	}
	rc := &Receipt{Index: int64(r.U64()), Checkpoint: r.Bytes32(maxCheckpoint)}
	if !r.Done() || rc.Index < 0 {
		return nil, badResponse(opRevoke)
	}
	return rc, nil
}

// Checkpoint returns the log's latest signed checkpoint (for [Monitor]).
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	r, err := c.do(ctx, &request{op: opCheckpoint})
	if err != nil {
		return nil, err
	}
	b := r.Bytes32(maxCheckpoint)
	if !r.Done() {
		return nil, badResponse(opCheckpoint)
	}
	return b, nil
}

// ProveConsistency asks for a consistency proof from size old to next.
func (c *Client) ProveConsistency(ctx context.Context, old, next int64) (ConsistencyProof, error) {
	r, err := c.do(ctx, &request{op: opConsistency, a: uint64(old), b: uint64(next)})
	if err != nil {
		return ConsistencyProof{}, err
	}
	b := r.Bytes32(MaxResponseSize)
	if !r.Done() {
		return ConsistencyProof{}, badResponse(opConsistency)
	}
	return ParseConsistencyProof(b)
}

// ProveInclusion asks for the inclusion proof of entry index in the tree
// of size size.
func (c *Client) ProveInclusion(ctx context.Context, index, size int64) (*InclusionProof, error) {
	r, err := c.do(ctx, &request{op: opInclusion, a: uint64(index), b: uint64(size)})
	if err != nil {
		return nil, err
	}
	b := r.Bytes32(MaxResponseSize)
	if !r.Done() {
		return nil, badResponse(opInclusion)
	}
	return ParseInclusionProof(b)
}

// Entry fetches the log's entry index.
func (c *Client) Entry(ctx context.Context, index int64) (*Entry, error) {
	r, err := c.do(ctx, &request{op: opEntry, a: uint64(index)})
	if err != nil {
		return nil, err
	}
	b := r.Bytes32(MaxEntrySize)
	if !r.Done() {
		return nil, badResponse(opEntry)
	}
	return ParseEntry(b)
}

// RecoveryKit is the offline recovery share of a 2-of-3 user key: the two
// repair sums that add up to share 3, each sealed with HPKE to the
// recovery key by the side that made it (the client, the service), so
// that neither ever held share 3; and the public half of the credential
// (certificates, key package), so that a new device needs nothing else.
// Keep it offline, apart from the recovery key.
//
//	kit = 0x01 || u8 len || user || u32 len || public key package ||
//	      u32 len || sealed sum of the client || u32 len || sealed sum of the service ||
//	      u32 len || user certificate || u32 len || organisation certificate ||
//	      u32 len || RA certificate || u32 len || DKG certificate
type RecoveryKit struct {
	User                  string
	Public                *frost.PublicKeyPackage
	Sums                  [2][]byte // sealed repair sums from ClientID and ServiceID
	Cert, OrgCert, RACert *x509.Certificate
	DKG                   *frost.DKGCertificate
}

// maxSealedSum bounds a sealed repair sum (an envelope of a small frost
// message).
const maxSealedSum = 4 << 10

// Marshal encodes the kit.
func (k *RecoveryKit) Marshal() []byte {
	b := binfmt.AppendString8([]byte{payloadVersion}, k.User)
	b = binfmt.AppendBytes32(b, k.Public.Marshal())
	b = binfmt.AppendBytes32(b, k.Sums[0])
	b = binfmt.AppendBytes32(b, k.Sums[1])
	for _, c := range []*x509.Certificate{k.Cert, k.OrgCert, k.RACert} {
		b = binfmt.AppendBytes32(b, c.Raw)
	}
	return binfmt.AppendBytes32(b, k.DKG.Marshal())
}

// ParseRecoveryKit decodes a kit.
func ParseRecoveryKit(b []byte) (*RecoveryKit, error) {
	r := newReader(b)
	v := r.U8()
	k := &RecoveryKit{User: r.String8()}
	pb := r.Bytes32(maxFrostMsg)
	k.Sums[0] = r.Bytes32(maxSealedSum)
	k.Sums[1] = r.Bytes32(maxSealedSum)
	var certs [3][]byte
	for i := range certs {
		certs[i] = r.Bytes32(MaxCertSize)
	}
	db := r.Bytes32(MaxDKGCertSize)
	if !r.Done() || v != payloadVersion || checkName(k.User) != nil {
		return nil, fmt.Errorf("%w: recovery kit", ErrBadMessage)
	}
	var err error
	if k.Public, err = frost.UnmarshalPublicKeyPackage(pb); err != nil {
		return nil, fmt.Errorf("%w: recovery kit: %w", ErrBadMessage, err)
	}
	if !slices3(k.Public.Identifiers()) {
		return nil, fmt.Errorf("%w: recovery kit of a key without a recovery share", ErrBadMessage)
	}
	for i, c := range []**x509.Certificate{&k.Cert, &k.OrgCert, &k.RACert} {
		if *c, err = x509.ParseCertificate(certs[i]); err != nil {
			return nil, fmt.Errorf("%w: recovery kit certificate: %w", ErrBadMessage, err)
		}
	}
	if k.DKG, err = frost.UnmarshalDKGCertificate(db); err != nil {
		return nil, fmt.Errorf("%w: recovery kit: %w", ErrBadMessage, err)
	}
	return k, nil
}

func slices3(ids []uint16) bool {
	return len(ids) == 3 && ids[0] == ClientID && ids[1] == ServiceID && ids[2] == RecoveryID
}

// Open opens the kit's sums with the recovery key and rebuilds share 3,
// checked against its verifying share. With the service's share it signs
// for the user: a lost phone does not lose the key.
func (k *RecoveryKit) Open(priv *custody.PrivateKey) (*frost.KeyShare, error) {
	sums := make([]*frost.RepairSum, 2)
	for i, from := range recoveryHelpers {
		b, err := custody.Open(priv, recoveryInfo(k.User, k.Public.GroupKey(), from), k.Sums[i])
		if err != nil {
			return nil, fmt.Errorf("cosign: recovery sum %d: %w", from, err)
		}
		sums[i], err = frost.UnmarshalRepairSum(b)
		clear(b)
		if err != nil {
			return nil, fmt.Errorf("cosign: recovery sum %d: %w", from, err)
		}
	}
	ks, _, err := frost.RepairFinish(k.Public, recoveryHelpers, RecoveryID, sums)
	if err != nil {
		return nil, err
	}
	return ks, nil
}

// Credential returns the credential of a device that replaces a lost
// one: the kit's certificates with the recovery share (from
// [RecoveryKit.Open]), which signs with the service's share.
func (k *RecoveryKit) Credential(share *frost.KeyShare) (*Credential, error) {
	if share.Identifier() != RecoveryID || !ed25519.PublicKey(share.GroupKey()).Equal(ed25519.PublicKey(k.Public.GroupKey())) {
		return nil, errors.New("cosign: not the recovery share of this key")
	}
	cr := &Credential{User: k.User, Share: share, Public: k.Public, Cert: k.Cert, OrgCert: k.OrgCert, RACert: k.RACert, DKG: k.DKG}
	if err := cr.check(k.Cert.NotBefore.Add(raBackdate)); err != nil {
		return nil, err
	}
	return cr, nil
}
