package maskshare

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
	"github.com/maskshare/maskshare/transport"
)

// announcer is the coordinator's connection to a party that announces a
// message of announced bytes, as a frame header does, and then trickles it:
// a receiver that accepts the announcement waits (and, as the data comes,
// allocates); one with a smaller limit refuses it on the spot, as
// transport's network connections do (transport.TestRecvLimitRefusesHeader).
type announcer struct {
	announced int64
	limit     atomic.Int64 // the limit of the last RecvLimit
}

func (a *announcer) Send(context.Context, []byte) error { return nil }
func (a *announcer) Close() error                       { return nil }

func (a *announcer) Recv(ctx context.Context) ([]byte, error) { return a.RecvLimit(ctx, 0) }

func (a *announcer) RecvLimit(ctx context.Context, max int64) ([]byte, error) {
	a.limit.Store(max)
	if max > 0 && a.announced > max {
		return nil, &transport.SizeError{Size: uint64(a.announced), Limit: max}
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestCoordinatorBoundsPhaseMessages checks that the coordinator receives a
// party's hello with a limit of what a hello can hold, so that a party
// announcing a gigabyte is refused as a protocol violation at once, not
// waited for (and allocated).
func TestCoordinatorBoundsPhaseMessages(t *testing.T) {
	params := testParams(2, 1)
	coord, err := NewCoordinator(params, &Config{PhaseTimeout: 5 * time.Second, InsecureNoIdentities: true})
	if err != nil {
		t.Fatal(err)
	}
	evil := &announcer{announced: 1 << 30}
	quiet, _ := transport.Pipe() // a party that says nothing
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = coord.Run(ctx, []transport.Conn{evil, quiet})
	if !errors.Is(err, ErrProtocol) || errors.Is(err, ErrPartyUnavailable) {
		t.Fatalf("Run = %v, want ErrProtocol", err)
	}
	if !strings.Contains(err.Error(), params.Parties[0]) {
		t.Errorf("error %q does not name the party", err)
	}
	if got := evil.limit.Load(); got <= 0 || got > 4096 {
		t.Errorf("hello received with a limit of %d bytes", got)
	}
}

// TestPhaseLimitsFitLargestMessages checks that each phase's limit admits
// the largest message an honest party can send in it (and nothing larger is
// needed): the limits are exactly the encoded sizes.
func TestPhaseLimitsFitLargestMessages(t *testing.T) {
	const n, bound = 5, 64
	sig := bytes.Repeat([]byte{1}, wire.MaxSigLen)
	check := func(what string, msg []byte, limit int64) {
		t.Helper()
		if int64(len(msg)) != limit {
			t.Errorf("%s: largest message %d bytes, limit %d", what, len(msg), limit)
		}
	}
	check("hello", (&wire.Hello{Bound: bound, Sig: sig}).Encode(), helloSize)
	check("confirm", (&wire.Confirm{}).Encode(), confirmSize)
	check("abort", (&wire.Abort{Reason: strings.Repeat("x", wire.MaxReasonLen), Sig: sig}).Encode(), maxAbortSize)
	var boxes []wire.Box
	for p := 1; p < n; p++ {
		boxes = append(boxes, wire.Box{Peer: uint16(p), Sealed: make([]byte, wire.MaxSealedSize)})
	}
	check("sealed", (&wire.Sealed{Boxes: boxes}).Encode(), sealedSize(n))
	check("tags", (&wire.Tags{Tags: make([]psi.Tag, bound)}).Encode(), tagsSize(bound))
	for hop := 0; hop < n; hop++ {
		m := &wire.Elements{Hop: uint16(hop), Chain: make([]psi.Element, hop+1), Proofs: make([]psi.Proof, hop), Elems: make([]psi.Element, bound)}
		check("elements", m.Encode(), elementsSize(n, hop+1, bound))
	}
	check("masked", (&wire.Masked{Columns: 3, Size: 7, Words: make([]uint64, 21)}).Encode(), maskedSize(3, 7))
}
