"""A corpus of broken graphs on which the three SHACL engines agree: Apache Jena's SHACL (the
command a Linked Data publisher would run), pySHACL (``kb check --full``) and citykb's set-wise
validator (``kb.shacl``, the build's).

Each case in tests/shacl_corpus/ is a SPARQL update of one valid world (``_base.ttl``), whose
first line says what must be reported: ``# expect: SHAPE <focus>`` (or ``(none)``).  Every case
gets IRIs of its own (``_base.ttl`` is read with the base https://example.org/case/NAME/), so
all of them, with the ontology, make one data graph that each engine validates once.  The
results are compared per case as (shape, focus node).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from jena_support import jena, needs_jena
from pyshacl import validate

from kb import namespaces as ns
from kb.shacl import compile_shapes, run
from kb.validate import ontology_path, shapes_path

CORPUS = Path(__file__).parent / "shacl_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.ru"))
CASE_BASE = "https://example.org/case/"
SH = rdflib.Namespace(ns.SH)
Key = tuple[str, str]  # (shape, focus node relative to its case)


def expected(case: str) -> set[Key]:
    head = (CORPUS / f"{case}.ru").read_text(encoding="utf-8").splitlines()[0]
    m = re.fullmatch(r"# expect: (.*)", head)
    assert m, f"{case}.ru: the first line must be '# expect: ...'"
    if m.group(1) == "(none)":
        return set()
    return {(shape, focus) for shape, focus in re.findall(r"(\S+) <([^>]*)>", m.group(1))}


def case_store(case: str) -> ox.Store:
    base = f"{CASE_BASE}{case}/"
    store = ox.Store()
    store.load(path=str(CORPUS / "_base.ttl"), format=ox.RdfFormat.TURTLE, base_iri=base)
    update = (CORPUS / f"{case}.ru").read_text(encoding="utf-8")
    store.update(ns.sparql_prefixes() + f"BASE <{base}>\n" + update)
    return store


@cache
def union_file(folder: Path) -> Path:
    """Every case and the ontology, as one N-Triples file."""
    store = ox.Store()
    store.load(path=str(ontology_path()), format=ox.RdfFormat.TURTLE)
    for case in CASES:
        store.extend(case_store(case))
    out = folder / "corpus.nt"
    store.dump(str(out), ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return union_file(tmp_path_factory.mktemp("shacl-corpus"))


def by_case(keys: set[tuple[str, str]]) -> dict[str, set[Key]]:
    out: dict[str, set[Key]] = {c: set() for c in CASES}
    for shape, focus in keys:
        assert focus.startswith(CASE_BASE), f"a result outside every case: {shape} {focus}"
        case, _, local = focus[len(CASE_BASE):].partition("/")
        out[case].add((shape.removeprefix(ns.SHAPES), local))
    return out


def report_keys(report: rdflib.Graph, shapes: rdflib.Graph) -> set[tuple[str, str]]:
    """(shape, focus) of every result; an anonymous property shape is named by the shape that
    holds it (found by its sh:path, since Jena's report does not keep the shapes' blank
    nodes)."""
    by_path = {shapes.value(prop, SH.path): shape
               for shape, prop in shapes.subject_objects(SH.property)}
    out = set()
    for res in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        source = report.value(res, SH.sourceShape)
        if isinstance(source, rdflib.BNode):
            source = by_path[report.value(res, SH.resultPath)]
        out.add((str(source), str(report.value(res, SH.focusNode))))
    return out


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(shapes_path(), format="turtle")


@pytest.fixture(scope="module")
def pyshacl_results(corpus: Path, shapes: rdflib.Graph) -> dict[str, set[Key]]:
    data = rdflib.Graph().parse(corpus, format="nt")
    _conforms, report, _text = validate(data, shacl_graph=shapes, inference="none",
                                        allow_warnings=True)
    return by_case(report_keys(report, shapes))


@pytest.fixture(scope="module")
def setwise_results(corpus: Path) -> dict[str, set[Key]]:
    store = ox.Store()
    store.load(path=str(corpus), format=ox.RdfFormat.N_TRIPLES)
    found = run(compile_shapes(shapes_path()), store, observations=True)
    return by_case({(v.shape, v.focus.value) for v in found})


@pytest.fixture(scope="module")
def jena_results(corpus: Path, shapes: rdflib.Graph, tmp_path_factory: pytest.TempPathFactory,
                 ) -> dict[str, set[Key]]:
    done = jena("shacl", "validate", "--shapes", shapes_path(), "--data", corpus)
    assert done.returncode == 0, done.stderr
    report = rdflib.Graph().parse(data=done.stdout, format="turtle")
    return by_case(report_keys(report, shapes))


def test_the_corpus_breaks_each_datatype_and_the_required_period() -> None:
    assert "valid" in CASES and len(CASES) >= 15
    shapes_broken = {s for c in CASES for s, _ in expected(c)}
    assert {"ObsValue", "Observation-refPeriod", "Observation-rank", "Weight-value",
            "DataYear-value"} <= shapes_broken


@pytest.mark.parametrize("case", CASES)
def test_pyshacl_reports_what_the_case_expects(case: str,
                                               pyshacl_results: dict[str, set[Key]]) -> None:
    assert pyshacl_results[case] == expected(case)


@pytest.mark.parametrize("case", CASES)
def test_setwise_validator_agrees_with_pyshacl(case: str, pyshacl_results: dict[str, set[Key]],
                                               setwise_results: dict[str, set[Key]]) -> None:
    assert setwise_results[case] == pyshacl_results[case]


@needs_jena
def test_jena_shacl_agrees_with_pyshacl(pyshacl_results: dict[str, set[Key]],
                                        jena_results: dict[str, set[Key]]) -> None:
    differ = {c: (jena_results[c], pyshacl_results[c]) for c in CASES
              if jena_results[c] != pyshacl_results[c]}
    assert not differ, f"Jena, pySHACL: {differ}"
