package maskshare

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in    string
		scale uint8
		want  int64
		err   bool
	}{
		{"0", 2, 0, false},
		{"12.34", 2, 1234, false},
		{"-12.3", 2, -1230, false},
		{"+5", 3, 5000, false},
		{"5.", 1, 50, false},
		{".5", 1, 5, false},
		{"9223372036854775807", 0, math.MaxInt64, false},
		{"-9223372036854775808", 0, math.MinInt64, false},
		{"92233720368547758.07", 2, math.MaxInt64, false},
		{"9223372036854775808", 0, 0, true},
		{"92233720368547758.08", 2, 0, true},
		{"1.234", 2, 0, true}, // no silent rounding
		{"", 2, 0, true},
		{".", 2, 0, true},
		{"-", 2, 0, true},
		{"1e3", 0, 0, true},
		{"1,5", 1, 0, true},
		{" 1", 0, 0, true},
		{"1", 19, 0, true},
	}
	for _, tc := range cases {
		got, err := ParseDecimal(tc.in, tc.scale)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDecimal(%q, %d) = %d, %v; want %d, error %v", tc.in, tc.scale, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrDecimal) {
			t.Errorf("ParseDecimal(%q): error %v does not wrap ErrDecimal", tc.in, err)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	cases := []struct {
		v     int64
		scale uint8
		want  string
	}{
		{1234, 2, "12.34"}, {-5, 2, "-0.05"}, {0, 3, "0.000"}, {7, 0, "7"},
		{math.MinInt64, 2, "-92233720368547758.08"}, {math.MaxInt64, 18, "9.223372036854775807"},
	}
	for _, tc := range cases {
		if got := FormatDecimal(tc.v, tc.scale); got != tc.want {
			t.Errorf("FormatDecimal(%d, %d) = %q, want %q", tc.v, tc.scale, got, tc.want)
		}
	}
}

// FuzzParseDecimal checks that parsing never panics and that whatever parses
// formats back to a string that parses to the same value.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "12.34", "-0.05", "92233720368547758.07", "1e3", "."} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, scale uint8) {
		v, err := ParseDecimal(s, scale)
		if err != nil {
			return
		}
		back, err := ParseDecimal(FormatDecimal(v, scale), scale)
		if err != nil || back != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, FormatDecimal(v, scale), back, err)
		}
		if scale == 0 {
			if want, err := strconv.ParseInt(s, 10, 64); err == nil && want != v {
				t.Fatalf("%q parsed as %d, strconv says %d", s, v, want)
			}
		}
	})
}

func TestAddRowSchema(t *testing.T) {
	tb := NewTable(2)
	if err := tb.AddRow("a", 1); !errors.Is(err, ErrSchema) {
		t.Fatalf("AddRow with 1 of 2 values: %v", err)
	}
	if err := tb.AddRow("a", 1, 2); err != nil || tb.Len() != 1 {
		t.Fatalf("AddRow: %v, len %d", err, tb.Len())
	}
}

func TestParamsValidate(t *testing.T) {
	ok := testParams(3, 2)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(p *Params){
		func(p *Params) { p.Parties = p.Parties[:1] },
		func(p *Params) { p.Parties[1] = p.Parties[0] },
		func(p *Params) { p.Parties[1] = "" },
		func(p *Params) { p.Columns = nil },
		func(p *Params) { p.Columns[1].Name = p.Columns[0].Name },
		func(p *Params) { p.Columns[0].Scale = 2 },
		func(p *Params) { p.Columns[0] = Column{Name: "x", Type: Decimal, Scale: 19} },
		func(p *Params) { p.Columns[0].Type = 9 },
		func(p *Params) { p.Threshold = 1 },
		func(p *Params) { p.Threshold = 4 },
		func(p *Params) { p.Mode = 7 },
		func(p *Params) { p.Reveal = 7 },
		func(p *Params) { p.MinResultSize = -1 },
		func(p *Params) { p.BucketRows = MaxBucketRows + 1 },
		func(p *Params) { p.Mode, p.Threshold = OPRF, 2 },
		func(p *Params) { p.Mode, p.Threshold, p.BucketRows = OPRF, 0, MaxOPRFBucketRows+1 },
	}
	good := testParams(3, 2)
	good.Mode, good.Threshold, good.BucketRows = OPRF, 0, MaxOPRFBucketRows
	if err := good.Validate(); err != nil {
		t.Errorf("an oprf session with the largest buckets: %v", err)
	}
	for i, f := range bad {
		p := testParams(3, 2)
		f(&p)
		if err := p.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("case %d: Validate = %v, want ErrParams", i, err)
		}
	}
}

func TestEnumText(t *testing.T) {
	for _, m := range []PSIMode{Keyed, ECDH} {
		b, _ := m.MarshalText()
		var back PSIMode
		if err := back.UnmarshalText(b); err != nil || back != m {
			t.Fatalf("%v round trip: %v %v", m, back, err)
		}
	}
	var r RevealPolicy
	if err := r.UnmarshalText([]byte("totals")); err != nil || r != TotalsOnly {
		t.Fatal(r, err)
	}
	if err := r.UnmarshalText([]byte("everything")); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

func TestParamsJSON(t *testing.T) {
	in := `{"parties":["a","b"],"columns":[{"name":"balance","type":"decimal","scale":2},{"name":"n","type":"int64"}],"mode":"ecdh","threshold":2,"reveal":"totals"}`
	var p Params
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	if p.Mode != ECDH || p.Reveal != TotalsOnly || p.Columns[0].Type != Decimal || p.Columns[0].Scale != 2 || p.Threshold != 2 {
		t.Fatalf("decoded %+v", p)
	}
	if err := json.Unmarshal([]byte(`{"mode":"rsa"}`), &p); err == nil {
		t.Fatal("unknown mode accepted")
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Params
	if err := json.Unmarshal(out, &back); err != nil || diffParams(ptr(p.wire()), ptr(back.wire())) != "" {
		t.Fatalf("round trip %s: %v", out, err)
	}
}

func ptr[T any](v T) *T { return &v }

// A party list that differs is reported as such, not as the threshold
// mismatch it also causes when the threshold is the default (all parties).
func TestDiffParamsNamesTheParties(t *testing.T) {
	mine := Params{Parties: []string{"a", "b", "c"}, Columns: []Column{{Name: "x"}}}
	theirs := Params{Parties: []string{"a", "b", "c", "d"}, Columns: []Column{{Name: "x"}}}
	got := diffParams(ptr(mine.wire()), ptr(theirs.wire()))
	if !strings.Contains(got, "parties") || strings.Contains(got, "threshold") {
		t.Fatalf("diff %q, want the party lists named", got)
	}
}
