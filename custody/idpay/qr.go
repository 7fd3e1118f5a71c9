package idpay

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// Level is a QR error-correction level: L, M, Q or H recover about 7, 15,
// 25 and 30 per cent of damaged codewords.
type Level byte

const (
	L Level = iota
	M
	Q
	H
)

func (l Level) String() string { return [...]string{"L", "M", "Q", "H", "?"}[min(int(l), 4)] }

func (l Level) qr() (qr.ErrorCorrectionLevel, error) {
	switch l {
	case L:
		return qr.L, nil
	case M:
		return qr.M, nil
	case Q:
		return qr.Q, nil
	case H:
		return qr.H, nil
	}
	return 0, fmt.Errorf("%w: QR level %d", ErrInvalid, l)
}

// DefaultLevel is the error-correction level of [QRCode]: M, which fits an
// offline request or acceptance in a version a phone camera reads easily.
const DefaultLevel = M

// Code is a QR code carrying a payload.
type Code struct {
	Text    string // the base45 text in the code
	Version int    // QR version 1..40
	Level   Level
	modules image.Image
}

// QRCode encodes payload as base45 text in a QR code (alphanumeric mode) at
// level. It fails if the payload does not fit in version 40.
func QRCode(payload []byte, level Level) (*Code, error) {
	return qrCode(Base45Encode(payload), level, qr.AlphaNumeric)
}

func qrCode(text string, level Level, mode qr.Encoding) (*Code, error) {
	l, err := level.qr()
	if err != nil {
		return nil, err
	}
	bc, err := qr.Encode(text, l, mode)
	if err != nil {
		return nil, fmt.Errorf("idpay: QR encoding: %w", err)
	}
	dim := bc.Bounds().Dx()
	return &Code{Text: text, Version: (dim - 17) / 4, Level: level, modules: bc}, nil
}

// Modules returns the size of the code in modules, without quiet zone.
func (c *Code) Modules() int { return c.modules.Bounds().Dx() }

// quietZone is the white border, in modules, that ISO/IEC 18004 requires.
const quietZone = 4

// PNG renders the code with scale pixels per module and the quiet zone.
func (c *Code) PNG(scale int) ([]byte, error) {
	if scale < 1 || scale > 64 {
		return nil, fmt.Errorf("%w: scale %d", ErrInvalid, scale)
	}
	n := c.Modules()
	side := (n + 2*quietZone) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	b := c.modules.Bounds()
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if g := color.GrayModel.Convert(c.modules.At(b.Min.X+x, b.Min.Y+y)).(color.Gray); g.Y < 0x80 {
				for dy := 0; dy < scale; dy++ {
					row := ((y+quietZone)*scale + dy) * img.Stride
					for dx := 0; dx < scale; dx++ {
						img.Pix[row+(x+quietZone)*scale+dx] = 0
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
