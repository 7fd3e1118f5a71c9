package mpcsign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pquerna/otp"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/transport"
)

// Files of a holder's data directory.
const (
	// HolderKeyFile holds the holder's HPKE private key (mode 0600): the
	// key every share rests sealed to.
	HolderKeyFile = "holder.hpke"
	// HolderStoreFile is the holder's bbolt database.
	HolderStoreFile = "holder.db"
)

// DefaultDialTimeout is the default [HolderConfig.DialTimeout].
const DefaultDialTimeout = 10 * time.Second

const (
	holderAccounts = "mpcsign.holder.accounts" // account -> holder account record
	holderShares   = "mpcsign.holder.shares"   // account prefix || u32 epoch || u16 id -> envelope (to the holder)
	holderPending  = "mpcsign.holder.pending"  // account -> record of the epoch being refreshed to
	holderAcks     = "mpcsign.holder.acks"     // account prefix || u32 epoch || u16 id -> node name
	holderCheaters = "mpcsign.holder.cheaters" // account prefix || request id -> u64 time || u8 n || (u8 len || node)×n
	holderNodes    = "mpcsign.holder.nodes"    // node name -> node HPKE public key, pinned at first contact
	holderDKG      = "mpcsign.holder.dkg"      // account -> COCKTAIL-DKG success certificate
)

// HolderBuckets are the buckets a holder's store needs.
var HolderBuckets = []string{holderAccounts, holderShares, holderPending, holderAcks, holderCheaters, holderNodes, holderDKG}

// NodeAddr names a pool node (the name in its certificate) and its
// address.
type NodeAddr struct {
	Name, Addr string
}

// HolderConfig configures a holder. Identity and Pool are required.
type HolderConfig struct {
	// Identity is the holder's TLS identity; nodes bind the accounts it
	// enrols to its key.
	Identity *transport.Identity
	// Trust says how nodes are authenticated (a CA, pinned keys).
	Trust transport.Trust
	// Pool is the pool of nodes.
	Pool []NodeAddr
	// DialTimeout bounds the connection to one node; zero means
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// Logger receives events; nil means none.
	Logger *slog.Logger
	// Now returns the time, for refresh schedules and cheater records;
	// nil means time.Now.
	Now func() time.Time
}

// Holder keeps accounts' shares sealed to its own HPKE key, creates
// accounts, chooses the nodes of each request, re-seals a share to each,
// coordinates FROST and checks the signature with crypto/ed25519 before it
// returns it.
type Holder struct {
	store *custody.Store
	key   *custody.PrivateKey
	cfg   HolderConfig
	pool  map[string]NodeAddr
	log   *slog.Logger
	owned bool
	mu    sync.Mutex // one refresh or creation at a time
}

// NewHolder makes a holder on an open store (opened with
// [HolderBuckets]) and its HPKE private key.
func NewHolder(store *custody.Store, key *custody.PrivateKey, cfg *HolderConfig) (*Holder, error) {
	if store == nil || key == nil || cfg == nil || cfg.Identity == nil {
		return nil, errors.New("mpcsign: holder needs a store, a key and an identity")
	}
	h := &Holder{store: store, key: key, cfg: *cfg, pool: make(map[string]NodeAddr)}
	for _, n := range cfg.Pool {
		if !transport.ValidName(n.Name) || n.Addr == "" {
			return nil, fmt.Errorf("mpcsign: pool node %q: invalid name or address", n.Name)
		}
		if _, dup := h.pool[n.Name]; dup {
			return nil, fmt.Errorf("mpcsign: pool node %q listed twice", n.Name)
		}
		h.pool[n.Name] = n
	}
	if len(h.pool) > MaxSigners {
		return nil, fmt.Errorf("mpcsign: pool of %d nodes, at most %d", len(h.pool), MaxSigners)
	}
	h.log = cfg.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.Now == nil {
		h.cfg.Now = time.Now
	}
	if h.cfg.DialTimeout <= 0 {
		h.cfg.DialTimeout = DefaultDialTimeout
	}
	return h, nil
}

// OpenHolder opens the holder whose data live in dir ([HolderKeyFile],
// made on first start, and [HolderStoreFile]), making dir (0700) if
// missing.
func OpenHolder(dir string, cfg *HolderConfig) (*Holder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, _, err := custody.LoadOrCreateKey(filepath.Join(dir, HolderKeyFile), custody.DefaultSuite)
	if err != nil {
		return nil, err
	}
	st, err := custody.OpenStore(filepath.Join(dir, HolderStoreFile), &custody.StoreConfig{Buckets: HolderBuckets})
	if err != nil {
		return nil, err
	}
	h, err := NewHolder(st, key, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	h.owned = true
	return h, nil
}

// Close closes the store of a holder from [OpenHolder].
func (h *Holder) Close() error {
	if h.owned {
		return h.store.Close()
	}
	return nil
}

// --- connections ---

type nodeConn struct {
	name string
	conn transport.Conn
}

func (h *Holder) dial(ctx context.Context, name string) (*nodeConn, error) {
	n, ok := h.pool[name]
	if !ok {
		return nil, fmt.Errorf("mpcsign: node %s is not in the pool", name)
	}
	cfg, err := transport.ClientConfig(h.cfg.Identity, h.cfg.Trust, n.Name)
	if err != nil {
		return nil, err
	}
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
	cfg.Logger = h.cfg.Logger
	dctx, cancel := context.WithTimeout(ctx, h.cfg.DialTimeout)
	defer cancel()
	c, err := transport.Dial(dctx, n.Addr, SessionName, cfg)
	if err != nil {
		return nil, fmt.Errorf("mpcsign: node %s: %w", n.Name, err)
	}
	return &nodeConn{name: name, conn: c}, nil
}

func (nc *nodeConn) roundTrip(ctx context.Context, q *request) ([]byte, error) {
	if err := nc.conn.Send(ctx, q.marshal()); err != nil {
		return nil, fmt.Errorf("mpcsign: node %s: %v: %w", nc.name, q.op, err)
	}
	resp, err := transport.RecvLimit(ctx, nc.conn, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("mpcsign: node %s: %v: %w", nc.name, q.op, err)
	}
	return parseResponse(nc.name, resp)
}

// NodeStatus is what a node says of itself.
type NodeStatus struct {
	Name, Addr string
	Key        *custody.PublicKey // its HPKE key
	Accounts   uint64             // accounts enrolled there
	Err        error              // why it did not answer, or its key changed
}

func parseStatus(b []byte) (*custody.PublicKey, uint64, error) {
	if len(b) != custody.PublicKeySize+8 {
		return nil, 0, fmt.Errorf("%w: status of %d bytes", ErrBadMessage, len(b))
	}
	k, err := custody.ParsePublicKey(b[:custody.PublicKeySize])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return k, binary.BigEndian.Uint64(b[custody.PublicKeySize:]), nil
}

// status asks a node for its HPKE key and checks it against the pinned
// one (pinning it at first contact when pin is set).
func (h *Holder) status(ctx context.Context, name string, pin bool) (*NodeStatus, error) {
	st := &NodeStatus{Name: name, Addr: h.pool[name].Addr}
	nc, err := h.dial(ctx, name)
	if err != nil {
		return st, err
	}
	defer nc.conn.Close()
	b, err := nc.roundTrip(ctx, &request{op: opStatus})
	if err != nil {
		return st, err
	}
	if st.Key, st.Accounts, err = parseStatus(b); err != nil {
		return st, err
	}
	err = h.store.Update(func(tx *custody.Tx) error {
		old, err := tx.Get(holderNodes, []byte(name))
		if errors.Is(err, custody.ErrNotFound) {
			if !pin {
				return nil
			}
			return tx.Put(holderNodes, []byte(name), st.Key.Bytes())
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(old, st.Key.Bytes()) {
			return fmt.Errorf("%w: node %s presents another HPKE key than the one pinned", ErrConflict, name)
		}
		return nil
	})
	return st, err
}

// Nodes asks every pool node for its status.
func (h *Holder) Nodes(ctx context.Context) []*NodeStatus {
	names := h.poolNames()
	out := make([]*NodeStatus, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			st, err := h.status(ctx, n, false)
			st.Err = err
			out[i] = st
		})
	}
	wg.Wait()
	return out
}

func (h *Holder) poolNames() []string {
	var names []string
	for n := range h.pool {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (h *Holder) nodeKey(tx *custody.Tx, name string) (*custody.PublicKey, error) {
	b, err := tx.Get(holderNodes, []byte(name))
	if err != nil {
		return nil, fmt.Errorf("mpcsign: node %s: no pinned HPKE key: %w", name, err)
	}
	return custody.ParsePublicKey(b)
}

// --- accounts ---

// holderAccount is the holder's record of an account (version 2):
//
//	0x02 || u32 len || record || u8 n || (u8 len || node name) × n ||
//	u32 refresh interval in seconds || u64 last refresh, Unix seconds
//
// Version 1 (written before scheduled refresh) ends after the node names;
// it decodes with [DefaultRefreshInterval] and no last refresh, so such an
// account is due at once, and is written back as version 2. The last
// refresh is zero only for such an account.
type holderAccount struct {
	record   *Account
	raw      []byte
	nodes    []string      // the enrolled pool nodes
	interval time.Duration // refresh interval, whole seconds
	last     time.Time     // last successful refresh or creation; zero if unknown
}

const holderAccountVersion = 2

func (a *holderAccount) marshal() []byte {
	b := binfmt.AppendBytes32([]byte{holderAccountVersion}, a.raw)
	b = append(b, byte(len(a.nodes)))
	for _, n := range a.nodes {
		b = binfmt.AppendString8(b, n)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(a.interval/time.Second))
	// A clock before 1970 or absurdly late records no time (the account
	// is then due) rather than a record that does not decode.
	var last uint64
	if u := a.last.Unix(); !a.last.IsZero() && u > 0 && u <= maxUnix {
		last = uint64(u)
	}
	return binary.BigEndian.AppendUint64(b, last)
}

func parseHolderAccount(b []byte) (*holderAccount, error) {
	r := binfmt.NewReader(b)
	v := r.U8()
	a := &holderAccount{raw: r.Bytes32(MaxRecordSize), interval: DefaultRefreshInterval}
	n := r.U8()
	for range n {
		a.nodes = append(a.nodes, r.String8())
	}
	var last uint64
	if v == 2 {
		a.interval = time.Duration(r.U32()) * time.Second
		last = r.U64()
	}
	if (v != 1 && v != 2) || !r.Done() {
		return nil, errors.New("mpcsign: corrupt holder account record")
	}
	if err := checkRefreshInterval(a.interval); err != nil || last > maxUnix {
		return nil, errors.New("mpcsign: corrupt holder account record: refresh schedule out of range")
	}
	if last != 0 {
		a.last = time.Unix(int64(last), 0)
	}
	var err error
	if a.record, err = ParseAccount(a.raw); err != nil {
		return nil, fmt.Errorf("mpcsign: corrupt holder account record: %w", err)
	}
	return a, nil
}

func (h *Holder) account(tx *custody.Tx, id string) (*holderAccount, error) {
	b, err := tx.Get(holderAccounts, []byte(id))
	if errors.Is(err, custody.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if err != nil {
		return nil, err
	}
	return parseHolderAccount(b)
}

// Account returns an account's record and the nodes it is enrolled at.
func (h *Holder) Account(id string) (*Account, []string, error) {
	var a *holderAccount
	err := h.store.View(func(tx *custody.Tx) (err error) { a, err = h.account(tx, id); return err })
	if err != nil {
		return nil, nil, err
	}
	return a.record, a.nodes, nil
}

// Accounts returns the ids of the holder's accounts.
func (h *Holder) Accounts() ([]string, error) {
	var ids []string
	err := h.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(holderAccounts, nil, func(k, _ []byte) error { ids = append(ids, string(k)); return nil })
	})
	return ids, err
}

func shareKey(account string, epoch uint32, id uint16) []byte {
	b := binary.BigEndian.AppendUint32(binfmt.AppendString8(nil, account), epoch)
	return binary.BigEndian.AppendUint16(b, id)
}

func epochPrefix(account string, epoch uint32) []byte {
	return binary.BigEndian.AppendUint32(binfmt.AppendString8(nil, account), epoch)
}

func restInfo(account string, epoch uint32, id uint16) []byte {
	return custody.Info("mpcsign/rest", []byte(account), binary.BigEndian.AppendUint32(nil, epoch), binary.BigEndian.AppendUint16(nil, id))
}

// sealShares seals key shares to the holder and puts them in tx.
func (h *Holder) putShares(tx *custody.Tx, account string, epoch uint32, shares []*frost.KeyShare) error {
	for _, k := range shares {
		pt := k.Marshal()
		env, err := custody.Seal(h.key.Public(), restInfo(account, epoch, k.Identifier()), pt)
		clear(pt)
		if err != nil {
			return err
		}
		if err := tx.Put(holderShares, shareKey(account, epoch, k.Identifier()), env); err != nil {
			return err
		}
	}
	return nil
}

// openShare opens the holder's share id of account at epoch and checks it
// against rec. The caller erases it.
func (h *Holder) openShare(tx *custody.Tx, rec *Account, id uint16) (*frost.KeyShare, error) {
	env, err := tx.Get(holderShares, shareKey(rec.ID, rec.Epoch, id))
	if err != nil {
		return nil, err
	}
	return h.openSealedShare(rec, id, env)
}

// openSealedShare opens share id of rec sealed to the holder at rest.
func (h *Holder) openSealedShare(rec *Account, id uint16, env []byte) (*frost.KeyShare, error) {
	pt, err := custody.Open(h.key, restInfo(rec.ID, rec.Epoch, id), env)
	if err != nil {
		return nil, fmt.Errorf("mpcsign: stored share %d of %s: %w", id, rec.ID, err)
	}
	defer clear(pt)
	k, err := frost.UnmarshalKeyShare(pt)
	if err != nil {
		return nil, fmt.Errorf("mpcsign: stored share %d of %s: %w", id, rec.ID, err)
	}
	vs, _ := rec.Key.VerifyingShare(id)
	if k.Identifier() != id || !bytes.Equal(k.VerifyingShare(), vs) {
		k.Erase()
		return nil, fmt.Errorf("mpcsign: stored share %d of %s does not match the record", id, rec.ID)
	}
	return k, nil
}

// CreateOptions are an account's parameters; zero fields take defaults.
type CreateOptions struct {
	Threshold, Shares int      // t and n; required, 1 ≤ t ≤ n ≤ MaxSigners
	Nodes             []string // the pool nodes to enrol the account at (at least n); nil means the whole pool
	Digits            int      // TOTP digits, 6 (default) or 8
	Period            int      // TOTP step in seconds; 0 means DefaultPeriod
	// RefreshEvery is the account's refresh interval ([Holder.RefreshDue]);
	// 0 means DefaultRefreshInterval. Whole seconds, within
	// [MinRefreshInterval, MaxRefreshInterval].
	RefreshEvery time.Duration
}

// CreateAccount creates an account for the owner's device key: a t-of-n
// key made by COCKTAIL-DKG among n of the nodes (nobody holds the whole
// key; see dkgKey), its shares sealed to the holder and stored with the
// DKG's success certificate ([Holder.Certificate]), and
// a fresh TOTP key; it enrols the account (record and TOTP secret, sealed
// to each node) at every node of opts.Nodes. The returned TOTP key is for
// the owner's authenticator ([WriteQR]); the holder does not keep it.
func (h *Holder) CreateAccount(ctx context.Context, id string, device ed25519.PublicKey, opts *CreateOptions) (*Account, *otp.Key, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := *opts
	if o.Digits == 0 {
		o.Digits = DefaultDigits
	}
	if o.Period == 0 {
		o.Period = DefaultPeriod
	}
	if o.RefreshEvery == 0 {
		o.RefreshEvery = DefaultRefreshInterval
	}
	if err := checkRefreshInterval(o.RefreshEvery); err != nil {
		return nil, nil, err
	}
	nodes := o.Nodes
	if nodes == nil {
		nodes = h.poolNames()
	}
	nodes = slices.Sorted(slices.Values(nodes))
	if len(slices.Compact(slices.Clone(nodes))) != len(nodes) {
		return nil, nil, fmt.Errorf("mpcsign: a node is listed twice")
	}
	if o.Threshold < 1 || o.Threshold > o.Shares || o.Shares > MaxSigners {
		return nil, nil, fmt.Errorf("mpcsign: t = %d, n = %d", o.Threshold, o.Shares)
	}
	if len(nodes) < o.Shares {
		return nil, nil, fmt.Errorf("%w: a pool of %d nodes for %d shares", ErrTooFewNodes, len(nodes), o.Shares)
	}
	for _, n := range nodes {
		if _, ok := h.pool[n]; !ok {
			return nil, nil, fmt.Errorf("mpcsign: node %s is not in the pool", n)
		}
	}
	// Every node must answer, and its HPKE key is pinned, before anything
	// is made.
	keys := make([]*custody.PublicKey, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			st, err := h.status(ctx, n, true)
			keys[i], errs[i] = st.Key, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	// COCKTAIL-DKG among n of the nodes, drawn at random.
	parts := slices.Clone(nodes)
	shuffle(parts)
	pub, cert, shares, err := h.dkgKey(ctx, id, o.Threshold, parts[:o.Shares])
	if err != nil {
		return nil, nil, fmt.Errorf("mpcsign: DKG for %s: %w", id, err)
	}
	defer eraseAll(shares)
	rec := &Account{ID: id, Device: bytes.Clone(device), Digits: o.Digits, Period: o.Period, Epoch: 1, Key: pub}
	if err := rec.check(); err != nil {
		return nil, nil, err
	}
	totpKey, err := NewTOTPKey(id, o.Digits, o.Period)
	if err != nil {
		return nil, nil, err
	}
	secret, err := totpSecret(totpKey)
	if err != nil {
		return nil, nil, err
	}
	defer clear(secret)
	// The DKG made fresh shares: creation counts as a refresh.
	ha := &holderAccount{record: rec, raw: rec.Marshal(), nodes: nodes, interval: o.RefreshEvery, last: h.cfg.Now()}
	err = h.store.Update(func(tx *custody.Tx) error {
		if _, err := tx.Get(holderAccounts, []byte(id)); err == nil {
			return fmt.Errorf("%w: account %s exists", ErrConflict, id)
		}
		if err := tx.Put(holderAccounts, []byte(id), ha.marshal()); err != nil {
			return err
		}
		if err := tx.Put(holderDKG, []byte(id), cert.Marshal()); err != nil {
			return err
		}
		return h.putShares(tx, id, rec.Epoch, shares)
	})
	if err != nil {
		return nil, nil, err
	}
	for i, n := range nodes {
		wg.Go(func() {
			sealed, err := custody.Seal(keys[i], totpInfo(id, n), secret)
			if err != nil {
				errs[i] = err
				return
			}
			nc, err := h.dial(ctx, n)
			if err != nil {
				errs[i] = err
				return
			}
			defer nc.conn.Close()
			_, errs[i] = nc.roundTrip(ctx, &request{op: opEnrol, record: ha.raw, sealed: sealed})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// Nodes that enrolled keep the account id: it cannot be enrolled
		// again with another device or TOTP key, by design.
		if derr := h.store.Update(func(tx *custody.Tx) error { return deleteAccount(tx, id) }); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, nil, fmt.Errorf("mpcsign: enrolling %s: %w", id, err)
	}
	h.log.Info("mpcsign: account created", "account", id, "t", o.Threshold, "n", o.Shares, "nodes", len(nodes))
	return rec, totpKey, nil
}

func eraseAll(ks []*frost.KeyShare) {
	for _, k := range ks {
		if k != nil {
			k.Erase()
		}
	}
}

func deletePrefix(tx *custody.Tx, bucket string, prefix []byte) error {
	var keys [][]byte
	if err := tx.ForEachPrefix(bucket, prefix, func(k, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

func deleteAccount(tx *custody.Tx, id string) error {
	p := binfmt.AppendString8(nil, id)
	for _, b := range []string{holderShares, holderAcks} {
		if err := deletePrefix(tx, b, p); err != nil {
			return err
		}
	}
	if err := tx.Delete(holderPending, []byte(id)); err != nil {
		return err
	}
	if err := tx.Delete(holderDKG, []byte(id)); err != nil {
		return err
	}
	return tx.Delete(holderAccounts, []byte(id))
}

// --- signing ---

func randomInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return int(v.Int64())
}

// shuffle permutes s uniformly (Fisher–Yates with crypto/rand).
func shuffle[T any](s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := randomInt(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// ChooseNodes returns t nodes of the account's pool, drawn at random
// among those that answer and were never recorded cheating on the
// account, sorted: the node set for the owner to authorise.
func (h *Holder) ChooseNodes(ctx context.Context, account string) ([]string, error) {
	rec, all, err := h.Account(account)
	if err != nil {
		return nil, err
	}
	cheats, err := h.Cheaters(account)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, n := range all {
		if !slices.ContainsFunc(cheats, func(c CheaterRecord) bool { return slices.Contains(c.Nodes, n) }) {
			nodes = append(nodes, n)
		}
	}
	ok := make([]bool, len(nodes))
	failed := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			_, err := h.status(ctx, n, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[n] = err
			} else {
				ok[i] = true
			}
		})
	}
	wg.Wait()
	var healthy []string
	for i, n := range nodes {
		if ok[i] {
			healthy = append(healthy, n)
		}
	}
	t := rec.Threshold()
	if len(healthy) < t {
		return nil, &TooFewError{Healthy: len(healthy), Need: t, Failed: failed}
	}
	shuffle(healthy)
	return slices.Sorted(slices.Values(healthy[:t])), nil
}

// Sign has the nodes of the authorisation sign message for its account:
// one share each, drawn at random among the account's n, re-sealed to the
// node for this request. It returns the Ed25519 signature, verified with
// crypto/ed25519. A node that sends an invalid signature share is named
// in a *CheaterError, also recorded in the store ([Holder.Cheaters]).
func (h *Holder) Sign(ctx context.Context, message, auth []byte) ([]byte, error) {
	a, err := ParseAuthorization(auth)
	if err != nil {
		return nil, err
	}
	var ha *holderAccount
	sealed := make([][]byte, len(a.Nodes))
	var ids []uint16
	err = h.store.View(func(tx *custody.Tx) error {
		if ha, err = h.account(tx, a.Account); err != nil {
			return err
		}
		rec := ha.record
		// The nodes check all of it; the holder checks the device's
		// signature and the message first, so as not to re-seal shares
		// for a request no node will serve.
		if !ed25519.Verify(rec.Device, signedBytes(auth[:len(auth)-ed25519.SignatureSize]), a.Signature) {
			return ErrBadDeviceSignature
		}
		if mh := sha256.Sum256(message); len(message) > MaxMessage || mh != a.MessageHash {
			return ErrWrongMessage
		}
		if len(a.Nodes) < rec.Threshold() {
			return &TooFewError{Healthy: len(a.Nodes), Need: rec.Threshold()}
		}
		if len(a.Nodes) > len(rec.Shares()) {
			return fmt.Errorf("mpcsign: %d nodes for %d shares", len(a.Nodes), len(rec.Shares()))
		}
		for _, n := range a.Nodes {
			if !slices.Contains(ha.nodes, n) {
				return fmt.Errorf("%w: node %s is not in the account's pool", ErrNotInNodeSet, n)
			}
		}
		all := rec.Shares()
		shuffle(all)
		ids = all[:len(a.Nodes)]
		for i, n := range a.Nodes {
			pk, err := h.nodeKey(tx, n)
			if err != nil {
				return err
			}
			k, err := h.openShare(tx, rec, ids[i])
			if err != nil {
				return err
			}
			pt := k.Marshal()
			k.Erase()
			sealed[i], err = custody.Seal(pk, shareInfo(a, rec.Epoch, ids[i], n), pt)
			clear(pt)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rec := ha.record
	conns := make([]*nodeConn, len(a.Nodes))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	// Round one, in parallel.
	comms := make([]*frost.SigningCommitments, len(a.Nodes))
	errs := make([]error, len(a.Nodes))
	var wg sync.WaitGroup
	for i, n := range a.Nodes {
		wg.Go(func() {
			nc, err := h.dial(ctx, n)
			if err != nil {
				errs[i] = err
				return
			}
			conns[i] = nc
			b, err := nc.roundTrip(ctx, &request{op: opRound1, record: ha.raw, auth: auth, id: ids[i], sealed: sealed[i], message: message})
			if err != nil {
				errs[i] = err
				return
			}
			c, err := frost.UnmarshalSigningCommitments(b)
			if err != nil || c.Identifier() != ids[i] {
				errs[i] = fmt.Errorf("%w: node %s: round one reply", ErrBadMessage, n)
				return
			}
			comms[i] = c
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sorted := slices.Clone(comms)
	slices.SortFunc(sorted, func(x, y *frost.SigningCommitments) int { return int(x.Identifier()) - int(y.Identifier()) })
	pkg, err := frost.NewSigningPackage(message, sorted)
	if err != nil {
		return nil, err
	}
	pkgBytes := pkg.Marshal()
	// Round two.
	sigShares := make([]*frost.SignatureShare, len(a.Nodes))
	for i, n := range a.Nodes {
		wg.Go(func() {
			b, err := conns[i].roundTrip(ctx, &request{op: opRound2, reqID: a.RequestID, pkg: pkgBytes})
			if err != nil {
				errs[i] = err
				return
			}
			s, err := frost.UnmarshalSignatureShare(b)
			if err != nil || s.Identifier() != ids[i] {
				errs[i] = fmt.Errorf("%w: node %s: round two reply", ErrBadMessage, n)
				return
			}
			sigShares[i] = s
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sig, err := frost.Aggregate(rec.Key, pkg, sigShares)
	var fc *frost.CheaterError
	if errors.As(err, &fc) {
		ce := &CheaterError{Account: rec.ID, RequestID: a.RequestID, Identifiers: fc.Identifiers, Err: fc}
		for _, id := range fc.Identifiers {
			ce.Nodes = append(ce.Nodes, a.Nodes[slices.Index(ids, id)])
		}
		if rerr := h.recordCheaters(ce); rerr != nil {
			return nil, errors.Join(ce, rerr)
		}
		h.log.Warn("mpcsign: cheating node identified", "account", rec.ID, "nodes", ce.Nodes)
		return nil, ce
	}
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(rec.GroupKey(), message, sig) {
		return nil, frost.ErrInvalidSignature
	}
	return sig, nil
}

// Certificate returns the COCKTAIL-DKG success certificate of an
// account's key, which anyone can verify (frost.DKGCertificate.Verify) and
// whose public key package is the account's at epoch 1.
func (h *Holder) Certificate(account string) (*frost.DKGCertificate, error) {
	b, err := h.store.Get(holderDKG, []byte(account))
	if err != nil {
		return nil, err
	}
	return frost.UnmarshalDKGCertificate(b)
}

// CheaterRecord is a recorded cheating: the nodes whose signature shares
// failed, in one request.
type CheaterRecord struct {
	RequestID [RequestIDSize]byte
	Time      time.Time
	Nodes     []string
}

// marshalCheaters encodes a cheater record's value:
// u64 time || u8 n || (u8 len || node name) × n.
func marshalCheaters(at time.Time, nodes []string) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(at.Unix()))
	b = append(b, byte(len(nodes)))
	for _, n := range nodes {
		b = binfmt.AppendString8(b, n)
	}
	return b
}

func parseCheaters(v []byte) (time.Time, []string, error) {
	r := binfmt.NewReader(v)
	t := r.U64()
	var nodes []string
	for n := r.U8(); n > 0 && !r.Failed(); n-- {
		nodes = append(nodes, r.String8())
	}
	if !r.Done() || t > 1<<62 {
		return time.Time{}, nil, errors.New("mpcsign: corrupt cheater record")
	}
	return time.Unix(int64(t), 0), nodes, nil
}

func (h *Holder) recordCheaters(ce *CheaterError) error {
	return h.store.Put(holderCheaters, append(binfmt.AppendString8(nil, ce.Account), ce.RequestID[:]...), marshalCheaters(h.cfg.Now(), ce.Nodes))
}

// Cheaters returns the recorded cheatings of an account.
func (h *Holder) Cheaters(account string) ([]CheaterRecord, error) {
	var out []CheaterRecord
	p := binfmt.AppendString8(nil, account)
	err := h.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(holderCheaters, p, func(k, v []byte) error {
			var c CheaterRecord
			var err error
			if c.Time, c.Nodes, err = parseCheaters(v); err != nil {
				return err
			}
			if len(k) != len(p)+RequestIDSize {
				return errors.New("mpcsign: corrupt cheater record key")
			}
			copy(c.RequestID[:], k[len(p):])
			out = append(out, c)
			return nil
		})
	})
	return out, err
}
