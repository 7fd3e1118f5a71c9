package maskshare

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/maskshare/maskshare/internal/durable"
	"github.com/maskshare/maskshare/internal/spool"
	"github.com/maskshare/maskshare/psi"
)

// A Spool is a party's table kept on disk, in the party's working
// directory, for bucketed sessions (Params.BucketRows): SpoolTable reads
// the source once, and every session partitions and reads the copy, so
// that memory does not grow with the table. The directory holds the
// party's data and the sessions' intermediate state: protect it as the
// source itself.
type Spool struct {
	dir  string
	meta spoolMeta
}

// spoolMeta describes the table file; it is written after the file is
// complete, so a Spool exists whole or not at all.
type spoolMeta struct {
	Version int      `json:"version"`
	Columns int      `json:"columns"`
	Rows    int64    `json:"rows"`
	Abs     []uint64 `json:"abs"` // per column, Σ|v| (saturating): the overflow check of §8
}

const (
	spoolTable    = "table.rows"
	spoolMetaFile = "table.json"
	spoolSessions = "sessions"
)

// ErrSpool is wrapped by the errors of a working directory that holds no
// table, or one that does not fit the session.
var ErrSpool = errors.New("maskshare: spooled table")

// SpoolTable reads every row of src, a table of cols value columns, into
// dir (created with mode 0700 if needed), checking each identifier as a
// session would (not yet for duplicates: a session finds those bucket by
// bucket). dir must not hold a table already: OpenSpool opens one.
func SpoolTable(ctx context.Context, dir string, src Source, cols int) (*Spool, error) {
	if cols < 1 || cols > MaxColumns {
		return nil, fmt.Errorf("%w: %d columns, need 1 to %d", ErrSpool, cols, MaxColumns)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, spoolMetaFile)); err == nil {
		return nil, fmt.Errorf("%w: %s already holds a table (open it, or remove it to read the source again)", ErrSpool, dir)
	}
	path := filepath.Join(dir, spoolTable)
	os.Remove(path) // an earlier SpoolTable that did not finish
	w, err := spool.Create(path, cols)
	if err != nil {
		return nil, err
	}
	meta := spoolMeta{Version: 1, Columns: cols, Abs: make([]uint64, cols)}
	fail := func(err error) (*Spool, error) {
		w.Close()
		os.Remove(path)
		return nil, err
	}
	for row := int64(0); ; row++ {
		if row%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
		}
		id, vals, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if len(vals) != cols {
			return fail(&InputError{Row: int(row), Other: -1, Err: ErrSchema, Detail: fmt.Sprintf("%d values for %d columns", len(vals), cols)})
		}
		if _, err := psi.Normalize(id, false); err != nil {
			return fail(&InputError{Row: int(row), Other: -1, Err: ErrInvalidID, Detail: err.Error()})
		}
		if len(id) > spool.MaxIDLen {
			return fail(&InputError{Row: int(row), Other: -1, Err: ErrInvalidID, Detail: fmt.Sprintf("%d bytes, more than %d", len(id), spool.MaxIDLen)})
		}
		for c, v := range vals {
			a := uint64(v)
			if v < 0 {
				a = -a
			}
			s, carry := bits.Add64(meta.Abs[c], a, 0)
			if carry != 0 {
				s = ^uint64(0)
			}
			meta.Abs[c] = s
		}
		if err := w.Append(row, id, vals); err != nil {
			return fail(err)
		}
	}
	meta.Rows = w.Rows()
	if err := w.Close(); err != nil {
		os.Remove(path)
		return nil, err
	}
	b, err := json.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(filepath.Join(dir, spoolMetaFile), b, 0o600); err != nil {
		return nil, err
	}
	return &Spool{dir: dir, meta: meta}, nil
}

// OpenSpool opens the table SpoolTable wrote to dir.
func OpenSpool(dir string) (*Spool, error) {
	b, err := os.ReadFile(filepath.Join(dir, spoolMetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s holds no table", ErrSpool, dir)
	}
	if err != nil {
		return nil, err
	}
	var meta spoolMeta
	if err := json.Unmarshal(b, &meta); err != nil || meta.Version != 1 || meta.Columns < 1 || meta.Columns > MaxColumns || len(meta.Abs) != meta.Columns || meta.Rows < 0 {
		return nil, fmt.Errorf("%w: %s: unreadable description", ErrSpool, dir)
	}
	r, err := spool.Open(filepath.Join(dir, spoolTable), meta.Columns)
	if err != nil {
		return nil, err
	}
	n := r.Rows()
	r.Close()
	if n != meta.Rows {
		return nil, fmt.Errorf("%w: %s: the table has %d rows, its description %d", ErrSpool, dir, n, meta.Rows)
	}
	return &Spool{dir: dir, meta: meta}, nil
}

// Rows is the number of rows of the table.
func (sp *Spool) Rows() int64 { return sp.meta.Rows }

// Dir is the working directory the table is in.
func (sp *Spool) Dir() string { return sp.dir }

// NewSpooledParty returns the party called name for bucketed sessions
// (params.BucketRows > 0) whose table is sp. Its records go to out as each
// bucket is done, or into the Result if out is nil.
func NewSpooledParty(name string, params Params, sp *Spool, out RecordWriter, cfg *Config) (*Party, error) {
	if params.BucketRows == 0 {
		return nil, fmt.Errorf("%w: a spooled table is for bucketed sessions (set BucketRows)", ErrParams)
	}
	if sp == nil {
		return nil, fmt.Errorf("%w: no table", ErrSpool)
	}
	p, err := NewParty(name, params, nil, cfg)
	if err != nil {
		return nil, err
	}
	p.spooled, p.out = spoolInput{sp}, out
	return p, nil
}

// spoolInput is a Spool as a bucketed session reads it.
type spoolInput struct{ sp *Spool }

func (in spoolInput) rows() int64 { return in.sp.meta.Rows }

func (in spoolInput) check(p *Params) error {
	m := &in.sp.meta
	if m.Columns != len(p.Columns) {
		return &InputError{Row: -1, Other: -1, Err: ErrSchema, Detail: fmt.Sprintf("the table has %d value columns, the session has %d", m.Columns, len(p.Columns))}
	}
	if m.Rows == 0 {
		return &InputError{Row: -1, Other: -1, Err: ErrEmptyInput, Detail: "the table has no rows"}
	}
	limit := uint64(aggregateLimit) / uint64(len(p.Parties))
	for c, a := range m.Abs {
		if a > limit {
			return &InputError{Row: -1, Other: -1, Column: p.Columns[c].Name, Err: ErrOverflow,
				Detail: fmt.Sprintf("the absolute values of a column may add up to at most %d with %d parties", limit, len(p.Parties))}
		}
	}
	return nil
}

func (in spoolInput) partition(ctx context.Context, b *bucketer, p *Params, group, sid [32]byte) (bucketTables, error) {
	dir := filepath.Join(in.sp.dir, spoolSessions, hex.EncodeToString(sid[:16]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	parts := filepath.Join(dir, "buckets")
	bs, err := spool.OpenBuckets(parts)
	if errors.Is(err, os.ErrNotExist) {
		fold := p.FoldCase
		bs, err = spool.Partition(ctx, []string{filepath.Join(in.sp.dir, spoolTable)}, in.sp.meta.Columns, int(b.mask)+1, func(id string) int {
			norm, err := psi.Normalize(id, fold)
			if err != nil {
				return 0 // the bucket's check reports it
			}
			return b.of(norm)
		}, parts)
	}
	if err != nil {
		return nil, err
	}
	if bs.Count() != int(b.mask)+1 || bs.Columns() != in.sp.meta.Columns || bs.TotalRows() != in.sp.meta.Rows {
		return nil, fmt.Errorf("%w: %s: the partition does not fit the session", ErrSpool, parts)
	}
	st := &spoolBuckets{dir: dir, bs: bs}
	key := deriveKey(group, sid, labelStash)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	if st.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return st, nil
}

// labelStash derives the key that seals a party's stashed bucket state.
const labelStash = "maskshare bucket stash v1"

type spoolBuckets struct {
	dir  string
	bs   *spool.Buckets
	aead cipher.AEAD
}

func (sb *spoolBuckets) load(b int) (*Table, []int64, error) {
	rows, ids, values, err := sb.bs.Load(b)
	if err != nil {
		return nil, nil, err
	}
	return &Table{IDs: ids, Values: values}, rows, nil
}

func (sb *spoolBuckets) stashPath(b int) string {
	return filepath.Join(sb.dir, fmt.Sprintf("stash-%05d", b))
}

// stash writes a bucket's state sealed with AES-GCM: the record secrets
// must not lie on disk in the clear.
func (sb *spoolBuckets) stash(b int, st *bucketState) error {
	n := len(st.order)
	pt := make([]byte, 0, 4+n*(psi.TagSize+4+psi.SecretSize))
	pt = binary.BigEndian.AppendUint32(pt, uint32(n))
	for _, t := range st.tags {
		pt = append(pt, t[:]...)
	}
	for _, r := range st.order {
		pt = binary.BigEndian.AppendUint32(pt, uint32(r))
	}
	for _, s := range st.secrets {
		pt = append(pt, s[:]...)
	}
	nonce := make([]byte, sb.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	out := sb.aead.Seal(nonce, nonce, pt, stashAD(b))
	return durable.WriteFile(sb.stashPath(b), out, 0o600)
}

func stashAD(b int) []byte {
	return binary.BigEndian.AppendUint32([]byte("maskshare bucket stash v1"), uint32(b))
}

func (sb *spoolBuckets) unstash(b int) (*bucketState, error) {
	ct, err := os.ReadFile(sb.stashPath(b))
	if err != nil {
		return nil, err
	}
	ns := sb.aead.NonceSize()
	if len(ct) < ns {
		return nil, fmt.Errorf("%w: bucket %d's state is cut short", ErrSpool, b)
	}
	pt, err := sb.aead.Open(nil, ct[:ns], ct[ns:], stashAD(b))
	if err != nil {
		return nil, fmt.Errorf("%w: bucket %d's state does not open: %v", ErrSpool, b, err)
	}
	if len(pt) < 4 {
		return nil, fmt.Errorf("%w: bucket %d's state is cut short", ErrSpool, b)
	}
	n := int(binary.BigEndian.Uint32(pt))
	if rows := sb.bs.Rows(b); int64(n) != rows || len(pt) != 4+n*(psi.TagSize+4+psi.SecretSize) {
		return nil, fmt.Errorf("%w: bucket %d's state has %d entries for %d rows", ErrSpool, b, n, rows)
	}
	st := &bucketState{tags: make([]psi.Tag, n), order: make([]int32, n), secrets: make([]psi.Secret, n)}
	p := pt[4:]
	for i := range st.tags {
		st.tags[i] = psi.Tag(p[:psi.TagSize])
		p = p[psi.TagSize:]
	}
	for i := range st.order {
		r := binary.BigEndian.Uint32(p)
		if int(r) >= n {
			return nil, fmt.Errorf("%w: bucket %d's state names row %d of %d", ErrSpool, b, r, n)
		}
		st.order[i] = int32(r)
		p = p[4:]
	}
	for i := range st.secrets {
		st.secrets[i] = psi.Secret(p[:psi.SecretSize])
		p = p[psi.SecretSize:]
	}
	return st, nil
}

// close removes the session's partition and states.
func (sb *spoolBuckets) close() error { return os.RemoveAll(sb.dir) }

// ResumableWriter is a RecordWriter that a resumed bucketed session can
// roll back to the last bucket every participant completed.
type ResumableWriter interface {
	RecordWriter
	// Sync makes the records written so far durable and returns a mark
	// for them.
	Sync() (mark int64, err error)
	// Rewind discards every record written after mark.
	Rewind(mark int64) error
}
