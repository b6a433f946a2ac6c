package storetest

import (
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// withCosts gives the conversions of evs a promotion cost of a tenth of
// their revenue.
func withCosts(evs []experiments.Event) []experiments.Event {
	out := make([]experiments.Event, len(evs))
	for i, e := range evs {
		if e.Type == experiments.EventConversion && e.Revenue > 0 {
			c := e.Revenue / 10
			e.PromotionCost = &c
		}
		out[i] = e
	}
	return out
}

// testVariantSpend checks the spend per variant (Store.VariantSpend, read
// from the slice sums and the unit_metrics rows without conversions) after
// each history of incrementalCases with costs (withCosts): the cost of
// every unit_metrics row of the experiment (one without conversions among
// them) and its erased spend, added up from the tables themselves.
func testVariantSpend(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	for _, tc := range incrementalCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			db, ok := s.(rawDB)
			if !ok {
				t.Skipf("%T has no database to add the costs up from", s)
			}
			createExp(t, s, "exp", 7*24*time.Hour)
			ingest(t, s, withCosts(incrementalBase()))
			for _, b := range tc.batches {
				ingest(t, s, withCosts(b))
			}
			svc := experiments.NewService(s, nil)
			if tc.erase != "" {
				_, err := svc.EraseCustomer(ctx(t), rightsAdmin, tc.erase)
				must(t, err)
			}
			// A unit_metrics row without conversions, which no ingest in
			// these histories writes, still counts with its cost.
			var first any = t0
			if db.DB().DriverName() != "postgres" {
				first = t0.UnixMicro()
			}
			_, err := db.DB().ExecContext(ctx(t), db.DB().Rebind(`INSERT INTO unit_metrics (experiment, unit_id, metric, variant,
				multiple, channel, first_exposed_at, conversions, revenue, cost, currency)
				VALUES ('exp', 'z', 'purchase', 'treat', ?, '', ?, 0, 0, 70, 'KRW')`), false, first)
			must(t, err)
			var rows []struct {
				Variant string `db:"variant"`
				Cost    int64  `db:"cost"`
			}
			must(t, db.DB().SelectContext(ctx(t), &rows, db.DB().Rebind(`SELECT variant, CAST(SUM(cost) AS BIGINT) AS cost FROM (
				SELECT variant, cost FROM unit_metrics WHERE experiment = ?
				UNION ALL SELECT variant, cost FROM erased_spend WHERE experiment = ?) x GROUP BY variant`), "exp", "exp"))
			want := map[string]int64{}
			for _, r := range rows {
				if r.Cost != 0 {
					want[r.Variant] = r.Cost
				}
			}
			got, err := svc.VariantSpend(ctx(t), "exp")
			must(t, err)
			if len(want) == 0 {
				t.Fatal("no spend to compare")
			}
			equalJSON(t, "spend", got, want)
		})
	}
}
