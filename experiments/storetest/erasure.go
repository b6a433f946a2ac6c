package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/migrations"
)

// linkedCustomer is one customer of testErasure and the other units of
// theirs: device is what the experiments hash on, prefetched a device only
// a bulk evaluation without exposures saw (a sticky doc), phone a device
// only a conversion sent with customer_id names.
type linkedCustomer struct {
	id, device, prefetched, phone, email string
}

func (c linkedCustomer) values() []string {
	return []string{c.id, c.device, c.prefetched, c.phone, c.email}
}

// testErasure checks issue 22's erasure of the units linked to a customer:
// an experiment hashed on device_id keys its rows by the device, and
// erasing the customer erases them, found by scanning every column of
// every table of the schema (TextFinder reads the store's catalog, so a
// table added later is scanned too).
func testErasure(t *testing.T, newStore func(t *testing.T) experiments.Store) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	setup := func(t *testing.T) (*experiments.Service, TextFinder) {
		t.Helper()
		s := newStore(t)
		tf, ok := s.(TextFinder)
		if !ok {
			t.Fatalf("%T does not implement storetest.TextFinder", s)
		}
		svc := experiments.NewService(s, nil)
		svc.SetClock(func() time.Time { return now })
		must(t, svc.PutCapGroup(ctx(t), rightsAdmin, &experiments.CapGroup{Name: "once", MaxExposures: 1, Window: 24 * time.Hour}))
		// by-device hashes on device_id, keeps assignments server-side
		// and breaks its report down by tier (the only attribute its
		// exposures keep); capped shares the cap group, so a second
		// promotion the same day is capped (a capped_units row by device).
		for _, key := range []string{"by-device", "capped"} {
			e := &experiments.Experiment{Key: key, Coverage: 1, UnitAttribute: "device_id", Sticky: true, CapGroup: "once",
				Segments: []string{"tier"}, Variants: []experiments.Variant{
					{Key: "control", Weight: 0, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
					{Key: "ten_off", Weight: 1, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "KRW"}},
				}}
			must(t, svc.CreateExperiment(ctx(t), rightsAdmin, e))
			_, err := svc.Transition(ctx(t), rightsAdmin, key, experiments.ActionStart)
			must(t, err)
		}
		return svc, tf
	}
	// use is what an app does for customer c: assign with the customer ID,
	// the device ID and the email; a conversion keyed by the device ID; a
	// conversion keyed by another device with the customer's ID; a bulk
	// prefetch on a third device (no exposure, a sticky doc).
	use := func(t *testing.T, svc *experiments.Service, c linkedCustomer) {
		t.Helper()
		rs, err := svc.Assign(ctx(t), rightsSDK, experiments.AssignRequest{UnitID: c.id,
			Attributes:  map[string]any{"device_id": c.device, "email": c.email, "tier": "gold"},
			Experiments: []string{"by-device", "capped"}, LogExposure: true})
		must(t, err)
		if !rs[0].InExperiment || rs[0].HashAttribute != "device_id" || rs[0].HashValue != c.device ||
			rs[1].Reason != experiments.ReasonFrequencyCapped {
			t.Fatalf("assignments %+v, want by-device hashed on the device and capped frequency-capped", rs)
		}
		out, err := svc.IngestEvents(ctx(t), rightsSDK, []experiments.Event{
			{ID: "buy-" + c.device, Type: experiments.EventConversion, UnitID: c.device, Name: "purchase",
				Revenue: 5000, PromotionCost: ptr(int64(500)), Currency: "KRW", OrderID: "o-" + c.device, Timestamp: now,
				Attributes: map[string]string{"email": c.email}},
			{ID: "buy-" + c.phone, Type: experiments.EventConversion, UnitID: c.phone, CustomerID: c.id, Name: "purchase",
				Revenue: 3000, Currency: "KRW", OrderID: "o-" + c.phone, Timestamp: now},
		})
		must(t, err)
		for _, o := range out {
			if o.Status != experiments.EventAccepted {
				t.Fatalf("conversion %+v", o)
			}
		}
		_, _, err = svc.EvaluateFlags(ctx(t), rightsSDK, map[string]any{"id": c.id, "device_id": c.prefetched, "email": c.email})
		must(t, err)
	}
	where := func(t *testing.T, tf TextFinder, values ...string) map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, v := range values {
			got, err := tf.TablesContaining(ctx(t), v)
			must(t, err)
			if len(got) > 0 {
				out[v] = got
			}
		}
		return out
	}
	alice := linkedCustomer{id: "cust-alice-41f0", device: "dev-alice-7c2e", prefetched: "dev-alice-tab-90d1",
		phone: "dev-alice-phone-3b8a", email: "alice.5e1d@example.test"}
	bob := linkedCustomer{id: "cust-bob-d2a7", device: "dev-bob-18f4", prefetched: "dev-bob-tab-66c0",
		phone: "dev-bob-phone-a913", email: "bob.0c4b@example.test"}

	t.Run("DeviceKeyedRowsAndLinksErasedWithTheCustomer", func(t *testing.T) {
		svc, tf := setup(t)
		use(t, svc, alice)
		use(t, svc, bob)
		before := where(t, tf, alice.values()...)
		for v, tables := range map[string][]string{
			alice.device: {"events.unit_id", "exposures_rollup.unit_id", "unit_metrics.unit_id", "customer_aggregates.unit_id",
				"sticky_assignments.unit_id", "capped_units.unit_id", "customer_links.unit_id"},
			alice.prefetched: {"sticky_assignments.unit_id", "customer_links.unit_id"},
			alice.phone:      {"events.unit_id", "customer_aggregates.unit_id", "customer_links.unit_id"},
			alice.id:         {"customer_links.customer_id"},
		} {
			for _, want := range tables {
				if !slices.Contains(before[v], want) {
					t.Fatalf("before erasure %q is in %q, want it in %s too", v, before[v], want)
				}
			}
		}
		// The email was never stored: exposures keep the declared
		// breakdown attributes only, conversions none.
		if got := before[alice.email]; len(got) > 0 {
			t.Fatalf("the email is stored in %q", got)
		}
		bobBefore := where(t, tf, bob.values()...)

		er, err := svc.EraseCustomer(ctx(t), rightsAdmin, alice.id)
		must(t, err)
		if er.Units != 4 || er.Rows["events"] != 3 || er.Rows["customer_links"] != 3 || er.Rows["sticky_assignments"] != 2 ||
			er.Rows["capped_units"] < 1 || er.Rows["exposures_rollup"] != 1 {
			t.Fatalf("erasure: %d units, rows %v; want 4 units (the customer and 3 devices)", er.Units, er.Rows)
		}
		if got := where(t, tf, alice.values()...); len(got) > 0 {
			t.Fatalf("after erasure: %v", got)
		}
		// The audit entry counts units and rows and names no unit.
		entries, err := svc.Audit(ctx(t), 1, 0, "")
		must(t, err)
		if entries[0].Action != "customer.erase" {
			t.Fatalf("latest audit entry %+v", entries[0])
		}
		audited := entries[0].Resource + " " + string(entries[0].After)
		for _, v := range alice.values() {
			if strings.Contains(audited, v) {
				t.Fatalf("the audit entry names %q: %s", v, audited)
			}
		}
		if !strings.Contains(audited, `"units":4`) {
			t.Fatalf("audit after %s, want the count of units", entries[0].After)
		}
		// Bob shares nothing with Alice: all of his rows stay.
		equalJSON(t, "bob's rows after erasing alice", where(t, tf, bob.values()...), bobBefore)
		// The rollups still agree with the raw events, and the spend of
		// the erased conversions is kept.
		checkRollups(t, svc.Store())
		spend, err := svc.VariantSpend(ctx(t), "by-device")
		must(t, err)
		equalJSON(t, "spend after erasure", spend, map[string]int64{"ten_off": 1000})
		// Erasing again finds nothing and erases the customer only.
		er, err = svc.EraseCustomer(ctx(t), rightsAdmin, alice.id)
		must(t, err)
		if er.Units != 1 || len(er.Rows) != 0 {
			t.Fatalf("second erasure: %d units, rows %v", er.Units, er.Rows)
		}
	})
	t.Run("SharedDeviceErasedWithEitherCustomer", func(t *testing.T) {
		svc, tf := setup(t)
		use(t, svc, alice)
		// Bob signs in on Alice's device later the same day: the exposure is
		// stored already, but the device is linked to Bob as well.
		_, err := svc.Assign(ctx(t), rightsSDK, experiments.AssignRequest{UnitID: bob.id,
			Attributes: map[string]any{"device_id": alice.device}, Experiments: []string{"by-device"}, LogExposure: true})
		must(t, err)
		er, err := svc.EraseCustomer(ctx(t), rightsAdmin, bob.id)
		must(t, err)
		if er.Units != 2 {
			t.Fatalf("erasing bob erased %d units, want bob and the shared device", er.Units)
		}
		if got := where(t, tf, alice.device, bob.id); len(got) > 0 {
			t.Fatalf("after erasing bob: %v", got)
		}
		// Alice's other devices are hers alone and stay.
		if got := where(t, tf, alice.phone, alice.prefetched); len(got) != 2 {
			t.Fatalf("alice's own devices after erasing bob: %v", got)
		}
	})
	t.Run("MigrationStripsAttributesStoredBefore", func(t *testing.T) {
		svc, tf := setup(t)
		s := svc.Store()
		db := s.(rawDB).DB()
		// Rows as stored before migration 0018, straight into the store:
		// exposures with an email and the hash attribute besides the
		// declared tier, a conversion with an email.
		_, err := s.IngestEvents(ctx(t), []experiments.Event{
			{ID: "x-a", Type: experiments.EventExposure, UnitID: alice.device, Experiment: "by-device", Variant: "ten_off", Timestamp: now,
				Attributes: map[string]string{"email": alice.email, "tier": "gold", "device_id": alice.device, "rfm_segment": "champions"}},
			{ID: "x-b", Type: experiments.EventExposure, UnitID: bob.device, Experiment: "by-device", Variant: "ten_off", Timestamp: now,
				Attributes: map[string]string{"email": bob.email}},
			{ID: "c-a", Type: experiments.EventConversion, UnitID: alice.device, Name: "purchase", Revenue: 100, Currency: "KRW",
				Timestamp: now, Attributes: map[string]string{"email": alice.email}},
		})
		must(t, err)
		if got := where(t, tf, alice.email, bob.email); len(got) != 2 {
			t.Fatalf("before the migration the emails are in %v", got)
		}
		dialect := migrations.SQLite
		if db.DriverName() == "postgres" {
			dialect = migrations.Postgres
		}
		ms, err := migrations.List(dialect)
		must(t, err)
		i := slices.IndexFunc(ms, func(m migrations.Migration) bool { return m.Version == 18 })
		for range 2 { // applied again, it changes nothing more
			_, err = db.ExecContext(ctx(t), ms[i].SQL)
			must(t, err)
		}
		if got := where(t, tf, alice.email, bob.email); len(got) != 0 {
			t.Fatalf("after the migration: %v", got)
		}
		checkRollups(t, s)
		for dim, want := range map[string]string{"tier": "gold", experiments.AttrRFMSegment: "champions"} {
			st, err := svc.SufficientStats(ctx(t), experiments.StatsQuery{Experiment: "by-device", Dimension: dim})
			must(t, err)
			units := map[string]int64{}
			for _, v := range st.Variants {
				units[v.Slice] += v.Units
			}
			equalJSON(t, "units by "+dim, units, map[string]int64{want: 1, experiments.NoSlice: 1})
		}
	})
}
