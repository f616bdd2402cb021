"""Validation of the built graph against the SHACL shapes in ontology/shapes.ttl.

Two engines evaluate the same shapes and report the same KB030 problems:

- :func:`check_shapes` compiles the shapes to SPARQL and runs them set-wise on the store
  (:mod:`kb.shacl`); by default it leaves out the observations, whose tables the build checks
  with the same rules before they become RDF.  This is the build's validator.
- :func:`check_shapes_full` runs pySHACL, the reference engine, on the union of all named graphs
  read back into rdflib (``kb check --full``); seconds at seed scale, slow at a million
  observations.

The shapes see the union of all named graphs (one source's observations refer to another
source's cities; the ontology graph supplies the rdfs:subClassOf triples that SHACL's class
checks follow, without any inference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kb import paths
from kb.errors import Problem
from kb.namespaces import SH
from kb.shacl import VIOLATION, compile_shapes, run

if TYPE_CHECKING:
    import rdflib

UNION = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


@dataclass(frozen=True)
class ShapeResult:
    conforms: bool
    problems: list[Problem]


def shapes_path() -> Path:
    return paths.ontology_dir() / "shapes.ttl"


def ontology_path() -> Path:
    return paths.ontology_dir() / "citykb.ttl"


def check_shapes(store: ox.Store, *, observations: bool = False,
                 max_problems: int = 50) -> ShapeResult:
    """Validate the store set-wise with SPARQL; each violation becomes a KB030 problem.

    With ``observations=False`` the graph is validated without the observations' own triples
    (no observation is a focus node, no SPARQL constraint reporting observations runs,
    property targets are collected from the other nodes), so the cost hardly follows the
    number of observations (see :mod:`kb.shacl`)."""
    violations = run(compile_shapes(shapes_path()), store, observations=observations)
    violations.sort(key=lambda v: (v.shape, str(v.focus), v.path or "", str(v.value),
                                   v.component))
    conforms = not any(v.severity == VIOLATION for v in violations)
    return ShapeResult(conforms, _problems(
        [(_term(v.focus), v.message, v.path) for v in violations], max_problems))


def check_shapes_full(store: ox.Store, *, max_problems: int = 50) -> ShapeResult:
    """Validate the store's union graph with pySHACL, the reference engine."""
    import rdflib

    report = shacl_report(union_graph(store))
    results = sorted(report.subjects(rdflib.RDF.type, rdflib.URIRef(SH + "ValidationResult")),
                     key=str)
    rows: list[tuple[str, str, str | None]] = []
    conforms = True
    for res in results:
        focus = report.value(res, rdflib.URIRef(SH + "focusNode"))
        path = report.value(res, rdflib.URIRef(SH + "resultPath"))
        msg = report.value(res, rdflib.URIRef(SH + "resultMessage"))
        severity = report.value(res, rdflib.URIRef(SH + "resultSeverity"))
        conforms &= str(severity) != VIOLATION
        rows.append((str(focus), str(msg), None if path is None else str(path)))
    rows.sort()
    return ShapeResult(conforms, _problems(rows, max_problems))


def shacl_report(data: rdflib.Graph, shapes: rdflib.Graph | None = None) -> rdflib.Graph:
    """pySHACL's validation report graph for a data graph that contains the ontology."""
    from pyshacl import validate as shacl_validate

    shapes = load_turtle(shapes_path()) if shapes is None else shapes
    # inplace: no copy of the data graph (without inference pySHACL does not change it)
    _conforms, report, _text = shacl_validate(data, shacl_graph=shapes, inference="none",
                                              allow_warnings=True, inplace=True)
    return report  # type: ignore[no-any-return]


def _problems(rows: list[tuple[str, str, str | None]], max_problems: int) -> list[Problem]:
    problems = [Problem("KB030", f"{focus}: {msg}" + (f" (path {path})" if path else ""))
                for focus, msg, path in rows[:max_problems]]
    if len(rows) > max_problems:
        problems.append(Problem("KB030", f"... and {len(rows) - max_problems} more"))
    return problems


def _term(t: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    return t.value


def union_graph(store: ox.Store) -> rdflib.Graph:
    """All triples of all named graphs as one rdflib graph."""
    import rdflib

    triples = store.query(UNION, use_default_graph_as_union=True)
    assert isinstance(triples, ox.QueryTriples)
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    g = rdflib.Graph()
    g.parse(data=data, format="nt")
    return g


def load_turtle(path: Path) -> rdflib.Graph:
    import rdflib

    g = rdflib.Graph()
    g.parse(path, format="turtle")
    return g
