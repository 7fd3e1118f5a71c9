package maskshare

// Checkpoints of bucketed sessions (docs/PROTOCOL.md, "Bucketed sessions",
// "Resume"): each participant appends a sealed record to its own log as it
// completes each step, so that a session suspended by a lost participant
// resumes from the last step every participant completed, with the same
// keys, and never derives a mask twice (a resumed step derives its keys
// with a fresh attempt number, logged before it is used).

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/internal/durable"
	"github.com/maskshare/maskshare/internal/spool"
	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/psi"
)

// Record kinds of a checkpoint log.
const (
	recSession = 1 // the session: its id and keys (a party's) or hellos (the coordinator's)
	recAttempt = 2 // an attempt number about to be used
	recStep    = 3 // a step done
)

const checkpointFile = "checkpoint.log"

// maxCheckpointRecords bounds what a log may hold: the records of every
// step of the largest session, twice over.
const maxCheckpointRecords = 8 * wire.MaxBuckets

// errCheckpoint is wrapped by errors of unreadable checkpoints.
var errCheckpoint = errors.New("maskshare: unreadable checkpoint")

// stepRecord is what a participant logs when it completes a step.
type stepRecord struct {
	step, attempt uint32
	// A party's: the mark of its output, its totals carried so far, the
	// hash of the bucket transcripts so far, the revealed totals once the
	// last bucket is done.
	mark   int64
	carry  []uint64
	chain  []byte
	totals []uint64
	// Both: the result sizes of the buckets (the party's from the Sizes
	// step, the coordinator's one bucket per intersection step) and, the
	// coordinator's, every party's list size in the bucket.
	sizes []uint32
	lists []uint32
}

func (r *stepRecord) encode() []byte {
	b := []byte{recStep}
	b = binary.BigEndian.AppendUint32(b, r.step)
	b = binary.BigEndian.AppendUint32(b, r.attempt)
	b = binary.BigEndian.AppendUint64(b, uint64(r.mark))
	for _, v := range [][]uint64{r.carry, r.totals} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		for _, x := range v {
			b = binary.BigEndian.AppendUint64(b, x)
		}
	}
	b = binfmt.AppendBytes16(b, r.chain)
	for _, v := range [][]uint32{r.sizes, r.lists} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		for _, x := range v {
			b = binary.BigEndian.AppendUint32(b, x)
		}
	}
	return b
}

func decodeStep(b []byte) (*stepRecord, error) {
	r := binfmt.NewReader(b)
	if r.U8() != recStep {
		return nil, errCheckpoint
	}
	s := &stepRecord{step: r.U32(), attempt: r.U32(), mark: int64(r.U64())}
	words := func() []uint64 {
		n := int(r.U32())
		if n > MaxColumns || r.Failed() {
			r.Fail(errCheckpoint)
			return nil
		}
		if n == 0 {
			return nil
		}
		v := make([]uint64, n)
		for i := range v {
			v[i] = r.U64()
		}
		return v
	}
	s.carry, s.totals = words(), words()
	s.chain = nilIfEmpty(r.Bytes16(sha256.Size))
	counts := func() []uint32 {
		n := int(r.U32())
		if n > r.Len()/4 || r.Failed() {
			r.Fail(errCheckpoint)
			return nil
		}
		if n == 0 {
			return nil
		}
		v := make([]uint32, n)
		for i := range v {
			v[i] = r.U32()
		}
		return v
	}
	s.sizes, s.lists = counts(), counts()
	if !r.Done() {
		return nil, errCheckpoint
	}
	return s, nil
}

func attemptRecord(a uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{recAttempt}, a)
}

// checkpoint is a participant's log and what it holds.
type checkpoint struct {
	dir     string
	log     *spool.Log
	session []byte // the session record, nil if none yet
	attempt uint32
	steps   []*stepRecord // in order, the last one the latest
}

// openCheckpoint opens or creates the log in dir under key.
func openCheckpoint(dir string, key [32]byte) (*checkpoint, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l, recs, err := spool.OpenLog(filepath.Join(dir, checkpointFile), key)
	if err != nil {
		return nil, err
	}
	cp := &checkpoint{dir: dir, log: l}
	if len(recs) > maxCheckpointRecords {
		l.Close()
		return nil, fmt.Errorf("%w: %d records", errCheckpoint, len(recs))
	}
	for i, rec := range recs {
		if len(rec) == 0 {
			l.Close()
			return nil, errCheckpoint
		}
		switch rec[0] {
		case recSession:
			if i != 0 {
				l.Close()
				return nil, fmt.Errorf("%w: a second session record", errCheckpoint)
			}
			cp.session = rec[1:]
		case recAttempt:
			if len(rec) != 5 {
				l.Close()
				return nil, errCheckpoint
			}
			cp.attempt = max(cp.attempt, binary.BigEndian.Uint32(rec[1:]))
		case recStep:
			s, err := decodeStep(rec)
			if err != nil {
				l.Close()
				return nil, err
			}
			cp.steps = append(cp.steps, s)
		default:
			l.Close()
			return nil, fmt.Errorf("%w: record kind %d", errCheckpoint, rec[0])
		}
	}
	return cp, nil
}

func (cp *checkpoint) appendSession(b []byte) error {
	cp.session = b
	return cp.log.Append(append([]byte{recSession}, b...))
}

func (cp *checkpoint) appendAttempt(a uint32) error {
	cp.attempt = a
	return cp.log.Append(attemptRecord(a))
}

func (cp *checkpoint) appendStep(s *stepRecord) error {
	cp.steps = append(cp.steps, s)
	return cp.log.Append(s.encode())
}

// done is the last step completed: 0 with none.
func (cp *checkpoint) done() uint32 {
	if len(cp.steps) == 0 {
		return 0
	}
	return cp.steps[len(cp.steps)-1].step
}

// at returns the latest record of step, or nil.
func (cp *checkpoint) at(step uint32) *stepRecord {
	for i := len(cp.steps) - 1; i >= 0; i-- {
		if cp.steps[i].step == step {
			return cp.steps[i]
		}
	}
	return nil
}

// rollBack forgets the steps from step on: a resumed session runs them
// again.
func (cp *checkpoint) rollBack(step uint32) {
	for len(cp.steps) > 0 && cp.steps[len(cp.steps)-1].step >= step {
		cp.steps = cp.steps[:len(cp.steps)-1]
	}
}

func (cp *checkpoint) close() error { return cp.log.Close() }

// discard removes the checkpoint's directory: the session is over.
func (cp *checkpoint) discard() error {
	cp.log.Close()
	return os.RemoveAll(cp.dir)
}

// identityCheckpointKey is the key a party seals its checkpoints with:
// derived from its identity key, which never leaves its machine, so that
// the log is worth nothing without it.
func identityCheckpointKey(id ed25519.PrivateKey) ([32]byte, error) {
	var key [32]byte
	k, err := hkdf.Key(sha256.New, id.Seed(), nil, "maskshare checkpoint key v1", 32)
	if err != nil {
		return key, err
	}
	copy(key[:], k)
	return key, nil
}

// workDirKey returns the checkpoint key of a coordinator without an
// identity key: a random key kept in dir (mode 0600), made on first use.
// The coordinator's checkpoints hold nothing secret (the session id, the
// hellos and the sizes); the key keeps them from being altered unnoticed.
func workDirKey(dir string) ([32]byte, error) {
	var key [32]byte
	path := filepath.Join(dir, "checkpoint.key")
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		copy(key[:], b)
		return key, nil
	}
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, fmt.Errorf("%w: %s", errCheckpoint, path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return key, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return key, err
	}
	return key, durable.WriteFile(path, key[:], 0o600)
}

// partyKeys is what a party's session record holds: everything the key
// exchange gave it.
type partyKeys struct {
	sid       [32]byte
	bound     uint32
	mark      int64
	hellos    []wire.Hello
	group     [32]byte
	maskSeeds mask.MaskSeeds
	partsOut  []mask.Seed
	partsIn   []mask.Seed
	listTo    [][]byte
	listFrom  [][]byte
	oprfTo    [][]byte // the oprf mode's pair keys (oprfState.toKey, fromKey)
	oprfFrom  [][]byte
	blindKey  []byte
}

func (k *partyKeys) encode() []byte {
	b := append([]byte{}, k.sid[:]...)
	b = binary.BigEndian.AppendUint32(b, k.bound)
	b = binary.BigEndian.AppendUint64(b, uint64(k.mark))
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.hellos)))
	for i := range k.hellos {
		b = binfmt.AppendBytes32(b, k.hellos[i].Encode())
	}
	b = append(b, k.group[:]...)
	b = append(b, k.maskSeeds.Plus[:]...)
	b = append(b, k.maskSeeds.Minus[:]...)
	for i := range k.hellos {
		b = append(b, k.partsOut[i][:]...)
		b = append(b, k.partsIn[i][:]...)
		b = binfmt.AppendBytes16(b, k.listTo[i])
		b = binfmt.AppendBytes16(b, k.listFrom[i])
		b = binfmt.AppendBytes16(b, k.oprfTo[i])
		b = binfmt.AppendBytes16(b, k.oprfFrom[i])
	}
	return binfmt.AppendBytes16(b, k.blindKey)
}

func decodePartyKeys(b []byte, n int) (*partyKeys, error) {
	r := binfmt.NewReader(b)
	k := &partyKeys{}
	r.Fill(k.sid[:])
	k.bound = r.U32()
	k.mark = int64(r.U64())
	if int(r.U16()) != n || r.Failed() {
		return nil, errCheckpoint
	}
	for range n {
		h, err := wire.DecodeHello(r.Bytes32(1 << 12))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errCheckpoint, err)
		}
		k.hellos = append(k.hellos, *h)
	}
	r.Fill(k.group[:])
	r.Fill(k.maskSeeds.Plus[:])
	r.Fill(k.maskSeeds.Minus[:])
	k.partsOut, k.partsIn = make([]mask.Seed, n), make([]mask.Seed, n)
	k.listTo, k.listFrom = make([][]byte, n), make([][]byte, n)
	k.oprfTo, k.oprfFrom = make([][]byte, n), make([][]byte, n)
	for i := range n {
		r.Fill(k.partsOut[i][:])
		r.Fill(k.partsIn[i][:])
		k.listTo[i] = nilIfEmpty(r.Bytes16(64))
		k.listFrom[i] = nilIfEmpty(r.Bytes16(64))
		k.oprfTo[i] = nilIfEmpty(r.Bytes16(64))
		k.oprfFrom[i] = nilIfEmpty(r.Bytes16(64))
	}
	k.blindKey = nilIfEmpty(r.Bytes16(64))
	if !r.Done() {
		return nil, errCheckpoint
	}
	return k, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// keys returns what the party's key exchange gave it, for its checkpoint.
func (s *partySession) keys(mark int64) *partyKeys {
	k := &partyKeys{sid: s.session, bound: s.bound, mark: mark, hellos: s.hellos, group: s.group, maskSeeds: s.maskSeeds,
		partsOut: s.partsOut, partsIn: s.partsIn, listTo: s.listTo, listFrom: s.listFrom}
	if k.partsIn == nil {
		k.partsIn = make([]mask.Seed, s.n)
	}
	if k.listTo == nil {
		k.listTo, k.listFrom = make([][]byte, s.n), make([][]byte, s.n)
	}
	k.oprfTo, k.oprfFrom = make([][]byte, s.n), make([][]byte, s.n)
	if s.oprf != nil {
		k.oprfTo, k.oprfFrom = s.oprf.toKey, s.oprf.fromKey
	}
	if s.blindKey != nil {
		k.blindKey = s.blindKey.Bytes()
	}
	return k
}

// restore takes back the state of the party's key exchange.
func (s *partySession) restore(k *partyKeys) error {
	if k.sid != s.session || k.bound != s.bound {
		return fmt.Errorf("%w: it is of another session, or of another table", errCheckpoint)
	}
	s.hellos, s.group, s.maskSeeds = k.hellos, k.group, k.maskSeeds
	s.partsOut, s.partsIn, s.listTo, s.listFrom = k.partsOut, k.partsIn, k.listTo, k.listFrom
	if s.params.Mode == OPRF {
		for j := range s.n {
			if j != s.index && (len(k.oprfTo[j]) != 32 || len(k.oprfFrom[j]) != 32) {
				return fmt.Errorf("%w: no oprf pair keys", errCheckpoint)
			}
		}
		s.oprf = newOPRFState(k.oprfTo, k.oprfFrom)
	}
	if k.blindKey != nil {
		key, err := psi.KeyFromBytes(k.blindKey)
		if err != nil {
			return fmt.Errorf("%w: %v", errCheckpoint, err)
		}
		s.blindKey = key
	}
	return nil
}

// coordSessionRecord is the coordinator's session record: the session id
// and the hellos.
func coordSessionRecord(sid [32]byte, hellos []wire.Hello) []byte {
	b := append([]byte{}, sid[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(hellos)))
	for i := range hellos {
		b = binfmt.AppendBytes32(b, hellos[i].Encode())
	}
	return b
}

func decodeCoordSession(b []byte, n int) (sid [32]byte, hellos []wire.Hello, err error) {
	r := binfmt.NewReader(b)
	r.Fill(sid[:])
	if int(r.U16()) != n || r.Failed() {
		return sid, nil, errCheckpoint
	}
	for range n {
		h, err := wire.DecodeHello(r.Bytes32(1 << 12))
		if err != nil {
			return sid, nil, fmt.Errorf("%w: %v", errCheckpoint, err)
		}
		hellos = append(hellos, *h)
	}
	if !r.Done() {
		return sid, nil, errCheckpoint
	}
	return sid, hellos, nil
}

// coordCheckpointDir is where a coordinator keeps the checkpoint of its
// bucketed session with params: one unfinished session per parameters.
func coordCheckpointDir(workDir string, wp *wire.Params) string {
	d := paramsDigest(wp)
	return filepath.Join(workDir, "resume", hex.EncodeToString(d[:16]))
}
