package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// TextFinder is implemented by stores that can list where a text occurs
// ("table.column", over every column of every table), to verify erasure.
type TextFinder interface {
	TablesContaining(ctx context.Context, needle string) ([]string, error)
}

var (
	rightsAdmin = experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
	rightsSDK   = experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}
)

// testCustomers runs the customers' rights tests (DESIGN.md §3) through a
// Service over the store.
func testCustomers(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	setup := func(t *testing.T) (*experiments.Service, experiments.CustomerStore, *time.Time) {
		s := newStore(t)
		cs, ok := s.(experiments.CustomerStore)
		if !ok {
			t.Fatalf("%T does not implement experiments.CustomerStore", s)
		}
		svc := experiments.NewService(s, nil)
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		svc.SetClock(func() time.Time { return now })
		return svc, cs, &now
	}
	t.Run("ConsentOptOutGivesControlAndStoresNoExposure", func(t *testing.T) {
		svc, _, _ := setup(t)
		startPromo(t, svc, "spring", "", 0)
		r := assignOne(t, svc, "cust-1", "spring")
		if !r.InExperiment || r.Variant != "ten_off" {
			t.Fatalf("before opt-out: %+v", r)
		}
		_, err := svc.SetConsent(ctx(t), rightsSDK, "cust-2", false)
		must(t, err)
		r = assignOne(t, svc, "cust-2", "spring")
		if r.InExperiment || r.Variant != "control" || r.Reason != experiments.ReasonOptedOut || string(r.Value) != `"control"` {
			t.Fatalf("opted out: %+v, want control, not in experiment, reason opted_out", r)
		}
		if n := exposureEvents(t, svc, "spring"); n != 1 {
			t.Fatalf("%d exposures stored, want 1 (none for the opted-out customer)", n)
		}
		// An exposure sent for the opted-out customer is rejected.
		out, err := svc.IngestEvents(ctx(t), rightsSDK, []experiments.Event{
			{ID: "x1", Type: experiments.EventExposure, UnitID: "cust-2", Experiment: "spring", Variant: "ten_off", Timestamp: t0.AddDate(0, 2, 0)},
			{ID: "x2", Type: experiments.EventExposure, UnitID: "cust-3", Experiment: "spring", Variant: "ten_off", Timestamp: t0.AddDate(0, 2, 0)},
		})
		must(t, err)
		if out[0].Status != experiments.EventRejected || out[0].Err == nil || out[0].Err.Code != "opted_out" {
			t.Fatalf("exposure of an opted-out customer: %+v, want rejected opted_out", out[0])
		}
		if out[1].Status != experiments.EventAccepted {
			t.Fatalf("exposure of another customer: %+v, want accepted", out[1])
		}
		// Opting back in restores the assignment; an SDK key may not do it.
		_, err = svc.SetConsent(ctx(t), rightsSDK, "cust-2", true)
		wantKind(t, err, experiments.KindForbidden)
		_, err = svc.SetConsent(ctx(t), rightsAdmin, "cust-2", true)
		must(t, err)
		if r := assignOne(t, svc, "cust-2", "spring"); !r.InExperiment || r.Variant != "ten_off" {
			t.Fatalf("after opting in again: %+v", r)
		}
		// The audit log names the customer by hash only.
		entries, err := svc.Audit(ctx(t), 100, 0, "")
		must(t, err)
		consents := 0
		for _, e := range entries {
			if e.Action == "customer.consent" {
				consents++
				if strings.Contains(e.Resource+string(e.After), "cust-2") || !strings.HasPrefix(e.Resource, "customer:hmac-sha256:") {
					t.Fatalf("consent audit entry %q exposes the customer", e.Resource)
				}
			}
		}
		if consents != 2 {
			t.Fatalf("%d consent audit entries, want 2", consents)
		}
	})
	t.Run("FrequencyCapFourthPromotionExposureInWindowIsCapped", func(t *testing.T) {
		svc, cs, now := setup(t)
		must(t, svc.PutCapGroup(ctx(t), rightsAdmin, &experiments.CapGroup{Name: "promos", MaxExposures: 3, Window: 168 * time.Hour}))
		startPromo(t, svc, "a", "promos", 0)
		startPromo(t, svc, "b", "promos", 0)
		startPromo(t, svc, "free", "", 0) // not in the group: never capped
		day1 := *now
		for _, exp := range []string{"a", "b", "a", "b", "free"} { // repeats on one day are one exposure
			if r := assignOne(t, svc, "cust", exp); !r.InExperiment {
				t.Fatalf("day 1, %s: %+v", exp, r)
			}
		}
		*now = day1.Add(24 * time.Hour)
		if r := assignOne(t, svc, "cust", "a"); !r.InExperiment {
			t.Fatalf("3rd promotion exposure: %+v", r)
		}
		r := assignOne(t, svc, "cust", "b")
		if r.InExperiment || r.Variant != "control" || r.Reason != experiments.ReasonFrequencyCapped {
			t.Fatalf("4th promotion exposure in the window: %+v, want control with frequency_capped", r)
		}
		if r := assignOne(t, svc, "cust", "a"); !r.InExperiment {
			t.Fatalf("the exposure already stored today is not a new one: %+v", r)
		}
		if r := assignOne(t, svc, "cust", "free"); !r.InExperiment {
			t.Fatalf("experiment outside the group: %+v", r)
		}
		if r := assignOne(t, svc, "other", "b"); !r.InExperiment {
			t.Fatalf("another customer: %+v", r)
		}
		ev := experiments.ExposureID("b", 1, "cust", "ten_off", *now)
		if ok, err := cs.HasEvent(ctx(t), ev); err != nil || ok {
			t.Fatalf("the capped exposure was stored (%v, %v)", ok, err)
		}
		assignOne(t, svc, "cust", "b") // capped again: still one unit
		for exp, want := range map[string]int64{"a": 0, "b": 1, "free": 0} {
			n, err := svc.CappedUnits(ctx(t), exp)
			must(t, err)
			if n != want {
				t.Fatalf("CappedUnits(%s) = %d, want %d", exp, n, want)
			}
		}
		// Seven days after day 1 the day-1 exposures leave the window.
		*now = day1.Add(168*time.Hour + time.Minute)
		if r := assignOne(t, svc, "cust", "b"); !r.InExperiment || r.Reason == experiments.ReasonFrequencyCapped {
			t.Fatalf("outside the window: %+v, want the promotion again", r)
		}
	})
	t.Run("BudgetExhaustionSwitchesAssignmentAtTheSpend", func(t *testing.T) {
		svc, _, now := setup(t)
		startPromo(t, svc, "budget", "", 1000)
		convert := func(unit string, cost int64) {
			t.Helper()
			out, err := svc.IngestEvents(ctx(t), rightsSDK, []experiments.Event{{ID: "c-" + unit, Type: experiments.EventConversion,
				UnitID: unit, Name: "purchase", Revenue: 5000, PromotionCost: ptr(cost), Currency: "KRW", Timestamp: *now}})
			must(t, err)
			if out[0].Status != experiments.EventAccepted {
				t.Fatalf("conversion: %+v", out[0])
			}
		}
		for _, u := range []string{"u1", "u2"} {
			if r := assignOne(t, svc, u, "budget"); !r.InExperiment || r.Variant != "ten_off" {
				t.Fatalf("%s: %+v", u, r)
			}
			convert(u, 400)
		}
		convert("never-exposed", 5000) // not attributed: no spend
		spend, err := svc.VariantSpend(ctx(t), "budget")
		must(t, err)
		equalJSON(t, "spend", spend, map[string]int64{"ten_off": 800})
		if r := assignOne(t, svc, "u3", "budget"); !r.InExperiment || r.Variant != "ten_off" {
			t.Fatalf("spend 800 of 1000: %+v, want the promotion", r)
		}
		convert("u3", 200)
		r := assignOne(t, svc, "u4", "budget")
		if r.InExperiment || r.Variant != "control" || r.Reason != experiments.ReasonBudgetExhausted {
			t.Fatalf("spend 1000 of 1000: %+v, want control with budget_exhausted", r)
		}
		if n := exposureEvents(t, svc, "budget"); n != 3 {
			t.Fatalf("%d exposures, want 3 (none for the budget-exhausted unit)", n)
		}
		// Erasing a customer keeps the variant's spend.
		_, err = svc.EraseCustomer(ctx(t), rightsAdmin, "u1")
		must(t, err)
		spend, err = svc.VariantSpend(ctx(t), "budget")
		must(t, err)
		equalJSON(t, "spend after erasure", spend, map[string]int64{"ten_off": 1000})
	})
	t.Run("EraseCustomerLeavesNoTraceInAnyTable", func(t *testing.T) {
		svc, cs, now := setup(t)
		s := svc.Store()
		tf, ok := s.(TextFinder)
		if !ok {
			t.Fatalf("%T does not implement storetest.TextFinder", s)
		}
		const id, other = "erase-me-7f3a", "keep-me-9b2c"
		must(t, svc.PutCapGroup(ctx(t), rightsAdmin, &experiments.CapGroup{Name: "once", MaxExposures: 1, Window: 24 * time.Hour}))
		startPromo(t, svc, "e1", "once", 0)
		startPromo(t, svc, "e2", "once", 0)
		for _, u := range []string{id, other} {
			_, err := svc.SetConsent(ctx(t), rightsAdmin, u, true)
			must(t, err)
			assignOne(t, svc, u, "e1")
			if r := assignOne(t, svc, u, "e2"); r.Reason != experiments.ReasonFrequencyCapped {
				t.Fatalf("%s: %+v, want capped", u, r)
			}
			_, err = svc.IngestEvents(ctx(t), rightsSDK, []experiments.Event{{ID: "conv-" + u, Type: experiments.EventConversion,
				UnitID: u, Name: "purchase", Revenue: 100, PromotionCost: ptr(int64(10)), Currency: "KRW", OrderID: "o-" + u, Timestamp: *now}})
			must(t, err)
		}
		before, err := tf.TablesContaining(ctx(t), id)
		must(t, err)
		for _, want := range []string{"events.unit_id", "exposures_rollup.unit_id", "unit_metrics.unit_id",
			"customer_consent.unit_id", "capped_units.unit_id"} {
			if !slices.Contains(before, want) {
				t.Fatalf("before erasure the customer is in %q, missing %s", before, want)
			}
		}
		er, err := svc.EraseCustomer(ctx(t), rightsAdmin, id)
		must(t, err)
		if er.Rows["events"] != 2 || er.Rows["customer_consent"] != 1 || er.Rows["capped_units"] != 1 {
			t.Fatalf("deleted rows %v", er.Rows)
		}
		after, err := tf.TablesContaining(ctx(t), id)
		must(t, err)
		if len(after) != 0 {
			t.Fatalf("after erasure the customer ID is still in %q", after)
		}
		// The erasure is audited under the hash, and other customers stay.
		entries, err := svc.Audit(ctx(t), 100, 0, "")
		must(t, err)
		if entries[0].Action != "customer.erase" || entries[0].Resource != "customer:"+er.Subject ||
			strings.Contains(er.Subject, id) || len(er.Subject) != len("hmac-sha256:")+64 {
			t.Fatalf("latest audit entry %+v, subject %q", entries[0], er.Subject)
		}
		h, err := svc.CustomerHash(ctx(t), id)
		must(t, err)
		if h != er.Subject {
			t.Fatalf("CustomerHash is not stable: %q, %q", h, er.Subject)
		}
		kept, err := tf.TablesContaining(ctx(t), other)
		must(t, err)
		if len(kept) < 5 {
			t.Fatalf("the other customer lost data: %q", kept)
		}
		if n, _ := cs.CappedUnits(ctx(t), "e2"); n != 1 {
			t.Fatalf("CappedUnits(e2) = %d after erasing one of two capped units, want 1", n)
		}
		// Erasing twice (or an unknown customer) is fine and deletes nothing.
		er, err = svc.EraseCustomer(ctx(t), rightsAdmin, id)
		must(t, err)
		if len(er.Rows) != 0 {
			t.Fatalf("second erasure deleted %v", er.Rows)
		}
	})
	t.Run("CapGroups", func(t *testing.T) {
		svc, _, now := setup(t)
		g := &experiments.CapGroup{Name: "promos", MaxExposures: 3, Window: 168 * time.Hour}
		must(t, svc.PutCapGroup(ctx(t), rightsAdmin, g))
		*now = now.Add(time.Hour)
		g2 := &experiments.CapGroup{Name: "promos", MaxExposures: 5, Window: 24 * time.Hour}
		must(t, svc.PutCapGroup(ctx(t), rightsAdmin, g2))
		got, err := svc.GetCapGroup(ctx(t), "promos")
		must(t, err)
		if got.MaxExposures != 5 || got.Window != 24*time.Hour || !got.CreatedAt.Equal(g.CreatedAt) || !got.UpdatedAt.Equal(*now) {
			t.Fatalf("GetCapGroup = %+v", got)
		}
		_, err = svc.GetCapGroup(ctx(t), "nope")
		wantKind(t, err, experiments.KindNotFound)
		err = svc.PutCapGroup(ctx(t), rightsAdmin, &experiments.CapGroup{Name: "bad", MaxExposures: 0, Window: time.Hour})
		wantCode(t, err, experiments.KindInvalid, "out_of_range")
	})
}

// startPromo creates and starts an experiment whose units all get the
// promotion variant ten_off (control has weight 0).
func startPromo(t *testing.T, svc *experiments.Service, key, capGroup string, budget int64) {
	t.Helper()
	e := &experiments.Experiment{Key: key, Coverage: 1, CapGroup: capGroup, Variants: []experiments.Variant{
		{Key: "control", Weight: 0, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
		{Key: "ten_off", Weight: 1, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Budget: budget, Currency: "KRW"}},
	}}
	must(t, svc.CreateExperiment(ctx(t), rightsAdmin, e))
	_, err := svc.Transition(ctx(t), rightsAdmin, key, experiments.ActionStart)
	must(t, err)
}

func assignOne(t *testing.T, svc *experiments.Service, unit, exp string) experiments.AssignmentResult {
	t.Helper()
	rs, err := svc.Assign(ctx(t), rightsSDK, experiments.AssignRequest{UnitID: unit, Experiments: []string{exp}, LogExposure: true})
	must(t, err)
	if len(rs) != 1 {
		t.Fatalf("Assign gave %d results", len(rs))
	}
	return rs[0]
}

func exposureEvents(t *testing.T, svc *experiments.Service, exp string) int64 {
	t.Helper()
	st, err := svc.SufficientStats(ctx(t), experiments.StatsQuery{Experiment: exp})
	must(t, err)
	var n int64
	for _, v := range st.Variants {
		n += v.Exposures
	}
	return n
}
