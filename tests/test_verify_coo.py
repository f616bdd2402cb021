"""The engine reproduces every published score and rank of Cities of Opportunity 2025."""

from __future__ import annotations

import pandas as pd
import pyoxigraph as ox

from kb import namespaces as ns
from kb.store import BuildDir, read_observations
from kb.verify import verify

FW = ns.framework("coo-2025")


def test_all_660_scores_and_660_ranks_equal_the_published(
    real_store: ox.Store, real_build: BuildDir
) -> None:
    v = verify(real_store, real_build, FW)
    assert v.counts == {"scores": 660, "scores_ok": 660, "ranks": 660, "ranks_ok": 660}, \
        v.mismatches.to_string()


def test_a_mismatch_is_reported_by_city_dimension_and_values(
    real_store: ox.Store, real_build: BuildDir, tmp_path: object
) -> None:
    """Verification compares against the published table: alter one published value in a copy
    of the columnar data and the mismatch names the city, dimension and both values."""
    import shutil
    from pathlib import Path

    copy = BuildDir(Path(str(tmp_path)) / "b")
    shutil.copytree(real_build.path, copy.path, ignore=shutil.ignore_patterns("oxigraph"))
    name = "source__coo2025.parquet"
    df = pd.read_parquet(copy.columnar / name)
    hit = (df["place"] == ns.place("city", "shenzhen")) & \
          (df["concept"] == ns.node("coo-2025", "economic-strength"))
    df.loc[hit, "value"] = 285.0
    df.to_parquet(copy.columnar / name, index=False)
    v = verify(real_store, copy, FW)
    bad = v.mismatches
    assert len(bad) == 1
    row = bad.iloc[0]
    assert (row["city_zh"], row["concept_zh"], row["computed"], row["published"]) == \
        ("深圳", "经济实力", 286.0, 285.0)


def test_published_values_are_not_inputs(real_build: BuildDir) -> None:
    obs = read_observations(real_build, framework=FW)
    inputs = obs[obs["dataset"] == ns.dataset("coo-2025", "inputs")]
    published = obs[obs["dataset"] == ns.dataset("coo-2025", "published")]
    assert len(inputs) == 3000 and len(published) == 660
    levels = set(inputs["concept"].str.rsplit("/", n=1).str[-1])
    assert len(levels) == 50  # variables only


def test_ties_share_a_rank_and_the_next_is_skipped(real_build: BuildDir) -> None:
    obs = read_observations(real_build, framework=FW)
    run = obs[obs["dataset"].str.contains("/run-") & (obs["concept"] == FW)]
    rank = run.set_index("place")["rank"]
    assert rank[ns.place("city", "ningbo")] == rank[ns.place("city", "hefei")] == 15
    assert rank[ns.place("city", "zhengzhou")] == 17
