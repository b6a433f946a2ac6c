package httpapi

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats/policy"
)

// The report page's policy section: the rules learned with the default
// features and no budget (GET /api/v1/experiments/{key}/policy), the
// policy's value and gain over the best single promotion, and the uplift
// curve as inline SVG.

// policyView is what the template shows.
type policyView struct {
	Metric     string
	Features   string
	Value      string
	ValueCI    string
	BestSingle string
	BestValue  string
	Gain       string
	GainCI     string
	Spend      string
	Folds      int
	Rules      []policyRuleView
	Curve      template.HTML
	Error      string
}

type policyRuleView struct {
	Segment string
	Variant string
	Effect  string
	CI      string
	Units   int64
}

// newPolicyView formats out; money formats minor units (the objective is
// money unless it is conversion).
func newPolicyView(out *policy.Output, money func(float64) string) *policyView {
	f := money
	if out.Metric == "conversion" {
		f = func(v float64) string { return signed(v) }
	}
	ci := func(e policy.Estimate) string { return "95% CI [" + f(e.CI[0]) + ", " + f(e.CI[1]) + "]" }
	v := &policyView{Metric: strings.ReplaceAll(out.Metric, "_", " "), Features: strings.Join(out.Features, " × "),
		Value: f(out.Value.Estimate), ValueCI: ci(out.Value), BestSingle: out.BestSingle.Variant,
		BestValue: f(out.BestSingle.Value.Estimate), Gain: f(out.GainOverBestSingle.Estimate), GainCI: ci(out.GainOverBestSingle),
		Spend: money(out.SpendPerUnit), Folds: out.Folds}
	if out.Error != "" {
		v.Error = plainCode(out.Error)
	}
	for _, r := range out.Rules {
		keys := make([]string, 0, len(r.Segment))
		for _, k := range out.Features {
			keys = append(keys, k+" "+r.Segment[k])
		}
		rv := policyRuleView{Segment: strings.Join(keys, ", "), Variant: r.Variant, Units: int64(r.Units), Effect: "—"}
		if r.Variant != "" && r.Effect != (policy.Estimate{}) {
			rv.Effect, rv.CI = f(r.Effect.Estimate), "["+f(r.Effect.CI[0])+", "+f(r.Effect.CI[1])+"]"
		}
		v.Rules = append(v.Rules, rv)
	}
	sort.SliceStable(v.Rules, func(i, j int) bool { return v.Rules[i].Units > v.Rules[j].Units })
	v.Curve = upliftCurve(out.Curve, f)
	return v
}

// upliftCurve draws the cross-fitted uplift (Qini) curve: the incremental
// objective per customer of targeting the share of customers with the
// largest predicted effects, from 0 to everyone, with the line of random
// targeting (from 0 to the policy's value) for reference.
func upliftCurve(curve []policy.CurvePoint, f func(float64) string) template.HTML {
	const w, h, left, right, top, bottom = 640.0, 260.0, 72.0, 24.0, 14.0, 30.0
	s := newSVG(w, h, "uplift", "uplift curve: incremental value per customer against the share of customers targeted")
	vals := make([]float64, 0, len(curve))
	for _, p := range curve {
		vals = append(vals, p.Incremental)
	}
	x := scale{0, 1, left, w - right}
	y := s.valueAxis(vals, left, w-right, h-bottom, top, f)
	for _, sh := range []float64{0, 0.25, 0.5, 0.75, 1} {
		anchor := "middle"
		switch sh {
		case 0:
			anchor = "start"
		case 1:
			anchor = "end"
		}
		s.text(x.at(sh), h-8, anchor, "axis", strconv.Itoa(int(100*sh))+"% targeted")
	}
	if len(curve) < 2 {
		s.text(w/2, h/2, "middle", "na", "not enough data yet")
		return s.HTML()
	}
	last := curve[len(curve)-1]
	s.line(x.at(0), y.at(0), x.at(last.Share), y.at(last.Incremental), "random")
	line := make([][2]float64, len(curve))
	for i, p := range curve {
		line[i] = [2]float64{x.at(p.Share), y.at(p.Incremental)}
	}
	s.polyline(line, "line")
	for i, p := range curve {
		s.point(line[i][0], line[i][1], 3, fmt.Sprintf("%s targeted: %s per customer", pct(p.Share), f(p.Incremental)),
			map[string]string{"share": strconv.FormatFloat(p.Share, 'g', 6, 64)})
	}
	return s.HTML()
}

// policySection learns the policy of the report's experiment for its page;
// nil (no section) when the store cannot or the read fails (logged).
func (a *api) policySection(ctx context.Context, requestID, key string, money func(float64) string) *policyView {
	out, _, err := a.svc.Policy(ctx, key, experiments.PolicyOptions{})
	if err != nil {
		if !errors.Is(err, experiments.ErrNoPolicy) {
			a.log.Warn("report page: policy", "request_id", requestID, "err", err)
		}
		return nil
	}
	return newPolicyView(out, money)
}
