package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/httpapi/browsertest"
)

// api calls the JSON API with key and decodes the answer into out.
func (e *env) api(t *testing.T, method, path, key string, body, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var p httpapi.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		t.Fatalf("%s %s: %d %+v", method, path, resp.StatusCode, p)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// assignUnits assigns n units through the API (logging their exposures)
// and converts some of them: control 10%, the treatment 20%.
func (e *env) assignUnits(t *testing.T, key string, n int) {
	t.Helper()
	channels := []string{"email", "push", "web"}
	countries := []string{"KR", "JP", "US"}
	var events []map[string]any
	for i := range n {
		unit := fmt.Sprintf("cust-%04d", i)
		var res httpapi.AssignResponse
		e.api(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": unit, "experiments": []string{key},
			"attributes": map[string]any{"channel": channels[i%3], "country": countries[(i/3)%3]}}, &res)
		if len(res.Assignments) != 1 || !res.Assignments[0].InExperiment {
			t.Fatalf("assign %s: %+v", unit, res)
		}
		rate := 10
		if res.Assignments[0].Variant != "control" {
			rate = 5
		}
		if i%rate == 0 {
			events = append(events, map[string]any{"event_id": "buy-" + unit, "type": "conversion", "unit_id": unit,
				"name": "purchase", "revenue": 5000, "currency": "USD"})
		}
	}
	// The purchases come after every exposure.
	time.Sleep(10 * time.Millisecond)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, ev := range events {
		ev["timestamp"] = now
	}
	for len(events) > 0 {
		k := min(len(events), 500)
		e.api(t, "POST", "/api/v1/events", e.sdk, map[string]any{"events": events[:k]}, nil)
		events = events[k:]
	}
}

// checkPage checks the open page at both widths: no sideways scroll, no
// console error; it saves screenshots when shot is set.
func checkPage(t *testing.T, b *browsertest.Browser, name string, shot bool) []string {
	t.Helper()
	var shots []string
	for _, w := range []int64{browsertest.Desktop, browsertest.Phone} {
		b.Resize(t, w)
		b.CheckNoSidewaysScroll(t, name+" at "+strconv.FormatInt(w, 10)+" px")
	}
	b.Resize(t, browsertest.Desktop)
	b.CheckNoInnerScroll(t, name+" at 1280 px")
	b.CheckNoErrors(t, name)
	if shot {
		shots = append(shots, b.Screenshot(t, "console-"+name+".png", browsertest.Desktop),
			b.Screenshot(t, "console-"+name+"-phone.png", browsertest.Phone))
	}
	b.Resize(t, browsertest.Desktop)
	return shots
}

// TestConsoleInBrowser creates an experiment through the form in
// headless Chromium, starts it, assigns units through the API and reads
// the list and the report: every page fits 1280 and 390 px without
// sideways scroll, and the figures shown equal the JSON report.
func TestConsoleInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t)
	var shots []string
	b.Open(t, e.srv.URL+"/console/experiments/new?token="+e.admin, browsertest.Desktop)
	if u := b.URL(t); strings.Contains(u, "token") {
		t.Fatalf("the token stays in the address: %s", u)
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('fieldset.variant').length`); n != 2 {
		t.Errorf("the form starts with %d variant rows, want 2", n)
	}
	shots = append(shots, checkPage(t, b, "new", true)...)

	// A first try with a mistake: the error shows next to its field.
	fill(t, b, map[string]string{"key": "coupon-test", "name": "Coupon test", "primary_metric": "purchase", "segments": "country",
		"variants[1].key": "ten_off", "variants[1].weight": "0.6", "variants[1].promotion.value": "10",
		"variants[1].promotion.currency": "USD", "variants[1].promotion.budget": "100000"})
	b.Submit(t, "submit", chromedp.Click(chromedp.ID("save")))
	if msg := browsertest.Eval[string](t, b, `(document.getElementById('form-errors')||{}).innerText||''`); !strings.Contains(msg, "Nothing was saved") {
		t.Fatalf("a bad form: errors %q", msg)
	}
	// The weights' error stands in the variants' box.
	if msg := browsertest.Eval[string](t, b, `(document.querySelector('#variants .err[data-field="variants"]')||{}).innerText||''`); !strings.Contains(msg, "weights") {
		t.Errorf("the variants box says %q, want the weights' error", msg)
	}
	if v := browsertest.Eval[string](t, b, `document.getElementById('variants[1].weight').value`); v != "0.6" {
		t.Errorf("the form lost what was typed: weight %q", v)
	}
	// The 422 answer is the one error the browser reports here.
	if errs := b.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "422") {
		t.Errorf("console errors %v", errs)
	}
	shots = append(shots, checkPage(t, b, "new-errors", true)...)
	fill(t, b, map[string]string{"variants[1].weight": "0.5"})
	// Enter in a field saves the form (it does not add a variant row).
	b.Submit(t, "submit with Enter", chromedp.SendKeys(chromedp.ID("name"), kb.Enter))
	if u := b.URL(t); !strings.HasSuffix(strings.Split(u, "?")[0], "/console/experiments/coupon-test") {
		t.Fatalf("after create the page is %s:\n%s", u, browsertest.Eval[string](t, b, `document.body.innerText`))
	}
	checkPage(t, b, "draft", false)
	b.Open(t, e.srv.URL+"/console/experiments/coupon-test/edit", browsertest.Desktop)
	checkPage(t, b, "edit", false)

	// Start it, through the confirmation.
	b.Open(t, e.srv.URL+"/console/experiments/coupon-test", browsertest.Desktop)
	b.Submit(t, "start…", chromedp.Click(chromedp.CSS(`a[data-action="start"]`)))
	if what := browsertest.Eval[string](t, b, `document.getElementById('consequences').innerText`); !strings.Contains(what, "ten_off 50%") {
		t.Errorf("the confirmation says %q", what)
	}
	shots = append(shots, checkPage(t, b, "confirm-start", true)...)
	b.Submit(t, "confirm", chromedp.Click(chromedp.ID("confirm")))
	if s := browsertest.Eval[string](t, b, `document.getElementById('status').dataset.status`); s != "running" {
		t.Fatalf("status %q after start", s)
	}

	// Units arrive through the API.
	e.assignUnits(t, "coupon-test", 600)
	var rep httpapi.ReportResponse
	e.api(t, "GET", "/api/v1/experiments/coupon-test/report", e.admin, nil, nil)
	e.reports.Wait()
	e.api(t, "GET", "/api/v1/experiments/coupon-test/report", e.admin, nil, &rep)
	var units int64
	for _, v := range rep.Variants {
		units += v.Units
	}
	if units != 600 || rep.Headline.Lift == nil {
		t.Fatalf("the report counts %d units, want 600; headline %+v", units, rep.Headline)
	}

	// The list shows the report's figures.
	b.Open(t, e.srv.URL+"/console/experiments", browsertest.Desktop)
	type row struct{ Units, Lift, Decision, Status string }
	got := browsertest.Eval[row](t, b, `(r => ({Units: r.querySelector('.units').innerText, Lift: r.querySelector('.lift').innerText,
		Decision: r.querySelector('.decision').innerText, Status: r.dataset.status}))(document.querySelector('tr[data-key="coupon-test"]'))`)
	wantLift := fmt.Sprintf("%s on purchase [%s, %s]", signedPct(*rep.Headline.Lift), signedPct(rep.Headline.CI[0]), signedPct(rep.Headline.CI[1]))
	if got.Units != "600" || got.Lift != wantLift || got.Decision != httpapi.ActionLabel(rep.Decision.Action) || got.Status != "running" {
		t.Errorf("list row %+v, want 600 units, lift %q, decision %s", got, wantLift, rep.Decision.Action)
	}
	shots = append(shots, checkPage(t, b, "list", true)...)
	b.Open(t, e.srv.URL+"/console/experiments?status=draft", browsertest.Desktop)
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('tr[data-key="coupon-test"]').length`); n != 0 {
		t.Error("the draft filter lists a running experiment")
	}

	// Which variant, for a customer assigned above.
	b.Open(t, e.srv.URL+"/console/experiments/coupon-test/explain?unit=cust-0001", browsertest.Desktop)
	var a httpapi.AssignResponse
	e.api(t, "POST", "/api/v1/assign", e.sdk, map[string]any{"unit_id": "cust-0001", "experiments": []string{"coupon-test"}, "log_exposure": false}, &a)
	if v := browsertest.Eval[string](t, b, `document.getElementById('variant').innerText`); v != a.Assignments[0].Variant {
		t.Errorf("explain shows %q, the API assigns %q", v, a.Assignments[0].Variant)
	}
	checkPage(t, b, "explain", false)

	// The report reads the same numbers.
	b.Open(t, e.srv.URL+"/experiments/coupon-test", browsertest.Desktop)
	if h := browsertest.Eval[string](t, b, `document.getElementById('headline-lift').innerText`); !strings.Contains(h, signedPct(*rep.Headline.Lift)) {
		t.Errorf("report headline %q, JSON lift %v", h, *rep.Headline.Lift)
	}
	cells := browsertest.Eval[[]string](t, b, `Array.from(document.querySelectorAll('figure.heatmap[data-dimension="country"] rect.cell')).map(r => r.dataset.row + '=' + r.dataset.lift)`)
	var want []string
	for _, bd := range rep.Breakdowns {
		if bd.Dimension != "country" {
			continue
		}
		for _, s := range bd.Slices {
			for _, c := range s.Comparisons {
				if c.Metric == "purchase" && c.Variant == "ten_off" {
					l := ""
					if c.Relative != nil {
						l = strconv.FormatFloat(c.Relative.Estimate, 'g', -1, 64)
					}
					want = append(want, s.Slice+"="+l)
				}
			}
		}
	}
	if strings.Join(cells, " ") != strings.Join(want, " ") || len(want) != 3 {
		t.Errorf("country heatmap %v, JSON %v", cells, want)
	}
	shots = append(shots, checkPage(t, b, "report", true)...)

	for _, path := range []string{"/console/flags", "/console/flags/checkout-gate", "/console/keys", "/console/audit",
		"/console/experiments/coupon-test", "/console/experiments/coupon-test/confirm/stop"} {
		b.Open(t, e.srv.URL+path, browsertest.Desktop)
		checkPage(t, b, strings.ReplaceAll(strings.TrimPrefix(path, "/console/"), "/", "-"), path == "/console/audit")
	}
	t.Logf("screenshots:\n%s", strings.Join(shots, "\n"))
}

// fill types values into the inputs of the open page, by name.
func fill(t *testing.T, b *browsertest.Browser, values map[string]string) {
	t.Helper()
	js, _ := json.Marshal(values)
	missing := browsertest.Eval[[]string](t, b, `(v => Object.keys(v).filter(n => { const el = document.querySelector('[name="' + n + '"]'); if (!el) return true; el.value = v[n]; return false }))(`+string(js)+`)`)
	if len(missing) > 0 {
		t.Fatalf("the page has no inputs %v", missing)
	}
}

func signedPct(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
	if v >= 0 {
		s = "+" + s
	}
	return s
}
