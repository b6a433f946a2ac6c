package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/postgres"
	"github.com/promolift/promolift/experiments/sqlite"
	"github.com/promolift/promolift/experiments/storetest"
)

// quickStartReport runs the README's quick start on st: one customer in
// ten_off buys for ₩125,000 (promotion cost ₩12,500); the promotion names
// no currency, the conversion says KRW.
func quickStartReport(t *testing.T, st experiments.Store) *experiments.Report {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { st.Close() })
	svc := experiments.NewService(st, nil)
	svc.SetClock(func() time.Time { return rptStart })
	admin := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	x := &experiments.Experiment{Key: "spring-sale", Coverage: 1, PrimaryMetric: "purchase", Variants: []experiments.Variant{
		{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
		{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10}}}}
	if err := svc.CreateExperiment(ctx, admin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, admin, x.Key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	svc.SetClock(func() time.Time { return rptStart.Add(time.Hour) })
	cost := int64(12500)
	out, err := svc.IngestEvents(ctx, experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}, []experiments.Event{
		{ID: "x1", Type: experiments.EventExposure, UnitID: "customer-1", Timestamp: rptStart.Add(time.Minute),
			Experiment: "spring-sale", Variant: "ten_off"},
		{ID: "cv-1", Type: experiments.EventConversion, UnitID: "customer-1", Timestamp: rptStart.Add(2 * time.Minute),
			Name: "purchase", Revenue: 125000, PromotionCost: &cost, Currency: "KRW", OrderID: "order-1", Channel: "push"}})
	if err != nil || out[1].Status != experiments.EventAccepted {
		t.Fatalf("ingest: %v %+v", err, out)
	}
	r, err := svc.Report(ctx, "spring-sale", experiments.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReportMoneyWithCurrency: the JSON, CSV and HTML reports give the
// quick start's money with the currency of its events, the HTML shows no
// net incremental revenue without an estimate and credits the conversion
// to its own channel. On both stores.
func TestReportMoneyWithCurrency(t *testing.T) {
	for _, store := range []struct {
		name string
		open func(t *testing.T) experiments.Store
	}{
		{"sqlite", func(t *testing.T) experiments.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "promolift.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"postgres", func(t *testing.T) experiments.Store {
			st, err := postgres.Open(context.Background(), storetest.PostgresURL(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	} {
		t.Run(store.name, func(t *testing.T) {
			r := quickStartReport(t, store.open(t))
			if resp := NewReportResponse(r); resp.Currency != "KRW" || resp.NetIncrementalRevenue != nil {
				t.Errorf("JSON: currency %q, net %+v", resp.Currency, resp.NetIncrementalRevenue)
			}
			b, err := ReportCSV(r)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			col := map[string]int{}
			for i, c := range rows[0] {
				col[c] = i
			}
			found := false
			for _, row := range rows[1:] {
				if row[col["metric"]] == "purchase_revenue" && row[col["variant"]] == "ten_off" {
					found = true
					if row[col["currency"]] != "KRW" || row[col["mean"]] != "125000" {
						t.Errorf("CSV row %v: want mean 125000 in KRW", row)
					}
				}
			}
			if !found {
				t.Error("CSV lacks ten_off's purchase_revenue")
			}
			d := buildPage(r, &url.URL{Path: "/experiments/spring-sale"})
			d.CSS = reportCSS
			var page bytes.Buffer
			if err := reportTemplates.ExecuteTemplate(&page, "report", d); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(page.String(), "<td>125000 KRW</td>") {
				t.Error("HTML: the revenue per customer is not shown as 125000 KRW")
			}
			// The conversion says push; its exposure has no channel.
			if !strings.Contains(page.String(), `<tr data-channel="push" data-variant="ten_off"><th>push</th><td>ten_off</td><td>1</td><td>125000 KRW</td></tr>`) {
				t.Error("HTML: the conversion is not credited to push")
			}
			if d.ROI == nil || d.ROI.Net != "—" || d.ROI.Cost != "12500 KRW" {
				t.Errorf("HTML ROI %+v: want cost 12500 KRW and no net", d.ROI)
			}
		})
	}
}
