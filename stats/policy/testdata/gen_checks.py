#!/usr/bin/python3
"""Check values for package policy, computed independently of the Go code.

Each case simulates unit-level data (numpy), writes the per-cell, per-arm,
per-fold sufficient statistics Learn reads ("input") and the expected answer
("expected") computed here from the units themselves: the effects from the
unit-level means and variances, the doubly robust scores Gamma_i unit by unit
(not through the sufficient-statistics algebra of the Go code), the budget
policy by a linear scan of the Lagrangian's breakpoints, and the planted
values of the bootstrap's world (the doubly robust value on all the units
of assigning arm p in a cell, "fixed_values"; the bootstrap's resampling
moments are checked by gen_bootstrap.py).

Run: /usr/bin/python3 gen_checks.py > checks.json   (Debian python3-numpy, python3-scipy)
"""
import json
import numpy as np
from scipy.stats import norm
from scipy.stats import chi2 as chi2_dist

D0 = 10.0  # moderated-variance prior degrees of freedom


def simulate(rng, features, values, arms, weights, folds, n, effect, base_conv=0.1, drop=(), withhold=None):
    """Units: cell values, arm, fold, y (net revenue), converted, cost.

    withhold = (arm, share): the units of arm drawn after that share of the
    n units are left out, as when the arm's budget ran out (they got control
    and no exposure was logged)."""
    units = []
    w = np.array(weights) / sum(weights)
    for i in range(n):
        cell = tuple(rng.choice(values[f]) for f in features)
        a = int(rng.choice(len(arms), p=w))
        if (cell, a) in drop:
            continue
        if withhold is not None and a == withhold[0] and i >= withhold[1] * n:
            continue
        k = int(rng.integers(folds))
        lift, rev_mult, cost_rate = effect(cell, a)
        conv = rng.random() < base_conv + lift
        rev = float(np.round(rng.lognormal(8.0, 0.6) * rev_mult)) if conv else 0.0
        cost = float(np.round(rev * cost_rate)) if conv else 0.0
        units.append((cell, a, k, rev - cost, 1.0 if conv else 0.0, cost))
    return units


def aggregate(units, features, arms):
    cells = {}
    for cell, a, k, y, x, c in units:
        key = (cell, a, k)
        s = cells.setdefault(key, [0.0, 0.0, 0.0, 0.0, 0.0])
        s[0] += 1
        s[1] += y
        s[2] += y * y
        s[3] += x
        s[4] += c
    out = []
    for (cell, a, k), s in sorted(cells.items()):
        out.append({"segment": dict(zip(features, cell)), "variant": arms[a], "fold": k,
                    "units": s[0], "sum": s[1], "sum_squares": s[2], "converted": s[3], "cost": s[4]})
    return out


class Fit:
    """The model fitted on the units given (the training folds)."""

    def __init__(self, units, all_cells, depth, narms, wantconv=True):
        self.depth = depth
        self.narms = narms
        self.cells = all_cells
        # node -> arm -> list of (y, x, c)
        self.data = {}
        for cell, a, k, y, x, c in units:
            for l in range(depth + 1):
                self.data.setdefault((cell[:l], a), []).append((y, x, c))
        self.nodes = {cell[:l] for cell in all_cells for l in range(depth + 1)}
        self.eff = self.effects(0)
        self.conv = self.effects(1)

    def vals(self, node, a, i):
        return np.array([t[i] for t in self.data.get((node, a), [])])

    def moments(self, idx):
        mom = {}
        for l in range(self.depth + 1):
            for node in sorted(nd for nd in self.nodes if len(nd) == l):
                for a in range(self.narms):
                    v = self.vals(node, a, idx)
                    n = len(v)
                    mean = v.mean() if n else 0.0
                    raw = v.var(ddof=1) if n >= 2 else 0.0
                    if l == 0:
                        s2 = raw
                    else:
                        ps2 = mom[(node[:-1], a)][2]
                        df = max(n - 1, 0)
                        s2 = (df * raw + D0 * ps2) / (df + D0)
                    mom[(node, a)] = (n, mean, s2)
        return mom

    def effects(self, idx):
        mom = self.moments(idx)
        raw = {}
        for node in self.nodes:
            for a in range(1, self.narms):
                na, ma, sa = mom[(node, a)]
                n0, m0, s0 = mom[(node, 0)]
                if na > 0 and n0 > 0:
                    raw[(node, a)] = (ma - m0, sa / na + s0 / n0)
        sh = {}
        for a in range(1, self.narms):
            if ((), a) in raw:
                sh[((), a)] = raw[((), a)] + (True,)
            else:
                sh[((), a)] = (0.0, 0.0, False)
        for l in range(1, self.depth + 1):
            parents = sorted({nd[:-1] for nd in self.nodes if len(nd) == l})
            for p in parents:
                kids = sorted(nd for nd in self.nodes if len(nd) == l and nd[:-1] == p)
                for a in range(1, self.narms):
                    pt, pv, usable = sh[(p, a)]
                    ks = [raw[(k, a)] for k in kids if (k, a) in raw and raw[(k, a)][1] > 0]
                    A = 0.0
                    if len(ks) >= 2:
                        t = np.array([x[0] for x in ks])
                        v = np.array([x[1] for x in ks])
                        w = 1 / v
                        tbar = (w * t).sum() / w.sum()
                        Q = (w * (t - tbar) ** 2).sum()
                        den = w.sum() - (w ** 2).sum() / w.sum()
                        A = max(0.0, (Q - (len(ks) - 1)) / den) if den > 0 else 0.0
                    for k in kids:
                        if (k, a) not in raw:
                            sh[(k, a)] = (pt, pv, usable)
                            continue
                        t, v = raw[(k, a)]
                        B = v / (v + A) if v > 0 else 0.0
                        sh[(k, a)] = (pt + (1 - B) * (t - pt), (1 - B) * v + B * B * pv, usable)
        return {"raw": raw, "shrunk": sh, "mom": mom}

    def deepest(self, cell, a, idx):
        for l in range(self.depth, -1, -1):
            v = self.vals(cell[:l], a, idx)
            if len(v):
                return v.mean()
        return 0.0

    def tau(self, cell, a):
        return 0.0 if a == 0 else self.eff["shrunk"][(cell, a)][0]

    def kappa(self, cell, a):
        return self.deepest(cell, a, 2)

    def share(self, cell):
        n = sum(len(self.data.get((cell, a), [])) for a in range(self.narms))
        tot = sum(len(self.data.get(((), a), [])) for a in range(self.narms))
        return n / tot

    def usable(self, a):
        return self.eff["shrunk"][((), a)][2]

    def pick(self, lam):
        pol = {}
        for cell in self.cells:
            best, bv = 0, -lam * self.kappa(cell, 0)
            for a in range(1, self.narms):
                if not self.usable(a):
                    continue
                v = self.tau(cell, a) - lam * self.kappa(cell, a)
                if v > bv or (v == bv and self.kappa(cell, a) < self.kappa(cell, best)):
                    best, bv = a, v
            pol[cell] = best
        return pol

    def spend(self, pol):
        return sum(self.share(c) * self.kappa(c, a) for c, a in pol.items())

    def choose(self, b):
        pol = self.pick(0.0)
        if b is None or self.spend(pol) <= b:
            return pol, 0.0, False
        bps = set()
        for cell in self.cells:
            for a in range(self.narms):
                for o in range(a + 1, self.narms):
                    dk = self.kappa(cell, a) - self.kappa(cell, o)
                    if dk != 0:
                        lam = (self.tau(cell, a) - self.tau(cell, o)) / dk
                        if lam > 0:
                            bps.add(lam)
        bps = sorted(bps)
        for j, lam in enumerate(bps):  # linear scan, smallest feasible first
            mid = (lam + bps[j + 1]) / 2 if j + 1 < len(bps) else 2 * lam + 1
            pol = self.pick(mid)
            if self.spend(pol) <= b:
                return pol, lam, False
        return self.pick(2 * bps[-1] + 1), bps[-1], True

    def best_single(self):
        cands = [(self.eff["raw"][((), a)][0], -a) for a in range(1, self.narms) if ((), a) in self.eff["raw"]]
        return -max(cands)[1] if cands else -1


def est(scores, zq):
    s = np.array(scores)
    n = len(s)
    m = s.mean()
    se = s.std(ddof=1) / np.sqrt(n)
    return {"estimate": m, "se": se, "ci": [m - zq * se, m + zq * se]}


def run_case(name, rng, features, values, arms, weights, folds, n, effect, budget=None, alpha=0.05, drop=(),
             withhold=None):
    units = simulate(rng, features, values, arms, weights, folds, n, effect, drop=drop, withhold=withhold)
    # The propensities are the arms' shares of the units (not the design
    # weights): counted here unit by unit.
    w = np.array([sum(1 for u in units if u[1] == a) for a in range(len(arms))], dtype=float) / len(units)
    design = np.array(weights) / sum(weights)
    chi2 = float((((w - design) * len(units)) ** 2 / (design * len(units))).sum())
    shares_differ = bool(chi2_dist.sf(chi2, len(arms) - 1) < 0.001)
    zq = norm.ppf(1 - alpha / 2)
    depth = len(features)
    all_cells = sorted({u[0] for u in units})
    N = len(units)
    b = None if budget is None else budget / N
    full = Fit(units, all_cells, depth, len(arms))
    pol, lam, infeasible = full.choose(b)
    spu = full.spend(pol)
    rules = []
    for cell in all_cells:
        arm_eff = []
        for a in range(1, len(arms)):
            t, v, _ = full.eff["shrunk"][(cell, a)]
            ct, cv, _ = full.conv["shrunk"][(cell, a)]
            r = full.eff["raw"].get((cell, a))
            arm_eff.append({"variant": arms[a], "effect": [t, np.sqrt(v)], "conversion": [ct, np.sqrt(cv)],
                            "raw": None if r is None else [r[0], np.sqrt(r[1])],
                            "spend_per_unit": full.kappa(cell, a)})
        rules.append({"segment": dict(zip(features, cell)), "variant": arms[pol[cell]], "arms": arm_eff})
    bs = full.best_single()
    # The bootstrap's planted values (package doc, "the bootstrap's world"):
    # per cell and arm p, the sum over all the units of the cell of
    # Gamma_i(p) with the outcome model fitted on all the folds.
    fixed = []
    for cell in all_cells:
        m0 = full.deepest(cell, 0, 0)
        mhat = [m0 + full.tau(cell, a) for a in range(len(arms))]
        row = []
        for pa in range(len(arms)):
            tot = 0.0
            for ucell, a, _, y, _, _ in units:
                if ucell != cell or pa == 0:
                    continue
                ind = (1.0 / w[pa] if a == pa else 0.0) - (1.0 / w[0] if a == 0 else 0.0)
                tot += mhat[pa] - mhat[0] + ind * (y - mhat[a])
            row.append(tot)
        fixed.append(row)
    # Cross-fitting, unit by unit.
    gp, gb = [], []
    groups = []
    for k in range(folds):
        train = [u for u in units if u[2] != k]
        m = Fit(train, all_cells, depth, len(arms))
        pk, _, _ = m.choose(b)
        bk = m.best_single()
        for ci, cell in enumerate(all_cells):
            held = [u for u in units if u[2] == k and u[0] == cell]
            if not held:
                continue
            m0 = m.deepest(cell, 0, 0)
            mhat = [m0 + m.tau(cell, a) for a in range(len(arms))]
            p = pk[cell]
            score = 0.0
            for _, a, _, y, _, _ in held:
                def gamma(pa):
                    if pa <= 0:
                        return 0.0
                    ind = (1.0 / w[pa] if a == pa else 0.0) - (1.0 / w[0] if a == 0 else 0.0)
                    return mhat[pa] - mhat[0] + ind * (y - mhat[a])
                g1, g2 = gamma(p), gamma(bk)
                gp.append(g1)
                gb.append(g2)
                score += g1
            pred = m.tau(cell, p) if p > 0 else -np.inf
            groups.append((-pred, ci * folds + k, len(held), score))
    groups.sort()
    curve = [[0.0, 0.0]]
    cn = cs = 0.0
    for _, _, gn, sc in groups:
        cn += gn
        cs += sc
        curve.append([cn / N, cs / N])
    exp = {
        "value": est(gp, zq), "best_single": {"variant": arms[bs], "value": est(gb, zq)},
        "gain_over_best_single": est(np.array(gp) - np.array(gb), zq),
        "spend": spu * N, "spend_per_unit": spu, "lambda": lam, "budget_infeasible": infeasible,
        "rules": rules, "curve": curve, "units": N, "arm_shares_differ": shares_differ,
        "fixed_values": fixed,
    }
    inp = {"metric": "net_revenue", "features": features,
           "arms": [{"key": a, "weight": wt} for a, wt in zip(arms, weights)],
           "folds": folds, "cells": aggregate(units, features, arms)}
    if budget is not None:
        inp["budget"] = budget
    if alpha != 0.05:
        inp["alpha"] = alpha
    return {"name": name, "input": inp, "expected": exp}


def main():
    rng = np.random.default_rng(20261207)
    arms = ["control", "ten_off", "free_ship"]
    feats = ["rfm_segment", "channel"]
    vals = {"rfm_segment": ["champions", "at_risk", "new"], "channel": ["email", "push"]}

    def effect(cell, a):
        # (conversion lift, order value multiplier, cost rate of revenue)
        if a == 0:
            return 0.0, 1.0, 0.0
        if a == 1:  # ten_off: wins customers at risk
            return (0.08 if cell[0] == "at_risk" else 0.01), 0.95, 0.10
        return (0.05 if cell[0] == "champions" else 0.0), 1.0, 0.04  # free_ship

    cases = [
        run_case("two_features", rng, feats, vals, arms, [0.4, 0.3, 0.3], 5, 6000, effect),
        run_case("budget", rng, feats, vals, arms, [0.4, 0.3, 0.3], 5, 6000, effect, budget=60000.0),
        run_case("sparse", rng, feats, vals, arms, [0.5, 0.25, 0.25], 4, 900, effect, alpha=0.1,
                 drop={(("new", "push"), 1)}),
        run_case("no_features", rng, [], {}, arms, [1, 1, 1], 3, 1500, lambda c, a: effect(("at_risk",), a)),
        # ten_off's budget ran out after 40% of the units: its later units
        # are missing, so its share is about 0.18, not 0.3.
        run_case("withheld", rng, feats, vals, arms, [0.4, 0.3, 0.3], 5, 6000, effect, withhold=(1, 0.4)),
    ]
    print(json.dumps(cases, indent=1, default=float))


if __name__ == "__main__":
    main()
