#!/usr/bin/python3
"""Independent check values for the statistics added with issue 21
(one-sided tests, CUPED for proportions, regression-adjusted ratios,
post-stratification, quantile metrics, power during the test, the Bayesian
absolute scale). Run from the repository root with Debian's Python:

    apt-get install -y python3-scipy python3-mpmath python3-statsmodels
    /usr/bin/python3 stats/testdata/gen_depth.py > stats/testdata/depth_checks.json

Nothing here is derived from the Go code. Where possible the expected
values come from raw simulated data (numpy, seeded) rather than from the
sufficient-statistic formulas the Go code uses: the CUPED and
regression-adjusted ratio variances are sample (co)variances of the
per-unit data, the quantile bounds are order statistics of the sorted
sample, and delta-method gradients are mpmath numerical derivatives.
One-sided sequential p-values are found by root finding on the
confidence-sequence bound (GrowthBook's definition, which it bisects);
power is the normal probability of the rejection region, with the Bayesian
region found by root finding on the posterior credible bound.
"""
import json
import sys

import mpmath as mp
import numpy as np
import scipy
import statsmodels
from statsmodels.stats.proportion import proportions_ztest

from checklib import CHECKS, M, add, nsf, t_sf, tq, welch_df, zq


def zq1(alpha):
    """z_{1-alpha} (one-sided)."""
    return zq(2 * M(alpha))


def tq1(alpha, nu):
    """t_{1-alpha, nu} (one-sided)."""
    return tq(2 * M(alpha), nu)


def mvar(x, ddof):
    """Sample variance of a list of mpf."""
    n = len(x)
    m = mp.fsum(x) / n
    return mp.fsum((v - m) ** 2 for v in x) / (n - ddof)


def mcov(x, y, ddof):
    n = len(x)
    mx, my = mp.fsum(x) / n, mp.fsum(y) / n
    return mp.fsum((a - mx) * (b - my) for a, b in zip(x, y)) / (n - ddof)


def grad(f, pt):
    """Numerical gradient of f at pt (mpmath)."""
    return [mp.diff(lambda t, i=i: f(*[t if j == i else pt[j] for j in range(len(pt))]), pt[i]) for i in range(len(pt))]


def quadform(g, S):
    return mp.fsum(g[i] * S[i][j] * g[j] for i in range(len(g)) for j in range(len(g)))


def bisect(f, lo, hi):
    """Root of an increasing f on [lo, hi] by bisection to 1e-25 (quadrature noise stops secant solvers)."""
    for _ in range(100):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < M(10) ** -25:
            break
    return (lo + hi) / 2


# ---------------------------------------------------------------- one-sided Welch t
def arm_moments(n, s, q):
    n, s, q = M(n), M(s), M(q)
    return n, s / n, (q - s * s / n) / (n - 1)


ONE_SIDED = [
    ("gb_means", (3000, 1396.87, 52377.9767), (3461, 2422.7, 134698.29), 0.05),
    ("small_n", (12, 30.5, 110.25), (15, 52.0, 230.0), 0.1),
    ("negative_effect", (500, 2500.0, 20000.0), (480, 2300.0, 18000.0), 0.05),
]
for name, a, b, alpha in ONE_SIDED:
    (na, ma, va), (nb, mb, vb) = arm_moments(*a), arm_moments(*b)
    nu = welch_df(na, va / na, nb, vb / nb)
    d = mb - ma
    se = mp.sqrt(va / na + vb / nb)
    L = d / abs(ma)
    g = grad(lambda x, y: (y - x) / abs(x), [ma, mb])
    sel = mp.sqrt(g[0] ** 2 * va / na + g[1] ** 2 * vb / nb)
    for alt in ("greater", "less"):
        sgn = 1 if alt == "greater" else -1
        want = dict(p=t_sf(sgn * d / se, nu), rel_p=t_sf(sgn * L / sel, nu),
                    bound=d - sgn * tq1(alpha, nu) * se, rel_bound=L - sgn * tq1(alpha, nu) * sel)
        add("one_sided_welch", f"{name}/{alt}", {"a": list(a), "b": list(b), "alpha": alpha, "alternative": alt}, want)

# ---------------------------------------------------------------- one-sided pooled z
for name, na, xa, nb, xb in [("design", 10000, 1000, 10000, 1100), ("small", 200, 20, 210, 15)]:
    for alt, sm in (("greater", "larger"), ("less", "smaller")):
        pbar = M(xa + xb) / (na + nb)
        z = (M(xb) / nb - M(xa) / na) / mp.sqrt(pbar * (1 - pbar) * (M(1) / na + M(1) / nb))
        p = nsf(z) if alt == "greater" else nsf(-z)
        _, ps = proportions_ztest([xb, xa], [nb, na], alternative=sm)
        assert abs(ps - float(p)) < 1e-7 * float(p), (name, ps, p)
        add("one_sided_pooled_z", f"{name}/{alt}", {"na": na, "xa": xa, "nb": nb, "xb": xb, "alternative": alt}, {"p": p})


# ---------------------------------------------------------------- one-sided confidence sequence
def cs1_halfwidth(se, n, tuning, alpha, rho2):
    # Waudby-Smith et al. 2023 eq. 134 in GrowthBook's parametrisation:
    # s2 = se²·n, halfwidth = sqrt(s2 · 2(nρ²+1)/(n²ρ²) · ln(1 + sqrt(nρ²+1)/(2α)))
    s2 = se * se * n
    return mp.sqrt(s2 * 2 * (n * rho2 + 1) / (n * n * rho2) * mp.log(1 + mp.sqrt(n * rho2 + 1) / (2 * alpha)))


def cs1(est, se, n, tuning, alpha, alt):
    est, se, n, tuning, alpha = map(M, (est, se, n, tuning, alpha))
    a2 = 2 * alpha
    rho2 = (-2 * mp.log(a2) + mp.log(-2 * mp.log(a2) + 1)) / tuning  # GrowthBook sequential_rho(two_sided=False)
    hw = cs1_halfwidth(se, n, tuning, alpha, rho2)
    sgn = 1 if alt == "greater" else -1
    # p: the α' at which the bound (ρ kept) reaches 0; 1 when it never does
    if sgn * est <= 0:
        p = M(1)
    else:
        f = lambda la: sgn * est - cs1_halfwidth(se, n, tuning, mp.exp(la), rho2)
        # bracket on ln α' over (-700, ln(1e6)): f increases with α'
        lo, hi = M(-700), M(20)
        if f(hi) < 0:
            p = M(1)
        else:
            p = min(M(1), mp.exp(bisect(f, lo, hi)))
    return dict(halfwidth=hw, p_value=p)


for name, est, se, n, tuning, alpha in [("gb_absolute", 0.23437666666666668, 0.12983081254184736, 6461, 5000, 0.05),
                                        ("strong", 0.05, 0.01, 20000, 5000, 0.05),
                                        ("small_n", 1.5, 0.9, 150, 5000, 0.1),
                                        ("huge_n", 0.002, 0.0004, 2e7, 10000, 0.05)]:
    for alt in ("greater", "less"):
        e = est if alt == "greater" else -est
        add("sequential_one_sided", f"{name}/{alt}", {"est": e, "se": se, "n": n, "tuning": tuning, "alpha": alpha,
                                                       "alternative": alt}, cs1(e, se, n, tuning, alpha, alt))


# ---------------------------------------------------------------- CUPED for proportions (raw data)
def cuped_prop_case(name, seed, na, nb, base, lift, alpha):
    rng = np.random.default_rng(seed)
    arms, raw = [], []
    for n, l in ((na, 0.0), (nb, lift)):
        x = rng.poisson(1.2, n).astype(float)  # pre-period purchases
        pr = np.clip(base + 0.08 * x + l, 0, 1)
        y = (rng.random(n) < pr).astype(float)
        arms.append([int(n), float(y.sum()), float(x.sum()), float((x * x).sum()), float((x * y).sum())])
        raw.append(([M(v) for v in y], [M(v) for v in x]))
    ys = raw[0][0] + raw[1][0]
    xs = raw[0][1] + raw[1][1]
    theta = mcov(xs, ys, 0) / mvar(xs, 0)
    mom = []
    for y, x in raw:
        n = M(len(y))
        adj = [a - theta * b for a, b in zip(y, x)]
        mom.append(dict(n=n, my=mp.fsum(y) / n, mx=mp.fsum(x) / n, vadj=mvar(adj, 0), vy=mvar(y, 0),
                        S=[[mvar(y, 0), mcov(y, x, 0)], [mcov(y, x, 0), mvar(x, 0)]]))
    A, B = mom
    f_abs = lambda ya, xa, yb, xb: (yb - theta * xb) - (ya - theta * xa)
    f_rel = lambda ya, xa, yb, xb: f_abs(ya, xa, yb, xb) / abs(ya)
    pt = [A["my"], A["mx"], B["my"], B["mx"]]
    est = f_abs(*pt)
    se = mp.sqrt(A["vadj"] / A["n"] + B["vadj"] / B["n"])
    g = grad(f_rel, pt)
    vrel = quadform(g[:2], A["S"]) / A["n"] + quadform(g[2:], B["S"]) / B["n"]
    z = zq(alpha)
    want = dict(theta=theta, estimate=est, se=se, p_value=2 * nsf(abs(est / se)), ci_lo=est - z * se, ci_hi=est + z * se,
                variance_reduction=1 - se ** 2 / (A["vy"] / A["n"] + B["vy"] / B["n"]),
                rel_estimate=f_rel(*pt), rel_se=mp.sqrt(vrel))
    add("cuped_proportion", name, {"a": arms[0], "b": arms[1], "alpha": alpha}, want)


cuped_prop_case("purchase_rate", 5, 3000, 3100, 0.05, 0.02, 0.05)
cuped_prop_case("small", 9, 80, 90, 0.1, 0.05, 0.1)


# ---------------------------------------------------------------- regression-adjusted ratio
def ratio_parts(v):
    """v: dict of per-unit lists M, D, X, E (mpf) -> n, means β, covariance Λ (ddof 1)."""
    keys = ("M", "D", "X", "E")
    n = M(len(v["M"]))
    beta = [mp.fsum(v[k]) / n for k in keys]
    lam = [[mcov(v[a], v[b], 1) for b in keys] for a in keys]
    return n, beta, lam


def ratio_from_sums(s):
    """The same from sums (for GrowthBook's published case, which has no raw data)."""
    n = M(s["n"])
    sums = [M(s[k]) for k in ("M", "D", "X", "E")]
    sq = [M(s[k]) for k in ("MM", "DD", "XX", "EE")]
    cross = {(0, 1): s["MD"], (0, 2): s["MX"], (0, 3): s["ME"], (1, 2): s["XD"], (1, 3): s["DE"], (2, 3): s["XE"]}
    lam = [[M(0)] * 4 for _ in range(4)]
    for i in range(4):
        lam[i][i] = (sq[i] - sums[i] ** 2 / n) / (n - 1)
    for (i, j), c in cross.items():
        lam[i][j] = lam[j][i] = (M(c) - sums[i] * sums[j] / n) / (n - 1)
    return n, [x / n for x in sums], lam


def ratio_case(name, parts, alpha, inp):
    (na, ba, la), (nb, bb, lb) = parts
    post = lambda m, d, x, e: m / d
    pre = lambda m, d, x, e: x / e
    # θ as gbstats: Σ_arms cov(R_post, R_pre) / Σ_arms var(R_pre), per-unit delta moments
    cov = lambda b, l: mp.fsum(gi * l[i][j] * hj for i, gi in enumerate(grad(pre, b)) for j, hj in enumerate(grad(post, b)))
    var = lambda b, l: quadform(grad(pre, b), l)
    theta = (cov(ba, la) + cov(bb, lb)) / (var(ba, la) + var(bb, lb))
    adj = lambda m, d, x, e: m / d - theta * x / e
    va, vb = quadform(grad(adj, ba), la), quadform(grad(adj, bb), lb)
    est = adj(*bb) - adj(*ba)
    se = mp.sqrt(va / na + vb / nb)
    nu = welch_df(na, va / na, nb, vb / nb)
    q = tq(alpha, nu)
    ra = post(*ba)
    tb = adj(*bb)
    rel = lambda m, d, x, e: (tb - (m / d - theta * x / e)) / abs(m / d)
    vrel = vb / (nb * ra * ra) + quadform(grad(rel, ba), la) / na
    L = rel(*ba)
    sel = mp.sqrt(vrel)
    raw = quadform(grad(post, ba), la) / na + quadform(grad(post, bb), lb) / nb
    want = dict(theta=theta, estimate=est, se=se, df=nu, p_value=2 * t_sf(abs(est / se), nu), ci_lo=est - q * se,
                ci_hi=est + q * se, variance_reduction=1 - se ** 2 / raw, rel_estimate=L, rel_se=sel,
                rel_p_value=2 * t_sf(abs(L / sel), nu))
    add("ratio_cuped", name, dict(inp, alpha=alpha), want)


def ratio_sim(name, seed, na, nb, lift, alpha):
    rng = np.random.default_rng(seed)
    arms, parts = [], []
    for n, l in ((na, 0.0), (nb, lift)):
        e = rng.poisson(2.0, n) + 1.0  # pre-period orders
        x = e * rng.gamma(4.0, 10.0, n)  # pre-period revenue
        d = np.maximum(1.0, np.round(0.6 * e + rng.poisson(1.0, n)))  # orders
        m = d * (0.5 * x / e + rng.gamma(4.0, 5.0, n)) * (1 + l)  # revenue
        s = {"n": int(n), "M": m.sum(), "MM": (m * m).sum(), "D": d.sum(), "DD": (d * d).sum(), "MD": (m * d).sum(),
             "X": x.sum(), "XX": (x * x).sum(), "E": e.sum(), "EE": (e * e).sum(), "MX": (m * x).sum(),
             "DE": (d * e).sum(), "XE": (x * e).sum(), "ME": (m * e).sum(), "XD": (x * d).sum()}
        arms.append({k: float(v) for k, v in s.items()})
        parts.append(ratio_parts({"M": [M(v) for v in m], "D": [M(v) for v in d], "X": [M(v) for v in x],
                                  "E": [M(v) for v in e]}))
    ratio_case(name, parts, alpha, {"a": arms[0], "b": arms[1]})


GB_RATIO = [
    {"n": 100, "M": 485.112236689623, "MM": 2715.484666118136, "D": 679.9093275844917, "DD": 4939.424001640236,
     "X": 192.59138069991536, "XX": 460.076026390857, "E": 290.1398399750233, "EE": 920.9461385038898,
     "MX": 1113.6215759318352, "DE": 2130.9404074446747, "XE": 634.239482353647, "MD": 3602.146836776702,
     "ME": 1559.2878434944676, "XD": 1460.3181079276983},
    {"n": 100, "M": 514.7757826608777, "MM": 2994.897482705013, "D": 705.4090874383759, "DD": 5291.36604146392,
     "X": 206.94157227402536, "XX": 514.2903702246757, "E": 302.54389139107326, "EE": 994.4506208125663,
     "MX": 1237.0953021125997, "DE": 2292.081739775257, "XE": 698.4173425817908, "MD": 3918.1561431600717,
     "ME": 1701.0287270040265, "XD": 1604.0759503266522},
]
ratio_case("gb_published_sums", [ratio_from_sums(s) for s in GB_RATIO], 0.05, {"a": GB_RATIO[0], "b": GB_RATIO[1]})
ratio_sim("revenue_per_order", 21, 400, 420, 0.05, 0.05)
ratio_sim("small", 4, 25, 30, 0.1, 0.1)


# ---------------------------------------------------------------- post-stratification (raw data)
def post_strat_case(name, seed, typ, strata, alpha):
    """strata: list of (name, n_a, n_b, base, lift)."""
    rng = np.random.default_rng(seed)
    inp, cells = {}, []
    for sname, na, nb, base, lift in strata:
        inp[sname] = {}
        cell = []
        for key, n, l in (("a", na, 0.0), ("b", nb, lift)):
            if typ == "proportion":
                y = (rng.random(n) < base + l).astype(float)
                inp[sname][key] = {"units": n, "sum": float(y.sum())}
                ddof = 0
            else:
                y = rng.gamma(2.0, base / 2.0, n) + l
                inp[sname][key] = {"units": n, "sum": float(y.sum()), "sum_squares": float((y * y).sum())}
                ddof = 1
            ym = [M(v) for v in y]
            cell.append((M(n), mp.fsum(ym) / n, mvar(ym, ddof)))
        cells.append(cell)
    N = mp.fsum(a[0] + b[0] for a, b in cells)
    w = [(a[0] + b[0]) / N for a, b in cells]
    ma = mp.fsum(wi * a[1] for wi, (a, b) in zip(w, cells))
    mb = mp.fsum(wi * b[1] for wi, (a, b) in zip(w, cells))
    Va = mp.fsum(wi ** 2 * a[2] / a[0] for wi, (a, b) in zip(w, cells))
    Vb = mp.fsum(wi ** 2 * b[2] / b[0] for wi, (a, b) in zip(w, cells))
    d = mb - ma
    se = mp.sqrt(Va + Vb)
    z = zq(alpha)
    g = grad(lambda x, y: (y - x) / abs(x), [ma, mb])
    sel = mp.sqrt(g[0] ** 2 * Va + g[1] ** 2 * Vb)
    L = (mb - ma) / abs(ma)
    want = dict(estimate=d, se=se, p_value=2 * nsf(abs(d / se)), ci_lo=d - z * se, ci_hi=d + z * se,
                rel_estimate=L, rel_se=sel, rel_ci_lo=L - z * sel, rel_ci_hi=L + z * sel)
    add("post_strat", name, {"type": typ, "strata": inp, "alpha": alpha}, want)


post_strat_case("rfm_purchase", 13, "proportion",
                [("champions", 400, 410, 0.30, 0.04), ("loyal", 900, 880, 0.12, 0.02), ("new", 1500, 1530, 0.04, 0.01)], 0.05)
post_strat_case("rfm_revenue", 17, "mean",
                [("high", 300, 320, 120.0, 8.0), ("mid", 700, 690, 60.0, 3.0), ("low", 1000, 980, 15.0, 1.0)], 0.05)
post_strat_case("two_strata_small", 23, "mean", [("x", 12, 15, 50.0, 5.0), ("y", 20, 18, 10.0, 1.0)], 0.1)


# ---------------------------------------------------------------- quantile metrics (raw data)
def order_stats(y, q):
    """Sample quantile and the order statistics at ranks n·q ∓ z_{.975}·sqrt(n·q(1−q)) (1-based, rounded)."""
    y = np.sort(y)
    n = len(y)
    z = float(zq(0.05))
    h = z * np.sqrt(n * q * (1 - q))
    lo = int(max(1, min(n, np.floor(n * q - h))))
    hi = int(max(1, min(n, np.ceil(n * q + h))))
    k = int(max(1, min(n, np.ceil(n * q))))
    return float(y[k - 1]), float(y[lo - 1]), float(y[hi - 1])


def quantile_case(name, seed, na, nb, q, scale_b, alpha):
    rng = np.random.default_rng(seed)
    arms, mom = [], []
    for n, s in ((na, 1.0), (nb, scale_b)):
        y = rng.lognormal(3.5, 0.8, n) * s
        v, lo, hi = order_stats(y, q)
        arms.append({"units": n, "quantile_value": v, "quantile_lower": lo, "quantile_upper": hi})
        n = M(n)
        # gbstats QuantileStatistic with n* = n: variance = (n−1)·((hi−lo)/(2 z_.975))²
        var = (n - 1) * ((M(hi) - M(lo)) / (2 * zq(0.05))) ** 2
        mom.append((n, M(v), var))
    (na, ma, va), (nb, mb, vb) = mom
    nu = welch_df(na, va / na, nb, vb / nb)
    d = mb - ma
    se = mp.sqrt(va / na + vb / nb)
    t = tq(alpha, nu)
    add("quantile", name, {"quantile": q, "a": arms[0], "b": arms[1], "alpha": alpha},
        dict(estimate=d, se=se, df=nu, p_value=2 * t_sf(abs(d / se), nu), ci_lo=d - t * se, ci_hi=d + t * se))


quantile_case("median_order_value", 31, 2000, 2100, 0.5, 1.04, 0.05)
quantile_case("p90_order_value", 37, 2000, 2100, 0.9, 1.06, 0.05)
quantile_case("p10_small", 41, 120, 130, 0.1, 1.0, 0.1)


# ---------------------------------------------------------------- power during the test
def rejection_power(mde, se, lo, hi):
    """P(D̂ > hi) + P(D̂ < lo) for D̂ ~ N(mde, se²)."""
    up = 1 - mp.ncdf(hi, mde, se)
    down = mp.ncdf(lo, mde, se) if lo is not None else M(0)
    return up + down


def region(engine, alt, se, n, alpha, tuning, prior):
    """Thresholds (lo, hi) of the estimate beyond which the engine declares significance."""
    if engine == "frequentist":
        if alt == "two-sided":
            z = zq(alpha)
            return -z * se, z * se
        return None, zq1(alpha) * se
    if engine == "sequential":
        if alt == "two-sided":
            rho2 = (-2 * mp.log(alpha) + mp.log(1 - 2 * mp.log(alpha))) / tuning
            s2 = se * se * n
            hw = mp.sqrt(s2 * 2 * (n * rho2 + 1) * mp.log(mp.sqrt(n * rho2 + 1) / alpha) / (n * n * rho2))
            return -hw, hw
        a2 = 2 * alpha
        rho2 = (-2 * mp.log(a2) + mp.log(-2 * mp.log(a2) + 1)) / tuning
        return None, cs1_halfwidth(se, n, tuning, alpha, rho2)
    # bayesian: the (1−α) credible interval of the posterior excludes 0
    m0, s0 = prior
    z = zq(alpha)

    def post(x):
        if s0 is None:
            return x, se
        prec = 1 / se ** 2 + 1 / s0 ** 2
        return (x / se ** 2 + m0 / s0 ** 2) / prec, mp.sqrt(1 / prec)

    hi = mp.findroot(lambda x: post(x)[0] - z * post(x)[1], z * se)
    lo = mp.findroot(lambda x: post(x)[0] + z * post(x)[1], -z * se)
    return lo, hi


def power_at(k, mde, se, n, engine, alt, alpha, tuning, prior):
    s = se / mp.sqrt(k)
    lo, hi = region(engine, alt, s, n * k, alpha, tuning, prior)
    return rejection_power(mde, s, lo, hi)


POWER = [
    ("freq_two_sided", 0.005, 0.003, 20000, "frequentist", "two-sided", 0.05, 5000, (0, None), 0.8),
    ("freq_greater", 0.005, 0.003, 20000, "frequentist", "greater", 0.05, 5000, (0, None), 0.8),
    ("freq_reached", 0.02, 0.004, 50000, "frequentist", "two-sided", 0.05, 5000, (0, None), 0.8),
    ("sequential_two_sided", 0.5, 0.3, 6000, "sequential", "two-sided", 0.05, 5000, (0, None), 0.8),
    ("sequential_greater", 0.5, 0.3, 6000, "sequential", "greater", 0.05, 5000, (0, None), 0.9),
    ("bayes_flat", 0.004, 0.003, 30000, "bayesian", "two-sided", 0.05, 5000, (0, None), 0.8),
    ("bayes_proper", 0.004, 0.003, 30000, "bayesian", "two-sided", 0.05, 5000, (0.0, 0.003), 0.8),
]
for name, mde, se, n, engine, alt, alpha, tuning, (m0, s0), target in POWER:
    args = (M(mde), M(se), M(n), engine, alt, M(alpha), M(tuning), (M(m0), M(s0) if s0 else None))
    pw = power_at(M(1), *args)
    if pw >= target:
        k = M(1)
    else:
        k = mp.exp(bisect(lambda lk: power_at(mp.exp(lk), *args) - target, M(0), M(14)))
    add("power", name, {"mde": mde, "se": se, "n": n, "engine": engine, "alternative": alt, "alpha": alpha,
                        "tuning": tuning, "prior_mean": m0, "prior_sd": s0 or 0, "target": target},
        {"power": pw, "scale": k}, tol=1e-8)


# ---------------------------------------------------------------- Bayesian absolute scale
def bayes_abs(est, se, control_mean, prior_mean, prior_sd, alpha):
    """Posterior of the absolute difference by quadrature, prior N(μ0·|m_a|, (σ0·|m_a|)²) or flat."""
    est, se = M(est), M(se)
    lik = lambda d: mp.npdf(est, d, se)
    if prior_sd:
        pm, ps = M(prior_mean) * abs(M(control_mean)), M(prior_sd) * abs(M(control_mean))
        dens = lambda d: lik(d) * mp.npdf(d, pm, ps)
    else:
        dens = lik
    pts = [est - 40 * se, est - 5 * se, M(0), est + 5 * se, est + 40 * se]
    pts = sorted(set(pts))
    Z = mp.quad(dens, pts)
    mean = mp.quad(lambda d: d * dens(d), pts) / Z
    sd = mp.sqrt(mp.quad(lambda d: (d - mean) ** 2 * dens(d), pts) / Z)
    chance = mp.quad(dens, [M(0)] + [p for p in pts if p > 0]) / Z if est + 40 * se > 0 else M(0)
    rc = mp.quad(lambda d: d * dens(d), [M(0)] + [p for p in pts if p > 0]) / Z
    rt = -mp.quad(lambda d: d * dens(d), [p for p in pts if p < 0] + [M(0)]) / Z
    z = zq(alpha)
    return dict(chance_to_win=chance, risk_control=rc, risk_treatment=rt, mean=mean, sd=sd,
                ci_lo=mean - z * sd, ci_hi=mean + z * sd)


for name, est, se, cm, pm, psd in [("flat", 0.01, 0.004, 0.1, 0, 0), ("proper", 0.01, 0.004, 0.1, 0, 0.3),
                                   ("proper_shifted_revenue", 2.5, 1.8, 40.0, 0.02, 0.05)]:
    add("bayes_absolute", name, {"est": est, "se": se, "control_mean": cm, "prior_mean": pm, "prior_sd": psd, "alpha": 0.05},
        bayes_abs(est, se, cm, pm, psd, 0.05), tol=1e-8)

json.dump({
    "generator": "stats/testdata/gen_depth.py",
    "versions": {"python": sys.version.split()[0], "mpmath": mp.__version__, "scipy": scipy.__version__,
                 "statsmodels": statsmodels.__version__, "numpy": np.__version__},
    "count_checks": len(CHECKS),
    "checks": CHECKS,
}, sys.stdout, indent=1)
sys.stdout.write("\n")
