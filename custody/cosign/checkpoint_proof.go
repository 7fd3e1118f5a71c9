package cosign

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxProofHashes bounds the hashes of a proof: a tree of 2^63 entries
// needs at most 63 for inclusion and 126 for consistency.
const MaxProofHashes = 128

const (
	inclusionHeader   = "c2sp.org/tlog-proof@v1"
	consistencyHeader = "maskshare/cosign/consistency-proof@v1"
)

// InclusionProof proves that the entry at Index is in the tree of a
// signed checkpoint, in the c2sp.org/tlog-proof format:
//
//	c2sp.org/tlog-proof@v1
//	[extra <base64>]
//	index <decimal>
//	<base64 hash>          (zero or more, from the leaf's sibling up)
//	<empty line>
//	<signed checkpoint note, verbatim>
//
// Like a detached signature, it is verifiable offline with the entry and
// the log's verifier key.
type InclusionProof struct {
	Extra      []byte // opaque, unauthenticated; nil when absent
	Index      int64
	Hashes     tlog.RecordProof
	Checkpoint []byte // the signed checkpoint note
}

// Marshal returns the proof's text.
func (p *InclusionProof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(inclusionHeader + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseInclusionProof parses a tlog-proof. It checks the framing, not the
// signature or the proof (see [InclusionProof.Verify]).
func ParseInclusionProof(b []byte) (*InclusionProof, error) {
	bad := func(what string) (*InclusionProof, error) {
		return nil, fmt.Errorf("%w: tlog-proof: %s", ErrMalformed, what)
	}
	if len(b) > MaxNoteSize+MaxPayload {
		return bad("too long")
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return bad("no checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != inclusionHeader {
		return bad("header")
	}
	lines = lines[1:]
	p := &InclusionProof{Checkpoint: append([]byte{}, cp...)}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		x, err := decodeBase64(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return bad("extra")
		}
		p.Extra = x
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return bad("index line")
	}
	idx, ok := parseDecimal(strings.TrimPrefix(lines[0], "index "))
	if !ok {
		return bad("index")
	}
	p.Index = idx
	hashes, err := parseHashLines(lines[1:])
	if err != nil {
		return nil, err
	}
	p.Hashes = hashes
	return p, nil
}

func parseHashLines(lines []string) ([]tlog.Hash, error) {
	if len(lines) > MaxProofHashes {
		return nil, fmt.Errorf("%w: %d proof hashes (limit %d)", ErrMalformed, len(lines), MaxProofHashes)
	}
	hashes := make([]tlog.Hash, 0, len(lines))
	for _, l := range lines {
		h, ok := parseHash(l)
		if !ok {
			return nil, fmt.Errorf("%w: proof hash %q", ErrMalformed, l)
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}

// Verify checks that entry (an entry's encoding) is at p.Index in the tree
// of p's checkpoint and that v signed the checkpoint; it returns the
// checkpoint. It does not check the entry's own signature.
func (p *InclusionProof) Verify(entry []byte, v note.Verifier) (Checkpoint, error) {
	c, err := OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := checkInclusion(c, p.Index, p.Hashes, entry); err != nil {
		return Checkpoint{}, err
	}
	return c, nil
}

func checkInclusion(c Checkpoint, index int64, proof tlog.RecordProof, entry []byte) error {
	if index < 0 || index >= c.Size {
		return fmt.Errorf("%w: index %d in a tree of size %d", ErrInclusion, index, c.Size)
	}
	if err := tlog.CheckRecord(proof, c.Size, c.Hash, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("%w: entry %d, size %d: %v", ErrInclusion, index, c.Size, err)
	}
	return nil
}

// ConsistencyProof proves that the tree of size New extends the tree of
// size Old (RFC 6962 §2.1.2). c2sp.org has no text format for it; this
// one follows tlog-proof's:
//
//	maskshare/cosign/consistency-proof@v1
//	old <decimal>
//	new <decimal>
//	<base64 hash>          (zero or more)
type ConsistencyProof struct {
	Old, New int64
	Hashes   tlog.TreeProof
}

// Marshal returns the proof's text.
func (p ConsistencyProof) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nold %d\nnew %d\n", consistencyHeader, p.Old, p.New)
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	return b.Bytes()
}

// ParseConsistencyProof parses a consistency proof's text.
func ParseConsistencyProof(b []byte) (ConsistencyProof, error) {
	bad := func(what string) (ConsistencyProof, error) {
		return ConsistencyProof{}, fmt.Errorf("%w: consistency proof: %s", ErrMalformed, what)
	}
	if len(b) > 64<<10 || !bytes.HasSuffix(b, []byte("\n")) {
		return bad("size or final newline")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) < 3 || lines[0] != consistencyHeader {
		return bad("header")
	}
	num := func(line, key string) (int64, bool) {
		v, ok := strings.CutPrefix(line, key+" ")
		if !ok {
			return 0, false
		}
		return parseDecimal(v)
	}
	var p ConsistencyProof
	var ok bool
	if p.Old, ok = num(lines[1], "old"); !ok {
		return bad("old size")
	}
	if p.New, ok = num(lines[2], "new"); !ok || p.New < p.Old {
		return bad("new size")
	}
	hashes, err := parseHashLines(lines[3:])
	if err != nil {
		return ConsistencyProof{}, err
	}
	p.Hashes = hashes
	return p, nil
}

// CheckConsistency checks that checkpoint next extends old, the last one
// a client saw, with proof p between their sizes. A smaller next is
// [ErrTruncated], the same size with another root [ErrForked], a proof
// that fails [ErrInconsistent] (history rewritten), each in a
// *[ConsistencyError]. Both checkpoints' signatures must have been
// verified by the caller.
func CheckConsistency(old, next Checkpoint, p ConsistencyProof) error {
	fail := func(err error, detail string) error {
		return &ConsistencyError{Err: err, Old: old, New: next, Detail: detail}
	}
	if old.Origin != next.Origin {
		return fmt.Errorf("%w: checkpoints of %q and %q", ErrMalformed, old.Origin, next.Origin)
	}
	switch {
	case next.Size < old.Size:
		return fail(ErrTruncated, "")
	case next.Size == old.Size:
		if next.Hash != old.Hash {
			return fail(ErrForked, "same size, different roots")
		}
		return nil
	case old.Size == 0:
		// Every tree extends the empty tree, whose root is fixed.
		if old.Hash != emptyRoot {
			return fail(ErrInconsistent, "wrong root for the empty tree")
		}
		return nil
	}
	if p.Old != old.Size || p.New != next.Size {
		return fail(ErrInconsistent, fmt.Sprintf("proof is from size %d to %d", p.Old, p.New))
	}
	if err := tlog.CheckTree(p.Hashes, next.Size, next.Hash, old.Size, old.Hash); err != nil {
		return fail(ErrInconsistent, err.Error())
	}
	return nil
}

// CompareCheckpoints is how two clients detect a split view: each shows
// the other its last signed checkpoint (verified), and they ask the log
// for a consistency proof between the two sizes. If the log showed them
// different histories, no proof exists and the error is [ErrForked]; the
// two signed checkpoints are then evidence of the fork.
func CompareCheckpoints(a, b Checkpoint, p ConsistencyProof) error {
	if a.Size > b.Size {
		a, b = b, a
	}
	err := CheckConsistency(a, b, p)
	if ce, ok := err.(*ConsistencyError); ok {
		ce.Err = ErrForked
	}
	return err
}
