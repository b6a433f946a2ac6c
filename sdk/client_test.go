package sdk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promolift/promolift/assign"
)

const testConfig = `{
  "version": "v1",
  "experiments": [
    {"key": "spring-sale", "hashVersion": 2, "seed": "spring-sale", "hashAttribute": "id", "status": "running",
     "variations": ["control", "ten_off"],
     "meta": [{"key": "control"}, {"key": "ten_off"}],
     "weights": [0.5, 0.5],
     "condition": {"country": {"$in": ["KR", "JP"]}}}
  ],
  "features": {
    "gate": {"defaultValue": false, "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "metadata": {"owner": "growth", "version": 3},
      "rules": [
        {"id": "gold", "condition": {"tier": "gold"}, "force": true, "variant": "on"},
        {"id": "quarter", "force": true, "coverage": 0.25, "hashAttribute": "id", "hashVersion": 2, "seed": "gate", "variant": "on"}
      ]},
    "greeting": {"defaultValue": "hi", "variants": {"greeting": "hi", "parting": "bye"}, "defaultVariant": "greeting"},
    "limit": {"defaultValue": 10},
    "layout": {"defaultValue": {"cols": 3}},
    "off-flag": {"defaultValue": true, "enabled": false},
    "coupon": {"defaultValue": "none", "rules": [
      {"id": "exp", "key": "spring-sale", "hashVersion": 2, "seed": "spring-sale",
       "variations": ["none", "ten_percent"], "meta": [{"key": "control"}, {"key": "ten_off"}], "weights": [0.5, 0.5]}
    ]}
  }
}`

func newTestClient(t testing.TB, f *fakeServer, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{ServerURL: f.URL(), Key: f.key, PollInterval: time.Hour, FlushInterval: 20 * time.Millisecond,
		RetryBackoff: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"valid", Config{ServerURL: "http://localhost:8080", Key: "k"}, ""},
		{"missing url", Config{Key: "k"}, "Config.ServerURL: required"},
		{"relative url", Config{ServerURL: "localhost:8080", Key: "k"}, "Config.ServerURL: must be an absolute"},
		{"bad scheme", Config{ServerURL: "ftp://x", Key: "k"}, "Config.ServerURL"},
		{"missing key", Config{ServerURL: "http://x"}, "Config.Key: required"},
		{"key with space", Config{ServerURL: "http://x", Key: "a b"}, "Config.Key: must not contain white space"},
		{"negative poll", Config{ServerURL: "http://x", Key: "k", PollInterval: -time.Second}, "Config.PollInterval: must not be negative"},
		{"negative queue", Config{ServerURL: "http://x", Key: "k", QueueSize: -1}, "Config.QueueSize"},
		{"batch above queue", Config{ServerURL: "http://x", Key: "k", QueueSize: 10, BatchSize: 20}, "Config.BatchSize: must not exceed"},
		{"negative dedupe", Config{ServerURL: "http://x", Key: "k", DedupeCacheSize: -5}, "Config.DedupeCacheSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.normalize()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if cfg.PollInterval != DefaultPollInterval || cfg.QueueSize != DefaultQueueSize || cfg.MaxRetries != DefaultMaxRetries {
					t.Fatalf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) { c.DisableExposures = true })
	// Find units in and out of the 25% rollout of "gate".
	spec, _ := assign.DecodeSpec([]byte(testConfig))
	inRollout, outRollout := "", ""
	for i := 0; inRollout == "" || outRollout == ""; i++ {
		u := fmt.Sprintf("u%d", i)
		if string(spec.EvalFeature("gate", assign.Attributes{"id": u}).Value) == "true" {
			inRollout = u
		} else {
			outRollout = u
		}
	}
	run, _ := spec.Run("spring-sale", assign.Attributes{"id": "cust-1", "country": "KR"})

	tests := []struct {
		name    string
		key     string
		attrs   assign.Attributes
		value   string
		variant string
		reason  Reason
		code    ErrorCode
	}{
		{"targeting match", "gate", assign.Attributes{"id": outRollout, "tier": "gold"}, "true", "on", ReasonTargetingMatch, ""},
		{"rollout", "gate", assign.Attributes{"id": inRollout}, "true", "on", ReasonSplit, ""},
		{"default", "gate", assign.Attributes{"id": outRollout}, "false", "off", ReasonDefault, ""},
		{"static", "greeting", nil, `"hi"`, "greeting", ReasonStatic, ""},
		{"static number", "limit", nil, `10`, "", ReasonStatic, ""},
		{"disabled", "off-flag", nil, ``, "", ReasonDisabled, ""},
		{"not found", "nope", nil, ``, "", ReasonError, ErrorFlagNotFound},
		{"experiment as flag", "spring-sale", assign.Attributes{"id": "cust-1", "country": "KR"}, string(run.Value), run.VariantKey, ReasonSplit, ""},
		{"experiment not targeted", "spring-sale", assign.Attributes{"id": "cust-1", "country": "US"}, `"control"`, "control", ReasonDefault, ""},
		{"experiment without unit", "spring-sale", assign.Attributes{"country": "KR"}, ``, "", ReasonError, ErrorTargetingKeyMissing},
		{"experiment rule", "coupon", assign.Attributes{"id": "cust-1"}, "", run.VariantKey, ReasonSplit, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := c.Evaluate(tt.key, tt.attrs)
			if tt.value != "" && string(ev.Value) != tt.value || tt.value == "" && tt.reason != ReasonSplit && ev.Value != nil {
				t.Errorf("value = %s, want %s", ev.Value, tt.value)
			}
			if ev.Variant != tt.variant || ev.Reason != tt.reason || ev.ErrorCode != tt.code {
				t.Errorf("got variant %q reason %s code %q, want %q %s %q", ev.Variant, ev.Reason, ev.ErrorCode, tt.variant, tt.reason, tt.code)
			}
		})
	}
	if ev := c.Evaluate("gate", nil); ev.Metadata["owner"] != "growth" || ev.Metadata["version"] != int64(3) {
		t.Errorf("metadata = %v", ev.Metadata)
	}
	if !c.BoolFlag("gate", false, assign.Attributes{"id": outRollout, "tier": "gold"}) || c.BoolFlag("off-flag", false, nil) {
		t.Error("BoolFlag")
	}
	if c.StringFlag("greeting", "x", nil) != "hi" || c.StringFlag("limit", "x", nil) != "x" {
		t.Error("StringFlag")
	}
	if c.NumberFlag("limit", 1, nil) != 10 || c.NumberFlag("greeting", 1, nil) != 1 {
		t.Error("NumberFlag")
	}
	if m, ok := c.ObjectFlag("layout", nil, nil).(map[string]any); !ok || m["cols"] != 3.0 {
		t.Error("ObjectFlag")
	}
	if a := c.Run("nope", nil); a.Err != assign.ErrUnknownExperiment {
		t.Errorf("Run unknown: %v", a.Err)
	}
}

func TestNotReady(t *testing.T) {
	// A server that is down.
	f := newFakeServer(t, testConfig)
	f.stop()
	c, err := New(context.Background(), Config{ServerURL: f.URL(), Key: "k", RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	ev := c.Evaluate("gate", nil)
	if ev.Reason != ReasonError || ev.ErrorCode != ErrorProviderNotReady {
		t.Fatalf("got %+v", ev)
	}
	if a := c.Run("spring-sale", assign.Attributes{"id": "x"}); a.Err != ErrNotReady {
		t.Fatalf("Run: %v", a.Err)
	}
	if c.BoolFlag("gate", true, nil) != true {
		t.Fatal("default not returned")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); err == nil {
		t.Fatal("WaitReady succeeded")
	}
}

func TestETagAndPolling(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) { c.PollInterval = 20 * time.Millisecond })
	waitFor(t, 2*time.Second, "a 304", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.notMod > 0 })
	v1 := c.Version()
	f.setConfig(strings.Replace(testConfig, `"defaultValue": "hi"`, `"defaultValue": "bye"`, 1))
	waitFor(t, 2*time.Second, "the new config", func() bool { return c.Version() != v1 })
	if got := c.StringFlag("greeting", "", nil); got != "bye" {
		t.Fatalf("greeting = %q", got)
	}
	if st := c.Stats(); st.ConfigFetches < 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStreamDeliversChangeWithinOneSecond(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) { c.Stream = true })
	changed := make(chan Notification, 4)
	defer c.Subscribe(func(n Notification) {
		if n.Kind == NotifyChanged {
			changed <- n
		}
	})()
	waitFor(t, 2*time.Second, "stream connected", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.subs) > 0 })
	start := time.Now()
	f.setConfig(strings.Replace(testConfig, `"defaultValue": "hi"`, `"defaultValue": "stream"`, 1))
	select {
	case <-changed:
	case <-time.After(time.Second):
		t.Fatal("config change not delivered within 1s")
	}
	if got := c.StringFlag("greeting", "", nil); got != "stream" {
		t.Fatalf("greeting = %q", got)
	}
	t.Logf("change reached the client in %s", time.Since(start))
}

func TestExposureLoggedOnce(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, nil)
	attrs := assign.Attributes{"id": "cust-7", "country": "JP", "device": "ios"}
	for range 10 {
		if a := c.Run("spring-sale", attrs); !a.InExperiment {
			t.Fatal("not in experiment")
		}
		c.Evaluate("spring-sale", attrs)
	}
	c.Run("spring-sale", assign.Attributes{"id": "cust-7", "country": "US"}) // not in: no exposure
	waitFor(t, 2*time.Second, "the exposure", func() bool { return f.storedCount() == 1 })
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.stored) != 1 {
		t.Fatalf("stored %d exposures", len(f.stored))
	}
	e := f.stored[0]
	if e.Type != "exposure" || e.UnitID != "cust-7" || e.Experiment != "spring-sale" || e.Attributes["device"] != "ios" || len(e.EventID) != 32 {
		t.Fatalf("exposure %+v", e)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
		t.Fatal(err)
	}
}

// An experiment hashed on device_id: the exposure is keyed by the device and
// names the customer (attribute id) in customer_id, so the server links the
// device to the customer for erasure; the same device seen for a second
// customer is logged again, for that customer's link, and then no more.
// Conversions name the customer with WithCustomerID.
func TestExposureNamesTheCustomerOfADevice(t *testing.T) {
	f := newFakeServer(t, strings.Replace(testConfig, `"hashAttribute": "id", "status"`, `"hashAttribute": "device_id", "status"`, 1))
	c := newTestClient(t, f, nil)
	for _, attrs := range []assign.Attributes{
		{"id": "cust-7", "device_id": "dev-1", "country": "JP"},
		{"id": "cust-7", "device_id": "dev-1", "country": "JP"},
		{"id": "cust-8", "device_id": "dev-1", "country": "JP"},
		{"device_id": "dev-2", "country": "JP"},
	} {
		if a := c.Run("spring-sale", attrs); !a.InExperiment {
			t.Fatalf("%v: not in experiment", attrs)
		}
	}
	if err := c.Track("dev-1", "purchase", 100, "KRW", WithCustomerID("cust-7")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the events", func() bool { return f.storedCount() == 4 })
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []string
	for _, e := range f.stored {
		got = append(got, e.Type+" "+e.UnitID+" "+e.CustomerID)
	}
	want := []string{"exposure dev-1 cust-7", "exposure dev-1 cust-8", "exposure dev-2 ", "conversion dev-1 cust-7"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestDedupeBounded(t *testing.T) {
	d := newDedupe(3)
	for i := range 5 {
		if !d.add(fmt.Sprint(i), "e", "v") {
			t.Fatal("new key reported as seen")
		}
	}
	if d.len() != 3 {
		t.Fatalf("cache holds %d keys", d.len())
	}
	if d.add("4", "e", "v") || d.add("2", "e", "v") || !d.add("0", "e", "v") {
		t.Fatal("eviction order")
	}
	if d.add("4", "e", "v") || !d.add("4", "e", "w") || !d.add("4", "f", "v") {
		t.Fatal("key parts not distinguished")
	}
	big := newDedupe(1000)
	for i := range 5000 {
		big.add(fmt.Sprint("u", i), "e", "v")
		if big.len() > 1000 {
			t.Fatalf("cache of 1000 holds %d keys", big.len())
		}
	}
	seen := 0
	for i := 4000; i < 5000; i++ {
		if !big.add(fmt.Sprint("u", i), "e", "v") {
			seen++
		}
	}
	if seen < 990 {
		t.Fatalf("only %d of the newest 1000 remembered", seen)
	}
}

func TestTrackValidation(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, nil)
	tests := []struct {
		name     string
		unit     string
		event    string
		revenue  int64
		currency string
		opts     []TrackOption
		ok       bool
	}{
		{"ok", "u", "purchase", 100, "KRW", nil, true},
		{"no revenue", "u", "signup", 0, "", nil, true},
		{"no unit", "", "purchase", 1, "KRW", nil, false},
		{"no name", "u", "", 1, "KRW", nil, false},
		{"negative", "u", "purchase", -1, "KRW", nil, false},
		{"no currency", "u", "purchase", 1, "", nil, false},
		{"negative cost", "u", "purchase", 1, "KRW", []TrackOption{WithPromotionCost(-1)}, false},
	}
	for _, tt := range tests {
		err := c.Track(tt.unit, tt.event, tt.revenue, tt.currency, tt.opts...)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

func TestFaultServerDown(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) {
		c.Stream = true
		c.PollInterval = 50 * time.Millisecond
		c.MaxRetries = 2
	})
	attrs := assign.Attributes{"id": "cust-1", "country": "KR"}
	want := c.Run("spring-sale", attrs)
	if err := c.Track("cust-1", "purchase", 1000, "KRW", WithOrderID("o-1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "first events", func() bool { return f.storedCount() == 2 })

	f.stop()
	for i := range 20 {
		if got := c.Run("spring-sale", attrs); got.Variant != want.Variant || got.Err != nil {
			t.Fatalf("evaluation changed while the server is down: %+v", got)
		}
		if err := c.Track(fmt.Sprintf("cust-%d", i), "purchase", 500, "KRW"); err != nil {
			t.Fatal(err)
		}
		c.Run("spring-sale", assign.Attributes{"id": fmt.Sprintf("new-%d", i), "country": "KR"})
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, 2*time.Second, "a failed send", func() bool { return strings.Contains(c.Stats().LastError, "send events") })
	if st := c.Stats(); st.Sent != 2 || f.storedCount() != 2 {
		t.Fatalf("events delivered while the server was down: %+v", st)
	}
	f.restart()
	waitFor(t, 5*time.Second, "delivery after restart", func() bool { return f.storedCount() == 42 && c.Stats().Sent == 42 })
	time.Sleep(100 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.received {
		if n != 1 {
			t.Errorf("event %s received %d times", id, n)
		}
	}
	if len(f.stored) != 42 {
		t.Fatalf("stored %d events, want 42", len(f.stored))
	}
	st := c.Stats()
	if st.Sent != 42 || st.Dropped != 0 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetryReusesEventIDs(t *testing.T) {
	f := newFakeServer(t, testConfig)
	f.eventsFail = 2
	c := newTestClient(t, f, nil)
	for i := range 3 {
		_ = c.Track(fmt.Sprint("u", i), "purchase", 10, "USD")
	}
	waitFor(t, 3*time.Second, "delivery", func() bool { return f.storedCount() == 3 && c.Stats().Sent == 3 })
	if st := c.Stats(); st.Retries < 2 || st.Sent != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Every attempt carried the ids of the first: the events the server
	// answered 503 are stored under the ids they were first sent with.
	f.mu.Lock()
	defer f.mu.Unlock()
	storedID := map[string]string{} // unit → event id
	for _, e := range f.stored {
		storedID[e.UnitID] = e.EventID
	}
	if len(f.failed) < 2 {
		t.Fatalf("%d failed attempts recorded, want 2", len(f.failed))
	}
	for n, attempt := range f.failed {
		if len(attempt) == 0 {
			t.Fatalf("failed attempt %d carried no events", n)
		}
		for _, e := range attempt {
			if e.EventID == "" || storedID[e.UnitID] != e.EventID {
				t.Fatalf("attempt %d sent %s's event as %q, the retry stored it as %q: ids regenerated on retry",
					n, e.UnitID, e.EventID, storedID[e.UnitID])
			}
		}
	}
	for id, times := range f.received {
		if times != 1 {
			t.Fatalf("event %s stored %d times", id, times)
		}
	}
}

func TestRejectedCountedNotRetried(t *testing.T) {
	f := newFakeServer(t, testConfig)
	f.rejectType = "conversion"
	c := newTestClient(t, f, nil)
	_ = c.Track("u", "purchase", 10, "USD")
	waitFor(t, 2*time.Second, "rejection", func() bool { return c.Stats().Rejected == 1 })
	time.Sleep(60 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.received) != 1 {
		t.Fatalf("received %v", f.received)
	}
	for _, n := range f.received {
		if n != 1 {
			t.Fatal("rejected event retried")
		}
	}
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	f := newFakeServer(t, testConfig)
	f.held, f.release = make(chan struct{}, 1), make(chan struct{})
	c := newTestClient(t, f, func(c *Config) {
		c.QueueSize = 5
		c.BatchSize = 5
		c.FlushInterval = time.Hour
		c.DisableExposures = true
	})
	// A full batch wakes the sender, whose post the server holds, so that
	// the events after it stay queued however the goroutines run.
	for i := range 5 {
		_ = c.Track(fmt.Sprint("b", i), "purchase", 1, "USD")
	}
	<-f.held
	for i := range 8 {
		_ = c.Track(fmt.Sprint("u", i), "purchase", 1, "USD")
	}
	st := c.Stats()
	if st.Dropped != 3 || st.Queued != 13 {
		t.Fatalf("stats %+v", st)
	}
	close(f.release)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var units []string
	for _, e := range f.stored {
		units = append(units, e.UnitID)
	}
	if strings.Join(units, ",") != "b0,b1,b2,b3,b4,u3,u4,u5,u6,u7" {
		t.Fatalf("delivered %v, want the held batch and the newest 5", units)
	}
}

func TestQueueUnshift(t *testing.T) {
	q := newQueue(4)
	for i := range 3 {
		q.push(Event{EventID: fmt.Sprint(i)})
	}
	b := q.take(2)
	q.push(Event{EventID: "3"})
	q.push(Event{EventID: "4"})
	if dropped := q.unshift(b); dropped != 1 {
		t.Fatalf("dropped %d", dropped)
	}
	var ids []string
	for _, e := range q.take(10) {
		ids = append(ids, e.EventID)
	}
	if strings.Join(ids, ",") != "1,2,3,4" {
		t.Fatalf("order %v", ids)
	}
}

func TestCloseFlushes(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) { c.FlushInterval = time.Hour; c.BatchSize = 2 })
	for i := range 5 {
		_ = c.Track(fmt.Sprint("u", i), "purchase", 1, "USD")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.storedCount(); n != 5 {
		t.Fatalf("stored %d", n)
	}
	if err := c.Track("u", "purchase", 1, "USD"); err != ErrClosed {
		t.Fatalf("Track after Close: %v", err)
	}
}

func TestCloseBoundedByContext(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) { c.FlushInterval = time.Hour })
	_ = c.Track("u", "purchase", 1, "USD")
	f.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Close(ctx); err == nil {
		t.Fatal("Close reported success with the server down")
	}
	if time.Since(start) > time.Second {
		t.Fatal("Close not bounded by ctx")
	}
}

func TestStaleAndRecovered(t *testing.T) {
	f := newFakeServer(t, testConfig)
	var mu sync.Mutex
	var kinds []NotifyKind
	c := newTestClient(t, f, func(c *Config) { c.PollInterval = 10 * time.Millisecond; c.StaleAfter = 60 * time.Millisecond })
	defer c.Subscribe(func(n Notification) {
		mu.Lock()
		kinds = append(kinds, n.Kind)
		mu.Unlock()
	})()
	has := func(k NotifyKind) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, x := range kinds {
				if x == k {
					return true
				}
			}
			return false
		}
	}
	f.stop()
	waitFor(t, 2*time.Second, "stale", has(NotifyStale))
	if !c.BoolFlag("gate", false, assign.Attributes{"id": "x", "tier": "gold"}) {
		t.Fatal("stale snapshot not served")
	}
	f.restart()
	waitFor(t, 2*time.Second, "recovered", has(NotifyRecovered))
}

// TestConcurrentSwap evaluates from many goroutines while snapshots are
// swapped (run with -race).
func TestConcurrentSwap(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, func(c *Config) { c.PollInterval = time.Millisecond })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				attrs := assign.Attributes{"id": fmt.Sprintf("g%d-%d", g, i%50), "country": "KR", "tier": "gold"}
				if a := c.Run("spring-sale", attrs); !a.InExperiment {
					t.Error("not in experiment")
					return
				}
				if !c.BoolFlag("gate", false, attrs) {
					t.Error("gate off")
					return
				}
				_ = c.StringFlag("greeting", "", nil)
			}
		}()
	}
	for i := range 20 {
		f.setConfig(strings.Replace(testConfig, `"defaultValue": "hi"`, fmt.Sprintf(`"defaultValue": "hi-%d"`, i), 1))
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if c.Stats().ConfigFetches < 3 {
		t.Fatal("no swaps happened")
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	f := newFakeServer(t, testConfig)
	c := newTestClient(t, f, nil)
	attrs := assign.Attributes{"id": "cust-1", "country": "KR"}
	c.Run("spring-sale", attrs) // logs the exposure once
	if n := testing.AllocsPerRun(1000, func() { _ = c.Run("spring-sale", attrs) }); n != 0 {
		t.Fatalf("Run allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = c.Evaluate("spring-sale", attrs) }); n != 0 {
		t.Fatalf("Evaluate of an experiment allocates %v times", n)
	}
}

func TestUnauthorizedIsFatal(t *testing.T) {
	f := newFakeServer(t, testConfig)
	errs := make(chan Notification, 8)
	c, err := New(context.Background(), Config{ServerURL: f.URL(), Key: "wrong", RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	c.Subscribe(func(n Notification) {
		select {
		case errs <- n:
		default:
		}
	})
	select {
	case n := <-errs:
		if n.Kind != NotifyError || !n.Fatal || !strings.Contains(n.Err.Error(), "refused") {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no error notification")
	}
}

func TestParseRetryAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "2": 2 * time.Second, "x": 0, "9999": maxBackoff} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("%q: %s", in, got)
		}
	}
	if d := parseRetryAfter(time.Now().Add(3 * time.Second).UTC().Format(httpTimeFormat)); d <= time.Second || d > 3*time.Second {
		t.Errorf("date: %s", d)
	}
}

const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"
