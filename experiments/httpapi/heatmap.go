package httpapi

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/promolift/promolift/experiments"
)

// heatCell is one cell of a heatmap: a slice (row) × a column (a variant,
// or a channel in the hour × channel grid). Lift is the relative lift of
// the primary metric over control (nil when it cannot be computed; Note
// says why).
type heatCell struct {
	Row, Col    string
	Lift        *IntervalDTO
	Significant bool
	Units       int64
	Note        string
	// Title is the cell's tooltip (SVG <title>): slice, variant, lift, CI.
	Title string
}

// heatmapView is one heatmap and its legend.
type heatmapView struct {
	Dimension string
	SVG       template.HTML
	// Scale is the lift of the darkest colour, e.g. "±40.0%".
	Scale string
	// Cells and Significant count the cells drawn and those marked.
	Cells, Significant int
}

// Heatmap geometry, in SVG units (the SVG is drawn at this size and
// shrinks to fit narrower screens).
const (
	heatCellW = 96.0
	heatCellH = 26.0
	heatTop   = 24.0
)

// heatmap draws cells as a grid: one <rect class="cell"> per row × column
// coloured by lift (green above 0, red below, white at 0; the darkest
// colour at ±scale, the largest |lift| of the grid), outlined and starred
// when significant after correction, each with a <title>. rowLabel and
// colLabel turn keys into the labels drawn.
func heatmap(class, label string, rows, cols []string, cells map[[2]string]heatCell,
	rowLabel, colLabel func(string) string) heatmapView {
	scale := 0.0
	for _, c := range cells {
		if c.Lift != nil && !math.IsNaN(c.Lift.Estimate) && !math.IsInf(c.Lift.Estimate, 0) {
			scale = math.Max(scale, math.Abs(c.Lift.Estimate))
		}
	}
	scale = math.Max(scale, 0.01)
	longest := 0
	for _, r := range rows {
		longest = max(longest, len([]rune(rowLabel(r))))
	}
	left := math.Max(60, 8+7.2*float64(longest))
	w := left + heatCellW*float64(len(cols)) + 4
	h := heatTop + heatCellH*float64(len(rows)) + 4
	s := newSVG(w, h, class, label)
	s.fixed = true
	for j, col := range cols {
		s.text(left+heatCellW*(float64(j)+0.5), heatTop-8, "middle", "label", colLabel(col))
	}
	v := heatmapView{Scale: "±" + pct(scale)}
	for i, row := range rows {
		y := heatTop + heatCellH*float64(i)
		s.text(left-6, y+heatCellH/2+4, "end", "label", rowLabel(row))
		for j, col := range cols {
			c, ok := cells[[2]string{row, col}]
			if !ok {
				continue
			}
			x := left + heatCellW*float64(j)
			fill, dark := "#eef1f4", false
			text := "n/a"
			data := map[string]string{"row": row, "col": col, "lift": "", "significant": strconv.FormatBool(c.Significant)}
			if c.Lift != nil {
				t := c.Lift.Estimate / scale
				fill, dark = heatColour(t)
				text = signed(c.Lift.Estimate)
				data["lift"] = strconv.FormatFloat(c.Lift.Estimate, 'g', -1, 64)
			}
			cls := "cell"
			if c.Significant {
				cls = "cell sig"
				text = "★ " + text
				v.Significant++
			}
			v.Cells++
			s.cell(x+1, y+1, heatCellW-2, heatCellH-2, fill, cls, c.Title, data)
			tc := "cv"
			if dark {
				tc = "cv dark"
			}
			s.text(x+heatCellW/2, y+heatCellH/2+4, "middle", tc, text)
		}
	}
	v.SVG = s.HTML()
	return v
}

// heatColour is the fill of a cell whose lift is t of the scale (t in
// [-1, 1]): white to green for gains, white to red for losses; dark says
// the text on it should be light.
func heatColour(t float64) (string, bool) {
	t = math.Max(-1, math.Min(1, t))
	to := [3]float64{30, 142, 62} // --good
	if t < 0 {
		to = [3]float64{197, 34, 31} // --bad
	}
	a := math.Abs(t)
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(255 + (to[i]-255)*a))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]), a > 0.6
}

// liftCellTitle is the tooltip of a heatmap cell.
func liftCellTitle(where, variant string, cmp *SliceComparisonDTO, units int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · %s: ", where, variant)
	switch {
	case cmp == nil:
		b.WriteString("no data")
	case cmp.Relative == nil:
		b.WriteString("lift not available: " + plainCode(cmp.Error))
	default:
		fmt.Fprintf(&b, "lift %s, CI [%s, %s]", signed(cmp.Relative.Estimate), signed(cmp.Relative.CI[0]), signed(cmp.Relative.CI[1]))
		if cmp.Significant {
			b.WriteString(", significant after correction")
		} else {
			b.WriteString(", not significant")
		}
	}
	fmt.Fprintf(&b, " (%d units)", units)
	return b.String()
}

// primaryComparisons returns, per variant, the slice's comparison of the
// report's primary metric.
func primaryComparisons(resp *ReportResponse, s *SliceDTO) map[string]*SliceComparisonDTO {
	out := map[string]*SliceComparisonDTO{}
	for i := range s.Comparisons {
		c := &s.Comparisons[i]
		if c.Metric == resp.Headline.Metric {
			out[c.Variant] = c
		}
	}
	return out
}

// sliceUnits is the units of variant in a slice.
func sliceUnits(s *SliceDTO, variant string) int64 {
	for _, v := range s.Variants {
		if v.Key == variant {
			return v.Units
		}
	}
	return 0
}

// newHeatCell is the cell of variant in slice s.
func newHeatCell(row, col, where, variant string, s *SliceDTO, cmp *SliceComparisonDTO) heatCell {
	c := heatCell{Row: row, Col: col, Units: sliceUnits(s, variant)}
	if cmp != nil {
		c.Lift, c.Significant = cmp.Relative, cmp.Significant
		if cmp.Relative == nil {
			c.Note = plainCode(cmp.Error)
		}
	}
	c.Title = liftCellTitle(where, variant, cmp, c.Units)
	return c
}

// breakdownHeatmap is a dimension's heatmap: slices × non-control
// variants, coloured by the primary metric's lift.
func breakdownHeatmap(resp *ReportResponse, b *BreakdownDTO) heatmapView {
	var variants []string
	for _, v := range resp.Variants {
		if v.Key != resp.Analysis.Control {
			variants = append(variants, v.Key)
		}
	}
	var rows []string
	cells := map[[2]string]heatCell{}
	for i := range b.Slices {
		s := &b.Slices[i]
		rows = append(rows, s.Slice)
		cmps := primaryComparisons(resp, s)
		for _, v := range variants {
			cells[[2]string{s.Slice, v}] = newHeatCell(s.Slice, v, b.Dimension+" "+s.Slice, v, s, cmps[v])
		}
	}
	id := func(s string) string { return s }
	hm := heatmap("heat", "lift of "+resp.Headline.Metric+" by "+b.Dimension+" and variant", rows, variants, cells, id, id)
	hm.Dimension = b.Dimension
	return hm
}

// hourChannelHeatmap is the send-time grid: UTC hour of first exposure ×
// channel, coloured by the treatment's lift of the primary metric. Every
// hour gets a row, so gaps show.
func hourChannelHeatmap(resp *ReportResponse) *heatmapView {
	b := resp.HourChannel
	if b == nil || len(b.Slices) == 0 {
		return nil
	}
	var channels []string
	cells := map[[2]string]heatCell{}
	for i := range b.Slices {
		s := &b.Slices[i]
		hour, channel, ok := strings.Cut(s.Slice, "/")
		if !ok {
			continue
		}
		if !slices.Contains(channels, channel) {
			channels = append(channels, channel)
		}
		cmp := primaryComparisons(resp, s)[resp.Treatment]
		where := hourLabel(hour) + " UTC · " + channel
		cells[[2]string{hour, channel}] = newHeatCell(hour, channel, where, resp.Treatment, s, cmp)
	}
	slices.Sort(channels)
	rows := make([]string, 24)
	for h := range rows {
		rows[h] = fmt.Sprintf("%02d", h)
	}
	for i := range b.Slices { // a slice outside 00–23, e.g. (none)
		if hour, _, _ := strings.Cut(b.Slices[i].Slice, "/"); !slices.Contains(rows, hour) {
			rows = append(rows, hour)
		}
	}
	hm := heatmap("heat hourchannel", "lift of "+resp.Headline.Metric+" by hour of first exposure (UTC) and channel",
		rows, channels, cells, hourLabel, func(s string) string { return s })
	hm.Dimension = experiments.DimensionHourChannel
	return &hm
}

// hourLabel is "09:00" for the hour slice "09".
func hourLabel(h string) string {
	if len(h) == 2 && h[0] >= '0' && h[0] <= '2' && h[1] >= '0' && h[1] <= '9' {
		return h + ":00"
	}
	return h
}
