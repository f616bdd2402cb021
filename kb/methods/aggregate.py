"""Aggregation of children into their parent, per place.

Each function takes the frame of present children — ``place, parent, value, weight`` — and
returns a Series indexed by ``(place, parent)``. Weights are rescaled over the children
present (a weighted mean divides by the sum of the present children's weights). Sums are
accumulated in extended precision and rounded once, as R's ``sum()`` does, and each mean
follows COINr's order of operations, so that a COINr pipeline is reproduced bit for bit (and
its exact ties are kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kb.errors import KbError
from kb.methods import register
from kb.methods.normalise import Ties, rerank

KEYS = ["place", "parent"]


@dataclass(frozen=True)
class _Groups:
    """The rows of a children frame grouped by (place, parent), in the order a stable sort
    by (place, parent) gives (children keep their order within a group): ``order`` (row
    positions), the ``starts`` and ``sizes`` of the groups, and their ``index``."""

    order: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    index: pd.MultiIndex

    def col(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        out: np.ndarray = frame[name].to_numpy(dtype="float64")[self.order]
        return out


def _groups(frame: pd.DataFrame) -> _Groups:
    """Set-wise: each key column factorised with sorted codes (sorting only the distinct
    keys), one integer key per row, and a stable integer argsort — the order of a stable
    ``sort_values(["place", "parent"])`` without sorting the strings."""
    empty = np.array([], dtype=np.intp)
    if frame.empty:
        return _Groups(empty, empty, empty, pd.MultiIndex.from_arrays([[], []], names=KEYS))
    pc, pu = pd.factorize(frame["place"], sort=True)
    qc, qu = pd.factorize(frame["parent"], sort=True)
    key = pc.astype(np.int64) * max(len(qu), 1) + qc
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    first = order[starts]
    levels: list[Any] = [pu, qu]
    codes: list[Any] = [pc[first], qc[first]]
    index = pd.MultiIndex(levels=levels, codes=codes, names=KEYS, verify_integrity=False)
    return _Groups(order, starts, np.diff(np.r_[starts, len(order)]), index)


def _ldsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums from each start to the next, accumulated in long double in order (R's sum())."""
    if len(starts) == 0:
        return np.array([], dtype=np.float64)
    out: np.ndarray = np.add.reduceat(values.astype(np.longdouble), starts).astype(np.float64)
    return out


def xsum(frame: pd.DataFrame, column: str) -> pd.Series:
    """Sum of ``column`` per (place, parent), accumulated in long double, then rounded."""
    g = _groups(frame)
    return pd.Series(_ldsum(g.col(frame, column), g.starts), index=g.index)


@register("aggregate", "sum", formula="Σ xᵢ")
def total(children: pd.DataFrame) -> pd.Series:
    """Sum of the children's values (weights ignored)."""
    return xsum(children, "value")


@register("aggregate", "amean", coinr="a_amean", formula="Σ (wᵢ / Σ wⱼ) · xᵢ")
def amean(children: pd.DataFrame) -> pd.Series:
    """Weighted arithmetic mean over the children present, in COINr's order of operations:
    the weights are first rescaled to sum to 1 (``w / sum(w)``), then ``Σ wᵢxᵢ`` is summed.
    (``Σ wᵢxᵢ / Σ wᵢ`` is the same number in exact arithmetic but can differ by an ulp, which
    creates or breaks ties in the ranks.)"""
    g = _groups(children)
    w = g.col(children, "weight")
    with np.errstate(invalid="ignore", divide="ignore"):  # all weights 0: missing
        w = w / np.repeat(_ldsum(w, g.starts), g.sizes)
    return pd.Series(_ldsum(w * g.col(children, "value"), g.starts), index=g.index)


@register("aggregate", "gmean", coinr="a_gmean", formula="exp(Σ wᵢ ln xᵢ / Σ wᵢ)")
def gmean(children: pd.DataFrame) -> pd.Series:
    """Weighted geometric mean: ``exp(Σ wᵢ ln xᵢ / Σ wᵢ)``; every value must be positive."""
    if (children["value"] <= 0).any():
        raise KbError("KB051", "the geometric mean needs positive values; normalise onto a "
                      "positive range (e.g. minmax with low=1)")
    g = _groups(children)
    w = g.col(children, "weight")
    ratio = _ldsum(w * np.log(g.col(children, "value")), g.starts) / _ldsum(w, g.starts)
    return pd.Series(np.exp(ratio), index=g.index)


@register("aggregate", "hmean", coinr="a_hmean", formula="Σ wᵢ / Σ (wᵢ / xᵢ)")
def hmean(children: pd.DataFrame) -> pd.Series:
    """Weighted harmonic mean: ``Σ wᵢ / Σ (wᵢ/xᵢ)``; no value may be zero."""
    if (children["value"] == 0).any():
        raise KbError("KB051", "the harmonic mean needs non-zero values; normalise onto a "
                      "range without 0 (e.g. minmax with low=1)")
    g = _groups(children)
    w = g.col(children, "weight")
    x = g.col(children, "value")
    return pd.Series(_ldsum(w, g.starts) / _ldsum(w / x, g.starts), index=g.index)


@register("aggregate", "genmean", coinr="a_genmean", aliases=("power-mean",),
          formula="(Σ wᵢ xᵢᵖ / Σ wᵢ)^(1/p)")
def genmean(children: pd.DataFrame, p: float) -> pd.Series:
    """Weighted generalised (power) mean ``(Σ wᵢxᵢᵖ / Σ wᵢ)^(1/p)``; ``p = 1`` is the
    arithmetic mean, ``p = −1`` the harmonic; ``p = 0`` is the geometric mean (use gmean)."""
    if p == 0:
        raise KbError("KB121", "genmean: p = 0 is the geometric mean; use gmean")
    if p < 0 and (children["value"] <= 0).any():
        raise KbError("KB051", "genmean with a negative p needs positive values")
    g = _groups(children)
    x = g.col(children, "value")
    w = g.col(children, "weight")
    xp = x * x if p == 2 else np.power(x, p)
    ratio = _ldsum(w * xp, g.starts) / _ldsum(w, g.starts)
    return pd.Series(np.power(ratio, 1 / p), index=g.index)


@register("aggregate", "median", formula="median of the xᵢ (weights ignored)")
def median(children: pd.DataFrame) -> pd.Series:
    """Median of the children present (weights play no part; with an even number the mean
    of the middle two)."""
    out: pd.Series = children.groupby(KEYS, sort=True)["value"].median()
    return out


@register("aggregate", "owa", formula="Σ vₖ · x₍ₖ₎, x sorted from the highest")
def owa(children: pd.DataFrame, order_weights: list[float]) -> pd.Series:
    """Ordered weighted average: the children's values sorted from the highest, the k-th
    highest times ``order_weights[k]`` (rescaled to sum to 1 over the children present);
    ``[1, 0, …]`` is the maximum, ``[…, 0, 1]`` the minimum, equal weights the mean."""
    v = np.asarray(order_weights, dtype="float64")
    if len(v) == 0 or (v < 0).any() or v.sum() == 0:
        raise KbError("KB121", "owa: order_weights must be non-negative and not all zero")
    f = children.sort_values([*KEYS, "value"], ascending=[True, True, False], kind="stable")
    k = f.groupby(KEYS, sort=False).cumcount().to_numpy()
    if k.max(initial=0) >= len(v):
        raise KbError("KB121", f"owa: {len(v)} order weights for up to {k.max() + 1} children")
    f = f.assign(weight=v[k])
    out: pd.Series = amean(f)
    return out


@register("aggregate", "copeland", coinr="a_copeland",
          formula="Σⱼ sign(Σᵢ wᵢ [xᵢ > yᵢ] + ½ Σᵢ wᵢ [xᵢ = yᵢ] − ½)")
def copeland(children: pd.DataFrame) -> pd.Series:
    """Copeland scores: for each pair of places, the (rescaled) weight of the children where
    one beats the other, ties counting half; a pair won (> ½) scores +1, lost −1, drawn 0;
    a place's score is the sum over all others. Children missing for either place of a pair
    count for neither, as in COINr (whose outranking matrix fills the lower triangle as 1 −
    the upper)."""
    parts = []
    for parent, group in children.groupby("parent", sort=True):
        wide = group.pivot(index="place", columns="concept", values="value")
        ws = group.drop_duplicates("concept").set_index("concept")["weight"]
        w = ws.reindex(wide.columns).to_numpy(dtype="float64")
        w = w / float(np.sum(w.astype(np.longdouble)))
        x = wide.to_numpy(dtype="float64")
        gt = (x[:, None, :] > x[None, :, :]).astype(np.longdouble)
        eq = (x[:, None, :] == x[None, :, :]).astype(np.longdouble)
        orm = ((gt * w).sum(axis=2).astype(np.float64)
               + ((eq * w).sum(axis=2).astype(np.float64) / 2))
        upper = np.triu(orm, 1)
        orm = upper + np.tril(1 - orm.T, -1)
        score = np.where(orm > 0.5, 1.0, np.where(orm < 0.5, -1.0, 0.0))
        np.fill_diagonal(score, 0.0)
        parts.append(pd.Series(score.sum(axis=1), index=pd.MultiIndex.from_arrays(
            [wide.index, np.full(len(wide), parent)], names=KEYS)))
    if not parts:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_arrays([[], []], names=KEYS))
    return pd.concat(parts).sort_index()


@register("aggregate", "sum-rerank", formula="rank points of Σ xᵢ")
def sum_rerank(children: pd.DataFrame, ties: Ties = "high") -> pd.Series:
    """Sum of the children, then rank points among the places (a Cities of Opportunity
    variable made of two indicators: indicator points summed, the sum re-ranked)."""
    s = xsum(children, "value")
    parents = pd.Series(s.index.get_level_values("parent"), index=s.index)
    return rerank(s, parents, ties=ties)
