package experiments_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

var reportSDK = experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}

// startAtReport creates and starts x at reportStart, then sets the clock
// to reportNow.
func startAtReport(t *testing.T, svc *experiments.Service, x *experiments.Experiment) {
	t.Helper()
	ctx := context.Background()
	svc.SetClock(func() time.Time { return reportStart })
	if err := svc.CreateExperiment(ctx, reportAdmin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, reportAdmin, x.Key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	svc.SetClock(func() time.Time { return reportNow })
}

func ingestAll(t *testing.T, svc *experiments.Service, events []experiments.Event) {
	t.Helper()
	out, err := svc.IngestEvents(context.Background(), reportSDK, events)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status != experiments.EventAccepted {
			t.Fatalf("event %s: %s %v", o.EventID, o.Status, o.Err)
		}
	}
}

func report(t *testing.T, svc *experiments.Service, key string) *experiments.Report {
	t.Helper()
	r, err := svc.Report(context.Background(), key, experiments.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exposureAt(id, unit, exp, variant string, at time.Duration) experiments.Event {
	return experiments.Event{ID: id, Type: experiments.EventExposure, UnitID: unit, Timestamp: reportStart.Add(at),
		Experiment: exp, Variant: variant}
}

func purchaseAt(id, unit string, at time.Duration, revenue int64, cost *int64, currency string) experiments.Event {
	return experiments.Event{ID: id, Type: experiments.EventConversion, UnitID: unit, Timestamp: reportStart.Add(at),
		Name: "purchase", Revenue: revenue, PromotionCost: cost, Currency: currency, OrderID: "order-" + id}
}

func quickStartExperiment(key string) *experiments.Experiment {
	return &experiments.Experiment{Key: key, Coverage: 1, PrimaryMetric: "purchase",
		AttributionWindow: 168 * time.Hour, Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}}}}
}

// quickStart is the report of the README's quick start.
func quickStart(t *testing.T) *experiments.Report {
	t.Helper()
	svc := newReportService(t)
	startAtReport(t, svc, quickStartExperiment("spring-sale"))
	cost := int64(12500)
	ingestAll(t, svc, []experiments.Event{exposureAt("x1", "customer-1", "spring-sale", "ten_off", time.Hour),
		purchaseAt("cv-1", "customer-1", time.Hour+time.Second, 125000, &cost, "KRW")})
	return report(t, svc, "spring-sale")
}

// TestReportQuickStartNetIncrementalRevenue is the README's quick start:
// one customer in ten_off buys for ₩125,000 with a ₩12,500 promotion cost
// and control has no units. The incremental revenue cannot be estimated,
// so there is no net incremental revenue (it was 0 [−12500, −12500], a
// figure outside its own interval).
func TestReportQuickStartNetIncrementalRevenue(t *testing.T) {
	r := quickStart(t)
	if n := r.NetIncrementalRevenue; n != nil {
		t.Fatalf("net incremental revenue %v %v without a control arm", n.Estimate, n.CI)
	}
	if v := r.Variants[1]; v.Revenue != 125000 || v.PromotionCost != 12500 {
		t.Fatalf("ten_off: revenue %v, cost %v", v.Revenue, v.PromotionCost)
	}
	if r.Analysis.ROI == nil || experiments.ROIEstimated(&r.Analysis, r.Analysis.ROI) {
		t.Fatalf("ROI %+v should be there without an estimate", r.Analysis.ROI)
	}
}

// interval is one estimate of a report with its interval.
type interval struct {
	what string
	est  float64
	ci   [2]float64
}

// reportIntervals lists every estimate of r shown with an interval.
func reportIntervals(r *experiments.Report) []interval {
	var out []interval
	add := func(what string, est float64, ci [2]float64) { out = append(out, interval{what, est, ci}) }
	addAnalysis := func(where string, a *stats.AnalyzeOutput) {
		for _, m := range a.Metrics {
			for _, c := range m.Comparisons {
				w := where + " " + m.Key + "/" + c.Variant
				if c.Absolute.Method != "none" {
					add(w+" absolute", c.Absolute.Estimate, c.Absolute.CI)
				}
				if rel, _ := experiments.RelativeLift(&c); rel != nil {
					add(w+" relative", rel.Estimate, rel.CI)
				}
				if c.Sequential != nil && c.Absolute.Method != "none" {
					add(w+" sequential", c.Absolute.Estimate, c.Sequential.CI)
				}
				if roi := c.ROI; roi != nil && roi.ROI != nil && roi.CI != nil {
					add(w+" roi", *roi.ROI, *roi.CI)
				}
				if roi := c.ROI; roi != nil && experiments.ROIEstimated(a, roi) {
					add(w+" incremental revenue", roi.IncrementalRevenue, roi.IncrementalCI)
				}
			}
		}
		if pl := a.PersonalizationLift; pl != nil && pl.CI != nil {
			add(where+" personalization lift", pl.Estimate, *pl.CI)
		}
	}
	addAnalysis("overall", &r.Analysis)
	if n := r.NetIncrementalRevenue; n != nil {
		add("net incremental revenue", n.Estimate, n.CI)
	}
	if pv := r.PersonalizationValue; pv != nil && pv.Error == "" {
		add("personalization difference", pv.Difference.Estimate, pv.Difference.CI)
		add("personalization value", pv.Value.Estimate, pv.Value.CI)
	}
	for _, b := range r.Breakdowns {
		for _, s := range b.Slices {
			addAnalysis(b.Dimension+"="+s.Slice, &s.Analysis)
			for _, c := range s.Comparisons {
				if c.Relative != nil {
					add(b.Dimension+"="+s.Slice+" "+c.Metric+"/"+c.Variant+" row", c.Relative.Estimate, c.Relative.CI)
				}
			}
		}
	}
	for _, p := range r.Series {
		for _, l := range p.Lifts {
			if l.Valid {
				add(p.Date.Format(time.DateOnly)+" "+l.Variant+" series", l.Estimate, l.CI)
			}
		}
	}
	return out
}

// TestReportEstimatesWithinIntervals is a property of every report: each
// estimate shown with an interval lies in it. Random experiments, from one
// unit to a few hundred, some arms empty, with either engine.
func TestReportEstimatesWithinIntervals(t *testing.T) {
	for seed := 1; seed <= 24; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			svc := newReportService(t)
			g := lcg(seed)
			x := quickStartExperiment("p")
			x.Personalization = seed%3 == 0
			x.Variants = append(x.Variants, experiments.Variant{Key: "personalized_offer", Weight: 0,
				Promotion: experiments.Promotion{Type: experiments.PromoAmountOff, Value: 500}})
			x.Variants[0].Weight, x.Variants[1].Weight, x.Variants[2].Weight = 0.4, 0.3, 0.3
			x.Segments = []string{"country"}
			if seed%2 == 0 {
				x.Engine = "sequential"
			}
			startAtReport(t, svc, x)
			n := 1 + int(g.float()*float64([]int{3, 40, 300}[seed%3]))
			var events []experiments.Event
			for i := 0; i < n; i++ {
				u := fmt.Sprintf("u%d", i)
				v := x.Variants[int(g.float()*3)].Key
				at := time.Duration(g.float() * float64(6*24*time.Hour))
				ev := exposureAt("x"+u, u, "p", v, at)
				ev.Attributes = map[string]string{"country": []string{"KR", "JP"}[i%2]}
				events = append(events, ev)
				if g.float() < 0.3 {
					events = append(events, purchaseAt("p"+u, u, at+time.Minute, int64(1000+g.float()*50000), nil, "KRW"))
				}
			}
			ingestAll(t, svc, events)
			r := report(t, svc, "p")
			checked := 0
			for _, iv := range reportIntervals(r) {
				lo, hi := iv.ci[0], iv.ci[1]
				tol := 1e-9 * math.Max(1, math.Abs(iv.est))
				if math.IsNaN(iv.est) || !(iv.est >= lo-tol && iv.est <= hi+tol) {
					t.Errorf("%s: %v outside [%v, %v]", iv.what, iv.est, lo, hi)
				}
				checked++
			}
			t.Logf("%d units, %d intervals", n, checked)
		})
	}
}

// TestSliceRowsPValueBelongsToInterval: a breakdown row shows the engine's
// interval of the relative lift and the p-value of that interval: with the
// frequentist engine the relative CI excludes 0 exactly when its p-value is
// below alpha; with the sequential engine the interval is the always-valid
// one and the p-value the always-valid p-value of the relative lift, which
// is below alpha exactly when that interval excludes 0.
func TestSliceRowsPValueBelongsToInterval(t *testing.T) {
	for _, engine := range []string{"frequentist", "sequential"} {
		t.Run(engine, func(t *testing.T) {
			svc := newReportService(t)
			key := "rows-" + engine
			if engine == "sequential" {
				seedReportEngine(t, svc, key, engine)
			} else {
				seedReport(t, svc, key, [3]float64{0.05, 0.09, 0.12}, 1500)
			}
			r := report(t, svc, key)
			alpha := r.Analysis.Alpha
			rows := 0
			for _, b := range r.Breakdowns {
				for _, s := range b.Slices {
					for _, c := range s.Comparisons {
						if c.Relative == nil {
							continue
						}
						rows++
						sc := findCmp(&s.Analysis, c.Metric, c.Variant)
						if engine == "sequential" {
							if sc.Sequential == nil || sc.Sequential.RelativeCI == nil || c.Relative.CI != *sc.Sequential.RelativeCI ||
								c.RelativePValue == nil || sc.Sequential.RelativePValue == nil || *c.RelativePValue != *sc.Sequential.RelativePValue {
								t.Fatalf("%s=%s %s: relative %v (p %v), want the always-valid %+v with its p-value", b.Dimension, s.Slice, c.Metric, c.Relative.CI, c.RelativePValue, sc.Sequential)
							}
						}
						if c.RelativePValue == nil {
							t.Fatalf("%s=%s %s: no p-value for the relative interval", b.Dimension, s.Slice, c.Metric)
						}
						excludes := c.Relative.CI[0] > 0 || c.Relative.CI[1] < 0
						if excludes != (*c.RelativePValue < alpha) {
							t.Errorf("%s=%s %s/%s: CI %v and p = %v disagree", b.Dimension, s.Slice, c.Metric, c.Variant, c.Relative.CI, *c.RelativePValue)
						}
					}
				}
			}
			if rows == 0 {
				t.Fatal("no breakdown rows")
			}
		})
	}
}

func findCmp(out *stats.AnalyzeOutput, metric, variant string) *stats.ComparisonOutput {
	for i := range out.Metrics {
		if out.Metrics[i].Key != metric {
			continue
		}
		for j := range out.Metrics[i].Comparisons {
			if out.Metrics[i].Comparisons[j].Variant == variant {
				return &out.Metrics[i].Comparisons[j]
			}
		}
	}
	return nil
}

// seedReportEngine is a two-arm experiment of the given engine with a
// country breakdown and a few hundred units.
func seedReportEngine(t *testing.T, svc *experiments.Service, key, engine string) {
	t.Helper()
	x := quickStartExperiment(key)
	x.Engine, x.Segments = engine, []string{"country"}
	startAtReport(t, svc, x)
	g := lcg(7)
	var events []experiments.Event
	for i := 0; i < 600; i++ {
		u := fmt.Sprintf("u%d", i)
		vi := int(g.float() * 2)
		ev := exposureAt("x"+u, u, key, x.Variants[vi].Key, time.Duration(i)*time.Minute)
		ev.Attributes = map[string]string{"country": []string{"KR", "JP", "US"}[i%3]}
		events = append(events, ev)
		if g.float() < []float64{0.1, 0.2}[vi] {
			events = append(events, purchaseAt("p"+u, u, time.Duration(i+1)*time.Minute, 10000, nil, "KRW"))
		}
	}
	ingestAll(t, svc, events)
}

// TestBestGenericOneMetric: the personalization lift and the
// personalization value name the same best generic offer, the one with
// the highest revenue per unit, also when another arm converts more often.
func TestBestGenericOneMetric(t *testing.T) {
	svc := newReportService(t)
	x := &experiments.Experiment{Key: "pers", Coverage: 1, PrimaryMetric: "purchase", Personalization: true,
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.25, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "free_shipping", Weight: 0.25, Promotion: experiments.Promotion{Type: experiments.PromoFreeShipping, UnitCost: 300}},
			{Key: "ten_off", Weight: 0.25, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}},
			{Key: "personalized_offer", Weight: 0.25, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 5}},
		}}
	startAtReport(t, svc, x)
	// Per arm: 100 units; buyers and order value. free_shipping converts
	// most (30%), ten_off earns most per unit (20% × 3000 = 600 > 300).
	arms := []struct {
		variant string
		buyers  int
		order   int64
	}{{"control", 10, 1000}, {"free_shipping", 30, 1000}, {"ten_off", 20, 3000}, {"personalized_offer", 25, 2000}}
	var events []experiments.Event
	for _, a := range arms {
		for i := 0; i < 100; i++ {
			u := fmt.Sprintf("%s-%d", a.variant, i)
			events = append(events, exposureAt("x"+u, u, "pers", a.variant, time.Duration(i)*time.Minute))
			if i < a.buyers {
				events = append(events, purchaseAt("p"+u, u, time.Duration(i+1)*time.Minute, a.order+int64(i), nil, "USD"))
			}
		}
	}
	ingestAll(t, svc, events)
	r := report(t, svc, "pers")
	pl, pv := r.Analysis.PersonalizationLift, r.PersonalizationValue
	if pl == nil || pv == nil {
		t.Fatalf("personalization lift %+v, value %+v", pl, pv)
	}
	if pl.Generic != "ten_off" || pv.BestGeneric != "ten_off" {
		t.Fatalf("best generic: lift against %q, value against %q; want ten_off (highest revenue per unit) in both", pl.Generic, pv.BestGeneric)
	}
	if r.AnalyzeInput().Personalization.Generic != "ten_off" {
		t.Fatalf("analyze input generic %q", r.AnalyzeInput().Personalization.Generic)
	}
}

// TestReportCostRules runs the per-exposure and fixed promotion-cost rules:
// per exposure, unit_cost × the exposures of the analysed units; fixed,
// unit_cost once; both whatever the conversions carry.
func TestReportCostRules(t *testing.T) {
	for _, c := range []struct {
		rule experiments.CostRule
		want float64
	}{
		{experiments.CostPerExposure, 3 * 250}, // u1 exposed twice, u2 once
		{experiments.CostFixed, 250},
	} {
		t.Run(string(c.rule), func(t *testing.T) {
			svc := newReportService(t)
			x := quickStartExperiment("costs")
			x.Variants[1].Promotion = experiments.Promotion{Type: experiments.PromoFreeShipping, CostRule: c.rule, UnitCost: 250}
			startAtReport(t, svc, x)
			own := int64(99999) // a per-conversion cost is not the rule's
			ingestAll(t, svc, []experiments.Event{
				exposureAt("x1", "u1", "costs", "ten_off", time.Hour), exposureAt("x1b", "u1", "costs", "ten_off", 2*time.Hour),
				exposureAt("x2", "u2", "costs", "ten_off", time.Hour), exposureAt("x3", "u3", "costs", "control", time.Hour),
				purchaseAt("p1", "u1", 3*time.Hour, 10000, &own, "KRW")})
			r := report(t, svc, "costs")
			if got := r.Variants[1].PromotionCost; got != c.want {
				t.Errorf("variant cost %v, want %v", got, c.want)
			}
			if got := r.AnalyzeInput().Variants[1].PromotionCost; got != c.want {
				t.Errorf("analysis cost %v, want %v", got, c.want)
			}
			if got := r.Variants[0].PromotionCost; got != 0 {
				t.Errorf("control cost %v", got)
			}
		})
	}
}

// TestReportCurrencyFromEvents: the quick start's conversion says KRW and
// its promotion names no currency; the report's currency is KRW.
func TestReportCurrencyFromEvents(t *testing.T) {
	r := quickStart(t)
	if r.Currency != "KRW" || len(r.Currencies) != 1 || r.CurrencyTotals != nil {
		t.Fatalf("currency %q, currencies %v, totals %v; want KRW", r.Currency, r.Currencies, r.CurrencyTotals)
	}
	if got := r.MetricCurrency("purchase_revenue"); got != "KRW" {
		t.Errorf("purchase_revenue in %q", got)
	}
	if got := r.MetricCurrency("purchase"); got != "" {
		t.Errorf("a conversion rate in %q", got)
	}
}

// TestReportMixedCurrencies: conversions in KRW and USD are never added:
// the report warns, leaves the revenue metrics, ROI and net revenue out,
// and gives the money per currency.
func TestReportMixedCurrencies(t *testing.T) {
	svc := newReportService(t)
	startAtReport(t, svc, quickStartExperiment("mixed"))
	var events []experiments.Event
	for i := 0; i < 40; i++ {
		u, v := fmt.Sprintf("u%d", i), []string{"control", "ten_off"}[i%2]
		events = append(events, exposureAt("x"+u, u, "mixed", v, time.Hour))
		if i%4 < 2 {
			cur, rev := "KRW", int64(50000)
			if i%8 < 4 {
				cur, rev = "USD", 4000
			}
			events = append(events, purchaseAt("p"+u, u, 2*time.Hour, rev, nil, cur))
		}
	}
	ingestAll(t, svc, events)
	r := report(t, svc, "mixed")
	if r.Currency != "" || fmt.Sprint(r.Currencies) != "[KRW USD]" {
		t.Fatalf("currency %q, currencies %v", r.Currency, r.Currencies)
	}
	warned := false
	for _, w := range r.Warnings {
		warned = warned || strings.Contains(w, "several currencies (KRW, USD)")
	}
	if !warned {
		t.Errorf("no warning: %v", r.Warnings)
	}
	for _, m := range r.Analysis.Metrics {
		if strings.HasSuffix(m.Key, experiments.RevenueSuffix) {
			t.Errorf("revenue metric %s analysed across currencies", m.Key)
		}
	}
	if r.Analysis.ROI != nil || r.NetIncrementalRevenue != nil {
		t.Errorf("ROI %+v, net %+v across currencies", r.Analysis.ROI, r.NetIncrementalRevenue)
	}
	for _, v := range r.Variants {
		if v.Revenue != 0 || v.PromotionCost != 0 || v.RevenuePerCustomer != 0 {
			t.Errorf("%s: money %v/%v added across currencies", v.Key, v.Revenue, v.PromotionCost)
		}
		if v.Converted != 10 {
			t.Errorf("%s: %d converted, want 10 (rates are still analysed)", v.Key, v.Converted)
		}
	}
	// Per currency: 5 units of each variant in each currency.
	got := map[string]float64{}
	for _, c := range r.CurrencyTotals {
		if c.Metric == "purchase" {
			got[c.Variant+"/"+c.Currency] = c.Revenue
		}
	}
	want := map[string]float64{"control/KRW": 5 * 50000, "control/USD": 5 * 4000, "ten_off/KRW": 5 * 50000, "ten_off/USD": 5 * 4000}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("totals %v, want %v", got, want)
	}
}

// TestReportChannelCredit: the quick start's conversion says channel push
// and its exposure (from assign) has none; the report credits it to push,
// while the channel breakdown keeps the unit in its exposure channel.
func TestReportChannelCredit(t *testing.T) {
	svc := newReportService(t)
	startAtReport(t, svc, quickStartExperiment("spring-sale"))
	cv := purchaseAt("cv-1", "customer-1", 2*time.Hour, 125000, nil, "KRW")
	cv.Channel = "push"
	ingestAll(t, svc, []experiments.Event{exposureAt("x1", "customer-1", "spring-sale", "ten_off", time.Hour), cv,
		exposureAt("x2", "customer-2", "spring-sale", "control", time.Hour),
		purchaseAt("cv-2", "customer-2", 2*time.Hour, 50000, nil, "KRW")})
	r := report(t, svc, "spring-sale")
	got := map[string]int64{}
	for _, c := range r.ChannelCredit {
		got[c.Channel+"/"+c.Variant+"/"+c.Metric] = c.Conversions
	}
	want := map[string]int64{"push/ten_off/purchase": 1, experiments.NoSlice + "/control/purchase": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("conversions by channel %v, want %v", got, want)
	}
	for _, b := range r.Breakdowns {
		if b.Dimension != experiments.DimensionChannel {
			continue
		}
		if len(b.Slices) != 1 || b.Slices[0].Slice != experiments.NoSlice {
			t.Errorf("channel breakdown slices %+v: units stay in their exposure channel", b.Slices)
		}
	}
}
