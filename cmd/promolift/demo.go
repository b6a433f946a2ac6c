package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
)

func init() {
	register(command{name: "demo", summary: "simulate a spring-sale promotion test with planted effects and print its report", run: runDemo})
}

// The demo's planted truth: the purchase rate of a customer is the base
// rate of its RFM segment plus the lift of its arm (absolute, in
// probability), so the true average lift of each arm over control is
// exactly its planted lift.
var demoLifts = map[string]float64{"control": 0, "ten_off": 0.015, "free_shipping": 0.010, "personalized": 0.025}

// demoArms are the variants in order; control first.
var demoArms = []string{"control", "ten_off", "free_shipping", "personalized"}

// demoBase is the base purchase rate by RFM segment (about 8% on average
// over the simulated population).
var demoBase = map[experiments.RFMSegment]float64{
	experiments.RFMChampions: 0.13, experiments.RFMLoyal: 0.11, experiments.RFMPotentialLoyalist: 0.09,
	experiments.RFMNew: 0.09, experiments.RFMAtRisk: 0.07, experiments.RFMCannotLose: 0.08,
	experiments.RFMHibernating: 0.06, experiments.RFMLost: 0.05, experiments.RFMNone: 0.07,
}

// demoPersonalized is the personalized arm's table: segment → promotion.
// Customers who are drifting away get the discount; the best customers
// get free shipping, which costs less than 10% of their large orders.
var demoPersonalized = map[experiments.RFMSegment]string{
	experiments.RFMChampions: "free_shipping", experiments.RFMLoyal: "free_shipping",
	experiments.RFMCannotLose: "free_shipping",
}

// demoPromotions are the promotions of the arms and of the personalized
// table. Money is in US cents.
var demoPromotions = map[string]experiments.Promotion{
	"control":       {Type: experiments.PromoNone, Currency: "USD"},
	"ten_off":       {Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"},
	"free_shipping": {Type: experiments.PromoFreeShipping, UnitCost: 599, Currency: "USD"},
	// The personalized arm's conversions carry their own promotion_cost
	// (the cost of the promotion the table gave the customer).
	"personalized": {Type: experiments.PromoPercentOff, Value: 10, Currency: "USD"},
}

var demoChannels = []struct {
	name  string
	share float64
}{{"push", 0.35}, {"email", 0.30}, {"sms", 0.15}, {"in_app", 0.20}}

// demoConfig are the demo's flags.
type demoConfig struct {
	server, key, db string
	customers       int
	seed            uint64
	experiment      string
	workers         int
}

// demoBackend is where the demo sends its calls: the HTTP API of a running
// server, or a Service over a store in this process.
type demoBackend interface {
	// create creates and starts e; it returns the key used (e.Key, with a
	// suffix when e.Key is taken).
	create(ctx context.Context, e *experiments.Experiment) (string, error)
	assign(ctx context.Context, exp, unit string, attrs map[string]any) (variant string, in bool, err error)
	ingest(ctx context.Context, events []experiments.Event) error
	report(ctx context.Context, key string) (*httpapi.ReportResponse, error)
	// policy learns the policy of experiment key by cell of features
	// (demopolicy.go).
	policy(ctx context.Context, key string, features []string) (*httpapi.PolicyResponse, error)
}

// demoCustomer is one simulated customer.
type demoCustomer struct {
	id, channel, country string
	segment              experiments.Segment
}

// DemoEffect is one arm's planted and measured absolute lift of the
// purchase rate over control.
type DemoEffect struct {
	Variant  string
	Planted  float64
	Measured float64
	CI       [2]float64
}

// Recovered reports whether the 95% CI covers the planted lift.
func (e DemoEffect) Recovered() bool { return e.CI[0] <= e.Planted && e.Planted <= e.CI[1] }

// DemoResult is what a demo run measured.
type DemoResult struct {
	Experiment string
	Report     *httpapi.ReportResponse
	Effects    []DemoEffect
	Events     int
	// Policy is the second part: effects planted per segment and the
	// policy learned from them.
	Policy *DemoPolicy
}

// demoKeyFromEnv is the default key of demo --server: the admin key the
// quick start exports ($PROMOLIFT_ADMIN_KEY), else $PROMOLIFT_API_KEY.
func demoKeyFromEnv() string {
	if k := getenv(envAdminKey); k != "" {
		return k
	}
	return getenv(envAPIKey)
}

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := demoConfig{}
	fs.StringVar(&cfg.server, "server", "", "run against the server at `URL` (with --key)")
	fs.StringVar(&cfg.key, "key", demoKeyFromEnv(), "admin API key `TOKEN` for --server (default $"+envAdminKey+", else $"+envAPIKey+")")
	fs.StringVar(&cfg.db, "db", "", "run in this process on a fresh store: a SQLite `PATH` or postgres:// URL (default: a temporary SQLite file)")
	fs.IntVar(&cfg.customers, "customers", 50000, "customers to simulate")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same data)")
	fs.StringVar(&cfg.experiment, "experiment", "spring-sale", "experiment `KEY` (a suffix is added when it exists)")
	fs.IntVar(&cfg.workers, "workers", 8, "concurrent assignment calls")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: promolift demo [--server URL --key TOKEN | --db PATH|URL] [--customers N] [--seed N]")
		fmt.Fprintln(stderr, "\nSimulates a spring-sale test (control, 10% off, free shipping, and a personalized arm")
		fmt.Fprintln(stderr, "choosing the promotion by RFM segment) with planted effects, sends exposures and")
		fmt.Fprintln(stderr, "conversions through the API or the service, and prints the report. Then a second test")
		fmt.Fprintln(stderr, "with effects planted per RFM segment × channel: its learned policy is printed next to")
		fmt.Fprintln(stderr, "the planted one.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg.seed = *seed
	if fs.NArg() > 0 || cfg.customers < 100 || cfg.customers > 10_000_000 || cfg.workers < 1 {
		fmt.Fprintln(stderr, "demo: unexpected arguments, or --customers outside [100, 10000000]")
		return 2
	}
	if cfg.server != "" && cfg.db != "" {
		fmt.Fprintln(stderr, "demo: --server and --db exclude each other")
		return 2
	}
	var be demoBackend
	if cfg.server != "" {
		if cfg.key == "" {
			fmt.Fprintf(stderr, "demo: --server needs --key (or $%s, or $%s) of scope admin\n", envAdminKey, envAPIKey)
			return 2
		}
		u, err := url.Parse(strings.TrimRight(cfg.server, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fmt.Fprintf(stderr, "demo: --server must be an http(s) URL, got %q\n", cfg.server)
			return 2
		}
		be = &httpDemo{base: u.String(), key: cfg.key, c: &http.Client{Timeout: 5 * time.Minute}}
	} else {
		db := cfg.db
		if db == "" {
			dir, err := os.MkdirTemp("", "promolift-demo-")
			if err != nil {
				fmt.Fprintf(stderr, "demo: %v\n", err)
				return 1
			}
			defer os.RemoveAll(dir)
			db = filepath.Join(dir, "demo.db")
		}
		store, err := openStore(ctx, db, nil)
		if err != nil {
			fmt.Fprintf(stderr, "demo: open %s: %v\n", describeDB(db), err)
			return 1
		}
		defer store.Close()
		be = &localDemo{svc: newService(store, nil)}
	}
	fmt.Fprintf(stderr, "demo: simulating %d customers (seed %d)…\n", cfg.customers, cfg.seed)
	res, err := runDemoWith(ctx, be, cfg, time.Now().UTC(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	if err := printDemo(stdout, res); err != nil {
		return 1
	}
	return 0
}

// runDemoWith runs the simulation against be with now as the present.
func runDemoWith(ctx context.Context, be demoBackend, cfg demoConfig, now time.Time, progress io.Writer) (*DemoResult, error) {
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	day := 24 * time.Hour

	// 1. Customers and their purchase history (the year and a half before
	// the test), sent first so the store's segments reflect it.
	customers := make([]demoCustomer, cfg.customers)
	var history []experiments.Event
	for i := range customers {
		c := &customers[i]
		c.id = fmt.Sprintf("cust-%06d", i+1)
		c.channel = pickChannel(rng.Float64())
		c.country = []string{"KR", "JP", "US", "DE"}[rng.IntN(4)]
		activity := rng.Float64() // engaged customers buy more and more recently
		purchases := 0
		switch {
		case activity < 0.30:
		case activity < 0.55:
			purchases = 1
		case activity < 0.72:
			purchases = 2
		case activity < 0.85:
			purchases = 3 + rng.IntN(2)
		default:
			purchases = 5 + rng.IntN(6)
		}
		lastAgo := 10 + rng.Float64()*float64(540-int(activity*400))
		for k := 0; k < purchases; k++ {
			at := now.Add(-8*day - time.Duration((lastAgo+float64(k)*(15+rng.Float64()*60))*float64(day)))
			history = append(history, demoConversion(fmt.Sprintf("demo-h-%s-%d", c.id, k), c.id, "purchase", at,
				demoOrderValue(rng), nil))
		}
		if rng.Float64() < 0.25 {
			history = append(history, demoConversion("demo-h-"+c.id+"-view", c.id, "view",
				now.Add(-8*day-time.Duration(rng.Float64()*30*float64(day))), 0, nil))
		}
		if purchases > 0 && rng.Float64() < 0.1 {
			history = append(history, demoConversion("demo-h-"+c.id+"-review", c.id, "review",
				now.Add(-8*day-time.Duration(rng.Float64()*200*float64(day))), 0, nil))
		}
	}
	if err := demoIngest(ctx, be, history); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	// The segments at the start of the test, from the same aggregates and
	// rules the store keeps (experiments.CustomerDeltas, ComputeSegment).
	demoSegments(customers, history, now.Add(-7*day))

	// 2. The experiment.
	exp := &experiments.Experiment{
		Key: cfg.experiment, Name: "Spring sale promotions",
		Hypothesis:    "10% off and free shipping lift purchases; choosing the promotion by RFM segment lifts them most",
		PrimaryMetric: "purchase", AttributionWindow: 7 * day, Personalization: true, Coverage: 1,
		Segments: []string{experiments.AttrRFMSegment, experiments.AttrAIPLStage},
	}
	for _, a := range demoArms {
		exp.Variants = append(exp.Variants, experiments.Variant{Key: a, Weight: 0.25, Promotion: demoPromotions[a]})
	}
	key, err := be.create(ctx, exp)
	if err != nil {
		return nil, fmt.Errorf("create experiment: %w", err)
	}
	fmt.Fprintf(progress, "demo: experiment %s started; %d history events sent; assigning…\n", key, len(history))

	// 3. Assignment through the service (concurrently), then outcomes.
	variants := make([]string, len(customers))
	if err := demoAssign(ctx, be, key, customers, variants, cfg.workers); err != nil {
		return nil, err
	}
	var events []experiments.Event
	for i := range customers {
		c := &customers[i]
		v := variants[i]
		if v == "" {
			continue
		}
		promo := v
		if v == "personalized" {
			promo = "ten_off"
			if p, ok := demoPersonalized[c.segment.RFM]; ok {
				promo = p
			}
		}
		exposedAt := now.Add(-7*day + time.Duration(rng.Float64()*2*float64(day)))
		x := experiments.Event{ID: "demo-" + key + "-x-" + c.id, Type: experiments.EventExposure, UnitID: c.id,
			Timestamp: exposedAt, Experiment: key, Variant: v, Channel: c.channel,
			Attributes: map[string]string{"country": c.country, "promotion": promo,
				experiments.AttrRFMSegment: string(c.segment.RFM), experiments.AttrAIPLStage: string(c.segment.AIPL)}}
		events = append(events, x)
		p := demoBase[c.segment.RFM] + demoLifts[v]
		if rng.Float64() < p {
			n := 1
			if rng.Float64() < 0.2 {
				n = 2
			}
			for k := 0; k < n; k++ {
				at := exposedAt.Add(time.Duration(rng.Float64() * 5 * float64(day)))
				value := demoOrderValue(rng)
				var cost *int64
				if v == "personalized" {
					c := experiments.PromotionCost(demoPromotions[promo], value)
					cost = &c
				}
				events = append(events, demoConversion(fmt.Sprintf("demo-%s-p-%s-%d", key, c.id, k), c.id, "purchase", at, value, cost))
			}
		} else if rng.Float64() < 0.2 {
			events = append(events, demoConversion("demo-"+key+"-v-"+c.id, c.id, "view",
				exposedAt.Add(time.Duration(rng.Float64()*2*float64(day))), 0, nil))
		}
	}
	fmt.Fprintf(progress, "demo: sending %d exposures and conversions…\n", len(events))
	if err := demoIngest(ctx, be, events); err != nil {
		return nil, err
	}
	r, err := be.report(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	res := &DemoResult{Experiment: key, Report: r, Events: len(history) + len(events)}
	if res.Policy, err = runDemoPolicy(ctx, be, cfg, max(cfg.customers/2, 8000), now, progress); err != nil {
		return nil, err
	}
	for _, m := range r.Analysis.Metrics {
		if m.Key != "purchase" {
			continue
		}
		for _, c := range m.Comparisons {
			res.Effects = append(res.Effects, DemoEffect{Variant: c.Variant, Planted: demoLifts[c.Variant],
				Measured: c.Absolute.Estimate, CI: c.Absolute.CI})
		}
	}
	return res, nil
}

func pickChannel(u float64) string {
	for _, c := range demoChannels {
		if u < c.share {
			return c.name
		}
		u -= c.share
	}
	return demoChannels[len(demoChannels)-1].name
}

// demoOrderValue draws an order value in cents: lognormal with a median
// of $55.
func demoOrderValue(rng *rand.Rand) int64 {
	return int64(math.Round(5500 * math.Exp(0.5*rng.NormFloat64())))
}

func demoConversion(id, unit, name string, at time.Time, revenue int64, cost *int64) experiments.Event {
	e := experiments.Event{ID: id, Type: experiments.EventConversion, UnitID: unit, Timestamp: at, Name: name,
		Revenue: revenue, PromotionCost: cost}
	if revenue > 0 || cost != nil {
		e.Currency, e.OrderID = "USD", id
	}
	return e
}

// demoSegments sets each customer's segment from its history at time at.
func demoSegments(customers []demoCustomer, history []experiments.Event, at time.Time) {
	aggs := experiments.CustomerDeltas(history, nil)
	by := make(map[string]experiments.CustomerAggregate, len(aggs))
	var r, f, m []int64
	for _, a := range aggs {
		by[a.UnitID] = a
		if a.PurchaseCount > 0 {
			r, f, m = append(r, a.LastPurchaseAt.UnixMicro()), append(f, a.PurchaseCount), append(m, a.Monetary)
		}
	}
	b := experiments.RFMBoundaries{Customers: int64(len(r))}
	ranks := experiments.QuintileRanks(b.Customers)
	for _, d := range []struct {
		v   []int64
		out *[4]int64
	}{{r, &b.Recency}, {f, &b.Frequency}, {m, &b.Monetary}} {
		sort.Slice(d.v, func(i, j int) bool { return d.v[i] < d.v[j] })
		for k, rank := range ranks {
			if rank > 0 {
				d.out[k] = d.v[rank-1]
			}
		}
	}
	for i := range customers {
		a, known := by[customers[i].id]
		a.UnitID = customers[i].id
		customers[i].segment = experiments.ComputeSegment(a, known, b, experiments.SegmentConfig{}, at)
	}
}

// demoAssign assigns every customer with `workers` concurrent calls.
func demoAssign(ctx context.Context, be demoBackend, key string, customers []demoCustomer, out []string, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := &customers[i]
				v, in, err := be.assign(ctx, key, c.id, map[string]any{"channel": c.channel, "country": c.country})
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("assign %s: %w", c.id, err); cancel() })
					continue
				}
				if in {
					out[i] = v
				}
			}
		}()
	}
	for i := range customers {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

// demoIngest sends events in batches of 1000.
func demoIngest(ctx context.Context, be demoBackend, events []experiments.Event) error {
	for i := 0; i < len(events); i += 1000 {
		if err := be.ingest(ctx, events[i:min(i+1000, len(events))]); err != nil {
			return fmt.Errorf("send events: %w", err)
		}
	}
	return nil
}

func printDemo(w io.Writer, res *DemoResult) error {
	if err := printReport(w, res.Report); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nPLANTED EFFECTS (purchase conversion rate, absolute lift over control; %d events sent)\n", res.Events)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tPLANTED\tMEASURED\t95% CI\tRECOVERED")
	for _, e := range res.Effects {
		ok := "no"
		if e.Recovered() {
			ok = "yes"
		}
		fmt.Fprintf(tw, "%s\t%+.2fpp\t%+.2fpp\t[%+.2fpp, %+.2fpp]\t%s\n", e.Variant, 100*e.Planted, 100*e.Measured,
			100*e.CI[0], 100*e.CI[1], ok)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.Policy != nil {
		return printDemoPolicy(w, res.Policy)
	}
	return nil
}

// localDemo runs the demo on a Service in this process.
type localDemo struct{ svc *experiments.Service }

func (l *localDemo) create(ctx context.Context, e *experiments.Experiment) (string, error) {
	base := e.Key
	for i := 2; ; i++ {
		x := *e
		err := l.svc.CreateExperiment(ctx, experiments.Principal{}, &x)
		if experiments.KindOf(err) == experiments.KindConflict && i < 100 {
			e.Key = fmt.Sprintf("%s-%d", base, i)
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = l.svc.Transition(ctx, experiments.Principal{}, e.Key, experiments.ActionStart)
		return e.Key, err
	}
}

func (l *localDemo) assign(ctx context.Context, exp, unit string, attrs map[string]any) (string, bool, error) {
	rs, err := l.svc.Assign(ctx, experiments.Principal{}, experiments.AssignRequest{UnitID: unit, Attributes: attrs, Experiments: []string{exp}})
	if err != nil || len(rs) != 1 {
		return "", false, err
	}
	return rs[0].Variant, rs[0].InExperiment, nil
}

func (l *localDemo) ingest(ctx context.Context, events []experiments.Event) error {
	out, err := l.svc.IngestEvents(ctx, experiments.Principal{}, events)
	if err != nil {
		return err
	}
	for _, o := range out {
		if o.Status == experiments.EventRejected {
			return fmt.Errorf("event %s rejected: %v", o.EventID, o.Err)
		}
	}
	return nil
}

func (l *localDemo) report(ctx context.Context, key string) (*httpapi.ReportResponse, error) {
	r, err := l.svc.Report(ctx, key, experiments.ReportOptions{NoSeries: true})
	if err != nil {
		return nil, err
	}
	resp := httpapi.NewReportResponse(r)
	return &resp, nil
}

// httpDemo runs the demo against a server's HTTP API.
type httpDemo struct {
	base, key string
	c         *http.Client
}

func (h *httpDemo) call(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		err := h.call1(ctx, method, path, payload, out)
		var he *demoHTTPError
		// Over the key's rate or the server's ingest capacity: wait and
		// send again (events are idempotent by event_id).
		if errors.As(err, &he) && (he.status == http.StatusTooManyRequests || he.status == http.StatusServiceUnavailable) && attempt < 30 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(200*(attempt+1)) * time.Millisecond):
			}
			continue
		}
		return err
	}
}

func (h *httpDemo) call1(ctx context.Context, method, path string, payload []byte, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(data, &p)
		return &demoHTTPError{status: resp.StatusCode, code: p.Code, detail: p.Detail}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

type demoHTTPError struct {
	status       int
	code, detail string
}

func (e *demoHTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.detail)
}

func (h *httpDemo) create(ctx context.Context, e *experiments.Experiment) (string, error) {
	req := httpapi.ExperimentRequest{Key: e.Key, Name: e.Name, Hypothesis: e.Hypothesis, PrimaryMetric: e.PrimaryMetric,
		AttributionWindowHours: int(e.AttributionWindow.Hours()), Segments: e.Segments, Personalization: e.Personalization,
		Coverage: &e.Coverage}
	for _, v := range e.Variants {
		p := v.Promotion
		req.Variants = append(req.Variants, httpapi.VariantDTO{Key: v.Key, Weight: v.Weight, Promotion: httpapi.PromotionDTO{
			Type: string(p.Type), Value: p.Value, CostRule: string(p.CostRule), UnitCost: p.UnitCost, Currency: p.Currency}})
	}
	base := req.Key
	for i := 2; ; i++ {
		err := h.call(ctx, http.MethodPost, "/api/v1/experiments", req, nil)
		var he *demoHTTPError
		if errors.As(err, &he) && he.status == http.StatusConflict && i < 100 {
			req.Key = fmt.Sprintf("%s-%d", base, i)
			continue
		}
		if err != nil {
			return "", err
		}
		return req.Key, h.call(ctx, http.MethodPost, "/api/v1/experiments/"+url.PathEscape(req.Key)+"/start", nil, nil)
	}
}

func (h *httpDemo) assign(ctx context.Context, exp, unit string, attrs map[string]any) (string, bool, error) {
	no := false
	var out httpapi.AssignResponse
	err := h.call(ctx, http.MethodPost, "/api/v1/assign", httpapi.AssignRequestDTO{UnitID: unit, Attributes: attrs,
		Experiments: []string{exp}, LogExposure: &no}, &out)
	if err != nil || len(out.Assignments) != 1 {
		return "", false, err
	}
	return out.Assignments[0].Variant, out.Assignments[0].InExperiment, nil
}

func (h *httpDemo) ingest(ctx context.Context, events []experiments.Event) error {
	dtos := make([]httpapi.EventDTO, len(events))
	for i, e := range events {
		dtos[i] = httpapi.EventDTO{EventID: e.ID, Type: string(e.Type), Experiment: e.Experiment, Variant: e.Variant,
			UnitID: e.UnitID, Timestamp: e.Timestamp.Format(time.RFC3339Nano), Attributes: e.Attributes, Name: e.Name,
			Revenue: e.Revenue, PromotionCost: e.PromotionCost, Currency: e.Currency, OrderID: e.OrderID, Channel: e.Channel}
	}
	var out httpapi.EventsResponse
	if err := h.call(ctx, http.MethodPost, "/api/v1/events", map[string]any{"events": dtos}, &out); err != nil {
		return err
	}
	if out.Rejected > 0 {
		for _, r := range out.Results {
			if r.Status == "rejected" {
				return fmt.Errorf("event %s rejected: %s %s", r.EventID, r.Code, r.Detail)
			}
		}
	}
	return nil
}

func (h *httpDemo) report(ctx context.Context, key string) (*httpapi.ReportResponse, error) {
	var r httpapi.ReportResponse
	err := h.call(ctx, http.MethodGet, "/api/v1/experiments/"+url.PathEscape(key)+"/report", nil, &r)
	return &r, err
}
