"""Outlier treatment of indicators before normalisation, as COINr's ``Treat()`` does it.

Each function takes the long frame ``place, concept, value`` (raw values, before their
direction is applied) and returns the treated values and, per value, what was done to it
(COINr's labels: ``winhi``/``winlo`` for a winsorised point, ``log_CT`` for a log transform,
empty for none). Every indicator is worked on at once as a column of a places × indicators
array; the winsorisation loop runs over rounds, never over values.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from kb.methods import register

LD = np.longdouble


def _wide(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values as a places × indicators array, with the row and column of each input row."""
    rows, places = pd.factorize(df["place"], sort=False)
    cols, concepts = pd.factorize(df["concept"], sort=False)
    x = np.full((len(places), len(concepts)), np.nan)
    x[rows, cols] = df["value"].to_numpy(dtype="float64")
    return x, rows, cols


def _r_mean_cols(x: np.ndarray, present: np.ndarray, n: np.ndarray) -> np.ndarray:
    """R's mean of each column over its present values (sum in order, then corrected)."""
    z = np.where(present, x, 0.0).astype(LD)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = z.sum(axis=0) / n
        t = np.where(present, x.astype(LD) - s, 0).sum(axis=0)
        out: np.ndarray = (s + t / n).astype(np.float64)
    return out


def _powl(x: np.ndarray, p: float) -> np.ndarray:
    out: np.ndarray = np.power(x.astype(LD), LD(p)).astype(np.float64)
    return out


def skew_kurt(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COINr's ``skew()`` and ``kurt()`` (those of e1071, type 2) of each column, missing
    values dropped; NaN below 3 (skew) or 4 (kurtosis) values."""
    present = ~np.isnan(x)
    n = present.sum(axis=0).astype(np.float64)
    m = _r_mean_cols(x, present, n)
    d = np.where(present, x - m, 0.0)
    # R raises to a power with powl on x86-64 and rounds to double (x^2 is x·x); products
    # in long double rounded once to double are the same doubles, and far faster than powl
    dl = d.astype(LD)
    s2 = (d * d).astype(LD).sum(axis=0).astype(np.float64)
    s3 = (dl * dl * dl).astype(np.float64).astype(LD).sum(axis=0).astype(np.float64)
    s4 = ((dl * dl) * (dl * dl)).astype(np.float64).astype(LD).sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sk = np.sqrt(n) * s3 / _powl(s2, 1.5)
        sk = sk * np.sqrt(n * (n - 1)) / (n - 2)
        r = n * s4 / (s2 * s2)
        kt = ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    sk[n < 3] = np.nan
    kt[n < 4] = np.nan
    return sk, kt


def passes(x: np.ndarray, skew_thresh: float, kurt_thresh: float) -> np.ndarray:
    """COINr's ``check_SkewKurt``: ``|skew| < skew_thresh or kurtosis < kurt_thresh`` (NaN when
    either cannot be computed and the other does not pass)."""
    sk, kt = skew_kurt(x)
    a, b = np.abs(sk) < skew_thresh, kt < kurt_thresh
    out: np.ndarray = (a | b).astype(np.float64)
    out[~(a | b) & (np.isnan(sk) | np.isnan(kt))] = np.nan
    return out


def winsorise_array(x: np.ndarray, winmax: int | None, skew_thresh: float,
                    kurt_thresh: float, force: bool,
                    ok: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """COINr's ``winsorise()`` on every column: while a column fails the skew/kurtosis test
    (or ``force``) and fewer than ``winmax`` points were winsorised in the last round, the
    highest values (skew ≥ 0) or the lowest are set to the next value in. As in COINr, the
    count compared with ``winmax`` is that of the points set in the latest round on each
    side (which includes those set before, since they now share the extreme value). Returns
    the values and the labels (0 none, 1 winhi, 2 winlo). ``ok``: :func:`passes` of ``x``
    when the caller has it already."""
    x = x.copy()
    present = ~np.isnan(x)
    label = np.zeros(x.shape, dtype=np.int8)
    last_hi = np.zeros(x.shape, dtype=bool)
    last_lo = np.zeros(x.shape, dtype=bool)
    if ok is None:
        ok = passes(x, skew_thresh, kurt_thresh)
    active = (ok == 0) | (force & ~np.isnan(ok))
    active &= winmax is None or winmax > 0
    while active.any():
        cols = np.flatnonzero(active)
        xs = x[:, cols]
        pr = present[:, cols]
        sk, _ = skew_kurt(xs)
        hi_side = sk >= 0
        mx = np.nanmax(np.where(pr, xs, np.nan), axis=0)
        mn = np.nanmin(np.where(pr, xs, np.nan), axis=0)
        ext = np.where(hi_side, mx, mn)
        at = pr & (xs == ext)
        rest = np.where(pr & ~at, xs, np.nan)
        with np.errstate(all="ignore"):
            nxt = np.where(hi_side, np.nanmax(np.where(np.isnan(rest), -np.inf, rest), axis=0),
                           np.nanmin(np.where(np.isnan(rest), np.inf, rest), axis=0))
        xs = np.where(at, nxt, xs)
        x[:, cols] = xs
        hi = at & hi_side
        lo = at & ~hi_side
        last_hi[:, cols] = np.where(hi_side, hi, last_hi[:, cols])
        last_lo[:, cols] = np.where(~hi_side, lo, last_lo[:, cols])
        nwin = last_hi[:, cols].sum(axis=0) + last_lo[:, cols].sum(axis=0)
        below = np.ones(len(cols), dtype=bool) if winmax is None else nwin < winmax
        ok_now = passes(xs, skew_thresh, kurt_thresh)
        still = ((ok_now == 0) | force) & below
        active[cols] = still
    label[last_hi] = 1
    label[last_lo] = 2
    return x, label


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr's ``log_CT``: ``log(x − min + 0.01·(max − min))`` per column."""
    with np.errstate(all="ignore"):
        mn, mx = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        out: np.ndarray = np.log(x - mn + 0.01 * (mx - mn))
    return out


@register("treat", "none")
def none(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """No treatment."""
    return df["value"].astype("float64"), pd.Series("", index=df.index)


@register("treat", "winsorise", coinr="Treat", aliases=("winsorize",),
          formula="winsorise while |skew| ≥ skew and kurtosis ≥ kurt; then log if still failing")
def winsorise(df: pd.DataFrame, winmax: int | None = 5, skew: float = 2.0, kurt: float = 3.5,
              force: bool = False, then: Literal["log", "none"] = "log") -> tuple[pd.Series,
                                                                                  pd.Series]:
    """COINr's default treatment (``Treat()`` with ``winsorise`` then ``log_CT``): an
    indicator whose absolute skewness is at least ``skew`` and whose kurtosis is at least
    ``kurt`` is winsorised, the extreme value(s) on the side of the skew set to the next
    value in, round by round until it passes or ``winmax`` points were set (null: no limit);
    if it still fails and ``then: log``, the winsorisation is discarded and the original
    values are log-transformed (``log(x − min + 0.01·(max − min))``). ``force``: winsorise
    ``winmax`` points even when the indicator passes."""
    x, rows, cols = _wide(df)
    ok0 = passes(x, skew, kurt)
    # an indicator that passes is not treated (``force`` only carries the winsorisation of
    # a failing one past passing); one whose test cannot be computed is left as it is
    # (COINr warns and skips it). Only the failing columns are worked on and tested again.
    failing = np.flatnonzero(ok0 == 0)
    out = x
    code = np.zeros(x.shape, dtype=np.int8)
    if len(failing):
        xf = x[:, failing]
        xw, lab = winsorise_array(xf, winmax, skew, kurt, force, ok0[failing])
        use_log = (passes(xw, skew, kurt) == 0) & (then == "log")
        out = x.copy()
        out[:, failing] = np.where(use_log, log_ct(xf), xw)
        code[:, failing] = lab + 3 * use_log
    names = np.array(["", "winhi", "winlo", "+log_CT", "winhi+log_CT", "winlo+log_CT"],
                     dtype=object)
    return (pd.Series(out[rows, cols], index=df.index),
            pd.Series(names[code[rows, cols]], index=df.index, dtype=object))


@register("treat", "log", formula="log(x − min + 0.01 · (max − min))")
def log(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """COINr's ``log_CT`` applied unconditionally."""
    x, rows, cols = _wide(df)
    return (pd.Series(log_ct(x)[rows, cols], index=df.index),
            pd.Series("log_CT", index=df.index))
