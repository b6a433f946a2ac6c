#!/usr/bin/python3
"""Independent check values of stats/testdata/design_example.golden.json, the
`promolift analyze` output of design_example.json (TestAnalyzeDesignExample
in cmd/promolift writes it with -update; TestDesignGoldenChecks in package
stats compares every number of it with these values).

Regenerate (from the repository root, with Debian's python3-mpmath):

    /usr/bin/python3 stats/testdata/check_design_golden.py > stats/testdata/design_example.checks.json

It reads design_example.json and recomputes, with goldcheck.py (exact
fractions, 40-digit mpmath; nothing from promolift's code), the arms, the
pooled-z / Wald and Welch comparisons, the delta-method, normal and Fieller
relative intervals and p-values, Holm, SRM, ROI and the personalization lift.
The output maps the dotted path of each numeric leaf (array indices as
numbers) to [value, relative tolerance]; the tolerance is 1e-9 for every
number, the revenue p-values near 1e-18 included (measured: 1e-11).
"""
import json
import os
import sys
from fractions import Fraction as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from goldcheck import TOL, analyse_metric, dump, emit_analysis, mean_arm_sums, prop_arm  # noqa: E402


def main():
    with open(os.path.join(HERE, "design_example.json")) as f:
        inp = json.load(f, parse_float=lambda s: F(s))
    out = {}

    def j(path, v, tol=TOL):
        if v is None:
            return
        assert path not in out, path
        out[path] = [float(v), tol]

    vkeys = [v["key"] for v in inp["variants"]]
    units = [int(v["units"]) for v in inp["variants"]]
    weights = [float(v["weight"]) for v in inp["variants"]]
    res = []
    for m in inp["metrics"]:
        arms = {}
        for v, n in zip(vkeys, units):
            st = m["stats"][v]
            if m["type"] == "proportion":
                arms[v] = prop_arm(int(st["sum"]), n)
            else:
                arms[v] = mean_arm_sums(F(st["sum"]), F(st["sum_squares"]), n)
        res.append({"key": m["key"], "type": m["type"], "role": m["role"], "arms": arms,
                    "comps": analyse_metric(m["type"], [arms[v] for v in vkeys])})
    emit_analysis(j, "", res, vkeys, weights, units, ("primary", "secondary"))
    for i, v in enumerate(inp["variants"]):
        j(".variants.%d.promotion_cost" % i, v["promotion_cost"])

    # ROI on roi_metric (method notes §10): incremental = Δ·n_t, ROI = (incremental − cost)/cost,
    # its CI the difference's CI mapped the same way.
    ri = [i for i, m in enumerate(res) if m["key"] == inp["roi_metric"]][0]
    for ci, c in enumerate(res[ri]["comps"]):
        nt, cost = units[ci + 1], F(inp["variants"][ci + 1]["promotion_cost"])
        inc = c["absolute"]["estimate"] * nt
        lo, hi = (x * nt for x in c["absolute"]["ci"])
        roi = {"cost": cost, "incremental_revenue": inc, "incremental_ci.0": lo, "incremental_ci.1": hi,
               "net": inc - cost, "roi": (inc - cost) / cost, "roi_percent": 100 * (inc - cost) / cost,
               "ci.0": (lo - cost) / cost, "ci.1": (hi - cost) / cost}
        for p in (".metrics.%d.comparisons.%d.roi." % (ri, ci), ".roi."):
            for k, x in roi.items():
                j(p + k, x)

    # Personalization lift (method notes §10): the relative lift of personalized over generic on
    # the primary metric, with the §3 intervals.
    pers = inp["personalization"]
    prim = [m for m in res if m["role"] == "primary"][0]
    a, b = prim["arms"][pers["generic"]], prim["arms"][pers["personalized"]]
    rel = analyse_metric(prim["type"], [a, b])[0]["relative"]
    for k in ("estimate", "se", "p_value"):
        j(".personalization_lift." + k, rel[k])
    for k in ("ci", "ci_normal"):
        for i in (0, 1):
            j(".personalization_lift.%s.%d" % (k, i), rel[k][i])

    dump(sys.stdout, "check_design_golden.py", [("json", {k[1:]: v for k, v in out.items()})])


if __name__ == "__main__":
    main()
