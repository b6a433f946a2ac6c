package experiments_test

import (
	"bytes"
	"context"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/stats"
)

// TestReportOrderValueQuantiles: the report carries the median and p90
// order value of the primary metric per variant, the value being the
// sorted orders' ⌈n·q⌉-th (computed here from the seeded orders), with a
// CI made of two of the orders around it; the analysis has them as
// quantile metrics (stats.Analyze on OrderValueInput exactly, a family
// apart from the report's Analysis, which keeps its metrics) whose arm
// means are those values, and every comparison estimate lies within its
// own interval.
func TestReportOrderValueQuantiles(t *testing.T) {
	svc := newReportService(t)
	tr := seedReport(t, svc, "ov", [3]float64{0.10, 0.14, 0.18}, 1500)
	r, err := svc.Report(context.Background(), "ov", experiments.ReportOptions{NoSeries: true, NoBreakdowns: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.OrderValueAnalysis == nil || r.OrderValueInput() == nil {
		t.Fatal("no order-value analysis")
	}
	out, err := stats.Analyze(*r.OrderValueInput())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, r.OrderValueAnalysis), mustJSON(t, out); !bytes.Equal(got, want) {
		t.Fatalf("order-value analysis differs from stats.Analyze(OrderValueInput)\n got %s\nwant %s", got, want)
	}
	if findOutputMetric(&r.Analysis, experiments.OrderValueMetric("purchase", 0.5)) != nil {
		t.Error("the order-value metrics are in the report's Analysis")
	}
	if len(r.OrderValues) != 2*len(r.Experiment.Variants) {
		t.Fatalf("%d order values, want %d", len(r.OrderValues), 2*len(r.Experiment.Variants))
	}
	for _, o := range r.OrderValues {
		t.Run(o.Metric+"/"+o.Variant, func(t *testing.T) {
			orders := append([]float64{}, tr.orders[o.Variant]...)
			sort.Float64s(orders)
			n := len(orders)
			if o.Orders != int64(n) || n == 0 {
				t.Fatalf("orders %d, want %d (> 0)", o.Orders, n)
			}
			if want := orders[int(math.Ceil(float64(n)*o.Quantile))-1]; o.Value != want {
				t.Errorf("value %v, want %v", o.Value, want)
			}
			if !(o.Lower <= o.Value && o.Value <= o.Upper && o.Lower < o.Upper) {
				t.Errorf("interval [%v, %v] around %v", o.Lower, o.Upper, o.Value)
			}
			if !slices.Contains(orders, o.Lower) || !slices.Contains(orders, o.Upper) {
				t.Errorf("interval [%v, %v] not made of orders", o.Lower, o.Upper)
			}
			if want := experiments.OrderValueMetric("purchase", o.Quantile); o.Metric != want {
				t.Errorf("metric %q, want %q", o.Metric, want)
			}
			if r.MetricCurrency(o.Metric) != "USD" {
				t.Errorf("currency %q", r.MetricCurrency(o.Metric))
			}
			m := findOutputMetric(r.OrderValueAnalysis, o.Metric)
			if m == nil || m.Type != "quantile" || m.Quantile == nil || *m.Quantile != o.Quantile {
				t.Fatalf("analysis metric %+v", m)
			}
			for _, a := range m.Arms {
				if a.Variant == o.Variant && (a.Mean != o.Value || a.Units != float64(n) || a.Error != nil) {
					t.Errorf("arm %+v, want mean %v units %d", a, o.Value, n)
				}
			}
			for _, c := range m.Comparisons {
				if c.Error != nil {
					t.Errorf("%s: %s", c.Variant, *c.Error)
					continue
				}
				if a := c.Absolute; !(a.CI[0] <= a.Estimate && a.Estimate <= a.CI[1]) || a.CI[0] == a.CI[1] {
					t.Errorf("%s: absolute %v outside %v", c.Variant, a.Estimate, a.CI)
				}
				if rel, _ := experiments.RelativeLift(&c); rel != nil && !(rel.CI[0] <= rel.Estimate && rel.Estimate <= rel.CI[1]) {
					t.Errorf("%s: relative %v outside %v", c.Variant, rel.Estimate, rel.CI)
				}
				if !(c.Absolute.PValue >= 0 && c.Absolute.PValue <= 1) {
					t.Errorf("%s: p-value %v", c.Variant, c.Absolute.PValue)
				}
			}
		})
	}
}

func findOutputMetric(out *stats.AnalyzeOutput, key string) *stats.MetricOutput {
	for i := range out.Metrics {
		if out.Metrics[i].Key == key {
			return &out.Metrics[i]
		}
	}
	return nil
}
