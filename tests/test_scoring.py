"""Scoring by walking the graph: sums, competition ranks, PROV-O, determinism."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyoxigraph as ox
import pytest

from kb import namespaces as ns
from kb.engine import competition_rank
from kb.scoring import score
from kb.sparql import select, to_frame
from kb.store import BuildDir, current_build, open_store, read_observations, write_columnar


def test_competition_rank_shares_and_skips() -> None:
    values = pd.Series([10.0, 12.0, 12.0, 9.0, 10.0])
    groups = pd.Series(["a"] * 5)
    assert competition_rank(values, groups).tolist() == [3, 1, 1, 5, 3]


def test_mini_scores_are_sums_with_ranks(mini_home: Path) -> None:
    b = current_build(mini_home)
    obs = read_observations(b, framework=ns.framework("toy-2025"))
    run = obs[obs["dataset"].str.contains("/run-")]
    by = run.set_index(["place", "concept"])["value"]
    eco = ns.node("toy-2025", "economy")
    assert by[(ns.place("city", "shenzhen"), eco)] == 7
    assert by[(ns.place("city", "nanjing"), ns.framework("toy-2025"))] == 10
    ranks = run.set_index(["place", "concept"])["rank"]
    assert ranks[(ns.place("city", "chengdu"), eco)] == 3  # 7, 7, 4 → 1, 1, 3


def test_run_is_recorded_with_prov(mini_home: Path) -> None:
    store = open_store(current_build(mini_home))
    rows = to_frame(store, """
        SELECT ?run ?method ?version ?params ?used ?start WHERE {
          ?run a kb:ScoringRun , prov:Activity ; kb:method ?method ; kb:softwareVersion ?version ;
               kb:parameters ?params ; prov:used ?used ; prov:startedAtTime ?start .
        }""")
    assert len(rows) == 1
    assert rows.loc[0, "method"] == ns.method("sum")
    assert rows.loc[0, "used"] == ns.dataset("toy-2025", "inputs")
    # each dimension score derives from its variables' input observations
    derived = select(store, """
        SELECT ?dim ?city ?input WHERE {
          ?o kb:concept ?dim ; sdmx-dimension:refArea ?city ; prov:wasDerivedFrom ?input ;
             prov:wasGeneratedBy ?run .
        }""", {"dim": ox.NamedNode(ns.node("toy-2025", "economy")),
               "city": ox.NamedNode(ns.place("city", "shenzhen"))})
    assert {r["input"].value for r in derived} == {  # type: ignore[union-attr]
        ns.observation("toy-2025", "inputs", "shenzhen", "gdp"),
        ns.observation("toy-2025", "inputs", "shenzhen", "growth"),
    }


@pytest.fixture
def scratch(mini_home: Path, tmp_path: Path) -> tuple[BuildDir, ox.Store]:
    """A writable copy of the mini knowledge base's build, and its store."""
    copy = tmp_path / "copy"
    shutil.copytree(current_build(mini_home).path, copy)
    cb = BuildDir(copy)
    return cb, open_store(cb, write=True)


def test_scoring_twice_gives_identical_scores(scratch: tuple[BuildDir, ox.Store]) -> None:
    cb, store = scratch
    first = score(store, cb, ns.framework("toy-2025"))
    second = score(store, cb, ns.framework("toy-2025"))
    assert first.run == second.run
    cols = ["obs", "place", "concept", "value", "rank"]
    a = first.scores[cols].sort_values("obs", ignore_index=True)
    c = second.scores[cols].sort_values("obs", ignore_index=True)
    pd.testing.assert_frame_equal(a, c)
    n = select(store, "SELECT (COUNT(*) AS ?n) WHERE { ?r a kb:ScoringRun }")
    assert n[0]["n"].value == "1"  # type: ignore[union-attr]  # the rerun replaced, not added


def test_rerun_repairs_a_stored_run_that_differs(scratch: tuple[BuildDir, ox.Store]) -> None:
    cb, store = scratch
    first = score(store, cb, ns.framework("toy-2025"))
    stored = read_observations(cb, graph=first.graph)
    stored.loc[0, "value"] = -1.0
    write_columnar(cb, first.graph, stored)
    again = score(store, cb, ns.framework("toy-2025"))
    repaired = read_observations(cb, graph=again.graph).sort_values("obs", ignore_index=True)
    expected = first.scores.sort_values("obs", ignore_index=True)
    assert repaired["value"].tolist() == expected["value"].tolist()


def test_regen_detects_a_changed_value(scratch: tuple[BuildDir, ox.Store]) -> None:
    from kb.scoring import regen

    cb, store = scratch
    run = cb.read_manifest()["runs"][0]
    assert regen(store, cb, run).identical
    graph = ns.graph_run(ns.local_name(run))
    stored = read_observations(cb, graph=graph)
    stored["value"] = stored["value"].where(stored.index != 0, stored["value"] + 1)
    write_columnar(cb, graph, stored)
    result = regen(store, cb, run)
    assert not result.identical and len(result.differences) == 1


def test_rerun_on_unchanged_inputs_leaves_the_store_alone(
    scratch: tuple[BuildDir, ox.Store],
) -> None:
    cb, store = scratch
    first = score(store, cb, ns.framework("toy-2025"))
    parquet = cb.columnar / (first.graph.rsplit("/graph/", 1)[-1].replace("/", "__") + ".parquet")
    before = parquet.stat().st_mtime_ns
    score(store, cb, ns.framework("toy-2025"))
    assert parquet.stat().st_mtime_ns == before  # compared equal, nothing rewritten
