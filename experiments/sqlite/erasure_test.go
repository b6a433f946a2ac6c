package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

// An erasure leaves none of the customer's bytes in the database file or
// its write-ahead log, nor those of the device linked to the customer by an
// experiment hashed on device_id: deleted cells and freed pages are zeroed
// (secure_delete), not merely unlinked.
func TestEraseCustomerLeavesNoBytesInFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "promolift.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := experiments.NewService(s, nil)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return now })
	admin := experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
	sdk := experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}

	// tier is an attribute the experiment breaks down by, so its value is
	// stored with the exposure (an undeclared one, such as an email, is not).
	const unit, tier, device = "erase-unit-5d1e9c", "erase-tier-8c2f", "erase-device-3a77"
	for key, attr := range map[string]string{"spring": "id", "spring-device": "device_id"} {
		e := &experiments.Experiment{Key: key, Coverage: 1, UnitAttribute: attr, Segments: []string{"tier"}, Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "KRW"}},
		}}
		must(t, svc.CreateExperiment(ctx, admin, e))
		_, err = svc.Transition(ctx, admin, key, experiments.ActionStart)
		must(t, err)
	}
	_, err = svc.SetConsent(ctx, admin, unit, true)
	must(t, err)
	_, err = svc.Assign(ctx, sdk, experiments.AssignRequest{UnitID: unit, Experiments: []string{"spring", "spring-device"},
		Attributes: map[string]any{"tier": tier, "device_id": device}, LogExposure: true})
	must(t, err)
	_, err = svc.IngestEvents(ctx, sdk, []experiments.Event{{ID: "conv-1", Type: experiments.EventConversion, UnitID: unit,
		Name: "purchase", Revenue: 100, Currency: "KRW", OrderID: "order-1", Timestamp: now}})
	must(t, err)
	// Other customers' rows share the pages, so deleted cells sit next to live ones.
	for _, u := range []string{"other-1", "other-2", "other-3"} {
		_, err = svc.Assign(ctx, sdk, experiments.AssignRequest{UnitID: u, Experiments: []string{"spring", "spring-device"},
			Attributes: map[string]any{"tier": u + "-tier", "device_id": u + "-device"}, LogExposure: true})
		must(t, err)
	}

	found := func(t *testing.T) []string {
		t.Helper()
		checkpoint(t, path)
		var where []string
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				continue
			}
			must(t, err)
			for _, needle := range []string{unit, tier, device} {
				if bytes.Contains(b, []byte(needle)) {
					where = append(where, filepath.Base(f)+": "+needle)
				}
			}
		}
		return where
	}
	got := strings.Join(found(t), " ")
	for _, needle := range []string{unit, tier, device} {
		if !strings.Contains(got, needle) {
			t.Fatalf("before erasure the files hold %q, want the unit id, the tier and the device id", got)
		}
	}
	_, err = svc.EraseCustomer(ctx, admin, unit)
	must(t, err)
	if got := found(t); len(got) != 0 {
		t.Fatalf("after erasure and a checkpoint the bytes are still on disk: %q", got)
	}
}

// checkpoint copies the write-ahead log into the database file and
// truncates it, on a connection of its own.
func checkpoint(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	must(t, err)
	defer db.Close()
	var busy, logged, done int
	must(t, db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &done))
	if busy != 0 {
		t.Fatalf("checkpoint blocked: busy=%d log=%d checkpointed=%d", busy, logged, done)
	}
}

// BenchmarkAssignLinked is Assign logging an exposure of a new unit, for
// an experiment hashed on id (no link) and one hashed on device_id with the
// customer's id sent (the link goes into the exposure's transaction), on
// one file database with the default group commit, 64 requests at once.
func BenchmarkAssignLinked(b *testing.B) {
	for _, attr := range []string{"id", "device_id"} {
		b.Run("hashed-on-"+attr, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "promolift.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			svc := experiments.NewService(s, nil)
			admin := experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
			e := &experiments.Experiment{Key: "spring", Coverage: 1, UnitAttribute: attr, Variants: []experiments.Variant{
				{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
			if err := svc.CreateExperiment(ctx, admin, e); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Transition(ctx, admin, "spring", experiments.ActionStart); err != nil {
				b.Fatal(err)
			}
			sdk := experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}
			var n atomic.Int64
			b.SetParallelism(32) // concurrent requests share commits
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := strconv.FormatInt(n.Add(1), 10)
					if _, err := svc.Assign(ctx, sdk, experiments.AssignRequest{UnitID: "cust-" + i, LogExposure: true,
						Attributes: map[string]any{"device_id": "dev-" + i}, Experiments: []string{"spring"}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
