package httpapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/promolift/promolift/experiments/httpapi/browsertest"
)

// TestReportPageInBrowser opens the report in headless Chromium (through
// the DevTools protocol): the sign-in by ?token= sets the cookie and
// redirects, the page shows the JSON report's headline numbers, draws its
// charts, logs no console error, and does not scroll sideways on a
// desktop or a phone. Screenshots of both are saved as artifacts.
func TestReportPageInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	e := newReportEnv(t)
	_, body := e.get(t, "/api/v1/experiments/spring-sale/report", e.analyst)
	var rep ReportResponse
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	b.Open(t, e.srv.URL+"/experiments/spring-sale?token="+e.analyst, browsertest.Desktop)
	if u := b.URL(t); strings.Contains(u, "token=") || !strings.HasSuffix(u, "/experiments/spring-sale") {
		t.Errorf("after sign-in the page is %s, want the address without the token", u)
	}
	if !browsertest.Eval[bool](t, b, `!!document.getElementById('headline')`) {
		t.Fatalf("the rendered page has no headline (the token login failed?):\n%s", browsertest.Eval[string](t, b, `document.body.innerText`))
	}
	text := browsertest.Eval[string](t, b, `document.body.innerText`)
	// The headline numbers of the JSON report are on the page.
	want := []string{
		"ten_off on purchase: " + signed(*rep.Headline.Lift),
		"[" + signed(rep.Headline.CI[0]) + ", " + signed(rep.Headline.CI[1]) + "]",
		rep.Decision.Reason,
		pct(rep.Variants[0].ConversionRate), pct(rep.Variants[1].ConversionRate),
	}
	if rep.Analysis.ROI != nil && rep.Analysis.ROI.ROI != nil {
		want = append(want, pct(*rep.Analysis.ROI.ROI))
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("rendered page lacks %q", w)
		}
	}
	dom := browsertest.Eval[string](t, b, `document.documentElement.outerHTML`)
	// The policy section: the rules of the policy JSON, its value, and the
	// uplift curve with one point per curve point.
	_, body = e.get(t, "/api/v1/experiments/spring-sale/policy", e.analyst)
	var pol PolicyResponse
	if err := json.Unmarshal(body, &pol); err != nil {
		t.Fatal(err)
	}
	upliftWant := "uplift:" + strconv.Itoa(len(pol.Curve)) + ":0"
	if got, want := strings.Join(svgCounts(dom), " "), "bars:0:2 forest:4:0 "+upliftWant+" lift:8:0 heat-hourchannel:0:0:72 heat:0:0:3 heat:0:0:3 heat:0:0:24"; got != want {
		t.Errorf("svg charts %q, want %q", got, want)
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('circle.pt').length`); n != 4+len(rep.Series)+len(pol.Curve) {
		t.Errorf("%d points rendered, want %d", n, 4+len(rep.Series)+len(pol.Curve))
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('#policy-rules tbody tr').length`); n != len(pol.Rules) || n == 0 {
		t.Errorf("%d policy rules rendered, want %d", n, len(pol.Rules))
	}
	if v := browsertest.Eval[string](t, b, `document.getElementById('policy-value').innerText`); !strings.Contains(v, pol.BestSingle.Variant) ||
		!strings.Contains(v, moneyFormatter(pol.Currency, false)(pol.Value.Estimate)) {
		t.Errorf("policy value %q lacks the best single %s or the value %s", v, pol.BestSingle.Variant, moneyFormatter(pol.Currency, false)(pol.Value.Estimate))
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('rect.bar').length`); n != len(rep.Variants) {
		t.Errorf("%d bars rendered, want %d", n, len(rep.Variants))
	}
	checkHeatmaps(t, b, &rep)
	b.CheckNoErrors(t, "report")
	for _, w := range []int64{browsertest.Desktop, browsertest.Phone} {
		b.Resize(t, w)
		b.CheckNoSidewaysScroll(t, "report at "+strconv.FormatInt(w, 10)+" px")
	}
	b.Resize(t, browsertest.Desktop)
	b.Do(t, "open the tables", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
	b.CheckNoInnerScroll(t, "report at 1280 px")
	desk := b.Screenshot(t, "report-spring-sale.png", browsertest.Desktop)
	phone := b.Screenshot(t, "report-spring-sale-phone.png", browsertest.Phone)
	t.Logf("screenshots: %s and %s", desk, phone)
}

// heatCellDOM is a heatmap cell as the browser sees it.
type heatCellDOM struct {
	Row, Col, Lift, Title string
	Sig                   bool
}

// checkHeatmaps compares every heatmap cell of the open report with the
// JSON report: one rect per slice × variant (per hour × channel for the
// treatment) whose data-lift is the slice's relative lift of the primary
// metric, outlined when significant, with a title naming slice, variant,
// lift and CI.
func checkHeatmaps(t *testing.T, b *browsertest.Browser, rep *ReportResponse) {
	t.Helper()
	cellsOf := func(dim string) []heatCellDOM {
		return browsertest.Eval[[]heatCellDOM](t, b, `Array.from(document.querySelectorAll('figure.heatmap[data-dimension="`+dim+`"] rect.cell')).map(r => ({
			Row: r.dataset.row, Col: r.dataset.col, Lift: r.dataset.lift, Sig: r.classList.contains('sig'),
			Title: r.querySelector('title') ? r.querySelector('title').textContent : ''}))`)
	}
	check := func(dim string, cells []heatCellDOM, slice, variant, where string, cmp *SliceComparisonDTO) {
		t.Helper()
		for _, c := range cells {
			if c.Row+"\x00"+c.Col != where {
				continue
			}
			if !strings.Contains(c.Title, variant) {
				t.Errorf("%s %s: title %q does not name variant %s", dim, slice, c.Title, variant)
			}
			if cmp.Relative == nil {
				if c.Lift != "" {
					t.Errorf("%s %s: lift %q drawn, the JSON has none", dim, slice, c.Lift)
				}
				return
			}
			if got, err := strconv.ParseFloat(c.Lift, 64); err != nil || got != cmp.Relative.Estimate {
				t.Errorf("%s %s × %s: data-lift %q, JSON %v", dim, slice, variant, c.Lift, cmp.Relative.Estimate)
			}
			for _, w := range []string{signed(cmp.Relative.Estimate), signed(cmp.Relative.CI[0]), signed(cmp.Relative.CI[1])} {
				if !strings.Contains(c.Title, w) {
					t.Errorf("%s %s × %s: title %q lacks %s", dim, slice, variant, c.Title, w)
				}
			}
			if c.Sig != cmp.Significant {
				t.Errorf("%s %s × %s: marked significant %v, JSON %v", dim, slice, variant, c.Sig, cmp.Significant)
			}
			return
		}
		t.Errorf("%s: no cell for %s × %s", dim, slice, variant)
	}
	for _, bd := range rep.Breakdowns {
		cells := cellsOf(bd.Dimension)
		n := 0
		for _, s := range bd.Slices {
			for i := range s.Comparisons {
				c := &s.Comparisons[i]
				if c.Metric != rep.Headline.Metric {
					continue
				}
				n++
				check(bd.Dimension, cells, s.Slice, c.Variant, s.Slice+"\x00"+c.Variant, c)
				if !strings.Contains(cellTitle(cells, s.Slice, c.Variant), bd.Dimension+" "+s.Slice) {
					t.Errorf("%s: the title of %s × %s does not name the slice", bd.Dimension, s.Slice, c.Variant)
				}
			}
		}
		if len(cells) != n || n == 0 {
			t.Errorf("%s: %d cells drawn, %d slice × variant comparisons in the JSON", bd.Dimension, len(cells), n)
		}
	}
	if rep.HourChannel == nil {
		t.Fatal("the JSON report has no hour_channel")
	}
	cells := cellsOf("hour/channel")
	for _, s := range rep.HourChannel.Slices {
		hour, channel, _ := strings.Cut(s.Slice, "/")
		for i := range s.Comparisons {
			if c := &s.Comparisons[i]; c.Metric == rep.Headline.Metric && c.Variant == rep.Treatment {
				check("hour/channel", cells, s.Slice, c.Variant, hour+"\x00"+channel, c)
			}
		}
	}
	if len(cells) != len(rep.HourChannel.Slices) {
		t.Errorf("hour × channel: %d cells drawn, %d slices in the JSON", len(cells), len(rep.HourChannel.Slices))
	}
}

func cellTitle(cells []heatCellDOM, row, col string) string {
	for _, c := range cells {
		if c.Row == row && c.Col == col {
			return c.Title
		}
	}
	return ""
}
