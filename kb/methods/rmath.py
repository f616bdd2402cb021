"""R's arithmetic, set-wise: sums, means and variances per group computed the way R computes
them, so that a reproduction of COINr is exact rather than within a tolerance.

R accumulates ``sum()`` in extended precision (``long double``, 64-bit mantissa on x86-64)
from the first element to the last and rounds once; ``mean()`` divides that sum by n and adds
a second, corrective pass ``Σ(xᵢ − m)/n``; ``var()`` subtracts the (corrected, rounded) mean
and squares and sums the deviations in extended precision. numpy's ``longdouble`` is the same
80-bit type, and ``np.add.reduceat`` adds in order, so the results agree bit for bit.

Every function takes the values and an integer group code per value (missing values as NaN are
skipped, as ``na.rm = TRUE`` does) and returns one number per group, indexed by code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LD = np.longdouble


def _sorted(values: Any, codes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Present values ordered by group (stable: each group keeps the data's order); the
    start of each group and its code."""
    v = np.asarray(values, dtype="float64")
    c = np.asarray(codes)
    keep = ~np.isnan(v)
    v, c = v[keep], c[keep]
    order = np.argsort(c, kind="stable")
    v, c = v[order], c[order]
    if len(c) == 0:
        return v, c, np.array([], dtype=np.intp), c
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    return v, c, starts, c[starts]


def group_sum(values: Any, codes: Any) -> pd.Series:
    """R's ``sum(x, na.rm = TRUE)`` per group."""
    v, _, starts, keys = _sorted(values, codes)
    if len(v) == 0:
        return pd.Series(dtype="float64")
    return pd.Series(np.add.reduceat(v.astype(LD), starts).astype(np.float64), index=keys)


def _means(v: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.diff(np.r_[starts, len(v)])
    s = np.add.reduceat(v.astype(LD), starts) / n
    ok = np.isfinite(s.astype(np.float64))
    t = np.add.reduceat(v.astype(LD) - np.repeat(s, n), starts)
    s = np.where(ok, s + t / n, s)
    return s.astype(np.float64), n


def group_mean(values: Any, codes: Any) -> pd.Series:
    """R's ``mean(x, na.rm = TRUE)`` per group: a long double sum divided by n, then the
    correction Σ(xᵢ − s)/n; NaN for a group with no value is absent from the result."""
    v, _, starts, keys = _sorted(values, codes)
    if len(v) == 0:
        return pd.Series(dtype="float64")
    m, _ = _means(v, starts)
    return pd.Series(m, index=keys)


def group_var(values: Any, codes: Any) -> pd.Series:
    """R's ``var(x, na.rm = TRUE)`` per group (n − 1 in the denominator)."""
    v, _, starts, keys = _sorted(values, codes)
    if len(v) == 0:
        return pd.Series(dtype="float64")
    m, n = _means(v, starts)
    # R's cov.c: the mean is rounded to a double, the deviations and their squares are
    # taken in long double
    d = v.astype(LD) - np.repeat(m, n).astype(LD)
    ss = np.add.reduceat(d * d, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (ss / (n - 1)).astype(np.float64)
    out[n < 2] = np.nan
    return pd.Series(out, index=keys)


def group_sd(values: Any, codes: Any) -> pd.Series:
    """R's ``sd(x, na.rm = TRUE)``: the square root of :func:`group_var`."""
    var = group_var(values, codes)
    return pd.Series(np.sqrt(var.to_numpy()), index=var.index)


def per_row(stat: pd.Series, codes: Any) -> np.ndarray:
    """A per-group statistic spread back onto the rows (NaN where the group has none)."""
    c = np.asarray(codes)
    keys = stat.index.to_numpy()
    if (c.dtype.kind in "iu" and keys.dtype.kind in "iu" and len(c)
            and c.min() >= 0 and (len(keys) == 0 or keys.min() >= 0)):
        # integer codes: a dense lookup table instead of a hash reindex
        size = int(max(c.max(), keys.max() if len(keys) else 0)) + 1
        dense = np.full(size, np.nan)
        dense[keys] = stat.to_numpy(dtype="float64")
        out: np.ndarray = dense[c]
        return out
    return stat.reindex(c).to_numpy(dtype="float64")


def codes_of(keys: Any) -> np.ndarray:
    """Integer group codes of any key column."""
    return np.asarray(pd.factorize(keys)[0])
