package mpcsign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// Refresh schedule bounds.
const (
	// DefaultRefreshInterval is an account's refresh interval unless
	// chosen at creation. A refresh makes every share an attacker has
	// gathered useless, so the interval bounds the time in which t shares
	// of one epoch must be stolen; a month keeps that window short while
	// a daily `wallet refresh --due` has weeks to retry a refresh that
	// fails because nodes are down.
	DefaultRefreshInterval = 30 * 24 * time.Hour
	// MinRefreshInterval is the shortest interval. Refreshing more often
	// than the timer that runs the schedule gains nothing, but does no
	// harm; a second allows tests and drills.
	MinRefreshInterval = time.Second
	// MaxRefreshInterval is the longest: a share may not stay valid for
	// more than a year.
	MaxRefreshInterval = 366 * 24 * time.Hour
)

// maxUnix bounds a stored time, far beyond any clock.
const maxUnix = 1 << 40

// ErrBadInterval reports a refresh interval out of bounds or not whole
// seconds.
var ErrBadInterval = errors.New("mpcsign: refresh interval out of range")

func checkRefreshInterval(d time.Duration) error {
	if d < MinRefreshInterval || d > MaxRefreshInterval || d%time.Second != 0 {
		return fmt.Errorf("%w: %v, want whole seconds within [%v, %v]", ErrBadInterval, d, MinRefreshInterval, MaxRefreshInterval)
	}
	return nil
}

// Schedule is an account's refresh schedule.
type Schedule struct {
	Every time.Duration // the refresh interval
	// Last is the time of the last successful refresh, or of creation;
	// zero if not recorded (an account made before schedules), which
	// makes it due.
	Last time.Time
}

// Next returns when the account is next due (the zero time if now).
func (s Schedule) Next() time.Time {
	if s.Last.IsZero() {
		return time.Time{}
	}
	return s.Last.Add(s.Every)
}

// Due reports whether a refresh is due at now.
func (s Schedule) Due(now time.Time) bool { return !now.Before(s.Next()) }

// Schedule returns an account's refresh schedule.
func (h *Holder) Schedule(account string) (Schedule, error) {
	var a *holderAccount
	err := h.store.View(func(tx *custody.Tx) (err error) { a, err = h.account(tx, account); return err })
	if err != nil {
		return Schedule{}, err
	}
	return Schedule{Every: a.interval, Last: a.last}, nil
}

// SetRefreshInterval changes an account's refresh interval; the next
// refresh is due that long after the last one.
func (h *Holder) SetRefreshInterval(account string, every time.Duration) error {
	if err := checkRefreshInterval(every); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.store.Update(func(tx *custody.Tx) error {
		a, err := h.account(tx, account)
		if err != nil {
			return err
		}
		a.interval = every
		return tx.Put(holderAccounts, []byte(account), a.marshal())
	})
}

// DueForRefresh returns the accounts whose refresh is due at now, the
// most overdue first. An account whose record does not decode is left out
// and named in the error, a join of *AccountError, beside the others.
func (h *Holder) DueForRefresh(now time.Time) ([]string, error) {
	type due struct {
		id   string
		next time.Time
	}
	var ds []due
	var bad []error
	err := h.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(holderAccounts, nil, func(k, v []byte) error {
			a, err := parseHolderAccount(v)
			if err != nil {
				bad = append(bad, &AccountError{string(k), err})
				return nil
			}
			s := Schedule{Every: a.interval, Last: a.last}
			if s.Due(now) {
				ds = append(ds, due{string(k), s.Next()})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(ds, func(x, y due) int { return x.next.Compare(y.next) })
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.id
	}
	return ids, errors.Join(bad...)
}

// AccountError is the failure of one account's scheduled refresh.
type AccountError struct {
	Account string
	Err     error
}

func (e *AccountError) Error() string {
	return fmt.Sprintf("mpcsign: account %s: %v", e.Account, e.Err)
}

func (e *AccountError) Unwrap() error { return e.Err }

// RefreshDue refreshes every account whose refresh is due now (the
// holder's clock), one after another, the most overdue first. A failure
// (or a record that does not decode) does not stop the others: it
// returns the refreshed accounts' results
// and, if any failed, the join of one *AccountError per failure (an
// account that failed stays due, so the next run retries it). Once ctx is
// done, the accounts not yet started fail with its error.
func (h *Holder) RefreshDue(ctx context.Context) (map[string]*RefreshResult, error) {
	ids, err := h.DueForRefresh(h.cfg.Now())
	var errs []error
	var ae *AccountError
	if err != nil && !errors.As(err, &ae) {
		return nil, err
	}
	if err != nil {
		errs = append(errs, err) // records that do not decode
	}
	done := make(map[string]*RefreshResult)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, &AccountError{id, err})
			continue
		}
		res, err := h.Refresh(ctx, id)
		if err != nil {
			h.log.Warn("mpcsign: scheduled refresh failed", "account", id, "err", err)
			errs = append(errs, &AccountError{id, err})
			continue
		}
		done[id] = res
	}
	return done, errors.Join(errs...)
}
