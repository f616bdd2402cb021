"""Classification of scores into tiers by declared bands: ``min <= score < max``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kb.methods import register


@dataclass(frozen=True)
class Band:
    id: str
    min: float | None
    max: float | None


@register("classify", "bands")
def bands(scores: pd.Series, bands: list[Band]) -> pd.Series:
    """The id of the band each score falls in (``min <= s < max``; None = unbounded); missing
    where no band holds the score."""
    out = pd.Series(pd.NA, index=scores.index, dtype="object")
    for b in bands:
        hit = scores.notna()
        if b.min is not None:
            hit &= scores >= b.min
        if b.max is not None:
            hit &= scores < b.max
        out[hit & out.isna()] = b.id
    return out
