"""IRIs of citykb: the ontology namespace, instance IRIs and named graphs.

Instance IRIs are readable and stable: ``{ID}{kind}/{slug}``, slugs from English names
(``https://w3id.org/citykb/id/city/shenzhen``). See the README's "IRIs" section.
"""

from __future__ import annotations

import re

KB = "https://w3id.org/citykb/ontology#"
ID = "https://w3id.org/citykb/id/"
GRAPH = "https://w3id.org/citykb/graph/"
SHAPES = "https://w3id.org/citykb/shapes#"
STRUCTURE = f"{ID}structure/observation"
"""The data structure definition (qb:DataStructureDefinition) every dataset follows."""

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
DCTERMS = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
SCHEMA = "http://schema.org/"
QB = "http://purl.org/linked-data/cube#"
SDMX_DIM = "http://purl.org/linked-data/sdmx/2009/dimension#"
SDMX_MEASURE = "http://purl.org/linked-data/sdmx/2009/measure#"
SDMX_ATTR = "http://purl.org/linked-data/sdmx/2009/attribute#"
SH = "http://www.w3.org/ns/shacl#"

PREFIXES: dict[str, str] = {
    "kb": KB,
    "kbid": ID,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "owl": OWL,
    "skos": SKOS,
    "prov": PROV,
    "dcterms": DCTERMS,
    "dcat": DCAT,
    "schema": SCHEMA,
    "qb": QB,
    "sdmx-dimension": SDMX_DIM,
    "sdmx-measure": SDMX_MEASURE,
    "sdmx-attribute": SDMX_ATTR,
}

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def sparql_prefixes() -> str:
    """The PREFIX block every named query may rely on."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


def slugify(text: str) -> str:
    """Lowercase ASCII slug: ``"Xi'an"`` → ``"xian"``, ``"Green and low-carbon"`` →
    ``"green-and-low-carbon"``."""
    text = text.lower().replace("'", "").replace("’", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def place(kind: str, slug: str) -> str:
    """IRI of a place: kind is region, province, city, county or cluster."""
    return f"{ID}{kind}/{slug}"


def place_ref(ref: str) -> str:
    """IRI of a place reference ``kind:id`` (``city:shenzhen`` → ``…/id/city/shenzhen``)."""
    kind, _, slug = ref.partition(":")
    return f"{ID}{kind}/{slug}"


def source(slug: str) -> str:
    return f"{ID}source/{slug}"


def org(slug: str) -> str:
    return f"{ID}org/{slug}"


def framework(slug: str) -> str:
    return f"{ID}framework/{slug}"


def node(framework_slug: str, node_slug: str) -> str:
    """IRI of a dimension, variable or indicator: unique within its framework."""
    return f"{ID}framework/{framework_slug}/{node_slug}"


def dataset(framework_slug: str, name: str) -> str:
    return f"{ID}dataset/{framework_slug}/{name}"


def observation(framework_slug: str, dataset_name: str, place_slug: str, concept_slug: str) -> str:
    return f"{ID}obs/{framework_slug}/{dataset_name}/{place_slug}/{concept_slug}"


def erratum(source_slug: str, slug: str) -> str:
    return f"{ID}erratum/{source_slug}/{slug}"


def statistic(source_slug: str, slug: str) -> str:
    return f"{ID}statistic/{source_slug}/{slug}"


def statistics_scheme(source_slug: str) -> str:
    return f"{ID}statistic/{source_slug}"


def statement(source_slug: str, slug: str) -> str:
    return f"{ID}statement/{source_slug}/{slug}"


def tier_scheme(framework_slug: str) -> str:
    return f"{ID}framework/{framework_slug}/tiers"


def tier(framework_slug: str, slug: str) -> str:
    return f"{ID}framework/{framework_slug}/tiers/{slug}"


def run(slug: str) -> str:
    return f"{ID}run/{slug}"


def method(slug: str) -> str:
    return f"{ID}method/{slug}"


def graph_ontology() -> str:
    return f"{GRAPH}ontology"


def graph_source(slug: str) -> str:
    return f"{GRAPH}source/{slug}"


def graph_run(slug: str) -> str:
    return f"{GRAPH}run/{slug}"


def local_name(iri: str) -> str:
    """The last path segment of an instance IRI (its slug)."""
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
