#!/usr/bin/env python3
"""Check values of the decision-threshold tests (report_decision_test.go).

Independent of promolift: the two-sided pooled two-proportion z-test and
the one-degree-of-freedom chi-squared sample-ratio test, from the standard
library's erfc (p = erfc(|z|/sqrt 2); chi2 with 1 df: p = erfc(sqrt(chi2/2))).
Run: python3 decision_thresholds.py > decision_thresholds.json
"""
import json
import math


def pooled_z(n1, x1, n2, x2):
    p = (x1 + x2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    z = (x2 / n2 - x1 / n1) / se
    return math.erfc(abs(z) / math.sqrt(2))


def srm(nc, nt):
    e = (nc + nt) / 2
    chi2 = ((nc - e) ** 2 + (nt - e) ** 2) / e
    return math.erfc(math.sqrt(chi2 / 2))


cases = {
    # A guardrail (refund) between alpha and 2 alpha: not a significant harm.
    "guardrail_between_alpha_and_2alpha": {"n": 10000, "control": 100, "treatment": 127,
                                           "p": pooled_z(10000, 100, 10000, 127)},
    # A guardrail just below alpha: a significant harm.
    "guardrail_below_alpha": {"n": 10000, "control": 100, "treatment": 133,
                              "p": pooled_z(10000, 100, 10000, 133)},
    # A traffic split between 1e-4 and 1e-3: a sample ratio mismatch.
    "srm_between_1e-4_and_1e-3": {"control": 10000, "treatment": 10490, "p": srm(10000, 10490)},
}
print(json.dumps(cases, indent=2, sort_keys=True))
