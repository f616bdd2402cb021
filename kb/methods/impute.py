"""Imputation of missing indicator values; imputed observations are flagged.

Each function takes the frame ``place, concept, value`` of all places × the indicators it
applies to (missing values as NaN) and the units' attributes (a table indexed by place whose
columns are the declared groupings: province and region for cities, anything declared in a
framework's units file), and returns the filled values. Means are R's (extended-precision
sum, corrected), so COINr's imputations are reproduced exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from kb.errors import KbError
from kb.methods import register
from kb.methods.rmath import codes_of, group_mean, per_row


@register("impute", "none")
def keep(df: pd.DataFrame, attributes: pd.DataFrame) -> pd.Series:
    """Missing values stay missing (aggregation then skips them)."""
    return df["value"]


@register("impute", "mean", coinr="i_mean", formula="mean of the indicator's values")
def mean(df: pd.DataFrame, attributes: pd.DataFrame) -> pd.Series:
    """The indicator's mean over the places that have a value."""
    codes = codes_of(df["concept"])
    return df["value"].fillna(pd.Series(per_row(group_mean(df["value"], codes), codes),
                                        index=df.index))


@register("impute", "indicator-median", coinr="i_median",
          formula="median of the indicator's values")
def median(df: pd.DataFrame, attributes: pd.DataFrame) -> pd.Series:
    """The indicator's median over the places that have a value."""
    return df["value"].fillna(df.groupby("concept")["value"].transform("median"))


def unit_groups(df: pd.DataFrame, attributes: pd.DataFrame, group: str) -> np.ndarray:
    """Each row's group as an integer code (-1: the place has no value for the attribute),
    looked up once per distinct place. KB122 when no unit attribute of that name is
    declared, or a place with a missing value has none."""
    if group not in attributes.columns:
        known = ", ".join(map(str, attributes.columns)) or "none"
        raise KbError("KB122", f"imputation by group: no unit attribute {group!r} is declared "
                      f"for these places (declared: {known})")
    pc, pu = pd.factorize(df["place"])
    per_place = pd.factorize(attributes[group].reindex(pu))[0]
    g: np.ndarray = per_place[pc]
    lacking = df["value"].isna().to_numpy() & (g < 0)
    if lacking.any():
        bad = sorted(set(df.loc[lacking, "place"].astype(str)))[:5]
        raise KbError("KB122", f"imputation by group {group!r}: places {bad} have missing "
                      f"values but no {group!r}")
    return g


def _by_group(df: pd.DataFrame, attributes: pd.DataFrame, group: str, fallback: str,
              stat: str) -> pd.Series:
    g = unit_groups(df, attributes, group)
    # one integer key per (concept, group), set-wise (places without the attribute are a
    # group of their own, as they were when grouped by the factorised attribute)
    cc = pd.factorize(df["concept"])[0]
    key = cc.astype(np.int64) * (int(g.max(initial=-1)) + 2) + (g + 1)
    if stat == "mean":
        by_group = pd.Series(per_row(group_mean(df["value"], key), key), index=df.index)
    else:
        by_group = df["value"].groupby(key).transform("median")
        by_group.index = df.index
    out = df["value"].fillna(by_group)
    if fallback == "overall" and out.isna().any():
        overall = mean(df, attributes) if stat == "mean" else median(df, attributes)
        out = out.fillna(overall)
    return out


@register("impute", "group-mean", coinr="i_mean_grp",
          formula="mean of the indicator's values in the unit's group")
def group_mean_(df: pd.DataFrame, attributes: pd.DataFrame, group: str = "region",
                fallback: Literal["overall", "none"] = "overall") -> pd.Series:
    """The indicator's mean over the places of the same group — any unit attribute: a city's
    ``province`` or ``region``, or a grouping declared in the framework's units file (income
    group, macro-region, size class). Where the group has no value at all: the overall mean
    (``fallback: overall``) or missing, as COINr leaves it (``fallback: none``)."""
    return _by_group(df, attributes, group, fallback, "mean")


@register("impute", "group-median", coinr="i_median_grp",
          formula="median of the indicator's values in the unit's group")
def group_median(df: pd.DataFrame, attributes: pd.DataFrame, group: str = "region",
                 fallback: Literal["overall", "none"] = "overall") -> pd.Series:
    """As ``group-mean``, with the median."""
    return _by_group(df, attributes, group, fallback, "median")


def _panel(df: pd.DataFrame, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's series (place × concept) code and year, from the panel's units
    (``place␟year``); KB127 outside a panel."""
    from kb.engine import PERIOD_SEP

    unit = df["place"].astype(str)
    parts = unit.str.split(PERIOD_SEP, n=1)
    if not unit.str.contains(PERIOD_SEP, regex=False).all():
        raise KbError("KB127", f"imputation {method!r} works across the years of a panel; "
                      "this framework is not one (declare panel: true with a period column)")
    place = parts.str[0]
    year = parts.str[1].astype(int).to_numpy()
    series = pd.MultiIndex.from_arrays([place, df["concept"]]).factorize()[0]
    return np.asarray(series), year, df["value"].to_numpy(dtype="float64")


@register("impute", "latest", coinr="impute_panel (imp_type = \"latest\")",
          aliases=("locf",), formula="the latest earlier year's value of the same unit")
def latest(df: pd.DataFrame, attributes: pd.DataFrame, max_time: int | None = None) -> pd.Series:
    """Last observation carried forward, in a panel: a missing value takes the unit's value
    of the same indicator in the latest earlier year that has one, looking back at most
    ``max_time`` years of the panel (null: all); values before a unit's first observation
    stay missing (COINr's ``impute_panel`` with ``imp_type = "latest"``)."""
    series, year, v = _panel(df, "latest")
    order = np.lexsort((year, series))
    s, y, x = series[order], year[order], v[order]
    # the position of the latest present value at or before each row, within its series
    pos = np.where(~np.isnan(x), np.arange(len(x)), -1)
    pos = np.maximum.accumulate(pos)
    start = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    first = np.repeat(start, np.diff(np.r_[start, len(s)]))
    ok = pos >= first
    if max_time is not None:
        # the panel's years, counted back: a value at most max_time panel years older
        years = np.unique(year)
        rank = np.searchsorted(years, y)
        ok &= (rank - rank[np.where(ok, pos, 0)]) <= max_time
    filled = np.where(np.isnan(x) & ok, x[np.where(ok, pos, 0)], x)
    out = np.empty_like(v)
    out[order] = filled
    return pd.Series(out, index=df.index)


@register("impute", "linear", coinr="impute_panel (imp_type = \"linear-constant\")",
          aliases=("interpolate",),
          formula="y₀ + (y₁ − y₀)·((t − t₀)/(t₁ − t₀)) between the unit's nearest years")
def linear(df: pd.DataFrame, attributes: pd.DataFrame) -> pd.Series:
    """Linear interpolation across a panel's years: a missing value between two years with
    values of the same unit and indicator is interpolated (R's ``approx``, the same order of
    operations); before the first and after the last the nearest value is carried (``rule
    = 2``); a series with a single value is constant (COINr's ``linear-constant``; its
    ``linear`` stops with an error there). A series with no value stays missing."""
    series, year, v = _panel(df, "linear")
    order = np.lexsort((year, series))
    s, t, x = series[order], year[order].astype("float64"), v[order]
    n = len(x)
    idx = np.arange(n)
    present = ~np.isnan(x)
    start = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    first = np.repeat(start, np.diff(np.r_[start, n]))
    end = np.repeat(np.r_[start[1:], n], np.diff(np.r_[start, n]))
    before = np.maximum.accumulate(np.where(present, idx, -1))
    after = np.minimum.accumulate(np.where(present, idx, n)[::-1])[::-1]
    has_before = before >= first
    has_after = after < end
    i = np.where(has_before, before, 0)
    j = np.where(has_after, after, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = x[i] + (x[j] - x[i]) * ((t - t[i]) / (t[j] - t[i]))
    filled = np.where(has_before & has_after, inner,
                      np.where(has_before, x[i], np.where(has_after, x[j], np.nan)))
    filled = np.where(present, x, filled)
    out = np.empty_like(v)
    out[order] = filled
    return pd.Series(out, index=df.index)
