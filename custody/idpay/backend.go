package idpay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// Buckets of the back end's store.
const (
	bucketChallenges = "idpay-challenges" // answered challenge → expires(8) used(1)
	bucketTx         = "idpay-tx"         // transaction ID → record
	bucketNonces     = "idpay-nonces"     // payer key(32) nonce(16) → transaction ID
	bucketMeta       = "idpay-meta"       // metaChallengeKey → the challenges' MAC key

	metaChallengeKey   = "challenge key"
	challengeLabel     = "maskshare idpay challenge v1"
	challengeNonceSize = 8
	challengeMACSize   = ChallengeSize - 8 - challengeNonceSize
)

// Backend is the payment back end: it issues challenges, verifies online
// payments and offline receipts, refuses replays and double spends, and
// records each payment once in a [custody.Store]. Every check and write of
// one submission runs in one store transaction, so concurrent submissions
// of the same transaction cannot both pass; a submission is acknowledged
// (its method returns a record) only after the transaction is on disk.
type Backend struct {
	store *custody.Store
	trust *Trust
	// challengeKey authenticates the challenges the back end issues, so
	// that issuing one stores nothing (anyone may ask for one).
	challengeKey []byte

	// lastPrune is when SubmitPayment last dropped the answered
	// challenges that have expired.
	mu        sync.Mutex
	lastPrune time.Time
}

// OpenBackend opens (or creates) the back end's store at path; a new store
// gets a fresh random key for its challenges.
func OpenBackend(path string, trust *Trust) (*Backend, error) {
	s, err := custody.OpenStore(path, &custody.StoreConfig{Buckets: []string{bucketChallenges, bucketTx, bucketNonces, bucketMeta}})
	if err != nil {
		return nil, err
	}
	b := &Backend{store: s, trust: trust}
	err = s.Update(func(tx *custody.Tx) error {
		k, err := tx.Get(bucketMeta, []byte(metaChallengeKey))
		if errors.Is(err, custody.ErrNotFound) {
			k = make([]byte, 32)
			rand.Read(k)
			err = tx.Put(bucketMeta, []byte(metaChallengeKey), k)
		}
		if err == nil && len(k) != 32 {
			err = fmt.Errorf("%w: stored challenge key", ErrMalformed)
		}
		b.challengeKey = bytes.Clone(k)
		return err
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return b, nil
}

// Close closes the store.
func (b *Backend) Close() error { return b.store.Close() }

// Trust returns the back end's trust store (to install revocation lists).
func (b *Backend) Trust() *Trust { return b.trust }

// NewChallenge returns a fresh challenge, valid until Config.ChallengeTTL
// after now. It stores nothing: the challenge is its expiry, a random
// nonce and a MAC of both under the back end's key,
//
//	be64(expires) ‖ nonce[8] ‖ HMAC-SHA256(key, label ‖ be64(expires) ‖ nonce)[:16]
//
// so anyone may ask for any number of them at no cost to the store; the
// back end records a challenge only when a payment answers it.
func (b *Backend) NewChallenge(ctx context.Context, now time.Time) (*Challenge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &Challenge{Expires: now.Add(b.trust.cfg.ChallengeTTL).Truncate(time.Second).UTC()}
	binary.BigEndian.PutUint64(c.Value[:8], uint64(c.Expires.Unix()))
	rand.Read(c.Value[8 : 8+challengeNonceSize])
	copy(c.Value[8+challengeNonceSize:], b.challengeMAC(c.Value[:8+challengeNonceSize]))
	return c, nil
}

func (b *Backend) challengeMAC(expiresNonce []byte) []byte {
	m := hmac.New(sha256.New, b.challengeKey)
	m.Write([]byte(challengeLabel))
	m.Write(expiresNonce)
	return m.Sum(nil)[:challengeMACSize]
}

// issued returns the expiry of a challenge this back end issued (its MAC
// verifies), or false.
func (b *Backend) issued(v *[ChallengeSize]byte) (time.Time, bool) {
	mac := b.challengeMAC(v[:8+challengeNonceSize])
	if subtle.ConstantTimeCompare(mac, v[8+challengeNonceSize:]) != 1 {
		return time.Time{}, false
	}
	exp := binary.BigEndian.Uint64(v[:8])
	if exp > 1<<62 {
		return time.Time{}, false
	}
	return time.Unix(int64(exp), 0).UTC(), true
}

// pruneDue drops the answered challenges that have expired, at most once
// per ChallengeTTL, so that they do not accumulate.
func (b *Backend) pruneDue(now time.Time) error {
	b.mu.Lock()
	due := b.lastPrune.IsZero() || now.Sub(b.lastPrune) >= b.trust.cfg.ChallengeTTL || now.Before(b.lastPrune)
	if due {
		b.lastPrune = now
	}
	b.mu.Unlock()
	if !due {
		return nil
	}
	_, err := b.Prune(now)
	return err
}

// Record is a payment the back end accepted.
type Record struct {
	Mode      Mode
	TxID      [TxIDSize]byte
	Payee     *Certificate
	Payer     *Certificate
	Amount    uint64
	Currency  string
	SignedAt  time.Time // when the payer signed
	SettledAt time.Time // when the back end recorded it
	Raw       []byte    // the payment or receipt encoding as submitted
}

func (r *Record) String() string {
	return fmt.Sprintf("%s payment %x: %d %s from %s/%s to %s/%s, signed %s",
		r.Mode, r.TxID, r.Amount, r.Currency, r.Payer.Subdomain, r.Payer.User,
		r.Payee.Subdomain, r.Payee.User, r.SignedAt.Format(time.RFC3339))
}

// record encoding in the store: mode(1) settledAt(8) raw.
func (r *Record) encode() []byte {
	v := binary.BigEndian.AppendUint64([]byte{byte(r.Mode)}, uint64(r.SettledAt.Unix()))
	return append(v, r.Raw...)
}

func decodeRecord(v []byte) (*Record, error) {
	if len(v) < 9 {
		return nil, fmt.Errorf("%w: stored record", ErrMalformed)
	}
	settled := time.Unix(int64(binary.BigEndian.Uint64(v[1:9])), 0).UTC()
	raw := v[9:]
	switch Mode(v[0]) {
	case Online:
		p, err := ParsePayment(raw)
		if err != nil {
			return nil, err
		}
		return paymentRecord(p, raw, settled), nil
	case Offline:
		rc, err := ParseReceipt(raw)
		if err != nil {
			return nil, err
		}
		return receiptRecord(rc, raw, settled), nil
	}
	return nil, fmt.Errorf("%w: stored record mode %d", ErrMalformed, v[0])
}

func paymentRecord(p *Payment, raw []byte, settled time.Time) *Record {
	q := p.Request
	return &Record{Mode: Online, TxID: q.TxID, Payee: q.Payee, Payer: p.Payer, Amount: q.Amount,
		Currency: q.Currency, SignedAt: p.SignedAt, SettledAt: settled, Raw: raw}
}

func receiptRecord(rc *Receipt, raw []byte, settled time.Time) *Record {
	q := rc.Request
	return &Record{Mode: Offline, TxID: q.TxID, Payee: q.Payee, Payer: rc.Acceptance.Payer,
		Amount: q.Amount, Currency: q.Currency, SignedAt: rc.Acceptance.SignedAt, SettledAt: settled, Raw: raw}
}

// SubmitPayment verifies an online payment and records it: the payee's and
// payer's certificates (trusted issuer of their sub-domain, signature,
// validity at now with the clock-skew tolerance, not revoked), the payee's
// request signature and age, the payer's signature and time, the challenge
// (issued here, unused, unexpired) and the transaction ID (never seen).
func (b *Backend) SubmitPayment(ctx context.Context, raw []byte, now time.Time) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := ParsePayment(raw)
	if err != nil {
		return nil, err
	}
	t := b.trust
	if err := t.checkRequest(p.Request, Online, now, t.cfg.RequireFreshList); err != nil {
		return nil, err
	}
	if err := t.verifyCertificate(p.Payer, now, "payer", t.cfg.RequireFreshList); err != nil {
		return nil, err
	}
	if !ed25519.Verify(p.Payer.PublicKey, p.SignedMessage(), p.Signature) {
		return nil, fmt.Errorf("payment: %w", ErrBadSignature)
	}
	if err := t.checkWindow("payment", p.SignedAt, now, t.cfg.ChallengeTTL); err != nil {
		return nil, err
	}
	q := p.Request
	if q.Payee.Subdomain == p.Payer.Subdomain && q.Payee.User == p.Payer.User {
		return nil, fmt.Errorf("%w: payer and payee are the same user", ErrMismatch)
	}
	exp, ok := b.issued(&p.Challenge)
	if !ok {
		return nil, fmt.Errorf("%w: challenge %x was not issued here", ErrReplay, p.Challenge[:8])
	}
	if now.After(exp.Add(t.cfg.ClockSkew)) {
		return nil, fmt.Errorf("challenge expired at %v: %w", exp, ErrStale)
	}
	if err := b.pruneDue(now); err != nil {
		return nil, err
	}
	rec := paymentRecord(p, raw, now.Truncate(time.Second).UTC())
	err = b.store.Update(func(tx *custody.Tx) error {
		if _, err := tx.Get(bucketChallenges, p.Challenge[:]); err == nil {
			return fmt.Errorf("%w: challenge %x already answered", ErrReplay, p.Challenge[:8])
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		if _, err := tx.Get(bucketTx, q.TxID[:]); err == nil {
			return fmt.Errorf("%w: transaction %x already recorded", ErrReplay, q.TxID)
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		v := append(binary.BigEndian.AppendUint64(nil, uint64(exp.Unix())), 1)
		if err := tx.Put(bucketChallenges, p.Challenge[:], v); err != nil {
			return err
		}
		return tx.Put(bucketTx, q.TxID[:], rec.encode())
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// SubmitReceipt verifies an offline receipt (as the payee did, with
// certificates valid when the payer signed, and not revoked now) and
// settles it once. The same receipt submitted again (by the other side, or
// twice) returns the first record with [ErrDuplicateReceipt]; another
// receipt with the same transaction ID or the same payer nonce is refused
// with [ErrDoubleSpend] (or [ErrReplay] when the ID was paid online).
func (b *Backend) SubmitReceipt(ctx context.Context, raw []byte, now time.Time) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := ParseReceipt(raw)
	if err != nil {
		return nil, err
	}
	t := b.trust
	if err := t.checkAcceptance(rc, now, true); err != nil {
		return nil, err
	}
	a := rc.Acceptance
	if a.SignedAt.Before(now.Add(-t.cfg.ReceiptMaxAge)) {
		return nil, fmt.Errorf("receipt signed at %v, older than %v: %w", a.SignedAt, t.cfg.ReceiptMaxAge, ErrStale)
	}
	q := rc.Request
	rec := receiptRecord(rc, raw, now.Truncate(time.Second).UTC())
	nonceKey := append(append([]byte(nil), a.Payer.PublicKey...), a.PayerNonce[:]...)
	var dup *Record
	err = b.store.Update(func(tx *custody.Tx) error {
		v, err := tx.Get(bucketTx, q.TxID[:])
		switch {
		case err == nil:
			old, err := decodeRecord(v)
			if err != nil {
				return err
			}
			if old.Mode == Online {
				return fmt.Errorf("%w: transaction %x was paid online", ErrReplay, q.TxID)
			}
			if string(old.Raw) == string(raw) {
				dup = old
				return ErrDuplicateReceipt
			}
			return fmt.Errorf("%w: transaction %x already settled with another acceptance", ErrDoubleSpend, q.TxID)
		case !errors.Is(err, custody.ErrNotFound):
			return err
		}
		if v, err := tx.Get(bucketNonces, nonceKey); err == nil {
			return fmt.Errorf("%w: payer nonce already used in transaction %x", ErrDoubleSpend, v)
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		if err := tx.Put(bucketNonces, nonceKey, q.TxID[:]); err != nil {
			return err
		}
		return tx.Put(bucketTx, q.TxID[:], rec.encode())
	})
	if dup != nil {
		return dup, err
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Lookup returns the record of a transaction, or an error wrapping
// [custody.ErrNotFound].
func (b *Backend) Lookup(txID [TxIDSize]byte) (*Record, error) {
	v, err := b.store.Get(bucketTx, txID[:])
	if err != nil {
		return nil, err
	}
	return decodeRecord(v)
}

// Records calls fn for every recorded payment, in transaction ID order.
func (b *Backend) Records(fn func(*Record) error) error {
	return b.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(bucketTx, nil, func(_, v []byte) error {
			r, err := decodeRecord(v)
			if err != nil {
				return err
			}
			return fn(r)
		})
	})
}

// Prune deletes the answered challenges that expired before now (minus the
// clock-skew tolerance): a payment answering one again is refused as
// expired, as it would have been refused as answered.
func (b *Backend) Prune(now time.Time) (int, error) {
	var n int
	err := b.store.Update(func(tx *custody.Tx) error {
		var old [][]byte
		err := tx.ForEachPrefix(bucketChallenges, nil, func(k, v []byte) error {
			if len(v) == 9 && now.After(time.Unix(int64(binary.BigEndian.Uint64(v)), 0).Add(b.trust.cfg.ClockSkew)) {
				old = append(old, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := tx.Delete(bucketChallenges, k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	return n, err
}
