package httpapi

import (
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/docs"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/reportsnap"
	"github.com/promolift/promolift/stats"
)

// The report routes:
//
//	GET /api/v1/experiments/:key/report   JSON (default) or ?format=csv
//	GET /experiments                      HTML index of experiments
//	GET /experiments/:key                 HTML report with charts
//
// All take ?multiple_exposure=exclude|first (report routes) and need a key
// of scope analyst (or admin), sent as "Authorization: Bearer KEY", or once
// as ?token=KEY, which sets the HttpOnly SameSite=Strict cookie
// promolift_key (HTML pages then redirect to the URL without the token), or
// by that cookie.

// reportCookie holds the analyst key of a browser.
const reportCookie = "promolift_key"

// reportCookieMaxAge is the cookie's lifetime in seconds (12 hours).
const reportCookieMaxAge = 12 * 3600

var scopeAnalyst = []experiments.Scope{experiments.ScopeAdmin, experiments.ScopeAnalyst}

func init() {
	routes = append(routes, Route{"GET", "/api/v1/experiments/:key/report", scopeAnalyst, EnvExperiment})
}

//go:embed web
var webFS embed.FS

var reportTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":     pct,
	"status":  StatusLabel,
	"meaning": StatusMeaning,
	"action":  ActionLabel,
	"warning": plainWarning,
	"plain":   plainCode,
	"detail":  plainSentence,
	"pctCI":   func(ci [2]float64) string { return "[" + pct(ci[0]) + ", " + pct(ci[1]) + "]" },
	"pval":    func(p float64) string { return strconv.FormatFloat(p, 'g', 3, 64) },
	"int":     func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) },
	"minor":   func(v int64) float64 { return float64(v) },
	// moneyIn formats minor units v of currency cur ("*": several).
	"moneyIn": func(v float64, cur string) string { return moneyFormatter(cur, cur == experiments.MixedCurrency)(v) },
	"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}).ParseFS(webFS, "web/*.tmpl"))

func mustCSS() template.CSS {
	b, err := webFS.ReadFile("web/report.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b) //nolint:gosec // our own embedded file
}

var reportCSS = mustCSS()

// registerReportRoutes registers the JSON/CSV report and the HTML pages;
// their reads are paced server-wide (reportpace.go).
func (a *api) registerReportRoutes(r *gin.Engine) {
	r.GET("/api/v1/experiments/:key/report", a.reportAuth(false), a.paceReads(false), a.getReport)
	r.GET("/experiments", a.reportAuth(true), a.paceReads(true), a.reportIndexPage)
	r.GET("/experiments/:key", a.reportAuth(true), a.paceReads(true), a.reportPage)
	r.GET(ReportDocsPath, reportDocs)
}

// ReportDocsPath serves docs/report.md, the definitions of the report's
// figures, as plain text; the HTML report links to it.
const ReportDocsPath = "/docs/report"

func reportDocs(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", docs.Report)
}

// reportAuth authenticates a key of scope analyst or admin from the
// Authorization header, the token query parameter or the cookie. A token
// in the query sets the cookie; HTML pages then redirect to the URL
// without it. Failures are problem documents for the API and small HTML
// pages with a key form for the pages.
func (a *api) reportAuth(page bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, fromQuery := "", false
		if h := c.GetHeader("Authorization"); h != "" {
			scheme, t, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				a.authFailure(c, page, &Problem{Status: http.StatusUnauthorized, Code: "missing_key",
					Detail: "this route needs an API key: Authorization: Bearer <key>, ?token=<key> or the promolift_key cookie"})
				return
			}
			token = strings.TrimSpace(t)
		} else if t := c.Query("token"); t != "" {
			token, fromQuery = t, true
		} else if ck, err := c.Cookie(reportCookie); err == nil {
			token = ck
		}
		if token == "" {
			a.authFailure(c, page, &Problem{Status: http.StatusUnauthorized, Code: "missing_key",
				Detail: "this route needs an API key of scope analyst: Authorization: Bearer <key>, ?token=<key> or the promolift_key cookie"})
			return
		}
		p, err := a.svc.Authenticate(c.Request.Context(), token)
		if err != nil {
			if experiments.KindOf(err) == experiments.KindUnauthorized && a.authFailed(c, false) {
				return
			}
			a.authFailure(c, page, problemFor(err))
			return
		}
		c.Set(ctxPrincipal, p)
		if !a.rateLimit(c, p, false) {
			return
		}
		c.Set(ctxSession, sessionID(token))
		if !slices.Contains(scopeAnalyst, p.Scope) {
			a.authFailure(c, page, &Problem{Status: http.StatusForbidden, Code: "insufficient_scope",
				Detail: "this route needs a key with scope analyst or admin; this key has scope " + string(p.Scope)})
			return
		}
		if err := a.checkEnvironment(c, p); err != nil {
			a.authFailure(c, page, problemFor(err))
			return
		}
		// A token in the query of a page sets the cookie and redirects to
		// the URL without it; the API uses it for this request only (no
		// cookie: a link must not sign a browser in behind a JSON answer).
		if fromQuery && page {
			http.SetCookie(c.Writer, &http.Cookie{Name: reportCookie, Value: token, Path: "/", MaxAge: reportCookieMaxAge,
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil})
			u := *c.Request.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			c.Header("Referrer-Policy", "no-referrer")
			c.Redirect(http.StatusSeeOther, u.RequestURI())
			c.Abort()
			return
		}
		c.Next()
	}
}

func (a *api) authFailure(c *gin.Context, page bool, p *Problem) {
	if !page {
		writeProblem(c, p)
		c.Abort()
		return
	}
	if p.Status == 0 {
		p.Status = http.StatusUnauthorized
	}
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="promolift"`)
	}
	a.renderPage(c, p.Status, "error", errorPage{Title: http.StatusText(p.Status), Detail: p.Detail, Login: p.Status == http.StatusUnauthorized})
	c.Abort()
}

type errorPage struct {
	CSS    template.CSS
	Title  string
	Detail string
	Login  bool
}

// pageHeaders keep the pages self-contained: nothing but inline styles and
// SVG is allowed to load.
func pageHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-store")
}

func (a *api) renderPage(c *gin.Context, status int, name string, data any) {
	b, err := executePage(name, data)
	if err != nil {
		a.log.Error("render page", "template", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("could not render the page"))
		return
	}
	pageHeaders(c)
	c.Data(status, "text/html; charset=utf-8", b)
}

// executePage renders the page template name with data and the pages' CSS.
func executePage(name string, data any) ([]byte, error) {
	switch d := data.(type) {
	case errorPage:
		d.CSS = reportCSS
		data = d
	case *reportPageData:
		d.CSS = reportCSS
	case *indexPageData:
		d.CSS = reportCSS
	}
	var b bytes.Buffer
	if err := reportTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// loadReport reads the options of the query and answers the report's
// snapshot (package reportsnap), answering 404 for experiments of another
// environment.
func (a *api) loadReport(c *gin.Context) (*reportsnap.Snapshot, error) {
	opts := experiments.ReportOptions{}
	switch m := c.Query("multiple_exposure"); m {
	case "", "exclude":
		opts.MultipleExposure = experiments.MultipleExclude
	case "first":
		opts.MultipleExposure = experiments.MultipleFirst
	default:
		return nil, badRequest("multiple_exposure", "invalid_multiple_exposure", "multiple_exposure must be exclude or first")
	}
	// An experiment of another environment was answered like a missing one
	// by checkEnvironment (rule EnvExperiment).
	exp, err := a.svc.LiveExperiment(c.Request.Context(), c.Param("key"))
	if err != nil {
		return nil, err
	}
	return a.reports.Snapshot(c.Request.Context(), exp, opts)
}

func (a *api) getReport(c *gin.Context) {
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "csv" {
		abortProblem(c, badRequest("format", "invalid_format", "format must be json or csv"))
		return
	}
	snap, err := a.loadReport(c)
	if err != nil {
		abortProblem(c, err)
		return
	}
	// A client that has this snapshot's answer gets 304 (the snapshot
	// never changes; a refresh is a new one).
	r := snap.Report
	etag := fmt.Sprintf(`"%s-%s-%d-%d-%s"`, url.PathEscape(r.Experiment.Key), r.MultipleExposure, r.Experiment.Revision,
		r.GeneratedAt.UnixNano(), format)
	c.Header("ETag", etag)
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return
	}
	// The encodings are kept with the snapshot: a read encodes nothing.
	if format == "csv" {
		b, err := snap.Bytes("csv", ReportCSV)
		if err != nil {
			abortProblem(c, err)
			return
		}
		c.Header("Content-Disposition", `attachment; filename="`+snap.Report.Experiment.Key+`-report.csv"`)
		c.Data(http.StatusOK, "text/csv; charset=utf-8", b)
		return
	}
	b, err := snap.Bytes("json", func(r *experiments.Report) ([]byte, error) { return marshal(NewReportResponse(r)) })
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

// ---- JSON ----

// ReportResponse is the JSON report. analysis is exactly the output of
// `promolift analyze` on analyze_input.
type ReportResponse struct {
	Experiment            ReportExperimentDTO      `json:"experiment"`
	GeneratedAt           time.Time                `json:"generated_at"`
	AsOf                  string                   `json:"as_of"`
	MultipleExposure      string                   `json:"multiple_exposure"`
	Currency              string                   `json:"currency"`
	Currencies            []string                 `json:"currencies"`
	ConversionsByChannel  []ChannelCreditDTO       `json:"conversions_by_channel"`
	CurrencyTotals        []CurrencyTotalDTO       `json:"currency_totals"`
	Treatment             string                   `json:"treatment"`
	Headline              HeadlineDTO              `json:"headline"`
	Decision              DecisionDTO              `json:"decision"`
	Variants              []VariantSummaryDTO      `json:"variants"`
	Analysis              stats.AnalyzeOutput      `json:"analysis"`
	NetIncrementalRevenue *IntervalDTO             `json:"net_incremental_revenue"`
	MultipleExposedUnits  int64                    `json:"multiple_exposed_units"`
	Breakdowns            []BreakdownDTO           `json:"breakdowns"`
	HourChannel           *BreakdownDTO            `json:"hour_channel"`
	Series                []SeriesPointDTO         `json:"series"`
	Cohorts               CohortTableDTO           `json:"cohorts"`
	Spend                 []VariantSpendDTO        `json:"spend"`
	CappedUnits           *int64                   `json:"capped_units"`
	ArmROI                []stats.ROIOutput        `json:"arm_roi"`
	PersonalizationValue  *PersonalizationValueDTO `json:"personalization_value"`
	OrderValues           []OrderValueDTO          `json:"order_values"`
	OrderValueAnalysis    *stats.AnalyzeOutput     `json:"order_value_analysis"`
	OrderValueInput       *stats.AnalyzeInput      `json:"order_value_analyze_input"`
	Bandit                *BanditDTO               `json:"bandit"`
	Warnings              []string                 `json:"warnings"`
	AnalyzeInput          stats.AnalyzeInput       `json:"analyze_input"`
}

// OrderValueDTO is one variant's median (quantile 0.5) or p90 (0.9) order
// value of the primary metric: the sample quantile of its orders' values
// (revenue net of refunds, minor units of currency) with its 95% CI, two
// order values around it (docs/report.md, "Order value"). Its analysis is
// the quantile metric named metric in order_value_analysis.
type OrderValueDTO struct {
	Metric   string     `json:"metric"`
	Quantile float64    `json:"quantile"`
	Variant  string     `json:"variant"`
	Orders   int64      `json:"orders"`
	Value    float64    `json:"value"`
	CI       [2]float64 `json:"ci"`
	Currency string     `json:"currency"`
}

// ChannelCreditDTO are the attributed conversions of one variant and
// metric credited to channel: each conversion to its own channel, else to
// its unit's first-exposure channel, else "(none)" (docs/report.md,
// "Channel"); revenue in minor units (0 with several currencies).
type ChannelCreditDTO struct {
	Channel     string  `json:"channel"`
	Variant     string  `json:"variant"`
	Metric      string  `json:"metric"`
	Conversions int64   `json:"conversions"`
	Revenue     float64 `json:"revenue"`
}

// HeadlineChannels are the headline metric's conversions by credited
// channel.
func (r *ReportResponse) HeadlineChannels() []ChannelCreditDTO {
	var out []ChannelCreditDTO
	for _, c := range r.ConversionsByChannel {
		if c.Metric == r.Headline.Metric {
			out = append(out, c)
		}
	}
	return out
}

// CurrencyTotalDTO is the money of the analysed units of one variant whose
// conversions named metric carry currency ("*": several, "": none), in
// minor units; a report's currency_totals lists them when its conversions
// carry more than one currency (null otherwise).
type CurrencyTotalDTO struct {
	Variant  string  `json:"variant"`
	Metric   string  `json:"metric"`
	Currency string  `json:"currency"`
	Units    int64   `json:"units"`
	Revenue  float64 `json:"revenue"`
	Cost     float64 `json:"cost"`
}

// ReportExperimentDTO is the experiment a report is about.
type ReportExperimentDTO struct {
	Key              string     `json:"key"`
	Name             string     `json:"name"`
	Hypothesis       string     `json:"hypothesis"`
	Status           string     `json:"status"`
	Environment      string     `json:"environment"`
	PrimaryMetric    string     `json:"primary_metric"`
	SecondaryMetrics []string   `json:"secondary_metrics"`
	GuardrailMetrics []string   `json:"guardrail_metrics"`
	Segments         []string   `json:"segments"`
	Engine           string     `json:"engine"`
	Personalization  bool       `json:"personalization"`
	MinROI           float64    `json:"min_roi"`
	StartedAt        *time.Time `json:"started_at"`
	EndedAt          *time.Time `json:"ended_at"`
}

// HeadlineDTO is the primary metric's relative lift of the treatment with
// the engine's interval of it and relative_p_value, the p-value that
// belongs to that interval (null for the sequential engine). p_value and
// adjusted_p_value are those of the engine's test of the difference, the
// test the decision uses.
type HeadlineDTO struct {
	Metric         string      `json:"metric"`
	Variant        string      `json:"variant"`
	Lift           *float64    `json:"lift"`
	CI             *[2]float64 `json:"ci"`
	RelativePValue *float64    `json:"relative_p_value"`
	PValue         float64     `json:"p_value"`
	AdjustedPValue float64     `json:"adjusted_p_value"`
	Significant    bool        `json:"significant"`
	Error          *string     `json:"error"`
}

// DecisionDTO is the recommendation: action ship, keep_running or stop.
type DecisionDTO struct {
	Action     string   `json:"action"`
	Code       string   `json:"code"`
	Reason     string   `json:"reason"`
	Details    []string `json:"details"`
	Variant    string   `json:"variant"`
	DaysNeeded int      `json:"days_needed"`
}

// VariantSummaryDTO are one variant's counts; money in minor units.
type VariantSummaryDTO struct {
	Key                string  `json:"key"`
	Weight             float64 `json:"weight"`
	PromotionType      string  `json:"promotion_type"`
	Units              int64   `json:"units"`
	Exposures          int64   `json:"exposures"`
	Converted          int64   `json:"converted"`
	Conversions        float64 `json:"conversions"`
	ConversionRate     float64 `json:"conversion_rate"`
	Revenue            float64 `json:"revenue"`
	RevenuePerCustomer float64 `json:"revenue_per_customer"`
	AverageOrderValue  float64 `json:"average_order_value"`
	PromotionCost      float64 `json:"promotion_cost"`
	Redemptions        float64 `json:"redemptions"`
	MultipleExposed    int64   `json:"multiple_exposed"`
}

// IntervalDTO is an estimate with its CI.
type IntervalDTO struct {
	Estimate float64    `json:"estimate"`
	CI       [2]float64 `json:"ci"`
}

// BreakdownDTO is one dimension's slices.
type BreakdownDTO struct {
	Dimension string     `json:"dimension"`
	Truncated int        `json:"truncated"`
	Slices    []SliceDTO `json:"slices"`
}

// SliceDTO is one slice: counts and comparisons whose adjusted_p_value is
// Holm-corrected across the dimension's slices.
type SliceDTO struct {
	Slice       string               `json:"slice"`
	Units       int64                `json:"units"`
	Variants    []VariantSummaryDTO  `json:"variants"`
	Comparisons []SliceComparisonDTO `json:"comparisons"`
}

// SliceComparisonDTO is one metric × variant of a slice: p_value is the
// p-value of the difference in absolute (the decision test),
// relative_p_value the one that belongs to the relative interval (null for
// the sequential engine).
type SliceComparisonDTO struct {
	Metric         string       `json:"metric"`
	Variant        string       `json:"variant"`
	Absolute       IntervalDTO  `json:"absolute"`
	Relative       *IntervalDTO `json:"relative"`
	RelativePValue *float64     `json:"relative_p_value"`
	PValue         float64      `json:"p_value"`
	AdjustedPValue float64      `json:"adjusted_p_value"`
	Significant    bool         `json:"significant"`
	Error          string       `json:"error,omitempty"`
}

// SeriesPointDTO is the cumulative primary lift at the end of a day.
type SeriesPointDTO struct {
	Date  string          `json:"date"`
	Until time.Time       `json:"until"`
	Units int64           `json:"units"`
	Lifts []SeriesLiftDTO `json:"lifts"`
}

// SeriesLiftDTO is one variant's cumulative lift; valid is false while it
// cannot be computed (error says why).
type SeriesLiftDTO struct {
	Variant  string     `json:"variant"`
	Valid    bool       `json:"valid"`
	Estimate float64    `json:"estimate"`
	CI       [2]float64 `json:"ci"`
	PValue   float64    `json:"p_value"`
	Error    string     `json:"error,omitempty"`
}

// VariantSpendDTO is one variant's promotion spend against its budget in
// minor units (budget null: no budget). spend and capped_units are null
// when the store does not track customers' rights.
type VariantSpendDTO struct {
	Variant         string `json:"variant"`
	Spent           int64  `json:"spent"`
	Budget          *int64 `json:"budget"`
	BudgetExhausted bool   `json:"budget_exhausted"`
}

// PersonalizationValueDTO is the incremental revenue of the
// personalization policy over the best single promotion for everyone:
// (revenue_per_unit − generic_revenue_per_unit) × units, with the Welch CI
// of the difference scaled by units. arm_roi and personalization_value
// are null outside personalization experiments.
type PersonalizationValueDTO struct {
	Personalized          string      `json:"personalized"`
	BestGeneric           string      `json:"best_generic"`
	Metric                string      `json:"metric"`
	RevenuePerUnit        float64     `json:"revenue_per_unit"`
	GenericRevenuePerUnit float64     `json:"generic_revenue_per_unit"`
	Units                 float64     `json:"units"`
	Difference            IntervalDTO `json:"difference"`
	Value                 IntervalDTO `json:"value"`
	Error                 string      `json:"error,omitempty"`
}

// CohortTableDTO is the repurchase cohort table (available false when the
// store cannot compute it).
type CohortTableDTO struct {
	Available bool           `json:"available"`
	Note      string         `json:"note,omitempty"`
	Rows      []CohortRowDTO `json:"rows"`
}

// CohortRowDTO is one variant × week after first exposure.
type CohortRowDTO struct {
	Variant      string  `json:"variant"`
	Week         int     `json:"week"`
	Units        int64   `json:"units"`
	Repurchasers int64   `json:"repurchasers"`
	Rate         float64 `json:"rate"`
}

func reportTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func reportStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func variantDTOs(vs []experiments.VariantSummary) []VariantSummaryDTO {
	out := make([]VariantSummaryDTO, len(vs))
	for i, v := range vs {
		out[i] = VariantSummaryDTO{Key: v.Key, Weight: v.Weight, PromotionType: string(v.PromotionType), Units: v.Units,
			Exposures: v.Exposures, Converted: v.Converted, Conversions: v.Conversions, ConversionRate: v.ConversionRate,
			Revenue: v.Revenue, RevenuePerCustomer: v.RevenuePerCustomer, AverageOrderValue: v.AverageOrderValue,
			PromotionCost: v.PromotionCost, Redemptions: v.Redemptions, MultipleExposed: v.MultipleExposed}
	}
	return out
}

// primaryComparison returns the report's primary metric output and the
// comparison of its treatment.
func primaryComparison(r *experiments.Report) (*stats.MetricOutput, *stats.ComparisonOutput) {
	for i := range r.Analysis.Metrics {
		m := &r.Analysis.Metrics[i]
		if m.Role != "primary" {
			continue
		}
		for j := range m.Comparisons {
			if m.Comparisons[j].Variant == r.Treatment {
				return m, &m.Comparisons[j]
			}
		}
		return m, nil
	}
	return nil, nil
}

func headline(r *experiments.Report) HeadlineDTO {
	m, c := primaryComparison(r)
	h := HeadlineDTO{Variant: r.Treatment, PValue: 1, AdjustedPValue: 1}
	if m != nil {
		h.Metric = m.Key
	}
	if c == nil {
		return h
	}
	h.PValue, h.AdjustedPValue, h.Significant, h.Error = c.Absolute.PValue, c.AdjustedPValue, c.Significant, c.Error
	if c.Sequential != nil {
		h.PValue = c.Sequential.PValue
	}
	if rel, p := experiments.RelativeLift(c); rel != nil {
		h.Lift, h.CI, h.RelativePValue = &rel.Estimate, &rel.CI, p
	}
	return h
}

// NewReportResponse converts a report to its JSON document.
func NewReportResponse(r *experiments.Report) ReportResponse {
	e := r.Experiment
	resp := ReportResponse{
		Experiment: ReportExperimentDTO{Key: e.Key, Name: e.Name, Hypothesis: e.Hypothesis, Status: string(e.Status),
			Environment: e.Environment, PrimaryMetric: e.PrimaryMetric, SecondaryMetrics: reportStrings(e.SecondaryMetrics),
			GuardrailMetrics: reportStrings(e.GuardrailMetrics), Segments: reportStrings(e.Segments), Engine: e.Engine,
			Personalization: e.Personalization, MinROI: e.MinROI, StartedAt: reportTime(e.StartedAt), EndedAt: reportTime(e.EndedAt)},
		GeneratedAt: r.GeneratedAt.UTC(), AsOf: r.GeneratedAt.UTC().Format(time.RFC3339), MultipleExposure: string(r.MultipleExposure), Currency: r.Currency,
		Treatment: r.Treatment, Headline: headline(r),
		Decision: DecisionDTO{Action: r.Decision.Action, Code: r.Decision.Code, Reason: r.Decision.Reason,
			Details: reportStrings(r.Decision.Details), Variant: r.Decision.Variant, DaysNeeded: r.Decision.DaysNeeded},
		Variants: variantDTOs(r.Variants), Analysis: r.Analysis, MultipleExposedUnits: r.MultipleExposed,
		Breakdowns: []BreakdownDTO{}, Series: []SeriesPointDTO{}, Warnings: reportStrings(r.Warnings), AnalyzeInput: r.AnalyzeInput(),
		Cohorts: CohortTableDTO{Available: r.Cohorts.Available, Note: r.Cohorts.Note, Rows: []CohortRowDTO{}},
	}
	resp.Currencies = reportStrings(r.Currencies)
	resp.ConversionsByChannel = []ChannelCreditDTO{}
	for _, c := range r.ChannelCredit {
		resp.ConversionsByChannel = append(resp.ConversionsByChannel, ChannelCreditDTO(c))
	}
	for _, c := range r.CurrencyTotals {
		resp.CurrencyTotals = append(resp.CurrencyTotals, CurrencyTotalDTO(c))
	}
	if r.Spend != nil {
		resp.Spend = make([]VariantSpendDTO, 0, len(r.Spend))
		for _, b := range r.Spend {
			d := VariantSpendDTO{Variant: b.Variant, Spent: b.Spent, BudgetExhausted: b.Exhausted}
			if b.Budget > 0 {
				budget := b.Budget
				d.Budget = &budget
			}
			resp.Spend = append(resp.Spend, d)
		}
	}
	resp.CappedUnits = r.CappedUnits
	resp.OrderValues = []OrderValueDTO{}
	resp.OrderValueAnalysis, resp.OrderValueInput = r.OrderValueAnalysis, r.OrderValueInput()
	for _, o := range r.OrderValues {
		resp.OrderValues = append(resp.OrderValues, OrderValueDTO{Metric: o.Metric, Quantile: o.Quantile, Variant: o.Variant,
			Orders: o.Orders, Value: o.Value, CI: [2]float64{o.Lower, o.Upper}, Currency: r.MetricCurrency(o.Metric)})
	}
	resp.ArmROI = r.ArmROI
	if pv := r.PersonalizationValue; pv != nil {
		resp.PersonalizationValue = &PersonalizationValueDTO{Personalized: pv.Personalized, BestGeneric: pv.BestGeneric,
			Metric: pv.Metric, RevenuePerUnit: pv.RevenuePerUnit, GenericRevenuePerUnit: pv.GenericRevenuePerUnit,
			Units: pv.Units, Difference: IntervalDTO(pv.Difference), Value: IntervalDTO(pv.Value), Error: pv.Error}
	}
	if n := r.NetIncrementalRevenue; n != nil {
		resp.NetIncrementalRevenue = &IntervalDTO{Estimate: n.Estimate, CI: n.CI}
	}
	resp.Bandit = banditDTO(r.Bandit) // banditpage.go
	for i := range r.Breakdowns {
		resp.Breakdowns = append(resp.Breakdowns, breakdownDTO(&r.Breakdowns[i]))
	}
	if r.HourChannel != nil {
		hc := breakdownDTO(r.HourChannel)
		resp.HourChannel = &hc
	}
	for _, p := range r.Series {
		pd := SeriesPointDTO{Date: p.Date.UTC().Format("2006-01-02"), Until: p.Until.UTC(), Units: p.Units, Lifts: []SeriesLiftDTO{}}
		for _, l := range p.Lifts {
			pd.Lifts = append(pd.Lifts, SeriesLiftDTO{Variant: l.Variant, Valid: l.Valid, Estimate: l.Estimate, CI: l.CI, PValue: l.PValue, Error: l.Error})
		}
		resp.Series = append(resp.Series, pd)
	}
	for _, c := range r.Cohorts.Rows {
		resp.Cohorts.Rows = append(resp.Cohorts.Rows, CohortRowDTO(c))
	}
	return resp
}

// breakdownDTO converts one dimension's breakdown.
func breakdownDTO(b *experiments.Breakdown) BreakdownDTO {
	bd := BreakdownDTO{Dimension: b.Dimension, Truncated: b.Truncated, Slices: []SliceDTO{}}
	for _, s := range b.Slices {
		sd := SliceDTO{Slice: s.Slice, Units: s.Units, Variants: variantDTOs(s.Variants), Comparisons: []SliceComparisonDTO{}}
		for _, c := range s.Comparisons {
			cd := SliceComparisonDTO{Metric: c.Metric, Variant: c.Variant, Absolute: IntervalDTO(c.Absolute),
				RelativePValue: c.RelativePValue, PValue: c.PValue, AdjustedPValue: c.AdjustedPValue,
				Significant: c.Significant, Error: c.Error}
			if c.Relative != nil {
				rel := IntervalDTO(*c.Relative)
				cd.Relative = &rel
			}
			sd.Comparisons = append(sd.Comparisons, cd)
		}
		bd.Slices = append(bd.Slices, sd)
	}
	return bd
}

// ---- CSV ----

// ReportCSVColumns are the columns of the CSV report, one row per metric ×
// variant × slice. dimension and slice are "all" for the whole experiment.
// Arm columns (units, sum, mean) describe the row's variant; comparison
// columns (abs_*, rel_*, p_value, adjusted_p_value, significant, error)
// compare it with control and are empty on the control's rows. p_value is
// the p-value of the engine's test of the difference abs_* (the decision
// test); rel_p_value is the p-value that belongs to the relative interval
// rel_* (the always-valid one for the sequential engine); adjusted_p_value is
// p_value corrected across metrics and variants (Holm, the analysis'
// correction) for dimension "all", and across the dimension's slices
// (Holm) for breakdown rows. currency is the currency of the money in sum,
// mean, control_mean and abs_* on rows of revenue metrics (empty on others).
// The columns after currency were added with issue 21: lower_is_better;
// direction (better, worse or none); the power reached against the
// decision MDE and the days still needed; and for a post-stratified metric
// (RFM segment at first exposure) its variance_reduction and the
// unstratified difference unstrat_abs_* beside the post-stratified abs_*.
var ReportCSVColumns = []string{"dimension", "slice", "metric", "metric_type", "role", "variant", "is_control",
	"units", "sum", "mean", "control_mean", "abs_estimate", "abs_ci_low", "abs_ci_high",
	"rel_estimate", "rel_ci_low", "rel_ci_high", "rel_p_value", "p_value", "adjusted_p_value", "significant", "error", "currency",
	"lower_is_better", "direction", "power", "days_needed", "variance_reduction", "unstrat_abs_estimate", "unstrat_abs_ci_low", "unstrat_abs_ci_high"}

// depthColumns are the issue-21 columns of a comparison row (empty values
// where they do not apply).
func depthColumns(m *stats.MetricOutput, c *stats.ComparisonOutput) []string {
	row := []string{strconv.FormatBool(m.LowerIsBetter), "", "", "", "", "", "", ""}
	if c == nil {
		return row
	}
	row[1] = c.Direction
	if pw := c.Power; pw != nil && pw.Error == nil {
		row[2] = fnum(pw.Power)
		if pw.DaysNeeded != nil {
			row[3] = fnum(*pw.DaysNeeded)
		}
	}
	if ps, u := c.PostStratification, c.Unstratified; ps != nil && u != nil {
		row[4] = fnum(ps.VarianceReduction)
		row[5], row[6], row[7] = fnum(u.Absolute.Estimate), fnum(u.Absolute.CI[0]), fnum(u.Absolute.CI[1])
	}
	return row
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// csvTextColumns are the columns of ReportCSVColumns holding text (names
// sent by SDKs and admins), as opposed to numbers and booleans.
var csvTextColumns = func() map[int]bool {
	text := map[string]bool{"dimension": true, "slice": true, "metric": true, "metric_type": true, "role": true,
		"variant": true, "error": true, "currency": true, "direction": true}
	m := map[int]bool{}
	for i, name := range ReportCSVColumns {
		m[i] = text[name]
	}
	return m
}()

// neutralizeCSVText keeps a spreadsheet from reading a text cell as a
// formula (OWASP's CSV injection rule): a text cell beginning with = + - @,
// a tab or a carriage return gets a leading apostrophe. Numbers stay
// numbers: only the text columns are touched.
func neutralizeCSVText(row []string) []string {
	for i, v := range row {
		if csvTextColumns[i] && v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			row[i] = "'" + v
		}
	}
	return row
}

// ReportCSV writes the CSV report.
func ReportCSV(r *experiments.Report) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(ReportCSVColumns); err != nil {
		return nil, err
	}
	write := func(dim, slice string, out *stats.AnalyzeOutput, adjusted map[string]*experiments.SliceComparison) error {
		for _, m := range out.Metrics {
			ctrlMean := ""
			for _, a := range m.Arms {
				if a.Variant == out.Control {
					ctrlMean = fnum(a.Mean)
				}
			}
			for _, a := range m.Arms {
				row := []string{dim, slice, m.Key, m.Type, m.Role, a.Variant, strconv.FormatBool(a.Variant == out.Control),
					fnum(a.Units), fnum(a.Sum), fnum(a.Mean), ctrlMean}
				var c *stats.ComparisonOutput
				for i := range m.Comparisons {
					if m.Comparisons[i].Variant == a.Variant {
						c = &m.Comparisons[i]
					}
				}
				if c == nil {
					row = append(row, "", "", "", "", "", "", "", "", "", "", "")
				} else {
					p, adj, sig := c.Absolute.PValue, c.AdjustedPValue, c.Significant
					if c.Sequential != nil {
						p = c.Sequential.PValue
					}
					if sc := adjusted[m.Key+"\x00"+a.Variant]; sc != nil {
						p, adj, sig = sc.PValue, sc.AdjustedPValue, sc.Significant
					}
					row = append(row, fnum(c.Absolute.Estimate), fnum(c.Absolute.CI[0]), fnum(c.Absolute.CI[1]))
					rel, relP := experiments.RelativeLift(c)
					if rel != nil {
						row = append(row, fnum(rel.Estimate), fnum(rel.CI[0]), fnum(rel.CI[1]))
					} else {
						row = append(row, "", "", "")
					}
					if relP != nil {
						row = append(row, fnum(*relP))
					} else {
						row = append(row, "")
					}
					e := ""
					if c.Error != nil {
						e = *c.Error
					}
					row = append(row, fnum(p), fnum(adj), strconv.FormatBool(sig), e)
				}
				row = append(row, r.MetricCurrency(m.Key))
				row = append(row, depthColumns(&m, c)...)
				if err := w.Write(neutralizeCSVText(row)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := write("all", "all", &r.Analysis, nil); err != nil {
		return nil, err
	}
	if ova := r.OrderValueAnalysis; ova != nil {
		if err := write("all", "all", ova, nil); err != nil {
			return nil, err
		}
	}
	for _, bd := range r.Breakdowns {
		for i := range bd.Slices {
			s := &bd.Slices[i]
			adj := map[string]*experiments.SliceComparison{}
			for j := range s.Comparisons {
				adj[s.Comparisons[j].Metric+"\x00"+s.Comparisons[j].Variant] = &s.Comparisons[j]
			}
			if err := write(bd.Dimension, s.Slice, &s.Analysis, adj); err != nil {
				return nil, err
			}
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// ---- HTML ----

type indexPageData struct {
	CSS         template.CSS
	Experiments []*experiments.Experiment
}

func (a *api) reportIndexPage(c *gin.Context) {
	p := who(c)
	list, err := a.svc.ListExperiments(c.Request.Context(), experiments.ExperimentFilter{Environment: p.Environment})
	if err != nil {
		a.log.Error("list experiments", "err", err)
		a.renderPage(c, http.StatusInternalServerError, "error", errorPage{Title: "Error", Detail: "could not list the experiments"})
		return
	}
	a.renderPage(c, http.StatusOK, "index", &indexPageData{Experiments: list})
}

// reportPageData is what report.html.tmpl renders.
type reportPageData struct {
	CSS      template.CSS
	R        ReportResponse
	Decision DecisionDTO
	Headline string
	LiftCI   string
	Money    func(float64) string
	// Charts.
	RateBars template.HTML
	Forest   template.HTML
	Lift     []liftChart
	// Tables.
	Metrics     []metricRow
	OrderValues []orderValueRow
	Breakdowns  []breakdownTable
	// HourChannel is the hour × channel heatmap (nil without data).
	HourChannel *heatmapView
	// Channels are the headline metric's conversions by credited channel.
	Channels  []ChannelCreditDTO
	Cohorts   *cohortView
	ROI       *roiView
	ArmROI    []roiView
	Pers      *persView
	Policy    *policyView
	Bandit    *banditView // banditpage.go
	CSVURL    string
	JSONURL   string
	OtherMode string
	OtherURL  string
}

type liftChart struct {
	Variant string
	SVG     template.HTML
	// Days counts the days with a lift; Note says when they are too few
	// for a trend.
	Days int
	Note string
}

// orderValueRow is a row of the page's "Order value: median and p90"
// table: one variant's quantile with its CI and, for a treatment, its
// relative lift over control.
type orderValueRow struct {
	Quantile, Variant, Value, CI, Lift, LiftCI string
	Orders                                     int64
	Significant                                bool
}

type metricRow struct {
	Metric, Role, Variant, Control, Treat, Lift, CI, RelP, P, AdjP string
	Significant                                                    bool
	Error                                                          string
	// CUPED notes the regression adjustment when it was applied; Strata
	// the post-stratification by RFM segment; Power the power reached
	// against the decision MDE and the days still needed.
	CUPED, Strata, Power string
}

// depthNotes are the report page's notes on a comparison: post-
// stratification (strata, variance change, the unstratified lift) and the
// power reached against the decision MDE with the days still needed.
func depthNotes(c *stats.ComparisonOutput) (strata, power string) {
	if ps := c.PostStratification; ps != nil {
		strata = fmt.Sprintf("post-stratified by %d RFM segments, variance −%.1f%%", ps.Strata, 100*ps.VarianceReduction)
		if u := c.Unstratified; u != nil && u.Relative != nil {
			strata += fmt.Sprintf("; unstratified lift %+.1f%%", 100*u.Relative.Estimate)
		}
	}
	if pw := c.Power; pw != nil && pw.Error == nil {
		power = fmt.Sprintf("power %.0f%% for a %.0f%% lift", 100*pw.Power, 100*pw.MDERelative)
		switch d := pw.DaysNeeded; {
		case d == nil:
		case *d == 0:
			power += ", reached"
		default:
			power += fmt.Sprintf(", %.0f more days", math.Ceil(*d))
		}
	}
	return strata, power
}

// cohortView is the repurchase cohort table: one row per variant, one
// column per week; a cell is empty when no unit has completed the week.
type cohortView struct {
	Weeks []int
	Rows  []cohortViewRow
}

type cohortViewRow struct {
	Variant string
	Cells   []cohortCell
}

type cohortCell struct {
	Rate, Title string
}

// buildCohorts lays the cohort rows out as a variant × week table.
func buildCohorts(c CohortTableDTO) *cohortView {
	if !c.Available || len(c.Rows) == 0 {
		return nil
	}
	maxWeek := 0
	var variants []string
	cells := map[string]map[int]CohortRowDTO{}
	for _, r := range c.Rows {
		if cells[r.Variant] == nil {
			cells[r.Variant] = map[int]CohortRowDTO{}
			variants = append(variants, r.Variant)
		}
		cells[r.Variant][r.Week] = r
		maxWeek = max(maxWeek, r.Week)
	}
	v := &cohortView{}
	for w := 1; w <= maxWeek; w++ {
		v.Weeks = append(v.Weeks, w)
	}
	for _, name := range variants {
		row := cohortViewRow{Variant: name}
		for _, w := range v.Weeks {
			cell := cohortCell{Rate: "—", Title: "no unit has completed this week yet"}
			if r, ok := cells[name][w]; ok {
				cell = cohortCell{Rate: strconv.FormatFloat(100*r.Rate, 'f', 1, 64) + "%",
					Title: fmt.Sprintf("%d of %d units", r.Repurchasers, r.Units)}
			}
			row.Cells = append(row.Cells, cell)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

type breakdownTable struct {
	Dimension string
	Truncated int
	Heat      heatmapView
	Rows      []breakdownRow
}

type breakdownRow struct {
	Slice, Variant, Units, Rate, Lift, CI, RelP, P, AdjP string
	Significant                                          bool
}

type roiView struct {
	Variant, ROI, CI, Incremental, IncrementalCI, Cost, Net, NetCI, Error string
}

type persView struct {
	Personalized, Generic, Metric, Lift, CI, Error string
}

func (a *api) reportPage(c *gin.Context) {
	snap, err := a.loadReport(c)
	if err != nil {
		p := problemFor(err)
		if p.Status >= 500 {
			c.Set(ctxErr, err)
		}
		a.renderPage(c, p.Status, "error", errorPage{Title: http.StatusText(p.Status), Detail: p.Detail})
		return
	}
	// The page, with its policy section (policypage.go), is rendered once
	// per snapshot like the JSON and CSV: learning the policy reads every
	// unit, which a page read must not repeat. The snapshot is kept per
	// multiple_exposure mode, the one query value the page depends on.
	page, err := snap.Bytes("html", func(r *experiments.Report) ([]byte, error) {
		d := buildPage(r, c.Request.URL)
		// Kept with the snapshot for every later reader: the first
		// reader's going away must not cut it short.
		ctx := context.WithoutCancel(c.Request.Context())
		d.Policy = a.policySection(ctx, c.GetString(ctxRequestID), r.Experiment.Key, d.Money)
		return executePage("report", d)
	})
	if err != nil {
		a.log.Error("render page", "template", "report", "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("could not render the page"))
		return
	}
	pageHeaders(c)
	c.Data(http.StatusOK, "text/html; charset=utf-8", page)
}

// moneyFormatter formats minor units in the currency's major unit; with
// several currencies (mixed) money is not shown: "—".
func moneyFormatter(cur string, mixed bool) func(float64) string {
	if mixed {
		return func(float64) string { return "—" }
	}
	digits, ok := experiments.MinorUnits(cur)
	if !ok {
		// No currency known: say what the number is rather than show a
		// bare amount.
		return func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + " (minor units, currency not set)" }
	}
	return func(v float64) string {
		return strconv.FormatFloat(v/math.Pow10(digits), 'f', digits, 64) + " " + cur
	}
}

// Money formats minor units of cur in its major unit with the currency
// ("305.00 USD"), as the report pages do.
func Money(cur string) func(float64) string { return moneyFormatter(cur, false) }

func buildPage(r *experiments.Report, u *url.URL) *reportPageData {
	resp := NewReportResponse(r)
	money := moneyFormatter(r.Currency, len(r.Currencies) > 1 || r.CurrencyTotals != nil)
	d := &reportPageData{R: resp, Decision: resp.Decision, Money: money}
	d.Bandit = banditPage(resp.Bandit, money)
	h := resp.Headline
	if h.Lift != nil {
		d.Headline = fmt.Sprintf("%s on %s: %s%s", h.Variant, h.Metric, signed(*h.Lift), "")
		d.LiftCI = fmt.Sprintf("95%% CI [%s, %s]%s; test of the difference (the decision's): p = %s, adjusted p = %s",
			signed(h.CI[0]), signed(h.CI[1]), relPText(h.RelativePValue), pvalText(h.PValue), pvalText(h.AdjustedPValue))
		if a := resp.Analysis.Alpha; a > 0 && a != 0.05 {
			d.LiftCI = strings.Replace(d.LiftCI, "95%", strconv.FormatFloat(100*(1-a), 'g', 4, 64)+"%", 1)
		}
	} else {
		d.Headline = fmt.Sprintf("%s on %s: lift not available yet", h.Variant, h.Metric)
		if h.Error != nil {
			d.LiftCI = "(" + plainCode(*h.Error) + ")"
		}
	}
	q := url.Values{}
	if m := u.Query().Get("multiple_exposure"); m != "" {
		q.Set("multiple_exposure", m)
	}
	base := "/api/v1/experiments/" + url.PathEscape(r.Experiment.Key) + "/report"
	d.JSONURL = base + "?" + q.Encode()
	q.Set("format", "csv")
	d.CSVURL = base + "?" + q.Encode()
	if r.MultipleExposure == experiments.MultipleFirst {
		d.OtherMode, d.OtherURL = "exclude multiple-exposure units", "?multiple_exposure=exclude"
	} else {
		d.OtherMode, d.OtherURL = "count multiple-exposure units in their first variant", "?multiple_exposure=first"
	}
	d.RateBars = rateBars(resp.Variants)
	d.Forest = forestPlot(&resp.Analysis)
	for _, v := range r.Experiment.Variants[1:] {
		d.Lift = append(d.Lift, liftSeriesChart(resp.Series, v.Key))
	}
	for _, m := range resp.Analysis.Metrics {
		ctrl := ""
		for _, a := range m.Arms {
			if a.Variant == resp.Analysis.Control {
				ctrl = armText(m.Type, a.Mean, money)
			}
		}
		for _, cmp := range m.Comparisons {
			row := metricRow{Metric: m.Key, Role: m.Role, Variant: cmp.Variant, Control: ctrl, P: "—", AdjP: "—",
				Significant: cmp.Significant, Lift: "—", CI: "—"}
			for _, a := range m.Arms {
				if a.Variant == cmp.Variant {
					row.Treat = armText(m.Type, a.Mean, money)
				}
			}
			rel, relP := experiments.RelativeLift(&cmp)
			row.Lift, row.CI, row.RelP = liftTexts(rel, relP)
			if cmp.Error != nil {
				row.Error = plainCode(*cmp.Error)
			}
			p := cmp.Absolute.PValue
			if cmp.Sequential != nil {
				p = cmp.Sequential.PValue
			}
			row.P, row.AdjP = pvalText(p), pvalText(cmp.AdjustedPValue)
			if cu := cmp.CUPED; cu != nil && cu.Applied {
				row.CUPED = fmt.Sprintf("CUPED θ = %.3g, variance −%.1f%%", cu.Theta, 100*cu.VarianceReduction)
			}
			row.Strata, row.Power = depthNotes(&cmp)
			d.Metrics = append(d.Metrics, row)
		}
	}
	d.OrderValues = orderValueRows(&resp, money)
	d.HourChannel = hourChannelHeatmap(&resp)
	for _, b := range resp.Breakdowns {
		bt := breakdownTable{Dimension: b.Dimension, Truncated: b.Truncated, Heat: breakdownHeatmap(&resp, &b)}
		for _, s := range b.Slices {
			rates := map[string]VariantSummaryDTO{}
			for _, v := range s.Variants {
				rates[v.Key] = v
			}
			for _, cmp := range s.Comparisons {
				if cmp.Metric != resp.Experiment.PrimaryMetric && !(resp.Experiment.PrimaryMetric == "" && cmp.Metric == resp.Headline.Metric) {
					continue
				}
				v := rates[cmp.Variant]
				row := breakdownRow{Slice: s.Slice, Variant: cmp.Variant, Units: strconv.FormatInt(v.Units, 10),
					Rate: pct(v.ConversionRate) + " vs " + pct(rates[resp.Analysis.Control].ConversionRate),
					P:    pvalText(cmp.PValue), AdjP: pvalText(cmp.AdjustedPValue), Significant: cmp.Significant}
				var rel *experiments.Interval
				if cmp.Relative != nil {
					rel = &experiments.Interval{Estimate: cmp.Relative.Estimate, CI: cmp.Relative.CI}
				}
				row.Lift, row.CI, row.RelP = liftTexts(rel, cmp.RelativePValue)
				bt.Rows = append(bt.Rows, row)
			}
		}
		d.Breakdowns = append(d.Breakdowns, bt)
	}
	if roi := resp.Analysis.ROI; roi != nil {
		d.ROI = newROIView(&resp.Analysis, roi, money)
	}
	for i := range resp.ArmROI {
		d.ArmROI = append(d.ArmROI, *newROIView(&resp.Analysis, &resp.ArmROI[i], money))
	}
	if pl := resp.Analysis.PersonalizationLift; pl != nil {
		pv := &persView{Personalized: pl.Personalized, Generic: pl.Generic, Metric: pl.Metric, Lift: signed(pl.Estimate), CI: "—"}
		if pl.CI != nil {
			pv.CI = "[" + signed(pl.CI[0]) + ", " + signed(pl.CI[1]) + "]"
		}
		if pl.Error != nil {
			pv.Error, pv.Lift = plainCode(*pl.Error), "—"
		}
		d.Pers = pv
	}
	d.Cohorts = buildCohorts(resp.Cohorts)
	d.Channels = resp.HeadlineChannels()
	return d
}

// orderValueRows are the rows of the order-value table of resp.
func orderValueRows(resp *ReportResponse, money func(float64) string) []orderValueRow {
	var rows []orderValueRow
	for _, o := range resp.OrderValues {
		row := orderValueRow{Quantile: "p" + strconv.FormatFloat(100*o.Quantile, 'f', -1, 64), Variant: o.Variant,
			Orders: o.Orders, Value: "—", CI: "—"}
		if o.Quantile == 0.5 {
			row.Quantile = "median"
		}
		if o.Orders > 0 {
			row.Value, row.CI = money(o.Value), "["+money(o.CI[0])+", "+money(o.CI[1])+"]"
		}
		var metrics []stats.MetricOutput
		if resp.OrderValueAnalysis != nil {
			metrics = resp.OrderValueAnalysis.Metrics
		}
		for _, m := range metrics {
			for i := range m.Comparisons {
				if c := &m.Comparisons[i]; m.Key == o.Metric && c.Variant == o.Variant {
					rel, relP := experiments.RelativeLift(c)
					row.Lift, row.LiftCI, _ = liftTexts(rel, relP)
					row.Significant = c.Significant
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// newROIView shows roi; without an estimate of the incremental revenue
// (experiments.ROIEstimated) only its cost and error are shown.
func newROIView(out *stats.AnalyzeOutput, roi *stats.ROIOutput, money func(float64) string) *roiView {
	rv := &roiView{Variant: roi.Variant, Cost: money(roi.Cost), ROI: "—", CI: "—", Incremental: "—", Net: "—"}
	if experiments.ROIEstimated(out, roi) {
		rv.Incremental, rv.Net = money(roi.IncrementalRevenue), money(roi.Net)
		rv.IncrementalCI = "[" + money(roi.IncrementalCI[0]) + ", " + money(roi.IncrementalCI[1]) + "]"
		rv.NetCI = "[" + money(roi.IncrementalCI[0]-roi.Cost) + ", " + money(roi.IncrementalCI[1]-roi.Cost) + "]"
	}
	if roi.ROI != nil {
		rv.ROI = pct(*roi.ROI)
	}
	if roi.CI != nil {
		rv.CI = "[" + pct(roi.CI[0]) + ", " + pct(roi.CI[1]) + "]"
	}
	if roi.Error != nil {
		rv.Error = plainCode(*roi.Error)
	}
	return rv
}

// liftTexts are the lift, CI and p-value cells of a relative lift rel
// with the p-value relP of its interval, in the page's format.
func liftTexts(rel *experiments.Interval, relP *float64) (lift, ci, p string) {
	return LiftCells(rel, relP, signed)
}

// LiftCells are the lift, CI and p-value cells of a relative lift rel
// with the p-value relP of its interval, the lift and CI written by
// signed ("—" for what is missing).
func LiftCells(rel *experiments.Interval, relP *float64, signed func(float64) string) (lift, ci, p string) {
	lift, ci, p = "—", "—", "—"
	if rel != nil {
		lift = signed(rel.Estimate)
		ci = "[" + signed(rel.CI[0]) + ", " + signed(rel.CI[1]) + "]"
	}
	if relP != nil {
		p = pvalText(*relP)
	}
	return lift, ci, p
}

// relPText is ", p = …" for the p-value of a relative interval, or "" when
// the engine has none.
func relPText(p *float64) string {
	if p == nil {
		return ""
	}
	return ", p = " + pvalText(*p)
}

func pvalText(p float64) string { return strconv.FormatFloat(p, 'g', 3, 64) }

func signed(v float64) string {
	s := pct(v)
	if v >= 0 {
		s = "+" + s
	}
	return s
}

func armText(typ string, mean float64, money func(float64) string) string {
	if typ == "proportion" {
		return pct(mean)
	}
	return money(mean)
}

// rateBars is a bar chart of the primary conversion rate per variant.
func rateBars(vs []VariantSummaryDTO) template.HTML {
	const w, rowH, left, right = 640.0, 34.0, 150.0, 70.0
	h := rowH*float64(len(vs)) + 10
	s := newSVG(w, h, "bars", "primary conversion rate by variant")
	hi := 0.0
	for _, v := range vs {
		hi = math.Max(hi, v.ConversionRate)
	}
	if hi == 0 {
		hi = 1
	}
	x := scale{0, hi * 1.05, left, w - right}
	for i, v := range vs {
		y := 5 + rowH*float64(i)
		s.text(left-8, y+rowH/2+4, "end", "label", v.Key)
		s.bar(left, y+4, x.at(v.ConversionRate)-left, rowH-10, fmt.Sprintf("%s: %s of %d units", v.Key, pct(v.ConversionRate), v.Units),
			map[string]string{"variant": v.Key, "value": strconv.FormatFloat(v.ConversionRate, 'g', -1, 64)})
		s.text(x.at(v.ConversionRate)+6, y+rowH/2+4, "start", "value", pct(v.ConversionRate))
	}
	return s.HTML()
}

// forestPlot draws the relative lift CI of every metric × non-control
// variant: one point per comparison with a relative lift.
func forestPlot(out *stats.AnalyzeOutput) template.HTML {
	type row struct {
		label string
		c     *stats.ComparisonOutput
		rel   *experiments.Interval // the engine's relative interval
	}
	var rows []row
	var vals []float64
	for i := range out.Metrics {
		m := &out.Metrics[i]
		for j := range m.Comparisons {
			c := &m.Comparisons[j]
			rel, _ := experiments.RelativeLift(c)
			rows = append(rows, row{m.Key + " · " + c.Variant, c, rel})
			if rel != nil {
				vals = append(vals, rel.CI[0], rel.CI[1], rel.Estimate)
			}
		}
	}
	const w, rowH, left, right, top = 640.0, 30.0, 230.0, 20.0, 24.0
	h := top + rowH*float64(len(rows)) + 10
	s := newSVG(w, h, "forest", "relative lift with confidence interval per metric and variant")
	lo, hi := domain(vals)
	x := scale{lo, hi, left, w - right}
	s.line(x.at(0), top-6, x.at(0), h-4, "zero")
	s.text(x.at(0), top-10, "middle", "axis", "0%")
	// The ends' labels, unless they would overlap the 0% label (about 7
	// units per character at 12px).
	if lbl := signed(lo); x.at(0)-left > 7*float64(len(lbl))+24 {
		s.text(left, top-10, "start", "axis", lbl)
	}
	if lbl := signed(hi); w-right-x.at(0) > 7*float64(len(lbl))+24 {
		s.text(w-right, top-10, "end", "axis", lbl)
	}
	for i, r := range rows {
		y := top + rowH*float64(i) + rowH/2
		s.text(left-8, y+4, "end", "label", r.label)
		if r.rel == nil {
			s.text(x.at(0)+6, y+4, "start", "na", "n/a")
			continue
		}
		cls := "ci"
		if r.c.Significant {
			cls = "ci sig"
		}
		rel := r.rel
		s.line(x.at(rel.CI[0]), y, x.at(rel.CI[1]), y, cls)
		s.line(x.at(rel.CI[0]), y-5, x.at(rel.CI[0]), y+5, cls)
		s.line(x.at(rel.CI[1]), y-5, x.at(rel.CI[1]), y+5, cls)
		s.point(x.at(rel.Estimate), y, 5, fmt.Sprintf("%s: %s [%s, %s]", r.label, signed(rel.Estimate), signed(rel.CI[0]), signed(rel.CI[1])),
			map[string]string{"estimate": strconv.FormatFloat(rel.Estimate, 'g', -1, 64)})
	}
	return s.HTML()
}

// minSeriesDays is how many days with a lift the cumulative chart needs
// before it shows a trend; with fewer the page says so.
const minSeriesDays = 3

// liftSeriesChart draws the cumulative primary lift of variant over time
// with its CI band: one point per day with a valid lift, the y axis at
// round percentages with grid lines, at most six date labels. A single day
// is drawn as a point with its CI as an error bar.
func liftSeriesChart(series []SeriesPointDTO, variant string) liftChart {
	const w, h, left, right, top, bottom = 640.0, 260.0, 64.0, 24.0, 14.0, 30.0
	s := newSVG(w, h, "lift", "cumulative lift of "+variant+" over time with confidence band")
	type pt struct {
		i int
		l SeriesLiftDTO
	}
	var pts []pt
	var vals []float64
	for i, p := range series {
		for _, l := range p.Lifts {
			if l.Variant == variant && l.Valid {
				pts = append(pts, pt{i, l})
				vals = append(vals, l.CI[0], l.CI[1], l.Estimate)
			}
		}
	}
	n := len(series)
	x := scale{0, float64(max(n-1, 1)), left + 8, w - right}
	if n == 1 {
		x = scale{-1, 1, left + 8, w - right}
	}
	y := s.valueAxis(vals, left, w-right, h-bottom, top, signed)
	if n > 0 {
		// At most six date labels, the last one always; none too close to it.
		step := max(1, (n+5)/6)
		for i := 0; i < n-1 && n-1-i >= step; i += step {
			anchor := "middle"
			if i == 0 {
				anchor = "start"
			}
			s.text(x.at(float64(i)), h-8, anchor, "axis", shortDate(series[i].Date))
		}
		anchor := "end"
		if n == 1 {
			anchor = "middle"
		}
		s.text(x.at(float64(n-1)), h-8, anchor, "axis", shortDate(series[n-1].Date))
	}
	c := liftChart{Variant: variant, Days: len(pts)}
	if len(pts) < minSeriesDays {
		c.Note = fmt.Sprintf("Too little data for a trend yet: %d day(s) with a measurable lift so far. The chart fills in from day %d on; until then read the headline and its interval.",
			len(pts), minSeriesDays)
	}
	if len(pts) == 0 {
		s.text(w/2, h/2, "middle", "na", "not enough data yet")
		c.SVG = s.HTML()
		return c
	}
	var upper, lower, line [][2]float64
	for _, p := range pts {
		xi := x.at(float64(p.i))
		upper = append(upper, [2]float64{xi, y.at(p.l.CI[1])})
		lower = append(lower, [2]float64{xi, y.at(p.l.CI[0])})
		line = append(line, [2]float64{xi, y.at(p.l.Estimate)})
	}
	if len(pts) == 1 {
		s.line(upper[0][0], upper[0][1], lower[0][0], lower[0][1], "ci")
		s.line(upper[0][0]-6, upper[0][1], upper[0][0]+6, upper[0][1], "ci")
		s.line(lower[0][0]-6, lower[0][1], lower[0][0]+6, lower[0][1], "ci")
	} else {
		band := append([][2]float64{}, upper...)
		for i := len(lower) - 1; i >= 0; i-- {
			band = append(band, lower[i])
		}
		s.polygon(band, "band")
		s.polyline(line, "line")
	}
	for k, p := range pts {
		s.point(line[k][0], line[k][1], 3.5, fmt.Sprintf("%s: %s [%s, %s]", series[p.i].Date, signed(p.l.Estimate), signed(p.l.CI[0]), signed(p.l.CI[1])),
			map[string]string{"date": series[p.i].Date, "estimate": strconv.FormatFloat(p.l.Estimate, 'g', -1, 64)})
	}
	c.SVG = s.HTML()
	return c
}

// shortDate is "Mar 1" for "2026-03-01".
func shortDate(d string) string {
	t, err := time.Parse("2006-01-02", d)
	if err != nil {
		return d
	}
	return t.Format("Jan 2")
}

// niceTicks returns about n round values (1, 2 or 5 × 10^k apart)
// covering [lo, hi], including 0 when it is inside.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(max(n-1, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		if v >= lo-step*1e-9 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		out = []float64{lo}
	}
	return out
}

// ---- SVG ----

// svgDoc is a tiny deterministic SVG builder for the report's charts.
// Every number is written with two decimals; the root element carries
// data-points (circles of class "pt") and data-bars (rects of class "bar")
// so tests and scripts can count the plotted data without parsing shapes.
type svgDoc struct {
	w, h   float64
	class  string
	label  string
	b      strings.Builder
	points int
	bars   int
	cells  int
	// fixed draws the chart at its own size (shrinking on narrow
	// screens) instead of stretching it to the page's width.
	fixed bool
}

func newSVG(w, h float64, class, label string) *svgDoc {
	return &svgDoc{w: w, h: h, class: class, label: label}
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if s == "-0.00" {
		s = "0.00"
	}
	return s
}

func (s *svgDoc) attrs(class string) string {
	a := ""
	if class != "" {
		a += ` class="` + template.HTMLEscapeString(class) + `"`
	}
	return a
}

// title closes an element with an optional tooltip.
func (s *svgDoc) close(tag, title string) {
	if title == "" {
		s.b.WriteString("/>\n")
		return
	}
	s.b.WriteString("><title>" + template.HTMLEscapeString(title) + "</title></" + tag + ">\n")
}

func (s *svgDoc) line(x1, y1, x2, y2 float64, class string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s"%s/>`+"\n", num(x1), num(y1), num(x2), num(y2), s.attrs(class))
}

// point draws a data point (counted in data-points).
func (s *svgDoc) point(x, y, r float64, title string, data map[string]string) {
	s.points++
	fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="%s" class="pt"%s`, num(x), num(y), num(r), dataAttrs(data))
	s.close("circle", title)
}

// bar draws a data bar (counted in data-bars).
func (s *svgDoc) bar(x, y, w, h float64, title string, data map[string]string) {
	s.bars++
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" class="bar"%s`, num(x), num(y), num(w), num(h), dataAttrs(data))
	s.close("rect", title)
}

// cell draws a heatmap cell (counted in data-cells) with its own fill.
func (s *svgDoc) cell(x, y, w, h float64, fill, class, title string, data map[string]string) {
	s.cells++
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s%s`, num(x), num(y), num(w), num(h),
		template.HTMLEscapeString(fill), s.attrs(class), dataAttrs(data))
	s.close("rect", title)
}

func (s *svgDoc) text(x, y float64, anchor, class, text string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s"%s>%s</text>`+"\n", num(x), num(y), anchor, s.attrs(class), template.HTMLEscapeString(text))
}

func ptsAttr(pts [][2]float64) string {
	parts := make([]string, len(pts))
	for i, p := range pts {
		parts[i] = num(p[0]) + "," + num(p[1])
	}
	return strings.Join(parts, " ")
}

func (s *svgDoc) polyline(pts [][2]float64, class string) {
	fmt.Fprintf(&s.b, `<polyline points="%s"%s/>`+"\n", ptsAttr(pts), s.attrs(class))
}

func (s *svgDoc) polygon(pts [][2]float64, class string) {
	fmt.Fprintf(&s.b, `<polygon points="%s"%s/>`+"\n", ptsAttr(pts), s.attrs(class))
}

// dataAttrs writes data-* attributes in a fixed order (sorted keys).
func dataAttrs(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(` data-` + k + `="` + template.HTMLEscapeString(m[k]) + `"`)
	}
	return b.String()
}

// HTML returns the finished <svg> element.
func (s *svgDoc) HTML() template.HTML {
	var b strings.Builder
	size := ""
	if s.fixed {
		size = ` width="` + num(s.w) + `" height="` + num(s.h) + `"`
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s"%s class="chart %s" role="img" aria-label="%s" data-points="%d" data-bars="%d" data-cells="%d" preserveAspectRatio="xMidYMid meet">`+"\n",
		num(s.w), num(s.h), size, template.HTMLEscapeString(s.class), template.HTMLEscapeString(s.label), s.points, s.bars, s.cells)
	b.WriteString(s.b.String())
	b.WriteString("</svg>")
	return template.HTML(b.String()) //nolint:gosec // every piece above is escaped
}

// valueAxis draws the horizontal grid lines (the zero line dashed) of
// about five round values covering vals and 0, labelled by label at the
// left of x0, and returns the vertical scale from y0 (bottom) to y1 (top).
func (s *svgDoc) valueAxis(vals []float64, x0, x1, y0, y1 float64, label func(float64) string) scale {
	lo, hi := domain(vals)
	ticks := niceTicks(lo, hi, 5)
	lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
	y := scale{lo, hi, y0, y1}
	for _, t := range ticks {
		cls := "grid"
		if t == 0 {
			cls = "zero"
		}
		s.line(x0, y.at(t), x1, y.at(t), cls)
		s.text(x0-6, y.at(t)+4, "end", "axis", label(t))
	}
	return y
}

// scale maps [d0, d1] linearly onto [r0, r1].
type scale struct{ d0, d1, r0, r1 float64 }

func (sc scale) at(v float64) float64 {
	if sc.d1 == sc.d0 {
		return (sc.r0 + sc.r1) / 2
	}
	return sc.r0 + (v-sc.d0)/(sc.d1-sc.d0)*(sc.r1-sc.r0)
}

// domain returns a padded [lo, hi] that holds every value and 0.
func domain(vals []float64) (float64, float64) {
	lo, hi := 0.0, 0.0
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if lo == hi {
		lo, hi = lo-0.01, hi+0.01
	}
	pad := (hi - lo) * 0.08
	return lo - pad, hi + pad
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }
