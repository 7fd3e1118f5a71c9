package custody

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/maskshare/maskshare/internal/durable"
)

// DefaultLockTimeout is the default [StoreConfig.LockTimeout]: how long
// [OpenStore] waits for another process to release the database file.
const DefaultLockTimeout = 5 * time.Second

// StoreConfig configures [OpenStore]; nil means the defaults.
type StoreConfig struct {
	// LockTimeout bounds the wait for the file lock (another process, or
	// the previous run of this one, holding the database); zero means
	// [DefaultLockTimeout].
	LockTimeout time.Duration
	// Buckets are created if missing when the store opens.
	Buckets []string
}

// Store is an embedded key-value database (bbolt) in one file, for the
// custody nodes' durable state.
//
// Durability: every write runs in a transaction that commits with fsync
// (bbolt's NoSync is never set): the data pages are written and synced,
// then the meta page that makes them current is written and synced. When
// [Store.Update] (or Put, Delete) returns nil, the write is on disk and
// survives a crash of the process or of the machine (as far as the disk
// honours fsync); when the process dies before that, the database holds the
// state before the transaction, never a part of it. A caller may therefore
// acknowledge a write to its peer as soon as Update returns, and only then.
type Store struct {
	db *bolt.DB
}

// OpenStore opens (or creates, mode 0600) the database at path.
func OpenStore(path string, cfg *StoreConfig) (*Store, error) {
	var c StoreConfig
	if cfg != nil {
		c = *cfg
	}
	if c.LockTimeout <= 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	_, statErr := os.Stat(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: c.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("custody: opening store %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The new file's directory entry must survive a crash too.
		if err := durable.SyncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, err
		}
	}
	s := &Store{db: db}
	if len(c.Buckets) > 0 {
		err := s.Update(func(tx *Tx) error {
			for _, b := range c.Buckets {
				if _, err := tx.tx.CreateBucketIfNotExists([]byte(b)); err != nil {
					return fmt.Errorf("custody: bucket %q: %w", b, err)
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the database, waiting for running transactions.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// Tx is a transaction. Byte slices it returns are copies, valid after it
// ends.
type Tx struct {
	tx *bolt.Tx
}

// Update runs fn in a read-write transaction, committed (and synced) if fn
// returns nil, rolled back otherwise. Only one Update runs at a time.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.wrap(s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx}) }))
}

// View runs fn in a read-only transaction, which sees a consistent
// snapshot.
func (s *Store) View(fn func(*Tx) error) error {
	return s.wrap(s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx}) }))
}

func (s *Store) wrap(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrStoreClosed
	}
	return err
}

// Put stores value under key in bucket, in its own transaction.
func (s *Store) Put(bucket string, key, value []byte) error {
	return s.Update(func(tx *Tx) error { return tx.Put(bucket, key, value) })
}

// Get returns a copy of the value under key in bucket, or [ErrNotFound].
func (s *Store) Get(bucket string, key []byte) (v []byte, err error) {
	err = s.View(func(tx *Tx) error {
		v, err = tx.Get(bucket, key)
		return err
	})
	return v, err
}

// Delete removes key from bucket, in its own transaction; deleting a
// missing key is not an error.
func (s *Store) Delete(bucket string, key []byte) error {
	return s.Update(func(tx *Tx) error { return tx.Delete(bucket, key) })
}

func (t *Tx) bucket(name string) (*bolt.Bucket, error) {
	b := t.tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("custody: no bucket %q (list it in StoreConfig.Buckets)", name)
	}
	return b, nil
}

// Put stores value under key in bucket.
func (t *Tx) Put(bucket string, key, value []byte) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	// bbolt keeps the slices until commit: give it copies.
	return b.Put(bytes.Clone(key), bytes.Clone(value))
}

// Get returns a copy of the value under key in bucket, or [ErrNotFound].
func (t *Tx) Get(bucket string, key []byte) ([]byte, error) {
	b, err := t.bucket(bucket)
	if err != nil {
		return nil, err
	}
	v := b.Get(key)
	if v == nil {
		return nil, fmt.Errorf("%w: %s/%x", ErrNotFound, bucket, key)
	}
	return bytes.Clone(v), nil
}

// Delete removes key from bucket.
func (t *Tx) Delete(bucket string, key []byte) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Delete(key)
}

// ForEachPrefix calls fn for every key in bucket that starts with prefix,
// in key order, with copies of the key and value; fn returning an error
// stops the walk with it. fn must not modify the bucket; collect the keys
// and delete them afterwards.
func (t *Tx) ForEachPrefix(bucket string, prefix []byte, fn func(k, v []byte) error) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(bytes.Clone(k), bytes.Clone(v)); err != nil {
			return err
		}
	}
	return nil
}
