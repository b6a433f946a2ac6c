"""Shared helpers of the check-value generators gen_checks.py and
gen_depth.py (promolift package stats): 40-digit mpmath normal and
Student-t functions and the check list they write."""
import mpmath as mp

mp.mp.dps = 40
CHECKS = []


def add(method, name, inp, want, tol=1e-9):
    out = {}
    for k, v in want.items():
        if isinstance(v, str) or v is None or isinstance(v, bool):
            out[k] = v
        elif isinstance(v, (list, tuple)):
            out[k] = [float(x) for x in v]
        else:
            out[k] = float(v)
    CHECKS.append({"method": method, "name": name, "input": inp, "want": out, "tol": tol})


def M(x):
    return mp.mpf(x)


def zq(alpha):
    """z_{1-alpha/2}."""
    return mp.sqrt(2) * mp.erfinv(1 - M(alpha))


def t_sf(t, nu):
    t, nu = M(t), M(nu)
    if t < 0:
        return 1 - t_sf(-t, nu)
    if nu > 1e5:
        # density integral (mpmath betainc is slow for huge a)
        c = mp.exp(mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2)) / mp.sqrt(nu * mp.pi)
        f = lambda x: c * mp.exp(-(nu + 1) / 2 * mp.log1p(x * x / nu))
        return mp.quad(f, [t, t + 1, t + 4, t + 12, mp.inf])
    return mp.betainc(nu / 2, M(1) / 2, 0, nu / (nu + t * t), regularized=True) / 2


def tq(alpha, nu):
    """t_{1-alpha/2, nu} by root finding on the high-precision survival function."""
    if nu == mp.inf:
        return zq(alpha)
    target = M(alpha) / 2
    x0 = zq(alpha)
    return mp.findroot(lambda q: mp.log(t_sf(q, nu)) - mp.log(target), (x0, x0 * 1.01 + 0.01), solver="secant")


def nsf(z):
    return mp.ncdf(-M(z))


def welch_df(na, ua, nb, ub):
    den = M(0)
    if ua > 0:
        den += ua * ua / (na - 1)
    if ub > 0:
        den += ub * ub / (nb - 1)
    return (ua + ub) ** 2 / den
