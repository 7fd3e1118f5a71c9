package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
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
		return err
	}
	if *configPath == "" {
		flags.Usage()
		return flag.ErrHelp
	}
	if *arrival < 0 {
		return fmt.Errorf("--arrival-timeout %v: negative", *arrival)
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	setup, err := loadCoordinator(*configPath)
	if err != nil {
		return err
	}
	cfg := setup.cfg
	coords := make([]*maskshare.Coordinator, len(setup.sessions))
	for i, s := range setup.sessions {
		s.mcfg.Logger, s.mcfg.Progress = log.With("session", s.Name), progressPrinter(os.Stderr)
		if coords[i], err = maskshare.NewCoordinator(s.Params, s.mcfg); err != nil {
			return fmt.Errorf("%s: sessions[%d]: %w", *configPath, i, err)
		}
	}
	tcfg, err := transport.ServerConfig(setup.id, setup.trust, setup.allowed)
	if err != nil {
		return fmt.Errorf("%s: %w", *configPath, err)
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
	dataPath := flags.String("data", "", "CSV file with a header naming the identifier and value columns (required)")
	outPath := flags.String("out", "", "write this party's result as CSV here")
	level := flags.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *configPath == "" || *dataPath == "" {
		flags.Usage()
		return flag.ErrHelp
	}
	log, err := newLogger(*level)
	if err != nil {
		return err
	}
	setup, err := loadParty(*configPath)
	if err != nil {
		return err
	}
	cfg := setup.cfg
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Timeout))
	defer cancel()
	tcfg, err := transport.ClientConfig(setup.id, setup.coordTrust, cfg.CoordinatorName)
	if err != nil {
		return fmt.Errorf("%s: %w", *configPath, err)
	}
	tcfg.Logger = log

	// From here on the party knows how to reach the coordinator: if it
	// cannot take part, it tells the coordinator why before it exits, so
	// the others do not wait for it.
	table, err := readTable(ctx, *dataPath, cfg)
	var party *maskshare.Party
	var direct *netsession.Direct
	if err == nil {
		mcfg := &maskshare.Config{Identity: setup.id.PrivateKey, PeerKeys: setup.peerKeys, Logger: log, Progress: progressPrinter(os.Stderr)}
		if setup.directPeers != nil {
			if direct, err = netsession.NewDirect(setup.id, setup.peersTrust, cfg.DirectListen, setup.directPeers, log); err == nil {
				defer direct.Close()
				mcfg.Direct = direct
			}
		}
		if err == nil {
			party, err = maskshare.NewParty(cfg.Name, cfg.Params, table, mcfg)
		}
		if err == nil {
			// The whole table, checked before dialling: bad input
			// fails here, at once.
			if err = party.Validate(); err != nil {
				err = fmt.Errorf("%s: %w", *dataPath, err)
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
		return err
	}
	if *outPath != "" {
		if err := writeResult(*outPath, res); err != nil {
			return err
		}
	}
	printPartyReport(os.Stdout, cfg.Name, table.Len(), res, stats, time.Since(start))
	if direct != nil {
		fmt.Printf("  sealed parts delivered directly: %d (the rest relayed)\n", direct.Delivered())
	}
	return nil
}

// readTable reads the party's CSV file.
func readTable(ctx context.Context, path string, cfg partyConfig) (*maskshare.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := maskshare.NewCSVSource(f, cfg.IDColumn, cfg.Params.Columns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	table, err := maskshare.ReadTable(ctx, src, len(cfg.Params.Columns))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return table, nil
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
		return err
	}
	params, tables, err := opts.Setup()
	if err != nil {
		return err
	}
	log, err := newLogger(*level)
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

// writeResult writes a party's qualifying records as CSV: the identifier,
// the holder count and the aggregated columns (when revealed).
func writeResult(path string, res *maskshare.Result) error {
	// The result is confidential: readable by its owner only.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	header := []string{"id", "holders"}
	perRecord := len(res.Records) > 0 && res.Records[0].Values != nil
	if perRecord {
		for _, c := range res.Columns {
			header = append(header, c.Name)
		}
	}
	w.Write(header)
	row := make([]string, 0, len(header))
	for _, r := range res.Records {
		row = append(row[:0], r.ID, strconv.Itoa(r.Holders))
		if perRecord {
			for c, v := range r.Values {
				row = append(row, maskshare.FormatDecimal(v, res.Columns[c].Scale))
			}
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// progressPrinter reports phases on w as they end.
func progressPrinter(w io.Writer) func(maskshare.Progress) {
	var mu sync.Mutex
	return func(p maskshare.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Done {
			fmt.Fprintf(w, "%s: %s done in %v\n", p.Role, p.Phase, p.Elapsed.Round(time.Millisecond))
		} else {
			fmt.Fprintf(w, "%s: %s...\n", p.Role, p.Phase)
		}
	}
}

func printPartyReport(w io.Writer, name string, rows int, res *maskshare.Result, s netsession.Stats, elapsed time.Duration) {
	fmt.Fprintf(w, "party %s: %d rows, %d qualify; result size %d; transcript %x\n", name, rows, len(res.Records), res.Size, res.Transcript[:8])
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
