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
	in := elementsOf([][]byte{[]byte("a"), []byte("b")})
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

// FuzzRunMsg0 is FuzzMsg0 for runs on kept base OTs: a receiver with a
// base must refuse a malformed run message with ErrMalformed, or answer a
// well-formed one with a run msg1 of the size its set implies.
func FuzzRunMsg0(f *testing.F) {
	var session [32]byte
	in := elementsOf([][]byte{[]byte("a"), []byte("b")})
	snd, rcv, msg0, _ := runSession(f, session, [][]byte{[]byte("a"), []byte("b")}, nil)
	_, run0, err := NewSenderRun(session, snd.Base(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(run0)
	f.Add(run0[:10])
	f.Add(msg0)
	f.Add([]byte{Version, typeSenderRun})
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, msg1, err := NewReceiverRun(session, in, msg, rcv.Base(), nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !RunOnBase(msg) || len(msg1) != RunMsg1Size(len(in)) {
			t.Fatalf("run message %x accepted, msg1 of %d bytes", msg, len(msg1))
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
	_, msg1, err := NewReceiver(session, []Element{el([]byte("a"))}, msg0, cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg1, false)
	f.Add(msg1[:msg1Fixed], false)
	f.Add(msg1[:7], false)
	f.Add([]byte{Version, typeReceiver, 0, 0, 5, 21}, false)
	f.Add(identityAt(msg1, headerSize+4), false)
	run := append([]byte{Version, typeReceiverRun}, msg1[headerSize:headerSize+4]...)
	f.Add(append(run, msg1[msg1Fixed:]...), true)
	f.Add(run, true)
	f.Fuzz(func(t *testing.T, msg []byte, isRun bool) {
		nbins, as, rows, err := parseMsg1(msg, cfg.MaxItems, isRun)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		points := BaseOTs * pointSize
		if isRun {
			points = 0
		}
		if nbins < binsFor(0) || nbins > binsFor(cfg.MaxItems) || len(as) != points || len(rows) != instances(nbins)*rowBytes {
			t.Fatalf("accepted inconsistent message: nbins %d, %d, %d bytes", nbins, len(as), len(rows))
		}
		for i := 0; i < len(as); i += pointSize {
			if _, err := decodePoint(as[i : i+pointSize]); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if !bytes.Equal(msg[len(msg)-len(rows):], rows) {
			t.Fatal("rows are not the message tail")
		}
	})
}
