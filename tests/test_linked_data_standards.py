"""The export checked as a Linked Data publisher would check it.

- The 21 integrity constraints of the W3C RDF Data Cube Recommendation (queries/qb-ic/, their
  text unchanged) hold on the export of the seed knowledge base, with no other vocabulary, in
  Oxigraph and in Apache Jena's arq; each one that citykb's data can break is shown to fail.
- Every kb: term used by the data, the ontology or the shapes is defined, with a label and a
  comment in Chinese and English.
- Jena's riot reads all five export formats with no warning; Jena SHACL finds the export valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from jena_support import jena, needs_jena

from kb import docs, qb, vocab, void
from kb import namespaces as ns
from kb.export import export
from kb.store import BuildDir, current_build, open_store
from kb.validate import ontology_path, shapes_path

FORMATS = ["nt", "ttl", "trig", "nq", "jsonld"]
ALL_IC = {c.id for c in qb.constraints()}
SH = rdflib.Namespace(ns.SH)


@pytest.fixture(scope="module")
def exports(real_store: ox.Store, real_build: BuildDir,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("export")
    return {fmt: export(real_store, real_build, fmt, folder / f"citykb.{fmt}") for fmt in FORMATS}


@pytest.fixture(scope="module")
def mini_triples(mini_home: Path) -> list[ox.Triple]:
    store = open_store(current_build(mini_home))
    return list(store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                            use_default_graph_as_union=True))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Data Cube integrity constraints


def test_the_recommendation_s_constraints_are_all_there() -> None:
    assert [c.id for c in qb.constraints()] == [
        *(f"IC-{n}" for n in range(1, 19)), "IC-19a", "IC-19b", "IC-20", "IC-21"]
    for c in qb.constraints():
        assert "ASK" in c.query and c.query.count("{") == c.query.count("}")
    assert {c.id for c in qb.constraints() if c.instantiation} == {"IC-20", "IC-21"}


def test_all_constraints_hold_on_the_export(exports: dict[str, Path]) -> None:
    outcomes = qb.check_file(exports["nt"])
    assert {o.id for o in outcomes} == ALL_IC
    assert [o.id for o in outcomes if o.violated] == []
    ic12 = next(o for o in outcomes if o.id == "IC-12")
    assert ic12.runs > 100  # the seed's 4,309 observations, in groups


def test_all_constraints_hold_on_the_store_and_on_trig(real_store: ox.Store,
                                                       exports: dict[str, Path]) -> None:
    assert [o.id for o in qb.check_store(real_store) if o.violated] == []
    assert [o.id for o in qb.check_file(exports["trig"]) if o.violated] == []


def test_every_dataset_has_the_structure(real_store: ox.Store) -> None:
    result = real_store.query(ns.sparql_prefixes() + """
        SELECT ?d ?dsd WHERE { ?d a qb:DataSet OPTIONAL { ?d qb:structure ?dsd } }""",
                              use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    rows = list(result)
    assert len(rows) >= 8
    assert {str(r["dsd"]) for r in rows} == {f"<{ns.STRUCTURE}>"}


OBS = f"<{ns.observation('toy-2025', 'inputs', 'nanjing', 'parks')}>"
PUBLISHED = f"<{ns.dataset('toy-2025', 'published')}>"
INPUTS = f"<{ns.dataset('toy-2025', 'inputs')}>"
COMPONENT = "?c qb:componentProperty {p} . ?dsd qb:component ?c"

BREAKS: dict[str, tuple[str, set[str]]] = {
    "observation-in-two-datasets": (f"INSERT DATA {{ {OBS} qb:dataSet {PUBLISHED} }}", {"IC-1"}),
    "dataset-without-structure": (f"DELETE WHERE {{ {PUBLISHED} qb:structure ?dsd }}",
                                  {"IC-2"}),
    "dataset-with-two-structures": (
        f"INSERT DATA {{ {PUBLISHED} qb:structure <urn:x:dsd> }}", {"IC-2"}),
    "measure-not-declared": ("DELETE WHERE { ?c qb:componentProperty sdmx-measure:obsValue }",
                             {"IC-3"}),
    "dimension-without-range": ("DELETE WHERE { kb:concept rdfs:range ?r }", {"IC-4"}),
    "concept-range-without-code-list": (
        "INSERT DATA { sdmx-dimension:refArea rdfs:range skos:Concept }", {"IC-5"}),
    "optional-dimension": (
        "INSERT { ?c qb:componentRequired false } WHERE "
        "{ ?c qb:componentProperty sdmx-dimension:refArea }", {"IC-6"}),
    "undeclared-slice-key": ("INSERT DATA { <urn:x:key> a qb:SliceKey }", {"IC-7"}),
    "observation-without-period": (f"DELETE WHERE {{ {OBS} sdmx-dimension:refPeriod ?p }}",
                                   {"IC-11"}),
    "duplicate-observation": (
        f"INSERT {{ <urn:x:copy> ?p ?o }} WHERE {{ {OBS} ?p ?o }}", {"IC-12"}),
    "required-attribute-missing": (
        "INSERT { ?c qb:componentRequired true } WHERE "
        "{ ?c qb:componentProperty kb:imputed }", {"IC-13"}),
    "observation-without-value": (f"DELETE WHERE {{ {OBS} sdmx-measure:obsValue ?v }}",
                                  {"IC-14"}),
    "slice-of-another-dataset": (
        f"INSERT DATA {{ {PUBLISHED} qb:slice <urn:x:slice> . "
        f"<urn:x:slice> qb:observation {OBS} }}", {"IC-18"}),
    "value-outside-code-list": (
        "INSERT DATA { kb:concept qb:codeList <urn:x:list> . <urn:x:list> a skos:ConceptScheme }",
        {"IC-19a"}),
}


def broken(triples: list[ox.Triple], update: str) -> ox.Store:
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    before = len(store)
    store.update(ns.sparql_prefixes() + update)
    assert len(store) != before, "the edit changed nothing"
    return store


def violated(store: ox.Store) -> set[str]:
    mem, groups = qb.partitioned_store(store.quads_for_pattern(None, None, None, None))
    return {o.id for o in qb.check(mem, groups) if o.violated}


def test_the_mini_export_passes(mini_triples: list[ox.Triple]) -> None:
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in mini_triples)
    assert violated(store) == set()


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_break_fails_its_constraint(name: str, mini_triples: list[ox.Triple]) -> None:
    update, expected = BREAKS[name]
    assert violated(broken(mini_triples, update)) == expected


# ---------------------------------------------------------------------------------------------
# Every term defined


def test_every_kb_term_used_is_defined_in_both_languages(real_store: ox.Store) -> None:
    ontology = vocab.read_turtle(ontology_path())
    defined = vocab.definitions(ontology)
    used = vocab.kb_terms(real_store.quads_for_pattern(None, None, None, None))
    for triples in (ontology, vocab.read_turtle(shapes_path())):
        for term, n in vocab.kb_terms(triples).items():
            used[term] = used.get(term, 0) + n
    assert len(used) > 60
    assert vocab.undefined(used, defined) == []
    assert vocab.incomplete(defined) == {}


def test_an_undefined_term_is_found() -> None:
    defined = vocab.definitions(vocab.read_turtle(ontology_path()))
    stray = ox.Triple(ox.NamedNode(ns.ID + "x"), ox.NamedNode(ns.KB + "nowhere"),
                      ox.Literal("1"))
    assert vocab.undefined(vocab.kb_terms([stray]), defined) == [ns.KB + "nowhere"]
    half = vocab.Definition(ns.KB + "x", {"en": "x"}, {"en": "x", "zh": "x"})
    assert vocab.incomplete({half.iri: half}) == {ns.KB + "x": ["label@zh"]}


# ---------------------------------------------------------------------------------------------
# Apache Jena


@needs_jena
def test_riot_reads_every_export_format_without_warning(exports: dict[str, Path]) -> None:
    done = jena("riot", "--validate", *(exports[f] for f in ("nt", "ttl", "trig", "nq")))
    assert done.returncode == 0 and "WARN" not in done.stderr + done.stdout \
        and "ERROR" not in done.stderr + done.stdout, done.stderr
    done = jena("riot", "--validate", "--syntax=jsonld10", exports["jsonld"])
    assert done.returncode == 0 and "WARN" not in done.stderr + done.stdout \
        and "ERROR" not in done.stderr + done.stdout, done.stderr


@needs_jena
def test_riot_warns_on_an_ill_typed_literal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nt"
    bad.write_text(f'<{ns.ID}x> <{ns.SDMX_MEASURE}obsValue> "1e"^^<{ns.XSD}decimal> .\n')
    done = jena("riot", "--validate", bad)
    assert "WARN" in done.stderr + done.stdout


@needs_jena
def test_jena_shacl_finds_the_export_valid(exports: dict[str, Path]) -> None:
    done = jena("shacl", "validate", "--shapes", shapes_path(), "--data", exports["nt"])
    assert done.returncode == 0, done.stderr
    report = rdflib.Graph().parse(data=done.stdout, format="turtle")
    sh = rdflib.Namespace(ns.SH)
    assert (None, sh.conforms, rdflib.Literal(True)) in report, done.stdout[:2000]


def _arq_violations(triples: Iterable[ox.Triple | ox.Quad], folder: Path) -> set[str]:
    store, _groups = qb.partitioned_store(triples)
    data = qb.write_partitioned(store, folder / "partitioned.nq")
    query = folder / "qb-ic.rq"
    query.write_text(qb.combined_query(), encoding="utf-8")
    done = jena("arq", "--data", data, "--query", query, "--results=csv")
    assert done.returncode == 0, done.stderr
    return {line.strip() for line in done.stdout.splitlines()[1:] if line.strip()}


@needs_jena
def test_arq_finds_the_constraints_hold_on_the_export(exports: dict[str, Path],
                                                      tmp_path: Path) -> None:
    assert _arq_violations(ox.parse(path=str(exports["nt"])), tmp_path) == set()


@needs_jena
def test_arq_and_oxigraph_find_the_same_breaks(mini_triples: list[ox.Triple],
                                               tmp_path: Path) -> None:
    update = ";\n".join(BREAKS[n][0] for n in (
        "dataset-without-structure", "dimension-without-range", "duplicate-observation",
        "observation-without-value"))
    store = broken(mini_triples, update)
    expected = violated(store)
    assert expected == {"IC-2", "IC-4", "IC-12", "IC-14"}
    assert _arq_violations(store.quads_for_pattern(None, None, None, None), tmp_path) == expected


# ---------------------------------------------------------------------------------------------
# VoID/DCAT description and the ontology page

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCTERMS = rdflib.Namespace(ns.DCTERMS)


def _n(g: rdflib.Graph, s: rdflib.term.Node, p: rdflib.URIRef) -> int:
    value = g.value(s, p)
    assert isinstance(value, rdflib.Literal), (s, p)
    return int(value)


def test_void_counts_match_the_store(real_home: Path, real_store: ox.Store,
                                     tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kb.cli import app

    out = tmp_path / "void.ttl"
    done = CliRunner().invoke(app, ["export", str(tmp_path / "kb.nq"), "--void", str(out),
                                    "--home", str(real_home)])
    assert done.exit_code == 0, done.output
    g = rdflib.Graph().parse(out, format="turtle")
    catalog = rdflib.URIRef(void.CATALOG)
    assert _n(g, catalog, VOID.triples) == len(real_store)
    assert g.value(catalog, DCTERMS.license) is not None
    graphs = list(real_store.named_graphs())
    assert set(g.objects(catalog, VOID.subset)) == {rdflib.URIRef(x.value) for x in graphs}
    for graph in graphs:
        subset = rdflib.URIRef(graph.value)
        assert _n(g, subset, VOID.triples) == len(list(
            real_store.quads_for_pattern(None, None, None, graph)))
        if "/graph/source/" in graph.value and g.value(subset, DCTERMS.source) is not None:
            assert g.value(subset, DCTERMS.rights) is not None
    assert {str(x) for x in g.objects(None, DCTERMS.source)} >= {
        ns.source(s) for s in ("coo2025", "dei2020", "mfg2025")}
    counts = {r["d"].value: int(r["n"].value) for r in real_store.query(  # type: ignore[union-attr]
        "SELECT ?d (COUNT(?o) AS ?n) WHERE { ?o <http://purl.org/linked-data/cube#dataSet> ?d }"
        " GROUP BY ?d", use_default_graph_as_union=True)}
    assert len(counts) >= 8 and sum(counts.values()) > 4000
    for d, n in counts.items():
        assert _n(g, rdflib.URIRef(d), VOID.entities) == n
    observed = sum(_n(g, part, VOID.entities)
                   for part in g.subjects(VOID["class"], rdflib.URIRef(ns.QB + "Observation")))
    assert observed == sum(counts.values())


def test_the_ontology_page(real_store: ox.Store) -> None:
    import re
    from html.parser import HTMLParser

    page = docs.render(real_store)
    ids: list[str] = []

    class Ids(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            ids.extend(v for k, v in attrs if k == "id" and v)

    Ids().feed(page)
    assert len(ids) == len(set(ids))
    onto = rdflib.Graph().parse(ontology_path(), format="turtle")
    shapes = rdflib.Graph().parse(shapes_path(), format="turtle")
    for kind in (rdflib.OWL.Class, rdflib.OWL.ObjectProperty, rdflib.OWL.DatatypeProperty):
        for term in onto.subjects(rdflib.RDF.type, kind):
            if isinstance(term, rdflib.URIRef):
                assert docs._anchor(term) in ids, term
                for lang in ("zh", "en"):
                    comment = docs._text(onto, term, rdflib.RDFS.comment, lang)
                    assert comment and escape(comment) in page, (term, lang)
    for kind in (SH.NodeShape, SH.PropertyShape):
        for shape in shapes.subjects(rdflib.RDF.type, kind):
            if isinstance(shape, rdflib.URIRef):
                assert docs._anchor(shape) in ids, shape
    concept = page[page.index('id="kb-concept"'):]
    uses = len(list(real_store.quads_for_pattern(None, ox.NamedNode(ns.KB + "concept"), None)))
    assert f"Used {uses:,} times" in concept[:concept.index("</section>")]
    examples = page[page.index('id=examples'):]
    assert len(re.findall(r"a qb:Observation", examples)) == len(docs.EXAMPLES)
    committed = Path(__file__).parent.parent / "docs" / "ontology.html"
    committed_ids: list[str] = []

    class CommittedIds(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            committed_ids.extend(v for k, v in attrs if k == "id" and v)

    CommittedIds().feed(committed.read_text(encoding="utf-8"))
    assert committed_ids == ids, "docs/ontology.html is out of date: run kb docs"


# ---------------------------------------------------------------------------------------------
# A period that is not a year stops the build (it would be an ill-typed refPeriod)


def test_a_period_that_is_not_a_year_is_refused(data_copy: Path) -> None:
    from kb.errors import BuildError
    from kb.loader import load_catalog

    path = data_copy / "mfg2025" / "statistics_values.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    cells = lines[1].rstrip("\n").split(",")
    cells[header.index("period")] = "2024年"
    lines[1] = ",".join(cells) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    fw = data_copy / "coo2025" / "framework.yaml"
    fw.write_text(fw.read_text(encoding="utf-8").replace('period: "2025"', 'period: "2025.6"'),
                  encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data_copy)
    found = {(p.code, p.file, p.row) for p in info.value.problems}
    assert ("KB004", "data/mfg2025/statistics_values.csv", 2) in found
    assert any(code == "KB004" and file == "data/coo2025/framework.yaml"
               for code, file, _row in found)
