package httpapi

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi float64
		want   []float64
	}{
		{"lift range", -0.79, 1.12, []float64{-0.5, 0, 0.5, 1}},
		{"small", -0.013, 0.021, []float64{-0.01, 0, 0.01, 0.02}},
		{"positive", 0.02, 0.09, []float64{0.02, 0.04, 0.06, 0.08}},
		{"flat", 0.1, 0.1, []float64{0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := niceTicks(tc.lo, tc.hi, 5)
			if len(got) != len(tc.want) {
				t.Fatalf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			}
			for i := range got {
				if d := got[i] - tc.want[i]; d > 1e-12 || d < -1e-12 {
					t.Fatalf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				}
			}
		})
	}
}

func TestLiftChartNoteWhileTooLittleData(t *testing.T) {
	day := func(d string, valid bool) SeriesPointDTO {
		return SeriesPointDTO{Date: d, Lifts: []SeriesLiftDTO{{Variant: "b", Valid: valid, Estimate: 0.1, CI: [2]float64{-0.2, 0.4}}}}
	}
	for _, tc := range []struct {
		name     string
		series   []SeriesPointDTO
		note     bool
		band     bool
		errorBar bool
	}{
		{"no day", nil, true, false, false},
		{"one day", []SeriesPointDTO{day("2026-03-01", true)}, true, false, true},
		{"two days", []SeriesPointDTO{day("2026-03-01", true), day("2026-03-02", true)}, true, true, false},
		{"three days", []SeriesPointDTO{day("2026-03-01", true), day("2026-03-02", true), day("2026-03-03", true)}, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := liftSeriesChart(tc.series, "b")
			svg := string(c.SVG)
			if (c.Note != "") != tc.note {
				t.Errorf("note %q, want one: %v", c.Note, tc.note)
			}
			if strings.Contains(svg, "<polygon") != tc.band {
				t.Errorf("band drawn %v, want %v", !tc.band, tc.band)
			}
			if strings.Count(svg, `class="ci"`) == 3 != tc.errorBar {
				t.Errorf("error bar drawn %v, want %v", !tc.errorBar, tc.errorBar)
			}
		})
	}
}

// labelBoxes are the x extents of the axis labels of an SVG chart at 12px
// (about 6.6 units per character), by their baseline y.
func labelBoxes(svg string) map[string][][2]float64 {
	re := regexp.MustCompile(`<text x="([-0-9.]+)" y="([-0-9.]+)" text-anchor="(start|middle|end)" class="axis">([^<]*)</text>`)
	out := map[string][][2]float64{}
	for _, m := range re.FindAllStringSubmatch(svg, -1) {
		x := parseF(m[1])
		w := 6.6 * float64(len([]rune(m[4])))
		lo := x
		switch m[3] {
		case "middle":
			lo = x - w/2
		case "end":
			lo = x - w
		}
		out[m[2]] = append(out[m[2]], [2]float64{lo, lo + w})
	}
	return out
}

func parseF(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

func TestLiftChartAxisLabelsDoNotOverlap(t *testing.T) {
	for _, days := range []int{1, 2, 7, 8, 14, 31, 60} {
		var series []SeriesPointDTO
		for i := range days {
			d := rptStart.AddDate(0, 0, i).Format("2006-01-02")
			series = append(series, SeriesPointDTO{Date: d, Lifts: []SeriesLiftDTO{{Variant: "b", Valid: true, Estimate: 0.05 * float64(i%3), CI: [2]float64{-0.3, 0.6}}}})
		}
		svg := string(liftSeriesChart(series, "b").SVG)
		rows := labelBoxes(svg)
		for y, boxes := range rows {
			slices.SortFunc(boxes, func(a, b [2]float64) int { return int(a[0] - b[0]) })
			for i := 1; i < len(boxes); i++ {
				if boxes[i][0] < boxes[i-1][1]+4 {
					t.Errorf("%d days: labels at y=%s overlap: %v", days, y, boxes)
				}
			}
		}
		if len(rows) < 3 {
			t.Errorf("%d days: %d label rows, want y ticks and dates", days, len(rows))
		}
	}
}

// rawCodes are codes that must never reach a reader.
var rawCodes = regexp.MustCompile(`srm: |low_expected_count|no_units|insufficient_sample|zero_variance|baseline_zero|units_in_zero_weight_arm|>draft<|>running<`)

func TestReportPageSpeaksPlainly(t *testing.T) {
	e := newReportEnv(t)
	// A running experiment with a handful of units: the split check and
	// the lift cannot be computed yet, and the page says why in words.
	ctx := context.Background()
	admin := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	x := &experiments.Experiment{Key: "tiny", Coverage: 1, PrimaryMetric: "purchase", Variants: []experiments.Variant{
		{Key: "control", Weight: 0.5}, {Key: "b", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 5}}}}
	if err := e.svc.CreateExperiment(ctx, admin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Transition(ctx, admin, "tiny", experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	var evs []experiments.Event
	for i, v := range []string{"control", "b", "b"} {
		u := "tiny-u" + strconv.Itoa(i)
		evs = append(evs, experiments.Event{ID: "tiny-x-" + u, Type: experiments.EventExposure, UnitID: u,
			Timestamp: rptNow.Add(-time.Hour), Experiment: "tiny", Variant: v})
	}
	if _, err := e.svc.IngestEvents(ctx, admin, evs); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/experiments/tiny", "/experiments/draft-test", "/experiments"} {
		_, body := e.get(t, path, e.analyst)
		page := string(body)
		if m := rawCodes.FindAllString(page, -1); len(m) > 0 {
			t.Errorf("%s shows raw codes %q", path, m)
		}
	}
	_, body := e.get(t, "/experiments/tiny", e.analyst)
	for _, want := range []string{"Traffic split check: too few customers yet", "Too little data for a trend yet", ">Running<"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/experiments/tiny lacks %q", want)
		}
	}
}

func TestForestAxisLabelsDoNotOverlap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi float64
	}{{"barely below zero", -0.002, 1.6}, {"barely above zero", -1.2, 0.003}, {"both sides", -0.5, 0.6}} {
		t.Run(tc.name, func(t *testing.T) {
			rel := &stats.RelativeOutput{Estimate: (tc.lo + tc.hi) / 2, SE: 0.1, CI: [2]float64{tc.lo, tc.hi}}
			out := &stats.AnalyzeOutput{Metrics: []stats.MetricOutput{{Key: "purchase", Comparisons: []stats.ComparisonOutput{{Variant: "b", Relative: rel}}}}}
			svg := string(forestPlot(out))
			for y, boxes := range labelBoxes(svg) {
				slices.SortFunc(boxes, func(a, b [2]float64) int { return int(a[0] - b[0]) })
				for i := 1; i < len(boxes); i++ {
					if boxes[i][0] < boxes[i-1][1]+4 {
						t.Errorf("labels at y=%s overlap: %v", y, boxes)
					}
				}
			}
		})
	}
}
