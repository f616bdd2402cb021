"""The set-wise validator (kb.shacl, SPARQL on the store) and pySHACL, the reference engine,
agree: on a corpus of small broken graphs (each one edit of the valid mini knowledge base) they
report the same violations, as (shape, focus node, path), and the same conformance.  Without
observations the validator must report what pySHACL finds in the graph without the
observations' own triples.

Each edit is a SPARQL update on an in-memory copy of the mini build; the corpus breaks every
kind of constraint in ontology/shapes.ttl at least once.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.plugins.sparql import processor
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery

from kb import namespaces as ns
from kb.shacl import QB_OBSERVATION, ShapesError, compile_shapes, run
from kb.store import current_build, open_store
from kb.validate import (
    check_shapes,
    check_shapes_full,
    load_turtle,
    shacl_report,
    shapes_path,
    union_graph,
)

Key = tuple[str, str, str | None]
SH = rdflib.Namespace(ns.SH)
EDIT_GRAPH = "<https://w3id.org/citykb/graph/test-edit>"
PREFIXES = ns.sparql_prefixes()


def iri(text: str) -> str:
    return f"<{text}>"


FW = iri(ns.framework("toy-2025"))
GDP = iri(ns.node("toy-2025", "gdp"))  # a variable
GDP_TOTAL = iri(ns.node("toy-2025", "gdp-total"))  # an indicator under gdp
ECONOMY = iri(ns.node("toy-2025", "economy"))  # a dimension
CULTURE = iri(ns.node("toy-2025", "culture"))
MUSEUM_VISITS = iri(ns.node("toy-2025", "museum-visits"))
SHENZHEN = iri(ns.place("city", "shenzhen"))
GUANGDONG = iri(ns.place("province", "guangdong"))
SICHUAN = iri(ns.place("province", "sichuan"))
EAST = iri(ns.place("region", "east"))
ADMIN = iri(ns.source("admin"))
TOY = iri(ns.source("toy"))
ORG = iri(ns.org("toy-institute"))
ERRATUM = iri(ns.erratum("toy", "nanjing-museums"))
INPUTS = iri(ns.dataset("toy-2025", "inputs"))
PUBLISHED = iri(ns.dataset("toy-2025", "published"))
OBS = iri(ns.observation("toy-2025", "inputs", "shenzhen", "gdp"))
PUBLISHED_OBS = iri(ns.observation("toy-2025", "published", "shenzhen", "total"))
COUNTY = iri(ns.place("county", "test-county"))
CLUSTER = iri(ns.place("cluster", "test-cluster"))
FW2 = iri(ns.framework("test-2026"))
RUN = "?run"  # the mini build's one scoring run, whatever its hash


def add(s: str, p: str, o: str) -> str:
    return f"INSERT DATA {{ GRAPH {EDIT_GRAPH} {{ {s} {p} {o} }} }}"


def remove(s: str, p: str, o: str = "?o", where: str = "") -> str:
    return f"DELETE {{ GRAPH ?g {{ {s} {p} {o} }} }} WHERE {{ {where} GRAPH ?g {{ {s} {p} {o} }} }}"


def replace(s: str, p: str, o: str) -> list[str]:
    return [remove(s, p), add(s, p, o)]


def on_run(p: str, o: str | None) -> list[str]:
    """Replace (or, with ``o`` None, remove) a property of the scoring run."""
    where = "GRAPH ?w { ?run a kb:ScoringRun }"
    edits = [remove(RUN, p, where=where)]
    if o is not None:
        edits.append(f"INSERT {{ GRAPH {EDIT_GRAPH} {{ ?run {p} {o} }} }} WHERE {{ {where} }}")
    return edits


COUNTY_NODE = [add(COUNTY, "a", "kb:County"), add(COUNTY, "skos:prefLabel", '"测试县"@zh')]
FRAMEWORK_2 = [add(FW2, "a", "kb:Framework"), add(FW2, "skos:prefLabel", '"Test"@en')]

# (name, SPARQL updates, shapes pySHACL must report)
EDITS: list[tuple[str, list[str], set[str]]] = [
    # labels: datatype rdf:langString, uniqueLang, qualified minCount with languageIn, minCount
    ("two-english-names", [add(SHENZHEN, "skos:prefLabel", '"Shen Zhen"@en')],
     {"BilingualLabel-unique"}),
    ("name-without-language", [add(SHENZHEN, "skos:prefLabel", '"Shenzhen city"')],
     {"BilingualLabel-unique"}),
    ("city-without-chinese-name", [remove(SHENZHEN, "skos:prefLabel", '"深圳"@zh')],
     {"BilingualLabel-zh"}),
    ("province-without-english-name", [remove(GUANGDONG, "skos:prefLabel", '"Guangdong"@en')],
     {"BilingualLabel-en"}),
    ("framework-without-name", [remove(FW, "skos:prefLabel")], {"Label-any"}),
    # places: minCount, maxCount, class, sh:or of classes
    ("city-in-two-provinces", [add(SHENZHEN, "schema:containedInPlace", SICHUAN)],
     {"City-province"}),
    ("city-in-a-region", replace(SHENZHEN, "schema:containedInPlace", EAST), {"City-province"}),
    ("city-nowhere", [remove(SHENZHEN, "schema:containedInPlace")], {"City-province"}),
    ("province-in-a-city", replace(GUANGDONG, "schema:containedInPlace", SHENZHEN),
     {"Province-region"}),
    ("county-in-a-region", [*COUNTY_NODE, add(COUNTY, "schema:containedInPlace", EAST)],
     {"County-city"}),
    ("county-without-chinese-name",
     [add(COUNTY, "a", "kb:County"), add(COUNTY, "skos:prefLabel", '"Test county"@en'),
      add(COUNTY, "schema:containedInPlace", GUANGDONG)], {"BilingualLabel-zh"}),
    ("cluster-of-regions", [add(CLUSTER, "a", "kb:CityCluster"),
                            add(CLUSTER, "skos:prefLabel", '"测试城市群"@zh'),
                            add(CLUSTER, "kb:member", SHENZHEN), add(CLUSTER, "kb:member", EAST)],
     {"CityCluster-member"}),
    # sources: minCount, nodeKind, class on a node shape (targetObjectsOf)
    ("source-without-title", [remove(ADMIN, "dcterms:title")], {"Source-title"}),
    ("source-title-an-iri", [add(ADMIN, "dcterms:title", EAST)], {"Source-title"}),
    ("publisher-a-city", replace(TOY, "dcterms:publisher", SHENZHEN), {"Publisher"}),
    ("primary-source-a-city", replace(ERRATUM, "prov:hadPrimarySource", SHENZHEN),
     {"PrimarySource"}),
    # frameworks and trees: maxCount, class, uniqueLang, xone, maxCount 0, SPARQL
    ("framework-with-two-methods", [add(FW, "kb:method", iri(ns.method("none")))],
     {"Framework-method"}),
    ("framework-method-a-source", replace(FW, "kb:method", TOY), {"Framework-method"}),
    ("framework-source-an-org", replace(FW, "dcterms:source", ORG), {"Framework-source"}),
    ("two-rank-methods", [add(FW, "kb:rankMethod", iri(ns.method("sum")))], {"RankMethod"}),
    ("two-english-method-names", [add(FW, "kb:methodName", '"Sum"@en'),
                                  add(FW, "kb:methodName", '"Total"@en')],
     {"Framework-methodName"}),
    ("node-at-two-levels", [add(GDP, "a", "kb:Indicator")], {"FrameworkNode-level"}),
    ("node-at-no-level", [remove(GDP, "a", "kb:Variable")], {"FrameworkNode-level"}),
    ("node-in-two-frameworks", [*FRAMEWORK_2, add(GDP, "skos:inScheme", FW2)],
     {"FrameworkNode-inScheme"}),
    ("node-source-a-city", replace(MUSEUM_VISITS, "dcterms:source", SHENZHEN),
     {"FrameworkNode-source"}),
    ("dimension-without-framework", [remove(ECONOMY, "skos:topConceptOf")],
     {"Dimension-topConceptOf"}),
    ("dimension-with-parent", [add(ECONOMY, "skos:broader", CULTURE)], {"Dimension-noBroader"}),
    ("variable-under-indicator", replace(GDP, "skos:broader", MUSEUM_VISITS),
     {"Variable-broader"}),
    ("indicator-without-parent", [remove(GDP_TOTAL, "skos:broader")], {"Indicator-broader"}),
    ("indicator-under-dimension", replace(GDP_TOTAL, "skos:broader", ECONOMY),
     {"Indicator-broader"}),
    ("parent-in-another-framework", [*FRAMEWORK_2, *replace(GDP_TOTAL, "skos:inScheme", FW2)],
     {"SameSchemeAsParent"}),
    # node attributes: datatype (lexical forms too), minInclusive, sh:in, sh:or of datatypes
    ("negative-weight", replace(GDP, "kb:weight", '"-1"^^xsd:decimal'), {"Weight-value"}),
    ("weight-a-string", replace(GDP, "kb:weight", '"heavy"'), {"Weight-value"}),
    ("weight-ill-typed", replace(GDP, "kb:weight", '"1e"^^xsd:decimal'), {"Weight-value"}),
    ("direction-two", replace(GDP, "kb:direction", "2"), {"Direction-value"}),
    ("direction-a-decimal", replace(GDP, "kb:direction", '"1.5"^^xsd:decimal'),
     {"Direction-value"}),
    ("data-year-a-string", replace(MUSEUM_VISITS, "kb:dataYear", '"2025"'), {"DataYear-value"}),
    ("two-orders", [add(GDP, "kb:order", "7")], {"Order-value"}),
    ("source-line-zero", replace(ERRATUM, "kb:sourceLine", "0"), {"SourceLine"}),
    ("source-line-en-a-string", replace(ERRATUM, "kb:sourceLineEn", '"38"'), {"SourceLineEn"}),
    ("source-table-a-number", replace(ERRATUM, "kb:sourceTable", "5"), {"SourceTable"}),
    # datasets
    ("dataset-of-no-kind", [remove(PUBLISHED, "a", "kb:PublishedDataSet")], {"DataSet-kind"}),
    ("dataset-with-two-frameworks", [*FRAMEWORK_2, add(INPUTS, "kb:framework", FW2)],
     {"DataSet-framework"}),
    ("dataset-without-source", [remove(INPUTS, "prov:hadPrimarySource")],
     {"SourcedObservations"}),
    # observations: cardinality, datatypes, what they point at, per-dataset SPARQL
    ("observation-with-two-values", [add(OBS, "sdmx-measure:obsValue", "5")],
     {"Observation-obsValue"}),
    ("observation-without-place", [remove(OBS, "sdmx-dimension:refArea")],
     {"Observation-refArea"}),
    ("observation-without-dataset", [remove(OBS, "qb:dataSet")], {"Observation-dataSet"}),
    ("observation-without-concept", [remove(OBS, "kb:concept")], {"Observation-concept"}),
    ("observation-value-a-string", replace(OBS, "sdmx-measure:obsValue", '"4"'), {"ObsValue"}),
    ("observation-value-an-iri", replace(OBS, "sdmx-measure:obsValue", EAST),
     {"Observation-obsValue"}),
    ("rank-zero", replace(PUBLISHED_OBS, "kb:rank", "0"), {"Observation-rank"}),
    ("rank-basis-unknown", replace(PUBLISHED_OBS, "kb:rankBasis", '"guessed"'),
     {"Observation-rankBasis"}),
    ("period-a-string", replace(OBS, "sdmx-dimension:refPeriod", '"2025"'),
     {"Observation-refPeriod"}),
    ("imputed-ill-typed", [add(OBS, "kb:imputed", '"yes"^^xsd:boolean')],
     {"Observation-imputed"}),
    ("place-a-source", replace(OBS, "sdmx-dimension:refArea", TOY), {"RefArea"}),
    ("concept-a-city", replace(OBS, "kb:concept", SHENZHEN), {"Concept"}),
    ("computed-value-without-run",
     [remove("?obs", "prov:wasGeneratedBy",
             where="GRAPH ?w { ?obs qb:dataSet ?d } GRAPH ?v { ?d a kb:ComputedDataSet }")],
     {"GeneratedObservations"}),
    # scoring runs
    ("run-without-method", on_run("kb:method", None), {"ScoringRun-method"}),
    ("run-with-two-versions", [f"INSERT {{ GRAPH {EDIT_GRAPH} {{ ?run kb:softwareVersion "
                               f"'citykb 9' }} }} WHERE {{ GRAPH ?w {{ ?run a kb:ScoringRun }} }}"],
     {"ScoringRun-softwareVersion"}),
    ("run-parameters-tagged", on_run("kb:parameters", '"{}"@en'), {"ScoringRun-parameters"}),
    ("run-started-on-a-date", on_run("prov:startedAtTime", '"2026-01-01"^^xsd:date'),
     {"ScoringRun-startedAtTime"}),
    ("run-ended-ill-typed", on_run("prov:endedAtTime", '"yesterday"^^xsd:dateTime'),
     {"ScoringRun-endedAtTime"}),
    # errata: pattern, datatype, minCount, maxCount, nodeKind IRI
    ("erratum-edition-french", replace(ERRATUM, "kb:edition", '"fr"'), {"Erratum-edition"}),
    ("erratum-edition-tagged", replace(ERRATUM, "kb:edition", '"en"@en'), {"Erratum-edition"}),
    ("erratum-without-reason", [remove(ERRATUM, "kb:reason")], {"Erratum-reason"}),
    ("erratum-with-two-used-values", [add(ERRATUM, "kb:usedValue", '"5"')],
     {"Erratum-usedValue"}),
    ("erratum-without-source", [remove(ERRATUM, "prov:hadPrimarySource")],
     {"Erratum-primarySource"}),
    ("erratum-printed-twice", [add(ERRATUM, "kb:printedValue", '"40"')],
     {"Erratum-printedValue"}),
    ("erratum-printed-en-an-iri", replace(ERRATUM, "kb:printedValueEn", EAST),
     {"Erratum-printedValueEn"}),
    ("erratum-touches-a-literal", [add(ERRATUM, "kb:touches", '"nanjing museums"')],
     {"Erratum-touches"}),
]


# pySHACL re-parses every SPARQL constraint for every focus node (~0.1 s each); rdflib can reuse
# a translated query (what rdflib.plugins.sparql.prepareQuery is for), so cache the translation.
@pytest.fixture(scope="module", autouse=True)
def _fast_rdflib_sparql() -> Iterator[None]:
    translate = lru_cache(maxsize=64)(
        lambda text, base, init_ns: translateQuery(parseQuery(text), base, dict(init_ns)))
    original = processor.SPARQLProcessor.query

    def query(self: processor.SPARQLProcessor, strOrQuery: Any, initBindings: Any = None,
              initNs: Any = None, base: str | None = None, DEBUG: bool = False) -> Any:
        if isinstance(strOrQuery, str):
            strOrQuery = translate(strOrQuery, base, tuple(sorted((initNs or {}).items())))
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(processor.SPARQLProcessor, "query", query)
        yield


@pytest.fixture(scope="module")
def base_quads(mini_home: Path) -> list[ox.Quad]:
    return list(open_store(current_build(mini_home)).quads_for_pattern(None, None, None, None))


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return load_turtle(shapes_path())


def edited(base: list[ox.Quad], updates: list[str]) -> ox.Store:
    store = ox.Store()
    store.extend(base)
    for u in updates:
        before = len(store)
        store.update(PREFIXES + u)
        assert len(store) != before or u.startswith("DELETE"), u
    return store


def local(iri_text: str) -> str:
    return iri_text.removeprefix(ns.SHAPES)


def fast(store: ox.Store, *, observations: bool) -> set[Key]:
    return {(local(v.shape), _str(v.focus), v.path)
            for v in run(compile_shapes(shapes_path()), store, observations=observations)}


def _str(t: object) -> str:
    return t.value if isinstance(t, ox.NamedNode | ox.BlankNode) else str(t)


def to_rdflib(store: ox.Store) -> rdflib.Graph:
    """The union graph, as kb.validate.union_graph reads it, without the N-Triples round trip."""
    def term(t: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Identifier:
        if isinstance(t, ox.NamedNode):
            return rdflib.URIRef(t.value)
        if isinstance(t, ox.BlankNode):
            return rdflib.BNode(t.value)
        if t.language:
            return rdflib.Literal(t.value, lang=t.language)
        dt = t.datatype.value
        return rdflib.Literal(t.value, datatype=None if dt == ns.XSD + "string" else dt)

    g = rdflib.Graph()
    for q in store.quads_for_pattern(None, None, None, None):
        g.add((term(q.subject), term(q.predicate), term(q.object)))  # type: ignore[arg-type]
    return g


def violations(report: rdflib.Graph, shapes: rdflib.Graph) -> set[Key]:
    parent = {prop: shape for shape, prop in shapes.subject_objects(SH.property)}
    out: set[Key] = set()
    for res in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        source = report.value(res, SH.sourceShape)
        assert source is not None
        path = report.value(res, SH.resultPath)
        out.add((local(str(parent.get(source, source))), str(report.value(res, SH.focusNode)),
                 None if path is None else str(path)))
    return out


def without_observations(store: ox.Store) -> ox.Store:
    """The graph without the observations' own triples (those whose subject is one)."""
    observations = {q.subject for q in store.quads_for_pattern(
        None, ox.NamedNode(ns.RDF + "type"), ox.NamedNode(QB_OBSERVATION))}
    rest = ox.Store()
    rest.extend(q for q in store.quads_for_pattern(None, None, None, None)
                if q.subject not in observations)
    return rest


def reference(store: ox.Store, shapes: rdflib.Graph) -> tuple[set[Key], set[Key]]:
    """pySHACL's violations in the whole graph, and in the graph without the observations'
    own triples: what the validator must find with and without observations."""
    return (violations(shacl_report(to_rdflib(store), shapes), shapes),
            violations(shacl_report(to_rdflib(without_observations(store)), shapes), shapes))


def test_the_edited_nodes_exist(base_quads: list[ox.Quad]) -> None:
    subjects = {str(q.subject) for q in base_quads}
    for node in (FW, GDP, GDP_TOTAL, ECONOMY, CULTURE, MUSEUM_VISITS, SHENZHEN, GUANGDONG,
                 SICHUAN, EAST, ADMIN, TOY, ORG, ERRATUM, INPUTS, PUBLISHED, OBS, PUBLISHED_OBS):
        assert node in subjects
    assert not {COUNTY, CLUSTER, FW2} & subjects
    assert any(q.object == ox.NamedNode(ns.KB + "ScoringRun") for q in base_quads)


def test_mini_build_conforms_in_both_engines(base_quads: list[ox.Quad],
                                             shapes: rdflib.Graph) -> None:
    store = edited(base_quads, [])
    assert fast(store, observations=True) == set()
    assert reference(store, shapes) == (set(), set())
    assert len(to_rdflib(store)) == len(union_graph(store))


@pytest.mark.parametrize(("updates", "expected"), [(e[1], e[2]) for e in EDITS],
                         ids=[e[0] for e in EDITS])
def test_engines_agree(base_quads: list[ox.Quad], shapes: rdflib.Graph, updates: list[str],
                       expected: set[str]) -> None:
    store = edited(base_quads, updates)
    every, without = reference(store, shapes)
    assert expected <= {shape for shape, _, _ in every}, "the edit must break the rule"
    assert fast(store, observations=True) == every
    assert fast(store, observations=False) == without


def test_the_corpus_breaks_every_shape(shapes: rdflib.Graph) -> None:
    named = {local(str(s)) for s in shapes.subjects(rdflib.RDF.type, None)
             if str(s).startswith(ns.SHAPES) and (s, rdflib.RDF.type, rdflib.RDF.Property)
             not in shapes}
    broken = set().union(*(e[2] for e in EDITS))
    assert named == broken


@pytest.mark.parametrize(("literal", "datatype_shape"), [
    ('"1e5"^^xsd:decimal', "Weight-value"),  # an exponent: xsd:double's form, not xsd:decimal's
    ('"NaN"^^xsd:decimal', "Weight-value"),
])
def test_lexical_forms_outside_the_datatype_fail(base_quads: list[ox.Quad], literal: str,
                                                 datatype_shape: str) -> None:
    """An ill-typed literal does not conform to sh:datatype.  rdflib reads these with Python's
    Decimal, which accepts them, so pySHACL lets them pass; the set-wise validator checks the
    lexical form as SHACL requires."""
    store = edited(base_quads, replace(GDP, "kb:weight", literal))
    assert (datatype_shape, GDP.strip("<>"), ns.KB + "weight") in fast(store, observations=False)


def test_gyear_lexical_form(base_quads: list[ox.Quad]) -> None:
    store = edited(base_quads, replace(MUSEUM_VISITS, "kb:dataYear", '"2025-13"^^xsd:gYearMonth'))
    assert ("DataYear-value", MUSEUM_VISITS.strip("<>"), ns.KB + "dataYear") in \
        fast(store, observations=False)


def test_observations_excluded_from_every_shape(base_quads: list[ox.Quad]) -> None:
    """Without observations, an observation is no shape's focus node, whatever it is typed."""
    store = edited(base_quads, [add(OBS, "a", "kb:City"), add(OBS, "kb:weight", '"x"')])
    with_obs = fast(store, observations=True)
    assert {s for s, f, _ in with_obs if f == OBS.strip("<>")} >= {
        "City-province", "BilingualLabel-zh", "Weight-value"}
    assert not any(f == OBS.strip("<>") for _, f, _ in fast(store, observations=False))


def test_problems_name_focus_node_and_path(base_quads: list[ox.Quad]) -> None:
    store = edited(base_quads, [remove(GDP_TOTAL, "skos:broader")])
    fast_result = check_shapes(store)
    full_result = check_shapes_full(store)
    assert not fast_result.conforms and not full_result.conforms
    assert [p.code for p in fast_result.problems] == ["KB030"]
    text = fast_result.problems[0].message
    assert text.startswith(GDP_TOTAL.strip("<>") + ": a kb:Indicator must have exactly one")
    assert text.endswith(f"(path {ns.SKOS}broader)")
    assert [p.message for p in full_result.problems] == [text]


def test_max_problems(base_quads: list[ox.Quad]) -> None:
    store = edited(base_quads, [remove("?n", "skos:prefLabel", where="GRAPH ?w { ?n a kb:City }")])
    result = check_shapes(store, max_problems=3)
    assert len(result.problems) == 4
    assert result.problems[-1].message.startswith("... and ")


UNSUPPORTED = [
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:closed true .",
    "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:equals ex:q .",
    "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:lessThan ex:q .",
    "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:datatype xsd:int .",
    "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:in ( [] ) .",
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:target [ a sh:SPARQLTarget ] .",
    "ex:S a sh:NodeShape , rdfs:Class ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .",
    "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:qualifiedValueShape "
    "[ sh:class ex:D ] ; sh:qualifiedMinCount 1 ; sh:qualifiedValueShapesDisjoint true .",
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select "
    '"SELECT $this WHERE { $this ex:p ?x MINUS { ?x ex:q ?y } }" ] .',
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select "
    '"SELECT $this WHERE { $this ex:p $currentShape }" ] .',
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select "
    '"SELECT ?x WHERE { $this ex:p ?x }" ] .',
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select "
    '"SELECT $this (COUNT(?x) AS ?n) WHERE { $this ex:p ?x }" ] .',
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:or ( [ sh:sparql [ sh:select "
    '"SELECT $this WHERE { }" ] ] ) .',
    "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path [ sh:unknownPath ex:p ] .",
    "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:nodeKind sh:Thing .",
]


@pytest.mark.parametrize("turtle", UNSUPPORTED)
def test_unsupported_features_fail_at_load(tmp_path: Path, turtle: str) -> None:
    path = tmp_path / "shapes.ttl"
    path.write_text(f"@prefix sh: <{ns.SH}> . @prefix ex: <http://example.org/> . "
                    f"@prefix rdfs: <{ns.RDFS}> . @prefix xsd: <{ns.XSD}> .\n{turtle}\n",
                    encoding="utf-8")
    with pytest.raises(ShapesError):
        compile_shapes(path)


def test_real_build_conforms_in_both_engines(real_store: ox.Store) -> None:
    assert check_shapes(real_store, observations=True).conforms
    assert check_shapes_full(real_store).conforms
