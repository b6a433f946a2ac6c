package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// The report fixture: the experiment "spring-sale" and a week of its
// events, stored as plain data files in testdata so that the independent
// check of the report goldens (testdata/check_report_golden.py) reads
// exactly what the tests ingest. TestReportFixtureFiles keeps the files
// equal to the generator below (go test -run TestReportFixtureFiles
// -update rewrites them).
const (
	fixtureEventsFile     = "report-spring-sale-events.csv"
	fixtureExperimentFile = "report-spring-sale-experiment.json"
	fixtureEvents         = 1600 // units generated
)

// fixtureEventColumns are the columns of the events file; attributes is a
// JSON object, promotion_cost is empty when the event carries none.
var fixtureEventColumns = []string{"id", "type", "unit_id", "timestamp", "experiment", "variant", "name",
	"revenue", "promotion_cost", "currency", "channel", "attributes"}

// springSaleExperiment is the experiment of the report tests.
func springSaleExperiment() *experiments.Experiment {
	return &experiments.Experiment{Key: "spring-sale", Name: "Spring sale coupon", Hypothesis: "10% off lifts purchases",
		Coverage: 1, PrimaryMetric: "purchase", SecondaryMetrics: []string{"add_to_cart"}, GuardrailMetrics: []string{"refund"},
		Segments: []string{"country"}, MinROI: 0,
		Variants: []experiments.Variant{
			{Key: "control", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoNone}},
			{Key: "ten_off", Weight: 0.5, Promotion: experiments.Promotion{Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"}},
		}}
}

// fixtureExperiment is the experiment file: what the report's semantics
// need of the experiment, with the times the tests run at.
type fixtureExperiment struct {
	Key                    string           `json:"key"`
	Name                   string           `json:"name"`
	Hypothesis             string           `json:"hypothesis"`
	PrimaryMetric          string           `json:"primary_metric"`
	SecondaryMetrics       []string         `json:"secondary_metrics"`
	GuardrailMetrics       []string         `json:"guardrail_metrics"`
	Segments               []string         `json:"segments"`
	MinROI                 float64          `json:"min_roi"`
	AttributionWindowHours float64          `json:"attribution_window_hours"`
	Engine                 string           `json:"engine"`
	StartedAt              time.Time        `json:"started_at"`
	AsOf                   time.Time        `json:"as_of"`
	Variants               []fixtureVariant `json:"variants"`
}

type fixtureVariant struct {
	Key       string  `json:"key"`
	Weight    float64 `json:"weight"`
	Promotion string  `json:"promotion"`
	Value     float64 `json:"value"`
}

func fixtureExperimentOf(x *experiments.Experiment) fixtureExperiment {
	window := x.AttributionWindow
	if window == 0 {
		window = experiments.DefaultAttributionWindow
	}
	f := fixtureExperiment{Key: x.Key, Name: x.Name, Hypothesis: x.Hypothesis, PrimaryMetric: x.PrimaryMetric, SecondaryMetrics: x.SecondaryMetrics,
		GuardrailMetrics: x.GuardrailMetrics, Segments: x.Segments, MinROI: x.MinROI,
		AttributionWindowHours: window.Hours(), Engine: "frequentist", StartedAt: rptStart, AsOf: rptNow}
	for _, v := range x.Variants {
		f.Variants = append(f.Variants, fixtureVariant{Key: v.Key, Weight: v.Weight, Promotion: string(v.Promotion.Type), Value: v.Promotion.Value})
	}
	return f
}

// generateReportEvents is a deterministic week of exposures and
// conversions of experiment key over n units: control converts at 12%,
// ten_off at 16%, 1 unit in 97 sees both arms.
func generateReportEvents(key string, n int) []experiments.Event {
	g := rng(7)
	variants := []string{"control", "ten_off"}
	rates := []float64{0.12, 0.16}
	countries := []string{"KR", "JP", "US"}
	channels := []string{"push", "email", "web"}
	var events []experiments.Event
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("u%05d", i)
		vi := 0
		if g.float() >= 0.5 {
			vi = 1
		}
		at := rptStart.Add(time.Duration(g.float()*7*24*3600) * time.Second)
		ex := experiments.Event{ID: "x-" + u, Type: experiments.EventExposure, UnitID: u, Timestamp: at, Experiment: key,
			Variant: variants[vi], Channel: channels[i%3], Attributes: map[string]string{"country": countries[(i/3)%3]}}
		events = append(events, ex)
		if i%97 == 13 {
			ex2 := ex
			ex2.ID, ex2.Variant, ex2.Timestamp = "x2-"+u, variants[1-vi], at.Add(time.Minute)
			events = append(events, ex2)
		}
		if g.float() < 0.3 {
			events = append(events, experiments.Event{ID: "a-" + u, Type: experiments.EventConversion, UnitID: u,
				Timestamp: at.Add(5 * time.Minute), Name: "add_to_cart"})
		}
		if g.float() < 0.02 {
			events = append(events, experiments.Event{ID: "r-" + u, Type: experiments.EventConversion, UnitID: u,
				Timestamp: at.Add(50 * time.Minute), Name: "refund"})
		}
		// p decides the purchase; the pre-period purchases below depend on p
		// alone, like a customer's propensity, never on the variant.
		if p := g.float(); p < rates[vi] {
			orders := 1
			if g.float() < 0.2 {
				orders = 2
			}
			for o := 0; o < orders; o++ {
				rev := int64(3000 + math.Floor(g.float()*4000))
				var cost *int64
				if vi == 1 {
					c := rev / 10
					cost = &c
				}
				events = append(events, experiments.Event{ID: fmt.Sprintf("p-%s-%d", u, o), Type: experiments.EventConversion,
					UnitID: u, Timestamp: at.Add(time.Duration(30+60*o) * time.Minute), Name: "purchase", Revenue: rev,
					PromotionCost: cost, Currency: "USD", Channel: channels[i%3]})
			}
			if p < 0.08 && i%2 == 0 { // a regular: bought before too
				events = append(events, prePurchase(u, at, 2000+int64(i*37%3000)))
			}
		} else if i%11 == 0 {
			events = append(events, prePurchase(u, at, 1500+int64(i*53%2000)))
		}
	}
	return events
}

// prePurchase is a purchase of unit u three days before its exposure at
// at: not attributed, but the CUPED covariate of purchase_revenue.
func prePurchase(u string, at time.Time, rev int64) experiments.Event {
	return experiments.Event{ID: "pre-" + u, Type: experiments.EventConversion, UnitID: u,
		Timestamp: at.Add(-72 * time.Hour), Name: "purchase", Revenue: rev, Currency: "USD"}
}

// eventsCSV writes events in the columns fixtureEventColumns.
func eventsCSV(events []experiments.Event) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(fixtureEventColumns); err != nil {
		return nil, err
	}
	for _, e := range events {
		cost := ""
		if e.PromotionCost != nil {
			cost = strconv.FormatInt(*e.PromotionCost, 10)
		}
		attrs := ""
		if len(e.Attributes) > 0 {
			a, err := json.Marshal(e.Attributes)
			if err != nil {
				return nil, err
			}
			attrs = string(a)
		}
		row := []string{e.ID, string(e.Type), e.UnitID, e.Timestamp.UTC().Format(time.RFC3339Nano), e.Experiment, e.Variant,
			e.Name, strconv.FormatInt(e.Revenue, 10), cost, e.Currency, e.Channel, attrs}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// parseEventsCSV reads the events file.
func parseEventsCSV(data []byte) ([]experiments.Event, error) {
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || fmt.Sprint(rows[0]) != fmt.Sprint(fixtureEventColumns) {
		return nil, fmt.Errorf("events file: header is not %v", fixtureEventColumns)
	}
	events := make([]experiments.Event, 0, len(rows)-1)
	for i, r := range rows[1:] {
		ts, err := time.Parse(time.RFC3339Nano, r[3])
		if err != nil {
			return nil, fmt.Errorf("events file line %d: %w", i+2, err)
		}
		rev, err := strconv.ParseInt(r[7], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("events file line %d: %w", i+2, err)
		}
		e := experiments.Event{ID: r[0], Type: experiments.EventType(r[1]), UnitID: r[2], Timestamp: ts, Experiment: r[4],
			Variant: r[5], Name: r[6], Revenue: rev, Currency: r[9], Channel: r[10]}
		if r[8] != "" {
			c, err := strconv.ParseInt(r[8], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("events file line %d: %w", i+2, err)
			}
			e.PromotionCost = &c
		}
		if r[11] != "" {
			if err := json.Unmarshal([]byte(r[11]), &e.Attributes); err != nil {
				return nil, fmt.Errorf("events file line %d: %w", i+2, err)
			}
		}
		events = append(events, e)
	}
	return events, nil
}

// readReportFixture returns the events of the fixture file.
func readReportFixture(t *testing.T) []experiments.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixtureEventsFile))
	if err != nil {
		t.Fatal(err)
	}
	events, err := parseEventsCSV(data)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestReportFixtureFiles: the fixture files in testdata are what the
// generator and the experiment of the report tests produce, and the events
// file reads back to the generated events, so the tests (which ingest the
// file) and the independent check script (which reads it) see the same data.
func TestReportFixtureFiles(t *testing.T) {
	x := springSaleExperiment()
	events := generateReportEvents(x.Key, fixtureEvents)
	ev, err := eventsCSV(events)
	if err != nil {
		t.Fatal(err)
	}
	xj, err := json.MarshalIndent(fixtureExperimentOf(x), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	xj = append(xj, '\n')
	golden(t, fixtureEventsFile, ev)
	golden(t, fixtureExperimentFile, xj)
	back, err := parseEventsCSV(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(events) {
		t.Fatalf("%d events read back, want %d", len(back), len(events))
	}
	for i := range events {
		a, b := events[i], back[i]
		if a.ID != b.ID || a.Type != b.Type || a.UnitID != b.UnitID || !a.Timestamp.Equal(b.Timestamp) || a.Experiment != b.Experiment ||
			a.Variant != b.Variant || a.Name != b.Name || a.Revenue != b.Revenue || a.Currency != b.Currency || a.Channel != b.Channel ||
			(a.PromotionCost == nil) != (b.PromotionCost == nil) || a.PromotionCost != nil && *a.PromotionCost != *b.PromotionCost ||
			fmt.Sprint(a.Attributes) != fmt.Sprint(b.Attributes) {
			t.Fatalf("event %d reads back as %+v, want %+v", i, b, a)
		}
	}
}
