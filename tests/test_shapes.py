"""The SHACL shapes catch what they promise: each case breaks one rule in an otherwise valid
knowledge base (the mini fixture) and expects the shape that names the rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from pyshacl import validate
from rdflib import RDF, SKOS, Literal, Namespace, URIRef

from kb import namespaces as ns
from kb.shacl import compile_shapes
from kb.shacl import run as run_set_wise
from kb.store import current_build, open_store
from kb.validate import load_turtle, ontology_path, shapes_path, union_graph

KB = Namespace(ns.KB)
SH = Namespace(ns.SH)
SDMX_M = Namespace(ns.SDMX_MEASURE)
KBSH = Namespace(ns.SHAPES)


@pytest.fixture(scope="module")
def valid(mini_home: Path) -> rdflib.Graph:
    return union_graph(open_store(current_build(mini_home)))


def run(g: rdflib.Graph) -> set[URIRef]:
    _conforms, report, _ = validate(g, shacl_graph=load_turtle(shapes_path()),
                                    ont_graph=load_turtle(ontology_path()), advanced=True)
    return {URIRef(str(s)) for s in report.objects(None, SH.sourceShape)}


def node(slug: str) -> URIRef:
    return URIRef(ns.node("toy-2025", slug))


def indicator_without_broader(g: rdflib.Graph) -> None:
    g.remove((node("gdp-total"), SKOS.broader, None))


def indicator_under_dimension(g: rdflib.Graph) -> None:
    g.set((node("gdp-total"), SKOS.broader, node("economy")))


def two_english_labels(g: rdflib.Graph) -> None:
    g.add((URIRef(ns.place("city", "shenzhen")), SKOS.prefLabel, Literal("Shen Zhen", lang="en")))


def direction_two(g: rdflib.Graph) -> None:
    g.set((node("gdp"), KB.direction, Literal(2)))


def weight_as_string(g: rdflib.Graph) -> None:
    g.set((node("gdp"), KB.weight, Literal("heavy")))


def observation_with_two_values(g: rdflib.Graph) -> None:
    g.add((URIRef(ns.observation("toy-2025", "inputs", "shenzhen", "gdp")), SDMX_M.obsValue,
           Literal(5)))


def observation_without_place(g: rdflib.Graph) -> None:
    o = URIRef(ns.observation("toy-2025", "inputs", "shenzhen", "gdp"))
    g.remove((o, URIRef(ns.SDMX_DIM + "refArea"), None))


CASES: list[tuple[Callable[[rdflib.Graph], None], str]] = [
    (indicator_without_broader, "Indicator-broader"),
    (indicator_under_dimension, "Indicator-broader"),
    (two_english_labels, "BilingualLabel-unique"),
    (direction_two, "Direction-value"),
    (weight_as_string, "Weight-value"),
    (observation_with_two_values, "Observation-obsValue"),
    (observation_without_place, "Observation-refArea"),
]


def test_valid_graph_conforms(valid: rdflib.Graph) -> None:
    assert run(valid) == set()


@pytest.mark.parametrize(("break_it", "shape"), CASES, ids=[c[0].__name__ for c in CASES])
def test_shape_catches(valid: rdflib.Graph, break_it: Callable[[rdflib.Graph], None],
                       shape: str) -> None:
    g = rdflib.Graph()
    for t in valid:
        g.add(t)
    break_it(g)
    assert KBSH[shape] in run(g)


@pytest.mark.parametrize(("break_it", "shape"), CASES, ids=[c[0].__name__ for c in CASES])
def test_set_wise_validator_catches(valid: rdflib.Graph,
                                    break_it: Callable[[rdflib.Graph], None], shape: str) -> None:
    g = rdflib.Graph()
    for t in valid:
        g.add(t)
    break_it(g)
    store = ox.Store()
    store.load(g.serialize(format="nt").encode("utf-8"), ox.RdfFormat.N_TRIPLES,
               to_graph=ox.NamedNode("urn:test"))
    found = {v.shape for v in run_set_wise(compile_shapes(shapes_path()), store,
                                           observations=True)}
    assert str(KBSH[shape]) in found


def test_every_class_and_property_has_bilingual_labels() -> None:
    onto = load_turtle(ontology_path())
    terms = set(onto.subjects(rdflib.RDFS.isDefinedBy, None))
    assert len(terms) > 30
    for t in terms:
        langs = {lbl.language for lbl in onto.objects(t, rdflib.RDFS.label)
                 if isinstance(lbl, Literal)}
        assert {"zh", "en"} <= langs, t
    assert (KB.City, RDF.type, rdflib.OWL.Class) in onto
