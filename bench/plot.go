package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/maskshare/maskshare"
)

// WriteScaling writes the scaling table: for each mode, time and bytes as
// the records grow (3 parties) and as the parties grow (s.PartyRecords
// records each).
func WriteScaling(w io.Writer, s Scaling, results []*Result) {
	fmt.Fprintln(w, "| mode | parties | records/party | result | wall s | CPU s | mask+agg s | peak heap MiB | msg B/record/party | wire B/record/party | coordinator MiB sent | × floor (keyed: join, ecdh: scalar muls) |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		c := r.Config
		fmt.Fprintf(w, "| %v | %d | %d | %d | %.3f | %.2f | %.3f | %s | %.1f | %s | %.1f | %s |\n",
			c.Mode, c.Parties, c.Records, r.Size, r.Wall, r.CPU, r.MaskAggregate, mib(r.PeakHeap),
			r.Bytes.PerRecordPerParty, orDash(r.Bytes.PerRecordPerPartyWire, "%.1f"),
			float64(r.Bytes.CoordSent)/(1<<20), ratio(r, mainRatio))
	}
}

// mainRatio is the end-to-end ratio of a run's target: to the plaintext
// join in keyed mode, to the scalar-multiplication floor in ecdh mode.
func mainRatio(x *Ratios) float64 {
	if x.EndToEndOverScalarMul > 0 {
		return x.EndToEndOverScalarMul
	}
	return x.EndToEndOverJoin
}

// point is one measurement on a plot.
type point struct{ x, y float64 }

// series is one line of a plot.
type series struct {
	name   string
	color  string
	dash   string // SVG stroke-dasharray; empty for a solid line
	points []point
}

// sortPoints orders s's points by x, for its line.
func (s *series) sortPoints() {
	slices.SortFunc(s.points, func(p, q point) int { return cmp.Compare(p.x, q.x) })
}

// rule is a horizontal reference line across a panel, such as a target.
type rule struct {
	y     float64
	label string
}

// panel is one plot: log-scale x, log-scale y.
type panel struct {
	title, xlabel, ylabel string
	series                []series
	rules                 []rule
}

var modeColors = map[maskshare.PSIMode]string{maskshare.Keyed: "#1f77b4", maskshare.ECDH: "#d62728", maskshare.OPRF: "#2ca02c"}

// ScalingSVG draws the scaling results as an SVG image of three plots: wall
// time against records per party (3 parties), wall time against parties,
// and message bytes per record per party against parties; one line per
// PSI mode, log-scale axes.
func ScalingSVG(s Scaling, results []*Result) []byte {
	byRecords := panel{title: "Wall time vs records (3 parties)", xlabel: "records per party", ylabel: "seconds"}
	byParties := panel{title: fmt.Sprintf("Wall time vs parties (%d records each)", s.PartyRecords), xlabel: "parties", ylabel: "seconds"}
	bytesParties := panel{title: fmt.Sprintf("Bytes sent vs parties (%d records each)", s.PartyRecords), xlabel: "parties", ylabel: "bytes per record per party"}
	for _, mode := range []maskshare.PSIMode{maskshare.Keyed, maskshare.ECDH} {
		a := series{name: mode.String(), color: modeColors[mode]}
		b, c := a, a
		for _, r := range results {
			if r.Config.Mode != mode {
				continue
			}
			if r.Config.Parties == 3 && slices.Contains(s.Records, r.Config.Records) {
				a.points = append(a.points, point{float64(r.Config.Records), r.Wall})
			}
			if r.Config.Records == s.PartyRecords && slices.Contains(s.Parties, r.Config.Parties) {
				b.points = append(b.points, point{float64(r.Config.Parties), r.Wall})
				c.points = append(c.points, point{float64(r.Config.Parties), r.Bytes.PerRecordPerParty})
			}
		}
		for _, sr := range []*series{&a, &b, &c} {
			sr.sortPoints()
		}
		byRecords.series = append(byRecords.series, a)
		byParties.series = append(byParties.series, b)
		bytesParties.series = append(bytesParties.series, c)
	}
	return svgPanels(byRecords, byParties, bytesParties)
}

// svgPanels draws the panels side by side as one SVG image.
func svgPanels(panels ...panel) []byte {
	const pw, ph = 400, 320
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		pw*len(panels), ph, pw*len(panels), ph)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, p := range panels {
		fmt.Fprintf(&b, `<g transform="translate(%d,0)">`+"\n", i*pw)
		p.draw(&b, pw, ph)
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// draw renders p into a pw × ph box.
func (p *panel) draw(b *strings.Builder, pw, ph float64) {
	const left, right, top, bottom = 62, 14, 28, 44
	w, h := pw-left-right, ph-top-bottom
	var xs, ys []float64
	for _, s := range p.series {
		for _, pt := range s.points {
			if pt.x > 0 && pt.y > 0 {
				xs, ys = append(xs, pt.x), append(ys, pt.y)
			}
		}
	}
	fmt.Fprintf(b, `<text x="%g" y="16" text-anchor="middle" font-size="13">%s</text>`+"\n", pw/2, esc(p.title))
	if len(xs) == 0 {
		fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">no data</text>`+"\n", pw/2, ph/2)
		return
	}
	for _, r := range p.rules {
		ys = append(ys, r.y) // in range, so that the data is seen against it
	}
	xlo, xhi := logRange(xs, false)
	ylo, yhi := logRange(ys, true)
	px := func(x float64) float64 { return left + w*(math.Log10(x)-xlo)/(xhi-xlo) }
	py := func(y float64) float64 { return top + h*(1-(math.Log10(y)-ylo)/(yhi-ylo)) }

	// Axes, grid and ticks.
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, w, h)
	for _, t := range xTicks(xs) {
		x := px(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%g" stroke="#ddd"/>`+"\n", x, top, x, top+h)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x, top+h+14, tickLabel(t))
	}
	for _, t := range yTicks(ylo, yhi) {
		y := py(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+w, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-4, y+4, tickLabel(t))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">%s (log scale)</text>`+"\n", left+w/2, ph-8, esc(p.xlabel))
	fmt.Fprintf(b, `<text transform="translate(14,%g) rotate(-90)" text-anchor="middle">%s (log scale)</text>`+"\n", top+h/2, esc(p.ylabel))

	// Reference lines, then the data over them.
	for _, r := range p.rules {
		y := py(r.y)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%g" y2="%.1f" stroke="#555" stroke-dasharray="2,3"/>`+"\n", left, y, left+w, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", left+w-4, y-4, esc(r.label))
	}

	// Lines, points and legend.
	for i, s := range p.series {
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		var pts []string
		for _, pt := range s.points {
			if pt.x > 0 && pt.y > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(pt.x), py(pt.y)))
			}
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.color, dash)
			for _, q := range pts {
				x, y, _ := strings.Cut(q, ",")
				fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, s.color)
			}
		}
		ly := float64(top + 14 + 16*i)
		fmt.Fprintf(b, `<line x1="%d" y1="%g" x2="%d" y2="%g" stroke="%s" stroke-width="2"%s/>`+"\n", left+8, ly-4, left+28, ly-4, s.color, dash)
		fmt.Fprintf(b, `<text x="%d" y="%g">%s</text>`+"\n", left+32, ly, esc(s.name))
	}
}

// logRange returns the log10 range of vs, padded; with whole decades if
// decades is set.
func logRange(vs []float64, decades bool) (lo, hi float64) {
	lo, hi = math.Log10(slices.Min(vs)), math.Log10(slices.Max(vs))
	if decades {
		lo, hi = math.Floor(lo), math.Ceil(hi)
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	pad := (hi - lo) * 0.05
	if decades {
		pad = 0
	}
	return lo - pad, hi + pad
}

// xTicks are the distinct x values measured.
func xTicks(xs []float64) []float64 {
	t := slices.Clone(xs)
	slices.Sort(t)
	return slices.Compact(t)
}

// yTicks are the powers of ten in [10^lo, 10^hi], with 2 and 5 times them
// when the range spans two decades or less.
func yTicks(lo, hi float64) []float64 {
	var t []float64
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range []float64{1, 2, 5} {
			if m != 1 && hi-lo > 2 {
				continue
			}
			v := m * math.Pow(10, e)
			if l := math.Log10(v); l >= lo-1e-9 && l <= hi+1e-9 {
				t = append(t, v)
			}
		}
	}
	return t
}

func tickLabel(v float64) string {
	switch {
	case v >= 1e6 && math.Mod(v, 1e6) == 0:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3 && math.Mod(v, 1e3) == 0:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
