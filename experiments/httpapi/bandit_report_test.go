package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi/browsertest"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// banditPlan is the traffic of the bandit report tests: per period
// (6 hours each) the units first exposed to each variant. Every unit buys
// once; its net revenue is the period's base + the variant's lift + a
// spread of −50, 0, +50 (each count is a multiple of 3, so the spread
// averages 0 in every cell): within every period twenty_off earns exactly
// 600 more per unit than control and ten_off 100 more, while the base rises
// from period to period as the bandit moves traffic to twenty_off, so the
// pooled difference is biased upward.
var banditPlan = []struct {
	base  int64
	units map[string]int
}{
	{1000, map[string]int{"control": 45, "ten_off": 45, "twenty_off": 45}},
	{1300, map[string]int{"control": 6, "ten_off": 6, "twenty_off": 120}},
	{1600, map[string]int{"control": 6, "ten_off": 6, "twenty_off": 120}},
}

var (
	banditLift = map[string]int64{"control": 0, "ten_off": 100, "twenty_off": 600}
	banditCost = map[string]int64{"control": 0, "ten_off": 100, "twenty_off": 200}
)

// newBanditReportEnv runs the bandit experiment "bandit-sale" of
// banditPlan on st through the updater (a fake clock moved from period to
// period) and serves the API.
func newBanditReportEnv(t *testing.T, st experiments.Store) *reportEnv {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(st, nil)
	var mu sync.Mutex
	now := rptStart
	svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	e := &reportEnv{svc: svc}
	admin := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	e.createKeys(t, admin)
	x := &experiments.Experiment{Key: "bandit-sale", Name: "Bandit sale", Coverage: 1, PrimaryMetric: "purchase",
		Allocation: experiments.Allocation{Mode: experiments.AllocationBandit, UpdateEvery: 6 * time.Hour, MinWeight: 0.05,
			Budget: 200000, Flight: 24 * time.Hour}}
	for _, v := range []string{"control", "ten_off", "twenty_off"} {
		p := experiments.Promotion{Type: experiments.PromoAmountOff, Value: float64(banditCost[v]), Currency: "USD"}
		if v == "control" {
			p = experiments.Promotion{Type: experiments.PromoNone}
		}
		x.Variants = append(x.Variants, experiments.Variant{Key: v, Weight: 1.0 / 3, Promotion: p})
	}
	if err := svc.CreateExperiment(ctx, admin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, admin, x.Key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	sdk := experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}
	for p, plan := range banditPlan {
		start := rptStart.Add(time.Duration(p) * 6 * time.Hour)
		setNow(start)
		if _, err := svc.UpdateBandit(ctx, x.Key); err != nil {
			t.Fatal(err)
		}
		var evs []experiments.Event
		for v, n := range plan.units {
			for i := range n {
				unit := fmt.Sprintf("p%d-%s-%d", p, v, i)
				at := start.Add(time.Hour + time.Duration(i)*time.Second)
				c := banditCost[v]
				evs = append(evs,
					experiments.Event{ID: "x-" + unit, Type: experiments.EventExposure, UnitID: unit, Timestamp: at, Experiment: x.Key, Variant: v},
					experiments.Event{ID: "c-" + unit, Type: experiments.EventConversion, UnitID: unit, Timestamp: at.Add(time.Minute),
						Name: "purchase", Revenue: plan.base + banditLift[v] + c + int64(i%3-1)*50, PromotionCost: &c, Currency: "USD", OrderID: "o-" + unit})
			}
		}
		setNow(start.Add(2 * time.Hour))
		out, err := svc.IngestEvents(ctx, sdk, evs)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Status != experiments.EventAccepted {
				t.Fatalf("event %s: %s %v", o.EventID, o.Status, o.Err)
			}
		}
	}
	setNow(rptStart.Add(17 * time.Hour))
	e.srv = httptest.NewServer(New(svc, Config{}, nil))
	t.Cleanup(e.srv.Close)
	return e
}

func banditReport(t *testing.T, e *reportEnv) *ReportResponse {
	t.Helper()
	_, body := e.get(t, "/api/v1/experiments/bandit-sale/report", e.analyst)
	var rep ReportResponse
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if rep.Bandit == nil {
		t.Fatalf("report has no bandit section: %s", body)
	}
	return &rep
}

// TestBanditReportJSON checks the bandit section of the JSON report on
// both stores: one period per update with the units planted in it, spend
// and pacing line as of each period start and now, and per-period weighted
// effects equal to the planted within-period differences (600 and 100)
// although the pooled difference is far off; a fixed experiment's report
// has bandit null.
func TestBanditReportJSON(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var st experiments.Store
			var err error
			if kind == "sqlite" {
				st, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
			} else {
				st, err = postgres.Open(context.Background(), storetest.PostgresURL(t), nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			e := newBanditReportEnv(t, st)
			rep := banditReport(t, e)
			b := rep.Bandit
			if len(b.Periods) != len(banditPlan) {
				t.Fatalf("%d periods, want %d", len(b.Periods), len(banditPlan))
			}
			var spent float64
			for p, plan := range banditPlan {
				got := b.Periods[p]
				if got.Period != p || !got.StartsAt.Equal(rptStart.Add(time.Duration(p)*6*time.Hour)) {
					t.Errorf("period %d: %d starting %v", p, got.Period, got.StartsAt)
				}
				if math.Abs(got.Spend-spent) > 1e-9 || math.Abs(got.PacingTarget-float64(p)*50000) > 1e-9 {
					t.Errorf("period %d: spend %g and line %g at its start, want %g and %g", p, got.Spend, got.PacingTarget, spent, float64(p)*50000)
				}
				var sum float64
				for _, w := range got.Weights {
					sum += w.Weight
					if w.Units != int64(plan.units[w.Variant]) {
						t.Errorf("period %d %s: %d units, want %d", p, w.Variant, w.Units, plan.units[w.Variant])
					}
					spent += float64(plan.units[w.Variant]) * float64(banditCost[w.Variant])
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Errorf("period %d weights sum to %g", p, sum)
				}
			}
			if p1 := b.Periods[1].Weights; p1[2].Weight < 0.85 || p1[0].Weight < 0.05-1e-12 {
				t.Errorf("period 1 weights %+v: want twenty_off far ahead and every arm at 5%% or more", p1)
			}
			if math.Abs(b.Spend-spent) > 1e-9 || math.Abs(b.PacingTarget-17.0/24*200000) > 1e-6 {
				t.Errorf("spend %g against line %g, want %g and %g", b.Spend, b.PacingTarget, spent, 17.0/24*200000)
			}
			for _, tc := range []struct {
				variant string
				want    float64
			}{{"ten_off", 100}, {"twenty_off", 600}} {
				var est *BanditEstimateDTO
				for _, x := range b.Estimates {
					if x.Variant == tc.variant {
						est = x.Effect
					}
				}
				if est == nil || math.Abs(est.Estimate-tc.want) > 1e-6 || est.Periods != 3 || !(est.CI[0] < tc.want && tc.want < est.CI[1]) || est.SE <= 0 {
					t.Errorf("%s effect %+v, want %g within its CI over 3 periods", tc.variant, est, tc.want)
				}
			}
			if b.Estimates[0].Effect != nil || b.Estimates[0].Mean.Periods != 3 {
				t.Errorf("control estimate %+v: want a mean over 3 periods and no effect", b.Estimates[0])
			}
			if !strings.Contains(strings.Join(rep.Warnings, " "), "bandit") {
				t.Errorf("no bandit warning among %q", rep.Warnings)
			}
			fixed := &experiments.Experiment{Key: "fixed-sale", Coverage: 1, Variants: []experiments.Variant{
				{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
			if err := e.svc.CreateExperiment(context.Background(), experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}, fixed); err != nil {
				t.Fatal(err)
			}
			_, body := e.get(t, "/api/v1/experiments/fixed-sale/report", e.analyst)
			if !strings.Contains(string(body), `"bandit":null`) {
				t.Errorf("fixed experiment's report lacks \"bandit\":null")
			}
		})
	}
}

// TestBanditReportPageInBrowser opens the bandit experiment's report in
// headless Chromium: the weight-history chart has one band per period and
// variant whose heights are the weights, the spend chart one point per
// period start and one for now against the pacing line, the estimates
// table one row per variant with the JSON's effects; no console error and
// no sideways scroll on a desktop or a phone.
func TestBanditReportPageInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newBanditReportEnv(t, st)
	rep := banditReport(t, e)
	b.Open(t, e.srv.URL+"/experiments/bandit-sale?token="+e.analyst, browsertest.Desktop)
	if !browsertest.Eval[bool](t, b, `!!document.getElementById('bandit')`) {
		t.Fatalf("the page has no bandit section:\n%s", browsertest.Eval[string](t, b, `document.body.innerText`))
	}
	periods, variants := len(rep.Bandit.Periods), len(rep.Variants)
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('svg.bandit-weights rect.bar').length`); n != periods*variants {
		t.Errorf("%d weight bands, want %d", n, periods*variants)
	}
	// Each column's bands stack to the full height of the 0–100% axis.
	heights := browsertest.Eval[[]float64](t, b, `Array.from(document.querySelectorAll('svg.bandit-weights rect.bar')).map(r => r.height.baseVal.value)`)
	for p := range periods {
		var col float64
		for v := range variants {
			want := rep.Bandit.Periods[p].Weights[v].Weight * (240 - 36 - 12)
			if got := heights[p*variants+v]; math.Abs(got-want) > 0.02 {
				t.Errorf("period %d variant %d: band height %g, want %g", p, v, got, want)
			}
			col += heights[p*variants+v]
		}
		if math.Abs(col-192) > 0.05 {
			t.Errorf("period %d: bands stack to %g, want 192", p, col)
		}
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('svg.bandit-spend circle.pt').length`); n != periods+1 {
		t.Errorf("%d spend points, want %d", n, periods+1)
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('svg.bandit-spend polyline.pacing').length`); n != 1 {
		t.Errorf("%d pacing lines, want 1", n)
	}
	title := browsertest.Eval[string](t, b, `document.querySelector('svg.bandit-spend circle.pt:last-of-type title').textContent`)
	money := moneyFormatter(rep.Currency, false)
	if !strings.Contains(title, money(rep.Bandit.Spend)) || !strings.Contains(title, money(rep.Bandit.PacingTarget)) {
		t.Errorf("last spend point %q lacks spend %s and line %s", title, money(rep.Bandit.Spend), money(rep.Bandit.PacingTarget))
	}
	rows := browsertest.Eval[[]string](t, b, `Array.from(document.querySelectorAll('#bandit-estimates tbody tr')).map(r => r.innerText)`)
	if len(rows) != variants {
		t.Fatalf("%d estimate rows, want %d", len(rows), variants)
	}
	for i, x := range rep.Bandit.Estimates {
		if x.Effect != nil && !strings.Contains(rows[i], money(x.Effect.Estimate)) {
			t.Errorf("row %q lacks the effect %s", rows[i], money(x.Effect.Estimate))
		}
	}
	b.CheckNoErrors(t, "bandit report")
	for _, w := range []int64{browsertest.Desktop, browsertest.Phone} {
		b.Resize(t, w)
		b.CheckNoSidewaysScroll(t, "bandit report at "+strconv.FormatInt(w, 10)+" px")
	}
	desk := b.Screenshot(t, "report-bandit-sale.png", browsertest.Desktop)
	t.Logf("screenshot: %s", desk)
}
