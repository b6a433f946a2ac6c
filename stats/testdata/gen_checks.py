#!/usr/bin/python3
"""Independent check values for package stats (promolift).

Run from the repository root with Debian's Python (not a pyenv one):

    apt-get install -y python3-scipy python3-mpmath python3-statsmodels
    /usr/bin/python3 stats/testdata/gen_checks.py > stats/testdata/checks.json

Generated with Debian bookworm packages: Python 3.11, mpmath 1.2.1,
scipy 1.10.1, statsmodels 0.13.5, numpy 1.24.2 (the exact versions are
recorded in the output's "versions" field). A run takes about 3 minutes.

Every expected value is computed here from first principles at high
precision (mpmath, 40 digits) or by scipy/statsmodels; nothing is derived
from the Go code. t quantiles come from mpmath (scipy 1.10's t.isf is
inaccurate at small df). Bayesian expectations use mpmath quadrature of the
densities; delta-method gradients use mpmath numerical differentiation of the
estimator rather than a hand-expanded formula.
"""
import json
import math
import sys

import mpmath as mp
import numpy as np
import scipy
import scipy.stats as ss
import statsmodels
from statsmodels.stats.multitest import multipletests

from checklib import CHECKS, M, add, nsf, t_sf, tq, welch_df, zq  # noqa: E402


def welch_parts(a, b):
    """a, b = (n, S, Q) -> means, per-unit variances."""
    out = []
    for n, s, q in (a, b):
        n, s, q = M(n), M(s), M(q)
        m = s / n
        v = (q - s * s / n) / (n - 1) if n > 1 else M(0)
        if v < 0:
            v = M(0)
        out.append((n, m, v))
    return out


def welch_from(na, ma, va, nb, mb, vb, alpha):
    ua, ub = va / na, vb / nb
    d = mb - ma
    se = mp.sqrt(ua + ub)
    nu = welch_df(na, ua, nb, ub)
    q = tq(alpha, nu) * se
    t = d / se
    return dict(estimate=d, se=se, df=nu, p_value=2 * t_sf(abs(t), nu), ci_lo=d - q, ci_hi=d + q)


def rel_from(na, ma, va, nb, mb, vb, alpha, nu):
    L = (mb - ma) / abs(ma)
    # delta method by numerical gradient of f(ma, mb) = (mb-ma)/|ma|
    f = lambda x, y: (y - x) / abs(x)
    ga = mp.diff(lambda x: f(x, mb), ma)
    gb = mp.diff(lambda y: f(ma, y), mb)
    var = ga * ga * va / na + gb * gb * vb / nb
    se = mp.sqrt(var)
    q, z = tq(alpha, nu), zq(alpha)
    return dict(estimate=L, se=se, p_value=2 * t_sf(abs(L / se), nu), ci_lo=L - q * se, ci_hi=L + q * se,
                ci_normal_lo=L - z * se, ci_normal_hi=L + z * se)


# ---------------------------------------------------------------- distributions
for z in [0.5, 1.959963984540054, 3.0, 6.0, 9.0, 20.0]:
    add("normal_sf", f"sf({z})", {"z": z}, {"p": nsf(z)})
for alpha, nu in [(0.05, 1.47), (0.05, 29), (0.01, 2000), (0.05, 1e4), (0.1, 3.3), (0.05, 2e6), (0.05, 2e8), (0.001, 5e6),
                  (0.05, 1999.5), (0.05, 2500.5), (0.001, 3000), (0.2, 2000), (3e-9, 50000), (1e-10, 3000), (0.05, 999999)]:
    add("t_quantile", f"t_q({alpha},{nu})", {"alpha": alpha, "nu": nu}, {"q": tq(alpha, nu)})
for t, nu in [(2.3, 10), (8.0, 1000), (1.5, 3.5), (5.0, 2e6), (9.0, 3e7), (3.0, 1e8), (12.0, 5e5)]:
    add("t_sf", f"t_sf({t},{nu})", {"t": t, "nu": nu}, {"p": t_sf(t, nu)})

# ---------------------------------------------------------------- proportions
def pooled(na, xa, nb, xb):
    na, xa, nb, xb = map(M, (na, xa, nb, xb))
    pbar = (xa + xb) / (na + nb)
    se0 = mp.sqrt(pbar * (1 - pbar) * (1 / na + 1 / nb))
    if se0 == 0:
        return M(0), M(1)
    z = (xb / nb - xa / na) / se0
    return z, 2 * nsf(abs(z))


def wald(na, xa, nb, xb, alpha):
    na, xa, nb, xb = map(M, (na, xa, nb, xb))
    pa, pb = xa / na, xb / nb
    se = mp.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    d = pb - pa
    q = zq(alpha) * se
    return dict(estimate=d, se=se, ci_lo=d - q, ci_hi=d + q)


PROP_CASES = [
    ("design", 10000, 1000, 10000, 1100),
    ("zero_conv_control", 100, 0, 100, 5),
    ("all_converted", 40, 40, 40, 38),
    ("tiny_p", 1000000, 100000, 1000000, 110000),
    ("huge_n", 100000000, 5000000, 100000000, 5010000),
    ("n1", 1, 0, 1, 1),
]
for name, na, xa, nb, xb in PROP_CASES:
    z, p = pooled(na, xa, nb, xb)
    # cross-check against statsmodels' z test (pooled)
    if name not in ("n1",) and z != 0:
        from statsmodels.stats.proportion import proportions_ztest
        zs, ps = proportions_ztest([xb, xa], [nb, na])
        assert abs(zs - float(z)) < 1e-6 * abs(float(z)), (name, zs, z)
    inp = {"na": na, "xa": xa, "nb": nb, "xb": xb, "alpha": 0.05}
    add("pooled_z", name, inp, {"z": z, "p": p})
    w = wald(na, xa, nb, xb, 0.05)
    if w["se"] > 0:
        add("wald", name, inp, w)

# ---------------------------------------------------------------- Welch + relative + Fieller
WELCH_CASES = [
    ("design_revenue", (10000, 500000, 4.1e7), (10000, 550000, 4.6e7), 0.05),
    ("small_n", (5, 12.5, 40.25), (7, 30.1, 160.3), 0.05),
    ("n2", (2, 3.0, 5.0), (2, 7.0, 25.5), 0.05),
    ("one_arm_constant", (20, 100.0, 500.0), (25, 150.0, 1000.0), 0.05),
    ("negative_control_mean", (50, -100.0, 900.0), (60, -90.0, 1000.0), 0.10),
    ("huge_n_df_1e8", (100000000, 5.0e9, 3.5e11), (100000000, 5.0003e9, 3.501e11), 0.05),
    ("tiny_p_large_df", (2000000, 2.0e7, 4.0e8), (2000000, 2.01e7, 4.04e8), 0.05),
    ("alpha01", (300, 1500.0, 9000.0), (320, 1700.0, 10500.0), 0.01),
    ("large_lift_small_base", (40, 4.0, 30.0), (40, 20.0, 120.0), 0.05),
]
for name, a, b, alpha in WELCH_CASES:
    (na, ma, va), (nb, mb, vb) = welch_parts(a, b)
    w = welch_from(na, ma, va, nb, mb, vb, alpha)
    # cross-check with scipy (float precision)
    sp = ss.ttest_ind_from_stats(float(mb), math.sqrt(float(vb)), float(nb), float(ma), math.sqrt(float(va)), float(na), equal_var=False)
    assert abs(sp.pvalue - float(w["p_value"])) <= 1e-6 * float(w["p_value"]) + 1e-12, (name, sp.pvalue, w["p_value"])
    inp = {"a": list(a), "b": list(b), "alpha": alpha}
    add("welch", name, inp, w)
    r = rel_from(na, ma, va, nb, mb, vb, alpha, w["df"])
    add("relative", name, inp, dict(r, df=w["df"]))
    # Fieller: roots of (mb - rho ma)^2 = z^2 (vb/nb + rho^2 va/na), minus 1
    z = zq(alpha)
    A, B = va / na, vb / nb
    g = z * z * A / (ma * ma)
    want = {"g": g}
    if ma > 0 and g < 1:
        qa, qb, qc = ma * ma - z * z * A, -2 * ma * mb, mb * mb - z * z * B
        disc = mp.sqrt(qb * qb - 4 * qa * qc)
        r1, r2 = (-qb - disc) / (2 * qa), (-qb + disc) / (2 * qa)
        want.update(lo=min(r1, r2) - 1, hi=max(r1, r2) - 1, ok=True)
    else:
        want.update(ok=False)
    add("fieller", name, inp, want)

# Fieller unbounded: control mean not distinguishable from 0
inp = {"a": [10, 1.0, 50.0], "b": [10, 5.0, 60.0], "alpha": 0.05}
(na, ma, va), (nb, mb, vb) = welch_parts(inp["a"], inp["b"])
add("fieller", "unbounded_g_ge_1", inp, {"g": zq(0.05) ** 2 * va / na / ma ** 2, "ok": False})
# Zero baseline -> relative error
add("relative", "zero_baseline", {"a": [10, 0.0, 4.0], "b": [10, 3.0, 5.0], "alpha": 0.05}, {"error": "baseline_zero"})
add("welch", "n1_insufficient", {"a": [1, 3.0, 9.0], "b": [5, 10.0, 30.0], "alpha": 0.05}, {"error": "insufficient_sample"})
add("welch", "identical_constant", {"a": [10, 20.0, 40.0], "b": [12, 24.0, 48.0], "alpha": 0.05},
    {"estimate": 0, "p_value": 1, "ci_lo": 0, "ci_hi": 0})
add("welch", "zero_variance_diff", {"a": [10, 20.0, 40.0], "b": [10, 30.0, 90.0], "alpha": 0.05}, {"error": "zero_variance"})

# ---------------------------------------------------------------- Beta-Binomial
def beta_logpdf(a, b):
    lb = mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)
    return lambda x: (a - 1) * mp.log(x) + (b - 1) * mp.log1p(-x) - lb


def pts(a, b):
    m = a / (a + b)
    sd = mp.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    p = sorted(set([M(0), M(1)] + [min(max(m + k * sd, M(0)), M(1)) for k in (-30, -12, -6, -3, -1, 0, 1, 3, 6, 12, 30)]))
    return p


def bb(na, xa, nb, xb):
    aa, ba, ab, bb_ = M(xa) + 1, M(na) - xa + 1, M(xb) + 1, M(nb) - xb + 1
    fB = beta_logpdf(ab, bb_)
    FA = lambda x, s=0: mp.betainc(aa + s, ba, 0, x, regularized=True)
    ma = aa / (aa + ba)
    dens = lambda x: mp.exp(fB(x)) if 0 < x < 1 else M(0)
    p = mp.quad(lambda x: dens(x) * FA(x), pts(ab, bb_))
    # E[max(pA - pB, 0)] = ∫ f_B(y) [ ma (1 - I_y(aA+1, bA)) - y (1 - I_y(aA, bA)) ] dy
    rt = mp.quad(lambda y: dens(y) * (ma * (1 - FA(y, 1)) - y * (1 - FA(y))), pts(ab, bb_))
    mb = ab / (ab + bb_)
    rc = rt + (mb - ma)  # E[max(B-A,0)] - E[max(A-B,0)] = E[B-A]
    return p, rc, rt


for name, na, xa, nb, xb in [("small", 100, 10, 100, 15), ("medium", 1000, 100, 1000, 120),
                             ("zero_zero", 50, 0, 50, 0), ("all_converted", 20, 20, 20, 19),
                             ("large", 10000, 500, 10000, 560), ("b_worse", 400, 60, 380, 41),
                             ("weighted_noninteger", 102.5, 10.5, 98.25, 14.75), ("empty_arm", 0, 0, 30, 3)]:
    p, rc, rt = bb(na, xa, nb, xb)
    add("beta_binomial", name, {"na": na, "xa": xa, "nb": nb, "xb": xb},
        {"chance_to_win": p, "risk_control": rc, "risk_treatment": rt}, tol=1e-6)


def bb_large(na, xa, nb, xb):
    """Large counts: mpmath's betainc does not converge, so the Beta CDF of A
    is itself a quadrature of the log-density (nested quadrature, 20 digits)."""
    with mp.workdps(20):
        aa, ba, ab, bb_ = M(xa) + 1, M(na) - xa + 1, M(xb) + 1, M(nb) - xb + 1
        fa, fb = beta_logpdf(aa, ba), beta_logpdf(ab, bb_)
        ma, mb = aa / (aa + ba), ab / (ab + bb_)
        sa = mp.sqrt(aa * ba / ((aa + ba) ** 2 * (aa + ba + 1)))
        sb = mp.sqrt(ab * bb_ / ((ab + bb_) ** 2 * (ab + bb_ + 1)))
        ptsA = [ma + k * sa for k in range(-14, 15, 2)]
        lo = ma - 14 * sa

        def partial(x, h):
            if x <= lo:
                return M(0)
            return mp.quad(lambda y: h(y) * mp.exp(fa(y)), [q for q in ptsA if q < x] + [x])
        FA = lambda x: partial(x, lambda y: 1)
        GA = lambda x: partial(x, lambda y: y)  # ∫_0^x y f_A(y) dy
        ptsB = [mb + k * sb for k in range(-12, 13, 2)]
        p = mp.quad(lambda x: mp.exp(fb(x)) * FA(x), ptsB)
        rt = mp.quad(lambda y: mp.exp(fb(y)) * ((ma - GA(y)) - y * (1 - FA(y))), ptsB)
        return p, rt + (mb - ma), rt


p, rc, rt = bb_large(1000000, 100000, 1000000, 100300)
add("beta_binomial", "large_counts_quadrature", {"na": 1000000, "xa": 100000, "nb": 1000000, "xb": 100300},
    {"chance_to_win": p, "risk_control": rc, "risk_treatment": rt}, tol=1e-6)

# ---------------------------------------------------------------- Gaussian Bayes
def gbayes(est, var, proper, m0, sd0, alpha):
    est, var = M(est), M(var)
    if proper:
        prec = 1 / var + 1 / M(sd0) ** 2
        mu = (est / var + M(m0) / M(sd0) ** 2) / prec
        sd = mp.sqrt(1 / prec)
    else:
        mu, sd = est, mp.sqrt(var)
    pdf = lambda x: mp.npdf(x, mu, sd)
    chance = 1 - mp.ncdf(0, mu, sd)
    rc = mp.quad(lambda x: x * pdf(x), sorted(set([M(0), max(mu, M(0)), max(mu + 10 * sd, M(0) + sd), mp.inf])))
    rt = mp.quad(lambda x: -x * pdf(x), sorted(set([-mp.inf, min(mu - 10 * sd, -sd), min(mu, M(0)), M(0)])))
    z = zq(alpha)
    return dict(chance_to_win=chance, risk_control=rc, risk_treatment=rt, ci_lo=mu - z * sd, ci_hi=mu + z * sd)


for name, est, var, proper, m0, sd0 in [("flat", 0.1, 0.045 ** 2, False, 0, 0), ("proper", 0.1, 0.045 ** 2, True, 0, 0.3),
                                        ("negative", -0.03, 0.02 ** 2, False, 0, 0), ("proper_wide_se", 0.4, 0.35 ** 2, True, 0.0, 0.3),
                                        ("far_tail", -0.5, 0.05 ** 2, False, 0, 0)]:
    add("gaussian_bayes", name, {"est": est, "var": var, "proper": proper, "mean": m0, "sd": sd0, "alpha": 0.05},
        gbayes(est, var, proper, m0, sd0, 0.05), tol=1e-6)

# ---------------------------------------------------------------- sequential
def cs(est, se, n, tuning, alpha):
    est, se, n, tuning, alpha = map(M, (est, se, n, tuning, alpha))
    rho2 = (-2 * mp.log(alpha) + mp.log(1 - 2 * mp.log(alpha))) / tuning
    r = n * rho2
    hw = se * mp.sqrt((1 + r) / r * mp.log((1 + r) / alpha ** 2))
    z = est / se
    p = min(M(1), mp.sqrt(1 + r) * mp.exp(-z * z * r / (2 * (1 + r))))
    return dict(halfwidth=hw, p_value=p)


for name, est, se, n, tuning, alpha in [("design", 0.01, 0.004334743360338649, 20000, 5000, 0.05),
                                        ("small", 1.2, 0.8, 200, 5000, 0.05), ("at_tuning", 0.5, 0.2, 5000, 5000, 0.05),
                                        ("eppo_tuning", 0.03, 0.01, 40000, 10000, 0.1), ("huge", 0.002, 0.0001, 2e8, 5000, 0.05)]:
    add("sequential", name, {"est": est, "se": se, "n": n, "tuning": tuning, "alpha": alpha}, cs(est, se, n, tuning, alpha))

# ---------------------------------------------------------------- CUPED
def cuped_case(name, seed, na, nb, lift, rho, alpha):
    rng = np.random.default_rng(seed)
    arms = []
    for n, l in ((na, 0.0), (nb, lift)):
        x = rng.gamma(2.0, 10.0, n)
        y = 5 + rho * x + rng.normal(0, 8, n) + l
        arms.append([float(n), float(y.sum()), float((y * y).sum()), float(x.sum()), float((x * x).sum()), float((x * y).sum())])
    A = [list(map(M, a)) for a in arms]
    N = A[0][0] + A[1][0]
    Sy, Qy, Sx, Qx, Sxy = [A[0][i] + A[1][i] for i in (1, 2, 3, 4, 5)]
    theta = (Sxy - Sx * Sy / N) / (Qx - Sx * Sx / N)
    mom = []
    for n, sy, qy, sx, qx, sxy in A:
        my, mx = sy / n, sx / n
        vy, vx = (qy - sy * sy / n) / (n - 1), (qx - sx * sx / n) / (n - 1)
        c = (sxy - sx * sy / n) / (n - 1)
        mom.append((n, my, mx, mp.matrix([[vy, c], [c, vx]]) / n))
    (na_, mya, mxa, Sa), (nb_, myb, mxb, Sb) = mom
    f_abs = lambda ya, xa, yb, xb: (yb - theta * xb) - (ya - theta * xa)
    f_rel = lambda ya, xa, yb, xb: f_abs(ya, xa, yb, xb) / abs(ya)
    pt = (mya, mxa, myb, mxb)

    def dvar(f):
        g = [mp.diff(lambda t, i=i: f(*[t if j == i else pt[j] for j in range(4)]), pt[i]) for i in range(4)]
        ga, gb = mp.matrix([g[0], g[1]]), mp.matrix([g[2], g[3]])
        return (ga.T * Sa * ga)[0] + (gb.T * Sb * gb)[0], ga, gb

    va, ga, gb = dvar(f_abs)
    ua = (mp.matrix([1, -theta]).T * Sa * mp.matrix([1, -theta]))[0]
    ub = (mp.matrix([1, -theta]).T * Sb * mp.matrix([1, -theta]))[0]
    nu = (ua + ub) ** 2 / (ua * ua / (na_ - 1) + ub * ub / (nb_ - 1))
    est = f_abs(*pt)
    se = mp.sqrt(va)
    raw = Sa[0, 0] + Sb[0, 0]
    vr, _, _ = dvar(f_rel)
    q = tq(alpha, nu)
    want = dict(theta=theta, estimate=est, se=se, df=nu, p_value=2 * t_sf(abs(est / se), nu), ci_lo=est - q * se,
                ci_hi=est + q * se, variance_reduction=1 - va / raw, rel_estimate=f_rel(*pt), rel_se=mp.sqrt(vr))
    add("cuped", name, {"a": arms[0], "b": arms[1], "alpha": alpha}, want)


cuped_case("strong_covariate", 7, 800, 760, 1.5, 0.9, 0.05)
cuped_case("weak_covariate", 11, 120, 150, 0.8, 0.1, 0.05)
cuped_case("small_n", 3, 12, 9, 2.0, 0.7, 0.1)

# ---------------------------------------------------------------- SRM
for name, obs, w in [("balanced", [5000, 5000], [0.5, 0.5]), ("mild", [5100, 4900], [1, 1]),
                     ("three_arm", [10000, 9000, 11000], [1, 1, 1]), ("unequal_weights", [1900, 8100], [0.2, 0.8]),
                     ("zero_weight_dropped", [100, 210, 0], [1, 2, 0]), ("tiny_p", [50000, 48000], [0.5, 0.5])]:
    ko = [o for o, ww in zip(obs, w) if ww > 0]
    kw = [ww for ww in w if ww > 0]
    n = sum(ko)
    exp = [ww / sum(kw) * n for ww in kw]
    chi2, psc = ss.chisquare(ko, exp)
    c2 = sum((M(o) - M(e)) ** 2 / M(e) for o, e in zip(ko, exp))
    p = mp.gammainc(M(len(ko) - 1) / 2, c2 / 2, mp.inf, regularized=True)
    assert abs(psc - float(p)) <= 1e-9 * float(p) + 1e-300, (name, psc, p)
    add("srm", name, {"observed": obs, "weights": w}, {"chi2": c2, "df": len(ko) - 1, "p_value": p, "flagged": bool(p < 0.001)})
add("srm", "units_in_zero_weight_arm", {"observed": [100, 100, 5], "weights": [1, 1, 0]},
    {"chi2": 0, "df": 1, "p_value": 1, "flagged": True})
add("srm", "no_units", {"observed": [0, 0], "weights": [1, 1]}, {"chi2": 0, "p_value": 1, "flagged": False})

# ---------------------------------------------------------------- multiple testing
for name, p in [("four", [0.01, 0.04, 0.03, 0.005]), ("ties", [0.02, 0.02, 0.5]), ("single", [0.3]),
                ("mixed", [1e-15, 0.5, 0.049, 0.051, 0.2]), ("all_large", [0.6, 0.9, 0.7])]:
    add("holm", name, {"p": p}, {"adjusted": list(multipletests(p, method="holm")[1])})
    add("bh", name, {"p": p}, {"adjusted": list(multipletests(p, method="fdr_bh")[1])})

# ---------------------------------------------------------------- sample size / MDE / plan
def n_prop(p1, p2, alpha, power):
    p1, p2 = M(p1), M(p2)
    za, zb = zq(alpha), mp.sqrt(2) * mp.erfinv(2 * M(power) - 1)
    pbar = (p1 + p2) / 2
    return (za * mp.sqrt(2 * pbar * (1 - pbar)) + zb * mp.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p2 - p1) ** 2


def n_mean(sigma, delta, alpha, power):
    za, zb = zq(alpha), mp.sqrt(2) * mp.erfinv(2 * M(power) - 1)
    return 2 * M(sigma) ** 2 * (za + zb) ** 2 / M(delta) ** 2


def zsum(alpha, power):
    return zq(alpha) + mp.sqrt(2) * mp.erfinv(2 * M(power) - 1)


for p1, p2, alpha, power in [(0.1, 0.11, 0.05, 0.8), (0.34, 0.343, 0.05, 0.85), (0.02, 0.025, 0.01, 0.9)]:
    add("sample_size_prop", f"{p1}->{p2}", {"p1": p1, "p2": p2, "alpha": alpha, "power": power}, {"n": n_prop(p1, p2, alpha, power)})
for sigma, delta, alpha, power in [(20, 1, 0.05, 0.8), (10, 0.3, 0.05, 0.85), (55.5, 2.5, 0.1, 0.9)]:
    n = n_mean(sigma, delta, alpha, power)
    # statsmodels NormalIndPower agrees to ~1e-5 (it adds the far tail)
    from statsmodels.stats.power import NormalIndPower
    nsm = NormalIndPower().solve_power(effect_size=delta / sigma, alpha=alpha, power=power, ratio=1)
    assert abs(nsm - float(n)) < 1e-4 * float(n), (nsm, n)
    add("sample_size_mean", f"{sigma}/{delta}", {"sigma": sigma, "delta": delta, "alpha": alpha, "power": power}, {"n": n})
for p, n, alpha, power in [(0.1, 10000, 0.05, 0.8), (0.5, 1234, 0.01, 0.9)]:
    add("mde_prop", f"{p}@{n}", {"p": p, "n": n, "alpha": alpha, "power": power}, {"mde": zsum(alpha, power) * mp.sqrt(2 * M(p) * (1 - M(p)) / n)})
for sigma, n, alpha, power in [(20, 10000, 0.05, 0.8)]:
    add("mde_mean", f"{sigma}@{n}", {"sigma": sigma, "n": n, "alpha": alpha, "power": power}, {"mde": zsum(alpha, power) * sigma * mp.sqrt(M(2) / n)})

plan_cases = [
    ("design_prop", {"metric": "proportion", "baseline": 0.1, "treatment": 0.11, "alpha": 0.05, "power": 0.8}),
    ("prop_mde_relative", {"metric": "proportion", "baseline": 0.05, "mde_relative": 0.1}),
    ("mean", {"metric": "mean", "sigma": 20, "delta": 1, "alpha": 0.05, "power": 0.8}),
    ("prop_n", {"metric": "proportion", "baseline": 0.1, "n_per_variant": 10000}),
    ("mean_n_three_arms", {"metric": "mean", "sigma": 20, "n_per_variant": 5000, "baseline": 50, "variants": 3}),
]
for name, pin in plan_cases:
    alpha, power, k = pin.get("alpha", 0.05), pin.get("power", 0.8), pin.get("variants", 2)
    if pin["metric"] == "proportion":
        p1 = M(pin["baseline"])
        if "n_per_variant" in pin:
            n = M(pin["n_per_variant"])
            mde = zsum(alpha, power) * mp.sqrt(2 * p1 * (1 - p1) / n)
            want = dict(n_per_variant=n, n_total=n * k, mde_absolute=mde, mde_relative=mde / p1)
        else:
            p2 = M(pin["treatment"]) if "treatment" in pin else p1 * (1 + M(pin["mde_relative"]))
            n = mp.ceil(n_prop(p1, p2, alpha, power))
            want = dict(n_per_variant=n, n_total=n * k, mde_absolute=p2 - p1, mde_relative=(p2 - p1) / p1)
    else:
        s = M(pin["sigma"])
        if "n_per_variant" in pin:
            n = M(pin["n_per_variant"])
            mde = zsum(alpha, power) * s * mp.sqrt(2 / n)
            want = dict(n_per_variant=n, n_total=n * k, mde_absolute=mde, mde_relative=mde / pin["baseline"])
        else:
            n = mp.ceil(n_mean(s, pin["delta"], alpha, power))
            want = dict(n_per_variant=n, n_total=n * k, mde_absolute=pin["delta"])
    add("plan", name, pin, want)

# ---------------------------------------------------------------- ratio metrics
def ratio_case(name, seed, na, nb, alpha):
    rng = np.random.default_rng(seed)
    arms = []
    for n, l in ((na, 1.0), (nb, 1.08)):
        d = rng.poisson(2.0, n).astype(float) + 0.0
        m = d * rng.gamma(3.0, 10.0 * l, n)
        arms.append([float(n), float(m.sum()), float((m * m).sum()), float(d.sum()), float((d * d).sum()), float((m * d).sum())])
    res = []
    for n, sm, qm, sd_, qd, smd in [list(map(M, a)) for a in arms]:
        mm, md = sm / n, sd_ / n
        vm, vd = (qm - sm * sm / n) / (n - 1), (qd - sd_ * sd_ / n) / (n - 1)
        c = (smd - sm * sd_ / n) / (n - 1)
        S = mp.matrix([[vm, c], [c, vd]])
        g = mp.matrix([mp.diff(lambda x: x / md, mm), mp.diff(lambda y: mm / y, md)])
        res.append((n, mm / md, (g.T * S * g)[0]))
    (na_, ra, va), (nb_, rb, vb) = res
    w = welch_from(na_, ra, va, nb_, rb, vb, alpha)
    add("ratio", name, {"a": arms[0], "b": arms[1], "alpha": alpha},
        dict(w, ratio_a=ra, ratio_b=rb, var_a=va, var_b=vb))


ratio_case("revenue_per_order", 5, 2000, 2100, 0.05)
ratio_case("small", 9, 25, 30, 0.05)

# ---------------------------------------------------------------- ROI and personalization lift
for name, a, b, nt, cost in [("design", (10000, 500000, 4.1e7), (10000, 550000, 4.6e7), 10000, 20000),
                             ("loss_making", (5000, 150000.0, 9.0e6), (5000, 152000.0, 9.3e6), 5000, 30000)]:
    (na, ma, va), (nb, mb, vb) = welch_parts(a, b)
    w = welch_from(na, ma, va, nb, mb, vb, 0.05)
    inc = w["estimate"] * nt
    add("roi", name, {"a": list(a), "b": list(b), "n_t": nt, "cost": cost, "alpha": 0.05},
        dict(incremental_revenue=inc, net=inc - cost, roi=(inc - cost) / cost, roi_percent=100 * (inc - cost) / cost,
             ci_lo=(w["ci_lo"] * nt - cost) / cost, ci_hi=(w["ci_hi"] * nt - cost) / cost))
add("roi", "zero_cost", {"a": [100, 500.0, 4000.0], "b": [100, 600.0, 5000.0], "n_t": 100, "cost": 0, "alpha": 0.05},
    {"error": "nonpositive_cost", "incremental_revenue": (M(600) / 100 - M(500) / 100) * 100, "net": M(100)})

for name, g, pz in [("conversion", (5000, 400), (5000, 460)), ("generic_zero", (300, 0), (300, 4))]:
    (ng, xg), (np_, xp) = g, pz
    inp = {"generic": [ng, xg], "personalized": [np_, xp], "alpha": 0.05}
    if xg == 0:
        add("personalization", name, inp, {"error": "baseline_zero"})
        continue
    ma, mb = M(xg) / ng, M(xp) / np_
    va, vb = ma * (1 - ma), mb * (1 - mb)
    nu = welch_df(M(ng), va / ng, M(np_), vb / np_)
    r = rel_from(M(ng), ma, va, M(np_), mb, vb, 0.05, nu)
    add("personalization", name, inp, {k: r[k] for k in ("estimate", "se", "ci_lo", "ci_hi", "ci_normal_lo", "ci_normal_hi")})

json.dump({
    "generator": "stats/testdata/gen_checks.py",
    "versions": {"python": sys.version.split()[0], "mpmath": mp.__version__, "scipy": scipy.__version__,
                 "statsmodels": statsmodels.__version__, "numpy": np.__version__},
    "count_checks": len(CHECKS),
    "checks": CHECKS,
}, sys.stdout, indent=1)
sys.stdout.write("\n")
