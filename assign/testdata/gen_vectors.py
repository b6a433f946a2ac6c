#!/usr/bin/env python3
"""Generate assign/testdata/vectors.json: frozen assignment vectors.

This is an independent implementation of the GrowthBook hashing and bucketing
algorithms as written in assign/testdata/growthbook/README.md (FNV-1a 32, hash
versions 1 and 2, bucket ranges, namespaces) plus promolift's layers (a layer
L is the namespace L) and holdouts (held out when hash(seed, unit, v) <
coverage). It shares no code with the Go package, so the Go test that reads
the vectors cross-checks the Go implementation.

Run from the repository root:

    python3 assign/testdata/gen_vectors.py > assign/testdata/vectors.json

Before generating, the script checks itself against the `hash` and
`inNamespace` rows of the GrowthBook cases when ../shared is present.
"""
import json
import os
import sys


def fnv32a(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def gb_hash(seed, value, version):
    if version in (0, 1):
        return (fnv32a(value + seed) % 1000) / 1000
    if version == 2:
        return (fnv32a(str(fnv32a(seed + value))) % 10000) / 10000
    return None


def bucket_ranges(n, coverage, weights):
    coverage = min(max(coverage, 0.0), 1.0)
    equal = [1.0 / n] * n
    if weights is None or len(weights) != n or not (0.99 <= sum(weights) <= 1.01):
        weights = equal
    out, cum = [], 0.0
    for w in weights:
        start = cum
        cum += w
        out.append((start, start + coverage * w))
    return out


def choose(n, ranges):
    for i, (s, e) in enumerate(ranges):
        if s <= n < e:
            return i
    return -1


def in_namespace(unit, ns):
    n = gb_hash("__" + ns[0], unit, 1)
    return ns[1] <= n < ns[2]


def hash_string(v):
    if isinstance(v, str):
        return v if v else None
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        if v == 0:
            return None
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    return None


def run(spec, key, attrs):
    exp = next(e for e in spec["experiments"] if e["key"] == key)
    ha = exp.get("hashAttribute") or "id"
    attr, value = ha, hash_string(attrs.get(ha))
    if value is None and exp.get("fallbackAttribute"):
        fb = exp["fallbackAttribute"]
        v = hash_string(attrs.get(fb))
        if v is not None:
            attr, value = fb, v
    keys = [m["key"] for m in exp["meta"]]
    out = {"inExperiment": False, "variationIndex": 0, "variantKey": keys[0],
           "hashAttribute": attr, "hashValue": value or ""}
    if value is None:
        out["reason"] = "noHashAttribute"
        return out
    for h in spec.get("holdouts", []):
        if h.get("experiments") and key not in h["experiments"]:
            continue
        hv = hash_string(attrs.get(h.get("hashAttribute") or "id"))
        if hv is None:
            continue
        if gb_hash(h.get("seed") or h["key"], hv, h.get("hashVersion") or 2) < h["coverage"]:
            out["reason"] = "holdout"
            return out
    ns = exp.get("namespace")
    if exp.get("layer"):
        ns = [exp["layer"], exp["layerRange"][0], exp["layerRange"][1]]
    if ns is not None and not in_namespace(value, ns):
        out["reason"] = "namespace"
        return out
    n = gb_hash(exp.get("seed") or key, value, exp.get("hashVersion") or 1)
    idx = choose(n, bucket_ranges(len(exp["variations"]), exp.get("coverage", 1.0), exp.get("weights")))
    if idx < 0:
        out["reason"] = "coverage"
        return out
    out.update({"inExperiment": True, "variationIndex": idx, "variantKey": keys[idx],
                "bucket": n, "reason": "assigned"})
    return out


def self_check():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                        "conformance", "growthbook", "cases.json")
    if not os.path.exists(path):
        return
    cases = json.load(open(path))
    for seed, value, version, want in cases["hash"]:
        got = gb_hash(seed, value, version)
        assert got == want, (seed, value, version, got, want)
    for name, unit, ns, want in cases["inNamespace"]:
        assert in_namespace(unit, ns) == want, name


def exp(key, variants, **kw):
    e = {"key": key, "variations": [json.dumps(v) and v for v in variants],
         "meta": [{"key": v} for v in variants]}
    e.update(kw)
    return e


SCENARIOS = [
    ("v2 equal 50/50", {"experiments": [exp("spring-sale", ["control", "ten_off"], hashVersion=2)]},
     "spring-sale", [{"id": u} for u in ["u1", "u2", "u3", "u4", "u5", "u6"]]),
    ("v1 equal 50/50", {"experiments": [exp("legacy", ["control", "ten_off"], hashVersion=1)]},
     "legacy", [{"id": u} for u in ["u1", "u2", "u3", "u4", "u5"]]),
    ("v2 weights 10/30/60", {"experiments": [exp("cashback", ["control", "cb5", "cb10"], hashVersion=2,
                                                weights=[0.1, 0.3, 0.6])]},
     "cashback", [{"id": u} for u in ["a1", "a2", "a3", "a4", "a5", "a6"]]),
    ("v2 coverage 0.4", {"experiments": [exp("free-ship", ["control", "free_shipping"], hashVersion=2,
                                            coverage=0.4, weights=[0.5, 0.5])]},
     "free-ship", [{"id": u} for u in ["c1", "c2", "c3", "c4", "c5", "c6"]]),
    ("v1 coverage 0.5 seed", {"experiments": [exp("bundle", ["control", "bundle"], hashVersion=1,
                                                 coverage=0.5, seed="bundle-2026")]},
     "bundle", [{"id": u} for u in ["s1", "s2", "s3", "s4"]]),
    ("v2 namespace", {"experiments": [exp("points", ["control", "double_points"], hashVersion=2,
                                         namespace=["loyalty", 0, 0.5])]},
     "points", [{"id": u} for u in ["n1", "n2", "n3", "n4", "n5"]]),
    ("v2 layer", {"layers": [{"key": "checkout"}],
                  "experiments": [exp("layer-a", ["control", "ten_off"], hashVersion=2, layer="checkout", layerRange=[0, 0.5]),
                                  exp("layer-b", ["control", "free_shipping"], hashVersion=2, layer="checkout", layerRange=[0.5, 1])]},
     "layer-a+layer-b", [{"id": u} for u in ["l1", "l2", "l3", "l4"]]),
    ("v2 holdout 20%", {"holdouts": [{"key": "global-holdout", "coverage": 0.2}],
                        "experiments": [exp("held", ["control", "ten_off"], hashVersion=2)]},
     "held", [{"id": u} for u in ["h1", "h2", "h3", "h4", "h5", "h6"]]),
    ("v2 fallback attribute", {"experiments": [exp("anon", ["control", "ten_off"], hashVersion=2,
                                                  hashAttribute="userId", fallbackAttribute="anonId")]},
     "anon", [{"anonId": "anon-1"}, {"anonId": "anon-2"}, {"userId": "user-9", "anonId": "anon-3"}, {"country": "KR"}]),
    ("v2 numeric id", {"experiments": [exp("num", ["control", "ten_off"], hashVersion=2)]},
     "num", [{"id": 123}, {"id": 98765}]),
]


def main():
    self_check()
    vectors = []
    for name, spec, key, units in SCENARIOS:
        spec = dict(spec)
        spec["version"] = "vectors-1"
        for attrs in units:
            for k in key.split("+"):
                vectors.append({"name": "%s / %s / %s" % (name, k, json.dumps(attrs, sort_keys=True)),
                                "spec": spec, "experiment": k, "attributes": attrs,
                                "expected": run(spec, k, attrs)})
    json.dump({"comment": "Generated by assign/testdata/gen_vectors.py (independent Python implementation "
                          "of the GrowthBook hash/bucketing in assign/testdata/growthbook/README.md). Do not edit.",
               "vectors": vectors}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
