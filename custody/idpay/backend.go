package idpay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// Buckets of the back end's store.
const (
	bucketChallenges = "idpay-challenges" // challenge → expires(8) used(1)
	bucketTx         = "idpay-tx"         // transaction ID → record
	bucketNonces     = "idpay-nonces"     // payer key(32) nonce(16) → transaction ID
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

	// lastPrune is when NewChallenge last dropped expired challenges:
	// anyone may ask for a challenge, so unused ones must not pile up.
	mu        sync.Mutex
	lastPrune time.Time
}

// OpenBackend opens (or creates) the back end's store at path.
func OpenBackend(path string, trust *Trust) (*Backend, error) {
	s, err := custody.OpenStore(path, &custody.StoreConfig{Buckets: []string{bucketChallenges, bucketTx, bucketNonces}})
	if err != nil {
		return nil, err
	}
	return &Backend{store: s, trust: trust}, nil
}

// Close closes the store.
func (b *Backend) Close() error { return b.store.Close() }

// Trust returns the back end's trust store (to install revocation lists).
func (b *Backend) Trust() *Trust { return b.trust }

// NewChallenge returns a fresh random challenge, stored until it is used or
// expires (Config.ChallengeTTL after now). At most once per ChallengeTTL it
// first drops the expired challenges ([Backend.Prune]), so that challenges
// asked for and never answered do not accumulate in the store.
func (b *Backend) NewChallenge(ctx context.Context, now time.Time) (*Challenge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	due := b.lastPrune.IsZero() || now.Sub(b.lastPrune) >= b.trust.cfg.ChallengeTTL || now.Before(b.lastPrune)
	if due {
		b.lastPrune = now
	}
	b.mu.Unlock()
	if due {
		if _, err := b.Prune(now); err != nil {
			return nil, err
		}
	}
	c := &Challenge{Expires: now.Add(b.trust.cfg.ChallengeTTL).Truncate(time.Second).UTC()}
	rand.Read(c.Value[:])
	v := binary.BigEndian.AppendUint64(nil, uint64(c.Expires.Unix()))
	if err := b.store.Put(bucketChallenges, c.Value[:], append(v, 0)); err != nil {
		return nil, err
	}
	return c, nil
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
	rec := paymentRecord(p, raw, now.Truncate(time.Second).UTC())
	err = b.store.Update(func(tx *custody.Tx) error {
		v, err := tx.Get(bucketChallenges, p.Challenge[:])
		if errors.Is(err, custody.ErrNotFound) {
			return fmt.Errorf("%w: challenge %x was not issued here (or has expired and been pruned)", ErrReplay, p.Challenge[:8])
		}
		if err != nil {
			return err
		}
		if len(v) != 9 {
			return fmt.Errorf("%w: stored challenge", ErrMalformed)
		}
		if v[8] != 0 {
			return fmt.Errorf("%w: challenge %x already answered", ErrReplay, p.Challenge[:8])
		}
		if exp := time.Unix(int64(binary.BigEndian.Uint64(v)), 0); now.After(exp.Add(t.cfg.ClockSkew)) {
			return fmt.Errorf("challenge expired at %v: %w", exp.UTC(), ErrStale)
		}
		if _, err := tx.Get(bucketTx, q.TxID[:]); err == nil {
			return fmt.Errorf("%w: transaction %x already recorded", ErrReplay, q.TxID)
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		v[8] = 1
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

// Prune deletes challenges that expired before now (minus the clock-skew
// tolerance): a payment answering one is refused as unknown, as it would
// be refused as expired.
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
