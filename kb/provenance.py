"""A computed dimension score's provenance, as the named query ``score-provenance`` gives it,
in two parts: what belongs to this score (its run, its inputs and their lines), asked each
time with the score's observation looked up by IRI; and what belongs to the framework and the
report (labels, indicators, data years and sources; the tables' citations; the errata), asked
once per opened build (see :func:`kb.resolve.memo`). The rows are the named query's rows: a test
compares them on the seed knowledge base.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from kb.resolve import memo
from kb.sparql import records

Row = dict[str, Any]

SCORE = """
SELECT ?obs ?city ?dimension ?score ?rank ?run ?method WHERE {
  ?obs sdmx-dimension:refArea ?city ; kb:concept ?dimension ; sdmx-measure:obsValue ?score ;
       kb:rank ?rank ; prov:wasGeneratedBy ?run .
  ?run kb:method ?method .
}
"""
INPUTS = """
SELECT ?obs ?input ?variable ?points ?table ?line ?lineEn WHERE {
  ?obs prov:wasDerivedFrom ?input .
  ?input kb:concept ?variable ; sdmx-measure:obsValue ?points .
  LATERAL { OPTIONAL { ?input kb:table ?table } }
  LATERAL { OPTIONAL { ?input kb:sourceLine ?line } }
  LATERAL { OPTIONAL { ?input kb:sourceLineEn ?lineEn } }
}
"""
ERRATA = """
SELECT ?input ?erratum ?printed ?printedEn ?used ?reason WHERE {
  ?erratum kb:touches ?input ; kb:usedValue ?used ; kb:reason ?reason
  OPTIONAL { ?erratum kb:printedValue ?printed }
  OPTIONAL { ?erratum kb:printedValueEn ?printedEn }
}
"""
NODES = """
SELECT ?fw ?variable ?variableZh ?variableEn ?vorder ?indicator ?indicatorZh ?indicatorEn
       ?iorder ?dataYear ?dataSourceZh ?dataSourceEn
WHERE {
  ?variable skos:inScheme ?fw ; skos:prefLabel ?variableZh , ?variableEn ; kb:order ?vorder .
  FILTER (lang(?variableZh) = "zh" && lang(?variableEn) = "en")
  OPTIONAL {
    ?indicator skos:broader ?variable ; a kb:Indicator ; kb:order ?iorder ;
               skos:prefLabel ?indicatorZh , ?indicatorEn .
    FILTER (lang(?indicatorZh) = "zh" && lang(?indicatorEn) = "en")
    OPTIONAL { ?indicator kb:dataYear ?dataYear }
    OPTIONAL { ?indicator dcterms:source ?ds .
               ?ds skos:prefLabel ?dataSourceZh , ?dataSourceEn .
               FILTER (lang(?dataSourceZh) = "zh" && lang(?dataSourceEn) = "en") }
  }
}
"""
TABLES = """
SELECT ?table ?tableCitation ?seedZh ?seedEn WHERE {
  ?table a kb:SourceTable ; dcterms:bibliographicCitation ?tableCitation ;
         kb:seedTextZh ?seedZh ; kb:seedTextEn ?seedEn
}
"""
INDICATOR_KEYS = ("indicator", "indicatorZh", "indicatorEn", "dataYear", "dataSourceZh",
                  "dataSourceEn")
COLUMNS = ("city", "dimension", "score", "rank", "run", "method", "input", "variable",
           "variableZh", "variableEn", "points", "citation", *INDICATOR_KEYS, "erratum",
           "printed", "printedEn", "used", "reason")
"""The columns of ``score-provenance``, in its order."""
NO_ERRATUM: Row = {"erratum": None, "printed": None, "printedEn": None, "used": None,
                   "reason": None}


def _nodes(store: ox.Store, framework: str) -> dict[str, list[Row]]:
    """Each labelled node of the framework → its indicator rows (one empty row if none),
    with the node's labels and order."""
    out: dict[str, list[Row]] = {}
    for r in records(store, NODES, {"fw": ox.NamedNode(framework)}):
        out.setdefault(str(r["variable"]), []).append(r)
    return out


def _tables(store: ox.Store) -> dict[str, Row]:
    return {str(r["table"]): r for r in records(store, TABLES)}


def _errata(store: ox.Store) -> dict[str, list[Row]]:
    """Each node an erratum touches → the errata's rows (a handful per report)."""
    out: dict[str, list[Row]] = {}
    for r in records(store, ERRATA):
        out.setdefault(str(r.pop("input")), []).append(r)
    return out


def _citation(row: Row, tables: dict[str, Row]) -> str | None:
    """The named query's ``?citation``: the table's, then each edition's line."""
    t = tables.get(str(row["table"])) if row["table"] is not None else None
    if t is None:
        return None
    zh = f", {t['seedZh']} line {row['line']}" if row["line"] is not None else ""
    en = f"; {t['seedEn']} line {row['lineEn']}" if row["lineEn"] is not None else ""
    return f"{t['tableCitation']}{zh}{en}"


def provenance(store: ox.Store, obs: str, city: str, dimension: str,
               framework: str) -> list[Row]:
    """The ``score-provenance`` rows of the score ``obs`` (city's ``dimension`` score in a
    run of ``framework``), in its order (variable, then indicator)."""
    head = records(store, SCORE, {"obs": ox.NamedNode(obs), "city": ox.NamedNode(city),
                                  "dimension": ox.NamedNode(dimension)})
    if not head:
        return []
    nodes = memo(("provenance-nodes", framework), lambda: _nodes(store, framework))
    tables = memo("provenance-tables", lambda: _tables(store))
    errata = memo("provenance-errata", lambda: _errata(store))
    rows: list[tuple[Any, Any, Row]] = []
    for s in head:
        for i in records(store, INPUTS, {"obs": ox.NamedNode(obs)}):
            citation = _citation(i, tables)
            for e in errata.get(str(i["input"]), [NO_ERRATUM]):
                for n in nodes.get(str(i["variable"]), []):
                    row = {**s, **i, **e, **n, "citation": citation}
                    rows.append((n["vorder"], n["iorder"], {c: row[c] for c in COLUMNS}))
    rows.sort(key=lambda r: (r[0], r[1] is not None, r[1] or 0))
    return [r for _, _, r in rows]
