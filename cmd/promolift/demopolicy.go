package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/stats/policy/policysim"
)

// The demo's second part: a test of the promotions with effects planted
// per segment (policysim.Standard: RFM segment × channel), whose learned
// policy (GET /api/v1/experiments/{key}/policy) is printed next to the
// planted one.

// DemoPolicy is what the policy part planted and learned.
type DemoPolicy struct {
	Experiment string
	World      *policysim.World
	Policy     *httpapi.PolicyResponse
}

// Learned is the learned arm of world cell c ("" when no rule names it).
func (d *DemoPolicy) Learned(c int) string {
	seg := d.World.Segment(c)
	for _, r := range d.Policy.Rules {
		if reflect.DeepEqual(r.Segment, seg) {
			return r.Variant
		}
	}
	return ""
}

func (l *localDemo) policy(ctx context.Context, key string, features []string) (*httpapi.PolicyResponse, error) {
	opts := experiments.PolicyOptions{Features: features}
	out, exp, err := l.svc.Policy(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	r := httpapi.NewPolicyResponse(exp, opts.WithDefaults(), out)
	return &r, nil
}

func (h *httpDemo) policy(ctx context.Context, key string, features []string) (*httpapi.PolicyResponse, error) {
	var r httpapi.PolicyResponse
	q := url.Values{"features": {strings.Join(features, ",")}}
	err := h.call(ctx, http.MethodGet, "/api/v1/experiments/"+url.PathEscape(key)+"/policy?"+q.Encode(), nil, &r)
	return &r, err
}

// runDemoPolicy runs the policy part with n customers: each gets an arm
// by the design weights and buys by the planted rates of its cell; the
// exposures (with the customer's segment and channel) and the purchases
// (with their promotion cost) go through the ingest path.
func runDemoPolicy(ctx context.Context, be demoBackend, cfg demoConfig, n int, now time.Time, progress io.Writer) (*DemoPolicy, error) {
	w := policysim.Standard()
	r := rand.New(rand.NewPCG(cfg.seed, 18))
	exp := &experiments.Experiment{Key: cfg.experiment + "-segments", Name: "Which promotion for which customers",
		Hypothesis:    "free shipping wins the best customers, 10% off those drifting away",
		PrimaryMetric: experiments.PurchaseEvent, AttributionWindow: 7 * 24 * time.Hour, Coverage: 1, Segments: w.Features}
	for a, k := range w.Arms {
		p := experiments.Promotion{Type: experiments.PromoNone}
		switch k {
		case "ten_off":
			p = experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"}
		case "free_shipping":
			p = experiments.Promotion{Type: experiments.PromoFreeShipping, UnitCost: 599, Currency: "USD"}
		}
		exp.Variants = append(exp.Variants, experiments.Variant{Key: k, Weight: w.Weights[a], Promotion: p})
	}
	key, err := be.create(ctx, exp)
	if err != nil {
		return nil, fmt.Errorf("policy test: %w", err)
	}
	at := now.Add(-2 * 24 * time.Hour)
	var events []experiments.Event
	for i := 0; i < n; i++ {
		c, a := w.DrawCell(r), w.DrawArm(r)
		unit := fmt.Sprintf("seg-%06d", i+1)
		seg := w.Segment(c)
		events = append(events, experiments.Event{ID: "demo-" + key + "-x-" + unit, Type: experiments.EventExposure,
			UnitID: unit, Timestamp: at, Experiment: key, Variant: w.Arms[a],
			Attributes: map[string]string{experiments.AttrRFMSegment: seg[experiments.AttrRFMSegment]}, Channel: seg["channel"]})
		if bought, rev, cost := w.Outcome(r, c, a); bought {
			events = append(events, demoConversion("demo-"+key+"-p-"+unit, unit, experiments.PurchaseEvent, at.Add(time.Hour), rev, &cost))
		}
	}
	fmt.Fprintf(progress, "demo: policy test %s: sending %d exposures and purchases…\n", key, len(events))
	if err := demoIngest(ctx, be, events); err != nil {
		return nil, err
	}
	p, err := be.policy(ctx, key, w.Features)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return &DemoPolicy{Experiment: key, World: w, Policy: p}, nil
}

// printDemoPolicy prints the learned policy next to the planted one.
func printDemoPolicy(w io.Writer, d *DemoPolicy) error {
	p, world := d.Policy, d.World
	fmt.Fprintf(w, "\nLEARNED POLICY vs PLANTED (%s: net revenue per customer in cents, %d customers, %d-fold cross-fitting)\n",
		d.Experiment, int64(p.Units), p.Folds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CELL\tPLANTED BEST\tPLANTED GAP\tLEARNED\tLEARNED EFFECT\t95% CI\tMATCH")
	best := make([]int, len(world.Cells))
	for c := range world.Cells {
		arm, gap := world.Best(c)
		best[c] = arm
		learned := d.Learned(c)
		match := "yes"
		if learned != world.Arms[arm] {
			match = "no"
			if gap <= policysim.StandardMargin {
				match = "no (gap below the margin)"
			}
		}
		effect, ci := "—", ""
		for _, r := range p.Rules {
			if r.Variant == learned && reflect.DeepEqual(r.Segment, world.Segment(c)) && learned != world.Arms[0] {
				effect = fmt.Sprintf("%+.0f", r.Effect.Estimate)
				ci = fmt.Sprintf("[%+.0f, %+.0f]", r.Effect.CI[0], r.Effect.CI[1])
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\n", strings.Join(world.Cells[c].Values, " × "), world.Arms[arm], gap,
			learned, effect, ci, match)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Value of the learned policy against control: %+.0f per customer, 95%% CI [%+.0f, %+.0f]; planted value of the best policy: %+.0f\n",
		p.Value.Estimate, p.Value.CI[0], p.Value.CI[1], world.Value(best))
	fmt.Fprintf(w, "Gain over the best single promotion (%s): %+.0f per customer, 95%% CI [%+.0f, %+.0f]\n",
		p.BestSingle.Variant, p.GainOverBestSingle.Estimate, p.GainOverBestSingle.CI[0], p.GainOverBestSingle.CI[1])
	return nil
}
