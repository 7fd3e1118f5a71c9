package mpcsign

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/maskshare/maskshare/internal/tooltest"
)

// TestQRCodeDecodes shows the provisioning URI as a QR code PNG and reads
// it back with decoders this project did not write: gozxing (a Go port of
// ZXing) always, and zbarimg when installed (required with
// MASKSHARE_REQUIRE_TOOLS=1).
func TestQRCodeDecodes(t *testing.T) {
	key, err := NewTOTPKey("alice@wallet", 6, 30)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.URL(), "otpauth://totp/") || key.Period() != 30 {
		t.Fatalf("URI %q", key.URL())
	}
	var buf bytes.Buffer
	if err := WriteQR(&buf, key, 256); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("gozxing: %v", err)
	}
	if res.GetText() != key.URL() {
		t.Fatalf("gozxing read %q, want %q", res.GetText(), key.URL())
	}
	// The URI carries the secret the nodes hold: the code the device
	// computes from the scanned URI is the nodes' code.
	secret, err := totpSecret(key)
	if err != nil || len(secret) != 20 {
		t.Fatalf("secret: %v", err)
	}

	// Read with gozxing above; zbarimg, a decoder this project did not
	// write in another language, reads it too.
	path := filepath.Join(t.TempDir(), "totp.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := tooltest.ReadQR(t, path); got != key.URL() {
		t.Fatalf("zbarimg read %q, want %q", got, key.URL())
	}
}
