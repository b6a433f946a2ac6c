#!/usr/bin/python3
"""Check values for package bandit, computed independently (scipy's adaptive
quadrature for the probability of being best, numpy on unit-level data for
the per-period weighted effect). Run: /usr/bin/python3 gen_checks.py > checks.json
"""
import json
import numpy as np
from scipy import integrate
from scipy.stats import norm


def prob_best(arms):
    mu = [a["sum"] / a["n"] for a in arms]
    sd = []
    for a in arms:
        var = (a["sum_squares"] - a["sum"] ** 2 / a["n"]) / (a["n"] - 1)
        sd.append(np.sqrt(max(var, 0) / a["n"]))
    out = []
    for i in range(len(arms)):
        f = lambda x: norm.pdf(x, mu[i], sd[i]) * np.prod([norm.cdf(x, mu[j], sd[j]) for j in range(len(arms)) if j != i])
        v, _ = integrate.quad(f, mu[i] - 12 * sd[i], mu[i] + 12 * sd[i], epsabs=1e-13, epsrel=1e-12, limit=200)
        out.append(v)
    s = sum(out)
    return [v / s for v in out]


def prob_best_normal(mu, sd):
    out = []
    for i in range(len(mu)):
        f = lambda x: norm.pdf(x, mu[i], sd[i]) * np.prod([norm.cdf(x, mu[j], sd[j]) for j in range(len(mu)) if j != i])
        v, _ = integrate.quad(f, mu[i] - 12 * sd[i], mu[i] + 12 * sd[i], epsabs=1e-13, epsrel=1e-12, limit=200)
        out.append(v)
    s = sum(out)
    return [v / s for v in out]


def arm_stats(y):
    return {"n": float(len(y)), "sum": float(np.sum(y)), "sum_squares": float(np.sum(np.square(y)))}


def main():
    rng = np.random.default_rng(7)
    cases = []
    for spec in [[(100, 20, 500), (102, 20, 500)], [(100, 30, 400), (104, 35, 300), (99, 10, 800)],
                 [(50, 5, 1000), (50, 5, 1000), (49, 5, 1000)]]:
        arms = [arm_stats(rng.normal(m, s, n)) for m, s, n in spec]
        cases.append({"arms": arms, "prob_best": prob_best(arms)})
    # Per-period weighted effect from unit-level data: 3 periods, changing
    # weights and a baseline trend.
    periods, units = [], []
    for p, (w1, base) in enumerate([(0.5, 100), (0.8, 140), (0.2, 80)]):
        n = 600
        arm = rng.random(n) < w1
        y = base + 10 * arm + rng.normal(0, 25, n)
        periods.append([arm_stats(y[~arm]), arm_stats(y[arm])])
        units.append((arm, y))
    N = sum(len(y) for _, y in units)
    est = sum(len(y) / N * (y[a].mean() - y[~a].mean()) for a, y in units)
    var = sum((len(y) / N) ** 2 * (y[a].var(ddof=1) / a.sum() + y[~a].var(ddof=1) / (~a).sum()) for a, y in units)
    # Per-period weighted mean of each arm (every period has both arms).
    means = []
    for arm_is_treat in (False, True):
        sel = [(a if arm_is_treat else ~a, y) for a, y in units]
        m = sum(len(y) / N * y[s].mean() for s, y in sel)
        v = sum((len(y) / N) ** 2 * y[s].var(ddof=1) / s.sum() for s, y in sel)
        means.append({"estimate": m, "se": float(np.sqrt(v))})
    # Thompson on the per-period weighted posterior: 3 arms over 4 periods
    # with changing weights and a rising baseline; in the last period arm 2
    # has a single unit, so that period is left out for every arm.
    pw_periods, pw_units = [], []
    for base, counts in [(100, (60, 60, 60)), (130, (10, 20, 150)), (160, (8, 12, 170)), (190, (5, 5, 1))]:
        cell = []
        for a, n in enumerate(counts):
            y = base + [0, 4, 9][a] + rng.normal(0, 30, n)
            cell.append(y)
        pw_units.append(cell)
        pw_periods.append([arm_stats(y) for y in cell])
    common = [c for c in pw_units if all(len(y) >= 2 for y in c)]
    Nc = sum(sum(len(y) for y in c) for c in common)
    mu = [sum(sum(len(y) for y in c) / Nc * c[a].mean() for c in common) for a in range(3)]
    sd = [float(np.sqrt(sum((sum(len(y) for y in c) / Nc) ** 2 * c[a].var(ddof=1) / len(c[a]) for c in common))) for a in range(3)]
    pw_prob = prob_best_normal(mu, sd)
    print(json.dumps({"prob_best": cases, "period_weighted": {"periods": periods, "estimate": est, "se": float(np.sqrt(var)),
                      "means": means},
                      "prob_best_period_weighted": {"periods": pw_periods, "mu": mu, "sd": sd, "prob_best": pw_prob}}, indent=1))


if __name__ == "__main__":
    main()
