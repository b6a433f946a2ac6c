package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// OptedOut asks in IN lists of at most 500 units: more units take several
// queries, and every opted-out unit is found whatever list it is in.
func TestOptedOutManyUnits(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	units := make([]string, 1201)
	want := map[string]bool{}
	for i := range units {
		units[i] = fmt.Sprintf("u%04d", i)
		if i%100 == 0 || i == 499 || i == 501 {
			want[units[i]] = true
		}
		c := &experiments.Consent{UnitID: units[i], Promotions: !want[units[i]], UpdatedAt: time.Now()}
		if err := s.SetConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.OptedOut(ctx, units)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d opted out, want %d", len(got), len(want))
	}
	for u := range want {
		if !got[u] {
			t.Errorf("%s not opted out", u)
		}
	}
	if got, err := s.OptedOut(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no units: %v, %v", got, err)
	}
}
