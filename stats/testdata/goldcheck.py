"""Independent statistics for the golden cross-checks (check_design_golden.py here and
experiments/httpapi/testdata/check_report_golden.py): the formulas of docs/stats.md and the
stats method notes recomputed with exact fractions and 40-digit mpmath (Debian's
python3-mpmath), never by calling promolift. Distributions: normal quantiles from erfinv,
Student-t tails from the regularized incomplete beta function and t quantiles by root finding
on them, the chi-square(1) tail from erfc."""
import json
from fractions import Fraction as F

import mpmath as mp

mp.mp.dps = 40
ALPHA = mp.mpf("0.05")
TARGET_POWER = mp.mpf("0.8")
MDE_REL = mp.mpf("0.05")  # docs/report.md: a 5 % relative lift when the experiment has none
TOL = 1e-9  # relative tolerance of every check value (see the scripts' headers)

# ---------------------------------------------------------------- distributions


def M(x):
    """An mpf of a number or an exact Fraction."""
    if isinstance(x, F):
        return mp.mpf(x.numerator) / x.denominator
    return mp.mpf(x)


def zq(p):
    """Standard normal quantile of p."""
    return mp.sqrt(2) * mp.erfinv(2 * M(p) - 1)


Z = zq(1 - ALPHA / 2)


def t_sf(t, nu):
    """P(T_nu > t)."""
    t, nu = M(t), M(nu)
    if t < 0:
        return 1 - t_sf(-t, nu)
    return mp.betainc(nu / 2, M(1) / 2, 0, nu / (nu + t * t), regularized=True) / 2


def t_q(p_upper, nu):
    """t with P(T_nu > t) = p_upper (p_upper < 1/2)."""
    target = M(p_upper)
    x0 = zq(1 - target)
    return mp.findroot(lambda q: mp.log(t_sf(q, nu)) - mp.log(target), (x0, x0 * mp.mpf("1.01") + mp.mpf("0.01")),
                       solver="secant")


def two_sided_t(stat, nu):
    return 2 * t_sf(abs(stat), nu)


def two_sided_z(stat):
    return 2 * mp.ncdf(-abs(stat))


def chi2_sf_df1(x):
    return mp.erfc(mp.sqrt(M(x) / 2))


def welch_df(va, na, vb, nb):
    ua, ub = M(va) / na, M(vb) / nb
    den = M(0)
    if ua > 0:
        den += ua * ua / (na - 1)
    if ub > 0:
        den += ub * ub / (nb - 1)
    if den == 0:
        return None  # both arms without variance: no ν
    return (ua + ub) ** 2 / den


def holm(ps):
    """Holm step-down over the finite p-values; None stays None."""
    idx = [i for i, p in enumerate(ps) if p is not None]
    m = len(idx)
    order = sorted(idx, key=lambda i: ps[i])
    out = [None] * len(ps)
    run = M(0)
    for r, i in enumerate(order):
        run = max(run, min(M(1), (m - r) * ps[i]))
        out[i] = run
    return out

# ---------------------------------------------------------------- statistics


def prop_arm(x, n):
    p = F(x, n)
    return {"units": n, "sum": x, "mean": p, "rate": p, "variance": p * (1 - p), "se": mp.sqrt(M(p * (1 - p)) / n)}


def mean_arm(ys, n):
    return mean_arm_sums(sum(ys), sum(y * y for y in ys), n)


def mean_arm_sums(s, q, n):
    """Mean metric from S = Σy, Q = Σy² (exact Fractions or ints): m = S/n, s² = (Q − S²/n)/(n−1)."""
    s, q = F(s), F(q)
    m = s / n
    v = (q - s * s / n) / (n - 1) if n > 1 else F(0)
    return {"units": n, "sum": s, "mean": m, "variance": v, "se": mp.sqrt(M(v) / n), "Q": q}


def relative(ma, va, na, mb, vb, nb, est_abs, df, var_l=None):
    """docs/stats.md / method notes §3: L = Δ/|m_a|, delta-method variance, t CI with the Welch ν,
    the normal CI, Fieller's interval and g (z quantiles)."""
    ma, va, mb, vb = M(ma), M(va), M(mb), M(vb)
    L = M(est_abs) / abs(ma)
    if var_l is None:
        var_l = vb / (nb * ma ** 2) + mb ** 2 * va / (na * ma ** 4)
    se = mp.sqrt(var_l)
    out = {"estimate": L, "se": se, "df": df}
    if se == 0:
        out["zero"] = True
        return out
    tq = t_q(ALPHA / 2, df)
    out["ci"] = [L - tq * se, L + tq * se]
    out["ci_normal"] = [L - Z * se, L + Z * se]
    out["p_value"] = two_sided_t(L / se, df)
    g = Z ** 2 * (va / na) / ma ** 2
    out["fieller_g"] = g
    if g < 1 and ma > 0:
        r = mb / ma
        h = Z / ma * mp.sqrt(vb / nb * (1 - g) + r * r * va / na)
        out["ci_fieller"] = [(r - h) / (1 - g) - 1, (r + h) / (1 - g) - 1]
    return out


def compare_prop(a, b):
    """Pooled two-proportion z p-value, Wald CI (method notes §2)."""
    est = M(b["mean"] - a["mean"])
    se = mp.sqrt(M(a["variance"]) / a["units"] + M(b["variance"]) / b["units"])
    pbar = F(a["sum"] + b["sum"], a["units"] + b["units"])
    se0 = mp.sqrt(M(pbar * (1 - pbar)) * (M(1) / a["units"] + M(1) / b["units"]))
    c = {"absolute": {"estimate": est, "se": se}}
    if se == 0:
        if est == 0:
            c["absolute"].update(stat=M(0), ci=[M(0), M(0)], p_value=M(1), pooled_z_p_value=M(1))
        else:
            raise NotImplementedError("0/n against n/n: not met by the fixtures checked")
    else:
        stat = est / se0
        p = two_sided_z(stat)
        c["absolute"].update(stat=stat, ci=[est - Z * se, est + Z * se], p_value=p, pooled_z_p_value=p)
    return c


def compare_welch(a, b):
    est = M(b["mean"] - a["mean"])
    va, vb = M(a["variance"]), M(b["variance"])
    se = mp.sqrt(va / a["units"] + vb / b["units"])
    c = {"absolute": {"estimate": est, "se": se}}
    if se == 0:
        if est == 0:
            c["absolute"].update(stat=M(0), ci=[M(0), M(0)], p_value=M(1), df=None)
            return c
        raise NotImplementedError("constant arms that differ: not met by the fixtures checked")
    df = welch_df(va, a["units"], vb, b["units"])
    tq = t_q(ALPHA / 2, df)
    c["absolute"].update(df=df, stat=est / se, ci=[est - tq * se, est + tq * se], p_value=two_sided_t(est / se, df))
    return c


def add_relative(c, a, b, df, var_l=None):
    if "error" in c:
        return
    if a["mean"] == 0:
        c["error"] = "baseline_zero"
        return
    rel = relative(a["mean"], a["variance"], a["units"], b["mean"], b["variance"], b["units"],
                   c["absolute"]["estimate"], df, var_l)
    if rel.get("zero"):
        if rel["estimate"] != 0:
            c["error"] = "zero_variance"
        c["relative_zero"] = rel
        return
    c["relative"] = rel


def analyse_metric(kind, arms, pre=None):
    """arms: control first. Returns arm outputs and the comparison of each other arm."""
    a = arms[0]
    comps = []
    for b in arms[1:]:
        if kind == "proportion":
            c = compare_prop(a, b)
            add_relative(c, a, b, welch_df(a["variance"], a["units"], b["variance"], b["units"]))
        elif pre is not None:
            c = cuped(pre[0], pre[1])
        else:
            c = compare_welch(a, b)
            if "error" not in c:
                add_relative(c, a, b, c["absolute"]["df"])
        comps.append(c)
    return comps


def moments(ys, xs):
    n = len(ys)
    my, mx = F(sum(ys), n), F(sum(xs), n)
    vy = sum((F(y) - my) ** 2 for y in ys) / (n - 1)
    vx = sum((F(x) - mx) ** 2 for x in xs) / (n - 1)
    cxy = sum((F(y) - my) * (F(x) - mx) for y, x in zip(ys, xs)) / (n - 1)
    return my, mx, vy, vx, cxy


def cuped(pa, pb):
    """CUPED (method notes §8, Deng et al. 2013): θ = cov(y,x)/var(x) over both arms pooled (n−1),
    adjusted means ȳ − θx̄, Welch test on the adjusted per-unit variances; relative lift over the
    unadjusted control mean with the delta method over (ȳ_a, x̄_a) of L = [(ȳ_b−θx̄_b)−(ȳ_a−θx̄_a)]/ȳ_a."""
    ya, xa = pa
    yb, xb = pb
    ys, xs = ya + yb, xa + xb
    _, _, _, vx, cxy = moments(ys, xs)
    theta = cxy / vx
    mya, mxa, vya, vxa, ca = moments(ya, xa)
    myb, mxb, vyb, vxb, cb = moments(yb, xb)
    na, nb = len(ya), len(yb)
    adja = vya + theta ** 2 * vxa - 2 * theta * ca
    adjb = vyb + theta ** 2 * vxb - 2 * theta * cb
    est = (myb - theta * mxb) - (mya - theta * mxa)
    se2 = adja / na + adjb / nb
    se = mp.sqrt(M(se2))
    df = welch_df(adja, na, adjb, nb)
    tq = t_q(ALPHA / 2, df)
    est_m = M(est)
    c = {"absolute": {"estimate": est_m, "se": se, "df": df, "stat": est_m / se, "ci": [est_m - tq * se, est_m + tq * se],
                      "p_value": two_sided_t(est_m / se, df)},
         "cuped": {"theta": theta, "variance_reduction": 1 - se2 / (vya / na + vyb / nb)}}
    # Delta method: gradient of L in (ȳ_a, x̄_a) with the arm's covariance matrix; treatment's
    # adjusted mean enters with its own variance adjb/nb.
    L = est / mya
    A = myb - theta * mxb + theta * mxa
    g = (-A / mya ** 2, theta / mya)
    cov = ((vya, ca), (ca, vxa))
    qa = sum(g[i] * cov[i][j] * g[j] for i in range(2) for j in range(2))
    var_l = adjb / (nb * mya ** 2) + qa / na
    rel = {"estimate": M(L), "se": mp.sqrt(M(var_l)), "df": df}
    rel["ci"] = [rel["estimate"] - tq * rel["se"], rel["estimate"] + tq * rel["se"]]
    rel["ci_normal"] = [rel["estimate"] - Z * rel["se"], rel["estimate"] + Z * rel["se"]]
    rel["p_value"] = two_sided_t(rel["estimate"] / rel["se"], df)
    rel["fieller_g"] = Z ** 2 * M(vya / na) / M(mya) ** 2
    c["relative"] = rel
    return c


def power(c, ctrl_mean, n_total, elapsed):
    """docs/stats.md, Power during the test: δ = δ_rel·|m_a|, power = Φ(δ/se − z) + Φ(−δ/se − z);
    k ≥ 1 with the power at se/√k equal to the target; additional_units = (k−1)·n,
    days_needed = (k−1)·elapsed_days."""
    se = c["absolute"]["se"]
    d = MDE_REL * abs(M(ctrl_mean))
    pw = lambda k: mp.ncdf(d * mp.sqrt(k) / se - Z) + mp.ncdf(-d * mp.sqrt(k) / se - Z)
    out = {"mde_relative": MDE_REL, "mde_absolute": d, "target_power": TARGET_POWER, "power": pw(1)}
    if pw(1) >= TARGET_POWER:
        k = M(1)
    else:
        # the power grows with k: bracket, then solve
        hi = M(2)
        while pw(hi) < TARGET_POWER:
            hi *= 2
        k = mp.findroot(lambda k: pw(k) - TARGET_POWER, (hi / 2, hi), solver="anderson")
    out["additional_units"] = (k - 1) * n_total
    out["days_needed"] = (k - 1) * elapsed
    return out

def emit_analysis(j, prefix, res, vkeys, weights, n, family_roles, power_n=None, elapsed=None):
    """Writes with j(path, value) the numbers of one stats.Analyze output at prefix: arms,
    comparisons (Holm over the comparisons of family_roles with a usable p-value; the others keep
    their p), power when power_n is given, variants and SRM. res: metrics as analyse_metric's
    callers build them; n: units per variant; weights: design weights."""
    """The stats output of one analysis at prefix (arms, comparisons, Holm over the family)."""
    fam_idx, fam_p = [], []
    for mi, m in enumerate(res):
        for ci, c in enumerate(m["comps"]):
            usable = "error" not in c or c["error"] == "baseline_zero"
            if m["role"] in family_roles and usable:
                fam_idx.append((mi, ci))
                fam_p.append(c["absolute"]["p_value"])
    adj = dict(zip(fam_idx, holm(fam_p)))
    for mi, m in enumerate(res):
        mp_ = "%s.metrics.%d." % (prefix, mi)
        for ai, v in enumerate(vkeys):
            a = m["arms"][v]
            ap = mp_ + "arms.%d." % ai
            for f in ("units", "sum", "mean", "variance", "se"):
                j(ap + f, a[f])
            if m["type"] == "proportion":
                j(ap + "rate", a["rate"])
        for ci, c in enumerate(m["comps"]):
            cp = mp_ + "comparisons.%d." % ci
            ab = c["absolute"]
            j(cp + "absolute.estimate", ab["estimate"])
            j(cp + "absolute.se", ab["se"])
            if ab.get("df") is not None:
                j(cp + "absolute.df", ab["df"])
            j(cp + "absolute.stat", ab.get("stat"))
            for k in (0, 1):
                j(cp + "absolute.ci.%d" % k, ab["ci"][k])
            j(cp + "absolute.p_value", ab["p_value"])
            j(cp + "absolute.pooled_z_p_value", ab.get("pooled_z_p_value"))
            rel = c.get("relative")
            if rel:
                for f in ("estimate", "se", "df", "fieller_g", "p_value"):
                    j(cp + "relative." + f, rel[f])
                for f in ("ci", "ci_normal", "ci_fieller"):
                    if f in rel:
                        for k in (0, 1):
                            j(cp + "relative.%s.%d" % (f, k), rel[f][k])
            p = ab["p_value"]
            a_ = adj.get((mi, ci), p)
            c["adjusted"] = a_
            j(cp + "adjusted_p_value", a_)
            if "cuped" in c:
                j(cp + "cuped.theta", c["cuped"]["theta"])
                j(cp + "cuped.variance_reduction", c["cuped"]["variance_reduction"])
            if power_n is not None:
                c["power"] = power(c, m["arms"][vkeys[0]]["mean"], power_n, elapsed)
                for f, v in c["power"].items():
                    j(cp + "power." + f, v)
    N = sum(n)
    w = weights
    share = [F(str(x)) / sum(F(str(y)) for y in w) for x in w]
    for i in range(len(n)):
        j("%s.variants.%d.units" % (prefix, i), n[i])
        j("%s.variants.%d.weight" % (prefix, i), w[i])
        j("%s.variants.%d.expected_share" % (prefix, i), share[i])
        j("%s.variants.%d.observed_share" % (prefix, i), F(n[i], N))
    j(prefix + ".alpha", ALPHA)
    chi2 = sum((F(n[i]) - share[i] * N) ** 2 / (share[i] * N) for i in range(len(n)))
    j(prefix + ".srm.chi2", chi2)
    j(prefix + ".srm.df", len(n) - 1)
    j(prefix + ".srm.p_value", chi2_sf_df1(M(chi2)))


def dump(out, source, sections, lists=()):
    """Writes a check file to out: {"source": source, name: {key: [value, tolerance]}} for each
    (name, dict) of sections and {name: {key: [values]}} for each of lists, one entry per line,
    keys sorted."""
    out.write('{"source": %s' % json.dumps(source))
    for name, checks in sections:
        out.write(',\n%s: {' % json.dumps(name))
        out.write(",".join("\n%s: [%r, %r]" % (json.dumps(k), float(v), float(t)) for k, (v, t) in sorted(checks.items())))
        out.write("\n}")
    for name, entries in lists:
        out.write(',\n%s: {' % json.dumps(name))
        out.write(",".join("\n%s: [%s]" % (json.dumps(k), ", ".join(repr(float(x)) for x in v)) for k, v in sorted(entries.items())))
        out.write("\n}")
    out.write("}\n")
