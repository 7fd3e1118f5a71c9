package kkrt

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzMsg0 feeds arbitrary sender messages to a receiver: it must refuse
// them with ErrMalformed or, for a well-formed one, produce a msg1 of the
// size its set implies.
func FuzzMsg0(f *testing.F) {
	var session [32]byte
	_, msg0, err := NewSender(session, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg0)
	f.Add(msg0[:100])
	f.Add([]byte{Version, typeSender})
	f.Add([]byte{})
	f.Add(identityAt(msg0, headerSize+32))
	in := [][]byte{[]byte("a"), []byte("b")}
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, msg1, err := NewReceiver(session, in, msg, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(msg1) != Msg1Size(len(in)) {
			t.Fatalf("msg1 of %d bytes", len(msg1))
		}
	})
}

// FuzzMsg1 feeds arbitrary receiver messages to the decoder and the
// point validation Finish runs before any computation. The session bound
// (MaxItems 2000) caps what a length field can make it allocate.
func FuzzMsg1(f *testing.F) {
	var session [32]byte
	cfg := &Config{MaxItems: 2000}
	_, msg0, err := NewSender(session, cfg)
	if err != nil {
		f.Fatal(err)
	}
	_, msg1, err := NewReceiver(session, [][]byte{[]byte("a")}, msg0, cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg1)
	f.Add(msg1[:msg1Fixed])
	f.Add(msg1[:7])
	f.Add([]byte{Version, typeReceiver, 0, 0, 5, 21})
	f.Add(identityAt(msg1, headerSize+4))
	f.Fuzz(func(t *testing.T, msg []byte) {
		nbins, as, rows, err := parseMsg1(msg, cfg.MaxItems)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if nbins < binsFor(0) || nbins > binsFor(cfg.MaxItems) || len(as) != BaseOTs*pointSize || len(rows) != instances(nbins)*rowBytes {
			t.Fatalf("accepted inconsistent message: nbins %d, %d, %d bytes", nbins, len(as), len(rows))
		}
		for i := 0; i < len(as); i += pointSize {
			if _, err := decodePoint(as[i : i+pointSize]); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if !bytes.Equal(msg[msg1Fixed:], rows) {
			t.Fatal("rows are not the message tail")
		}
	})
}
