package experiments_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/sqlite"
)

func TestCapGroupValidate(t *testing.T) {
	tests := []struct {
		g     experiments.CapGroup
		field string
	}{
		{experiments.CapGroup{Name: "promos", MaxExposures: 3, Window: 168 * time.Hour}, ""},
		{experiments.CapGroup{Name: "", MaxExposures: 3, Window: time.Hour}, "name"},
		{experiments.CapGroup{Name: "a b", MaxExposures: 3, Window: time.Hour}, "name"},
		{experiments.CapGroup{Name: "p", MaxExposures: 0, Window: time.Hour}, "max_exposures"},
		{experiments.CapGroup{Name: "p", MaxExposures: 3, Window: time.Minute}, "window_hours"},
		{experiments.CapGroup{Name: "p", MaxExposures: 3, Window: 400 * 24 * time.Hour}, "window_hours"},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.g, err)
			}
			continue
		}
		var de *experiments.Error
		if !errors.As(err, &de) || de.Field != tt.field || de.Kind != experiments.KindInvalid {
			t.Errorf("%+v: %v, want an invalid %s", tt.g, err, tt.field)
		}
	}
}

func TestCustomerHashIsKeyedAndStable(t *testing.T) {
	ctx := context.Background()
	a, b := specService(t), specService(t)
	h1, err := a.CustomerHash(ctx, "cust-1")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := a.CustomerHash(ctx, "cust-1")
	h3, _ := a.CustomerHash(ctx, "cust-2")
	other, _ := b.CustomerHash(ctx, "cust-1")
	if h1 != h2 || h1 == h3 || h1 == other || !strings.HasPrefix(h1, "hmac-sha256:") || strings.Contains(h1, "cust-1") {
		t.Fatalf("hashes %q %q %q %q: want stable per installation, different per customer and installation", h1, h2, h3, other)
	}
}

// plainStore hides the CustomerStore methods of a store.
type plainStore struct{ experiments.Store }

func TestStoreWithoutCustomerFeatures(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "promolift.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(plainStore{st}, nil)
	startExperiment(t, svc, specExperiment("spring-sale", ""))
	rs, err := svc.Assign(ctx, specSDK, experiments.AssignRequest{UnitID: "u1", LogExposure: true})
	if err != nil || len(rs) != 1 || !rs[0].InExperiment {
		t.Fatalf("Assign without customer features = %+v, %v", rs, err)
	}
	_, err = svc.SetConsent(ctx, specSDK, "u1", false)
	if experiments.KindOf(err) != experiments.KindUnavailable {
		t.Fatalf("SetConsent without customer features: %v, want unavailable", err)
	}
	_, err = svc.SetConsent(ctx, specSDK, "", false)
	if experiments.KindOf(err) != experiments.KindInvalid {
		t.Fatalf("SetConsent without an ID: %v, want invalid", err)
	}
}
