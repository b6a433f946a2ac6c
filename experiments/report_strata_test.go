package experiments_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// seedRFM runs an experiment whose purchase rate depends on the unit's RFM
// segment at first exposure (when bySegment) and whose refunds are more
// frequent under the treatment.
func seedRFM(t *testing.T, svc *experiments.Service, key string, bySegment bool) {
	t.Helper()
	ctx := context.Background()
	svc.SetClock(func() time.Time { return reportStart })
	x := &experiments.Experiment{Key: key, Coverage: 1, PrimaryMetric: "purchase", GuardrailMetrics: []string{"refund"},
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"}},
		}}
	if err := svc.CreateExperiment(ctx, reportAdmin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, reportAdmin, key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	svc.SetClock(func() time.Time { return reportNow })
	segments := []string{"champions", "loyal", "hibernating"}
	rate := map[string]float64{"champions": 0.6, "loyal": 0.25, "hibernating": 0.03}
	g := lcg(7)
	var events []experiments.Event
	for i := 0; i < 1800; i++ {
		u := fmt.Sprintf("u%04d", i)
		vi := i % 2
		v := x.Variants[vi].Key
		seg := segments[(i/2)%3]
		at := reportStart.Add(time.Duration(g.float()*6*24*3600) * time.Second)
		attrs := map[string]string{}
		if bySegment {
			attrs[experiments.AttrRFMSegment] = seg
		}
		events = append(events, experiments.Event{ID: "x-" + u, Type: experiments.EventExposure, UnitID: u, Timestamp: at,
			Experiment: key, Variant: v, Attributes: attrs})
		p := rate[seg] + 0.03*float64(vi)
		if !bySegment {
			p = 0.3 + 0.03*float64(vi)
		}
		if g.float() < p {
			events = append(events, experiments.Event{ID: "p-" + u, Type: experiments.EventConversion, UnitID: u,
				Timestamp: at.Add(time.Hour), Name: "purchase", Revenue: 5000, Currency: "USD", OrderID: "o-" + u})
		}
		if g.float() < 0.02+0.06*float64(vi) {
			events = append(events, experiments.Event{ID: "r-" + u, Type: experiments.EventConversion, UnitID: u,
				Timestamp: at.Add(2 * time.Hour), Name: "refund"})
		}
	}
	if _, err := svc.IngestEvents(ctx, experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}, events); err != nil {
		t.Fatal(err)
	}
}

// TestReportStatsDepth checks what the report takes from issue 21: the
// primary metric is post-stratified by the RFM segment at first exposure
// when the segments explain the outcome (and not when every unit is in
// one segment), refunds are analysed as lower-is-better (so the guardrail
// is hurt by an increase) and every comparison carries its power against
// the decision MDE with the days still needed.
func TestReportStatsDepth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bySegment  bool
		stratified bool
	}{
		{"segments explain purchases", true, true},
		{"no segments", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newReportService(t)
			seedRFM(t, svc, "rfm", tc.bySegment)
			r, err := svc.Report(context.Background(), "rfm", experiments.ReportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			in := r.AnalyzeInput()
			var purchase, refund int = -1, -1
			for i, m := range r.Analysis.Metrics {
				switch m.Key {
				case "purchase":
					purchase = i
				case "refund":
					refund = i
				}
			}
			if purchase < 0 || refund < 0 {
				t.Fatalf("metrics %+v", r.Analysis.Metrics)
			}
			pm := r.Analysis.Metrics[purchase]
			c := pm.Comparisons[0]
			if got := in.Metrics[purchase].Strata != nil; got != tc.stratified {
				t.Fatalf("purchase stratified = %v, want %v", got, tc.stratified)
			}
			if tc.stratified {
				if c.PostStratification == nil || c.Unstratified == nil || !(c.PostStratification.VarianceReduction > 0) {
					t.Fatalf("purchase comparison %+v", c)
				}
				if c.Absolute.SE >= c.Unstratified.Absolute.SE {
					t.Errorf("post-stratified se %v not below unstratified %v", c.Absolute.SE, c.Unstratified.Absolute.SE)
				}
				if len(pm.Strata) != 3 {
					t.Errorf("strata %v, want the 3 segments", pm.Strata)
				}
			}
			if !r.Analysis.Metrics[refund].LowerIsBetter {
				t.Error("refund is not lower_is_better")
			}
			if g := r.Analysis.Metrics[refund].Comparisons[0]; g.Significant && g.Direction != "worse" {
				t.Errorf("refund up significantly: direction %q", g.Direction)
			}
			if c.Power == nil || c.Power.MDERelative != experiments.DefaultDecisionMDE || c.Power.DaysNeeded == nil {
				t.Fatalf("power %+v", c.Power)
			}
			if !(c.Power.Power > 0 && c.Power.Power < 1) {
				t.Errorf("power %v", c.Power.Power)
			}
		})
	}
}
