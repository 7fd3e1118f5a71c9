package idpay

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/maskshare/maskshare/internal/tooltest"
)

var update = flag.Bool("update", false, "rewrite the size table in docs/CUSTODY.md")

// decodeGo reads a QR code from a PNG with gozxing, a Go port of ZXing. Its
// finder-pattern detector misses a few per cent of valid codes (zbarimg reads
// the same images); for those it falls back to the pure-barcode path, which
// locates the code from its bounding box and then decodes it the same way
// (format and version information, Reed–Solomon, segments).
func decodeGo(t testing.TB, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		res, err = gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	}
	if err != nil {
		t.Fatalf("gozxing: %v", err)
	}
	return res.GetText()
}

// qrPayloads are the objects a payment shows in QR codes, with the IDs the
// size table states.
func qrPayloads(t testing.TB) []struct {
	name string
	b    []byte
} {
	f := newFixture(t, true)
	p := f.onlinePayment(t, 1250)
	rc := f.offlineReceipt(t, 1250)
	return []struct {
		name string
		b    []byte
	}{
		{"certificate", p.Request.Payee.Bytes()},
		{"online request (payee's QR)", p.Request.Bytes()},
		{"offline request (payee's QR)", rc.Request.Bytes()},
		{"offline acceptance (payer's QR)", rc.Acceptance.Bytes()},
		{"online payment (to the back end)", p.Bytes()},
		{"receipt (kept, submitted later)", rc.Bytes()},
	}
}

// TestQRRoundTripGo: every payload, rendered as PNG at every level, decodes
// with gozxing to the base45 text and back to the same bytes and object.
func TestQRRoundTripGo(t *testing.T) {
	for _, p := range qrPayloads(t) {
		for _, lvl := range []Level{L, M, Q, H} {
			c, err := QRCode(p.b, lvl)
			if err != nil {
				t.Fatalf("%s at %v: %v", p.name, lvl, err)
			}
			img, err := c.PNG(4)
			if err != nil {
				t.Fatal(err)
			}
			text := decodeGo(t, img)
			got, err := Base45Decode(text)
			if err != nil || !bytes.Equal(got, p.b) {
				t.Fatalf("%s at %v: decoded %q, %v", p.name, lvl, text, err)
			}
		}
	}
}

// TestQRRoundTripZbar: the payee's and payer's QR codes decode with zbarimg
// (Debian's zbar-tools), a reader this project did not write, to the same
// bytes, which parse and verify.
func TestQRRoundTripZbar(t *testing.T) {
	zbar := tooltest.RequirePackage(t, "zbarimg", "zbar-tools")
	dir := t.TempDir()
	f := newFixture(t, true)
	q, _ := f.alice.Request(Offline, 999, "EUR", t0)
	for i, p := range qrPayloads(t) {
		for _, lvl := range []Level{L, M, Q, H} {
			c, err := QRCode(p.b, lvl)
			if err != nil {
				t.Fatal(err)
			}
			img, _ := c.PNG(4)
			file := filepath.Join(dir, fmt.Sprintf("%d%v.png", i, lvl))
			os.WriteFile(file, img, 0o600)
			out, err := exec.Command(zbar, "--quiet", "--raw", file).Output()
			if err != nil {
				t.Fatalf("zbarimg %s at %v: %v", p.name, lvl, err)
			}
			got, err := Base45Decode(strings.TrimRight(string(out), "\n"))
			if err != nil || !bytes.Equal(got, p.b) {
				t.Fatalf("zbarimg read %s at %v as %q: %v", p.name, lvl, out, err)
			}
		}
	}
	// A request read by zbarimg is accepted by the payer's wallet.
	c, _ := QRCode(q.Bytes(), DefaultLevel)
	img, _ := c.PNG(3)
	file := filepath.Join(dir, "req.png")
	os.WriteFile(file, img, 0o600)
	out, err := exec.Command(zbar, "--quiet", "--raw", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Base45Decode(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.bob.Accept(scanned, t0, func(*Request) bool { return true }); err != nil {
		t.Fatal(err)
	}
}

// sizeTable is the table in docs/CUSTODY.md: bytes, base45 characters and
// the QR version at each level, against base64 in byte mode.
func sizeTable(t testing.TB) string {
	var s strings.Builder
	s.WriteString("| payload | bytes | base45 chars | version L | M | Q | H | M, base64 in byte mode | M, raw bytes in byte mode |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range qrPayloads(t) {
		fmt.Fprintf(&s, "| %s | %d | %d |", p.name, len(p.b), len(Base45Encode(p.b)))
		for _, lvl := range []Level{L, M, Q, H} {
			c, err := QRCode(p.b, lvl)
			if err != nil {
				fmt.Fprintf(&s, " too big |")
				continue
			}
			fmt.Fprintf(&s, " %d (%d×%d) |", c.Version, c.Modules(), c.Modules())
		}
		for _, text := range []string{base64.StdEncoding.EncodeToString(p.b), string(p.b)} {
			c, err := qrCode(text, M, qr.Unicode)
			if err != nil {
				s.WriteString(" too big |")
			} else {
				fmt.Fprintf(&s, " %d |", c.Version)
			}
		}
		s.WriteString("\n")
	}
	return s.String()
}

const (
	docsPath  = "../../docs/CUSTODY.md"
	docsBegin = "<!-- begin idpay size table: generated by `go test ./custody/idpay -run TestSizeTableInDocs -update` -->\n"
	docsEnd   = "<!-- end idpay size table -->\n"
)

// TestSizeTableInDocs: the size table in docs/CUSTODY.md is what the code
// computes today.
func TestSizeTableInDocs(t *testing.T) {
	table := sizeTable(t)
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(doc, []byte(docsBegin))
	j := bytes.Index(doc, []byte(docsEnd))
	if i < 0 || j < i {
		if !*update {
			t.Fatalf("%s has no idpay size table markers; table:\n%s", docsPath, table)
		}
		t.Fatalf("add the markers to %s first", docsPath)
	}
	start := i + len(docsBegin)
	if string(doc[start:j]) == table {
		return
	}
	if !*update {
		t.Fatalf("the table in %s differs from the computed one; run with -update:\n%s", docsPath, table)
	}
	out := append(append(append([]byte(nil), doc[:start]...), table...), doc[j:]...)
	if err := os.WriteFile(docsPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
