package main

// Bucketed sessions (params.bucket_rows > 0) in the party command: the
// table is read once from its source into the party's work directory, the
// result's records stream to the result file bucket by bucket, and a
// session suspended by a lost participant is joined again, to resume it,
// until the party's timeout.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/durable"
	"github.com/maskshare/maskshare/internal/netsession"
	"github.com/maskshare/maskshare/transport"
)

// What a party's work directory holds.
const (
	spoolDirName   = "table"       // the table's copy: a maskshare.Spool, with the sessions' state
	sourceDescName = "source.json" // what the copy was read from: a sourceDesc
)

// resumeDelay is how long a party waits before it joins a suspended
// session again.
const resumeDelay = time.Second

// sourceDesc describes what a spooled table was read from. A later run
// reuses the copy only if its description is the same: for a CSV file its
// absolute path, size and modification time; for a database its driver,
// DSN (password redacted) and query, and a SQLite file's size and
// modification time; and, for both, the identifier column and the
// session's columns, which decide how values were read. The copy is
// removed once a run ends for good (success, or a failure that no rerun
// resumes), so a copy found is always that of an unfinished run.
type sourceDesc struct {
	Version  int                `json:"version"`
	CSV      string             `json:"csv,omitempty"`
	Source   string             `json:"source,omitempty"`
	Query    string             `json:"query,omitempty"`
	Size     int64              `json:"size,omitempty"`
	ModTime  string             `json:"mtime,omitempty"`
	IDColumn string             `json:"id_column,omitempty"`
	Columns  []maskshare.Column `json:"columns"`
}

// describeSource describes the party's input as it is now.
func describeSource(in tableInput, cfg partyConfig) ([]byte, error) {
	d := sourceDesc{Version: 1, Columns: cfg.Params.Columns}
	file := in.path
	if in.src != nil {
		d.Source, d.Query, file = in.src.name, in.src.query, in.src.file
	} else {
		abs, err := filepath.Abs(in.path)
		if err != nil {
			return nil, err
		}
		d.CSV, d.IDColumn = abs, cfg.IDColumn
	}
	if file != "" {
		fi, err := os.Stat(file)
		if err != nil {
			return nil, err
		}
		d.Size, d.ModTime = fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(&d)
}

// spoolTable returns the party's table copied into workDir: the copy an
// earlier unfinished run made of the same input (reused is true), or a
// new one read from the input now.
func spoolTable(ctx context.Context, workDir string, in tableInput, cfg partyConfig) (sp *maskshare.Spool, reused bool, err error) {
	desc, err := describeSource(in, cfg)
	if err != nil {
		return nil, false, err
	}
	dir := filepath.Join(workDir, spoolDirName)
	if old, err := os.ReadFile(filepath.Join(workDir, sourceDescName)); err == nil && bytes.Equal(old, desc) {
		if sp, err := maskshare.OpenSpool(dir); err == nil {
			return sp, true, nil
		}
	}
	// Another input, or a copy cut short: never use it.
	if err := forgetTable(workDir); err != nil {
		return nil, false, err
	}
	cols := cfg.Params.Columns
	if in.src != nil {
		err = withSource(ctx, in.src, cols, func(src maskshare.Source) (err error) {
			sp, err = maskshare.SpoolTable(ctx, dir, src, len(cols))
			return err
		})
	} else {
		sp, err = spoolCSV(ctx, dir, in.path, cfg)
	}
	if err != nil {
		return nil, false, err
	}
	if err := durable.WriteFile(filepath.Join(workDir, sourceDescName), desc, 0o600); err != nil {
		return nil, false, err
	}
	return sp, false, nil
}

// spoolCSV copies the CSV file at path into dir.
func spoolCSV(ctx context.Context, dir, path string, cfg partyConfig) (*maskshare.Spool, error) {
	return fromCSV(path, cfg, func(src maskshare.Source) (*maskshare.Spool, error) {
		return maskshare.SpoolTable(ctx, dir, src, len(cfg.Params.Columns))
	})
}

// forgetTable removes the table's copy from workDir: its description
// first, so that a copy half removed is never taken for a good one.
func forgetTable(workDir string) error {
	if err := os.Remove(filepath.Join(workDir, sourceDescName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := durable.SyncDir(workDir); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(workDir, spoolDirName))
}

// recordSink is where a bucketed session's records go: the result file,
// or (without --out) a count.
type recordSink interface {
	maskshare.ResumableWriter
	count() int64
}

// resultRecords is the result file of a bucketed session, written record
// by record as buckets end. It writes to a temporary file beside the
// result's path, renamed over it only once the session succeeded (commit),
// as resultFile does; but its name is fixed (".NAME.partial"), so that a
// party restarted after a crash finds the records of the buckets done and
// the session, resuming, rewinds it to the last bucket everyone completed.
type resultRecords struct {
	path    string
	f       *os.File
	w       *csv.Writer
	cols    []maskshare.Column
	reveal  maskshare.RevealPolicy
	header  []byte
	stale   bool  // f holds an earlier run's records: the first write starts over, unless Rewind keeps some
	records int64 // the records in the file
	row     []string
}

// partialPath is the temporary file of the result file out.
func partialPath(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
}

// openResultRecords opens the temporary file of the result file out,
// which checkResultPath checked, keeping what an earlier run wrote to it.
func openResultRecords(out string, p maskshare.Params) (*resultRecords, error) {
	path := partialPath(out)
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--out %s: %s exists and is not a regular file", out, path)
	}
	// The result is confidential: readable by its owner only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--out %s: cannot write in its directory: %w", out, err)
	}
	r := &resultRecords{path: out, f: f, w: csv.NewWriter(f), cols: p.Columns, reveal: p.Reveal}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	var hb bytes.Buffer
	hw := csv.NewWriter(&hb)
	hw.Write(resultHeader(p.Columns, p.Reveal))
	hw.Flush()
	r.header = hb.Bytes()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	if size > 0 {
		r.stale = true
	} else if err := r.restart(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// restart empties the file and writes the header.
func (r *resultRecords) restart() error {
	if err := r.f.Truncate(0); err != nil {
		return err
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r.w = csv.NewWriter(r.f)
	r.stale, r.records = false, 0
	_, err := r.f.Write(r.header)
	return err
}

// WriteRecord implements maskshare.RecordWriter.
func (r *resultRecords) WriteRecord(rec *maskshare.Record) error {
	if r.stale {
		if err := r.restart(); err != nil {
			return err
		}
	}
	r.row = resultRow(r.row, rec, r.cols, r.reveal)
	if err := r.w.Write(r.row); err != nil {
		return err
	}
	r.records++
	return nil
}

// Sync implements maskshare.ResumableWriter: the mark is the file's
// length once the records written are on disk.
func (r *resultRecords) Sync() (int64, error) {
	if r.stale {
		if err := r.restart(); err != nil {
			return 0, err
		}
	}
	r.w.Flush()
	if err := r.w.Error(); err != nil {
		return 0, err
	}
	if err := r.f.Sync(); err != nil {
		return 0, err
	}
	return r.f.Seek(0, io.SeekCurrent)
}

// Rewind implements maskshare.ResumableWriter: it cuts the file back to
// mark, which must lie between the header, which must be this session's,
// and the file's end; records buffered and not synced are dropped.
func (r *resultRecords) Rewind(mark int64) error {
	r.w = csv.NewWriter(r.f) // drops what was buffered
	size, err := r.f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if mark < int64(len(r.header)) || mark > size {
		return fmt.Errorf("--out %s: cannot rewind %s to byte %d of %d", r.path, r.f.Name(), mark, size)
	}
	head := make([]byte, len(r.header))
	if _, err := r.f.ReadAt(head, 0); err != nil {
		return err
	}
	if !bytes.Equal(head, r.header) {
		return fmt.Errorf("--out %s: %s holds another session's records", r.path, r.f.Name())
	}
	if err := r.f.Truncate(mark); err != nil {
		return err
	}
	// Count the records kept, for the report.
	cr := csv.NewReader(io.NewSectionReader(r.f, int64(len(r.header)), mark-int64(len(r.header))))
	cr.ReuseRecord = true
	n := int64(0)
	for {
		if _, err := cr.Read(); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("--out %s: %s: %w", r.path, r.f.Name(), err)
		}
		n++
	}
	if _, err := r.f.Seek(mark, io.SeekStart); err != nil {
		return err
	}
	r.stale, r.records = false, n
	return nil
}

func (r *resultRecords) count() int64 { return r.records }

// commit completes the file and renames it over the result's path. Under
// the cardinality policy, whose sessions write no records, the file holds
// the result size, as resultFile's does.
func (r *resultRecords) commit(res *maskshare.Result) error {
	fail := func(err error) error { return fmt.Errorf("--out %s: %w", r.path, err) }
	switch {
	case r.reveal == maskshare.CardinalityOnly:
		if err := r.f.Truncate(0); err != nil {
			return fail(err)
		}
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return fail(err)
		}
		if err := writeResult(r.f, res, r.reveal); err != nil {
			return fail(err)
		}
		r.w, r.stale = csv.NewWriter(r.f), false
	case r.stale: // no record, and no Rewind: the file is the header
		if err := r.restart(); err != nil {
			return fail(err)
		}
	}
	r.w.Flush()
	if err := r.w.Error(); err != nil {
		return fail(err)
	}
	if err := publish(r.f, r.path); err != nil {
		return fail(err)
	}
	r.f = nil
	return nil
}

// discard removes the temporary file, unless commit renamed it.
func (r *resultRecords) discard() {
	removeTemp(r.f)
	r.f = nil
}

// close closes the temporary file and leaves it, for a later run to
// resume from, unless commit or discard came first.
func (r *resultRecords) close() {
	if r.f != nil {
		r.w.Flush()
		r.f.Close()
		r.f = nil
	}
}

// recordCount is the sink of a party without --out: it counts records.
type recordCount struct{ n int64 }

func (c *recordCount) WriteRecord(*maskshare.Record) error { c.n++; return nil }
func (c *recordCount) Sync() (int64, error)                { return c.n, nil }
func (c *recordCount) count() int64                        { return c.n }

func (c *recordCount) Rewind(mark int64) error {
	if mark < 0 {
		return fmt.Errorf("rewind to %d records", mark)
	}
	c.n = mark
	return nil
}

// finalError reports whether err ends the session for good, so that
// nothing is kept for a rerun to resume: this party's bad input, another
// participant's failure or abort, a failed check.
func finalError(err error) bool {
	switch exitCode(err) {
	case exitInput, exitPeer, exitCheating:
		return !errors.Is(err, maskshare.ErrSuspended)
	}
	return false
}

// runBucketedParty is runParty for a bucketed session.
func runBucketedParty(ctx context.Context, setup *partySetup, in tableInput, outPath, configPath string, st *status, log *slog.Logger) error {
	cfg := setup.cfg
	unlock, err := lockDir(setup.workDir)
	if err != nil {
		return badInput(fmt.Errorf("%s: work_dir: %w", configPath, err))
	}
	defer unlock()
	// As in runParty, the result file is checked, and its temporary file
	// opened, before anything is read or sent.
	var out *resultRecords
	var sink recordSink = &recordCount{}
	if outPath != "" {
		if err := checkResultPath(outPath, in); err != nil {
			return badInput(err)
		}
		if out, err = openResultRecords(outPath, cfg.Params); err != nil {
			return badInput(err)
		}
		defer out.close()
		sink = out
	}
	timeout := time.Duration(cfg.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tcfg, err := transport.ClientConfig(setup.id, setup.coordTrust, cfg.CoordinatorName)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", configPath, err))
	}
	tcfg.Logger = log
	// A run that ends for good leaves neither the table's copy nor a
	// partial result behind.
	forget := func() {
		if out != nil {
			out.discard()
		}
		if err := forgetTable(setup.workDir); err != nil {
			log.Warn("could not remove the table's copy", "work_dir", setup.workDir, "err", err)
		}
	}

	readStart := time.Now()
	sp, reused, err := spoolTable(ctx, setup.workDir, in, cfg)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("the configuration's timeout (%v) ran out while reading %s: %w", timeout, in, err)
	case errors.Is(err, context.Canceled):
		return err // interrupted
	case err != nil && !unreachable(err):
		err = badInput(in.rows(err))
	case reused:
		fmt.Fprintf(os.Stderr, "%s: %d rows: the copy of %s in %s that an unfinished run made\n", cfg.Name, sp.Rows(), in, setup.workDir)
	case err == nil:
		fmt.Fprintf(os.Stderr, "%s: read %d rows of %s into %s in %v\n", cfg.Name, sp.Rows(), in, setup.workDir, time.Since(readStart).Round(time.Millisecond))
	}
	var party *maskshare.Party
	var direct *netsession.Direct
	if err == nil {
		var mcfg *maskshare.Config
		if mcfg, direct, err = setup.sessionConfig(log, st.progress); err == nil {
			if direct != nil {
				defer direct.Close()
			}
			party, err = maskshare.NewSpooledParty(cfg.Name, cfg.Params, sp, sink, mcfg)
		}
		if err == nil {
			// What can be checked of the whole table before the session
			// (the schema, overflow); as in runParty, the others hear of
			// a failure through the session.
			if verr := party.Validate(); verr != nil {
				verr = badInput(in.rows(fmt.Errorf("%s: %w", in, verr)))
				fmt.Fprintf(os.Stderr, "%s: %v; telling the others through the session\n", cfg.Name, verr)
				tellSession(ctx, cfg, tcfg, party, log)
				forget()
				return verr
			}
		}
	}
	if err != nil {
		decline(ctx, cfg, tcfg, err, log)
		if finalError(err) {
			forget()
		}
		return err
	}

	// Join, and join again while the session is suspended: the party's
	// timeout bounds it all.
	start := time.Now()
	var res *maskshare.Result
	var stats netsession.Stats
	wasSuspended := false
	for {
		res, stats, err = netsession.Join(ctx, cfg.Coordinator, cfg.Session, party, tcfg)
		if err == nil || !errors.Is(err, maskshare.ErrSuspended) || ctx.Err() != nil {
			break
		}
		wasSuspended = true
		fmt.Fprintf(os.Stderr, "%s: session suspended: %v; joining it again to resume\n", cfg.Name, err)
		select {
		case <-ctx.Done():
		case <-time.After(resumeDelay):
		}
	}
	if err != nil {
		// A suspended session that did not resume in time ends as a
		// timeout, however the wait for the others ended (the library
		// reports a party that stopped waiting for its rejoin as lost).
		if (wasSuspended || errors.Is(err, maskshare.ErrSuspended)) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("the configuration's timeout (%v) ran out before the suspended session could resume (%v): %w", timeout, err, context.DeadlineExceeded)
		}
		err = in.rows(err)
		if finalError(err) {
			forget()
		} else if wasSuspended || errors.Is(err, maskshare.ErrSuspended) {
			fmt.Fprintf(os.Stderr, "%s: %s keeps the table's copy and the session's state: run the same command again to resume\n", cfg.Name, setup.workDir)
		}
		return err
	}
	// The session is over: the copy must not be taken for an unfinished
	// run's, even if this process dies before it is removed.
	if err := os.Remove(filepath.Join(setup.workDir, sourceDescName)); err != nil {
		log.Warn("could not remove the table's description", "err", err)
	}
	if out != nil {
		if err := out.commit(res); err != nil {
			return err
		}
	}
	forget()
	printPartyReport(os.Stdout, cfg.Name, int(sp.Rows()), int(sink.count()), cfg.Params.Reveal, res, stats, time.Since(start))
	if direct != nil {
		fmt.Printf("  sealed parts delivered directly: %d (the rest relayed)\n", direct.Delivered())
	}
	return nil
}
