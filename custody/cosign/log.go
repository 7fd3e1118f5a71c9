package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/maskshare/maskshare/custody"
)

// Buckets of the log in a [custody.Store]; open the store with them
// (custody.StoreConfig.Buckets).
const (
	bucketEntries     = "cosign/log/entries"     // u64 index → entry encoding
	bucketHashes      = "cosign/log/hashes"      // u64 tlog stored-hash index → hash
	bucketCheckpoints = "cosign/log/checkpoints" // u64 tree size → signed checkpoint
	bucketLeaves      = "cosign/log/leaves"      // leaf hash → u64 index (refuses replays)
	bucketMeta        = "cosign/log/meta"
)

// LogBuckets are the buckets a [Log] keeps in its store.
var LogBuckets = []string{bucketEntries, bucketHashes, bucketCheckpoints, bucketLeaves, bucketMeta}

// DefaultMaxSkew is the default [LogConfig.MaxSkew].
const DefaultMaxSkew = 5 * time.Minute

// MaxBatch bounds the entries of one append, so that one transaction
// stays small.
const MaxBatch = 4096

// UserKeys gives the Ed25519 public key of a user at a time: the key of
// the user's certificate valid then. It returns an error wrapping
// [ErrUnknownUser] when the user had none (not enrolled, or revoked).
type UserKeys interface {
	UserKey(user string, at time.Time) (ed25519.PublicKey, error)
}

// LogConfig configures [OpenLog]; nil means the defaults.
type LogConfig struct {
	// MaxSkew bounds how far an entry's time may be from the log's clock
	// when it is appended, so that a user cannot date an action before its
	// key was revoked. Zero means DefaultMaxSkew; negative disables the
	// check (for importing old entries).
	MaxSkew time.Duration
	// Now is the log's clock; nil means time.Now.
	Now func() time.Time
}

// Log is the append-only action log of a co-signing service: a Merkle
// tree (RFC 6962, with golang.org/x/mod/sumdb/tlog) of [Entry] records,
// kept in a [custody.Store], with a checkpoint signed by the log key after
// every append.
//
// Durability: an append writes its entries, their tree hashes and the new
// signed checkpoint in one transaction, committed with fsync before Append
// returns. An acknowledged append survives a crash; an interrupted one
// leaves no trace. A Log keeps no state outside its store and is safe for
// concurrent use (appends are serialised by the store's single writer).
type Log struct {
	store  *custody.Store
	origin string
	signer note.Signer
	vkey   string
	pub    ed25519.PublicKey
	users  UserKeys
	skew   time.Duration
	now    func() time.Time
}

// OpenLog opens the log named origin in store (made with [LogBuckets]),
// creating it if the store holds none. key is the log key (Ed25519, a
// crypto.Signer so that a hardware module can hold it): it signs the
// checkpoints and the service's own entries. users gives the keys that
// verify users' entries. A store holds one log: opening it with another
// origin or key fails.
func OpenLog(store *custody.Store, origin string, key crypto.Signer, users UserKeys, cfg *LogConfig) (*Log, error) {
	signer, err := LogSigner(origin, key)
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	vkey, err := VerifierKey(origin, pub)
	if err != nil {
		return nil, err
	}
	l := &Log{store: store, origin: origin, signer: signer, vkey: vkey, pub: pub, users: users,
		skew: DefaultMaxSkew, now: time.Now}
	if cfg != nil {
		if cfg.MaxSkew != 0 {
			l.skew = cfg.MaxSkew
		}
		if cfg.Now != nil {
			l.now = cfg.Now
		}
	}
	err = store.Update(func(tx *custody.Tx) error {
		have, err := tx.Get(bucketMeta, []byte("vkey"))
		if err == nil {
			if string(have) != vkey {
				return fmt.Errorf("cosign: the store holds the log %s, not %s", have, vkey)
			}
			return nil
		}
		if !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		// A new log: its first checkpoint is the empty tree's.
		signed, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 0, Hash: emptyRoot}, signer)
		if err != nil {
			return err
		}
		if err := tx.Put(bucketCheckpoints, u64(0), signed); err != nil {
			return err
		}
		if err := tx.Put(bucketMeta, []byte("size"), u64(0)); err != nil {
			return err
		}
		return tx.Put(bucketMeta, []byte("vkey"), []byte(vkey))
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Origin returns the log's name, the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// VerifierKey returns the log's verifier key (vkey), which clients and
// `maskshare log verify` are configured with.
func (l *Log) VerifierKey() string { return l.vkey }

// SignAsService signs e with the log key as a service entry (such as a
// refusal), setting e.Signer.
func (l *Log) SignAsService(e *Entry) error {
	e.Signer = SignedByService
	msg, err := e.Message(l.origin)
	if err != nil {
		return err
	}
	sig, err := l.signer.Sign(msg)
	if err != nil {
		return fmt.Errorf("cosign: signing service entry: %w", err)
	}
	e.Signature = sig
	return nil
}

// check verifies an entry before it is appended and returns its encoding.
func (l *Log) check(e *Entry) ([]byte, error) {
	rec, err := e.Marshal()
	if err != nil {
		return nil, err
	}
	if l.skew > 0 {
		if d := l.now().Sub(e.Time); d > l.skew || d < -l.skew {
			return nil, fmt.Errorf("%w: entry at %v, log clock %v", ErrClockSkew, e.Time, l.now())
		}
	}
	var pub ed25519.PublicKey
	switch e.Signer {
	case SignedByService:
		pub = l.pub
	case SignedByUser:
		if l.users == nil {
			return nil, fmt.Errorf("%w: %q: the log has no user keys", ErrUnknownUser, e.User)
		}
		if pub, err = l.users.UserKey(e.User, e.Time); err != nil {
			return nil, fmt.Errorf("cosign: key of %q at %v: %w", e.User, e.Time, err)
		}
	}
	if err := e.Verify(l.origin, pub); err != nil {
		return nil, err
	}
	return rec, nil
}

// Append verifies each entry's signature (a user's with [UserKeys] at the
// entry's time, the service's with the log key), appends them in order in
// one durable transaction and signs the new checkpoint. It returns the
// index of the first entry and the signed checkpoint, which covers them.
// If any entry is refused (malformed, bad signature, clock skew, already
// logged) nothing is appended.
func (l *Log) Append(ctx context.Context, entries ...*Entry) (first int64, checkpoint []byte, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	recs, err := l.checkAll(entries)
	if err != nil {
		return 0, nil, err
	}
	err = l.store.Update(func(tx *custody.Tx) error {
		first, checkpoint, err = l.appendRecords(tx, recs)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return first, checkpoint, nil
}

// AppendTx is Append within the caller's store transaction, so that the
// entries commit together with the caller's own state (such as a spent
// nonce); they are durable when the transaction commits.
func (l *Log) AppendTx(tx *custody.Tx, entries ...*Entry) (first int64, checkpoint []byte, err error) {
	recs, err := l.checkAll(entries)
	if err != nil {
		return 0, nil, err
	}
	return l.appendRecords(tx, recs)
}

func (l *Log) checkAll(entries []*Entry) ([][]byte, error) {
	if len(entries) == 0 || len(entries) > MaxBatch {
		return nil, fmt.Errorf("cosign: append of %d entries (1–%d)", len(entries), MaxBatch)
	}
	recs := make([][]byte, len(entries))
	for i, e := range entries {
		rec, err := l.check(e)
		if err != nil {
			if len(entries) > 1 {
				return nil, fmt.Errorf("entry %d of the batch: %w", i, err)
			}
			return nil, err
		}
		recs[i] = rec
	}
	return recs, nil
}

func (l *Log) appendRecords(tx *custody.Tx, recs [][]byte) (int64, []byte, error) {
	size, err := readSize(tx)
	if err != nil {
		return 0, nil, err
	}
	r := txHashes{tx}
	for i, rec := range recs {
		n := size + int64(i)
		leaf := tlog.RecordHash(rec)
		if at, err := tx.Get(bucketLeaves, leaf[:]); err == nil {
			return 0, nil, fmt.Errorf("%w at index %d", ErrDuplicate, binary.BigEndian.Uint64(at))
		} else if !errors.Is(err, custody.ErrNotFound) {
			return 0, nil, err
		}
		hashes, err := tlog.StoredHashesForRecordHash(n, leaf, r)
		if err != nil {
			return 0, nil, fmt.Errorf("cosign: tree hashes of entry %d: %w", n, err)
		}
		base := tlog.StoredHashIndex(0, n)
		for j, h := range hashes {
			if err := tx.Put(bucketHashes, u64(base+int64(j)), h[:]); err != nil {
				return 0, nil, err
			}
		}
		if err := tx.Put(bucketEntries, u64(n), rec); err != nil {
			return 0, nil, err
		}
		if err := tx.Put(bucketLeaves, leaf[:], u64(n)); err != nil {
			return 0, nil, err
		}
	}
	next := size + int64(len(recs))
	root, err := tlog.TreeHash(next, r)
	if err != nil {
		return 0, nil, fmt.Errorf("cosign: tree hash: %w", err)
	}
	signed, err := SignCheckpoint(Checkpoint{Origin: l.origin, Size: next, Hash: root}, l.signer)
	if err != nil {
		return 0, nil, err
	}
	if err := tx.Put(bucketCheckpoints, u64(next), signed); err != nil {
		return 0, nil, err
	}
	if err := tx.Put(bucketMeta, []byte("size"), u64(next)); err != nil {
		return 0, nil, err
	}
	return size, signed, nil
}

// txHashes reads the stored tree hashes in a transaction, including
// those it wrote.
type txHashes struct{ tx *custody.Tx }

func (r txHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		v, err := r.tx.Get(bucketHashes, u64(idx))
		if err != nil {
			return nil, err
		}
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("cosign: stored hash %d is %d bytes", idx, len(v))
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func u64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func readSize(tx *custody.Tx) (int64, error) {
	v, err := tx.Get(bucketMeta, []byte("size"))
	if err != nil {
		return 0, err
	}
	if len(v) != 8 || v[0]&0x80 != 0 {
		return 0, fmt.Errorf("cosign: stored log size is corrupt")
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Size returns the number of entries.
func (l *Log) Size(ctx context.Context) (n int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	err = l.store.View(func(tx *custody.Tx) error {
		n, err = readSize(tx)
		return err
	})
	return n, err
}

// Checkpoint returns the latest signed checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (signed []byte, err error) {
	return l.CheckpointAt(ctx, -1)
}

// CheckpointAt returns the signed checkpoint of the tree of size entries
// (one was signed at the end of each append), or the latest for size < 0.
func (l *Log) CheckpointAt(ctx context.Context, size int64) (signed []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err = l.store.View(func(tx *custody.Tx) error {
		signed, err = checkpointAt(tx, size)
		return err
	})
	return signed, err
}

func checkpointAt(tx *custody.Tx, size int64) ([]byte, error) {
	if size < 0 {
		n, err := readSize(tx)
		if err != nil {
			return nil, err
		}
		size = n
	}
	signed, err := tx.Get(bucketCheckpoints, u64(size))
	if errors.Is(err, custody.ErrNotFound) {
		return nil, fmt.Errorf("%w: no checkpoint at size %d", ErrNotFound, size)
	}
	return signed, err
}

// Entry returns the entry at index.
func (l *Log) Entry(ctx context.Context, index int64) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rec []byte
	err := l.store.View(func(tx *custody.Tx) (err error) {
		rec, err = tx.Get(bucketEntries, u64(index))
		if errors.Is(err, custody.ErrNotFound) {
			return fmt.Errorf("%w: no entry %d", ErrNotFound, index)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ParseEntry(rec)
}

// ProveInclusion returns the proof that the entry at index is in the tree
// of the signed checkpoint of size entries (the latest for size < 0).
func (l *Log) ProveInclusion(ctx context.Context, index, size int64) (*InclusionProof, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &InclusionProof{Index: index}
	err := l.store.View(func(tx *custody.Tx) error {
		signed, err := checkpointAt(tx, size)
		if err != nil {
			return err
		}
		if size < 0 {
			if size, err = readSize(tx); err != nil {
				return err
			}
		}
		if index < 0 || index >= size {
			return fmt.Errorf("%w: no entry %d in a tree of size %d", ErrNotFound, index, size)
		}
		if p.Hashes, err = tlog.ProveRecord(size, index, txHashes{tx}); err != nil {
			return fmt.Errorf("cosign: inclusion proof: %w", err)
		}
		p.Checkpoint = signed
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ProveConsistency returns the proof that the tree of size next extends
// the tree of size old (0 ≤ old ≤ next ≤ Size).
func (l *Log) ProveConsistency(ctx context.Context, old, next int64) (ConsistencyProof, error) {
	if err := ctx.Err(); err != nil {
		return ConsistencyProof{}, err
	}
	p := ConsistencyProof{Old: old, New: next}
	err := l.store.View(func(tx *custody.Tx) error {
		size, err := readSize(tx)
		if err != nil {
			return err
		}
		if old < 0 || old > next || next > size {
			return fmt.Errorf("%w: consistency from %d to %d in a tree of size %d", ErrNotFound, old, next, size)
		}
		if old == 0 || old == next {
			return nil
		}
		if p.Hashes, err = tlog.ProveTree(next, old, txHashes{tx}); err != nil {
			return fmt.Errorf("cosign: consistency proof: %w", err)
		}
		return nil
	})
	return p, err
}

// exportHeader is the first line of an export.
const exportHeader = "maskshare/cosign/export@v1"

// Export writes the whole log, as of one moment, in the export format
// that [VerifyExport] and `maskshare log verify` check offline:
//
//	maskshare/cosign/export@v1
//	<base64 of entry 0>
//	…
//	<base64 of entry n−1>
//	<empty line>
//	<signed checkpoint of size n, verbatim to the end>
func (l *Log) Export(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.store.View(func(tx *custody.Tx) error {
		size, err := readSize(tx)
		if err != nil {
			return err
		}
		signed, err := checkpointAt(tx, size)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		b.WriteString(exportHeader + "\n")
		for i := int64(0); i < size; i++ {
			rec, err := tx.Get(bucketEntries, u64(i))
			if err != nil {
				return err
			}
			b.WriteString(base64.StdEncoding.EncodeToString(rec))
			b.WriteByte('\n')
			if b.Len() > 1<<20 {
				if _, err := w.Write(b.Bytes()); err != nil {
					return err
				}
				b.Reset()
			}
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		b.WriteByte('\n')
		b.Write(signed)
		_, err = w.Write(b.Bytes())
		return err
	})
}
