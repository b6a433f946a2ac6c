package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats/policy/policysim"
)

// TestDemoRecoversPlantedEffects runs the demo in process on SQLite with
// 20,000 customers (about 5,000 per arm: the 95% CI of a difference of
// ~8% rates is about ±1.1pp) and a fixed seed, and checks that the report
// recovers every planted lift within its 95% CI, that the largest one
// (personalized, +2.5pp) is detected (its CI excludes 0), and that the
// promotion costs follow the cost rules.
func TestDemoRecoversPlantedEffects(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 20,000 customers")
	}
	ctx := context.Background()
	store, err := openStore(ctx, filepath.Join(t.TempDir(), "demo.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := newService(store, nil)
	cfg := demoConfig{customers: 20000, seed: 1, experiment: "spring-sale", workers: 4}
	res, err := runDemoWith(ctx, &localDemo{svc: svc}, cfg, time.Now().UTC(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Effects) != 3 {
		t.Fatalf("effects: %+v", res.Effects)
	}
	// The policy part: the learned rule is the planted best arm in every
	// cell whose planted gap exceeds the margin, and the value's CI covers
	// the planted best policy's value.
	p := res.Policy
	if p == nil || p.Policy.Error != "" {
		t.Fatalf("policy part: %+v", p)
	}
	best := make([]int, len(p.World.Cells))
	for c := range p.World.Cells {
		arm, gap := p.World.Best(c)
		best[c] = arm
		if gap > policysim.StandardMargin && p.Learned(c) != p.World.Arms[arm] {
			t.Errorf("cell %v: learned %s, planted best %s", p.World.Cells[c].Values, p.Learned(c), p.World.Arms[arm])
		}
	}
	if v := p.World.Value(best); v < p.Policy.Value.CI[0] || v > p.Policy.Value.CI[1] {
		t.Errorf("planted value %.1f outside the CI %v", v, p.Policy.Value.CI)
	}
	for _, e := range res.Effects {
		if !e.Recovered() {
			t.Errorf("%s: planted %+.4f not in the 95%% CI [%+.4f, %+.4f] (measured %+.4f)", e.Variant, e.Planted, e.CI[0], e.CI[1], e.Measured)
		}
		if e.Variant == "personalized" && e.CI[0] <= 0 {
			t.Errorf("personalized: the planted +2.5pp is not detected: CI %v", e.CI)
		}
	}
	for _, v := range res.Report.Variants {
		switch v.Key {
		case "control":
			if v.PromotionCost != 0 {
				t.Errorf("control costs %g", v.PromotionCost)
			}
		case "ten_off": // derived by the store: 10% of each order
			if v.PromotionCost < 0.099*v.Revenue || v.PromotionCost > 0.101*v.Revenue {
				t.Errorf("ten_off: cost %g on revenue %g", v.PromotionCost, v.Revenue)
			}
		case "free_shipping": // derived: 599 per order
			if v.PromotionCost != 599*v.Conversions {
				t.Errorf("free_shipping: cost %g for %g orders", v.PromotionCost, v.Conversions)
			}
		case "personalized": // carried by the conversions
			if v.PromotionCost <= 0 {
				t.Errorf("personalized: cost %g", v.PromotionCost)
			}
		}
	}
	dims := map[string]bool{}
	for _, b := range res.Report.Breakdowns {
		dims[b.Dimension] = len(b.Slices) > 1
	}
	if !dims[experiments.AttrRFMSegment] || !dims[experiments.AttrAIPLStage] || !dims["channel"] {
		t.Errorf("breakdowns: %v", dims)
	}
	var out bytes.Buffer
	if err := printDemo(&out, res); err != nil || !strings.Contains(out.String(), "PLANTED EFFECTS") {
		t.Errorf("printDemo: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())

	// The service's segments are the targeting attributes of Assign: an
	// experiment for champions only takes champions.
	var champ, other string
	for i := 1; i <= 2000 && (champ == "" || other == ""); i++ {
		id := fmt.Sprintf("cust-%06d", i)
		g, err := svc.Segments(ctx, experiments.DefaultEnvironment, id)
		if err != nil {
			t.Fatal(err)
		}
		if g.RFM == experiments.RFMChampions && champ == "" {
			champ = id
		} else if g.RFM != experiments.RFMChampions && g.Known && other == "" {
			other = id
		}
	}
	if champ == "" || other == "" {
		t.Fatal("no champion or no other customer among the first 2000")
	}
	e := &experiments.Experiment{Key: "champions-only", Coverage: 1, Condition: json.RawMessage(`{"rfm_segment": "champions"}`),
		Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "gift", Weight: 0.5}}}
	if err := svc.CreateExperiment(ctx, experiments.Principal{}, e); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, experiments.Principal{}, e.Key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{champ: true, other: false} {
		rs, err := svc.Assign(ctx, experiments.Principal{}, experiments.AssignRequest{UnitID: id, Experiments: []string{e.Key}})
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].InExperiment != want {
			t.Errorf("Assign(%s) in champions-only = %v (%s), want %v", id, rs[0].InExperiment, rs[0].Reason, want)
		}
	}
	// An attribute sent by the caller wins over the stored segment.
	rs, err := svc.Assign(ctx, experiments.Principal{}, experiments.AssignRequest{UnitID: other, Experiments: []string{e.Key},
		Attributes: map[string]any{"rfm_segment": "champions"}})
	if err != nil || !rs[0].InExperiment {
		t.Errorf("Assign with rfm_segment sent = %+v, %v", rs, err)
	}
}

func TestDemoFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--server", "http://x", "--db", "y"}, nil, &out, &errb); code != 2 {
		t.Errorf("--server with --db: exit %d", code)
	}
	if code := run(context.Background(), []string{"demo", "--customers", "5"}, nil, &out, &errb); code != 2 {
		t.Errorf("--customers 5: exit %d", code)
	}
	if code := run(context.Background(), []string{"demo", "--server", "ftp://x", "--key", "k"}, nil, &out, &errb); code != 2 {
		t.Errorf("ftp server: exit %d", code)
	}
}
