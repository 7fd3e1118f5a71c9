package psi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		foldCase bool
		want     string
		err      error
	}{
		{"plain", "DE89370400440532013000", false, "DE89370400440532013000", nil},
		{"ascii space", "  cust-0001\t\r\n", false, "cust-0001", nil},
		{"unicode space", "\u00a0\u2003cust-0001\u3000\u0085", false, "cust-0001", nil},
		{"inner space kept", " a  b ", false, "a  b", nil},
		{"zero width space is not white space", "\u200bab", false, "\u200bab", nil},
		{"NUL is kept", "a\x00", false, "a\x00", nil},
		{"case kept", "AbC", false, "AbC", nil},
		{"case folded", "AbC", true, "abc", nil},
		{"fold after trim", "  ÄBC  ", true, "äbc", nil},
		{"kelvin sign", "\u212a", true, "k", nil},
		{"kelvin sign unfolded", "\u212a", false, "\u212a", nil},
		{"long s", "\u017f", true, "s", nil},
		{"final sigma", "ς", true, "σ", nil},
		{"capital sigma", "Σ", true, "σ", nil},
		{"dotless i", "ı", true, "i", nil},
		{"sharp s is not expanded", "ß", true, "ß", nil},
		{"no NFC: precomposed", "é", true, "é", nil},
		{"no NFC: decomposed", "E\u0301", true, "e\u0301", nil},
		{"empty", "", false, "", ErrEmptyID},
		{"empty folded", "", true, "", ErrEmptyID},
		{"white space only", " \t\n\u00a0", true, "", ErrEmptyID},
		{"invalid byte", "\xff", false, "", ErrInvalidUTF8},
		{"invalid inside", "ab\xc3cd", true, "", ErrInvalidUTF8},
		{"truncated rune", "ab\xe2\x82", false, "", ErrInvalidUTF8},
		{"surrogate", "\xed\xa0\x80", false, "", ErrInvalidUTF8},
		{"invalid but otherwise blank", " \xff ", false, "", ErrInvalidUTF8},
		{"overlong encoding", "\xc0\xaf", false, "", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in, tt.foldCase)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeDistinguishes(t *testing.T) {
	// Spellings that must stay apart, or the intersection would merge
	// different customers.
	pairs := [][2]string{
		{"a b", "ab"},
		{"straße", "strasse"},
		{"é", "e\u0301"},
		{"0", "O"},
	}
	for _, p := range pairs {
		for _, fold := range []bool{false, true} {
			a, err := Normalize(p[0], fold)
			require.NoError(t, err)
			b, err := Normalize(p[1], fold)
			require.NoError(t, err)
			assert.NotEqual(t, a, b, "%q and %q (fold=%v)", p[0], p[1], fold)
		}
	}
}

func TestFoldRuneIsIdempotent(t *testing.T) {
	// Normalize documents idempotence; it rests on this property of the
	// Unicode tables of the Go release in use.
	for r := rune(0); r <= 0x10ffff; r++ {
		f := foldRune(r)
		if foldRune(f) != f {
			t.Fatalf("foldRune(foldRune(%U)) = %U, want %U", r, foldRune(f), f)
		}
	}
}
