"""Screening of units by data availability, as COINr's ``Screen()`` does it.

A screening function takes the long frame ``place, concept, value`` of every place × input
indicator (missing values as NaN) and returns one row per place: ``place, available`` (the
share of indicators with a value), ``nonzero`` (the share of the values present that are not
zero) and ``included``. Excluded places are dropped from the run before normalisation; the run
records them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from kb.methods import register


@register("screen", "none")
def keep_all(df: pd.DataFrame) -> pd.DataFrame:
    """Every place is kept."""
    out: pd.DataFrame = availability(df, min_available=0.0)
    return out


@register("screen", "availability", coinr="Screen",
          formula="keep a unit when (indicators present / indicators) ≥ min_available")
def availability(df: pd.DataFrame, min_available: float = 2 / 3,
                 min_nonzero: float = 0.05,
                 by: Literal["missing", "zeros", "both"] = "missing",
                 include: list[str] | None = None,
                 exclude: list[str] | None = None) -> pd.DataFrame:
    """Units with too little data are dropped: by ``missing`` (share of indicators present
    below ``min_available``; COINr's ``byNA`` with ``dat_thresh``), by ``zeros`` (share of
    non-zero values among those present below ``min_nonzero``; ``byzeros``), or ``both``.
    ``include``/``exclude``: place ids kept or dropped whatever their data (COINr's
    ``Force``)."""
    v = df["value"].to_numpy(dtype="float64")
    codes, names = pd.factorize(df["place"], sort=True)
    k = len(names)
    index = pd.Index(names)
    missing = pd.Series(np.bincount(codes, np.isnan(v), k), index=index)
    zeros = pd.Series(np.bincount(codes, v == 0, k), index=index)
    total = pd.Series(np.bincount(codes, minlength=k).astype(np.float64), index=index)
    avail = 1 - missing / total
    with np.errstate(invalid="ignore", divide="ignore"):
        nonzero = 1 - zeros / (total - missing)
    low_data = avail < min_available
    low_nonzero = nonzero < min_nonzero
    dropped = {"missing": low_data, "zeros": low_nonzero, "both": low_data | low_nonzero}[by]
    included = ~dropped
    if include:
        included[included.index.isin(include)] = True
    if exclude:
        included[included.index.isin(exclude)] = False
    return pd.DataFrame({"place": avail.index, "available": avail.to_numpy(),
                         "nonzero": nonzero.to_numpy(), "included": included.to_numpy()})
