"""The SPARQL 1.1 Protocol endpoint of ``kb serve`` (https://www.w3.org/TR/sparql11-protocol/),
read-only.

* query by GET (``?query=``), by POST of an HTML form (``application/x-www-form-urlencoded``)
  or by POST of the query itself (``application/sparql-query``); ``default-graph-uri`` and
  ``named-graph-uri`` set the dataset (by default the union of all named graphs is the default
  graph, and ``GRAPH ?g`` names them);
* updates (``update=``, ``application/sparql-update``), ``SERVICE`` and ``LOAD`` are refused
  (KB055) before anything runs;
* SELECT and ASK answer in SPARQL JSON, XML, CSV or TSV; CONSTRUCT and DESCRIBE in Turtle,
  JSON-LD, N-Triples or RDF/XML — chosen by ``Accept`` (406 if none fits), or by ``format=``;
* every query runs in a worker process (:mod:`kb.web.pool`) under the time, memory and row
  limits; a cut is always reported (``X-Citykb-Truncated``, and ``citykb.truncated`` in JSON);
* a GET with no query returns the service description (SPARQL 1.1 Service Description).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from kb.errors import KbError
from kb.namespaces import PREFIXES
from kb.sparql import QUERY_FORMS, check_query, keywords
from kb.web.negotiate import choose

if TYPE_CHECKING:
    from starlette.requests import Request

RESULTS: dict[str, str] = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/xml": "xml",
}
"""Media types of SELECT and ASK results, in the server's order of preference."""

GRAPHS: dict[str, str] = {
    "text/turtle": "turtle",
    "application/ld+json": "jsonld",
    "application/n-triples": "ntriples",
    "application/rdf+xml": "rdfxml",
    "application/json": "jsonld",
    "text/plain": "ntriples",
}
"""Media types of CONSTRUCT and DESCRIBE results, in the server's order of preference."""

MEDIA = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
         "csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8",
         "turtle": "text/turtle; charset=utf-8", "jsonld": "application/ld+json",
         "ntriples": "application/n-triples", "rdfxml": "application/rdf+xml"}
"""The Content-Type sent for each format."""

FORMAT_PARAM = {"json": "json", "xml": "xml", "csv": "csv", "tsv": "tsv", "ttl": "turtle",
                "turtle": "turtle", "jsonld": "jsonld", "json-ld": "jsonld", "nt": "ntriples",
                "ntriples": "ntriples", "rdf": "rdfxml", "rdfxml": "rdfxml"}

FORMS = {"SELECT": "select", "ASK": "ask", "CONSTRUCT": "graph", "DESCRIBE": "graph"}


@dataclass
class QueryRequest:
    query: str
    default_graphs: list[str]
    named_graphs: list[str]
    format: str | None = None


def query_form(query: str) -> str:
    """select, ask or graph: the first query-form keyword outside strings, IRIs, comments."""
    for word in keywords(query):
        if word in FORMS:
            return FORMS[word]
    raise KbError("KB052", "no SELECT, ASK, CONSTRUCT or DESCRIBE in the query")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (KB101, 413) past ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise KbError("KB101", f"the request body has {int(declared):,} bytes; at most "
                      f"{limit:,} are accepted (kb serve --max-request)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise KbError("KB101", f"the request body is over {limit:,} bytes, the most "
                          "accepted (kb serve --max-request)")
        chunks.append(chunk)
    return b"".join(chunks)


def _one(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key, [])
    if len(values) > 1:
        raise KbError("KB103", f"the request has {len(values)} '{key}' parameters; the SPARQL "
                      "protocol allows one")
    return values[0] if values else None


async def parse_request(request: Request, limit: int) -> QueryRequest | None:
    """The query of a protocol request, or None for a GET with no query (service
    description). Refuses updates (KB055), malformed requests (KB103), big ones (KB101)."""
    if len(str(request.url.query)) > limit:
        raise KbError("KB101", f"the query string is over {limit:,} bytes, the most accepted "
                      "(kb serve --max-request); POST the query instead")
    url_params = parse_qs(request.url.query, keep_blank_values=True)
    params = dict(url_params)
    query: str | None = None
    if request.method == "POST":
        body = await read_body(request, limit)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                strict_parsing=False)
            except UnicodeDecodeError:
                raise KbError("KB103", "the form is not UTF-8") from None
            for key, values in form.items():
                params.setdefault(key, []).extend(values)
            query = _one(params, "query")
        elif ctype == "application/sparql-query":
            if "query" in url_params:
                raise KbError("KB103", "a query sent as the request body must not also be "
                              "given as a 'query' parameter")
            try:
                query = body.decode("utf-8")
            except UnicodeDecodeError:
                raise KbError("KB103", "the query is not UTF-8") from None
        elif ctype == "application/sparql-update":
            raise KbError("KB055", "this endpoint is read-only: SPARQL updates are not run")
        else:
            raise KbError("KB103", f"unsupported Content-Type {ctype or '(none)'!r}: POST "
                          "application/x-www-form-urlencoded or application/sparql-query")
    else:
        query = _one(params, "query")
    if "update" in params:
        raise KbError("KB055", "this endpoint is read-only: SPARQL updates are not run")
    fmt_param = _one(params, "format")
    if query is None:
        if request.method == "POST":
            raise KbError("KB103", "the request has no 'query'")
        return None
    fmt = None
    if fmt_param:
        fmt = FORMAT_PARAM.get(fmt_param.lower())
        if fmt is None:
            raise KbError("KB103", f"unknown format={fmt_param!r}; one of: "
                          f"{', '.join(sorted(FORMAT_PARAM))}")
    return QueryRequest(query, params.get("default-graph-uri", []),
                        params.get("named-graph-uri", []), fmt)


def negotiate(form: str, accept: str | None, fmt: str | None) -> str:
    """The result format for a query form: ``format=`` if given (and fitting), else by
    ``Accept``; KB100 (406) when nothing offered is acceptable."""
    table = GRAPHS if form == "graph" else RESULTS
    if fmt is not None:
        if fmt not in table.values():
            kinds = "CONSTRUCT/DESCRIBE" if form == "graph" else "SELECT/ASK"
            raise KbError("KB103", f"format {fmt!r} does not fit a {kinds} query")
        return fmt
    media = choose(accept, list(table))
    if media is None:
        raise KbError("KB100", f"nothing this endpoint can send is acceptable (Accept: "
                      f"{accept}); it sends {', '.join(dict.fromkeys(table))}")
    return table[media]


def prepare(q: QueryRequest, accept: str | None, max_rows: int) -> dict[str, Any]:
    """The worker's request: the result format by query form and ``Accept``. The worker
    checks the query (read-only, no SERVICE: KB055) before it runs it."""
    if not q.query.strip():
        raise KbError("KB052", "the query is empty")
    try:
        form = query_form(q.query)
    except KbError:
        check_query(q.query, QUERY_FORMS)  # an update or LOAD: refused as such (KB055)
        raise
    fmt = negotiate(form, accept, q.format)
    return {"query": q.query, "prefixes": PREFIXES, "max_rows": max_rows,
            "formats": {"select": fmt, "ask": fmt, "graph": fmt},
            "default_graphs": q.default_graphs, "named_graphs": q.named_graphs}


FORMATS_NS = "http://www.w3.org/ns/formats/"
SD_FORMATS = ["SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
              "SPARQL_Results_TSV", "Turtle", "JSON-LD", "N-Triples", "RDF_XML"]


def service_description(endpoint: str, graphs: list[str], *, timeout: float, max_rows: int,
                        memory_mb: int, workers: int) -> str:
    """The SPARQL 1.1 Service Description of the endpoint, in Turtle."""
    named = "".join(f"""    sd:namedGraph [ a sd:NamedGraph ; sd:name <{g}> ] ;\n"""
                    for g in graphs)
    formats = ", ".join(f"<{FORMATS_NS}{f}>" for f in SD_FORMATS)
    limits = (f"Read-only. Each query runs at most {timeout:g} s in a process limited to "
              f"{memory_mb:,} MB; at most {max_rows:,} rows (or triples) are returned, and a cut "
              f"is reported in the X-Citykb-Truncated header and in citykb.truncated of the "
              f"JSON results; {workers} queries run at once. SERVICE, LOAD and updates are "
              "refused.")
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .

<{endpoint}> a sd:Service ;
    sd:endpoint <{endpoint}> ;
    dcterms:title "citykb SPARQL endpoint"@en ;
    rdfs:comment "{limits}"@en ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:resultFormat {formats} ;
    sd:feature sd:UnionDefaultGraph ;
    sd:defaultDataset [
        a sd:Dataset ;
        sd:defaultGraph [ a sd:Graph ; rdfs:comment "the union of all named graphs"@en ] ;
{named}    ] .
"""
