package netsession

import (
	"context"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

func TestRunLoopback(t *testing.T) {
	for _, mode := range []maskshare.PSIMode{maskshare.Keyed, maskshare.ECDH} {
		params := demo.Params(3, mode, 2)
		tables := demo.Generate(5, 3, 300, 0.3, len(params.Columns))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := RunLoopback(ctx, params, tables, nil)
		cancel()
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if err := demo.Verify(params, tables, out.Results); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		for i, s := range out.PartyStats {
			if !s.HasWire || s.Wire.BytesSent < s.Messages.BytesSent/2 || s.Messages.BytesSent == 0 {
				t.Fatalf("party %d: stats %+v", i, s)
			}
		}
	}
}

func TestRunLoopbackDirect(t *testing.T) {
	params := demo.Params(3, maskshare.Keyed, 0)
	tables := demo.Generate(6, 3, 300, 0.5, len(params.Columns))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := RunLoopbackWith(ctx, params, tables, nil, LoopbackOptions{Direct: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Verify(params, tables, out.Results); err != nil {
		t.Fatal(err)
	}
	if out.DirectDeliveries != 6 {
		t.Fatalf("%d boxes delivered directly, want 6 (3 parties × 2 peers)", out.DirectDeliveries)
	}
}
