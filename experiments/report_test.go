package experiments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/stats"
)

var (
	reportStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	reportNow   = time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	reportAdmin = experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
)

// lcg is a tiny deterministic generator for the seeded dataset.
type lcg uint64

func (g *lcg) float() float64 {
	*g = *g*6364136223846793005 + 1442695040888963407
	return float64(uint64(*g)>>11) / (1 << 53)
}

// truth are the per-variant counts the seeded events imply, computed
// without the store.
type truth struct {
	units, converted map[string]int64
	revenue          map[string]float64
	orders           map[string][]float64 // each order's revenue
	multiple         int64
}

// seedReport creates a running three-arm personalization experiment and
// ingests a deterministic week of exposures and conversions; opts adjust
// the experiment before it is created.
func seedReport(t *testing.T, svc *experiments.Service, key string, rates [3]float64, n int, opts ...func(*experiments.Experiment)) truth {
	t.Helper()
	ctx := context.Background()
	svc.SetClock(func() time.Time { return reportStart })
	x := &experiments.Experiment{Key: key, Coverage: 1, PrimaryMetric: "purchase",
		SecondaryMetrics: []string{"add_to_cart"}, GuardrailMetrics: []string{"refund"},
		Segments: []string{"country"}, Personalization: true, MinROI: 0,
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.34, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.33, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"}},
			{Key: "personalized_offer", Weight: 0.33, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"}},
		}}
	for _, o := range opts {
		o(x)
	}
	if err := svc.CreateExperiment(ctx, reportAdmin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, reportAdmin, key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	svc.SetClock(func() time.Time { return reportNow })
	tr := truth{units: map[string]int64{}, converted: map[string]int64{}, revenue: map[string]float64{}, orders: map[string][]float64{}}
	g := lcg(42)
	countries := []string{"KR", "JP", "US"}
	channels := []string{"push", "email", "web"}
	var events []experiments.Event
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("u%04d", i)
		vi := 0
		switch r := g.float(); {
		case r < 0.34:
			vi = 0
		case r < 0.67:
			vi = 1
		default:
			vi = 2
		}
		v := x.Variants[vi].Key
		at := reportStart.Add(time.Duration(g.float()*7*24*3600) * time.Second)
		ev := experiments.Event{ID: "x-" + u, Type: experiments.EventExposure, UnitID: u, Timestamp: at,
			Experiment: key, Variant: v, Channel: channels[i%3], Attributes: map[string]string{"country": countries[(i/3)%3]}}
		events = append(events, ev)
		if i%97 == 13 { // a unit seen in two variants
			ev2 := ev
			ev2.ID, ev2.Variant, ev2.Timestamp = "x2-"+u, x.Variants[(vi+1)%3].Key, at.Add(time.Minute)
			events = append(events, ev2)
			tr.multiple++
			continue
		}
		tr.units[v]++
		if i%5 == 0 { // a repeated exposure to the same variant
			ev3 := ev
			ev3.ID, ev3.Timestamp = "x3-"+u, at.Add(time.Hour)
			events = append(events, ev3)
		}
		if g.float() < 0.3 {
			events = append(events, experiments.Event{ID: "a-" + u, Type: experiments.EventConversion, UnitID: u,
				Timestamp: at.Add(10 * time.Minute), Name: "add_to_cart"})
		}
		if g.float() < 0.02 {
			events = append(events, experiments.Event{ID: "r-" + u, Type: experiments.EventConversion, UnitID: u,
				Timestamp: at.Add(20 * time.Minute), Name: "refund"})
		}
		if g.float() < rates[vi] {
			tr.converted[v]++
			orders := 1
			if g.float() < 0.2 {
				orders = 2
			}
			for o := 0; o < orders; o++ {
				rev := int64(3000 + math.Floor(g.float()*4000))
				var cost *int64
				if vi > 0 {
					c := rev / 10
					cost = &c
				}
				events = append(events, experiments.Event{ID: fmt.Sprintf("p-%s-%d", u, o), Type: experiments.EventConversion,
					UnitID: u, Timestamp: at.Add(time.Duration(30+o*60) * time.Minute), Name: "purchase",
					Revenue: rev, PromotionCost: cost, Currency: "USD", OrderID: fmt.Sprintf("o-%s-%d", u, o)})
				tr.revenue[v] += float64(rev)
				tr.orders[v] = append(tr.orders[v], float64(rev))
			}
		}
	}
	for len(events) > 0 {
		k := min(len(events), 500)
		out, err := svc.IngestEvents(ctx, experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}, events[:k])
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Status != experiments.EventAccepted {
				t.Fatalf("event %s: %s %v", o.EventID, o.Status, o.Err)
			}
		}
		events = events[k:]
	}
	return tr
}

func newReportService(t *testing.T) *experiments.Service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return experiments.NewService(st, nil)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReportEqualsAnalyze(t *testing.T) {
	svc := newReportService(t)
	tr := seedReport(t, svc, "spring-sale", [3]float64{0.10, 0.14, 0.18}, 1500)
	r, err := svc.Report(context.Background(), "spring-sale", experiments.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The report's analysis is stats.Analyze on its input, also after the
	// input went through JSON as `promolift analyze` reads it.
	in := r.AnalyzeInput()
	doc := mustJSON(t, in)
	decoded, err := stats.DecodeAnalyzeInput(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	out, err := stats.Analyze(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, r.Analysis), mustJSON(t, out); !bytes.Equal(got, want) {
		t.Fatalf("report analysis differs from stats.Analyze(AnalyzeInput)\n got %s\nwant %s", got, want)
	}
	// Counts agree with the dataset.
	if r.MultipleExposed != tr.multiple {
		t.Errorf("MultipleExposed = %d, want %d", r.MultipleExposed, tr.multiple)
	}
	for _, v := range r.Variants {
		if v.Units != tr.units[v.Key] || v.Converted != tr.converted[v.Key] || v.Revenue != tr.revenue[v.Key] {
			t.Errorf("%s: units %d converted %d revenue %v; want %d %d %v", v.Key, v.Units, v.Converted, v.Revenue,
				tr.units[v.Key], tr.converted[v.Key], tr.revenue[v.Key])
		}
		if v.Units > 0 && math.Abs(v.ConversionRate-float64(v.Converted)/float64(v.Units)) > 1e-15 {
			t.Errorf("%s: rate %v", v.Key, v.ConversionRate)
		}
		if (v.Key == "control") != (v.Redemptions == 0) || v.Key != "control" && v.Redemptions != v.Conversions {
			t.Errorf("%s: redemptions %v conversions %v", v.Key, v.Redemptions, v.Conversions)
		}
		if v.Conversions > 0 && v.AverageOrderValue != v.Revenue/v.Conversions {
			t.Errorf("%s: AOV %v", v.Key, v.AverageOrderValue)
		}
	}
	// The stats input has the documented metrics and personalization.
	var keys []string
	for _, m := range in.Metrics {
		keys = append(keys, m.Key+":"+m.Type+":"+m.Role)
	}
	wantKeys := "purchase:proportion:primary purchase_revenue:mean:secondary add_to_cart:proportion:secondary refund:proportion:guardrail"
	if strings.Join(keys, " ") != wantKeys {
		t.Errorf("metrics %q, want %q", strings.Join(keys, " "), wantKeys)
	}
	if in.ROIMetric != "purchase_revenue" || in.Personalization == nil || in.Personalization.Personalized != "personalized_offer" || in.Personalization.Generic != "ten_off" {
		t.Errorf("roi %q personalization %+v", in.ROIMetric, in.Personalization)
	}
	if r.Analysis.PersonalizationLift == nil || r.Analysis.ROI == nil || r.NetIncrementalRevenue == nil {
		t.Fatalf("missing ROI or personalization lift")
	}
	if r.NetIncrementalRevenue.Estimate != r.Analysis.ROI.Net {
		t.Errorf("net %v vs %v", r.NetIncrementalRevenue.Estimate, r.Analysis.ROI.Net)
	}
	// Personalization: the ROI of both arms, the value over ten_off; the
	// SQLite store reports spend per variant and capped units.
	if len(r.ArmROI) != 2 || r.ArmROI[0].Variant != "ten_off" || r.ArmROI[1].Variant != "personalized_offer" {
		t.Errorf("arm ROI %+v", r.ArmROI)
	}
	if pv := r.PersonalizationValue; pv == nil || pv.Personalized != "personalized_offer" || pv.BestGeneric != "ten_off" ||
		pv.Value.Estimate != pv.Difference.Estimate*pv.Units {
		t.Errorf("personalization value %+v", pv)
	}
	if len(r.Spend) != 3 || r.CappedUnits == nil || *r.CappedUnits != 0 {
		t.Errorf("spend %+v capped %v", r.Spend, r.CappedUnits)
	}
	hasHour := false
	for _, b := range r.Breakdowns {
		hasHour = hasHour || b.Dimension == experiments.DimensionHour
	}
	if !hasHour {
		t.Errorf("no hour breakdown")
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "more than one variant") {
		t.Errorf("warnings %q lack the multiple-exposure note", r.Warnings)
	}
	// SQLite computes cohorts: as of now (day 7.5) only week 1 of the
	// units exposed in the first half day is over, in the variants' order.
	if !r.Cohorts.Available || r.Cohorts.Note == "" || len(r.Cohorts.Rows) != 3 {
		t.Fatalf("cohorts %+v: want available with a note and one row per variant", r.Cohorts)
	}
	for i, c := range r.Cohorts.Rows {
		if c.Variant != r.Experiment.Variants[i].Key || c.Week != 1 || c.Units <= 0 || c.Rate != float64(c.Repurchasers)/float64(c.Units) {
			t.Errorf("cohort row %d: %+v", i, c)
		}
	}
}

func TestReportBreakdownsAndSeries(t *testing.T) {
	svc := newReportService(t)
	seedReport(t, svc, "spring-sale", [3]float64{0.10, 0.14, 0.18}, 1200)
	r, err := svc.Report(context.Background(), "spring-sale", experiments.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, v := range r.Variants {
		total += v.Units
	}
	if len(r.Breakdowns) != 3 || r.Breakdowns[0].Dimension != "country" || r.Breakdowns[1].Dimension != "channel" || r.Breakdowns[2].Dimension != "hour" {
		t.Fatalf("breakdowns %+v", r.Breakdowns)
	}
	for _, b := range r.Breakdowns {
		if b.Dimension != "hour" && len(b.Slices) != 3 || b.Dimension == "hour" && (len(b.Slices) == 0 || len(b.Slices) > 24) {
			t.Errorf("%s: %d slices, want 3", b.Dimension, len(b.Slices))
		}
		var sum int64
		for _, s := range b.Slices {
			sum += s.Units
			out, err := stats.Analyze(s.Input)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustJSON(t, out), mustJSON(t, s.Analysis)) {
				t.Errorf("%s=%s: analysis differs from stats.Analyze(Input)", b.Dimension, s.Slice)
			}
			for _, c := range s.Comparisons {
				if c.AdjustedPValue < c.PValue || c.AdjustedPValue > 1 || c.Significant != (c.AdjustedPValue < 0.05) {
					t.Errorf("%s=%s %s/%s: p %v adjusted %v significant %v", b.Dimension, s.Slice, c.Metric, c.Variant, c.PValue, c.AdjustedPValue, c.Significant)
				}
			}
		}
		if sum != total {
			t.Errorf("%s: slices hold %d units, want %d", b.Dimension, sum, total)
		}
		// Holm across the slices: the smallest p-value is multiplied by
		// their number.
		minP, minAdj := 2.0, 0.0
		for _, s := range b.Slices {
			for _, c := range s.Comparisons {
				if c.Metric == "purchase" && c.Variant == "ten_off" && c.PValue < minP {
					minP, minAdj = c.PValue, c.AdjustedPValue
				}
			}
		}
		if want := math.Min(1, float64(len(b.Slices))*minP); math.Abs(minAdj-want) > 1e-12 {
			t.Errorf("%s: Holm of the smallest p %v = %v, want %v", b.Dimension, minP, minAdj, want)
		}
	}
	// Mar 1 .. Mar 8: eight cumulative points, the last equal to the report.
	if len(r.Series) != 8 {
		t.Fatalf("series has %d points, want 8", len(r.Series))
	}
	for i := 1; i < len(r.Series); i++ {
		if r.Series[i].Units < r.Series[i-1].Units {
			t.Errorf("series units decrease at %d", i)
		}
	}
	last := r.Series[len(r.Series)-1]
	if last.Units != total {
		t.Errorf("last point units %d, want %d", last.Units, total)
	}
	for _, l := range last.Lifts {
		var c *stats.ComparisonOutput
		for i := range r.Analysis.Metrics[0].Comparisons {
			if r.Analysis.Metrics[0].Comparisons[i].Variant == l.Variant {
				c = &r.Analysis.Metrics[0].Comparisons[i]
			}
		}
		if c == nil || c.Relative == nil || c.Relative.Estimate != l.Estimate || c.Relative.CI != l.CI {
			t.Errorf("last point %+v differs from the report's comparison", l)
		}
	}
}

func TestReportMultipleExposureOption(t *testing.T) {
	svc := newReportService(t)
	tr := seedReport(t, svc, "spring-sale", [3]float64{0.1, 0.1, 0.1}, 400)
	ctx := context.Background()
	if _, err := svc.Report(ctx, "spring-sale", experiments.ReportOptions{MultipleExposure: "bogus"}); !errIsInvalid(err) {
		t.Fatalf("bogus option: %v", err)
	}
	if _, err := svc.Report(ctx, "nope", experiments.ReportOptions{}); err == nil {
		t.Fatal("unknown experiment: no error")
	}
	r, err := svc.Report(ctx, "spring-sale", experiments.ReportOptions{MultipleExposure: experiments.MultipleFirst, NoSeries: true, NoBreakdowns: true})
	if err != nil {
		t.Fatal(err)
	}
	var units, want int64
	for _, v := range r.Variants {
		units += v.Units
		want += tr.units[v.Key]
	}
	if units != want+tr.multiple {
		t.Errorf("first: %d units, want %d", units, want+tr.multiple)
	}
	if r.Series != nil || r.Breakdowns != nil {
		t.Errorf("NoSeries/NoBreakdowns ignored")
	}
}

func errIsInvalid(err error) bool {
	return err != nil && experiments.KindOf(err) == experiments.KindInvalid
}

// analyzeFor builds an analysis of a two-arm experiment: n units per arm
// (nt in treatment when > 0), x conversions, revenue per converter rev and
// a guardrail with g conversions per arm.
func analyzeFor(t *testing.T, nc, nt, xc, xt, revc, revt, cost float64, gc, gt float64) stats.AnalyzeOutput {
	t.Helper()
	sq := func(sum, per float64) *float64 { v := sum * per; return &v }
	in := stats.AnalyzeInput{Control: "control",
		Variants: []stats.VariantInput{{Key: "control", Weight: 0.5, Units: nc}, {Key: "ten_off", Weight: 0.5, Units: nt, PromotionCost: cost}},
		Metrics: []stats.MetricInput{
			{Key: "purchase", Type: "proportion", Role: "primary", Stats: map[string]stats.ArmStats{"control": {Sum: xc}, "ten_off": {Sum: xt}}},
			{Key: "purchase_revenue", Type: "mean", Role: "secondary", Stats: map[string]stats.ArmStats{
				"control": {Sum: xc * revc, SumSquares: sq(xc*revc, revc)}, "ten_off": {Sum: xt * revt, SumSquares: sq(xt*revt, revt)}}},
			{Key: "refund", Type: "proportion", Role: "guardrail", Stats: map[string]stats.ArmStats{"control": {Sum: gc}, "ten_off": {Sum: gt}}},
		},
		ROIMetric: "purchase_revenue"}
	out, err := stats.Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecide(t *testing.T) {
	exp := func(minROI float64) *experiments.Experiment {
		return &experiments.Experiment{Key: "e", PrimaryMetric: "purchase", MinROI: minROI,
			Variants: []experiments.Variant{{Key: "control"}, {Key: "ten_off"}}}
	}
	cases := []struct {
		name   string
		minROI float64
		days   float64
		out    func(t *testing.T) stats.AnalyzeOutput
		action string
		code   string
		days2  int // DaysNeeded, -1 for "> 0"
	}{
		{"srm", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10000, 11000, 1000, 1300, 5000, 5000, 1000, 10, 10)
		}, "stop", "srm", 0},
		{"guardrail hurt", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10000, 10000, 1000, 1300, 5000, 5000, 1000, 100, 200)
		}, "stop", "guardrail_hurt", 0},
		{"ship", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10000, 10000, 1000, 1300, 5000, 5000, 100000, 100, 100)
		}, "ship", "ship", 0},
		{"ship without cost", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10000, 10000, 1000, 1300, 5000, 5000, 0, 100, 100)
		}, "ship", "ship", 0},
		{"roi below target", 0.5, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10000, 10000, 1000, 1300, 5000, 5000, 1200000, 100, 100)
		}, "stop", "roi_below_target", 0},
		{"primary negative", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10000, 10000, 1300, 1000, 5000, 5000, 1000, 100, 100)
		}, "stop", "primary_negative", 0},
		{"underpowered", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 1000, 1000, 100, 110, 5000, 5000, 1000, 10, 10)
		}, "keep_running", "underpowered", -1},
		{"no effect", 0, 7, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 100000, 100000, 10000, 10000, 5000, 5000, 1000, 100, 100)
		}, "stop", "no_effect", 0},
		{"too small to detect", 0, 300, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 1000, 1000, 100, 101, 5000, 5000, 1000, 10, 10)
		}, "stop", "too_small_to_detect", 0},
		{"no data", 0, 1, func(t *testing.T) stats.AnalyzeOutput {
			return analyzeFor(t, 10, 0, 1, 0, 5000, 5000, 0, 0, 0)
		}, "keep_running", "no_data", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := c.out(t)
			d := experiments.Decide(exp(c.minROI), &out, c.days)
			if d.Action != c.action || d.Code != c.code {
				t.Fatalf("Decide = %s/%s (%s), want %s/%s", d.Action, d.Code, d.Reason, c.action, c.code)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
			if c.days2 == -1 && d.DaysNeeded <= 0 || c.days2 >= 0 && d.DaysNeeded != c.days2 {
				t.Errorf("DaysNeeded = %d (%s)", d.DaysNeeded, d.Reason)
			}
		})
	}
}

func TestDecideDaysNeededFromSampleSize(t *testing.T) {
	out := analyzeFor(t, 1000, 1000, 100, 110, 5000, 5000, 1000, 10, 10)
	d := experiments.Decide(&experiments.Experiment{PrimaryMetric: "purchase"}, &out, 10)
	need, _ := stats.SampleSizeProportions(0.1, 0.1*1.1, 0.05, 0.8)
	want := int(math.Ceil((math.Ceil(need) - 1000) / 100))
	if d.DaysNeeded != want {
		t.Fatalf("DaysNeeded = %d, want %d (%s)", d.DaysNeeded, want, d.Reason)
	}
}
