"""Imputation of missing indicator values; imputed observations are flagged.

Each function takes the frame ``place, concept, value`` of all places × the indicators it
applies to (missing values as NaN) and the places' attributes, and returns the filled values.
"""

from __future__ import annotations

import pandas as pd

from kb.methods import register


@register("impute", "none")
def keep(df: pd.DataFrame, places: pd.DataFrame) -> pd.Series:
    """Missing values stay missing (aggregation then skips them)."""
    return df["value"]


@register("impute", "mean")
def mean(df: pd.DataFrame, places: pd.DataFrame) -> pd.Series:
    """The indicator's mean over the places that have a value."""
    return df["value"].fillna(df.groupby("concept")["value"].transform("mean"))


@register("impute", "group-mean")
def group_mean(df: pd.DataFrame, places: pd.DataFrame, group: str = "region") -> pd.Series:
    """The indicator's mean over the places of the same group (a place attribute such as
    ``province`` or ``region``); the overall mean where the group has no value."""
    g = df["place"].map(places[group])
    by_group = df.groupby([df["concept"], g])["value"].transform("mean")
    overall = df.groupby("concept")["value"].transform("mean")
    return df["value"].fillna(by_group).fillna(overall)
