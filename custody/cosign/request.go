package cosign

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
)

// Limits of requests and enrolment records.
const (
	// MaxPurposeLen bounds a request's purpose, in bytes.
	MaxPurposeLen = 255
	// MaxReasonLen bounds the reason of a refusal or revocation, in bytes.
	MaxReasonLen = 255
	// MaxCertSize bounds an encoded certificate.
	MaxCertSize = 8 << 10
	// MaxDKGCertSize bounds an encoded DKG certificate of three or fewer
	// participants.
	MaxDKGCertSize = 8 << 10
	// RequestIDSize is the size of a request id.
	RequestIDSize = 16

	payloadVersion = 0x01
)

// Action is what a co-signed proposal asks for.
type Action uint8

const (
	// ActionEnrol: the user's first co-signature, over its enrolment
	// entry (its new certificate and DKG certificate).
	ActionEnrol Action = 1
	// ActionUse: the user authorises one signature of a document with
	// the organisation's key.
	ActionUse Action = 2
	// ActionRevoke: the user revokes its own certificate.
	ActionRevoke Action = 3
)

func (a Action) String() string {
	switch a {
	case ActionEnrol:
		return "enrol"
	case ActionUse:
		return "use"
	case ActionRevoke:
		return "revoke"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Request asks the service to sign a document with the organisation's
// key. Its encoding is the payload of the authorisation entry that the
// user co-signs:
//
//	request = 0x01 || u8 len || org || document SHA-256 (32) || id (16) ||
//	          u8 len || purpose
//
// The user and the time are the entry's. The signature covers the entry,
// so it is for this document, this organisation, this id and this time
// only.
type Request struct {
	Org      string
	Document [sha256.Size]byte // SHA-256 of the document
	ID       [RequestIDSize]byte
	Purpose  string // ≤ MaxPurposeLen bytes of UTF-8, no control characters
}

func checkText(s string, limit int, what string) error {
	if len(s) > limit || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s must be ≤ %d bytes of UTF-8", ErrBadRequest, what, limit)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character in %s", ErrBadRequest, what)
		}
	}
	return nil
}

// Marshal encodes the request.
func (q *Request) Marshal() ([]byte, error) {
	if err := checkName(q.Org); err != nil {
		return nil, err
	}
	if err := checkText(q.Purpose, MaxPurposeLen, "purpose"); err != nil {
		return nil, err
	}
	b := []byte{payloadVersion, byte(len(q.Org))}
	b = append(b, q.Org...)
	b = append(b, q.Document[:]...)
	b = append(b, q.ID[:]...)
	b = append(b, byte(len(q.Purpose)))
	return append(b, q.Purpose...), nil
}

// ParseRequest decodes a request; it accepts exactly what Marshal writes.
func ParseRequest(b []byte) (*Request, error) {
	r := newReader(b)
	if r.U8() != payloadVersion {
		return nil, fmt.Errorf("%w: request version", ErrBadMessage)
	}
	q := &Request{Org: r.String8()}
	r.Fill(q.Document[:])
	r.Fill(q.ID[:])
	q.Purpose = r.String8()
	if !r.Done() {
		return nil, fmt.Errorf("%w: request", ErrBadMessage)
	}
	if _, err := q.Marshal(); err != nil {
		return nil, err
	}
	return q, nil
}

// documentContext prefixes what the organisation's key signs.
const documentContext = "maskshare/cosign/document/v1\x00"

// DocumentMessage is the message the organisation's key signs for a
// document of SHA-256 hash h: "maskshare/cosign/document/v1" || 0x00 || h.
// Anyone holding the organisation's certificate verifies the signature
// with plain Ed25519 over these 61 bytes.
func DocumentMessage(h [sha256.Size]byte) []byte {
	return append([]byte(documentContext), h[:]...)
}

// VerifyDocument checks the organisation's signature sig of the document
// of hash h with the organisation's certificate, verified against roots.
func VerifyDocument(org *x509.Certificate, roots *x509.CertPool, h [sha256.Size]byte, sig []byte, at time.Time) error {
	pub, err := VerifyCert(org, roots, at)
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, DocumentMessage(h), sig) {
		return fmt.Errorf("%w: organisation signature of the document", ErrSignature)
	}
	return nil
}

// keyUsePayload is the payload of the key-use entry of a request: the
// user's statement that the organisation's key (certificate hash) signs
// this request (hash of its encoding). The service appends it only
// together with the use, in the same transaction.
//
//	key-use = 0x01 || SHA-256(request) (32) || SHA-256(organisation certificate DER) (32)
func keyUsePayload(request []byte, orgCert []byte) []byte {
	rq, oc := sha256.Sum256(request), sha256.Sum256(orgCert)
	b := append([]byte{payloadVersion}, rq[:]...)
	return append(b, oc[:]...)
}

// Enrolment is the payload of a user's enrolment entry, which the user
// co-signs with its new split key: its certificate and the DKG
// certificate that made the key (so an auditor sees that the key was made
// by a DKG, and with whom).
//
//	enrolment = 0x01 || u32 len || certificate DER || u32 len || DKG certificate
type Enrolment struct {
	Certificate *x509.Certificate
	DKG         *frost.DKGCertificate
}

// Marshal encodes the enrolment record.
func (e *Enrolment) Marshal() []byte {
	b := binfmt.AppendBytes32([]byte{payloadVersion}, e.Certificate.Raw)
	return binfmt.AppendBytes32(b, e.DKG.Marshal())
}

// ParseEnrolment decodes an enrolment record and checks that the DKG's
// group key is the certificate's key (not the certificate's chain: see
// [VerifyCert]).
func ParseEnrolment(b []byte) (*Enrolment, error) {
	r := newReader(b)
	v := r.U8()
	cb := r.Bytes32(MaxCertSize)
	db := r.Bytes32(MaxDKGCertSize)
	if v != payloadVersion || !r.Done() {
		return nil, fmt.Errorf("%w: enrolment record", ErrBadMessage)
	}
	cert, err := x509.ParseCertificate(cb)
	if err != nil {
		return nil, fmt.Errorf("%w: enrolment certificate: %w", ErrBadMessage, err)
	}
	dkg, err := frost.UnmarshalDKGCertificate(db)
	if err != nil {
		return nil, fmt.Errorf("%w: enrolment DKG certificate: %w", ErrBadMessage, err)
	}
	pkg, err := dkg.PublicKeyPackage()
	if err != nil {
		return nil, fmt.Errorf("%w: enrolment DKG certificate: %w", ErrBadMessage, err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || !pub.Equal(ed25519.PublicKey(pkg.GroupKey())) {
		return nil, fmt.Errorf("%w: enrolment certificate is not for the DKG's key", ErrCertificate)
	}
	return &Enrolment{Certificate: cert, DKG: dkg}, nil
}

// revocationPayload: 0x01 || SHA-256(certificate DER) || u8 len || by || u8 len || reason.
func revocationPayload(cert []byte, by, reason string) []byte {
	h := sha256.Sum256(cert)
	b := append([]byte{payloadVersion}, h[:]...)
	b = append(append(b, byte(len(by))), by...)
	return append(append(b, byte(len(reason))), reason...)
}

// refusalPayload: 0x01 || action u8 || SHA-256(proposal payload) || u16 len || reason.
func refusalPayload(a Action, payload []byte, reason string) []byte {
	if len(reason) > MaxReasonLen {
		reason = reason[:MaxReasonLen]
	}
	h := sha256.Sum256(payload)
	b := append([]byte{payloadVersion, byte(a)}, h[:]...)
	b = append(b, byte(len(reason)>>8), byte(len(reason)))
	return append(b, reason...)
}

// Proposal is what a user co-signs: an action, by a user, at a time, on a
// payload. Its entries are the log entries the user's split key signs.
type Proposal struct {
	Action  Action
	User    string
	Time    time.Time
	Payload []byte // the request (use), enrolment record (enrol) or revocation record (revoke)
}

// Entries returns the log entries the proposal's co-signatures are over,
// unsigned: one authorisation and one key-use entry for a use (orgCert is
// the organisation's certificate DER), one enrolment or one revocation.
func (p *Proposal) Entries(orgCert []byte) ([]*Entry, error) {
	mk := func(k Kind, payload []byte) *Entry {
		return &Entry{Kind: k, Signer: SignedByUser, Time: p.Time.UTC(), User: p.User, Payload: payload}
	}
	var es []*Entry
	switch p.Action {
	case ActionEnrol:
		es = []*Entry{mk(KindEnrolment, p.Payload)}
	case ActionUse:
		es = []*Entry{mk(KindAuthorisation, p.Payload), mk(KindKeyUse, keyUsePayload(p.Payload, orgCert))}
	case ActionRevoke:
		es = []*Entry{mk(KindRevocation, p.Payload)}
	default:
		return nil, fmt.Errorf("%w: action %v", ErrBadMessage, p.Action)
	}
	for _, e := range es {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	return es, nil
}
