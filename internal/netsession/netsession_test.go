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
