#!/usr/bin/env python3
"""Generates the segment fixture (fixture.json) and its expected segments
(expected.json), computed here independently of the Go code.

Run from this directory: python3 gen.py

The fixture is 50 customers c00..c49 with exposures, views, add_to_cart,
clicks, purchases (with revenue) and reviews spread over ~500 days before
NOW, plus a few events repeated with the same event_id (duplicates must
count once). Expected values, per customer, straight from the definitions
in experiments/segments.go:

  aggregates  purchases = conversions named "purchase": count, revenue sum,
              latest and second-latest time; engagement = latest
              conversion that is not a purchase; review = latest
              conversion named "review"; latest exposure.
  RFM         over the customers with >= 1 purchase (N of them): for each
              of R (latest purchase time), F (count), M (revenue sum) sort
              the values ascending, q_k = value at 1-based rank
              ceil(k*N/5) for k = 1..4, score = 1 + #{k: v > q_k}; the
              named segment is the first rule matching (F+M = fm):
              champions R>=4 & fm>=8; new R>=4 & F==1; loyal R>=3 & fm>=6;
              potential_loyalist R>=3; cannot_lose fm>=9; at_risk fm>=6;
              hibernating R==2; lost otherwise; "none" without purchase.
  AIPL        at NOW with windows 15 days (engagement), 365 days
              (purchase, loyalty): loyalty if a review or the
              second-latest purchase is within 365 days; purchase if the
              latest purchase is within 365 days; interest if an
              engagement is within 15 days; awareness otherwise.
"""
import json
import math
import random
from datetime import datetime, timedelta, timezone

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
rng = random.Random(20260601)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


events = []
n = 0


def add(unit, typ, days_ago, name=None, revenue=0, eid=None):
    global n
    n += 1
    t = NOW - timedelta(days=days_ago, seconds=rng.randrange(0, 86400))
    e = {"id": eid or f"ev{n:04d}", "type": typ, "unit": unit, "ts": iso(t)}
    if typ == "exposure":
        e["experiment"], e["variant"] = "spring", rng.choice(["control", "ten_off"])
    else:
        e["name"], e["revenue"] = name, revenue
    events.append(e)
    return e


for i in range(50):
    u = f"c{i:02d}"
    kind = i % 10
    if rng.random() < 0.8:
        add(u, "exposure", rng.randrange(0, 60))
    if kind == 0:  # exposed only (or nothing but an old view)
        if rng.random() < 0.5:
            add(u, "conversion", rng.randrange(20, 200), "view")
        continue
    if kind == 1:  # browsing recently, no purchase
        for _ in range(rng.randrange(1, 4)):
            add(u, "conversion", rng.randrange(0, 30), rng.choice(["view", "add_to_cart", "click"]))
        continue
    purchases = {2: 1, 3: 1, 4: 2, 5: 3, 6: 5, 7: 1, 8: 2, 9: 7}[kind] + rng.randrange(0, 2)
    base = rng.choice([3, 20, 60, 150, 300, 420, 500])
    for k in range(purchases):
        ago = base + k * rng.randrange(5, 90)
        add(u, "conversion", ago, "purchase", rng.randrange(1000, 90000))
    if rng.random() < 0.3:
        add(u, "conversion", rng.randrange(0, 400), "review")
    if rng.random() < 0.5:
        add(u, "conversion", rng.randrange(0, 40), rng.choice(["view", "add_to_cart", "click"]))

# Repeats with the same event_id: stored once.
for e in rng.sample(events, 6):
    events.append(dict(e))

# --- expected values ---------------------------------------------------
seen = set()
agg = {}
for e in events:
    if e["id"] in seen:
        continue
    seen.add(e["id"])
    t = datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    a = agg.setdefault(e["unit"], {"purchases": [], "engaged": [], "reviews": [], "exposed": []})
    if e["type"] == "exposure":
        a["exposed"].append(t)
    elif e["name"] == "purchase":
        a["purchases"].append((t, e["revenue"]))
    else:
        a["engaged"].append(t)
        if e["name"] == "review":
            a["reviews"].append(t)

buyers = {u: a for u, a in agg.items() if a["purchases"]}
N = len(buyers)


def bounds(values):
    v = sorted(values)
    return [v[math.ceil(k * N / 5) - 1] for k in range(1, 5)]


def score(v, q):
    return 1 + sum(1 for b in q if v > b)


R = {u: max(t for t, _ in a["purchases"]) for u, a in buyers.items()}
F = {u: len(a["purchases"]) for u, a in buyers.items()}
M = {u: sum(r for _, r in a["purchases"]) for u, a in buyers.items()}
qr, qf, qm = bounds(R.values()), bounds(F.values()), bounds(M.values())


def name(r, f, m):
    fm = f + m
    if r >= 4 and fm >= 8:
        return "champions"
    if r >= 4 and f == 1:
        return "new"
    if r >= 3 and fm >= 6:
        return "loyal"
    if r >= 3:
        return "potential_loyalist"
    if fm >= 9:
        return "cannot_lose"
    if fm >= 6:
        return "at_risk"
    if r == 2:
        return "hibernating"
    return "lost"


def within(t, days):
    return t is not None and (NOW - t) <= timedelta(days=days)


expected = []
for i in range(50):
    u = f"c{i:02d}"
    a = agg.get(u)
    if a is None:
        expected.append({"customer": u, "known": False, "r": 0, "f": 0, "m": 0, "rfm": "none", "aipl": "none"})
        continue
    row = {"customer": u, "known": True, "r": 0, "f": 0, "m": 0, "rfm": "none"}
    if u in buyers:
        r, f, m = score(R[u], qr), score(F[u], qf), score(M[u], qm)
        row.update(r=r, f=f, m=m, rfm=name(r, f, m))
    pts = sorted((t for t, _ in a["purchases"]), reverse=True)
    last = pts[0] if pts else None
    prev = pts[1] if len(pts) > 1 else None
    review = max(a["reviews"]) if a["reviews"] else None
    engaged = max(a["engaged"]) if a["engaged"] else None
    if within(review, 365) or within(prev, 365):
        row["aipl"] = "loyalty"
    elif within(last, 365):
        row["aipl"] = "purchase"
    elif within(engaged, 15):
        row["aipl"] = "interest"
    else:
        row["aipl"] = "awareness"
    row["purchase_count"] = len(pts)
    row["monetary"] = sum(r for _, r in a["purchases"])
    expected.append(row)

with open("fixture.json", "w") as f:
    json.dump({"now": iso(NOW), "events": events}, f, indent=0)
    f.write("\n")
with open("expected.json", "w") as f:
    json.dump({"now": iso(NOW), "buyers": N, "customers": expected}, f, indent=1)
    f.write("\n")
