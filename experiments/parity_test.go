package experiments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// A unit gets the same answer for an experiment whichever way the app asks:
// Assign, OFREP reading the experiment as a flag (single or bulk), or a
// flag whose rule delegates to the experiment (single or bulk). The tests
// below run the same history on two fresh services, ask one through Assign
// and the other through one OFREP path, and compare the answers and what
// each stored (exposures, sticky docs, capped units).

// parityNow is the fixed time of the parity tests.
var parityNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// The ways of asking for a unit's variant of an experiment.
const (
	viaAssign     = "assign"
	viaSingle     = "ofrep-single"
	viaBulk       = "ofrep-bulk"
	viaFlag       = "flag-single"
	viaFlagInBulk = "flag-bulk"
)

// ofrepPaths are the ways compared with viaAssign.
var ofrepPaths = []string{viaSingle, viaBulk, viaFlag, viaFlagInBulk}

// answer is a unit's answer for an experiment, whichever way it was asked:
// the variant, whether the unit is in the experiment with it, and the
// reason of a right that held the promotion back ("" otherwise).
type answer struct {
	Variant string
	In      bool
	Rights  string
}

// paritySvc is a Service over a fresh SQLite file at parityNow with the
// store to reopen it.
type paritySvc struct {
	svc *experiments.Service
	st  *sqlite.Store
}

func newParitySvc(t *testing.T) *paritySvc {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	p := &paritySvc{st: st}
	p.reopen()
	return p
}

// reopen replaces the Service by a fresh one over the same store, as
// another replica reading changes made directly in the store.
func (p *paritySvc) reopen() {
	p.svc = experiments.NewService(p.st, nil)
	p.svc.SetClock(func() time.Time { return parityNow })
}

// delegatingFlag creates the string flag key+"-flag" whose only rule
// delegates to experiment key; its values differ from the variant keys
// (control "none", ten_off "10%").
func delegatingFlag(t *testing.T, svc *experiments.Service, key string) {
	t.Helper()
	f := &experiments.Flag{Key: key + "-flag", Type: experiments.FlagString, DefaultVariant: "control", Enabled: true,
		Variants: map[string]json.RawMessage{"control": json.RawMessage(`"none"`), "ten_off": json.RawMessage(`"10%"`)},
		Rules:    []experiments.FlagRule{{ID: "delegate", Experiment: key}}}
	if err := svc.CreateFlag(context.Background(), specAdmin, f); err != nil {
		t.Fatalf("CreateFlag(%s): %v", f.Key, err)
	}
}

// flagValues are the values of the flags of delegatingFlag by variant.
var flagValues = map[string]string{"control": `"none"`, "ten_off": `"10%"`}

// ask asks svc for unit's answer for experiment exp through path, with
// attrs besides the unit's id, logging exposures.
func ask(t *testing.T, svc *experiments.Service, path, unit, exp string, attrs map[string]any) answer {
	t.Helper()
	ctx := context.Background()
	a := map[string]any{"id": unit}
	maps.Copy(a, attrs)
	switch path {
	case viaAssign:
		rs, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: unit, Attributes: attrs,
			Experiments: []string{exp}, LogExposure: true})
		if err != nil || len(rs) != 1 {
			t.Fatalf("Assign(%s, %s) = %+v, %v", unit, exp, rs, err)
		}
		r := rs[0]
		out := answer{Variant: r.Variant, In: r.InExperiment}
		switch r.Reason {
		case experiments.ReasonOptedOut, experiments.ReasonBudgetExhausted, experiments.ReasonFrequencyCapped:
			out.Rights = r.Reason
		}
		return out
	case viaSingle, viaFlag:
		key := exp
		if path == viaFlag {
			key += "-flag"
		}
		ev, err := svc.EvaluateFlag(ctx, specSDK, key, a)
		if err != nil {
			t.Fatalf("EvaluateFlag(%s, %s): %v", key, unit, err)
		}
		return answerOf(t, ev, exp, path == viaFlag)
	case viaBulk, viaFlagInBulk:
		key := exp
		if path == viaFlagInBulk {
			key += "-flag"
		}
		evs, _, err := svc.EvaluateFlagsLogged(ctx, specSDK, a)
		if err != nil {
			t.Fatalf("EvaluateFlags(%s): %v", unit, err)
		}
		i := slices.IndexFunc(evs, func(ev *experiments.FlagEvaluation) bool { return ev.Key == key })
		if i < 0 {
			t.Fatalf("EvaluateFlags(%s) has no %s: %+v", unit, key, evs)
		}
		return answerOf(t, evs[i], exp, path == viaFlagInBulk)
	}
	t.Fatalf("unknown path %q", path)
	return answer{}
}

// answerOf reads the answer for experiment exp from an evaluation of the
// experiment (flag false) or of its delegating flag, checking that value,
// reason and metadata agree with it.
func answerOf(t *testing.T, ev *experiments.FlagEvaluation, exp string, flag bool) answer {
	t.Helper()
	if ev.Err != nil {
		t.Fatalf("%s: %v", ev.Key, ev.Err)
	}
	in, _ := ev.Metadata["in_experiment"].(bool)
	rights, _ := ev.Metadata["reason"].(string)
	out := answer{Variant: ev.Variant, In: in, Rights: rights}
	wantValue := `"` + ev.Variant + `"`
	if flag {
		wantValue = flagValues[ev.Variant]
	}
	wantReason := experiments.ReasonDefault
	switch {
	case in:
		wantReason = experiments.ReasonSplit
	case rights == experiments.ReasonOptedOut:
		wantReason = experiments.ReasonOptedOutFlag
	}
	_, hasExp := ev.Metadata["experiment"]
	if string(ev.Value) != wantValue || ev.Reason != wantReason || (in || rights != "") && ev.Metadata["experiment"] != exp ||
		!flag && !hasExp || in && rights != "" {
		t.Errorf("%s = %+v (value %s): want value %s, reason %s, metadata experiment %s", ev.Key, ev, ev.Value, wantValue, wantReason, exp)
	}
	return out
}

// exposuresOf returns the exposures of experiment exp per variant, split
// by the unit's value of the attribute dim when dim is set.
func exposuresOf(t *testing.T, svc *experiments.Service, exp, dim string) map[string]int64 {
	t.Helper()
	ss, err := svc.SufficientStats(context.Background(), experiments.StatsQuery{Experiment: exp, Dimension: dim})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, v := range ss.Variants {
		out[v.Slice+"/"+v.Variant] = v.Exposures
	}
	return out
}

// allStickyDocs loads the docs of attribute id of units.
func allStickyDocs(t *testing.T, st experiments.StickyStore, units []string) map[string]map[string]string {
	t.Helper()
	keys := make([]experiments.StickyKey, len(units))
	for i, u := range units {
		keys[i] = experiments.StickyKey{AttributeName: "id", UnitID: u}
	}
	docs, err := st.LoadSticky(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, d := range docs {
		out[d.AttributeName+"||"+d.AttributeValue] = d.Assignments
	}
	return out
}

func unitNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%d", i)
	}
	return out
}

// compareAnswers fails on the units whose answers differ.
func compareAnswers(t *testing.T, what string, got, want map[string]answer) {
	t.Helper()
	diff := 0
	for u, w := range want {
		if got[u] != w {
			diff++
			if diff <= 5 {
				t.Errorf("%s, %s: %+v, Assign %+v", what, u, got[u], w)
			}
		}
	}
	if diff > 0 || len(got) != len(want) {
		t.Fatalf("%s: %d of %d units answered differently than Assign", what, diff, len(want))
	}
}

// A sticky experiment answers through OFREP (single, bulk) and through a
// delegating flag what Assign answers, from the same sticky docs, and
// stores the same docs and exposures: after its weights change without a
// bucket-version bump, after a re-randomization, and for fresh units.
func TestOFREPStickyAsAssign(t *testing.T) {
	const units = 40
	names := unitNames(units)
	stickySale := func(t *testing.T, p *paritySvc) {
		t.Helper()
		e := specExperiment("sticky-sale", "")
		e.Sticky = true
		startExperiment(t, p.svc, e)
		delegatingFlag(t, p.svc, "sticky-sale")
	}
	assignAll := func(t *testing.T, p *paritySvc) {
		t.Helper()
		for _, u := range names {
			ask(t, p.svc, viaAssign, u, "sticky-sale", nil)
		}
	}
	reweigh := func(t *testing.T, p *paritySvc) {
		t.Helper()
		changeWeights(t, p.st, "sticky-sale", 0.1, 0.9)
		p.reopen()
	}
	rerandomize := func(t *testing.T, p *paritySvc) {
		t.Helper()
		if _, err := p.svc.Rerandomize(context.Background(), specAdmin, "sticky-sale",
			experiments.Rerandomization{Weights: []float64{0.5, 0.5}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		history []func(t *testing.T, p *paritySvc) // run on both services
		rounds  int                                // rounds of asking; reweigh between rounds
	}{
		{"weights changed", []func(*testing.T, *paritySvc){assignAll, reweigh}, 1},
		{"re-randomized, then weights changed", []func(*testing.T, *paritySvc){assignAll, rerandomize}, 2},
		{"fresh units", nil, 1},
	}
	for _, tt := range tests {
		for _, path := range ofrepPaths {
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				ref, got := newParitySvc(t), newParitySvc(t)
				for _, p := range []*paritySvc{ref, got} {
					stickySale(t, p)
					for _, h := range tt.history {
						h(t, p)
					}
				}
				moved := 0
				for round := range tt.rounds {
					if round > 0 {
						reweigh(t, ref)
						reweigh(t, got)
					}
					spec, _, err := ref.svc.SDKSpec(context.Background(), "")
					if err != nil {
						t.Fatal(err)
					}
					want, have := map[string]answer{}, map[string]answer{}
					for _, u := range names {
						want[u] = ask(t, ref.svc, viaAssign, u, "sticky-sale", nil)
						have[u] = ask(t, got.svc, path, u, "sticky-sale", nil)
						if r, _ := spec.Run("sticky-sale", map[string]any{"id": u}); r.VariantKey != want[u].Variant {
							moved++
						}
					}
					compareAnswers(t, fmt.Sprintf("round %d", round+1), have, want)
				}
				if tt.name != "fresh units" && moved == 0 {
					t.Fatal("no unit kept a variant other than the current hash's: the case does not exercise sticky bucketing")
				}
				if g, w := allStickyDocs(t, got.st, names), allStickyDocs(t, ref.st, names); fmt.Sprint(g) != fmt.Sprint(w) || len(w) != units {
					t.Errorf("sticky docs after %s %v,\nafter Assign %v", path, g, w)
				}
				if g, w := exposuresOf(t, got.svc, "sticky-sale", ""), exposuresOf(t, ref.svc, "sticky-sale", ""); fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("exposures after %s %v, after Assign %v", path, g, w)
				}
			})
		}
	}
}

// segmentFixture starts "seg-sale", which gives ten_off to every unit in
// the AIPL stage purchase, with its delegating flag and the plain
// experiment "plain-sale", and stores a purchase of "buyer" and a view of
// "browser".
func segmentFixture(t *testing.T, svc *experiments.Service) {
	t.Helper()
	e := specExperiment("seg-sale", "")
	e.Condition = json.RawMessage(`{"aipl_stage": "purchase"}`)
	e.Segments = []string{experiments.AttrRFMSegment}
	e.Variants[0].Weight, e.Variants[1].Weight = 0, 1
	startExperiment(t, svc, e)
	delegatingFlag(t, svc, "seg-sale")
	startExperiment(t, svc, specExperiment("plain-sale", ""))
	out, err := svc.IngestEvents(context.Background(), specSDK, []experiments.Event{
		{ID: "buy-1", Type: experiments.EventConversion, UnitID: "buyer", Name: "purchase", Revenue: 5000, Currency: "KRW", Timestamp: parityNow.Add(-24 * time.Hour)},
		{ID: "view-1", Type: experiments.EventConversion, UnitID: "browser", Name: "view", Timestamp: parityNow.Add(-24 * time.Hour)},
	})
	if err != nil || out[0].Status != experiments.EventAccepted || out[1].Status != experiments.EventAccepted {
		t.Fatalf("events: %+v, %v", out, err)
	}
}

// An experiment targeting a segment attribute answers through OFREP and a
// delegating flag what Assign answers, with the unit's segments added the
// same way (attributes the caller sends win), and its exposures carry the
// same segment attributes.
func TestOFREPSegmentsAsAssign(t *testing.T) {
	tests := []struct {
		name  string
		unit  string
		attrs map[string]any
		in    bool
	}{
		{"purchase stage", "buyer", nil, true},
		{"interest stage", "browser", nil, false},
		{"unknown customer", "stranger", nil, false},
		{"stage sent by the caller", "browser", map[string]any{"aipl_stage": "purchase"}, true},
		{"stage sent by the caller wins", "buyer", map[string]any{"aipl_stage": "loyalty"}, false},
	}
	for _, tt := range tests {
		for _, path := range ofrepPaths {
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				ref, got := newParitySvc(t), newParitySvc(t)
				segmentFixture(t, ref.svc)
				segmentFixture(t, got.svc)
				want := ask(t, ref.svc, viaAssign, tt.unit, "seg-sale", tt.attrs)
				have := ask(t, got.svc, path, tt.unit, "seg-sale", tt.attrs)
				if want.In != tt.in || want.In && want.Variant != "ten_off" {
					t.Fatalf("Assign = %+v, want in experiment %v", want, tt.in)
				}
				if have != want {
					t.Fatalf("%s = %+v, Assign %+v", path, have, want)
				}
				for _, dim := range []string{experiments.AttrAIPLStage, experiments.AttrRFMSegment} {
					if g, w := exposuresOf(t, got.svc, "seg-sale", dim), exposuresOf(t, ref.svc, "seg-sale", dim); fmt.Sprint(g) != fmt.Sprint(w) {
						t.Errorf("exposures by %s after %s %v, after Assign %v", dim, path, g, w)
					}
				}
			})
		}
	}
}

// countingStore counts the reads of customer aggregates.
type countingStore struct {
	*sqlite.Store
	reads int
}

// CustomerAggregates implements experiments.CustomerSegmentStore.
func (c *countingStore) CustomerAggregates(ctx context.Context, unit string) ([]experiments.CustomerAggregate, error) {
	c.reads++
	return c.Store.CustomerAggregates(ctx, unit)
}

// Segments are read only for an evaluation that runs an experiment using
// them, once per call (bulk included), and not when the caller sends them.
func TestOFREPSegmentReads(t *testing.T) {
	ctx := context.Background()
	buyer := map[string]any{"id": "buyer"}
	tests := []struct {
		name  string
		call  string // "assign", "bulk", or the key of a single evaluation
		attrs map[string]any
		segs  bool // with "seg-sale" running
		want  int  // aggregate reads
		pause bool // "seg-sale" paused, and assign names it
	}{
		{"bulk without segment experiments", "bulk", buyer, false, 0, false},
		{"assign without segment experiments", "assign", buyer, false, 0, false},
		{"delegating flag without segment experiments", "plain-sale-flag", buyer, false, 0, false},
		{"bulk", "bulk", buyer, true, 1, false},
		{"assign", "assign", buyer, true, 1, false},
		{"single segment experiment", "seg-sale", buyer, true, 1, false},
		{"delegating flag", "seg-sale-flag", buyer, true, 1, false},
		{"single other experiment", "plain-sale", buyer, true, 0, false},
		{"bulk with the segments sent", "bulk", map[string]any{"id": "buyer", "aipl_stage": "none", "rfm_segment": "none"}, true, 0, false},
		{"bulk without a unit id", "bulk", map[string]any{"device": "d1"}, true, 0, false},
		{"assign naming a paused segment experiment", "assign", buyer, true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			cs := &countingStore{Store: st}
			svc := experiments.NewService(cs, nil)
			if tt.segs {
				segmentFixture(t, svc)
			} else {
				startExperiment(t, svc, specExperiment("plain-sale", ""))
				delegatingFlag(t, svc, "plain-sale")
			}
			var keys []string
			if tt.pause {
				if _, err := svc.Transition(ctx, specAdmin, "seg-sale", experiments.ActionPause); err != nil {
					t.Fatal(err)
				}
				keys = []string{"seg-sale"}
			}
			cs.reads = 0
			switch tt.call {
			case "assign":
				_, err = svc.Assign(ctx, specSDK, experiments.AssignRequest{Attributes: tt.attrs, Experiments: keys})
			case "bulk":
				_, _, err = svc.EvaluateFlagsLogged(ctx, specSDK, tt.attrs)
			default:
				_, err = svc.EvaluateFlag(ctx, specSDK, tt.call, tt.attrs)
			}
			if err != nil {
				t.Fatal(err)
			}
			if cs.reads != tt.want {
				t.Fatalf("%d reads of customer aggregates, want %d", cs.reads, tt.want)
			}
		})
	}
}

// delegatingRightsFixture is rightsFixture with a delegating flag per
// experiment.
func delegatingRightsFixture(t *testing.T) *experiments.Service {
	t.Helper()
	svc := rightsFixture(t)
	for _, k := range rightsExperiments {
		delegatingFlag(t, svc, k)
	}
	return svc
}

// A flag whose rule delegates to an experiment applies the customer's
// rights as Assign does: the same variant, the control's flag value when
// a right holds the promotion back, the same exposures and capped units.
// In one bulk evaluation the experiment and its flag answer alike and
// count one exposure toward the cap group.
func TestDelegatingFlagAppliesRightsAsAssign(t *testing.T) {
	ctx := context.Background()
	runRightsCases(t, delegatingRightsFixture, func(t *testing.T, tt rightsCase, bulk bool, keys []string, rs []experiments.AssignmentResult, got *experiments.Service) {
		evs := map[string]*experiments.FlagEvaluation{}
		if bulk {
			all, _, err := got.EvaluateFlagsLogged(ctx, specSDK, map[string]any{"id": "cust"})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range all {
				evs[ev.Key] = ev
			}
		} else {
			ev, err := got.EvaluateFlag(ctx, specSDK, tt.key+"-flag", map[string]any{"id": "cust"})
			if err != nil {
				t.Fatal(err)
			}
			evs[ev.Key] = ev
		}
		for i, k := range keys {
			r := rs[i]
			want := answer{Variant: r.Variant, In: r.InExperiment}
			if !r.InExperiment {
				want.Rights = r.Reason
			}
			if want.Rights != tt.want[k] {
				t.Errorf("Assign %s = %+v, want rights reason %q", k, r, tt.want[k])
			}
			checkDelegatingFlag(t, evs[k+"-flag"], k, tt.want[k])
			if have := answerOf(t, evs[k+"-flag"], k, true); have != want {
				t.Errorf("flag of %s = %+v, Assign %+v", k, have, want)
			}
			if bulk {
				if have := answerOf(t, evs[k], k, false); have != want {
					t.Errorf("%s in the same bulk evaluation = %+v, Assign %+v", k, have, want)
				}
			}
		}
	})
}

// checkDelegatingFlag checks the evaluation of the flag delegating to
// experiment key: the flag's ten_off value with reason SPLIT and metadata
// rule, experiment and in_experiment true when reason is "", else the
// flag's control value with reason DEFAULT, metadata in_experiment false
// and reason.
func checkDelegatingFlag(t *testing.T, ev *experiments.FlagEvaluation, key, reason string) {
	t.Helper()
	if ev == nil || ev.Err != nil || ev.Key != key+"-flag" {
		t.Fatalf("evaluation %+v, want the flag of %s", ev, key)
	}
	variant, value, evReason, in := "ten_off", `"10%"`, experiments.ReasonSplit, true
	if reason != "" {
		variant, value, evReason, in = "control", `"none"`, experiments.ReasonDefault, false
		if reason == experiments.ReasonOptedOut {
			evReason = experiments.ReasonOptedOutFlag
		}
	}
	md := ev.Metadata
	if ev.Variant != variant || string(ev.Value) != value || ev.Reason != evReason || md["in_experiment"] != in ||
		md["experiment"] != key || md["rule"] != "delegate" || md["type"] != "string" ||
		(reason == "" && md["reason"] != nil) || (reason != "" && md["reason"] != reason) {
		t.Errorf("%s = %+v (value %s): want %s %s, reason %s, metadata in_experiment %v, reason %q",
			ev.Key, ev, ev.Value, variant, value, evReason, in, reason)
	}
}
