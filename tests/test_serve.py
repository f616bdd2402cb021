"""kb serve, started for real on a loopback port over the shared built knowledge base, and
driven as its users would: a standard SPARQL client (SPARQLWrapper), plain HTTP with the
headers programs send, and headless Chromium (Debian's chromium and chromium-driver through
Selenium) for the pages, the editor, the forms and the charts."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib

from kb import namespaces as ns
from kb.store import BuildDir
from kb.web.negotiate import choose

MAX_ROWS = 500
TIMEOUT = 4


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    home: Path


@pytest.fixture(scope="session")
def server(real_home: Path) -> Iterator[Server]:
    """``kb serve --port 0`` on the shared knowledge base; the URL is read from what it
    prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "serve", "--port", "0", "--home", str(real_home),
         "--timeout", str(TIMEOUT), "--max-rows", str(MAX_ROWS), "--workers", "2",
         "--max-request", "4096", "--queue-wait", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "serving at" not in line:
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"kb serve did not start: {line}{err}")
    url = line.split("serving at ", 1)[1].split("/ ", 1)[0]
    assert url.startswith("http://127.0.0.1:")  # loopback by default
    for _ in range(100):  # the socket listens before the workers are up
        try:
            urllib.request.urlopen(url + "/status", timeout=5).read()
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    yield Server(url, proc, real_home)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def media(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


def http(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
         method: str | None = None, timeout: float = 120) -> Reply:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def get_query(server: Server, query: str, accept: str | None = None, **extra: str) -> Reply:
    params = urllib.parse.urlencode({"query": query, **extra})
    return http(f"{server.url}/sparql?{params}", headers={"Accept": accept} if accept else {})


def post_form(server: Server, query: str, accept: str | None = None) -> Reply:
    return http(f"{server.url}/sparql", data=urllib.parse.urlencode({"query": query}).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         **({"Accept": accept} if accept else {})})


CITIES = "SELECT ?c WHERE { ?c a kb:City } ORDER BY ?c"


def city_count(store: ox.Store) -> int:
    return sum(1 for _ in store.quads_for_pattern(
        None, ox.NamedNode(ns.RDF + "type"), ox.NamedNode(ns.KB + "City"), None))


# --- content negotiation (no server) --------------------------------------------------------


@pytest.mark.parametrize(("accept", "offered", "expected"), [
    (None, ["text/html", "text/turtle"], "text/html"),
    ("text/turtle", ["text/html", "text/turtle"], "text/turtle"),
    ("text/html;q=0.8, text/turtle;q=0.9", ["text/html", "text/turtle"], "text/turtle"),
    # the most specific range decides: text/turtle at 0.1 despite text/* at 0.9
    ("text/*;q=0.9, text/turtle;q=0.1", ["text/turtle", "text/html"], "text/html"),
    ("*/*;q=0.1, application/n-triples", ["text/html", "application/n-triples"],
     "application/n-triples"),
    ("text/html;q=0, */*", ["text/html", "text/turtle"], "text/turtle"),
    ("image/png", ["text/html", "text/turtle"], None),
    ("text/turtle;q=0", ["text/turtle"], None),
    ("TEXT/TURTLE ; Q=0.5 , application/ld+json;q=0.6", ["text/turtle", "application/ld+json"],
     "application/ld+json"),
    ("application/ld+json;profile=\"http://www.w3.org/ns/json-ld#expanded\"",
     ["text/turtle", "application/ld+json"], "application/ld+json"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
     ["application/sparql-results+json", "application/sparql-results+xml"],
     "application/sparql-results+json"),
    ("nonsense, text/turtle;q=abc", ["text/html", "text/turtle"], "text/turtle"),
])
def test_accept_negotiation(accept: str | None, offered: list[str], expected: str | None) -> None:
    assert choose(accept, offered) == expected


# --- the SPARQL protocol ---------------------------------------------------------------------


def test_select_by_get_post_and_direct_post_agree(server: Server, real_store: ox.Store) -> None:
    by_get = json.loads(get_query(server, CITIES).body)
    by_form = json.loads(post_form(server, CITIES).body)
    direct = http(f"{server.url}/sparql", data=CITIES.encode(),
                  headers={"Content-Type": "application/sparql-query"})
    assert direct.status == 200
    rows = [b["c"]["value"] for b in by_get["results"]["bindings"]]
    assert len(rows) == city_count(real_store) > 200
    assert rows == [b["c"]["value"] for b in by_form["results"]["bindings"]]
    assert rows == [b["c"]["value"] for b in json.loads(direct.body)["results"]["bindings"]]
    assert by_get["citykb"] == {"truncated": False, "max_rows": MAX_ROWS, "rows": len(rows)}


def test_select_formats(server: Server) -> None:
    q = ('SELECT ?c ?zh ?n WHERE { ?c a kb:City ; skos:prefLabel ?zh FILTER(lang(?zh) = "zh") '
         'BIND(42 AS ?n) } ORDER BY ?c LIMIT 5')
    js = get_query(server, q, "application/sparql-results+json")
    assert js.media == "application/sparql-results+json" and "Accept" in js.headers["vary"]
    data = json.loads(js.body)
    first = data["results"]["bindings"][0]
    assert first["c"]["type"] == "uri" and first["zh"]["xml:lang"] == "zh"
    assert first["n"]["datatype"] == ns.XSD + "integer"

    xml = get_query(server, q, "application/sparql-results+xml")
    assert xml.media == "application/sparql-results+xml"
    root = ET.fromstring(xml.body)
    sr = "{http://www.w3.org/2005/sparql-results#}"
    results = root.findall(f"{sr}results/{sr}result")
    assert len(results) == 5
    uri = results[0].find(f"{sr}binding[@name='c']/{sr}uri")
    assert uri is not None and uri.text == first["c"]["value"]

    text = get_query(server, q, "text/csv")
    assert text.media == "text/csv"
    table = list(csv.reader(io.StringIO(text.text)))
    assert table[0] == ["c", "zh", "n"] and table[1] == [first["c"]["value"],
                                                         first["zh"]["value"], "42"]

    tsv = get_query(server, q, "text/tab-separated-values")
    lines = tsv.text.splitlines()
    assert lines[0] == "?c\t?zh\t?n"
    assert lines[1].split("\t")[0] == f"<{first['c']['value']}>"
    assert lines[1].split("\t")[1] == f'"{first["zh"]["value"]}"@zh'


def test_ask_and_construct(server: Server, real_store: ox.Store) -> None:
    ask = json.loads(get_query(server, "ASK { ?c a kb:City }").body)
    assert ask["boolean"] is True
    assert json.loads(get_query(server, "ASK { ?c a kb:Nothing }").body)["boolean"] is False

    q = "CONSTRUCT { ?c skos:prefLabel ?l } WHERE { ?c a kb:Region ; skos:prefLabel ?l }"
    expected = {(q.subject.value, q.object.value)  # type: ignore[union-attr]
                for r in real_store.quads_for_pattern(None, ox.NamedNode(ns.RDF + "type"),
                                                       ox.NamedNode(ns.KB + "Region"), None)
                for q in real_store.quads_for_pattern(r.subject,
                                                      ox.NamedNode(ns.SKOS + "prefLabel"), None)}
    for accept, fmt in [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                        ("application/n-triples", "nt"), ("application/rdf+xml", "xml")]:
        r = get_query(server, q, accept)
        assert r.status == 200 and r.media == accept, (accept, r.text[:200])
        g = rdflib.Graph().parse(data=r.body, format=fmt)
        assert {(str(s), str(o)) for s, _, o in g} == expected, accept
    # weighted: JSON-LD preferred over Turtle
    r = get_query(server, q, "text/turtle;q=0.5, application/ld+json;q=0.9, */*;q=0.1")
    assert r.media == "application/ld+json"


def test_not_acceptable_and_vary(server: Server) -> None:
    r = get_query(server, CITIES, "image/png, text/html")
    assert r.status == 406 and r.headers["x-citykb-error"] == "KB100"
    r = get_query(server, "CONSTRUCT WHERE { ?s a kb:Region }", "application/sparql-results+json")
    assert r.status == 406
    r = get_query(server, CITIES, "text/csv;q=0, */*;q=0.5")
    assert r.status == 200 and r.media == "application/sparql-results+json"


@pytest.mark.parametrize(("how", "code", "status"), [
    ("update-param", "KB055", 400),
    ("update-body", "KB055", 400),
    ("service", "KB055", 400),
    ("load", "KB055", 400),
    ("two-queries", "KB103", 400),
    ("bad-content-type", "KB103", 400),
    ("syntax", "KB052", 400),
    ("too-large", "KB101", 413),
])
def test_refused_requests(server: Server, how: str, code: str, status: int) -> None:
    url = f"{server.url}/sparql"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if how == "update-param":
        r = http(url, data=b"update=INSERT+DATA+%7B%3Ca%3Ab%3E+%3Ca%3Ac%3E+%3Ca%3Ad%3E%7D",
                 headers=form)
    elif how == "update-body":
        r = http(url, data=b"DELETE WHERE { ?s ?p ?o }",
                 headers={"Content-Type": "application/sparql-update"})
    elif how == "service":
        r = get_query(server, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> "
                              "{ ?s ?p ?o } }")
    elif how == "load":
        r = post_form(server, "LOAD <http://127.0.0.1:9/x.ttl>")
    elif how == "two-queries":
        r = http(f"{url}?query=ASK%7B%7D&query=ASK%7B%7D")
    elif how == "bad-content-type":
        r = http(url, data=b"query=ASK{}", headers={"Content-Type": "text/plain"})
    elif how == "syntax":
        r = get_query(server, "SELECT ?x WHERE { ?x ?y }")
    else:
        r = post_form(server, "SELECT * WHERE { ?s ?p ?o } # " + "x" * 5000)
    assert (r.status, r.headers.get("x-citykb-error")) == (status, code), r.text
    assert r.text.startswith(f"error {code} ")
    # the store is unchanged and still answers
    assert json.loads(get_query(server, "ASK { ?c a kb:City }").body)["boolean"] is True


def test_row_cap_is_reported(server: Server, real_store: ox.Store) -> None:
    q = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
    r = get_query(server, q)
    data = json.loads(r.body)
    assert len(data["results"]["bindings"]) == MAX_ROWS
    assert data["citykb"]["truncated"] is True and data["citykb"]["max_rows"] == MAX_ROWS
    assert r.headers["x-citykb-truncated"] == "true"
    assert r.headers["x-citykb-max-rows"] == str(MAX_ROWS)
    small = get_query(server, "SELECT ?c WHERE { ?c a kb:Region }", "text/csv")
    assert small.headers["x-citykb-truncated"] == "false"
    assert len(small.text.strip().splitlines()) == 1 + 4
    g = get_query(server, "CONSTRUCT WHERE { ?s ?p ?o }", "application/n-triples")
    assert g.headers["x-citykb-truncated"] == "true"
    assert len(g.text.strip().splitlines()) == MAX_ROWS


def test_time_limit_stops_a_cross_product_and_others_are_served(server: Server) -> None:
    cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    r = post_form(server, cross)
    assert (r.status, r.headers["x-citykb-error"]) == (503, "KB053"), r.text
    # the killed worker is replaced: queries keep being answered, by both workers
    for _ in range(4):
        assert json.loads(get_query(server, "ASK { ?c a kb:City }").body)["boolean"] is True
    for _ in range(300):  # the replacement worker opens the store in the background
        status = json.loads(http(f"{server.url}/status").body)
        if len(status["workers"]) == 2:
            break
        time.sleep(0.1)
    assert len(status["workers"]) == 2 and status["workers_replaced"] >= 1


def test_memory_limit_stops_a_query_and_the_worker_is_replaced(real_home: Path) -> None:
    """A second server with a 1 GB limit per worker: a sorted cross product is stopped
    (KB054) and the next query is answered."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "serve", "--port", "0", "--home", str(real_home),
         "--memory", "1024", "--timeout", "300", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("serving at ", 1)[1].split("/ ", 1)[0]
        one = Server(url, proc, real_home)
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/status", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        r = http(f"{url}/sparql", data=urllib.parse.urlencode({"query": (
            "SELECT ?a WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?d ?g")}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=330)  # ~15 s here; more on a loaded machine
        assert (r.status, r.headers.get("x-citykb-error")) == (503, "KB054"), r.text
        assert json.loads(get_query(one, "ASK { ?c a kb:City }").body)["boolean"] is True
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_dataset_parameters(server: Server) -> None:
    g = ns.graph_source("geography")
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?s a kb:City }"
    everything = json.loads(get_query(server, q).body)
    only = json.loads(get_query(server, q, **{"default-graph-uri": g}).body)
    other = json.loads(get_query(server, q, **{"default-graph-uri": ns.graph_ontology()}).body)

    def count(d: dict[str, Any]) -> int:
        return int(d["results"]["bindings"][0]["n"]["value"])

    assert count(everything) >= count(only) > 0 and count(other) == 0


def test_service_description(server: Server) -> None:
    r = http(f"{server.url}/sparql", headers={"Accept": "text/turtle"})
    assert r.status == 200 and r.media == "text/turtle"
    g = rdflib.Graph().parse(data=r.body, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    endpoint = rdflib.URIRef(f"{server.url}/sparql")
    assert (endpoint, rdflib.RDF.type, sd.Service) in g
    assert (endpoint, sd.supportedLanguage, sd.SPARQL11Query) in g
    assert len(set(g.objects(None, sd.name))) >= 7
    browser = http(f"{server.url}/sparql", headers={"Accept": "text/html"})
    assert browser.status == 200 and "SPARQL editor" in browser.text  # redirected to /query


def test_sparqlwrapper_client(server: Server, real_store: ox.Store) -> None:
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

    client = SPARQLWrapper(f"{server.url}/sparql")
    client.setQuery("PREFIX kb: <https://w3id.org/citykb/ontology#> "
                    "SELECT ?c WHERE { ?c a kb:City }")
    client.setReturnFormat(JSON)
    got = client.query().convert()
    assert isinstance(got, dict)
    assert len(got["results"]["bindings"]) == city_count(real_store)
    client.setMethod("POST")
    client.setQuery("PREFIX kb: <https://w3id.org/citykb/ontology#> "
                    "ASK { <https://w3id.org/citykb/id/city/shenzhen> a kb:City }")
    asked: Any = client.query().convert()
    assert asked["boolean"] is True
    client.setQuery("DESCRIBE <https://w3id.org/citykb/id/city/shenzhen>")
    client.setReturnFormat(TURTLE)
    body: Any = client.query().convert()
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert (rdflib.URIRef(ns.ID + "city/shenzhen"), rdflib.RDF.type,
            rdflib.URIRef(ns.KB + "City")) in graph


def test_rdflib_sparqlstore(server: Server) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(f"{server.url}/sparql", returnFormat="json")
    rows = list(store.query("SELECT ?r WHERE { ?r a <https://w3id.org/citykb/ontology#Region> }"))
    assert len(rows) == 4


def test_server_holds_its_build(server: Server) -> None:
    status = json.loads(http(f"{server.url}/status").body)
    build = BuildDir(server.home / "builds" / status["build"])
    with build.readers_lock.open("ab") as fh, pytest.raises(BlockingIOError):
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a pruning writer would take


# --- a page for every IRI --------------------------------------------------------------------


def _sample_iris(store: ox.Store, per_kind: int = 1) -> list[str]:
    """A few IRIs of every kind under /id/ (the first, and random ones with a fixed seed),
    plus any IRI that is only ever an object."""
    by_kind: dict[str, set[str]] = {}
    for q in store.quads_for_pattern(None, None, None, None):
        for t in (q.subject, q.object):
            if isinstance(t, ox.NamedNode) and t.value.startswith(ns.ID):
                rest = t.value[len(ns.ID):].split("/")
                kind = rest[0]
                if kind == "obs":
                    kind += "-" + ("run" if rest[2].startswith("run-") else rest[2])
                elif kind == "framework":
                    kind += "-" + str(min(len(rest), 3))
                by_kind.setdefault(kind, set()).add(t.value)
    rng = random.Random(13)
    out = []
    for iris in by_kind.values():
        ordered = sorted(iris)
        out += [ordered[0], *rng.sample(ordered, min(per_kind, len(ordered)))]
    return sorted(set(out))


@pytest.fixture(scope="module")
def sample(real_store: ox.Store) -> list[str]:
    return _sample_iris(real_store)


def _store_has(store: ox.Store, s: rdflib.term.Node, p: rdflib.term.Node,
               o: rdflib.term.Node) -> bool:
    def term(n: rdflib.term.Node) -> Any:
        if isinstance(n, rdflib.BNode):
            return None
        if isinstance(n, rdflib.URIRef):
            return ox.NamedNode(str(n))
        assert isinstance(n, rdflib.Literal)
        if n.language:
            return ox.Literal(str(n), language=n.language)
        return ox.Literal(str(n), datatype=ox.NamedNode(str(n.datatype or ns.XSD + "string")))

    return next(iter(store.quads_for_pattern(term(s), term(p), term(o), None)), None) is not None


def _lexical(value: str, datatype: str) -> str:
    """Typed literals by value: a serializer may write 134.0 as 1.34E2, a parser normalise a
    dateTime."""
    if datatype in (ns.XSD + "string", ns.RDF + "langString"):
        return value
    return repr(rdflib.Literal(value, datatype=rdflib.URIRef(datatype)).toPython())


def _ox_key(t: object) -> tuple[str, ...]:
    if isinstance(t, ox.Literal):
        return ("literal", _lexical(t.value, t.datatype.value) if not t.language else t.value,
                t.language or "",
                "" if t.language else t.datatype.value)
    assert isinstance(t, ox.NamedNode)
    return ("iri", t.value)


def _rdflib_key(t: rdflib.term.Node) -> tuple[str, ...]:
    if isinstance(t, rdflib.Literal):
        datatype = str(t.datatype or ns.XSD + "string")
        return ("literal", _lexical(str(t), datatype) if not t.language else str(t),
                t.language or "",
                "" if t.language else datatype)
    return ("iri", str(t))


def test_every_kind_of_iri_dereferences_to_html_and_matching_rdf(server: Server,
                                                                 real_store: ox.Store,
                                                                 sample: list[str]) -> None:
    kinds = {i[len(ns.ID):].split("/")[0] for i in sample}
    assert {"city", "province", "region", "county", "cluster", "framework", "obs", "erratum",
            "source", "run", "dataset", "method", "statement"} <= kinds
    for iri in sample:
        path = "/id/" + iri[len(ns.ID):]
        page = http(server.url + path, headers={"Accept": "text/html"})
        assert page.status == 200 and page.media == "text/html", (iri, page.text[:300])
        assert page.headers["vary"] == "Accept"
        assert iri in page.text and "error KB" not in page.text, iri
        node = rdflib.URIRef(iri)
        own = {(q.predicate.value, _ox_key(q.object))
               for q in real_store.quads_for_pattern(ox.NamedNode(iri), None, None, None)
               if not isinstance(q.object, ox.BlankNode)}
        for accept, fmt in [("text/turtle", "turtle"), ("application/ld+json", "json-ld")]:
            r = http(server.url + path, headers={"Accept": accept})
            assert r.status == 200 and r.media == accept, (iri, accept)
            g = rdflib.Graph().parse(data=r.body, format=fmt)
            assert len(g) > 0
            got = {(str(p), _rdflib_key(o)) for _, p, o in g.triples((node, None, None))
                   if not isinstance(o, rdflib.BNode)}
            assert own <= got, (iri, accept, own - got)  # all it says of itself
            for s, p, o in g:  # and nothing the store does not hold
                if not isinstance(s, rdflib.BNode) and not isinstance(o, rdflib.BNode):
                    assert _store_has(real_store, s, p, o), (iri, s, p, o)
            if not own:  # only ever an object: described by what points to it
                assert set(g.subjects(None, node)), iri


def test_resource_negotiation(server: Server) -> None:
    path = f"{server.url}/id/city/shenzhen"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    cases = {
        browser: "text/html",
        "text/turtle;q=0.9, text/html;q=0.8": "text/turtle",
        "text/*;q=0.9, text/turtle;q=0.1": "text/html",
        "application/n-triples, */*;q=0.1": "application/n-triples",
        "text/html;q=0, */*": "text/turtle",
        "application/json": "application/ld+json",
        "": "text/html",
    }
    for accept, media in cases.items():
        r = http(path, headers={"Accept": accept} if accept else {})
        assert (r.status, r.media) == (200, media), accept
        assert r.headers["vary"] == "Accept"
    assert http(path, headers={"Accept": "image/png"}).status == 406
    assert http(path + "?format=nt").media == "application/n-triples"
    nowhere = http(f"{server.url}/id/city/atlantis", headers={"Accept": "text/turtle"})
    assert (nowhere.status, nowhere.headers["x-citykb-error"]) == (404, "KB104")


def test_specialised_pages(server: Server) -> None:
    def page(path: str) -> str:
        r = http(server.url + path, headers={"Accept": "text/html"})
        assert r.status == 200, (path, r.text[:300])
        assert 'class="note"' not in r.text, (path, r.text.split('class="note"')[1][:200])
        assert "&lt;" not in r.text, path  # no markup shown as text
        return r.text

    city = page("/id/city/shenzhen")
    assert "Every index's score and rank" in city and "/chart/radar.svg" in city
    assert "/id/province/guangdong" in city and "/id/region/east" in city
    run = next(line for line in city.splitlines() if "/id/obs/coo-2025/run-" in line)
    score_path = run.split('href="', 1)[1].split('"', 1)[0]
    score = page(score_path)
    assert "How this score was made" in score and "kb explain shenzhen" in score
    framework = page("/id/framework/coo-2025")
    assert "/chart/sunburst.svg" in framework and "经济实力" in framework
    assert "Members and places" in page("/id/region/east")
    cluster = page("/id/cluster/dei2020-beijing-tianjin-hebei")
    assert "Its definitions, with their sources" in cluster
    assert "/id/cluster/bluebook2025-beijing-tianjin-hebei" in cluster  # another source's
    assert "What this correction touches" in page("/id/erratum/coo2025/coo2025-e020")
    assert "What this source contributes" in page("/id/source/coo2025")


def test_run_page_gives_the_regen_command(server: Server, real_store: ox.Store) -> None:
    run = next(q.subject.value for q in real_store.quads_for_pattern(  # type: ignore[union-attr]
        None, ox.NamedNode(ns.RDF + "type"), ox.NamedNode(ns.KB + "ScoringRun"), None))
    r = http(server.url + "/id/" + run[len(ns.ID):], headers={"Accept": "text/html"})
    assert f"kb regen {ns.local_name(run)}" in r.text
    assert "prov:startedAtTime" in r.text


def test_named_query_form_and_downloads(server: Server) -> None:
    form = http(f"{server.url}/queries/top-in-area")
    assert form.status == 200 and 'name="area"' in form.text and 'type="number"' in form.text
    args = urllib.parse.urlencode({"area": "广东", "dimension": "科技创新", "top": "10"})
    page = http(f"{server.url}/queries/top-in-area?{args}")
    assert page.status == 200 and "<td>深圳</td>" in page.text and "<td>广州</td>" in page.text
    as_json = json.loads(http(f"{server.url}/queries/top-in-area?{args}&format=json").body)
    assert as_json["truncated"] is False and as_json["rows"]
    assert all(r["rank"] <= 10 for r in as_json["rows"])
    as_csv = http(f"{server.url}/queries/top-in-area?{args}&format=csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["cityZh"] for r in table] == [r["cityZh"] for r in as_json["rows"]]
    assert "深圳" in [r["cityZh"] for r in table]
    # the CLI's validation: a range-checked integer, an unknown name with suggestions
    def q(**kw: object) -> str:
        return urllib.parse.urlencode(kw)

    bad = http(f"{server.url}/queries/top-in-area?{q(area='广东', dimension='科技创新', top=0)}")
    assert "KB051" in bad.text and 'class="error"' in bad.text
    typo = http(f"{server.url}/queries/top-in-area?"
                f"{q(area='东不', dimension='科技创新', top=3, format='json')}")
    assert typo.status == 404 and typo.headers["x-citykb-error"] == "KB050"
    assert "did you mean" in typo.text


def test_charts_are_svg(server: Server) -> None:
    for path in ["radar.svg?city=深圳", "heatmap.svg?framework=coo-2025",
                 "sunburst.svg?framework=dei-2020", "bump.svg?a=coo-2025&b=dei-2020"]:
        r = http(f"{server.url}/chart/{urllib.parse.quote(path, safe='?=&.')}")
        assert r.status == 200 and r.media == "image/svg+xml", (path, r.text[:200])
        root = ET.fromstring(r.body)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 20
    missing = http(f"{server.url}/chart/radar.svg?city=tianshui")
    assert missing.headers.get("x-citykb-error") in ("KB106", "KB050")


# --- in a real browser ------------------------------------------------------------------------


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver must be installed under CI (.ci/run)")
        pytest.skip("chromium or chromium-driver is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1280,1000"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _wait(driver: Any, condition: Callable[[Any], Any], seconds: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def test_browser_pages_load_without_errors_and_links_resolve(server: Server, browser: Any,
                                                             shots: Path,
                                                             real_store: ox.Store) -> None:
    driver = browser
    run = next(q.subject.value for q in real_store.quads_for_pattern(  # type: ignore[union-attr]
        None, ox.NamedNode(ns.RDF + "type"), ox.NamedNode(ns.KB + "ScoringRun"), None))
    score = f"/id/obs/coo-2025/run-{ns.local_name(run)}/shenzhen/economic-strength"
    pages = ["/", "/id/city/shenzhen", score, "/id/framework/coo-2025", "/id/region/east",
             "/id/erratum/coo2025/coo2025-e020", "/id/source/coo2025",
             "/id/" + run[len(ns.ID):], "/query", "/queries/cluster-top-n"]
    links: set[str] = set()
    for path in pages:
        driver.get(server.url + path)
        _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
        # every image (chart) has loaded and drawn
        _wait(driver, lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"))
        assert _console_errors(driver) == [], path
        name = path.strip("/").replace("/", "_")[:80] or "home"
        driver.save_screenshot(str(shots / f"{name}.png"))
        assert (shots / f"{name}.png").stat().st_size > 10_000
        links |= {h for h in driver.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
                  if h.startswith(server.url) and "#" not in h}
    # external assets: none (every script, stylesheet and image is the server's own)
    assets = driver.execute_script(
        "return Array.from(document.querySelectorAll('script[src],link[href],img[src]'))"
        ".map(e => e.src || e.href)")
    assert all(a.startswith(server.url) for a in assets), assets
    sample = sorted(links)[:: max(1, len(links) // 60)]
    assert len(sample) > 20
    for href in sample:
        r = http(href, headers={"Accept": "text/html"})
        assert r.status == 200, (href, r.status, r.text[:200])


def test_browser_editor_runs_a_query(server: Server, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server.url + "/query")
    driver.find_element(By.ID, "run").click()  # the example it opens with: the top 20
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results table tbody tr"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#results table tbody tr")) == 20
    area = driver.find_element(By.ID, "query")
    area.clear()
    area.send_keys("SELECT ?c ?zh WHERE { ?c a kb:Region ; skos:prefLabel ?zh "
                   'FILTER(lang(?zh) = "zh") } ORDER BY ?c')
    driver.find_element(By.ID, "run").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results table tbody tr"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#results table tbody tr")
    assert len(rows) == 4
    assert "东部" in driver.find_element(By.ID, "results").text
    assert driver.find_element(By.ID, "csv").get_attribute("href").startswith(
        server.url + "/sparql?format=csv")
    driver.save_screenshot(str(shots / "editor.png"))
    # a named query's tab loads its text
    driver.find_element(By.CSS_SELECTOR, "#tabs .tab[data-name='framework-tree']").click()
    assert "skos:inScheme" in driver.find_element(By.ID, "query").get_attribute("value")
    # an error is shown, not swallowed
    driver.find_element(By.CSS_SELECTOR, "#tabs .tab[data-name='']").click()
    area = driver.find_element(By.ID, "query")
    area.clear()
    area.send_keys("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }")
    driver.find_element(By.ID, "run").click()
    _wait(driver, lambda d: d.find_elements(By.ID, "query-error"))
    assert "KB055" in driver.find_element(By.ID, "query-error").text
    # the refused query is a 400 the page reports; nothing else went wrong
    assert all("400" in m for m in _console_errors(driver))


def test_browser_form_returns_a_table(server: Server, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server.url + "/queries/cluster-top-n")
    driver.find_element(By.NAME, "area").send_keys("plan-yangtze-river-delta")
    driver.find_element(By.NAME, "concept").send_keys("coo-2025")
    top = driver.find_element(By.NAME, "top")
    top.clear()
    top.send_keys("10")
    driver.find_element(By.CSS_SELECTOR, "form.params button").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.results tbody tr"))
    text = driver.find_element(By.CSS_SELECTOR, "table.results").text
    assert all(city in text for city in ["上海", "杭州", "苏州", "南京"])
    assert _console_errors(driver) == []
    driver.save_screenshot(str(shots / "form.png"))


@pytest.mark.parametrize(("query", "flagged"), [
    ("SELECT * WHERE { ?s ?p ?o }", False),
    ('SELECT * WHERE { ?s ?p "SERVICE LOAD DELETE" } # INSERT', False),
    ("SELECT ?service WHERE { ?service <http://x/load> ?insert }", False),
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", True),
    ("select * where { service<http://127.0.0.1:9/>{?s ?p ?o} }", True),
    ("LOAD <http://127.0.0.1:9/x.ttl>", True),
    ("PREFIX ex: <http://x/> INSERT DATA { ex:a ex:b ex:c }", True),
])
def test_the_workers_fast_check_lets_through_only_what_cannot_be_refused(
        query: str, flagged: bool) -> None:
    """What the lexer lets through unparsed never holds a refused keyword; what it flags is
    parsed in full (check_query) before it runs."""
    from kb.errors import KbError
    from kb.sparql import QUERY_FORMS, check_query, may_be_refused

    assert may_be_refused(query) is flagged
    if not flagged:
        check_query(query, QUERY_FORMS)  # and the full check agrees: nothing refused
    else:
        with pytest.raises(KbError) as err:
            check_query(query, QUERY_FORMS)
        assert err.value.code == "KB055"


def test_every_iri_has_a_description_that_round_trips(real_store: ox.Store) -> None:
    """All of them, in-process (the HTTP test above samples each kind): every IRI under /id/
    that the store mentions is described — what it says of itself, or what points to it — and
    the description's Turtle parses back to the same triples."""
    from kb.web.pages import describe, serialize

    iris = {t.value for q in real_store.quads_for_pattern(None, None, None, None)
            for t in (q.subject, q.object)
            if isinstance(t, ox.NamedNode) and t.value.startswith(ns.ID)}
    assert len(iris) > 5000
    for iri in sorted(iris):
        triples = describe(real_store, iri)
        node = ox.NamedNode(iri)
        own = {q.triple for q in real_store.quads_for_pattern(node, None, None, None)}
        assert own <= set(triples) and (own or any(t.object == node for t in triples)), iri
        back = list(ox.parse(serialize(triples, ox.RdfFormat.TURTLE),
                             format=ox.RdfFormat.TURTLE))
        named = {t for t in triples if not isinstance(t.subject, ox.BlankNode)
                 and not isinstance(t.object, ox.BlankNode)}
        assert named <= {q.triple for q in back} and len(back) == len(triples), iri


def test_workers_end_with_the_server(real_home: Path) -> None:
    """Killed outright (SIGKILL, no shutdown) while a worker is in the middle of a cross
    product, the server leaves no query worker behind."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "serve", "--port", "0", "--home", str(real_home),
         "--workers", "1", "--timeout", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().split("serving at ", 1)[1].split("/ ", 1)[0]
    pids: list[int] = []
    for _ in range(300):
        try:
            pids = json.loads(urllib.request.urlopen(url + "/status", timeout=5).read())[
                "workers"]
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    assert pids
    cross = urllib.parse.urlencode({"query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . "
                                             "?d ?e ?f . ?g ?h ?i }"}).encode()
    def ask() -> None:
        with contextlib.suppress(OSError):  # the server is killed under it
            http(url + "/sparql", data=cross, timeout=30,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})

    busy = threading.Thread(target=ask, daemon=True)
    busy.start()
    time.sleep(1.5)  # the worker is computing; it reads no input until it has finished
    proc.kill()
    proc.wait()
    for _ in range(100):
        alive = [p for p in pids if Path(f"/proc/{p}").exists()
                 and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()]
        if not alive:
            break
        time.sleep(0.1)
    assert alive == []
