package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
)

const (
	envServer = "PROMOLIFT_SERVER"
	envAPIKey = "PROMOLIFT_API_KEY"
	// defaultServer is the address of a local `promolift serve`.
	defaultServer = "http://localhost:8080"
)

func init() {
	register(command{
		name:    "report",
		summary: "fetch an experiment's report from a server and print it (table, --json or --csv)",
		run:     runReport,
	})
}

func reportUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: promolift report KEY [--server URL] [--key TOKEN] [--json | --csv] [--multiple-exposure exclude|first]")
	fmt.Fprintf(w, "\nThe server defaults to $%s (else %s), the key to $%s; it needs scope analyst or admin.\n\n", envServer, defaultServer, envAPIKey)
	fs.PrintDefaults()
}

// runReport fetches GET /api/v1/experiments/KEY/report and prints it.
// Usage errors exit 2; server and network errors exit 1.
func runReport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", os.Getenv(envServer), "server base `URL` (default $"+envServer+" or "+defaultServer+")")
	key := fs.String("key", os.Getenv(envAPIKey), "API key `TOKEN` of scope analyst (default $"+envAPIKey+")")
	asJSON := fs.Bool("json", false, "print the JSON report as the server sends it")
	asCSV := fs.Bool("csv", false, "print the CSV report (one row per metric × variant × slice)")
	multiple := fs.String("multiple-exposure", "", "units exposed to several variants: exclude (default) or first")
	timeout := fs.Duration("timeout", 60*time.Second, "request timeout")
	fs.Usage = func() { reportUsage(stderr, fs) }
	// Flags may come before or after KEY.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintln(stderr, "report: need exactly one experiment KEY")
		reportUsage(stderr, fs)
		return 2
	}
	if *asJSON && *asCSV {
		fmt.Fprintln(stderr, "report: --json and --csv exclude each other")
		return 2
	}
	if *multiple != "" && *multiple != "exclude" && *multiple != "first" {
		fmt.Fprintln(stderr, "report: --multiple-exposure must be exclude or first")
		return 2
	}
	if *key == "" {
		fmt.Fprintf(stderr, "report: no API key: pass --key or set %s\n", envAPIKey)
		return 2
	}
	base := *server
	if base == "" {
		base = defaultServer
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "report: --server must be an http(s) URL, got %q\n", base)
		return 2
	}
	q := url.Values{}
	if *asCSV {
		q.Set("format", "csv")
	}
	if *multiple != "" {
		q.Set("multiple_exposure", *multiple)
	}
	u.Path += "/api/v1/experiments/" + url.PathEscape(positional[0]) + "/report"
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	body, err := fetchReport(ctx, u.String(), *key)
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
	if *asJSON || *asCSV {
		if _, err := stdout.Write(body); err != nil {
			return 1
		}
		if *asJSON && len(body) > 0 && body[len(body)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
		return 0
	}
	var r httpapi.ReportResponse
	if err := json.Unmarshal(body, &r); err != nil {
		fmt.Fprintf(stderr, "report: the server's answer is not a report: %v\n", err)
		return 1
	}
	if err := printReport(stdout, &r); err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
	return 0
}

// fetchReport GETs the report; a non-200 answer becomes an error with the
// problem document's detail.
func fetchReport(ctx context.Context, u, key string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json, text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var p httpapi.Problem
		if json.Unmarshal(body, &p) == nil && p.Detail != "" {
			return nil, fmt.Errorf("server answered %d %s: %s", resp.StatusCode, p.Code, p.Detail)
		}
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	return body, nil
}

func reportPct(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" }

func reportSigned(v float64) string {
	s := reportPct(v)
	if v >= 0 {
		return "+" + s
	}
	return s
}

// reportMoney formats minor units in the currency's major unit with its
// code ("125000 KRW", "19.99 USD"); minor units as they are when the
// currency is unknown, and "—" when the report's money is in several
// currencies (mixed).
func reportMoney(cur string, mixed bool) func(float64) string {
	if mixed {
		return func(float64) string { return "—" }
	}
	d, ok := experiments.MinorUnits(cur)
	if !ok {
		return func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	}
	return func(v float64) string { return strconv.FormatFloat(v/math.Pow10(d), 'f', d, 64) + " " + cur }
}

// reportLift are the lift, CI and p-value columns of a relative lift rel
// with the p-value relP of its interval ("—" for what is missing).
func reportLift(rel *experiments.Interval, relP *float64) (lift, ci, p string) {
	return httpapi.LiftCells(rel, relP, reportSigned)
}

// relPField is ", lift p = …" for the p-value of a relative interval, or ""
// when the engine has none.
func relPField(p *float64) string {
	if p == nil {
		return ""
	}
	return ", lift p = " + strconv.FormatFloat(*p, 'g', 3, 64)
}

// printReport writes the report as aligned tables.
func printReport(w io.Writer, r *httpapi.ReportResponse) error {
	money := reportMoney(r.Currency, r.CurrencyTotals != nil)
	e := r.Experiment
	fmt.Fprintf(w, "%s — %s\nstatus %s · engine %s · figures as of %s · multiple exposure: %s\n\n", e.Key, e.Name, e.Status,
		r.Analysis.Engine, r.AsOf, r.MultipleExposure)
	fmt.Fprintf(w, "DECISION: %s — %s\n", strings.ToUpper(r.Decision.Action), r.Decision.Reason)
	for _, d := range r.Decision.Details {
		fmt.Fprintf(w, "  · %s\n", d)
	}
	if h := r.Headline; h.Lift != nil {
		fmt.Fprintf(w, "HEADLINE: %s on %s %s [%s, %s]%s; difference p = %.3g, adjusted p = %.3g\n", h.Variant, h.Metric,
			reportSigned(*h.Lift), reportSigned(h.CI[0]), reportSigned(h.CI[1]), relPField(h.RelativePValue), h.PValue, h.AdjustedPValue)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "VARIANT\tUNITS\tEXPOSURES\tCONVERSIONS\tCONV RATE\tREV/CUSTOMER\tAOV\tPROMO COST\tREDEMPTIONS\t")
	for _, v := range r.Variants {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.0f\t\n", v.Key, v.Units, v.Exposures, v.Conversions,
			reportPct(v.ConversionRate), money(v.RevenuePerCustomer), money(v.AverageOrderValue), money(v.PromotionCost), v.Redemptions)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tROLE\tVARIANT\tCONTROL\tVARIANT VALUE\tLIFT\tLIFT CI\tLIFT P\tDIFF P\tADJ DIFF P\tSIGNIFICANT")
	for _, m := range r.Analysis.Metrics {
		ctrl := map[bool]string{}
		val := func(mean float64) string {
			if m.Type == "proportion" {
				return reportPct(mean)
			}
			return money(mean)
		}
		arms := map[string]string{}
		for _, a := range m.Arms {
			arms[a.Variant] = val(a.Mean)
			if a.Variant == r.Analysis.Control {
				ctrl[true] = val(a.Mean)
			}
		}
		for _, c := range m.Comparisons {
			rel, relP := experiments.RelativeLift(&c)
			lift, ci, lp := reportLift(rel, relP)
			p := c.Absolute.PValue
			if c.Sequential != nil {
				p = c.Sequential.PValue
			}
			sig := "no"
			if c.Significant {
				sig = "YES"
			}
			if c.Error != nil {
				sig += " (" + *c.Error + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3g\t%.3g\t%s\n", m.Key, m.Role, c.Variant, ctrl[true], arms[c.Variant],
				lift, ci, lp, p, c.AdjustedPValue, sig)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	srm := r.Analysis.SRM
	state := "ok"
	if srm.Flagged {
		state = "MISMATCH"
	}
	fmt.Fprintf(w, "SRM: chi2 = %.3f, p = %.3g — %s; %d units saw several variants\n", srm.Chi2, srm.PValue, state, r.MultipleExposedUnits)
	if roi := r.Analysis.ROI; roi != nil {
		fmt.Fprintf(w, "ROI (%s): ", roi.Variant)
		if roi.ROI != nil {
			fmt.Fprintf(w, "%s", reportPct(*roi.ROI))
			if roi.CI != nil {
				fmt.Fprintf(w, " [%s, %s]", reportPct(roi.CI[0]), reportPct(roi.CI[1]))
			}
		} else if roi.Error != nil {
			fmt.Fprintf(w, "n/a (%s)", *roi.Error)
		}
		if n := r.NetIncrementalRevenue; n != nil {
			fmt.Fprintf(w, "; incremental revenue %s, cost %s, net %s [%s, %s]", money(roi.IncrementalRevenue), money(roi.Cost),
				money(n.Estimate), money(n.CI[0]), money(n.CI[1]))
		} else {
			fmt.Fprintf(w, "; incremental revenue not estimated, cost %s", money(roi.Cost))
		}
		fmt.Fprintln(w)
	}
	if r.CurrencyTotals != nil {
		fmt.Fprintf(w, "Money by currency (the conversions carry %s; it is never added across currencies):\n", strings.Join(r.Currencies, ", "))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VARIANT\tCONVERSION\tCURRENCY\tUNITS\tREVENUE\tPROMO COST")
		for _, c := range r.CurrencyTotals {
			m := reportMoney(c.Currency, false)
			code := c.Currency
			if code == experiments.MixedCurrency {
				code, m = "several", reportMoney("", true)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", c.Variant, c.Metric, code, c.Units, m(c.Revenue), m(c.Cost))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Spend) > 0 {
		fmt.Fprint(w, "Promotion spend:")
		for i, b := range r.Spend {
			sep := ";"
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(w, "%s %s %s", sep, b.Variant, money(float64(b.Spent)))
			if b.Budget != nil {
				fmt.Fprintf(w, " of budget %s", money(float64(*b.Budget)))
				if b.BudgetExhausted {
					fmt.Fprint(w, " (EXHAUSTED)")
				}
			}
		}
		fmt.Fprintln(w)
	}
	if r.CappedUnits != nil {
		fmt.Fprintf(w, "Frequency-capped units: %d\n", *r.CappedUnits)
	}
	if pl := r.Analysis.PersonalizationLift; pl != nil {
		fmt.Fprintf(w, "Personalization lift (%s over %s on %s): ", pl.Personalized, pl.Generic, pl.Metric)
		if pl.CI != nil {
			fmt.Fprintf(w, "%s [%s, %s]\n", reportSigned(pl.Estimate), reportSigned(pl.CI[0]), reportSigned(pl.CI[1]))
		} else if pl.Error != nil {
			fmt.Fprintf(w, "n/a (%s)\n", *pl.Error)
		} else {
			fmt.Fprintf(w, "%s\n", reportSigned(pl.Estimate))
		}
	}
	for _, roi := range r.ArmROI {
		fmt.Fprintf(w, "ROI of %s vs control: ", roi.Variant)
		if roi.ROI != nil {
			fmt.Fprintf(w, "%s", reportPct(*roi.ROI))
			if roi.CI != nil {
				fmt.Fprintf(w, " [%s, %s]", reportPct(roi.CI[0]), reportPct(roi.CI[1]))
			}
		} else if roi.Error != nil {
			fmt.Fprintf(w, "n/a (%s)", *roi.Error)
		}
		if experiments.ROIEstimated(&r.Analysis, &roi) {
			fmt.Fprintf(w, "; net %s\n", money(roi.Net))
		} else {
			fmt.Fprintf(w, "; net not estimated\n")
		}
	}
	if pv := r.PersonalizationValue; pv != nil {
		fmt.Fprintf(w, "Personalization value over %s for everyone: %s [%s, %s] (%s vs %s per customer × %.0f)",
			pv.BestGeneric, money(pv.Value.Estimate), money(pv.Value.CI[0]), money(pv.Value.CI[1]),
			money(pv.RevenuePerUnit), money(pv.GenericRevenuePerUnit), pv.Units)
		if pv.Error != "" {
			fmt.Fprintf(w, " (%s)", pv.Error)
		}
		fmt.Fprintln(w)
	}
	for _, b := range r.Breakdowns {
		fmt.Fprintf(w, "\nBY %s (%s; adjusted p: Holm across slices)\n", strings.ToUpper(b.Dimension), e.PrimaryMetric)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SLICE\tVARIANT\tUNITS\tLIFT\tLIFT CI\tLIFT P\tDIFF P\tADJ DIFF P")
		for _, s := range b.Slices {
			units := map[string]int64{}
			for _, v := range s.Variants {
				units[v.Key] = v.Units
			}
			for _, c := range s.Comparisons {
				if c.Metric != r.Headline.Metric {
					continue
				}
				var rel *experiments.Interval
				if c.Relative != nil {
					rel = &experiments.Interval{Estimate: c.Relative.Estimate, CI: c.Relative.CI}
				}
				lift, ci, lp := reportLift(rel, c.RelativePValue)
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%.3g\t%.3g\n", s.Slice, c.Variant, units[c.Variant], lift, ci, lp, c.PValue, c.AdjustedPValue)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.OrderValues) > 0 {
		fmt.Fprintln(w, "\nORDER VALUES (quantiles of the order value per variant, with their confidence intervals)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "METRIC\tQUANTILE\tVARIANT\tORDERS\tVALUE\tCI")
		for _, o := range r.OrderValues {
			m := reportMoney(o.Currency, false)
			fmt.Fprintf(tw, "%s\tp%s\t%s\t%d\t%s\t[%s, %s]\n", o.Metric, strconv.FormatFloat(100*o.Quantile, 'g', -1, 64),
				o.Variant, o.Orders, m(o.Value), m(o.CI[0]), m(o.CI[1]))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if chans := r.HeadlineChannels(); len(chans) > 0 {
		fmt.Fprintf(w, "\nCONVERSIONS OF %s BY CHANNEL (each credited to its own channel, else the exposure's)\n", r.Headline.Metric)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHANNEL\tVARIANT\tCONVERSIONS\tREVENUE")
		for _, c := range chans {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Channel, c.Variant, c.Conversions, money(c.Revenue))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nWARNINGS")
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "  ! %s\n", s)
		}
	}
	if c := r.Cohorts; c.Available && len(c.Rows) > 0 {
		fmt.Fprintf(w, "\nREPURCHASE COHORTS (%s)\n", c.Note)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VARIANT\tWEEK\tUNITS\tREPURCHASERS\tRATE")
		for _, row := range c.Rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", row.Variant, row.Week, row.Units, row.Repurchasers, reportPct(row.Rate))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else if !c.Available && c.Note != "" {
		fmt.Fprintf(w, "\nCohorts: not available (%s)\n", c.Note)
	}
	return nil
}
