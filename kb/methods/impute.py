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
