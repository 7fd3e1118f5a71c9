package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/internal/netsession"
	"github.com/maskshare/maskshare/transport"
)

func runCoordinator(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	configPath := flags.String("config", "", "JSON configuration file (required)")
	runs := flags.Int("runs", 0, "exit after this many sessions have ended, successfully or not (0: serve until interrupted)")
	arrival := flags.Duration("arrival-timeout", defaultArrivalTimeout, "how long the parties of a session that have arrived wait for the others, from the first arrival; then the session ends for them, naming who is missing (0: no bound)")
	level := flags.String("log-level", "info", "log level: debug, info, warn, error")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *configPath == "" {
		flags.Usage()
		return flag.ErrHelp
	}
	if *arrival < 0 {
		return badInput(fmt.Errorf("--arrival-timeout %v: negative", *arrival))
	}
	log, err := newLogger(*level, os.Stderr)
	if err != nil {
		return badInput(err)
	}
	setup, err := loadCoordinator(*configPath)
	if err != nil {
		return badInput(err)
	}
	setMemory(setup.memory)
	cfg := setup.cfg
	if cfg.WorkDir != "" {
		// One coordinator per work directory: two would resume the same
		// sessions from the same checkpoints.
		unlock, err := lockDir(setup.workDir)
		if err != nil {
			return badInput(fmt.Errorf("%s: work_dir: %w", *configPath, err))
		}
		defer unlock()
	}
	coords := make([]*maskshare.Coordinator, len(setup.sessions))
	for i, s := range setup.sessions {
		s.mcfg.Logger, s.mcfg.Progress = log.With("session", s.Name), progressPrinter(os.Stderr)
		if coords[i], err = maskshare.NewCoordinator(s.Params, s.mcfg); err != nil {
			return badInput(fmt.Errorf("%s: sessions[%d]: %w", *configPath, i, err))
		}
	}
	tcfg, err := transport.ServerConfig(setup.id, setup.trust, setup.allowed)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", *configPath, err))
	}
	tcfg.Logger = log
	l, err := transport.Listen(cfg.Listen, tcfg)
	if err != nil {
		return err
	}
	router := transport.NewRouter(l)
	defer router.Close()
	log.Info("coordinator listening", "addr", l.Addr().String(), "name", cfg.Name,
		"key", transport.FormatPublicKey(setup.id.PublicKey()), "sessions", len(cfg.Sessions))

	// Each session is served in a loop of its own, so one failing run
	// disturbs no other session; --runs counts ended runs of all sessions.
	// A signal (the parent ctx) stops the sessions with a cause the
	// parties are told; so does a permanent failure to serve a session.
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stopSignal := context.AfterFunc(ctx, func() { cancel(errShutdown) })
	defer stopSignal()
	ctx = sctx
	var mu sync.Mutex
	ended := 0
	var fatal error
	var wg sync.WaitGroup
	for i, s := range cfg.Sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				rep, stats, err := netsession.ServeWithin(ctx, router, s.Name, s.Params, coords[i], *arrival)
				if errors.Is(err, netsession.ErrCannotServe) {
					// Permanent: trying again would only spin.
					mu.Lock()
					if fatal == nil {
						fatal = err
					}
					mu.Unlock()
					cancel(fmt.Errorf("coordinator failed: %w", err))
					return
				}
				if ctx.Err() != nil {
					if err != nil {
						log.Warn("session stopped", "session", s.Name, "err", err)
						fmt.Printf("session %s: stopped after %v: %v\n", s.Name, time.Since(start).Round(time.Millisecond), err)
					}
					return
				}
				if errors.Is(err, maskshare.ErrSuspended) {
					// Not an ended run: its state is kept, and the
					// next run resumes it when the parties are back.
					log.Warn("session suspended", "session", s.Name, "err", err)
					fmt.Printf("session %s: suspended after %v: %v; waiting for the parties to resume it\n", s.Name, time.Since(start).Round(time.Millisecond), err)
					continue
				}
				mu.Lock()
				if err != nil {
					log.Error("session failed", "session", s.Name, "err", err)
					fmt.Printf("session %s: FAILED after %v: %v\n", s.Name, time.Since(start).Round(time.Millisecond), err)
				} else {
					printCoordinatorReport(os.Stdout, s.Name, s.Params, rep, stats, time.Since(start))
				}
				ended++
				if *runs > 0 && ended >= *runs {
					cancel(errRunsDone)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fatal != nil {
		return fatal
	}
	if errors.Is(context.Cause(ctx), errShutdown) {
		fmt.Fprintln(os.Stderr, "maskshare coordinator: shut down; the parties of any waiting or running session were told")
	}
	return nil
}

// defaultArrivalTimeout is how long a session waits for its parties by
// default.
const defaultArrivalTimeout = 5 * time.Minute

// errShutdown is the cause given to the parties when the coordinator is
// stopped by a signal.
var errShutdown = errors.New("coordinator shutting down")

// errRunsDone is the cause given to the parties of other sessions when the
// coordinator has served its --runs.
var errRunsDone = errors.New("coordinator done: it has served the runs it was started for")

// declineTimeout bounds how long a party that cannot take part tries to
// tell the coordinator so.
const declineTimeout = 15 * time.Second

// declineLinger bounds how long a party that declined waits for the
// coordinator to hang up.
const declineLinger = 3 * time.Second

func runParty(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("party", flag.ContinueOnError)
	configPath := flags.String("config", "", "JSON configuration file (required)")
	dataPath := flags.String("data", "", "CSV file with a header naming the identifier and value columns (required unless the configuration has a source)")
	outPath := flags.String("out", "", "write this party's result as CSV here")
	level := flags.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *configPath == "" {
		flags.Usage()
		return flag.ErrHelp
	}
	st := newStatus(os.Stderr)
	defer st.end()
	log, err := newLogger(*level, st)
	if err != nil {
		return badInput(err)
	}
	setup, err := loadParty(*configPath)
	if err != nil {
		return badInput(err)
	}
	setMemory(setup.memory)
	cfg := setup.cfg
	in := tableInput{path: *dataPath, src: setup.src}
	switch {
	case *dataPath != "" && setup.src != nil:
		return badInput(fmt.Errorf("both --data %s and the source in %s: give one", *dataPath, *configPath))
	case *dataPath == "" && setup.src == nil:
		return badInput(fmt.Errorf("no table: give --data CSV, or a source in %s", *configPath))
	}
	if cfg.Params.BucketRows > 0 {
		return runBucketedParty(ctx, setup, in, *outPath, *configPath, st, log)
	}
	// The result file is checked, and its temporary file made, before
	// anything is read or sent: a result that cannot be written is known
	// before the session, not after the others recorded success.
	var out *resultFile
	if *outPath != "" {
		if out, err = createResult(*outPath, in); err != nil {
			return badInput(err)
		}
		defer out.discard()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Timeout))
	defer cancel()
	tcfg, err := transport.ClientConfig(setup.id, setup.coordTrust, cfg.CoordinatorName)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", *configPath, err))
	}
	tcfg.Logger = log

	// From here on the party knows how to reach the coordinator: if it
	// cannot take part, it tells the coordinator why before it exits, so
	// the others do not wait for it.
	table, err := in.read(ctx, cfg)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// The run's time bound ran out, not a fault of the data.
		err = fmt.Errorf("the configuration's timeout (%v) ran out while reading %s: %w", time.Duration(cfg.Timeout), in, err)
	case errors.Is(err, context.Canceled):
		return err // interrupted
	case err != nil && !unreachable(err):
		err = badInput(err)
	}
	var party *maskshare.Party
	var direct *netsession.Direct
	if err == nil {
		var mcfg *maskshare.Config
		if mcfg, direct, err = setup.sessionConfig(log, st.progress); err == nil {
			if direct != nil {
				defer direct.Close()
			}
			party, err = maskshare.NewParty(cfg.Name, cfg.Params, table, mcfg)
		}
		if err == nil {
			// The whole table, checked before dialling: bad input is
			// known here, at once. The party still joins the session,
			// if it can reach the coordinator within declineTimeout,
			// so that the engine aborts it for everyone with this
			// party's signed reason once all have arrived (a decline
			// before the session would miss those not yet there).
			if verr := party.Validate(); verr != nil {
				verr = badInput(in.rows(fmt.Errorf("%s: %w", in, verr)))
				fmt.Fprintf(os.Stderr, "%s: %v; telling the others through the session\n", cfg.Name, verr)
				tellSession(ctx, cfg, tcfg, party, log)
				return verr
			}
		}
	}
	if err != nil {
		decline(ctx, cfg, tcfg, err, log)
		return err
	}
	start := time.Now()
	res, stats, err := netsession.Join(ctx, cfg.Coordinator, cfg.Session, party, tcfg)
	if err != nil {
		return in.rows(err)
	}
	if out != nil {
		if err := out.commit(res, cfg.Params.Reveal); err != nil {
			return err
		}
	}
	printPartyReport(os.Stdout, cfg.Name, table.Len(), len(res.Records), cfg.Params.Reveal, res, stats, time.Since(start))
	if direct != nil {
		fmt.Printf("  sealed parts delivered directly: %d (the rest relayed)\n", direct.Delivered())
	}
	return nil
}

// tableInput is where a party's table comes from: the --data CSV file, or
// the configuration's database source.
type tableInput struct {
	path string    // the CSV file, if src is nil
	src  *dbSource // the source, if any
}

// String names the input in messages; a DSN's password is never in it.
func (in tableInput) String() string {
	if in.src != nil {
		return in.src.name
	}
	return in.path
}

// read reads the whole table.
func (in tableInput) read(ctx context.Context, cfg partyConfig) (*maskshare.Table, error) {
	if in.src != nil {
		return readSource(ctx, in.src, cfg.Params.Columns)
	}
	return readTable(ctx, in.path, cfg)
}

// rows makes an error about rows of the table name them as the input does:
// CSV lines, or the query result's rows counted from 1.
func (in tableInput) rows(err error) error {
	if in.src == nil {
		return rowLines(err, in.path)
	}
	var ie *maskshare.InputError
	var abort *maskshare.AbortError
	if !errors.As(err, &ie) || ie.Row < 0 || errors.As(err, &abort) {
		return err
	}
	other := 0
	if ie.Other >= 0 && ie.Other != ie.Row {
		other = ie.Other + 1
	}
	return &rowError{path: in.src.name, unit: "query row", line: ie.Row + 1, other: other, err: ie}
}

// readTable reads the party's CSV file.
func readTable(ctx context.Context, path string, cfg partyConfig) (*maskshare.Table, error) {
	return fromCSV(path, cfg, func(src maskshare.Source) (*maskshare.Table, error) {
		return maskshare.ReadTable(ctx, src, len(cfg.Params.Columns))
	})
}

// fromCSV opens the party's CSV file at path as a source and reads it
// with read; errors name the file.
func fromCSV[T any](path string, cfg partyConfig, read func(maskshare.Source) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	src, err := maskshare.NewCSVSource(f, cfg.IDColumn, cfg.Params.Columns)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	v, err := read(src)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// tellSession joins the session with a party whose table failed
// validation, so that its run aborts the session for everyone with the
// party's signed reason. It gives up if the coordinator cannot be reached
// within declineTimeout; once connected, the session (bounded by ctx and
// the coordinator's arrival bound) takes its course.
func tellSession(ctx context.Context, cfg partyConfig, tcfg *transport.Config, party *maskshare.Party, log *slog.Logger) {
	dctx, cancel := context.WithTimeout(ctx, declineTimeout)
	conn, err := transport.Dial(dctx, cfg.Coordinator, cfg.Session, tcfg)
	cancel()
	if err != nil {
		log.Warn("could not tell the coordinator that this party cannot take part", "err", err)
		return
	}
	defer conn.Close()
	party.Run(ctx, conn) // fails with the validation error, after aborting the session for all
}

// decline tells the coordinator, within declineTimeout, that this party
// cannot take part because of cause (its category only), so that the
// session ends for the others with this party's name and reason.
func decline(ctx context.Context, cfg partyConfig, tcfg *transport.Config, cause error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, declineTimeout)
	defer cancel()
	conn, err := transport.Dial(ctx, cfg.Coordinator, cfg.Session, tcfg)
	if err != nil {
		log.Warn("could not tell the coordinator that this party cannot take part", "err", err)
		return
	}
	defer conn.Close()
	if err := maskshare.Decline(ctx, conn, cfg.Params, cfg.Name, cause); err != nil {
		log.Warn("could not tell the coordinator that this party cannot take part", "err", err)
		return
	}
	// Hang up only once the coordinator has: closing at once could fail
	// its next send to this party before it reads why.
	lctx, lcancel := context.WithTimeout(ctx, declineLinger)
	for {
		if _, err := conn.Recv(lctx); err != nil {
			break
		}
	}
	lcancel()
	fmt.Fprintf(os.Stderr, "%s: told the coordinator this party cannot take part\n", cfg.Name)
}

func runDemo(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	var opts demo.Options
	opts.Register(flags)
	level := flags.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	params, tables, err := opts.Setup()
	if err != nil {
		return err
	}
	log, err := newLogger(*level, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("running %d banks and a coordinator over loopback mutual TLS...\n", opts.Banks)
	start := time.Now()
	out, err := netsession.RunLoopback(ctx, params, tables, &maskshare.Config{Logger: log})
	if err != nil {
		return err
	}
	demo.Summary(os.Stdout, params, tables, out.Results, out.Report, time.Since(start))
	for i, s := range out.PartyStats {
		fmt.Printf("  %s sent %s in %d messages (%.1f bytes per record), received %s\n", params.Parties[i],
			byteCount(s.Wire.BytesSent), s.Messages.MsgsSent, float64(s.Wire.BytesSent)/float64(tables[i].Len()), byteCount(s.Wire.BytesRecv))
	}
	fmt.Printf("  coordinator sent %s, received %s\n", byteCount(out.CoordStats.Wire.BytesSent), byteCount(out.CoordStats.Wire.BytesRecv))
	if err := demo.Verify(params, tables, out.Results); err != nil {
		return fmt.Errorf("verification against the plaintext join FAILED: %w", err)
	}
	fmt.Println("verified: every bank's result equals the plaintext join and sum")
	return nil
}

// rowError is a *maskshare.InputError about rows of a CSV file, reported
// with the file's line numbers (1 is the header), which a user can look up
// in an editor, as the CSV reader's own errors are, rather than with the
// table's 0-based row indices.
type rowError struct {
	path        string
	unit        string // "csv line" if empty
	line, other int    // other is 0 if there is no other row
	err         *maskshare.InputError
}

func (e *rowError) Error() string {
	unit := e.unit
	if unit == "" {
		unit = "csv line"
	}
	msg := fmt.Sprintf("%s: %v: %s %d", e.path, e.err.Err, unit, e.line)
	if e.other > 0 {
		msg += fmt.Sprintf(" (same as %s %d)", unit, e.other)
	}
	if e.err.Column != "" {
		msg += fmt.Sprintf(" in column %q", e.err.Column)
	}
	if e.err.Detail != "" {
		msg += ": " + e.err.Detail
	}
	return msg
}

func (e *rowError) Unwrap() error { return e.err }

// rowLines turns an error about rows of this party's table, read from the
// CSV file at path, into one that names the file's lines. Other errors, and
// aborts by others (which carry no rows), are returned as they are.
func rowLines(err error, path string) error {
	var ie *maskshare.InputError
	var abort *maskshare.AbortError
	if !errors.As(err, &ie) || ie.Row < 0 || errors.As(err, &abort) {
		return err
	}
	lines, lerr := csvLines(path, ie.Row, ie.Other)
	if lerr != nil || lines[ie.Row] == 0 {
		return fmt.Errorf("%s: %w (data row %d, counting from 0 after the header)", path, err, ie.Row)
	}
	return &rowError{path: path, line: lines[ie.Row], other: lines[ie.Other], err: ie}
}

// csvLines reads the CSV file at path again and returns the line on which
// each of rows (0-based data rows, as in the table read from it) starts:
// blank lines and quoted line breaks make it differ from row+2.
func csvLines(path string, rows ...int) (map[int]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // the header
		return nil, err
	}
	last := slices.Max(rows)
	lines := make(map[int]int, len(rows))
	for row := 0; row <= last; row++ {
		if _, err := r.Read(); err != nil {
			return nil, err
		}
		if slices.Contains(rows, row) {
			lines[row], _ = r.FieldPos(0)
		}
	}
	return lines, nil
}

// resultFile is where a party's result goes. Its path is checked before
// the session, the result is written to a temporary file beside it, and that
// file is renamed over the path only once the session succeeded: a failure
// never leaves a half-written result, nor truncates an existing file.
type resultFile struct {
	path string
	tmp  *os.File
}

// createResult checks that out is not the input's file (the CSV, or the
// SQLite database) and that its directory exists and is writable, and makes
// the temporary file in it.
func createResult(out string, in tableInput) (*resultFile, error) {
	if err := checkResultPath(out, in); err != nil {
		return nil, err
	}
	return createResultFile(out)
}

// checkResultPath checks that out is not the input's file and may be
// replaced by a file in its directory, which must exist.
func checkResultPath(out string, in tableInput) error {
	data, what := in.path, "--data file"
	if in.src != nil {
		data, what = in.src.file, "source's SQLite database"
	}
	if data != "" { // PostgreSQL: no file to overwrite
		absOut, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		absData, err := filepath.Abs(data)
		if err != nil {
			return err
		}
		if absOut == absData {
			return fmt.Errorf("--out %s is the %s: the result would replace the input", out, what)
		}
		fo, errOut := os.Stat(out)
		if fd, err := os.Stat(data); errOut == nil && err == nil && os.SameFile(fo, fd) {
			return fmt.Errorf("--out %s is the %s %s (a link to it): the result would replace the input", out, what, data)
		}
	}
	fo, errOut := os.Stat(out)
	if errOut == nil && !fo.Mode().IsRegular() {
		return fmt.Errorf("--out %s exists and is not a regular file", out)
	}
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("--out %s: its directory: %w", out, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("--out %s: %s is not a directory", out, dir)
	}
	return nil
}

// createResultFile makes the temporary file in the directory of out,
// which checkResultPath checked.
func createResultFile(out string) (*resultFile, error) {
	dir := filepath.Dir(out)
	// The result is confidential: readable by its owner only (CreateTemp
	// makes files 0600).
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("--out %s: cannot write in its directory: %w", out, err)
	}
	return &resultFile{path: out, tmp: tmp}, nil
}

// commit writes the result to the temporary file and renames it over the
// path.
func (r *resultFile) commit(res *maskshare.Result, reveal maskshare.RevealPolicy) error {
	bw := bufio.NewWriter(r.tmp)
	if err := writeResult(bw, res, reveal); err != nil {
		return fmt.Errorf("--out %s: %w", r.path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("--out %s: %w", r.path, err)
	}
	if err := publish(r.tmp, r.path); err != nil {
		return fmt.Errorf("--out %s: %w", r.path, err)
	}
	r.tmp = nil
	return nil
}

// discard removes the temporary file, unless commit renamed it.
func (r *resultFile) discard() {
	removeTemp(r.tmp)
	r.tmp = nil
}

// publish makes the temporary file f durable, closes it and renames it
// over path.
func publish(f *os.File, path string) error {
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// removeTemp closes and removes the temporary file f, if any.
func removeTemp(f *os.File) {
	if f != nil {
		f.Close()
		os.Remove(f.Name())
	}
}

// writeResult writes a party's result as CSV: its qualifying records, with
// the identifier, the holder count and the aggregated columns when the
// policy reveals them (the header names the columns even when no record
// qualifies); under the cardinality policy, which reveals only the result
// size, a result_size column with that one figure.
func writeResult(out io.Writer, res *maskshare.Result, reveal maskshare.RevealPolicy) error {
	w := csv.NewWriter(out)
	if reveal == maskshare.CardinalityOnly {
		w.Write([]string{"result_size"})
		w.Write([]string{strconv.Itoa(res.Size)})
		w.Flush()
		return w.Error()
	}
	header := resultHeader(res.Columns, reveal)
	w.Write(header)
	row := make([]string, 0, len(header))
	for i := range res.Records {
		w.Write(resultRow(row, &res.Records[i], res.Columns, reveal))
	}
	w.Flush()
	return w.Error()
}

// resultHeader is the header of a result file of records.
func resultHeader(cols []maskshare.Column, reveal maskshare.RevealPolicy) []string {
	header := []string{"id", "holders"}
	if reveal == maskshare.PerRecord {
		for _, c := range cols {
			header = append(header, c.Name)
		}
	}
	return header
}

// resultRow appends to row[:0] the fields of r's line in a result file.
func resultRow(row []string, r *maskshare.Record, cols []maskshare.Column, reveal maskshare.RevealPolicy) []string {
	row = append(row[:0], r.ID, strconv.Itoa(r.Holders))
	if reveal == maskshare.PerRecord {
		for c, v := range r.Values {
			row = append(row, maskshare.FormatDecimal(v, cols[c].Scale))
		}
	}
	return row
}

// progressPrinter reports phases on w as plain lines as they start and end.
func progressPrinter(w io.Writer) func(maskshare.Progress) {
	var mu sync.Mutex
	return func(p maskshare.Progress) {
		mu.Lock()
		defer mu.Unlock()
		printProgress(w, p)
	}
}

func printProgress(w io.Writer, p maskshare.Progress) {
	fmt.Fprintf(w, "%s: %s\n", p.Role, describeProgress(p, false))
}

func printPartyReport(w io.Writer, name string, rows, qualify int, reveal maskshare.RevealPolicy, res *maskshare.Result, s netsession.Stats, elapsed time.Duration) {
	if reveal == maskshare.CardinalityOnly {
		// Which records qualify is not revealed: no count of them.
		fmt.Fprintf(w, "party %s: %d rows; result size %d (which records qualify is not revealed); transcript %x\n", name, rows, res.Size, res.Transcript[:8])
	} else {
		fmt.Fprintf(w, "party %s: %d rows, %d qualify; result size %d; transcript %x\n", name, rows, qualify, res.Size, res.Transcript[:8])
	}
	for c, col := range res.Columns {
		if res.Totals != nil {
			fmt.Fprintf(w, "  total %s: %s\n", col.Name, maskshare.FormatDecimal(res.Totals[c], col.Scale))
		}
	}
	printPhases(w, res.Phases, elapsed)
	printStats(w, s, rows)
}

func printCoordinatorReport(w io.Writer, session string, params maskshare.Params, rep *maskshare.Report, s netsession.Stats, elapsed time.Duration) {
	fmt.Fprintf(w, "session %s: %d parties, set sizes %v, result size %d\n", session, len(params.Parties), rep.SetSizes, rep.Size)
	if rep.Resumed > 0 {
		fmt.Fprintf(w, "  resumed from step %d; steps run again: %d\n", rep.Resumed, rep.Redone)
	}
	printPhases(w, rep.Phases, elapsed)
	printStats(w, s, 0)
}

func printPhases(w io.Writer, phases []maskshare.PhaseTime, elapsed time.Duration) {
	fmt.Fprintf(w, "  time %v:", elapsed.Round(time.Millisecond))
	for _, p := range phases {
		fmt.Fprintf(w, " %s %v", p.Phase, p.Duration.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
}

func printStats(w io.Writer, s netsession.Stats, rows int) {
	fmt.Fprintf(w, "  messages: %d sent (%s), %d received (%s)\n", s.Messages.MsgsSent, byteCount(s.Messages.BytesSent), s.Messages.MsgsRecv, byteCount(s.Messages.BytesRecv))
	if s.HasWire {
		fmt.Fprintf(w, "  on the wire: %s sent, %s received", byteCount(s.Wire.BytesSent), byteCount(s.Wire.BytesRecv))
		if rows > 0 {
			fmt.Fprintf(w, " (%.1f bytes sent per record)", float64(s.Wire.BytesSent)/float64(rows))
		}
		fmt.Fprintln(w)
	}
}

func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// bucketedGCPercent is the GC percent of a process with a memory limit (a
// bucketed session): its live heap is one bucket's, so letting the heap
// grow to five times it before collecting stays far below the limit, which
// still bounds it, and saves a fifth of the time (BENCHMARKS.md).
const bucketedGCPercent = 400

// setMemory applies a process's soft memory limit, if any, and with it the
// GC percent of bucketed sessions.
func setMemory(limit int64) {
	if limit > 0 {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(bucketedGCPercent)
	}
}

// sessionConfig is the library configuration of the party's sessions: its
// identity, the keys it pins, and the direct links to other parties, if
// any (the caller closes them).
func (setup *partySetup) sessionConfig(log *slog.Logger, progress func(maskshare.Progress)) (*maskshare.Config, *netsession.Direct, error) {
	mcfg := &maskshare.Config{Identity: setup.id.PrivateKey, PeerKeys: setup.peerKeys, Logger: log, Progress: progress}
	if setup.directPeers == nil {
		return mcfg, nil, nil
	}
	direct, err := netsession.NewDirect(setup.id, setup.peersTrust, setup.cfg.DirectListen, setup.directPeers, log)
	if err != nil {
		return nil, nil, err
	}
	mcfg.Direct = direct
	return mcfg, direct, nil
}
