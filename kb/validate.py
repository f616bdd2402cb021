"""Validation of the built graph against the SHACL shapes in ontology/ (pySHACL).

The shapes see the union of all named graphs (one source's observations refer to another
source's cities), read back from the new store before it is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib
from pyshacl import validate as shacl_validate

from kb import paths
from kb.errors import Problem
from kb.namespaces import SH

UNION = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


@dataclass(frozen=True)
class ShapeResult:
    conforms: bool
    problems: list[Problem]


def union_graph(store: ox.Store) -> rdflib.Graph:
    """All triples of all named graphs as one rdflib graph."""
    triples = store.query(UNION, use_default_graph_as_union=True)
    assert isinstance(triples, ox.QueryTriples)
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    g = rdflib.Graph()
    g.parse(data=data, format="nt")
    return g


def load_turtle(path: Path) -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(path, format="turtle")
    return g


def shapes_path() -> Path:
    return paths.ontology_dir() / "shapes.ttl"


def ontology_path() -> Path:
    return paths.ontology_dir() / "citykb.ttl"


def check_shapes(store: ox.Store, *, max_problems: int = 50) -> ShapeResult:
    """Validate the store's union graph; each violation becomes a KB030 problem.

    The union graph holds the ontology, so SHACL's class checks follow its rdfs:subClassOf
    triples without any inference (which would also make range-typed checks vacuous).
    """
    data = union_graph(store)
    shapes = load_turtle(shapes_path())
    conforms, report, _text = shacl_validate(data, shacl_graph=shapes, inference="none",
                                             allow_warnings=True)
    problems: list[Problem] = []
    results = list(report.subjects(rdflib.RDF.type, rdflib.URIRef(SH + "ValidationResult")))
    for res in results[:max_problems]:
        focus = report.value(res, rdflib.URIRef(SH + "focusNode"))
        path = report.value(res, rdflib.URIRef(SH + "resultPath"))
        msg = report.value(res, rdflib.URIRef(SH + "resultMessage"))
        text = f"{focus}: {msg}" + (f" (path {path})" if path is not None else "")
        problems.append(Problem("KB030", text))
    if len(results) > max_problems:
        problems.append(Problem("KB030", f"... and {len(results) - max_problems} more"))
    return ShapeResult(bool(conforms), problems)
