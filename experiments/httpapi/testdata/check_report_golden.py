#!/usr/bin/python3
"""Independent check values of the report goldens report-spring-sale.json and
report-spring-sale.csv (package experiments/httpapi, TestReportGoldenChecks).

Regenerate (from the repository root, with Debian's python3-mpmath):

    /usr/bin/python3 experiments/httpapi/testdata/check_report_golden.py \
        > experiments/httpapi/testdata/report-spring-sale.checks.json

It reads only the fixture files that the report tests ingest
(report-spring-sale-experiment.json, report-spring-sale-events.csv) and
recomputes every number of the report from the raw events, following the
documented semantics (docs/report.md for units, attribution, money, the
breakdowns, series, cohorts and order values; docs/stats.md and the stats
method notes for the statistics). Nothing here calls or copies promolift's
code: counts and sums come from the events, moments from exact rational
arithmetic, and distributions from 40-digit mpmath (normal and Student-t
quantiles by root finding on the incomplete beta function); the formulas
shared with check_design_golden.py are in stats/testdata/goldcheck.py.

The output maps every number to [value, relative tolerance]:
  "json": the dotted path of a numeric leaf of report-spring-sale.json
          (array indices as numbers, e.g. analysis.metrics.0.arms.1.variance);
  "csv":  "dimension|slice|metric|variant|column" of report-spring-sale.csv.
The tolerance is relative 1e-9 for every number: the counts, sums and moments
are exact; the intervals and p-values are closed forms of normal and Student-t
quantiles and tails (measured agreement with the code under test: 4e-12 at
worst, a relative CI bound); power's units and days still needed are a root
that both sides solve far below 1e-9 (measured 1e-13). A method that is
approximate would get a looser tolerance here, stated with its reason.
"""
import csv
import json
import math
import os
import re
import sys
from datetime import datetime, timedelta
from fractions import Fraction as F

import mpmath as mp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "stats", "testdata"))
from goldcheck import (ALPHA, MDE_REL, TOL, M, Z, analyse_metric, dump, emit_analysis, holm, mean_arm,  # noqa: E402
                       prop_arm, compare_welch, add_relative)

PRE_PERIOD = timedelta(days=28)
EVENT_COLUMNS = ["id", "type", "unit_id", "timestamp", "experiment", "variant", "name", "revenue", "promotion_cost",
                 "currency", "channel", "attributes"]

# ---------------------------------------------------------------- the fixture


def parse_ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def load():
    with open(os.path.join(HERE, "report-spring-sale-experiment.json")) as f:
        exp = json.load(f)
    events = []
    with open(os.path.join(HERE, "report-spring-sale-events.csv"), newline="") as f:
        rows = csv.DictReader(f)
        # A new column (an order_id for refund reversal, say) needs its semantics here first.
        assert rows.fieldnames == EVENT_COLUMNS, rows.fieldnames
        for r in rows:
            r["ts"] = parse_ts(r["timestamp"])
            r["revenue"] = int(r["revenue"])
            r["promotion_cost"] = None if r["promotion_cost"] == "" else int(r["promotion_cost"])
            r["attributes"] = json.loads(r["attributes"]) if r["attributes"] else {}
            events.append(r)
    exp["started_at"] = parse_ts(exp["started_at"])
    exp["as_of"] = parse_ts(exp["as_of"])
    exp["window"] = timedelta(hours=exp["attribution_window_hours"])
    return exp, events


def promotion_cost(variant, revenue):
    """docs/report.md, Promotion cost rules: percent_off is value % of the revenue, rounded half up."""
    if variant["promotion"] in ("none", ""):
        return 0
    if variant["promotion"] == "percent_off":
        return int(F(revenue) * F(str(variant["value"])) / 100 + F(1, 2))
    raise ValueError("promotion %s is not in this fixture" % variant["promotion"])


class Data:
    """Per-unit facts of the experiment as of `until` (exclusive; None = all events)."""

    def __init__(self, exp, events, until=None):
        self.exp = exp
        variants = {v["key"]: v for v in exp["variants"]}
        metric_names = [exp["primary_metric"]] + exp["secondary_metrics"]
        exposures, convs = {}, {}
        for e in events:
            if until is not None and not e["ts"] < until:
                continue
            if e["type"] == "exposure" and e["experiment"] == exp["key"]:
                exposures.setdefault(e["unit_id"], []).append(e)
            elif e["type"] == "conversion":
                convs.setdefault(e["unit_id"], []).append(e)
        self.units = {}
        for u, xs in exposures.items():
            xs.sort(key=lambda e: (e["ts"], e["id"]))
            first = xs[0]
            f = first["ts"]
            rec = {"variant": first["variant"], "f": f, "multiple": len({x["variant"] for x in xs}) > 1,
                   "exposures": len(xs), "attrs": first["attributes"], "channel": first["channel"] or "(none)",
                   "metrics": {}, "pre": {}, "orders": [], "convs": sorted(convs.get(u, []), key=lambda e: (e["ts"], e["id"]))}
            for c in rec["convs"]:
                name = c["name"]
                if f <= c["ts"] <= f + exp["window"]:
                    m = rec["metrics"].setdefault(name, {"count": 0, "revenue": 0, "cost": 0, "credits": []})
                    m["count"] += 1
                    m["revenue"] += c["revenue"]
                    # docs/report.md, Cost: a redemption (an order or a conversion with its own
                    # cost, of the primary or a secondary metric) adds its cost.
                    if name in metric_names and (c["revenue"] != 0 or c["promotion_cost"] is not None):
                        cost = c["promotion_cost"] if c["promotion_cost"] is not None else \
                            promotion_cost(variants[rec["variant"]], c["revenue"])
                        m["cost"] += cost
                    m["credits"].append((c["channel"] or rec["channel"], c["revenue"]))
                    if name == exp["primary_metric"]:
                        rec["orders"].append(c["revenue"])
                elif f - PRE_PERIOD <= c["ts"] < f:
                    rec["pre"][name] = rec["pre"].get(name, 0) + c["revenue"]
            self.units[u] = rec

    def analysed(self):
        return {u: r for u, r in self.units.items() if not r["multiple"]}


def slice_of(rec, dim):
    if dim == "":
        return ""
    if dim == "channel":
        return rec["channel"]
    if dim == "hour":
        return "%02d" % rec["f"].hour
    if dim == "hour/channel":
        return "%02d/%s" % (rec["f"].hour, rec["channel"])
    return rec["attrs"].get(dim) or "(none)"


def metric_list(exp, data):
    """docs/report.md, Conversion names: the primary gives a rate and a revenue per unit; the others
    a rate, and a revenue per unit when they carry revenue."""
    revenue = set()
    for r in data.analysed().values():
        for n, m in r["metrics"].items():
            if m["revenue"] != 0:
                revenue.add(n)
    out = [(exp["primary_metric"], exp["primary_metric"], "proportion", "primary"),
           (exp["primary_metric"] + "_revenue", exp["primary_metric"], "mean", "secondary")]
    for role, names in (("secondary", exp["secondary_metrics"]), ("guardrail", exp["guardrail_metrics"])):
        for n in names:
            out.append((n, n, "proportion", role))
            if n in revenue:
                out.append((n + "_revenue", n, "mean", role))
    return out


# ---------------------------------------------------------------- the report


class Report:
    def __init__(self, exp, events):
        self.exp, self.events = exp, events
        self.data = Data(exp, events)
        self.metrics = metric_list(exp, self.data)
        self.vkeys = [v["key"] for v in exp["variants"]]
        self.J, self.C, self.T = {}, {}, {}

    # -- output helpers
    def j(self, path, v, tol=TOL):
        if v is None:
            return
        assert path not in self.J, path
        self.J[path] = [float(v), tol]

    def text(self, path, *numbers):
        """The numbers a string of the golden shows, in order (goldencheck.TextProblems)."""
        assert path not in self.T, path
        self.T[path] = [float(x) for x in numbers]

    def time_text(self, path, t, date_only=False):
        self.text(path, *([t.year, t.month, t.day] if date_only else
                          [t.year, t.month, t.day, t.hour, t.minute, t.second + F(t.microsecond, 10 ** 6)]))

    def csv(self, dim, sl, metric, variant, col, v, tol=TOL):
        if v is None:
            return
        key = "|".join([dim, sl, metric, variant, col])
        assert key not in self.C, key
        self.C[key] = [float(v), tol]

    # -- per-slice statistics
    def arm_stats(self, units, name, kind):
        out = {}
        for v in self.vkeys:
            us = [r for r in units.values() if r["variant"] == v]
            n = len(us)
            if kind == "proportion":
                x = sum(1 for r in us if r["metrics"].get(name, {}).get("count", 0) > 0)
                out[v] = prop_arm(x, n)
            else:
                ys = [r["metrics"].get(name, {}).get("revenue", 0) for r in us]
                out[v] = mean_arm(ys, n)
                out[v]["ys"] = ys
                out[v]["xs"] = [r["pre"].get(name, 0) for r in us]
        return out

    def analysis(self, units, with_cuped):
        res = []
        for key, name, kind, role in self.metrics:
            arms = self.arm_stats(units, name, kind)
            pre = None
            if kind == "mean" and with_cuped and any(x != 0 for v in self.vkeys for x in arms[v]["xs"]):
                pre = [(arms[v]["ys"], arms[v]["xs"]) for v in self.vkeys]
            comps = analyse_metric(kind, [arms[v] for v in self.vkeys], pre)
            res.append({"key": key, "name": name, "type": kind, "role": role, "arms": arms, "comps": comps})
        return res

    def variant_summary(self, units, prefix, slice_all_units):
        prim = self.exp["primary_metric"]
        for i, v in enumerate(self.exp["variants"]):
            us = [r for r in units.values() if r["variant"] == v["key"]]
            n = len(us)
            conv = sum(r["metrics"].get(prim, {}).get("count", 0) for r in us)
            converted = sum(1 for r in us if r["metrics"].get(prim, {}).get("count", 0) > 0)
            rev = sum(r["metrics"].get(prim, {}).get("revenue", 0) for r in us)
            cost = sum(m["cost"] for r in us for m in r["metrics"].values())
            p = "%s.%d." % (prefix, i)
            self.j(p + "weight", v["weight"])
            self.j(p + "units", n)
            self.j(p + "exposures", sum(r["exposures"] for r in us))
            self.j(p + "converted", converted)
            self.j(p + "conversions", conv)
            self.j(p + "conversion_rate", F(converted, n) if n else 0)
            self.j(p + "revenue", rev)
            self.j(p + "revenue_per_customer", F(rev, n) if n else 0)
            self.j(p + "average_order_value", F(rev, conv) if conv else 0)
            self.j(p + "promotion_cost", cost)
            # docs/report.md, Cost: the report's redemptions figure is the variant's attributed
            # conversions of the primary metric, 0 for a variant without a promotion.
            self.j(p + "redemptions", conv if v["promotion"] not in ("none", "") else 0)
            self.j(p + "multiple_exposed", sum(1 for r in slice_all_units if r["multiple"] and r["variant"] == v["key"]))

    def weights(self):
        return [v["weight"] for v in self.exp["variants"]]

    def counts(self, units):
        return [len([r for r in units.values() if r["variant"] == v]) for v in self.vkeys]

    def csv_rows(self, dim, sl, res, slice_comp=None, with_power=False):
        ctrl = self.vkeys[0]
        for m in res:
            cm = m["arms"][ctrl]["mean"]
            for vi, v in enumerate(self.vkeys):
                a = m["arms"][v]
                row = lambda col, val, tol=TOL: self.csv(dim, sl, m["key"], v, col, val, tol)
                row("units", a["units"])
                row("sum", a["sum"])
                row("mean", a["mean"])
                row("control_mean", cm)
                if vi == 0:
                    continue
                c = m["comps"][vi - 1]
                ab = c["absolute"]
                row("abs_estimate", ab["estimate"])
                row("abs_ci_low", ab["ci"][0])
                row("abs_ci_high", ab["ci"][1])
                rel = c.get("relative")
                if rel:
                    row("rel_estimate", rel["estimate"])
                    row("rel_ci_low", rel["ci"][0])
                    row("rel_ci_high", rel["ci"][1])
                    row("rel_p_value", rel["p_value"])
                if slice_comp is not None:
                    sc = slice_comp[(m["key"], v)]
                    row("p_value", sc["p_value"])
                    row("adjusted_p_value", sc["adjusted"])
                else:
                    row("p_value", ab["p_value"])
                    row("adjusted_p_value", c["adjusted"])
                if with_power and "power" in c:
                    row("power", c["power"]["power"])
                    row("days_needed", c["power"]["days_needed"])

    # -- the whole report
    def run(self):
        exp = self.exp
        now = exp["as_of"]
        units = self.data.analysed()
        N = len(units)
        elapsed = M((now - exp["started_at"]).total_seconds()) / 86400
        self.j("experiment.min_roi", exp["min_roi"])
        self.text("experiment.hypothesis", *[F(x) for x in re.findall(r"\d+(?:\.\d+)?", exp["hypothesis"])])
        self.time_text("experiment.started_at", exp["started_at"])
        self.time_text("generated_at", now)
        self.time_text("as_of", now)

        # conversions by credited channel (docs/report.md, Breakdowns and channel)
        cb = {}
        for r in units.values():
            for name, m in r["metrics"].items():
                for ch, rev in m["credits"]:
                    e = cb.setdefault((ch, r["variant"], name), [0, 0])
                    e[0] += 1
                    e[1] += rev
        for i, k in enumerate(sorted(cb)):
            self.j("conversions_by_channel.%d.conversions" % i, cb[k][0])
            self.j("conversions_by_channel.%d.revenue" % i, cb[k][1])

        self.variant_summary(units, "variants", list(self.data.units.values()))
        multiple = sum(1 for r in self.data.units.values() if r["multiple"])
        self.j("multiple_exposed_units", multiple)
        self.text("warnings.0", multiple)  # "N units were exposed to more than one variant …"

        res = self.analysis(units, with_cuped=True)
        emit_analysis(self.j, "analysis", res, self.vkeys, self.weights(), self.counts(units), ("primary", "secondary"),
                      power_n=N, elapsed=elapsed)
        self.csv_rows("all", "all", res, with_power=True)
        costs = {v: sum(m["cost"] for r in units.values() if r["variant"] == v for m in r["metrics"].values())
                 for v in self.vkeys}
        for i, v in enumerate(self.vkeys):
            self.j("analysis.variants.%d.promotion_cost" % i, costs[v])

        # ROI on the primary revenue metric (docs/report.md, ROI and net incremental revenue)
        rev_i = [i for i, m in enumerate(res) if m["key"] == exp["primary_metric"] + "_revenue"][0]
        self.rois = []
        for ci, c in enumerate(res[rev_i]["comps"]):
            v = self.vkeys[ci + 1]
            nt, cost = len([r for r in units.values() if r["variant"] == v]), costs[v]
            inc = c["absolute"]["estimate"] * nt
            inc_ci = [x * nt for x in c["absolute"]["ci"]]
            roi = {"cost": cost, "incremental_revenue": inc, "incremental_ci.0": inc_ci[0], "incremental_ci.1": inc_ci[1],
                   "net": inc - cost, "roi": (inc - cost) / cost, "roi_percent": 100 * (inc - cost) / cost,
                   "ci.0": (inc_ci[0] - cost) / cost, "ci.1": (inc_ci[1] - cost) / cost}
            for p in ("analysis.metrics.%d.comparisons.%d.roi." % (rev_i, ci), "analysis.roi."):
                for k, x in roi.items():
                    self.j(p + k, x)
            self.rois.append(roi)
            self.j("net_incremental_revenue.estimate", inc - cost)
            self.j("net_incremental_revenue.ci.0", inc_ci[0] - cost)
            self.j("net_incremental_revenue.ci.1", inc_ci[1] - cost)

        # analyze_input: the sufficient statistics
        for i, v in enumerate(exp["variants"]):
            self.j("analyze_input.variants.%d.weight" % i, v["weight"])
            self.j("analyze_input.variants.%d.units" % i, len([r for r in units.values() if r["variant"] == v["key"]]))
            self.j("analyze_input.variants.%d.promotion_cost" % i, costs[v["key"]])
        for mi, m in enumerate(res):
            for v in self.vkeys:
                a, p = m["arms"][v], "analyze_input.metrics.%d.stats.%s." % (mi, v)
                self.j(p + "sum", a["sum"])
                if m["type"] == "mean":
                    self.j(p + "sum_squares", a["Q"])
                    if m["comps"] and "cuped" in m["comps"][0]:
                        self.j(p + "pre_sum", sum(a["xs"]))
                        self.j(p + "pre_sum_squares", sum(x * x for x in a["xs"]))
                        self.j(p + "pre_cross_sum", sum(x * y for x, y in zip(a["xs"], a["ys"])))
        self.j("analyze_input.power.mde_relative", MDE_REL)
        self.j("analyze_input.power.elapsed_days", elapsed)

        # headline and decision: the primary metric's treatment (largest significant positive difference)
        prim = res[0]
        best = None
        for ci, c in enumerate(prim["comps"]):
            if c["adjusted"] < ALPHA and c["absolute"]["estimate"] > 0 and (best is None or c["absolute"]["estimate"] > prim["comps"][best]["absolute"]["estimate"]):
                best = ci
        assert best is not None, "this fixture ships; the other decisions are not recomputed here"
        c = prim["comps"][best]
        self.j("headline.lift", c["relative"]["estimate"])
        self.j("headline.ci.0", c["relative"]["ci"][0])
        self.j("headline.ci.1", c["relative"]["ci"][1])
        self.j("headline.relative_p_value", c["relative"]["p_value"])
        self.j("headline.p_value", c["absolute"]["p_value"])
        self.j("headline.adjusted_p_value", c["adjusted"])
        roi_ok = res[rev_i]["comps"][best]
        assert (roi_ok["absolute"]["estimate"] * len([r for r in units.values() if r["variant"] == self.vkeys[best + 1]]) - costs[self.vkeys[best + 1]]) / costs[self.vkeys[best + 1]] >= exp["min_roi"]
        self.j("decision.days_needed", 0)  # ship: rule 4 of docs/report.md, Decision
        # The decision's text: the ROI and its target in percent; the lift, its CI in percent and the
        # adjusted p; the ROI's CI and the net and cost in the currency's major unit (USD: cents/100).
        roi = self.rois[best]
        self.text("decision.reason", roi["roi_percent"], 100 * M(exp["min_roi"]))
        self.text("decision.details.0", *(100 * x for x in [c["relative"]["estimate"]] + c["relative"]["ci"]), c["adjusted"])
        self.text("decision.details.1", roi["roi_percent"], 100 * roi["ci.0"], 100 * roi["ci.1"], roi["net"] / 100, F(roi["cost"], 100))

        self.breakdowns(units)
        self.series()
        self.cohorts()
        self.spend_and_caps()
        self.order_values(units)

    def breakdowns(self, units):
        exp = self.exp
        dims = []
        for d in exp["segments"] + ["channel", "hour"]:
            if d not in dims:
                dims.append(d)
        for bi, d in enumerate(dims):
            self.breakdown("breakdowns.%d" % bi, d, units, d)
        self.breakdown("hour_channel", "hour/channel", units, None)

    def breakdown(self, prefix, dim, units, csv_dim):
        all_units = list(self.data.units.values())
        slices = sorted({slice_of(r, dim) for r in units.values()})
        assert len(slices) <= (50 if dim != "hour/channel" else 192)
        self.j(prefix + ".truncated", 0)
        per = []
        for si, sl in enumerate(slices):
            su = {u: r for u, r in units.items() if slice_of(r, dim) == sl}
            sp = "%s.slices.%d" % (prefix, si)
            self.j(sp + ".units", len(su))
            if dim in ("hour", "hour/channel"):
                self.text(sp + ".slice", int(sl[:2]))
            self.variant_summary(su, sp + ".variants", [r for r in all_units if slice_of(r, dim) == sl])
            res = self.analysis(su, with_cuped=False)
            per.append((sl, sp, res))
        # Holm across the slices, per metric and variant; unusable comparisons get p = 1, adj = 1
        groups = {}
        for sl, sp, res in per:
            for m in res:
                for ci, c in enumerate(m["comps"]):
                    usable = "error" not in c or c["error"] == "baseline_zero"
                    groups.setdefault((m["key"], ci), []).append((c, c["absolute"]["p_value"] if usable else None))
        for g in groups.values():
            adj = holm([p for _, p in g])
            for (c, p), a in zip(g, adj):
                c["slice_p"] = {"p_value": p if p is not None else 1, "adjusted": a if a is not None else 1}
        for sl, sp, res in per:
            k = 0
            sc = {}
            for m in res:
                for ci, c in enumerate(m["comps"]):
                    cp = "%s.comparisons.%d." % (sp, k)
                    k += 1
                    ab = c["absolute"]
                    self.j(cp + "absolute.estimate", ab["estimate"])
                    self.j(cp + "absolute.ci.0", ab["ci"][0])
                    self.j(cp + "absolute.ci.1", ab["ci"][1])
                    rel = c.get("relative")
                    if rel:
                        self.j(cp + "relative.estimate", rel["estimate"])
                        self.j(cp + "relative.ci.0", rel["ci"][0])
                        self.j(cp + "relative.ci.1", rel["ci"][1])
                        self.j(cp + "relative_p_value", rel["p_value"])
                    self.j(cp + "p_value", c["slice_p"]["p_value"])
                    self.j(cp + "adjusted_p_value", c["slice_p"]["adjusted"])
                    sc[(m["key"], self.vkeys[ci + 1])] = c["slice_p"]
            if csv_dim is not None:
                self.csv_rows(csv_dim, sl, res, slice_comp=sc)

    def series(self):
        """docs/report.md, the daily series: at the end of each day (the last point: as_of), the units
        first exposed and the conversions before it; the primary metric's relative lift."""
        exp = self.exp
        now = exp["as_of"]
        first = exp["started_at"].replace(hour=0, minute=0, second=0, microsecond=0)
        days = int((now - first) / timedelta(days=1)) + 1
        assert days <= 60
        for i in range(days):
            until = first + timedelta(days=i + 1)
            if i == days - 1:
                until = now + timedelta(microseconds=1)
            d = Data(exp, self.events, until)
            units = d.analysed()
            arms = {}
            for v in self.vkeys:
                us = [r for r in units.values() if r["variant"] == v]
                arms[v] = prop_arm(sum(1 for r in us if r["metrics"].get(exp["primary_metric"], {}).get("count", 0) > 0), len(us))
            p = "series.%d." % i
            self.j(p + "units", len(units))
            self.time_text(p + "date", first + timedelta(days=i), date_only=True)
            self.time_text(p + "until", until)
            for ci, c in enumerate(analyse_metric("proportion", [arms[v] for v in self.vkeys])):
                lp = p + "lifts.%d." % ci
                if c.get("relative"):
                    self.j(lp + "estimate", c["relative"]["estimate"])
                    self.j(lp + "ci.0", c["relative"]["ci"][0])
                    self.j(lp + "ci.1", c["relative"]["ci"][1])
                usable = "error" not in c or c["error"] == "baseline_zero"
                self.j(lp + "p_value", c["absolute"]["p_value"] if usable else 1)

    def cohorts(self):
        """Repurchase cohorts (docs/report.md and the cohort note): week k = [f + 7(k−1) d, f + 7k d);
        units whose week k is over at as_of; repurchasers: a purchase at or after f (before as_of)
        that is not the unit's first since f, in week k."""
        exp = self.exp
        now, prim = exp["as_of"], exp["primary_metric"]
        week = timedelta(days=7)
        rows = []
        for v in self.vkeys:
            for k in range(1, 9):
                us = [r for r in self.data.analysed().values() if r["variant"] == v and r["f"] + k * week <= now]
                if not us:
                    continue
                rep = 0
                for r in us:
                    buys = [c for c in r["convs"] if c["name"] == prim and r["f"] <= c["ts"] < now]
                    if any((c["ts"] - r["f"]) // week + 1 == k for c in buys[1:]):
                        rep += 1
                rows.append((k, len(us), rep))
        for i, (k, n, rep) in enumerate(rows):
            p = "cohorts.rows.%d." % i
            self.j(p + "week", k)
            self.j(p + "units", n)
            self.j(p + "repurchasers", rep)
            self.j(p + "rate", F(rep, n))

    def spend_and_caps(self):
        """Spend: the promotion cost of the attributed conversions of the units first exposed to each
        variant, multiple-exposed units included. No frequency cap in this fixture: capped_units 0."""
        for i, v in enumerate(self.vkeys):
            self.j("spend.%d.spent" % i, sum(m["cost"] for r in self.data.units.values() if r["variant"] == v
                                              for m in r["metrics"].values()))
        self.j("capped_units", 0)

    def order_values(self, units):
        """docs/report.md, Order value: the q-quantile is the order at rank ⌈nq⌉, its interval the orders
        at ⌈nq ∓ z·√(nq(1−q))⌉ clamped to 1…n; analysed as quantile metrics (docs/stats.md: per-unit
        variance (n−1)·((upper − lower)/(2z))², Welch test), Holm within their own family."""
        exp = self.exp
        qs = [F(1, 2), F(9, 10)]
        orders = {v: sorted(o for r in units.values() if r["variant"] == v for o in r["orders"]) for v in self.vkeys}
        oi = 0
        res = []
        for qi, q in enumerate(qs):
            key = "%s_order_value_p%d" % (exp["primary_metric"], int(q * 100))
            arms = {}
            for vi, v in enumerate(self.vkeys):
                xs = orders[v]
                n = len(xs)
                h = Z * mp.sqrt(M(n * q * (1 - q)))
                rank = lambda x: min(max(int(mp.ceil(x)), 1), n)
                nq = n * q  # exact
                val, lo, up = xs[math.ceil(nq) - 1], xs[rank(M(nq) - h) - 1], xs[rank(M(nq) + h) - 1]
                p = "order_values.%d." % oi
                oi += 1
                self.j(p + "quantile", q)
                self.text(p + "metric", int(q * 100))
                self.j(p + "orders", n)
                self.j(p + "value", val)
                self.j(p + "ci.0", lo)
                self.j(p + "ci.1", up)
                ip = "order_value_analyze_input.metrics.%d." % qi
                self.j(ip + "stats.%s.units" % v, n)
                self.j(ip + "stats.%s.sum" % v, 0)
                self.j(ip + "stats.%s.quantile_value" % v, val)
                self.j(ip + "stats.%s.quantile_lower" % v, lo)
                self.j(ip + "stats.%s.quantile_upper" % v, up)
                assert n > Z ** 2 * M(q / (1 - q)) and n > Z ** 2 * M((1 - q) / q)
                var = (n - 1) * ((up - lo) / (2 * Z)) ** 2
                arms[v] = {"units": n, "sum": 0, "mean": val, "variance": var, "se": mp.sqrt(var / n)}
            self.j("order_value_analyze_input.metrics.%d.quantile" % qi, q)
            self.text("order_value_analyze_input.metrics.%d.key" % qi, int(q * 100))
            self.text("order_value_analysis.metrics.%d.key" % qi, int(q * 100))
            self.j("order_value_analysis.metrics.%d.quantile" % qi, q)
            comps = []
            for v in self.vkeys[1:]:
                c = compare_welch(arms[self.vkeys[0]], arms[v])
                add_relative(c, arms[self.vkeys[0]], arms[v], c["absolute"]["df"])
                comps.append(c)
            res.append({"key": key, "name": key, "type": "quantile", "role": "secondary", "arms": arms, "comps": comps})
        emit_analysis(self.j, "order_value_analysis", res, self.vkeys, self.weights(), self.counts(units), ("primary", "secondary"))
        for i, v in enumerate(self.exp["variants"]):
            self.j("order_value_analysis.variants.%d.promotion_cost" % i, 0)
            self.j("order_value_analyze_input.variants.%d.weight" % i, v["weight"])
            self.j("order_value_analyze_input.variants.%d.units" % i, len([r for r in units.values() if r["variant"] == v["key"]]))
            self.j("order_value_analyze_input.variants.%d.promotion_cost" % i, 0)
        self.csv_rows("all", "all", res)


def main():
    exp, events = load()
    r = Report(exp, events)
    r.run()
    dump(sys.stdout, "check_report_golden.py", [("json", r.J), ("csv", r.C)], [("text", r.T)])


if __name__ == "__main__":
    main()
