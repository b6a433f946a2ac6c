"""Check values of stats.QuantileRanks (quantile_ranks_test.go): the 1-based
ranks ceil(n*q) and ceil(n*q -/+ z*sqrt(n*q*(1-q))), z the 0.975 normal
quantile, clamped to [1, n]. Python standard library only."""
import math
from statistics import NormalDist

z = NormalDist().inv_cdf(0.975)
for n, q in [(100, .5), (41, .9), (10, .9), (1, .5), (7, .5), (1000, .9)]:
    h = z * math.sqrt(n * q * (1 - q))
    def rank(x):
        return min(max(math.ceil(x), 1), n)
    print(n, q, rank(n * q), rank(n * q - h), rank(n * q + h))
