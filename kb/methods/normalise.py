"""Normalisation of indicators: raw values (already multiplied by their direction) → scores.

Each function takes the long frame ``place, concept, value`` of one or more indicators that
share the method and its parameters, and returns the normalised values (a Series aligned with
the frame). Statistics are per indicator (``concept``) over the places with a value; missing
values stay missing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kb.errors import KbError
from kb.methods import register


def _by(df: pd.DataFrame) -> Any:
    return df.groupby("concept")["value"]


@register("normalise", "none")
def none(df: pd.DataFrame) -> pd.Series:
    """The values unchanged."""
    return df["value"].astype("float64")


@register("normalise", "minmax")
def minmax(df: pd.DataFrame, low: float = 0.0, high: float = 100.0) -> pd.Series:
    """Min-max onto [low, high]: ``(x − min) / (max − min) · (high − low) + low``."""
    g = _by(df)
    lo, hi = g.transform("min"), g.transform("max")
    out: pd.Series = (df["value"] - lo) / (hi - lo) * (high - low) + low
    return out


@register("normalise", "zscore")
def zscore(df: pd.DataFrame, mean: float = 0.0, sd: float = 1.0) -> pd.Series:
    """Standardisation: ``(x − mean(x)) / sd(x) · sd + mean``, sd with n − 1 (as R's sd)."""
    g = _by(df)
    out: pd.Series = (df["value"] - g.transform("mean")) / g.transform("std") * sd + mean
    return out


@register("normalise", "goalposts")
def goalposts(df: pd.DataFrame, lower: float, upper: float, scale: float = 100.0,
              trunc: bool = True) -> pd.Series:
    """Distance to goalposts: ``(x − lower) / (upper − lower) · scale``, capped to
    [0, scale] when ``trunc``. For a negative direction give the goalposts of −x."""
    if upper == lower:
        raise KbError("KB051", "goalposts need lower != upper")
    out = (df["value"] - lower) / (upper - lower) * scale
    return out.clip(0.0, scale) if trunc else out


@register("normalise", "rank-points")
def rank_points(df: pd.DataFrame, ties: str = "high", absent: float | None = None,
                population: int | None = None) -> pd.Series:
    """Rank points: the best of N places gets N points, the worst 1 (位序计分法).

    ``ties``: tied places share the ``high``er or the ``low``er points. ``population``: N (by
    default the number of places with a value). ``absent``: points for a missing value (None
    keeps it missing).
    """
    if ties not in ("high", "low"):
        raise KbError("KB051", f"rank-points ties must be 'high' or 'low', not {ties!r}")
    g = _by(df)
    pts = g.rank(method="max" if ties == "high" else "min", ascending=True)
    if population is not None:
        pts = pts + (population - g.transform("count"))
    if absent is not None:
        pts = pts.fillna(absent)
    out: pd.Series = pts.astype("float64")
    return out


@register("normalise", "categorical")
def categorical(df: pd.DataFrame, points: dict[Any, float]) -> pd.Series:
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


def rerank(values: pd.Series, groups: pd.Series, ties: str = "high") -> pd.Series:
    """Rank points of ``values`` within each group (used by sum-then-rerank aggregation)."""
    frame = pd.DataFrame({"concept": groups, "value": values})
    out: pd.Series = rank_points(frame, ties=ties)
    return out
