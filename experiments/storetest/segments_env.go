package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// testSegmentEnvironments checks that a customer's segments in an
// environment count only the events of that environment and of keys bound
// to none: a staging key's purchase does not move the customer's
// production segment (nor production's RFM boundaries, nor a production
// experiment's targeting), a production key's does, an unbound key's
// counts in both; erasure removes the aggregates of every environment.
func testSegmentEnvironments(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	const prod, staging = experiments.DefaultEnvironment, "staging"
	now := t0.Add(24 * time.Hour)
	tests := []struct {
		name              string
		keyEnv            string // the environment of the SDK key sending the purchase
		inProd, inStaging bool   // the purchase counts there
	}{
		{"StagingKey", staging, false, true},
		{"ProductionKey", prod, true, false},
		{"UnboundKey", "", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			st, ok := s.(experiments.CustomerSegmentStore)
			if !ok {
				t.Skip("the store keeps no customer segments")
			}
			svc := experiments.NewService(s, nil)
			svc.SetClock(func() time.Time { return now })
			svc.SetSegmentConfig(experiments.SegmentConfig{BoundaryTTL: -1})
			admin := experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
			for _, env := range []string{prod, staging} {
				e := parityExperiment("buyers-"+env, 0, 1)
				e.Environment = env
				e.Condition = json.RawMessage(`{"aipl_stage": "purchase"}`)
				must(t, svc.CreateExperiment(ctx(t), admin, e))
				_, err := svc.Transition(ctx(t), admin, e.Key, experiments.ActionStart)
				must(t, err)
			}
			key := experiments.Principal{KeyID: "sdk-" + tc.keyEnv, Scope: experiments.ScopeSDK, Environment: tc.keyEnv}
			out, err := svc.IngestEvents(ctx(t), key, []experiments.Event{
				conversion("buy-1", "cust", experiments.PurchaseEvent, time.Hour, 5000, nil)})
			must(t, err)
			if out[0].Status != experiments.EventAccepted {
				t.Fatalf("purchase: %+v", out[0])
			}
			// One Assign call of an unbound key runs both environments'
			// experiments: each targets the segment of its environment.
			rs, err := svc.Assign(ctx(t), paritySDK, experiments.AssignRequest{UnitID: "cust",
				Experiments: []string{"buyers-" + prod, "buyers-" + staging}, LogExposure: true})
			must(t, err)
			for i, w := range map[string]bool{prod: tc.inProd, staging: tc.inStaging} {
				g, err := svc.Segments(ctx(t), i, "cust")
				must(t, err)
				wantStage, wantCount, wantBuyers := experiments.AIPLNone, int64(0), int64(0)
				if w {
					wantStage, wantCount, wantBuyers = experiments.AIPLPurchase, 1, 1
				}
				if g.AIPL != wantStage || g.Aggregate.PurchaseCount != wantCount || g.Known != w {
					t.Errorf("Segments(%s): known %v, stage %s, purchases %d; want %v, %s, %d",
						i, g.Known, g.AIPL, g.Aggregate.PurchaseCount, w, wantStage, wantCount)
				}
				if w && g.RFM == experiments.RFMNone {
					t.Errorf("Segments(%s): RFM none for a buyer", i)
				}
				b, err := st.RFMBoundaries(ctx(t), i)
				must(t, err)
				if b.Customers != wantBuyers {
					t.Errorf("RFMBoundaries(%s).Customers = %d, want %d", i, b.Customers, wantBuyers)
				}
				for _, r := range rs {
					if r.Experiment == "buyers-"+i && r.InExperiment != w {
						t.Errorf("Assign %s: in experiment %v, want %v", r.Experiment, r.InExperiment, w)
					}
				}
			}
			// The production exposure logged carries the production stage.
			if tc.inProd {
				if got, w := exposuresByVariant(t, s, "buyers-"+prod, experiments.AttrAIPLStage), "map[purchase/ten_off:1]"; got != w {
					t.Errorf("exposures of buyers-%s by aipl_stage: %s, want %s", prod, got, w)
				}
			}
			if _, err := svc.EraseCustomer(ctx(t), admin, "cust"); err != nil {
				t.Fatal(err)
			}
			rows, err := st.CustomerAggregates(ctx(t), "cust")
			must(t, err)
			if len(rows) != 0 {
				t.Errorf("after erasure: %d aggregate rows left: %+v", len(rows), rows)
			}
		})
	}
}

// AggregateHasNoEnvironment checks a store just upgraded by migration 0026
// from a database holding one aggregate of unit (2 purchases, 5000 in all,
// the last at bought): the row has the environment "", so the customer is
// a purchaser in every environment's segments.
func AggregateHasNoEnvironment(t *testing.T, s experiments.Store, unit string, bought time.Time) {
	t.Helper()
	c := ctx(t)
	cs, ok := s.(experiments.CustomerSegmentStore)
	if !ok {
		t.Fatalf("%T keeps no customer aggregates", s)
	}
	rows, err := cs.CustomerAggregates(c, unit)
	must(t, err)
	if len(rows) != 1 || rows[0].Environment != "" || rows[0].PurchaseCount != 2 || rows[0].Monetary != 5000 ||
		!rows[0].LastPurchaseAt.Equal(bought) {
		t.Fatalf("aggregates after the migration: %+v, want one row of environment \"\"", rows)
	}
	svc := experiments.NewService(s, nil)
	svc.SetClock(func() time.Time { return bought.Add(24 * time.Hour) })
	for _, env := range []string{experiments.DefaultEnvironment, "staging"} {
		g, err := svc.Segments(c, env, unit)
		must(t, err)
		if !g.Known || g.Aggregate.PurchaseCount != 2 || g.AIPL != experiments.AIPLPurchase {
			t.Errorf("Segments(%s) after the migration: %+v", env, g)
		}
	}
}
