package cosign

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/maskshare/maskshare/transport"
)

// MaxExportEntries bounds the entries of an export that [VerifyExport]
// reads: it keeps two tree hashes (64 bytes) per entry in memory.
const MaxExportEntries = 1 << 24

// VerifyConfig configures [VerifyExport]; nil means the defaults.
type VerifyConfig struct {
	// Users gives the users' keys; nil leaves users' signatures unchecked
	// (counted in ExportReport.Unchecked).
	Users UserKeys
	// Old are signed checkpoints of this log seen earlier (by clients,
	// auditors): the export must extend each of them.
	Old [][]byte
}

// ExportReport is what [VerifyExport] checked.
type ExportReport struct {
	Checkpoint Checkpoint // the export's, signature verified
	Entries    int64
	ByKind     map[Kind]int64
	// UserSigned and ServiceSigned count the entries whose signatures
	// verified; Unchecked the users' entries not checked (no Users).
	UserSigned, ServiceSigned, Unchecked int64
	Old                                  []Checkpoint // the older checkpoints it extends
}

// VerifyExport checks an export (see [Log.Export]) offline against the
// log's verifier key vkey: the checkpoint's signature; every entry's
// encoding and signature (the service's with the log key, a user's with
// cfg.Users at the entry's time); that the entries are exactly the tree of
// the checkpoint (every entry included, in order, none missing or added:
// the root is recomputed from them); and that it extends each older
// checkpoint in cfg.Old (the roots at their sizes are recomputed too).
//
// An edited, deleted, reordered or appended entry fails the root (or its
// own signature); a log re-signed after such a change by the holder of the
// log key fails against any older checkpoint that a client kept.
func VerifyExport(r io.Reader, vkey string, cfg *VerifyConfig) (*ExportReport, error) {
	if cfg == nil {
		cfg = &VerifyConfig{}
	}
	v, pub, err := ParseVerifierKey(vkey)
	if err != nil {
		return nil, err
	}
	origin := v.Name()
	var old []Checkpoint
	for i, o := range cfg.Old {
		c, err := OpenCheckpoint(o, v)
		if err != nil {
			return nil, fmt.Errorf("older checkpoint %d: %w", i+1, err)
		}
		old = append(old, c)
	}

	br := bufio.NewReaderSize(r, 64<<10)
	maxLine := base64.StdEncoding.EncodedLen(MaxEntrySize) + 1
	readLine := func() (string, error) {
		var line []byte
		for {
			frag, err := br.ReadSlice('\n')
			line = append(line, frag...)
			if len(line) > maxLine {
				return "", fmt.Errorf("%w: export line too long", ErrMalformed)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return "", fmt.Errorf("%w: export ends without a checkpoint", ErrMalformed)
			}
			if err != nil {
				return "", err
			}
			return string(line[:len(line)-1]), nil
		}
	}
	if h, err := readLine(); err != nil || h != exportHeader {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: not an export (header %q)", ErrMalformed, h)
	}

	rep := &ExportReport{ByKind: map[Kind]int64{}}
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, j := range idx {
			if j < 0 || j >= int64(len(hashes)) {
				return nil, fmt.Errorf("cosign: hash %d not computed", j)
			}
			out[i] = hashes[j]
		}
		return out, nil
	})
	for n := int64(0); ; n++ {
		line, err := readLine()
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		if n >= MaxExportEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrMalformed, MaxExportEntries)
		}
		rec, err := decodeBase64(line)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: base64", ErrMalformed, n)
		}
		e, err := ParseEntry(rec)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", n, err)
		}
		switch e.Signer {
		case SignedByService:
			if err := e.Verify(origin, pub); err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			rep.ServiceSigned++
		case SignedByUser:
			if cfg.Users == nil {
				rep.Unchecked++
				break
			}
			key, err := cfg.Users.UserKey(e.User, e.Time)
			if err != nil {
				return nil, fmt.Errorf("entry %d: key of %q: %w", n, e.User, err)
			}
			if err := e.Verify(origin, key); err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			rep.UserSigned++
		}
		rep.ByKind[e.Kind]++
		hs, err := tlog.StoredHashes(n, rec, reader)
		if err != nil {
			return nil, fmt.Errorf("cosign: entry %d: %w", n, err)
		}
		hashes = append(hashes, hs...)
		rep.Entries = n + 1
	}
	signed, err := io.ReadAll(io.LimitReader(br, MaxNoteSize+1))
	if err != nil {
		return nil, err
	}
	c, err := OpenCheckpoint(signed, v)
	if err != nil {
		return nil, fmt.Errorf("export checkpoint: %w", err)
	}
	rep.Checkpoint = c
	if c.Size != rep.Entries {
		return nil, fmt.Errorf("%w: the checkpoint is of %d entries, the export has %d", ErrInclusion, c.Size, rep.Entries)
	}
	root, err := tlog.TreeHash(c.Size, reader)
	if err != nil {
		return nil, err
	}
	if root != c.Hash {
		return nil, fmt.Errorf("%w: the entries hash to %s, the checkpoint says %s", ErrInclusion, root, c.Hash)
	}
	for _, o := range old {
		if o.Size > c.Size {
			return nil, &ConsistencyError{Err: ErrTruncated, Old: o, New: c}
		}
		h, err := tlog.TreeHash(o.Size, reader)
		if err != nil {
			return nil, err
		}
		if h != o.Hash {
			return nil, &ConsistencyError{Err: ErrInconsistent, Old: o, New: c,
				Detail: fmt.Sprintf("the export's first %d entries hash to %s", o.Size, h)}
		}
		rep.Old = append(rep.Old, o)
	}
	return rep, nil
}

// UserKeyMap is a fixed set of users' keys, valid at any time: for tests
// and for offline verification from a list (see [ParseUserKeys]).
type UserKeyMap map[string]ed25519.PublicKey

// UserKey implements [UserKeys].
func (m UserKeyMap) UserKey(user string, _ time.Time) (ed25519.PublicKey, error) {
	k, ok := m[user]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	return k, nil
}

// ParseUserKeys reads a users file: one "USER ed25519:KEY" per line (the
// key as transport.FormatPublicKey writes it); empty lines and lines
// starting with '#' are skipped.
func ParseUserKeys(r io.Reader) (UserKeyMap, error) {
	m := UserKeyMap{}
	sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, key, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("%w: users line %d: want USER KEY", ErrMalformed, n)
		}
		if err := checkUser(user); err != nil {
			return nil, fmt.Errorf("users line %d: %w", n, err)
		}
		pub, err := transport.ParsePublicKey(strings.TrimSpace(key))
		if err != nil {
			return nil, fmt.Errorf("%w: users line %d: %w", ErrMalformed, n, err)
		}
		if _, dup := m[user]; dup {
			return nil, fmt.Errorf("%w: users line %d: %q listed twice", ErrMalformed, n, user)
		}
		m[user] = pub
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}
