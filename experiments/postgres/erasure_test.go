package postgres_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// An erasure that starts while an exposure of a device linked to the
// customer is being stored (its transaction not committed yet) waits for
// it and erases the device with the customer: the ingest holds the
// customer's bucket lock as well as the device's, and the erasure reads
// the links again under the locks. The ingest is held inside its
// transaction, at the insert of the link, by an advisory lock the test
// holds.
func TestEraseCustomerWaitsForALinkBeingStored(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	db := s.DB()
	const holdKey = int64(0x6572_6173_6531) // "erase1", outside the unit buckets' keys
	key := strconv.FormatInt(holdKey, 10)
	for _, q := range []string{
		`CREATE FUNCTION hold_links() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_advisory_lock(` + key + `); PERFORM pg_advisory_unlock(` + key + `); RETURN NEW; END $$`,
		`CREATE TRIGGER hold_links BEFORE INSERT ON customer_links FOR EACH ROW EXECUTE FUNCTION hold_links()`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, holdKey); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, holdKey); err != nil {
				t.Error(err)
			}
		}
	}
	defer release()

	svc := experiments.NewService(s, nil)
	admin := experiments.Principal{KeyID: "admin", Scope: experiments.ScopeAdmin}
	e := &experiments.Experiment{Key: "by-device", Coverage: 1, UnitAttribute: "device_id", Variants: []experiments.Variant{
		{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
	if err := svc.CreateExperiment(ctx, admin, e); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, admin, "by-device", experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	const customer, device = "cust-race-6b1f", "dev-race-f20a"
	assigned := make(chan error, 1)
	go func() {
		_, err := svc.Assign(ctx, experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}, experiments.AssignRequest{
			UnitID: customer, Attributes: map[string]any{"device_id": device}, Experiments: []string{"by-device"}, LogExposure: true})
		assigned <- err
	}()
	waiters := func() int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitUntil := func(what string, cond func() bool) bool {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if cond() {
				return true
			}
		}
		t.Logf("gave up waiting for %s", what)
		return false
	}
	if !waitUntil("the ingest to wait at the link", func() bool { return waiters() >= 1 }) {
		t.Fatal("the ingest never reached the link")
	}
	type result struct {
		er  *experiments.Erasure
		err error
	}
	erased := make(chan result, 1)
	go func() {
		er, err := svc.EraseCustomer(ctx, admin, customer)
		erased <- result{er, err}
	}()
	// The erasure waits for the ingest's customer bucket (or, without
	// that lock, is done at once); either way the ingest then goes on.
	var done *result
	waitUntil("the erasure to wait or finish", func() bool {
		select {
		case r := <-erased:
			done = &r
			return true
		default:
			return waiters() >= 2
		}
	})
	release()
	if err := <-assigned; err != nil {
		t.Fatal(err)
	}
	if done == nil {
		r := <-erased
		done = &r
	}
	if done.err != nil {
		t.Fatal(done.err)
	}
	left, err := s.TablesContaining(ctx, device)
	if err != nil {
		t.Fatal(err)
	}
	if done.er.Units != 2 || len(left) != 0 {
		t.Fatalf("erasure of %d units; the device is still in %q", done.er.Units, left)
	}
}
