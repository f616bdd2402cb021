"""Rankings from a framework's scoring run, answered by SPARQL on the run's graph.

The run's aggregated observations carry their value and rank, so a ranking is one query with
the dataset and the concept bound (a lookup, not a scan), and the command that prints it needs
neither pandas nor the columnar copy; :func:`ranking` gives the same table as a DataFrame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyoxigraph as ox

from kb.errors import KbError
from kb.sparql import Rows, select, select_rows

if TYPE_CHECKING:
    import pandas as pd

    from kb.store import BuildDir

RUNS = """
SELECT ?fw ?run ?dataset ?weightSet WHERE {
  ?run a kb:ScoringRun ; kb:framework ?fw .
  ?dataset prov:wasGeneratedBy ?run ; kb:stage "aggregated" .
  OPTIONAL { ?run kb:weightSet ?weightSet }
}
"""
FRAMEWORKS = "SELECT DISTINCT ?fw WHERE { ?r a kb:ScoringRun ; kb:framework ?fw } ORDER BY ?fw"
DIMENSIONS = """
SELECT ?fw ?x ?zh ?order WHERE {
  ?x skos:inScheme ?fw ; skos:topConceptOf ?fw ; kb:order ?order ;
     skos:prefLabel ?zh . FILTER (lang(?zh) = "zh")
} ORDER BY ?order
"""
SCORES = """
SELECT ?dataset ?concept ?place ?value ?rank WHERE {
  ?o qb:dataSet ?dataset ; kb:concept ?concept ; sdmx-dimension:refArea ?place ;
     sdmx-measure:obsValue ?value .
  OPTIONAL { ?o kb:rank ?rank }
}
"""
CITIES = """
SELECT ?place ?zh ?en WHERE {
  VALUES ?place { %s }
  ?place skos:prefLabel ?zh , ?en . FILTER (lang(?zh) = "zh" && lang(?en) = "en")
}
"""


def scored_frameworks(store: ox.Store) -> list[str]:
    return [str(r["fw"].value) for r in select(store, FRAMEWORKS)
            if r["fw"] is not None]


def run_dataset(store: ox.Store, framework: str, weight_set: str | None = None) -> str:
    """The aggregated dataset of the framework's run with its declared weights (or with the
    named weight set)."""
    rows = select(store, RUNS, {"fw": ox.NamedNode(framework)})
    if not rows:
        raise KbError("KB060", f"no scoring run for {framework}; run `kb build` (or `kb score`)")
    found = [r for r in rows
             if (r["weightSet"] is None and weight_set is None)
             or (r["weightSet"] is not None and weight_set is not None
                 and r["weightSet"].value.rstrip("/").endswith("/" + weight_set))]
    if not found:
        raise KbError("KB060", f"no scoring run of {framework} with weight set "
                      f"{weight_set!r}; run `kb score --weights {weight_set}`")
    return str(found[0]["dataset"].value)  # type: ignore[union-attr]


def _scores(store: ox.Store, dataset: str, concept: str | None) -> list[list[object]]:
    bind: dict[str, ox.NamedNode] = {"dataset": ox.NamedNode(dataset)}
    if concept is not None:
        bind["concept"] = ox.NamedNode(concept)
    return select_rows(store, SCORES, bind).rows


def ranking_rows(
    store: ox.Store, framework: str, dimension: str | None = None, top: int | None = None,
    weight_set: str | None = None,
) -> Rows:
    """The ranking of a framework's total (with every dimension's score beside it, as the
    report's 总积分表 prints it) or of one dimension: rank, city_zh, city_en, city, then the
    dimensions' scores and ``total``, or ``score``."""
    dataset = run_dataset(store, framework, weight_set)
    target = dimension or framework
    main = [r for r in _scores(store, dataset, target) if r[4] is not None]
    if not main:
        raise KbError("KB060", f"no observations for {target} in {dataset}")
    main.sort(key=lambda r: (r[4], r[2]))
    if top is not None:
        main = [r for r in main if r[4] <= top]  # type: ignore[operator]
    places = [str(r[2]) for r in main]
    labels = {str(r[0]): (r[1], r[2]) for r in select_rows(
        store, CITIES % " ".join(f"<{p}>" for p in places)).rows}
    names = ["rank", "city_zh", "city_en", "city"]
    columns: list[list[object]] = [
        [r[4] for r in main],
        [labels.get(p, (None, None))[0] for p in places],
        [labels.get(p, (None, None))[1] for p in places],
        list(places),
    ]
    if dimension is None:
        values = {(str(r[1]), str(r[2])): r[3] for r in _scores(store, dataset, None)}
        for d in select_rows(store, DIMENSIONS, {"fw": ox.NamedNode(framework)}).rows:
            names.append(str(d[2]))
            columns.append([values.get((str(d[1]), p)) for p in places])
        names.append("total")
    else:
        names.append("score")
    columns.append([r[3] for r in main])
    return Rows(names, [list(row) for row in zip(*columns, strict=True)])


def ranking(
    store: ox.Store, build: BuildDir | None, framework: str, dimension: str | None = None,
    top: int | None = None, weight_set: str | None = None,
) -> pd.DataFrame:
    """:func:`ranking_rows` as a DataFrame (``build`` is accepted for older callers)."""
    return ranking_rows(store, framework, dimension, top, weight_set).frame()
