"""A VoID and DCAT description of the knowledge base: what a Linked Data user reads first.

The knowledge base is a ``void:Dataset`` and ``dcat:Catalog``; each named graph is a subset
(its IRI is the graph's name) with its statements, entities, classes and properties counted,
the source it was read from, and the rights in those figures; each ``qb:DataSet`` is a
``dcat:Dataset`` of the catalog with its number of observations.  Every count is made by a
query on the store when the description is written (``kb export FILE --void VOID.ttl``).
"""

from __future__ import annotations

import pyoxigraph as ox

from kb import __version__
from kb import namespaces as ns

VOID = "http://rdfs.org/ns/void#"
SD = "http://www.w3.org/ns/sparql-service-description#"
CATALOG = f"{ns.ID}catalog/citykb"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
"""The licence of what citykb itself states (the ontology, the structure, the computed scores);
the figures of each report remain the publisher's (``dcterms:rights`` on each source graph)."""
VOCABULARIES = ["https://w3id.org/citykb/ontology", "http://purl.org/linked-data/cube",
                "http://purl.org/linked-data/sdmx/2009/dimension",
                "http://purl.org/linked-data/sdmx/2009/measure",
                "http://www.w3.org/2004/02/skos/core", "http://www.w3.org/ns/prov",
                "http://purl.org/dc/terms/", "http://www.w3.org/ns/dcat", "http://schema.org/"]
FORMATS = ["text/turtle", "application/trig", "application/n-triples", "application/n-quads",
           "application/ld+json", "text/csv"]

_PREFIXES = ns.sparql_prefixes()


def _rows(store: ox.Store, query: str) -> list[ox.QuerySolution]:
    result = store.query(_PREFIXES + query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    return list(result)


def _int(term: object) -> int:
    assert isinstance(term, ox.Literal)
    return int(term.value)


def _lit(text: str, lang: str | None = None) -> str:
    return str(ox.Literal(text, language=lang) if lang else ox.Literal(text))


def _count(n: int) -> str:
    return f'"{n}"^^<{ns.XSD}integer>'


def describe(store: ox.Store) -> str:
    """The description, as Turtle."""
    graphs = {str(r["g"].value): _int(r["n"]) for r in _rows(
        store, "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    subjects = {str(r["g"].value): _int(r["n"]) for r in _rows(
        store, "SELECT ?g (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
               "GROUP BY ?g")}
    classes = _rows(store, "SELECT ?g ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g "
                           "{ ?s a ?c } } GROUP BY ?g ?c ORDER BY ?g ?c")
    props = _rows(store, "SELECT ?g ?p (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
                         "GROUP BY ?g ?p ORDER BY ?g ?p")
    datasets = _rows(store, """
        SELECT ?d ?g (COUNT(?o) AS ?n) (SAMPLE(?t) AS ?title) WHERE {
          GRAPH ?g { ?d a qb:DataSet }
          OPTIONAL { ?d dcterms:title ?t }
          OPTIONAL { GRAPH ?og { ?o qb:dataSet ?d } }
        } GROUP BY ?d ?g ORDER BY ?d""")
    sources = {str(r["s"].value): r for r in _rows(store, """
        SELECT ?s (SAMPLE(?zh) AS ?tzh) (SAMPLE(?en) AS ?ten)
               (GROUP_CONCAT(DISTINCT ?pub; separator="、") AS ?pubs) WHERE {
          ?s a kb:Report .
          OPTIONAL { ?s dcterms:title ?zh FILTER(LANG(?zh) = "zh") }
          OPTIONAL { ?s dcterms:title ?en FILTER(LANG(?en) = "en") }
          OPTIONAL { ?s dcterms:publisher/skos:prefLabel ?pub FILTER(LANG(?pub) = "zh") }
        } GROUP BY ?s""")}

    out = [f"@prefix void: <{VOID}> .", f"@prefix dcat: <{ns.DCAT}> .",
           f"@prefix dcterms: <{ns.DCTERMS}> .", f"@prefix sd: <{SD}> .",
           f"@prefix xsd: <{ns.XSD}> .", f"@prefix qb: <{ns.QB}> .", ""]
    total = sum(graphs.values())
    out += [f"<{CATALOG}> a void:Dataset , dcat:Catalog ;",
            f"    dcterms:title {_lit('citykb 城市综合指数知识库', 'zh')} , "
            f"{_lit('citykb: a knowledge base of Chinese city composite indices', 'en')} ;",
            f"    dcterms:description {_lit(_DESCRIPTION_EN, 'en')} , "
            f"{_lit(_DESCRIPTION_ZH, 'zh')} ;",
            f"    dcterms:license <{LICENSE}> ;",
            f"    dcterms:hasVersion {_lit(f'citykb {__version__}')} ;",
            f"    void:uriSpace {_lit(ns.ID)} ;",
            f"    void:triples {_count(total)} ;",
            f"    void:distinctSubjects {_count(len(_all_subjects(store)))} ;",
            *(f"    void:vocabulary <{v}> ;" for v in VOCABULARIES),
            *(f"    void:feature <http://www.w3.org/ns/formats/{f}> ;" for f in (
                "Turtle", "TriG", "N-Triples", "N-Quads", "JSON-LD")),
            f"    dcterms:conformsTo <{ns.STRUCTURE}> ;",
            *(f"    void:subset <{g}> ;" for g in sorted(graphs)),
            *(f"    dcat:dataset {r['d']} ;" for r in datasets),
            f"    dcterms:format {', '.join(_lit(f) for f in FORMATS)} ."]
    for g in sorted(graphs):
        out += ["", f"<{g}> a void:Dataset , sd:NamedGraph ;", f"    sd:name <{g}> ;",
                f"    void:triples {_count(graphs[g])} ;",
                f"    void:distinctSubjects {_count(subjects.get(g, 0))} ;"]
        source = _source_of(g)
        if source in sources:
            r = sources[source]
            out.append(f"    dcterms:source <{source}> ;")
            title = _text(r["tzh"]) or _text(r["ten"])
            pubs = _text(r["pubs"])
            rights = (f"Figures transcribed from {title}"
                      + (f", published by {pubs}" if pubs else "")
                      + "; the rights in them remain with the publisher. "
                        "Each figure cites its table and line.")
            out.append(f"    dcterms:rights {_lit(rights, 'en')} ;")
        elif g == ns.graph_ontology():
            out.append(f"    dcterms:license <{LICENSE}> ;")
        for r in classes:
            if str(r["g"].value) == g:
                out.append(f"    void:classPartition [ void:class {r['c']} ; "
                           f"void:entities {_count(_int(r['n']))} ] ;")
        for r in props:
            if str(r["g"].value) == g:
                out.append(f"    void:propertyPartition [ void:property {r['p']} ; "
                           f"void:triples {_count(_int(r['n']))} ] ;")
        out[-1] = out[-1][:-2] + " ."
    for r in datasets:
        out += ["", f"{r['d']} a dcat:Dataset , qb:DataSet ;"]
        if r["title"] is not None:
            out.append(f"    dcterms:title {r['title']} ;")
        out += [f"    dcterms:isPartOf {r['g']} ;",
                f"    qb:structure <{ns.STRUCTURE}> ;",
                f"    void:entities {_count(_int(r['n']))} ."]
    return "\n".join(out) + "\n"


_DESCRIPTION_EN = ("Cities, provinces, regions and city clusters of China, the frameworks of "
                   "composite indices that score them, every published or computed score as an "
                   "RDF Data Cube observation citing its report, table and line, the scoring "
                   "runs (PROV-O) and the errata made to the sources.")
_DESCRIPTION_ZH = ("中国的城市、省级行政区、大区与城市群，对其评价的综合指数框架，"
                   "每一个发布或计算的得分（RDF Data Cube 观测值，注明报告、表格与行号），"
                   "计分运行（PROV-O）以及对来源所作的勘误。")


def _text(term: object) -> str:
    return term.value if isinstance(term, ox.Literal) else ""


def _source_of(graph: str) -> str:
    prefix = f"{ns.GRAPH}source/"
    return ns.source(graph[len(prefix):]) if graph.startswith(prefix) else ""


def _all_subjects(store: ox.Store) -> set[str]:
    rows = _rows(store, "SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } }")
    return {str(r["s"]) for r in rows}
