package mpcsign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

func seedAccount(f *testing.F) *Account {
	pub, _, err := frost.Deal(frost.Ed25519, nil, 2, []uint16{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	dev, _, _ := ed25519.GenerateKey(rand.Reader)
	return &Account{ID: "acct", Device: dev, Digits: 6, Period: 30, Epoch: 1, Key: pub}
}

func seedAuth(f *testing.F) []byte {
	a, err := NewAuthorization("acct", []byte("m"), []string{"n2", "n1"}, "123456", time.Unix(1e9, 0))
	if err != nil {
		f.Fatal(err)
	}
	_, dev, _ := ed25519.GenerateKey(rand.Reader)
	b, err := a.Sign(dev)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzParseAccount(f *testing.F) {
	f.Add(seedAccount(f).Marshal())
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAccount(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.Marshal(), b) {
			t.Fatal("record does not re-encode identically")
		}
	})
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(seedAuth(f))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAuthorization(b)
		if err != nil {
			return
		}
		if got := append(a.body(), a.Signature...); !bytes.Equal(got, b) {
			t.Fatal("authorisation does not re-encode identically")
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	rec := seedAccount(f).Marshal()
	var id [RequestIDSize]byte
	for _, q := range []*request{
		{op: opStatus},
		{op: opEnrol, record: rec, sealed: []byte("s")},
		{op: opRound1, record: rec, auth: seedAuth(f), id: 1, sealed: []byte("s"), message: []byte("m")},
		{op: opRound2, reqID: id, pkg: []byte("p")},
		{op: opCheck, record: rec, id: 2, sealed: []byte("s")},
		{op: opDKGStart, account: "acct", t: 2, n: 3, id: 1},
		{op: opDKGRound1, staticKeys: [][]byte{make([]byte, 32), make([]byte, 32)}},
		{op: opDKGRound2, pkg: []byte("r2")},
		{op: opDKGFinish, pkg: []byte("sigs"), holderKey: make([]byte, custody.PublicKeySize)},
	} {
		f.Add(q.marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := parseRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(q.marshal(), b) {
			t.Fatal("request does not re-encode identically")
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add(custody.OKResponse([]byte("body")))
	f.Add(custody.ErrorResponse(uint8(codeReplay), ErrReplay.Error()))
	f.Add([]byte{1, 200, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := parseResponse("n", b)
		if err == nil && !bytes.Equal(custody.OKResponse(body), b) {
			t.Fatal("response does not re-encode identically")
		}
		if re, ok := err.(*RemoteError); ok && re.Err == nil {
			t.Fatal("remote error without a sentinel")
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	k, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(k.Public().Bytes(), 0, 0, 0, 0, 0, 0, 0, 7))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, n, err := parseStatus(b)
		if err == nil && !bytes.Equal(binary.BigEndian.AppendUint64(pk.Bytes(), n), b) {
			t.Fatal("status does not re-encode identically")
		}
	})
}

func FuzzParseNodeAccount(f *testing.F) {
	na := &nodeAccount{owner: make([]byte, 32), raw: seedAccount(f).Marshal(), totp: []byte("sealed")}
	f.Add(na.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseNodeAccount(b)
		if err == nil && !bytes.Equal(n.marshal(), b) {
			t.Fatal("node account does not re-encode identically")
		}
	})
}

func FuzzParseHolderAccount(f *testing.F) {
	ha := &holderAccount{raw: seedAccount(f).Marshal(), nodes: []string{"n1", "n2", "n3"}, interval: time.Hour, last: time.Unix(1.7e9, 0)}
	v2 := ha.marshal()
	f.Add(v2)
	ha.last = time.Time{}
	f.Add(ha.marshal())
	v1 := v2[:len(v2)-12]
	v1[0] = 1
	f.Add(v1)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHolderAccount(b)
		if err != nil {
			return
		}
		enc := h.marshal()
		switch b[0] {
		case 2:
			if !bytes.Equal(enc, b) {
				t.Fatal("holder account does not re-encode identically")
			}
		case 1:
			// A version-1 record gains the default schedule, no last
			// refresh, and keeps the rest.
			if h.interval != DefaultRefreshInterval || !h.last.IsZero() || !bytes.Equal(enc[1:len(enc)-12], b[1:]) {
				t.Fatal("version-1 holder account migrated wrongly")
			}
			h2, err := parseHolderAccount(enc)
			if err != nil || !bytes.Equal(h2.marshal(), enc) {
				t.Fatalf("migrated record does not decode: %v", err)
			}
		default:
			t.Fatalf("version %d accepted", b[0])
		}
	})
}

// The decoders allocate in proportion to their input.
func TestDecoderAllocations(t *testing.T) {
	huge := make([]byte, 8)
	huge[0], huge[1] = wireVersion, byte(opEnrol)
	huge[2], huge[3], huge[4], huge[5] = 0xff, 0xff, 0xff, 0xff
	allocs := testing.AllocsPerRun(100, func() { parseRequest(huge) })
	if allocs > 4 {
		t.Fatalf("%v allocations to refuse a 4 GiB length prefix", allocs)
	}
}

func FuzzParseCheaters(f *testing.F) {
	f.Add(marshalCheaters(time.Unix(1e9, 0), []string{"n1", "n3"}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		at, nodes, err := parseCheaters(b)
		if err == nil && !bytes.Equal(marshalCheaters(at, nodes), b) {
			t.Fatal("cheater record does not re-encode identically")
		}
	})
}
