"""Verification: the engine's computed scores and ranks against the report's published ones.

Published values are kept apart from the inputs (their own ``kb:PublishedDataSet``) and are
used only here. Numbers come from the columnar copy; labels from SPARQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyoxigraph as ox

from kb import namespaces as ns
from kb.ranking import run_dataset
from kb.sparql import to_frame
from kb.store import BuildDir, read_observations

LABELS = """
SELECT ?x ?zh ?en WHERE {
  ?x skos:prefLabel ?zh , ?en . FILTER (lang(?zh) = "zh" && lang(?en) = "en")
  { ?x a kb:City } UNION { ?x a kb:FrameworkNode } UNION { ?x a kb:Framework }
}
"""


@dataclass(frozen=True)
class Verification:
    framework: str
    table: pd.DataFrame
    """One row per published value: place, concept, labels, computed and published value and
    rank, ``value_ok``, ``rank_ok``."""

    @property
    def mismatches(self) -> pd.DataFrame:
        return self.table[~(self.table["value_ok"] & self.table["rank_ok"])]

    @property
    def ok(self) -> bool:
        return self.mismatches.empty

    @property
    def counts(self) -> dict[str, int]:
        t = self.table
        return {"scores": int(t["published"].notna().sum()),
                "scores_ok": int(t["value_ok"].sum()),
                "ranks": int(t["published_rank"].notna().sum()),
                "ranks_ok": int((t["rank_ok"] & t["published_rank"].notna()).sum())}


def verify(store: ox.Store, build: BuildDir, framework: str) -> Verification:
    obs = read_observations(build, framework=framework)
    published = obs[obs["dataset"] == ns.dataset(ns.local_name(framework), "published")]
    computed = obs[obs["dataset"] == run_dataset(store, framework)]
    table = published[["place", "concept", "value", "rank"]].merge(
        computed[["place", "concept", "value", "rank"]], on=["place", "concept"], how="left",
        suffixes=("_published", "_computed"),
    ).rename(columns={"value_published": "published", "rank_published": "published_rank",
                      "value_computed": "computed", "rank_computed": "computed_rank"})
    table["value_ok"] = table["computed"].eq(table["published"]).fillna(False).astype(bool)
    table["rank_ok"] = (table["published_rank"].isna()
                        | table["computed_rank"].eq(table["published_rank"]).fillna(False))
    table["rank_ok"] = table["rank_ok"].astype(bool)
    labels = to_frame(store, LABELS).set_index("x")
    for col, key in (("place", "city"), ("concept", "concept")):
        table[f"{key}_zh"] = table[col].map(labels["zh"])
        table[f"{key}_en"] = table[col].map(labels["en"])
    return Verification(framework, table.sort_values(["concept", "published_rank"],
                                                     ignore_index=True))
