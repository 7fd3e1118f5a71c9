package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
)

// fakeStream is a synthetic streaming result: records per party, session
// and join wall times, and the peak RSS in MiB of the coordinator and of
// each party.
func fakeStream(mode maskshare.PSIMode, records int, wall, join float64, coordMiB uint64, partyMiB ...uint64) *StreamResult {
	r := &StreamResult{
		Config: StreamConfig{Parties: len(partyMiB), Records: records, Overlap: 0.5, Columns: 4, Mode: mode,
			BucketRows: DefaultBucketRows, Seed: 1, MemoryLimit: DefaultStreamMemory},
		Wall: wall, Buckets: max(1, records/DefaultBucketRows), Size: records / 2, Verified: true,
		Coordinator:    Participant{Role: "coordinator", PeakRSS: coordMiB << 20, CPUUser: 1, CPUSys: 0.5},
		Join:           JoinRun{Wall: join, CPUUser: 2, CPUSys: 1, PeakRSS: 100 << 20, Method: "partitioned hash join"},
		OverJoin:       wall / join,
		BytesPerRecord: 34.5,
	}
	for i, m := range partyMiB {
		r.Parties = append(r.Parties, Participant{Role: "bank" + strconv.Itoa(i), PeakRSS: m << 20, CPUUser: 3, CPUSys: 1})
	}
	return r
}

// fakeStreams are three runs, out of order: keyed at 10^6 and 3·10^8
// records (its largest party over 1 GiB), ecdh at 3·10^7.
func fakeStreams() []*StreamResult {
	return []*StreamResult{
		fakeStream(maskshare.Keyed, 300_000_000, 9000, 4000, 300, 700, 1500, 650),
		fakeStream(maskshare.ECDH, 30_000_000, 20000, 400, 250, 600, 610, 620),
		fakeStream(maskshare.Keyed, 1_000_000, 20, 10, 120, 200, 210, 190),
	}
}

// TestStreamScalingTable checks one row per result, ordered by records,
// with the figures of its run: the largest party's peak RSS, the session's
// CPU time summed over its processes.
func TestStreamScalingTable(t *testing.T) {
	var b strings.Builder
	WriteStreamScaling(&b, fakeStreams())
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2+3 {
		t.Fatalf("%d lines, want a header, a rule and 3 rows:\n%s", len(lines), b.String())
	}
	cols := len(strings.Split(lines[0], "|"))
	var records []int
	for _, l := range lines[1:] {
		if n := len(strings.Split(l, "|")); n != cols {
			t.Errorf("row %q has %d cells, the header %d", l, n-2, cols-2)
		}
	}
	for _, l := range lines[2:] {
		n, err := strconv.Atoi(strings.TrimSpace(strings.Split(l, "|")[3]))
		if err != nil {
			t.Fatalf("row %q: records: %v", l, err)
		}
		records = append(records, n)
	}
	if want := []int{1_000_000, 30_000_000, 300_000_000}; !slices.Equal(records, want) {
		t.Errorf("rows ordered by records %v, want %v", records, want)
	}
	want := "| keyed | 3 | 300000000 | 1144 | 150000000 | 9000.00 | 4000.00 | 2.25× | 300 / 1500 / 100 | 34.5 | 13.5 / 3.0 |"
	if lines[4] != want {
		t.Errorf("row\n%s\nwant\n%s", lines[4], want)
	}
}

type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Panels  []struct {
		Texts     []string `xml:"text"`
		Polylines []struct {
			Points string `xml:"points,attr"`
			Stroke string `xml:"stroke,attr"`
			Dash   string `xml:"stroke-dasharray,attr"`
		} `xml:"polyline"`
		Lines []struct {
			Y1     float64 `xml:"y1,attr"`
			Stroke string  `xml:"stroke,attr"`
		} `xml:"line"`
	} `xml:"g"`
}

// parseSVG checks that b is one well-formed XML document and decodes it.
func parseSVG(t *testing.T, b []byte) *svgDoc {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// points returns a polyline's points.
func points(t *testing.T, s string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, f := range strings.Fields(s) {
		x, y, _ := strings.Cut(f, ",")
		px, err1 := strconv.ParseFloat(x, 64)
		py, err2 := strconv.ParseFloat(y, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("point %q", f)
		}
		out = append(out, [2]float64{px, py})
	}
	return out
}

// TestStreamScalingSVG checks the plot: well-formed, two panels with a
// line per mode and measure, named in the legend, each line through its
// runs in order of records, and the 1 GiB line between the RSS below and
// above it.
func TestStreamScalingSVG(t *testing.T) {
	doc := parseSVG(t, StreamScalingSVG(fakeStreams()))
	if len(doc.Panels) != 2 {
		t.Fatalf("%d panels, want 2", len(doc.Panels))
	}
	legends := [][]string{
		{"keyed (3 parties) session", "keyed (3 parties) join", "ecdh (3 parties) session", "ecdh (3 parties) join"},
		{"keyed (3 parties) coordinator", "keyed (3 parties) largest party", "ecdh (3 parties) coordinator", "ecdh (3 parties) largest party"},
	}
	titles := []string{"Session and join wall time (bucketed)", "Peak RSS per process (bucketed)"}
	for i, p := range doc.Panels {
		if p.Texts[0] != titles[i] {
			t.Errorf("panel %d title %q, want %q", i, p.Texts[0], titles[i])
		}
		if got := p.Texts[len(p.Texts)-4:]; !slices.Equal(got, legends[i]) {
			t.Errorf("panel %d legend %q, want %q", i, got, legends[i])
		}
		for _, tick := range []string{"1M", "30M", "300M", "records per party (log scale)"} {
			if !slices.Contains(p.Texts, tick) {
				t.Errorf("panel %d has no x label %q", i, tick)
			}
		}
		if len(p.Polylines) != 4 {
			t.Fatalf("panel %d: %d lines, want 4", i, len(p.Polylines))
		}
		for j, l := range p.Polylines {
			n := 2 // keyed: 10^6 and 3·10^8
			if j >= 2 {
				n = 1
			}
			pts := points(t, l.Points)
			if len(pts) != n || (n == 2 && pts[0][0] >= pts[1][0]) {
				t.Errorf("panel %d line %q: points %v", i, legends[i][j], pts)
			}
			if solid := j%2 == 0; solid != (l.Dash == "") {
				t.Errorf("panel %d line %q: dash %q", i, legends[i][j], l.Dash)
			}
		}
		// The keyed session and coordinator rise with the records (up is
		// a smaller y).
		if pts := points(t, p.Polylines[0].Points); pts[1][1] >= pts[0][1] {
			t.Errorf("panel %d: %q does not rise: %v", i, legends[i][0], pts)
		}
	}
	rssPanel := doc.Panels[1]
	if !slices.Contains(rssPanel.Texts, "1 GiB") || slices.Contains(doc.Panels[0].Texts, "1 GiB") {
		t.Errorf("the 1 GiB line is not on the RSS panel alone")
	}
	var rule []float64
	for _, l := range rssPanel.Lines {
		if l.Stroke == "#555" {
			rule = append(rule, l.Y1)
		}
	}
	if len(rule) != 1 {
		t.Fatalf("%d reference lines, want 1", len(rule))
	}
	// The keyed largest party: 210 MiB at 10^6, 1500 MiB at 3·10^8.
	party := points(t, rssPanel.Polylines[1].Points)
	if !(party[1][1] < rule[0] && rule[0] < party[0][1]) {
		t.Errorf("1 GiB at y=%v is not between 210 MiB (y=%v) and 1500 MiB (y=%v)", rule[0], party[0][1], party[1][1])
	}
}

// TestReadStreamResults reads results from two files: a configuration run
// twice gives its median run, and a file with an invalid result is
// refused.
func TestReadStreamResults(t *testing.T) {
	dir := t.TempDir()
	rs := fakeStreams()
	again := fakeStream(maskshare.Keyed, 1_000_000, 25, 10, 120, 200, 210, 190)
	slow := fakeStream(maskshare.Keyed, 1_000_000, 40, 10, 120, 200, 210, 190)
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if err := WriteJSON(a, rs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(b, []*StreamResult{slow, rs[2], again}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStreamResults(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d results, want 3", len(got))
	}
	if got[2].Config.Records != 1_000_000 || got[2].Wall != 25 {
		t.Errorf("the run at 10^6 records: %d records, %v s; want the median, 25 s", got[2].Config.Records, got[2].Wall)
	}

	bad := fakeStream(maskshare.OPRF, 1000, 1, 1, 1, 1, 1)
	bad.Config.BucketRows = maskshare.MaxOPRFBucketRows + 1
	if err := WriteJSON(b, []*StreamResult{bad}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStreamResults(a, b); err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Errorf("a streaming result of an invalid configuration: error %v", err)
	}
}

// FuzzDecodeStreamResults checks that what the decoder accepts is what the
// table and plot rely on, and that they draw it.
func FuzzDecodeStreamResults(f *testing.F) {
	for _, r := range fakeStreams() {
		dir := f.TempDir()
		p := filepath.Join(dir, "r.json")
		if err := WriteJSON(p, []*StreamResult{r}); err != nil {
			f.Fatal(err)
		}
		s, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add([]byte(`[null]`))
	f.Add([]byte(`[{"config":{"parties":2,"records":1,"overlap":1,"columns":1,"mode":"keyed","bucket_rows":1},"parties":[{},{}],"session_wall_seconds":-1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := decodeStreamResults(data)
		if err != nil {
			return
		}
		for _, r := range rs {
			if err := r.Config.Validate(); err != nil || len(r.Parties) != r.Config.Parties || r.Wall < 0 {
				t.Fatalf("accepted %+v", r)
			}
		}
		var tab strings.Builder
		WriteStreamScaling(&tab, rs)
		if got := strings.Count(tab.String(), "\n"); got != 2+len(rs) {
			t.Errorf("table of %d results has %d lines", len(rs), got)
		}
		parseSVG(t, StreamScalingSVG(rs))
	})
}
