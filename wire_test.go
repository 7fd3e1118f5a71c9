package maskshare

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// recorder keeps a copy of every message that crosses a connection, in both
// directions.
type recorder struct {
	transport.Conn
	mu   *sync.Mutex
	msgs *[][]byte
}

func (r recorder) keep(msg []byte) {
	r.mu.Lock()
	*r.msgs = append(*r.msgs, append([]byte(nil), msg...))
	r.mu.Unlock()
}

func (r recorder) Send(ctx context.Context, msg []byte) error {
	r.keep(msg)
	return r.Conn.Send(ctx, msg)
}

func (r recorder) Recv(ctx context.Context) ([]byte, error) {
	msg, err := r.Conn.Recv(ctx)
	if err == nil {
		r.keep(msg)
	}
	return msg, err
}

// TestWireLeaksNothing captures every message of sessions in every mode and
// checks that no identifier and no value of any party appears in any of them,
// in any encoding a careless implementation might use.
func TestWireLeaksNothing(t *testing.T) {
	for _, mode := range []PSIMode{Keyed, ECDH, OPRF} {
		for _, reveal := range []RevealPolicy{PerRecord, TotalsOnly, CardinalityOnly} {
			t.Run(fmt.Sprintf("%v/%v", mode, reveal), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(11, uint64(mode)<<8|uint64(reveal)))
				params := testParams(3, 3)
				params.Mode, params.Reveal, params.Threshold = mode, reveal, 2
				if mode == OPRF {
					params.Threshold = 3 // the mode's only threshold
				}
				n := 3
				tables := make([]*Table, n)
				for i := range tables {
					tables[i] = NewTable(3)
				}
				// Identifiers and values with enough entropy that a chance
				// match in 8 bytes of random-looking ciphertext is negligible.
				for u := 0; u < 60; u++ {
					id := fmt.Sprintf("IBAN-DE%020d", rng.Uint64())
					for i := range tables {
						if rng.IntN(3) > 0 {
							tables[i].AddRow(id, 1<<40+rng.Int64N(1<<40), -(1<<40 + rng.Int64N(1<<40)), 1<<41+rng.Int64N(1<<40))
						}
					}
				}
				var mu sync.Mutex
				var msgs [][]byte
				s := &session{params: params, tables: tables, wrap: func(i int, c transport.Conn) transport.Conn {
					return recorder{Conn: c, mu: &mu, msgs: &msgs}
				}}
				o := s.run(t)
				if o.coord != nil {
					t.Fatal(o.coord)
				}
				checkAgainstOracle(t, params, tables, o.results, o.report)
				if len(msgs) == 0 {
					t.Fatal("nothing captured")
				}
				var needles [][]byte
				for _, tb := range tables {
					for r, id := range tb.IDs {
						needles = append(needles, []byte(id), []byte(strings.ToLower(id)), []byte(id[5:]))
						for _, col := range tb.Values {
							v := uint64(col[r])
							needles = append(needles,
								binary.LittleEndian.AppendUint64(nil, v),
								binary.BigEndian.AppendUint64(nil, v),
								[]byte(fmt.Sprint(col[r])))
						}
					}
				}
				// The aggregates must not travel in the clear either, unless the
				// coordinator may see them (it may not here).
				for _, rec := range o.results[0].Records {
					for _, v := range rec.Values {
						needles = append(needles, binary.LittleEndian.AppendUint64(nil, uint64(v)))
					}
				}
				for _, v := range o.results[0].Totals {
					needles = append(needles, binary.LittleEndian.AppendUint64(nil, uint64(v)), binary.BigEndian.AppendUint64(nil, uint64(v)))
				}
				for mi, m := range msgs {
					for _, nd := range needles {
						if bytes.Contains(m, nd) {
							t.Fatalf("message %d (%d bytes) contains %x (%q)", mi, len(m), nd, nd)
						}
					}
				}
			})
		}
	}
}

// TestMaskedVectorsLookUniform runs a session whose values are as far from
// random as they can be (all zero, or all one) and checks that every bit
// position of the masked vectors the parties send is balanced: the
// coordinator sees what looks like uniform noise.
func TestMaskedVectorsLookUniform(t *testing.T) {
	for _, value := range []int64{0, 1, -1} {
		params := testParams(3, 2)
		tables := make([]*Table, 3)
		for i := range tables {
			tables[i] = NewTable(2)
			for r := range 4000 {
				tables[i].AddRow(fmt.Sprintf("id-%d", r), value, value)
			}
		}
		var mu sync.Mutex
		var msgs [][]byte
		s := &session{params: params, tables: tables, wrap: func(i int, c transport.Conn) transport.Conn {
			return recorder{Conn: c, mu: &mu, msgs: &msgs}
		}}
		if o := s.run(t); o.coord != nil {
			t.Fatal(o.coord)
		}
		vectors := 0
		for _, msg := range msgs {
			if typ, _ := wire.Peek(msg); typ != wire.TypeMasked {
				continue
			}
			m, err := wire.DecodeMasked(msg)
			if err != nil {
				t.Fatal(err)
			}
			vectors++
			n := float64(len(m.Words))
			for bit := range 64 {
				ones := 0
				for _, w := range m.Words {
					ones += int(w >> bit & 1)
				}
				// 6 standard deviations of a fair coin: a false alarm is
				// about one in 10^9 per position.
				if dev := math.Abs(float64(ones) - n/2); dev > 6*math.Sqrt(n/4) {
					t.Fatalf("value %d: bit %d of a masked vector is set in %d of %d words", value, bit, ones, len(m.Words))
				}
			}
		}
		want := 3 // each party's value vector, and its match check vector if there is that round
		if matchCheckRound(params.Reveal, params.threshold(), 3) {
			want = 6
		}
		if vectors != want {
			t.Fatalf("captured %d masked vectors, want %d", vectors, want)
		}
	}
}
