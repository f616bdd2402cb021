"""Explain's provenance (kb.provenance: the score's part per call, the framework's part once)
gives the rows of the named query ``score-provenance`` for the same score."""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox

from kb import namespaces as ns
from kb import queries
from kb.provenance import COLUMNS, provenance
from kb.ranking import run_dataset, scored_frameworks
from kb.resolve import names_cache
from kb.sparql import records


def _key(row: dict[str, object]) -> tuple[str, ...]:
    return tuple(repr(row[c]) for c in COLUMNS)


def test_provenance_rows_are_the_named_querys_rows(real_store: ox.Store) -> None:
    fw = scored_frameworks(real_store)[0]
    dataset = run_dataset(real_store, fw)
    dims = [r["d"] for r in records(real_store, "SELECT ?fw ?d WHERE { ?d a kb:Dimension ; "
                                    "skos:inScheme ?fw }", {"fw": ox.NamedNode(fw)})]
    cities = [r["c"] for r in records(real_store, "SELECT DISTINCT ?ds ?c WHERE { "
                                      "?o qb:dataSet ?ds ; sdmx-dimension:refArea ?c }",
                                      {"ds": ox.NamedNode(dataset)})]
    pairs = random.Random(7).sample([(c, d) for c in cities for d in dims], 25)
    # every score an erratum touches the inputs of, too
    pairs += [(r["c"], r["d"]) for r in records(real_store, """
        SELECT DISTINCT ?ds ?c ?d WHERE {
          ?e a kb:Erratum ; kb:touches ?input . ?o qb:dataSet ?ds ; prov:wasDerivedFrom ?input ;
             sdmx-dimension:refArea ?c ; kb:concept ?d . ?d a kb:Dimension }""",
                                              {"ds": ox.NamedNode(dataset)})]
    assert len(pairs) > 25
    named = queries.get("score-provenance")
    with names_cache({}, {}):
        for city, dim in pairs:
            obs = ns.observation(ns.local_name(fw), ns.local_name(dataset),
                                 ns.local_name(str(city)), ns.local_name(str(dim)))
            fast = provenance(real_store, obs, str(city), str(dim), fw)
            slow = named.records(real_store, {"city": str(city), "dimension": str(dim)})
            assert fast, (city, dim)
            assert sorted(map(_key, fast)) == sorted(map(_key, slow)), (city, dim)
            assert [r["variable"] for r in fast] == [r["variable"] for r in slow]


def test_provenance_of_no_score_is_empty(real_store: ox.Store) -> None:
    fw = scored_frameworks(real_store)[0]
    assert provenance(real_store, ns.ID + "obs/none", ns.ID + "city/none",
                      ns.ID + "none", fw) == []


def test_an_opened_build_explains_as_a_single_call_does(mini_home: Path,
                                                         real_home: Path) -> None:
    """``kb.open()`` remembers labels, errata and the framework once per build, and skips
    the errata query for places no erratum reaches; the trees are the same as without."""
    import kb
    from kb.explain import explain

    for home, pairs in ((mini_home, [(c, d) for c in ("深圳", "南京", "苏州", "成都")
                                     for d in ("经济", "文化")]),
                        (real_home, [("西安", "经济实力"), ("深圳", "经济实力"),
                                     ("宁波", "coo-2025"), ("成都", "科技创新"),
                                     ("杭州", "dei-2020"), ("苏州", "mfg-2025")])):
        with kb.open(home) as base:
            for city, concept in pairs:
                remembered = base.explain(city, concept).to_dict()
                assert remembered == explain(base.store, city, concept).to_dict(), (city, concept)
