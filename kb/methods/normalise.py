"""Normalisation of indicators: raw values (already multiplied by their direction) → scores.

Each function takes the long frame ``place, concept, value`` of one or more indicators that
share the method and its parameters, and returns the normalised values (a Series aligned with
the frame). Statistics are per indicator (``concept``) over the places with a value; missing
values stay missing.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from kb.errors import KbError
from kb.methods import register
from kb.methods.rmath import codes_of, group_mean, group_sd, per_row

Ties = Literal["high", "low", "min", "max", "average", "first", "dense"]
"""How tied values share ranks: COINr's (R's ``ties.method``) ``min``, ``max``, ``average``,
``first`` (order of the data), ``dense``; citykb's ``high`` (= ``max``: tied places share the
higher points) and ``low`` (= ``min``)."""
_PANDAS_TIES = {"high": "max", "low": "min", "min": "min", "max": "max", "average": "average",
                "first": "first", "dense": "dense"}


def _by(df: pd.DataFrame) -> Any:
    return df.groupby("concept")["value"]


def _ranks(df: pd.DataFrame, ties: str, by: Any = None) -> pd.Series:
    """Ranks within each concept (``by``: the grouping, when the caller has made it)."""
    if ties not in _PANDAS_TIES:
        raise KbError("KB121", f"ties must be one of {', '.join(_PANDAS_TIES)}, not {ties!r}")
    out: pd.Series = (by if by is not None else _by(df)).rank(method=_PANDAS_TIES[ties],
                                                               ascending=True)
    return out


@register("normalise", "none")
def none(df: pd.DataFrame) -> pd.Series:
    """The values unchanged."""
    return df["value"].astype("float64")


@register("normalise", "minmax", coinr="n_minmax",
          formula="(x − min x) / (max x − min x) · (high − low) + low")
def minmax(df: pd.DataFrame, low: float = 0.0, high: float = 100.0) -> pd.Series:
    """Min-max onto [low, high]: ``(x − min) / (max − min) · (high − low) + low``."""
    g = _by(df)
    lo, hi = g.transform("min"), g.transform("max")
    out: pd.Series = (df["value"] - lo) / (hi - lo) * (high - low) + low
    return out


@register("normalise", "zscore", coinr="n_zscore",
          formula="(x − mean x) / sd x · sd + mean")
def zscore(df: pd.DataFrame, mean: float = 0.0, sd: float = 1.0) -> pd.Series:
    """Standardisation: ``(x − mean(x)) / sd(x) · sd + mean``, sd with n − 1; the mean and
    standard deviation computed as R computes them (extended-precision sums, corrected mean)."""
    codes = codes_of(df["concept"])
    m = per_row(group_mean(df["value"], codes), codes)
    s = per_row(group_sd(df["value"], codes), codes)
    return pd.Series((df["value"].to_numpy() - m) / s * sd + mean, index=df.index)


@register("normalise", "goalposts", coinr="n_goalposts",
          formula="min(max((x − lower) / (upper − lower), 0), 1) · scale")
def goalposts(df: pd.DataFrame, lower: float, upper: float, scale: float = 100.0,
              trunc: bool = True) -> pd.Series:
    """Distance to goalposts: ``(x − lower) / (upper − lower)``, capped to [0, 1] when
    ``trunc``, times ``scale`` (COINr's order). For a negative direction give the goalposts
    of −x."""
    if upper == lower:
        raise KbError("KB051", "goalposts need lower != upper")
    out = (df["value"] - lower) / (upper - lower)
    return (out.clip(0.0, 1.0) if trunc else out) * scale


@register("normalise", "scaled", coinr="n_scaled",
          formula="(x − low) / (high − low) · scale")
def scaled(df: pd.DataFrame, low: float = 0.0, high: float = 100.0,
           scale: float = 100.0) -> pd.Series:
    """Linear rescaling by fixed bounds, without capping: ``(x − low)/(high − low)·scale``."""
    if high == low:
        raise KbError("KB121", "scaled needs low != high")
    out: pd.Series = (df["value"] - low) / (high - low) * scale
    return out


@register("normalise", "dist2max", coinr="n_dist2max",
          formula="1 − (max x − x) / (max x − min x)")
def dist2max(df: pd.DataFrame) -> pd.Series:
    """Distance to the best (maximum) value: ``1 − (max − x)/(max − min)``."""
    g = _by(df)
    lo, hi = g.transform("min"), g.transform("max")
    out: pd.Series = 1 - (hi - df["value"]) / (hi - lo)
    return out


@register("normalise", "dist2targ", coinr="n_dist2targ",
          formula="(x − min x) / (target − min x), capped at 1 when cap")
def dist2targ(df: pd.DataFrame, target: float, cap: bool = False) -> pd.Series:
    """Distance to a target: ``(x − min)/(target − min)``; the target is on the scale of the
    values after their direction is applied (COINr multiplies it by the direction too: give
    −target for a negative indicator). ``cap``: scores above 1 become 1."""
    lo = _by(df).transform("min")
    out: pd.Series = (df["value"] - lo) / (target - lo)
    return out.where(~(out > 1), 1.0) if cap else out


@register("normalise", "dist2ref", coinr="n_dist2ref",
          formula="1 − (x_ref − x) / (x_ref − min x)")
def dist2ref(df: pd.DataFrame, ref: str, cap: bool = False) -> pd.Series:
    """Distance to a reference place's value (its id, e.g. ``country:aut``):
    ``1 − (x_ref − x)/(x_ref − min)``; ``cap``: scores above 1 become 1."""
    from kb.namespaces import place_ref

    at = df[df["place"].astype(str).isin([ref, place_ref(ref)])]
    if at.empty:
        raise KbError("KB121", f"dist2ref: the reference place {ref!r} has no values")
    xref = df["concept"].map(at.set_index("concept")["value"])
    lo = _by(df).transform("min")
    out: pd.Series = 1 - (xref - df["value"]) / (xref - lo)
    return out.where(~(out > 1), 1.0) if cap else out


@register("normalise", "fracmax", coinr="n_fracmax", formula="x / max x")
def fracmax(df: pd.DataFrame) -> pd.Series:
    """Fraction of the maximum: ``x / max``."""
    out: pd.Series = df["value"] / _by(df).transform("max")
    return out


@register("normalise", "rank", coinr="n_rank", formula="rank(x), ascending")
def rank(df: pd.DataFrame, ties: Ties = "min") -> pd.Series:
    """Ranks, the lowest value 1 and the best (highest) n; missing values stay missing."""
    return _ranks(df, ties).astype("float64")


@register("normalise", "borda", coinr="n_borda", formula="rank(x) − 1")
def borda(df: pd.DataFrame, ties: Ties = "min") -> pd.Series:
    """Borda scores: the number of places with a lower value (``rank − 1``)."""
    return _ranks(df, ties).astype("float64") - 1


@register("normalise", "percentile", coinr="n_prank", aliases=("prank",),
          formula="(rank(x) − 1) / (n − 1)")
def percentile(df: pd.DataFrame, ties: Ties = "min") -> pd.Series:
    """Percentile ranks in [0, 1]: ``(rank − 1)/(n − 1)`` with n the places with a value."""
    g = _by(df)  # one grouping for the ranks and the counts
    r = _ranks(df, ties, g).astype("float64")
    n = g.transform("count")
    out: pd.Series = (r - 1) / (n - 1)
    return out


@register("normalise", "power", formula="((x − min x) / (max x − min x))^exponent · scale")
def power(df: pd.DataFrame, exponent: float = 1.0, scale: float = 100.0) -> pd.Series:
    """Custom exponent: min-max onto [0, 1], raised to ``exponent`` (below 1 rewards the first
    gains, above 1 the last), times ``scale``. COINr has no such function (it takes any R
    function as ``f_n``)."""
    if exponent <= 0:
        raise KbError("KB121", f"power needs a positive exponent, not {exponent}")
    g = _by(df)
    lo, hi = g.transform("min"), g.transform("max")
    base = ((df["value"] - lo) / (hi - lo)).to_numpy(dtype="float64")
    return pd.Series(np.power(base, exponent) * scale, index=df.index)


@register("normalise", "rank-points", formula="rank(x) + (population − n)")
def rank_points(df: pd.DataFrame, ties: Ties = "high", absent: float | None = None,
                population: int | None = None) -> pd.Series:
    """Rank points: the best of N places gets N points, the worst 1 (位序计分法).

    ``ties``: tied places share the ``high``er or the ``low``er points, or any of R's tie
    methods (``min`` = ``low``, as COINr's ``n_rank``). ``population``: N (by default the
    number of places with a value). ``absent``: points for a missing value (None keeps it
    missing).
    """
    g = _by(df)
    pts = _ranks(df, ties)
    if population is not None:
        pts = pts + (population - g.transform("count"))
    if absent is not None:
        pts = pts.fillna(absent)
    out: pd.Series = pts.astype("float64")
    return out


@register("normalise", "categorical", formula="points[level]")
def categorical(df: pd.DataFrame, points: dict[str, float]) -> pd.Series:
    """Categorical levels mapped to points (城市协同能级: 60/50/40/30/20/10/5); the level codes
    are the raw values."""
    mapping = {float(k): float(v) for k, v in points.items()}
    out = df["value"].map(mapping)
    unknown = df["value"].notna() & out.isna()
    if unknown.any():
        bad = sorted(set(df.loc[unknown, "value"]))
        raise KbError("KB051", f"categorical: levels {bad} have no points")
    result: pd.Series = out.astype("float64")
    return result


def rerank(values: pd.Series, groups: pd.Series, ties: Ties = "high") -> pd.Series:
    """Rank points of ``values`` within each group (used by sum-then-rerank aggregation)."""
    frame = pd.DataFrame({"concept": groups, "value": values})
    out: pd.Series = rank_points(frame, ties=ties)
    return out
