package storetest

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// repurchaseHistory is a seeded random history of experiment "rep": units
// first exposed over ten days, some exposed to both variants, some whose
// earlier first exposure arrives late (in a mixed or an exposure-only
// batch), with purchases from their pre-period to six weeks on, in random
// order and batches, and refunds; and the units erased afterwards.
func repurchaseHistory(seed int64) (batches [][]experiments.Event, units []string) {
	rng := rand.New(rand.NewSource(seed))
	d, h := 24*time.Hour, time.Hour
	var evs []experiments.Event
	variants := []string{"control", "treat"}
	for u := range 40 {
		unit := fmt.Sprintf("r%d", u)
		units = append(units, unit)
		f := time.Duration(rng.Int63n(int64(10 * d)))
		v := variants[rng.Intn(2)]
		evs = append(evs, exposure(unit+"-e", unit, "rep", v, f, nil, ""))
		switch rng.Intn(6) {
		case 0: // the other variant later: multiple-exposed
			evs = append(evs, exposure(unit+"-m", unit, "rep", variants[1-slices.Index(variants, v)], f+time.Duration(rng.Int63n(int64(5*d))), nil, ""))
		case 1: // an earlier first exposure (sorted late below)
			evs = append(evs, exposure(unit+"-early", unit, "rep", v, f-time.Duration(rng.Int63n(int64(9*d))), nil, ""))
		}
		for c := range rng.Intn(7) {
			at := f - 5*d + time.Duration(rng.Int63n(int64(45*d)))
			if rng.Intn(3) == 0 { // often the same week again
				at = f + time.Duration(rng.Intn(3))*7*d + time.Duration(rng.Int63n(int64(2*d)))
			}
			id := fmt.Sprintf("%s-c%d", unit, c)
			evs = append(evs, conversion(id, unit, "purchase", at, 100+rng.Int63n(900), nil))
			if rng.Intn(5) == 0 {
				evs = append(evs, refund(id+"-f", unit, "o-"+id, at+time.Duration(rng.Int63n(int64(10*d))), 0))
			}
		}
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	// The earlier first exposures go in batches of their own at the end
	// (the group commit's path) or with a purchase (the general ingest).
	var late []experiments.Event
	for len(evs) > 0 {
		n := min(len(evs), 1+rng.Intn(25))
		var b []experiments.Event
		for _, e := range evs[:n] {
			if e.Type == experiments.EventExposure && strings.HasSuffix(e.ID, "-early") {
				late = append(late, e)
			} else {
				b = append(b, e)
			}
		}
		batches = append(batches, b)
		evs = evs[n:]
	}
	for i, e := range late {
		b := []experiments.Event{e}
		if i%2 == 0 {
			b = append(b, conversion(e.ID+"-c", e.UnitID, "purchase", e.Timestamp.Sub(t0)+9*d+h, 70, nil))
		}
		batches = append(batches, b)
	}
	return batches, units
}

// testRepurchasers checks the repurchase counts kept at ingest
// (cohort_repurchasers, sqlstore/repurchasers.go): after each batch of
// seeded random histories, the cohorts read from the rollups equal their
// recomputation from the raw events (the same query with Until) at
// cut-offs whose boundary days fall before, among and after the first
// exposures, with and without the multiple-exposed units, and
// CheckRollups (which compares the counts with their recomputation from
// unit_weeks) stays clean; after the erasure of every unit no count is
// left.
func testRepurchasers(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	d, h := 24*time.Hour, time.Hour
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := newStore(t)
			cs, ok := s.(experiments.CohortStore)
			if !ok {
				t.Skip("the store does not implement experiments.CohortStore")
			}
			createExp(t, s, "rep", 24*time.Hour)
			same := func(t *testing.T, step string) {
				t.Helper()
				checkRollupsClean(t, s)
				for _, cut := range []time.Duration{8*d + 5*h, 13*d + 17*h, 20 * d, 27*d + 3*h, 45 * d} {
					for _, mult := range []experiments.MultipleExposure{experiments.MultipleExclude, experiments.MultipleFirst} {
						got, err := cs.CohortStats(ctx(t), experiments.StatsQuery{Experiment: "rep", AsOf: t0.Add(cut), MultipleExposure: mult}, "purchase", 5)
						must(t, err)
						want, err := cs.CohortStats(ctx(t), experiments.StatsQuery{Experiment: "rep", Until: t0.Add(cut), MultipleExposure: mult}, "purchase", 5)
						must(t, err)
						if len(got)+len(want) == 0 {
							continue // nil or empty
						}
						equalJSON(t, fmt.Sprintf("%s: cohorts at +%v (%s) from the rollups vs the raw events", step, cut, mult), got, want)
					}
				}
			}
			batches, units := repurchaseHistory(seed)
			for i, b := range batches {
				ingest(t, s, b)
				if i%4 == 3 || i == len(batches)-1 {
					same(t, fmt.Sprint("batch ", i))
				}
			}
			if _, ok := s.(experiments.CustomerStore); !ok {
				return
			}
			svc := experiments.NewService(s, nil)
			for i, u := range units {
				_, err := svc.EraseCustomer(ctx(t), rightsAdmin, u)
				must(t, err)
				if i%10 == 0 {
					same(t, "erased "+u)
				}
			}
			same(t, "all erased")
			if db, ok := s.(rawDB); ok {
				var n int
				must(t, db.DB().GetContext(ctx(t), &n, `SELECT COUNT(*) FROM cohort_repurchasers`))
				if n != 0 {
					t.Fatalf("%d cohort_repurchasers rows after every unit was erased", n)
				}
			}
		})
	}
}

// LegacyWeek is a unit_weeks row of purchases of a database before
// migration 0038 (RepurchasersBackfilled), of a unit of LegacySeriesRows.
type LegacyWeek struct {
	Unit              string
	Week, Conversions int64
}

// LegacyWeeks are the unit_weeks rows of the units of LegacySeriesRows:
// u1 (control) buys once in weeks 1 and 2 and three times in week 4, u2
// (treat) twice in its pre-period and in week 1, and once in week 3.
var LegacyWeeks = []LegacyWeek{{"u1", 1, 1}, {"u1", 2, 1}, {"u1", 4, 3}, {"u2", 0, 2}, {"u2", 1, 2}, {"u2", 3, 1}}

// RepurchasersBackfilled checks a store of experiment "exp" just upgraded
// by migration 0038 from the rollup rows of LegacySeriesRows and
// LegacyWeeks: the cohorts, read from the repurchase counts the migration
// filled in (both units first exposed days before each week's boundary
// day), worked out by hand.
func RepurchasersBackfilled(t *testing.T, s experiments.Store) {
	t.Helper()
	cs := s.(experiments.CohortStore)
	got, err := cs.CohortStats(ctx(t), experiments.StatsQuery{Experiment: "exp", AsOf: t0.Add(60 * 24 * time.Hour),
		MultipleExposure: experiments.MultipleExclude}, "purchase", 4)
	must(t, err)
	// u1 repurchases in week 2 (not its first week) and week 4 (three);
	// u2 in week 1 (two) and week 3 (not its first week ≥ 1).
	equalJSON(t, "cohorts after the upgrade", got, cohortRows{
		{Variant: "control", Week: 1, Units: 1, Repurchasers: 0},
		{Variant: "control", Week: 2, Units: 1, Repurchasers: 1},
		{Variant: "control", Week: 3, Units: 1, Repurchasers: 0},
		{Variant: "control", Week: 4, Units: 1, Repurchasers: 1},
		{Variant: "treat", Week: 1, Units: 1, Repurchasers: 1},
		{Variant: "treat", Week: 2, Units: 1, Repurchasers: 0},
		{Variant: "treat", Week: 3, Units: 1, Repurchasers: 1},
		{Variant: "treat", Week: 4, Units: 1, Repurchasers: 0},
	})
}
