package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/sqlite"
)

// reportServer is a real API over a fresh SQLite store with a running
// experiment "cli-sale" (control, ten_off) and a week of seeded events.
type reportServer struct {
	url, analyst string
}

func newReportServer(t *testing.T) *reportServer {
	t.Helper()
	t.Setenv(envServer, "")
	t.Setenv(envAPIKey, "")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "report.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	svc := experiments.NewService(st, nil)
	svc.SetClock(func() time.Time { return start })
	admin := experiments.Principal{KeyID: "test", Scope: experiments.ScopeAdmin}
	_, analyst, err := svc.CreateKey(ctx, admin, "analyst", experiments.ScopeAnalyst, "")
	if err != nil {
		t.Fatal(err)
	}
	x := &experiments.Experiment{Key: "cli-sale", Name: "CLI sale", Coverage: 1, PrimaryMetric: "purchase",
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"}},
		}}
	if err := svc.CreateExperiment(ctx, admin, x); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, admin, x.Key, experiments.ActionStart); err != nil {
		t.Fatal(err)
	}
	svc.SetClock(func() time.Time { return start.Add(15 * 24 * time.Hour) })
	// 400 units alternate between the arms, one every 20 minutes; every 7th
	// control and every 5th ten_off unit buys within the hour, and those of
	// them that are every 3rd unit buy again 8 days later (week 2); every
	// 3rd unit also bought 3 days before its exposure (CUPED pre-period).
	var evs []experiments.Event
	for i := range 400 {
		u := fmt.Sprintf("u%03d", i)
		v := []string{"control", "ten_off"}[i%2]
		at := start.Add(time.Duration(i) * 20 * time.Minute)
		evs = append(evs, experiments.Event{ID: "x-" + u, Type: experiments.EventExposure, UnitID: u, Timestamp: at,
			Experiment: x.Key, Variant: v})
		buy := func(id string, at time.Time, rev int64) {
			evs = append(evs, experiments.Event{ID: id, Type: experiments.EventConversion, UnitID: u, Timestamp: at,
				Name: "purchase", Revenue: rev, Currency: "USD"})
		}
		if i%2 == 0 && i%7 == 0 || i%2 == 1 && i%5 == 0 {
			buy("p-"+u, at.Add(30*time.Minute), 2000+int64(i%13)*100)
			if i%3 == 0 {
				buy("q-"+u, at.Add(8*24*time.Hour), 1500)
			}
		}
		if i%3 == 0 {
			buy("pre-"+u, at.Add(-72*time.Hour), 1000+int64(i%11)*100)
		}
	}
	sdk := experiments.Principal{KeyID: "sdk", Scope: experiments.ScopeSDK}
	out, err := svc.IngestEvents(ctx, sdk, evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status != experiments.EventAccepted {
			t.Fatalf("event %s: %s %v", o.EventID, o.Status, o.Err)
		}
	}
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{}, nil))
	t.Cleanup(srv.Close)
	return &reportServer{url: srv.URL, analyst: analyst}
}

// block returns the lines of out from the first one containing header up
// to the next empty line.
func block(t *testing.T, out, header string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if len(lines) == 0 && !strings.Contains(l, header) {
			continue
		}
		if l == "" {
			break
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		t.Fatalf("no table starting with %q in:\n%s", header, out)
	}
	return lines
}

func mustReportJSON[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// columnStarts returns the rune offsets where the fields of line start.
func columnStarts(line string) []int {
	var starts []int
	prev := ' '
	for i, r := range []rune(line) {
		if r != ' ' && prev == ' ' && (i == 0 || i >= 2 && []rune(line)[i-2] == ' ') {
			starts = append(starts, i)
		}
		prev = r
	}
	return starts
}

func TestReportCommand(t *testing.T) {
	s := newReportServer(t)
	base := []string{"report", "cli-sale", "--server", s.url, "--key", s.analyst}

	t.Run("Table", func(t *testing.T) {
		code, out, errOut := runCLI(t, base...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"cli-sale — CLI sale", "DECISION: ", "SRM: chi2 = ", "REPURCHASE COHORTS", " · figures as of 20",
			"Promotion spend: control ", "Frequency-capped units: 0", "BY HOUR"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// The variant table is right-aligned: every line ends each column
		// at the same place, so all lines have the header's width.
		vt := block(t, out, "REDEMPTIONS")
		if len(vt) != 3 || !strings.HasPrefix(strings.TrimLeft(vt[1], " "), "control ") || !strings.HasPrefix(strings.TrimLeft(vt[2], " "), "ten_off ") {
			t.Fatalf("variant table:\n%s", strings.Join(vt, "\n"))
		}
		w := utf8.RuneCountInString(vt[0])
		for _, l := range vt {
			if utf8.RuneCountInString(l) != w {
				t.Errorf("variant table not aligned:\n%s", strings.Join(vt, "\n"))
				break
			}
		}
		// 200 units per arm, all analysed.
		if f := strings.Fields(vt[1]); len(f) < 3 || f[1] != "200" {
			t.Errorf("control row %q: want 200 units", vt[1])
		}
		// The metric table is left-aligned: every row's columns start where
		// the header's do.
		mt := block(t, out, "VARIANT VALUE")
		hs := columnStarts(mt[0])
		if len(mt) < 3 || len(hs) != 11 {
			t.Fatalf("metric table:\n%s", strings.Join(mt, "\n"))
		}
		for _, l := range mt[1:] {
			rs := []rune(l)
			for _, c := range hs[1:] {
				if c >= len(rs) || rs[c] == ' ' || rs[c-1] != ' ' {
					t.Errorf("metric row not aligned at column %d:\n%s\n%s", c, mt[0], l)
					break
				}
			}
		}
		if !strings.HasPrefix(mt[1], "purchase ") || !strings.Contains(out, "purchase_revenue") {
			t.Errorf("metric rows:\n%s", strings.Join(mt, "\n"))
		}
		// The cohort table: weeks 1 and 2 of each variant.
		ct := block(t, out, "REPURCHASERS")
		if len(ct) != 5 || !strings.HasPrefix(ct[1], "control  1") || !strings.HasPrefix(ct[4], "ten_off  2") {
			t.Errorf("cohort table:\n%s", strings.Join(ct, "\n"))
		}
	})

	t.Run("JSON", func(t *testing.T) {
		code, out, errOut := runCLI(t, append(base, "--json")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r httpapi.ReportResponse
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, out)
		}
		if r.Experiment.Key != "cli-sale" || len(r.Variants) != 2 || r.Variants[0].Units != 200 || r.Variants[1].Units != 200 {
			t.Fatalf("report %+v", r.Variants)
		}
		// At day 15 every unit has completed week 1 (nobody buys again in
		// it), and units exposed in the first day (i ≤ 72) week 2, where
		// units 0 and 42 (control) and 15 and 45 (ten_off) buy again.
		want := []httpapi.CohortRowDTO{
			{Variant: "control", Week: 1, Units: 200},
			{Variant: "control", Week: 2, Units: 37, Repurchasers: 2, Rate: 2.0 / 37},
			{Variant: "ten_off", Week: 1, Units: 200},
			{Variant: "ten_off", Week: 2, Units: 36, Repurchasers: 2, Rate: 2.0 / 36},
		}
		if got, _ := json.Marshal(r.Cohorts.Rows); !r.Cohorts.Available || string(got) != string(mustReportJSON(json.Marshal(want))) {
			t.Errorf("cohorts %s, want %s", got, mustReportJSON(json.Marshal(want)))
		}
		// Units bought before their exposure: CUPED is applied to revenue.
		cuped := false
		for _, m := range r.Analysis.Metrics {
			for _, c := range m.Comparisons {
				if m.Key == "purchase_revenue" && c.CUPED != nil && c.CUPED.Applied {
					cuped = true
				}
			}
		}
		if !cuped {
			t.Error("no CUPED adjustment of purchase_revenue")
		}
		if !strings.HasSuffix(out, "\n") {
			t.Error("--json output does not end with a newline")
		}
	})

	// The table's order values are the JSON's, each in its currency's
	// major unit with the currency code.
	t.Run("OrderValues", func(t *testing.T) {
		code, out, errOut := runCLI(t, append(base, "--json")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r httpapi.ReportResponse
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.OrderValues) == 0 {
			t.Fatal("the JSON report has no order values")
		}
		code, table, errOut := runCLI(t, base...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		rows := block(t, table, "ORDERS  VALUE")
		if len(rows) != len(r.OrderValues)+1 {
			t.Fatalf("order value table has %d rows, the JSON %d order values:\n%s", len(rows)-1, len(r.OrderValues), strings.Join(rows, "\n"))
		}
		major := func(v float64, cur string) string {
			d, ok := experiments.MinorUnits(cur)
			if !ok {
				t.Fatalf("currency %q", cur)
			}
			return fmt.Sprintf("%.*f %s", d, v/math.Pow10(d), cur)
		}
		for i, o := range r.OrderValues {
			f := strings.Fields(rows[i+1])
			want := []string{o.Metric, fmt.Sprintf("p%g", 100*o.Quantile), o.Variant, fmt.Sprint(o.Orders)}
			if len(f) < 4 || strings.Join(f[:4], " ") != strings.Join(want, " ") {
				t.Errorf("row %d %q, want it to start %v", i, rows[i+1], want)
			}
			for _, v := range []string{major(o.Value, o.Currency), "[" + major(o.CI[0], o.Currency) + ", " + major(o.CI[1], o.Currency) + "]"} {
				if !strings.Contains(rows[i+1], v) {
					t.Errorf("row %d %q lacks %q (JSON %+v)", i, rows[i+1], v, o)
				}
			}
		}
	})

	t.Run("CSV", func(t *testing.T) {
		code, out, errOut := runCLI(t, append(base, "--csv")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("--csv output does not parse: %v", err)
		}
		if len(rows) < 3 || strings.Join(rows[0], ",") != strings.Join(httpapi.ReportCSVColumns, ",") {
			t.Fatalf("CSV header %q, want %q", rows[0], httpapi.ReportCSVColumns)
		}
		if got := strings.Join(rows[1][:7], ","); got != "all,all,purchase,proportion,primary,control,true" {
			t.Errorf("first CSV row %q", got)
		}
	})

	t.Run("BadKey", func(t *testing.T) {
		code, out, errOut := runCLI(t, "report", "cli-sale", "--server", s.url, "--key", "pl_bogus_key")
		if code == 0 || out != "" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
		if code != 1 || !strings.Contains(errOut, "report: server answered 401") {
			t.Errorf("exit %d, stderr %q: want 1 and a clear 401 message", code, errOut)
		}
	})

	t.Run("UnknownExperiment", func(t *testing.T) {
		code, _, errOut := runCLI(t, "report", "nope", "--server", s.url, "--key", s.analyst)
		if code != 1 || !strings.Contains(errOut, "404") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("Usage", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"report", "--server", s.url, "--key", s.analyst}, "need exactly one experiment KEY"},
			{[]string{"report", "a", "b", "--key", s.analyst}, "need exactly one experiment KEY"},
			{[]string{"report", "cli-sale", "--server", s.url}, "no API key"},
			{[]string{"report", "cli-sale", "--key", "k", "--json", "--csv"}, "exclude each other"},
			{[]string{"report", "cli-sale", "--key", "k", "--server", "ftp://x"}, "--server must be an http(s) URL"},
			{[]string{"report", "cli-sale", "--key", "k", "--multiple-exposure", "all"}, "--multiple-exposure"},
			{[]string{"report", "cli-sale", "--no-such-flag"}, "flag provided but not defined"},
		} {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
			}
		}
	})

	t.Run("MultipleExposureFirst", func(t *testing.T) {
		code, out, errOut := runCLI(t, append(base, "--json", "--multiple-exposure", "first")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r struct {
			MultipleExposure string `json:"multiple_exposure"`
		}
		if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&r); err != nil || r.MultipleExposure != "first" {
			t.Errorf("multiple_exposure %q (%v)", r.MultipleExposure, err)
		}
	})
}

// TestReportTableMoneyWithCurrency: the terminal report writes money in
// the major unit with its currency, and with several currencies it shows
// no summed money but a table per currency.
func TestReportTableMoneyWithCurrency(t *testing.T) {
	one := &httpapi.ReportResponse{Currency: "KRW", Currencies: []string{"KRW"},
		Variants: []httpapi.VariantSummaryDTO{{Key: "ten_off", Units: 1, RevenuePerCustomer: 125000, AverageOrderValue: 125000, PromotionCost: 12500}}}
	mixed := &httpapi.ReportResponse{Currencies: []string{"KRW", "USD"},
		Variants: []httpapi.VariantSummaryDTO{{Key: "ten_off", Units: 2}},
		CurrencyTotals: []httpapi.CurrencyTotalDTO{{Variant: "ten_off", Metric: "purchase", Currency: "USD", Units: 1, Revenue: 1999, Cost: 200},
			{Variant: "ten_off", Metric: "purchase", Currency: "KRW", Units: 1, Revenue: 125000}}}
	for _, c := range []struct {
		name   string
		r      *httpapi.ReportResponse
		want   []string
		absent []string
	}{
		{"one currency", one, []string{"125000 KRW", "12500 KRW"}, []string{"Money by currency"}},
		{"several", mixed, []string{"Money by currency", "19.99 USD", "2.00 USD", "125000 KRW"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printReport(&b, c.r); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range c.absent {
				if strings.Contains(b.String(), w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
}
