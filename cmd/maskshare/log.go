package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/maskshare/maskshare/custody/cosign"
	"github.com/maskshare/maskshare/transport"
)

// logInvalid marks a log that failed verification: tampered, forked,
// truncated or with an entry that does not verify.
type logInvalid struct{ err error }

func (e *logInvalid) Error() string { return e.err.Error() }
func (e *logInvalid) Unwrap() error { return e.err }

// runLog runs the action log subcommands of the co-signing system
// (SPEC.md §4.3).
func runLog(stdout io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(os.Stderr, "usage: maskshare log verify --log EXPORT --key VKEY [--users FILE | --ca RA.crt] [--old CHECKPOINT...]")
		return flag.ErrHelp
	}
	return runLogVerify(stdout, args[1:])
}

// maxExportFile bounds an export read whole for its enrolments (--ca).
const maxExportFile = 1 << 30

// readSmall reads a file of at most limit bytes.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// runLogVerify checks an exported log offline.
func runLogVerify(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("log verify", flag.ContinueOnError)
	logPath := flags.String("log", "", "the exported log (required)")
	key := flags.String("key", "", "the log's verifier key (NAME+ID+KEY), or a file holding it (required)")
	usersPath := flags.String("users", "", `users' keys, one "USER ed25519:KEY" a line; without it (or --ca) users' signatures are not checked`)
	caPath := flags.String("ca", "", "the registration authority's certificate: users' keys are those of the certificates the log's enrolment entries carry, verified against it")
	var olds listFlag
	flags.Var(&olds, "old", "a signed checkpoint of this log kept earlier, which the export must extend (repeatable)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare log verify --log EXPORT --key VKEY [--users FILE | --ca RA.crt] [--old CHECKPOINT...]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *logPath == "" || *key == "" || flags.NArg() != 0 || (*usersPath != "" && *caPath != "") {
		flags.Usage()
		return flag.ErrHelp
	}
	vkey := *key
	if !strings.Contains(vkey, "+") {
		b, err := readSmall(vkey, 4096)
		if err != nil {
			return badInput(fmt.Errorf("--key: %w", err))
		}
		vkey = strings.TrimSpace(string(b))
	}
	v, _, err := cosign.ParseVerifierKey(vkey)
	if err != nil {
		return badInput(fmt.Errorf("--key: %w", err))
	}
	cfg := &cosign.VerifyConfig{}
	if *usersPath != "" {
		f, err := os.Open(*usersPath)
		if err != nil {
			return badInput(fmt.Errorf("--users: %w", err))
		}
		users, err := cosign.ParseUserKeys(f)
		f.Close()
		if err != nil {
			return badInput(fmt.Errorf("--users: %w", err))
		}
		cfg.Users = users
	}
	if *caPath != "" {
		roots, err := transport.LoadCAPool(*caPath)
		if err != nil {
			return badInput(fmt.Errorf("--ca: %w", err))
		}
		exp, err := readSmall(*logPath, maxExportFile)
		if err != nil {
			return badInput(fmt.Errorf("--log: %w", err))
		}
		users, err := cosign.ExportUserKeys(exp, roots)
		if err != nil {
			return &logInvalid{fmt.Errorf("%s: enrolments: %w", *logPath, err)}
		}
		cfg.Users = users
	}
	for _, o := range olds {
		b, err := readSmall(o, cosign.MaxNoteSize)
		if err != nil {
			return badInput(fmt.Errorf("--old: %w", err))
		}
		if _, err := cosign.OpenCheckpoint(b, v); err != nil {
			return badInput(fmt.Errorf("--old %s: %w", o, err))
		}
		cfg.Old = append(cfg.Old, b)
	}
	f, err := os.Open(*logPath)
	if err != nil {
		return badInput(fmt.Errorf("--log: %w", err))
	}
	defer f.Close()
	rep, err := cosign.VerifyExport(f, vkey, cfg)
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			return err
		}
		return &logInvalid{fmt.Errorf("%s: %w", *logPath, err)}
	}
	c := rep.Checkpoint
	fmt.Fprintf(stdout, "log:        %s\n", c.Origin)
	fmt.Fprintf(stdout, "checkpoint: size %d, root %s (signature verified)\n", c.Size, c.Hash)
	var kinds []string
	for k, n := range rep.ByKind {
		kinds = append(kinds, fmt.Sprintf("%v %d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(stdout, "entries:    %d, all in the checkpoint's tree (%s)\n", rep.Entries, strings.Join(kinds, ", "))
	fmt.Fprintf(stdout, "signatures: %d users', %d service's verified\n", rep.UserSigned, rep.ServiceSigned)
	if rep.Unchecked > 0 {
		fmt.Fprintf(stdout, "warning:    %d users' signatures not checked (no --users)\n", rep.Unchecked)
	}
	for i, o := range rep.Old {
		fmt.Fprintf(stdout, "extends:    %s (size %d)\n", olds[i], o.Size)
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}
