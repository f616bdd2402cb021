"""Aggregation of children into their parent, per place.

Each function takes the frame of present children — ``place, parent, value, weight`` — and
returns a Series indexed by ``(place, parent)``. Weights are rescaled over the children
present (a weighted mean divides by the sum of the present children's weights). Sums are
accumulated in extended precision and rounded once, so results do not depend on the order of
the children and ties are not broken by rounding noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kb.errors import KbError
from kb.methods import register
from kb.methods.normalise import rerank

KEYS = ["place", "parent"]


def xsum(frame: pd.DataFrame, column: str) -> pd.Series:
    """Sum of ``column`` per (place, parent), accumulated in long double, then rounded."""
    f = frame.sort_values(KEYS, kind="stable")
    if f.empty:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_arrays([[], []], names=KEYS))
    codes = f.groupby(KEYS, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sums = np.add.reduceat(f[column].to_numpy(dtype=np.longdouble), starts).astype(np.float64)
    index = pd.MultiIndex.from_frame(f.iloc[starts][KEYS])
    return pd.Series(sums, index=index)


@register("aggregate", "sum")
def total(children: pd.DataFrame) -> pd.Series:
    """Sum of the children's values (weights ignored)."""
    return xsum(children, "value")


@register("aggregate", "amean")
def amean(children: pd.DataFrame) -> pd.Series:
    """Weighted arithmetic mean: ``Σ wᵢxᵢ / Σ wᵢ`` over the children present."""
    f = children.assign(wx=children["weight"] * children["value"])
    return xsum(f, "wx") / xsum(f, "weight")


@register("aggregate", "gmean")
def gmean(children: pd.DataFrame) -> pd.Series:
    """Weighted geometric mean: ``exp(Σ wᵢ ln xᵢ / Σ wᵢ)``; every value must be positive."""
    if (children["value"] <= 0).any():
        raise KbError("KB051", "the geometric mean needs positive values; normalise onto a "
                      "positive range (e.g. minmax with low=1)")
    f = children.assign(wlx=children["weight"] * np.log(children["value"]))
    ratio = xsum(f, "wlx") / xsum(f, "weight")
    return pd.Series(np.exp(ratio.to_numpy()), index=ratio.index)


@register("aggregate", "sum-rerank")
def sum_rerank(children: pd.DataFrame, ties: str = "high") -> pd.Series:
    """Sum of the children, then rank points among the places (a Cities of Opportunity
    variable made of two indicators: indicator points summed, the sum re-ranked)."""
    s = xsum(children, "value")
    parents = pd.Series(s.index.get_level_values("parent"), index=s.index)
    return rerank(s, parents, ties=ties)
