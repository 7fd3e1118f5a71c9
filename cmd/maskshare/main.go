// Command maskshare runs privacy-preserving data sharing sessions: a
// coordinator and parties (banks) find their common customers and add up
// their figures for them, and nobody learns anything else.
//
//	maskshare keygen --dir keys bank-a         # at each institution, for itself
//	maskshare pubkey keys/bank-a.crt           # the public key to give the others
//	maskshare ca init --dir ca                 # optional: a CA
//	maskshare ca sign --dir ca bank-a.csr
//	maskshare coordinator --config coordinator.json
//	maskshare party --config bank-a.json --data customers.csv --out result.csv
//	maskshare demo [--banks 3] [--customers 20000] [--mode keyed|ecdh|oprf] [--k 0]
//	maskshare bench [flags]
//	maskshare keynode --listen ADDR --dir DIR --key K --cert C --ca CA --institution KEY
//	maskshare key odds|place|split|request|authorize|recover|refresh|repair [flags]
//	maskshare log verify --log EXPORT --key VKEY [--users FILE] [--old CHECKPOINT]
//	maskshare cosign init|serve|export|enrol|sign|revoke|checkpoint|recovery-key|recover ...
//	maskshare signer --listen ADDR --dir DIR --key K --cert C --ca CA
//	maskshare wallet create|sign|authorize|choose|refresh|repair|list|nodes --dir DIR --key K --cert C --ca CA --node NAME=ADDR...
//	maskshare idpay keygen|issue|request|pay|verify|backend [flags]
//
// The configuration files are JSON; their fields are documented on
// coordinatorConfig and partyConfig and in the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/custody/idpay"
	"github.com/maskshare/maskshare/custody/mpcsign"
)

const usage = `maskshare: privacy-preserving data sharing between institutions

usage:
  maskshare keygen --dir DIR NAME                 make this institution's key, certificate and CA request
  maskshare pubkey [--fingerprint] FILE           print the public key in a .crt or .csr
  maskshare ca init --dir CADIR [--name NAME]     make a CA (optional: pinned keys need none)
  maskshare ca sign --dir CADIR [--out FILE] REQUEST.csr
                                                  certify an institution from its request
  maskshare coordinator --config FILE [--runs N]  serve the sessions in FILE
  maskshare party --config FILE --data CSV [--out CSV]
                                                  join a session with the rows of CSV
  maskshare demo [flags]                          coordinator and banks in one process over mTLS
  maskshare bench [flags]                         benchmark harness
  maskshare keynode --listen ADDR --dir DIR --key FILE --cert FILE (--ca FILE | --peer NAME=KEY...) --institution KEY...
                                                  keep users' sealed key slices (key slicing)
  maskshare key odds|place|split|request|authorize|recover|refresh|repair [flags]
                                                  place, deal, recover, refresh and repair a sliced user key
  maskshare log verify --log EXPORT --key VKEY [--users FILE | --ca RA.crt] [--old CHECKPOINT...]
                                                  check an exported co-signing action log offline
  maskshare cosign init|serve|export|enrol|sign|revoke|checkpoint|recovery-key|recover [flags]
                                                  the co-signing service and its clients (cosign -h)
  maskshare signer --listen ADDR --dir DIR --key FILE --cert FILE (--ca FILE | --peer NAME=KEY...)
                                                  a pool node of the threshold signer pool
  maskshare wallet COMMAND --dir DIR --key FILE --cert FILE --ca FILE --node NAME=ADDR...
                                                  the key holder: create, sign, authorize, choose, refresh, repair, list, nodes
  maskshare idpay keygen|issue|request|pay|verify|backend [flags]
                                                  identity keys and payments by QR code

Run "maskshare COMMAND -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(exitInput)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "keygen":
		err = runKeygen(os.Stdout, args)
	case "pubkey":
		err = runPubkey(os.Stdout, args)
	case "ca":
		err = runCA(os.Stdout, args)
	case "coordinator":
		err = runCoordinator(ctx, args)
	case "party":
		err = runParty(ctx, args)
	case "demo":
		err = runDemo(ctx, args)
	case "bench":
		err = runBench(ctx, args)
	case "keynode":
		err = runKeynode(ctx, os.Stdout, args)
	case "key":
		err = runKey(ctx, os.Stdout, args)
		if len(args) > 0 {
			cmd += " " + args[0]
		}
	case "log":
		err = runLog(os.Stdout, args)
	case "cosign":
		err = runCosign(ctx, os.Stdout, args)
		if len(args) > 0 {
			cmd += " " + args[0]
		}
	case "signer":
		err = runSigner(ctx, os.Stdout, args)
	case "wallet":
		err = runWallet(ctx, os.Stdout, args)
	case "idpay":
		err = runIdpay(ctx, os.Stdout, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "maskshare: unknown command %q\n\n%s", cmd, usage)
		os.Exit(exitInput)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(exitInput)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "maskshare %s: %v\n", cmd, err)
		os.Exit(exitCode(err))
	}
}

// Exit codes, documented in the README.
const (
	exitInternal = 1 // anything else: a local I/O or network error, a bug
	exitInput    = 2 // bad input of this participant: flags, configuration, keys, data
	exitPeer     = 3 // another participant failed, aborted or could not be authenticated
	exitTimeout  = 4 // a time bound ran out
	exitCheating = 5 // an integrity check failed: a participant deviating from the protocol, a log or payment that does not verify
)

// inputError marks an error in this participant's own input: its flags,
// configuration, key files or data.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// badInput marks err, if any, as this participant's bad input.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return &inputError{err}
}

// exitCode maps an error to the exit code of its class. The order matters:
// an abort by another participant wraps the sentinel of its reason (a
// peer's duplicate identifier is ErrDuplicateID at every party), and an
// abort the coordinator forged wraps ErrCheating as well.
func exitCode(err error) int {
	var abort *maskshare.AbortError
	var input *inputError
	var table *maskshare.InputError
	var peer *peerError
	var invalid *logInvalid
	switch {
	case err == nil:
		return 0
	case errors.As(err, &peer):
		// Key nodes that failed: whatever their errors wrap (a dial
		// timeout, say), another participant failed.
		return exitPeer
	case errors.Is(err, maskshare.ErrCheating), errors.As(err, &invalid), errors.Is(err, mpcsign.ErrCheater),
		errors.Is(err, idpay.ErrRefused):
		return exitCheating
	case errors.As(err, &abort):
		return exitPeer
	case errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	case errors.As(err, &input), errors.As(err, &table), errors.Is(err, flag.ErrHelp),
		errors.Is(err, maskshare.ErrEmptyInput), errors.Is(err, maskshare.ErrDuplicateID),
		errors.Is(err, maskshare.ErrInvalidID), errors.Is(err, maskshare.ErrSchema),
		errors.Is(err, maskshare.ErrOverflow), errors.Is(err, maskshare.ErrParams),
		errors.Is(err, maskshare.ErrParamsMismatch), errors.Is(err, maskshare.ErrNoIdentities):
		return exitInput
	case errors.Is(err, maskshare.ErrPartyUnavailable), errors.Is(err, maskshare.ErrProtocol),
		errors.Is(err, maskshare.ErrAuthentication), errors.Is(err, maskshare.ErrTranscript),
		errors.Is(err, maskshare.ErrRunLimit), errors.Is(err, maskshare.ErrResultTooSmall),
		errors.Is(err, mpcsign.ErrUnauthorized), errors.Is(err, mpcsign.ErrTooFewNodes):
		return exitPeer
	}
	return exitInternal
}

// newLogger returns a text logger on w at the named level.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
