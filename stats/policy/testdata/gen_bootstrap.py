#!/usr/bin/python3
"""Check values for the bootstrap of package policy, computed from units.

The bootstrap resamples the units of every (cell, arm, fold) with Poisson(1)
weights W_i (each unit appears W_i times). Over the weights, the resampled
n* = sum W_i, S* = sum W_i y_i, X* = sum W_i x_i and Q* = sum W_i y_i^2 have
E = (n, S, X, Q), Var(n*) = n, Var(S*) = sum y_i^2, Var(X*) = sum x_i^2 = X,
Cov(n*, S*) = S and Cov(n*, X*) = X, and the spend E = C. Each case
simulates units (numpy) and writes their sufficient statistics ("suff") and
these moments computed from the units themselves ("moments").

Run: /usr/bin/python3 gen_bootstrap.py > bootstrap.checks.json   (Debian python3-numpy)
"""
import json
import numpy as np


def case(name, rng, n, conv, mu, sigma, cost_rate):
    x = (rng.random(n) < conv).astype(float)
    rev = np.round(rng.lognormal(mu, sigma, n)) * x
    c = np.round(rev * cost_rate)
    y = rev - c
    return {
        "name": name,
        "suff": {"n": float(n), "s": y.sum(), "q": (y * y).sum(), "x": x.sum(), "c": c.sum()},
        "moments": {
            "mean_n": float(n), "var_n": float(n),
            "mean_s": y.sum(), "var_s": (y * y).sum(), "cov_n_s": y.sum(),
            "mean_q": (y * y).sum(),
            "mean_x": x.sum(), "var_x": (x * x).sum(), "cov_n_x": x.sum(),
            "mean_c": c.sum(),
        },
    }


def main():
    rng = np.random.default_rng(20261208)
    cases = [
        case("large", rng, 2400, 0.12, 8.0, 0.6, 0.10),
        case("small", rng, 40, 0.2, 8.0, 0.6, 0.04),
        case("few_converted", rng, 300, 0.01, 7.0, 0.8, 0.15),
    ]
    print(json.dumps(cases, indent=1, default=float))


if __name__ == "__main__":
    main()
