"""Pages of ``kb serve``: a page for every IRI under ``/id/`` (HTML for a person, RDF for a
program, by ``Accept``), the home page, the query editor and the named queries as forms.

A resource's RDF is its description: every triple with the IRI as subject (over all named
graphs), the triples of blank nodes it points to, and the labels (``skos:prefLabel``,
``rdfs:label``, ``dcterms:title``) of the things it links to. An IRI that is only ever an
object (a source named but not described) is described by the triples that point to it.
The HTML page shows the same triples, plus what links to the resource, and for cities,
scores, frameworks, clusters and regions, errata, sources and scoring runs a specialised
part built from the named queries and ``kb explain``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import pyoxigraph as ox
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from kb import namespaces as ns
from kb import queries
from kb.errors import KbError
from kb.sparql import Rows, python_value, select
from kb.web.negotiate import choose

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from kb.web.app import State

HERE = Path(__file__).parent

RDF_MEDIA: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
PAGE_MEDIA = ["text/html", *RDF_MEDIA, "application/json",
              "text/plain"]
"""What a resource page offers, in the server's order of preference (JSON is JSON-LD, plain
text N-Triples)."""
ALIASES = {"application/json": "application/ld+json",
           "text/plain": "application/n-triples"}
FORMAT_PARAM = {"html": "text/html", "ttl": "text/turtle", "turtle": "text/turtle",
                "jsonld": "application/ld+json", "json": "application/ld+json",
                "nt": "application/n-triples", "ntriples": "application/n-triples",
                "rdf": "application/rdf+xml", "rdfxml": "application/rdf+xml"}
LABELS = [ns.SKOS + "prefLabel", ns.RDFS + "label", ns.DCTERMS + "title"]
MAX_INCOMING = 200
"""Links to a resource listed on its page (the count of all is given)."""


@cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters["local"] = local_url
    env.filters["term"] = term_html
    env.filters["num"] = number
    env.globals["curie"] = curie
    return env


def render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)


def serialize(triples: Iterable[ox.Triple], fmt: ox.RdfFormat) -> bytes:
    used = ({k: v for k, v in ns.PREFIXES.items() if k != "kbid"}  # kbid: names have slashes
            if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None)
    return ox.serialize(list(triples), format=fmt, prefixes=used) or b""


# --- terms ------------------------------------------------------------------------------


def local_url(iri: str) -> str:
    """The server's path of an IRI under /id/, else the IRI itself."""
    if iri.startswith(ns.ID):
        return "/id/" + iri[len(ns.ID):]
    return iri


def curie(iri: str) -> str:
    for prefix, base in sorted(ns.PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(base) and re.fullmatch(r"[\w.-]*", iri[len(base):]):
            return f"{prefix}:{iri[len(base):]}"
    return iri


def number(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def term_html(term: ox.NamedNode | ox.Literal | ox.BlankNode | ox.Triple | None,
              labels: Mapping[str, str] | None = None) -> Markup:
    if term is None:
        return Markup("")
    if isinstance(term, ox.NamedNode):
        text = (labels or {}).get(term.value) or curie(term.value)
        return Markup('<a href="{}" title="{}">{}</a>').format(local_url(term.value),
                                                              term.value, text)
    if isinstance(term, ox.BlankNode):
        return Markup('<span class="bnode">_:{}</span>').format(term.value)
    if isinstance(term, ox.Literal):
        extra = f"@{term.language}" if term.language else (
            "" if term.datatype.value == ns.XSD + "string" else curie(term.datatype.value))
        value = term.value
        if len(value) > 600:  # e.g. a scoring run's configuration
            return Markup('<details><summary>{} characters</summary><pre>{}</pre></details>'
                          ).format(len(value), _pretty(value))
        return Markup('<span class="lit">{}</span> <span class="dt">{}</span>').format(
            value, extra)
    return Markup(escape(str(term)))


def _pretty(value: str) -> str:
    try:
        return json.dumps(json.loads(value), ensure_ascii=False, indent=1)
    except ValueError:
        return value


# --- descriptions -----------------------------------------------------------------------


def _triples(store: ox.Store, subject: ox.NamedNode | ox.BlankNode) -> list[ox.Triple]:
    seen: dict[ox.Triple, None] = {}
    for q in store.quads_for_pattern(subject, None, None, None):
        seen.setdefault(q.triple, None)
    return list(seen)


def describe(store: ox.Store, iri: str) -> list[ox.Triple]:
    """The RDF served for an IRI (see the module's docstring); empty if the store has
    nothing about it."""
    node = ox.NamedNode(iri)
    out: dict[ox.Triple, None] = dict.fromkeys(_triples(store, node))
    if not out:  # only ever an object: what points to it
        for i, q in enumerate(store.quads_for_pattern(None, None, node, None)):
            if i >= MAX_INCOMING:
                break
            out.setdefault(q.triple, None)
    todo = [t.object for t in out if isinstance(t.object, ox.BlankNode)]
    seen_b: set[ox.BlankNode] = set()
    while todo:
        b = todo.pop()
        if b in seen_b:
            continue
        seen_b.add(b)
        for t in _triples(store, b):
            out.setdefault(t, None)
            if isinstance(t.object, ox.BlankNode):
                todo.append(t.object)
    linked = {t.object for t in out if isinstance(t.object, ox.NamedNode)} | \
             {t.subject for t in out if isinstance(t.subject, ox.NamedNode)} - {node}
    for other in linked:
        for p in LABELS:
            for q in store.quads_for_pattern(other, ox.NamedNode(p), None, None):
                out.setdefault(q.triple, None)
    return list(out)


def labels_of(triples: Iterable[ox.Triple], lang: str = "zh") -> dict[str, str]:
    """IRI → a label from the triples (preferring ``lang``, then English)."""
    found: dict[str, dict[str, str]] = {}
    for t in triples:
        if t.predicate.value in LABELS and isinstance(t.object, ox.Literal) and \
                isinstance(t.subject, ox.NamedNode):
            found.setdefault(t.subject.value, {}).setdefault(t.object.language or "",
                                                              t.object.value)
    out = {}
    for iri, by in found.items():
        zh, en = by.get(lang), by.get("en") or by.get("")
        out[iri] = f"{zh} ({en})" if zh and en and zh != en else (zh or en or
                                                                  next(iter(by.values())))
    return out


def describe_labels(store: ox.Store, iris: Iterable[str]) -> list[ox.Triple]:
    out = []
    for iri in iris:
        for p in LABELS:
            out += [q.triple for q in store.quads_for_pattern(ox.NamedNode(iri),
                                                              ox.NamedNode(p), None, None)]
    return out


def incoming(store: ox.Store, iri: str) -> tuple[list[ox.Triple], int]:
    """Triples that point to the IRI (at most :data:`MAX_INCOMING`) and how many there are."""
    every = {q.triple for q in store.quads_for_pattern(None, None, ox.NamedNode(iri), None)}
    shown = sorted(every, key=lambda t: (t.predicate.value, str(t.subject)))[:MAX_INCOMING]
    return shown, len(every)


def kind_of(iri: str) -> str:
    """city, score, framework, node, cluster, region, province, erratum, source, run, … —
    from the IRI's path and, for observations, the run that generated them."""
    path = iri[len(ns.ID):].split("/")
    head = path[0]
    if head == "framework":
        if len(path) == 2:
            return "framework"
        return "tiers" if "tiers" in path[2:3] else "node"
    if head == "obs":
        return "score" if len(path) > 2 and path[2].startswith("run-") else "observation"
    return head


# --- resource pages -----------------------------------------------------------------------


def resource_response(request: Request, st: State, path: str) -> Response:
    from starlette.responses import HTMLResponse
    from starlette.responses import Response as Plain

    # the IRI as written in the request (an IRI with %-escapes is stored with them), else
    # decoded (an IRI with Chinese characters, which a browser %-escapes)
    raw = bytes(request.scope.get("raw_path") or b"").decode("latin-1")
    tails = [raw[len("/id/"):]] if raw.startswith("/id/") else []
    candidates = [ns.ID + t for t in dict.fromkeys([*tails, path])]
    triples: list[ox.Triple] = []
    iri = candidates[-1]
    for candidate in candidates:
        try:
            ox.NamedNode(candidate)
        except ValueError:
            continue
        iri = candidate
        triples = describe(st.store, iri)
        if triples:
            break
    fmt = request.query_params.get("format")
    if fmt is not None:
        media: str | None = FORMAT_PARAM.get(fmt.lower())
        if media is None:
            raise KbError("KB103", f"unknown format={fmt!r}; one of: "
                          f"{', '.join(sorted(FORMAT_PARAM))}")
    else:
        media = choose(request.headers.get("accept"), PAGE_MEDIA)
        if media is None:
            raise KbError("KB100", "a resource is sent as " + ", ".join(PAGE_MEDIA))
        media = ALIASES.get(media, media)
    if not triples:
        raise KbError("KB104", f"the knowledge base has nothing about {iri}")
    headers = {"Vary": "Accept", "Link": f'<{iri}>; rel="canonical"'}
    if media != "text/html":
        return Plain(serialize(triples, RDF_MEDIA[media]),
                     media_type=media + ("; charset=utf-8" if media.startswith("text/")
                                         else ""), headers=headers)
    return HTMLResponse(resource_page(st, iri, triples), headers=headers)


def resource_page(st: State, iri: str, triples: list[ox.Triple]) -> str:
    store = st.store
    labels = labels_of(triples)
    node = ox.NamedNode(iri)
    own = [t for t in triples if t.subject == node]
    props: dict[str, list[Any]] = {}
    for t in sorted(own, key=lambda t: (t.predicate.value, str(t.object))):
        props.setdefault(t.predicate.value, []).append(t.object)
    others = [t for t in triples if t.subject != node and t.predicate.value not in LABELS]
    inc, total = incoming(store, iri)
    inc_labels = labels_of(describe_labels(store, {t.subject.value for t in inc
                                                   if isinstance(t.subject, ox.NamedNode)}))
    kind = kind_of(iri)
    special = ""
    builder = SPECIAL.get(kind)
    if builder is not None:
        try:
            special = builder(st, iri)
        except KbError as exc:  # a part that does not apply to this one: said, not hidden
            special = str(Markup('<p class="note">{}</p>').format(exc.message))
    title = labels.get(iri)
    if title is None:  # an observation: its place and what it measures
        parts = [labels.get(v.value, "") for p in (ns.SDMX_DIM + "refArea", ns.KB + "concept")
                 for v in props.get(p, []) if isinstance(v, ox.NamedNode)]
        title = " · ".join(p for p in parts if p) or ns.local_name(iri)
    return render("resource.html", iri=iri, title=title,
                  kind=kind, props=props, labels=labels, others=others, incoming=inc,
                  incoming_total=total, incoming_labels=inc_labels, special=Markup(special),
                  path=local_url(iri), max_incoming=MAX_INCOMING)


def table_html(answer: Rows | list[dict[str, Any]], *, columns: list[str] | None = None,
               links: Mapping[str, str] | None = None) -> Markup:
    """A result table: IRIs under /id/ link to their pages; ``links`` maps a column to the
    column holding the IRI its text should link to."""
    if isinstance(answer, Rows):
        rows = [dict(zip(answer.names, r, strict=True)) for r in answer.rows]
        names = answer.names
    else:
        rows = answer
        names = list(rows[0]) if rows else []
    names = columns or names
    return Markup(render("table.html", names=names, rows=rows, links=links or {},
                         cell=cell_html))


def cell_html(value: object, link: object = None) -> Markup:
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        text = curie(value) if not value.startswith(ns.ID) else value[len(ns.ID):]
        return Markup('<a href="{}">{}</a>').format(local_url(value), text)
    text = number(value)
    if isinstance(link, str) and link.startswith(ns.ID):
        return Markup('<a href="{}">{}</a>').format(local_url(link), text)
    return Markup(escape(text))


def _city(st: State, iri: str) -> str:
    from kb.web import charts

    store = st.store
    across = queries.get("city-across-reports").records(store, {"place": iri})
    totals = [r for r in across if r.get("rank") is not None or
              str(r["concept"]).count("/") == ns.ID.count("/") + 1]
    scores = select(store, """
        SELECT ?city ?obs ?concept ?value ?rank ?run WHERE {
          ?obs sdmx-dimension:refArea ?city ; prov:wasGeneratedBy ?run ; kb:concept ?concept ;
               sdmx-measure:obsValue ?value . OPTIONAL { ?obs kb:rank ?rank } }
        ORDER BY ?run ?concept""", {"city": ox.NamedNode(iri)})
    concept_labels = labels_of(describe_labels(store, {r["concept"].value for r in scores
                                                       if r["concept"] is not None}))
    score_rows = [{"score": (r["obs"].value if r["obs"] else None),
                   "concept": concept_labels.get(r["concept"].value if r["concept"] else "", ""),
                   "value": python_value(r["value"]), "rank": python_value(r["rank"]),
                   "conceptIri": r["concept"].value if r["concept"] else None}
                  for r in scores]
    places = select(store, """
        SELECT ?city ?up ?kind WHERE {
          { ?city schema:containedInPlace+ ?up BIND("contained in" AS ?kind) } UNION
          { ?up kb:member ?city BIND("member of" AS ?kind) } }""",
                    {"city": ox.NamedNode(iri)})
    up_labels = labels_of(describe_labels(store, {r["up"].value for r in places if r["up"]}))
    radar = charts.has_radar(store, iri)
    return render("city.html", totals=totals, scores=score_rows, places=places,
                  up_labels=up_labels, table=table_html, radar=radar, iri=iri,
                  quote=quote)


def _score(st: State, iri: str) -> str:
    from kb.explain import explain

    rows = select(st.store, "SELECT ?obs ?city ?concept WHERE { ?obs sdmx-dimension:refArea ?city ;"
                  " kb:concept ?concept }", {"obs": ox.NamedNode(iri)})
    if not rows or rows[0]["city"] is None or rows[0]["concept"] is None:
        raise KbError("KB104", "this score has no place or concept")
    city, concept = rows[0]["city"].value, rows[0]["concept"].value
    step = explain(st.store, city, concept)
    command = f"kb explain {ns.local_name(city)} {concept}"
    return render("explain.html", step=step, command=command, local=local_url)


def _framework(st: State, iri: str) -> str:
    tree = queries.get("framework-tree").records(st.store, {"framework": iri})
    from kb.web import charts

    return render("framework.html", rows=tree, iri=iri, quote=quote,
                  sunburst=charts.has_sunburst(st.store, iri))  # heatmap: scored frameworks only


def _area(st: State, iri: str) -> str:
    members = queries.get("places-in-area").rows(st.store, {"area": iri})
    across = queries.get("area-across-indices").rows(st.store, {"area": iri})
    definitions = None
    if kind_of(iri) == "cluster":  # the same cluster as every source defines it
        name = labels_of(describe_labels(st.store, [iri])).get(iri, "").split(" (")[0]
        stem = name.removesuffix("城市群").removesuffix("地区") or name
        rows = queries.get("cluster-definitions").records(st.store, {"name": stem})
        counted: dict[tuple[str, str, str], int] = {}
        for r in rows:
            key = (str(r["cluster"]), str(r["clusterZh"]), str(r["source"]))
            counted[key] = counted.get(key, 0) + 1
        definitions = table_html([{"definition": c, "name": zh, "source": src, "members": n}
                                  for (c, zh, src), n in counted.items()])
    return render("area.html", members=table_html(members), across=table_html(across),
                  count=len(members.rows), definitions=definitions)


def _erratum(st: State, iri: str) -> str:
    impact = queries.get("erratum-impact").rows(st.store, {"erratum": iri})
    return render("section.html", title="What this correction touches",
                  body=Markup(table_html(impact)),
                  note=f"kb query erratum-impact --param erratum={iri}")


def _source(st: State, iri: str) -> str:
    parts = queries.get("source-contributions").rows(st.store, {"source": iri})
    tables = select(st.store, "SELECT ?src ?t ?cite WHERE { ?t dcterms:isPartOf ?src . OPTIONAL { "
                    "?t dcterms:bibliographicCitation ?cite } } ORDER BY ?t",
                    {"src": ox.NamedNode(iri)})
    rows = [{"table": r["t"].value if r["t"] else None,
             "citation": python_value(r["cite"])} for r in tables]
    return render("source.html", parts=Markup(table_html(parts)) if parts.rows else "",
                  tables=Markup(table_html(rows)) if rows else "")


def _run(st: State, iri: str) -> str:
    counts = select(st.store, "SELECT ?run (COUNT(?obs) AS ?n) WHERE { ?obs prov:wasGeneratedBy "
                    "?run } GROUP BY ?run", {"run": ox.NamedNode(iri)})
    n = python_value(counts[0]["n"]) if counts else 0
    return render("run.html", command=f"kb regen {ns.local_name(iri)}", count=n, iri=iri)


SPECIAL = {"city": _city, "score": _score, "framework": _framework, "cluster": _area,
           "region": _area, "province": _area, "erratum": _erratum, "source": _source,
           "run": _run}


# --- home, editor, named queries ------------------------------------------------------------


def home_page(st: State) -> str:
    counts = select(st.store, """
        SELECT ?class (COUNT(DISTINCT ?s) AS ?n) (SAMPLE(?s) AS ?example) WHERE {
          ?s a ?class FILTER(STRSTARTS(STR(?class), STR(kb:))) } GROUP BY ?class
        ORDER BY DESC(?n)""")
    return render("home.html", build=st.build.id, newer=st.reader.newer(), counts=counts,
                  queries=queries.catalog().values(), settings=st.settings)


def editor_page(st: State) -> str:
    named = [{"name": q.name, "title": q.title, "text": q.text,
              "params": [p.name for p in q.params]} for q in queries.catalog().values()]
    return render("editor.html", named=named, named_json=Markup(json.dumps(
        {q["name"]: q["text"] for q in named}, ensure_ascii=False).replace("</", "<\\/")),
        settings=st.settings)


def named_query_response(request: Request, st: State, name: str) -> Response:
    from starlette.responses import HTMLResponse
    from starlette.responses import Response as Plain

    q = queries.get(name)
    values = {k: v for k, v in request.query_params.items() if k != "format" and v != ""}
    fmt = request.query_params.get("format", "html")
    answer: Rows | None = None
    error: str | None = None
    if values or request.query_params.get("run") or not q.params:
        values.pop("run", None)
        try:
            answer = q.rows(st.store, values, max_rows=st.settings.max_rows)
        except KbError as exc:
            if fmt != "html":
                raise
            error = f"{exc.code}: {exc.message}" + (
                " — did you mean: " + ", ".join(exc.suggestions) + "?" if exc.suggestions
                else "")
    headers = {"X-Citykb-Rows": str(len(answer.rows)) if answer else "0",
               "X-Citykb-Truncated": "true" if answer and answer.truncated else "false",
               "X-Citykb-Max-Rows": str(st.settings.max_rows)}
    if fmt in ("csv", "json"):
        if answer is None:
            raise KbError("KB051", f"query {name!r} needs its parameters: "
                          + ", ".join(p.name for p in q.params))
        if fmt == "json":
            body = json.dumps({"query": name, "parameters": values,
                               "truncated": answer.truncated, "max_rows": answer.max_rows,
                               "columns": answer.names,
                               "rows": [dict(zip(answer.names, r, strict=True))
                                        for r in answer.rows]}, ensure_ascii=False)
            return Plain(body, media_type="application/json", headers=headers)
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(answer.names)
        w.writerows(["" if v is None else v for v in r] for r in answer.rows)
        if answer.truncated:
            buf.write(f"# truncated: more than {answer.max_rows} rows\r\n")
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Plain(buf.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    if fmt != "html":
        raise KbError("KB103", f"unknown format={fmt!r}; one of: html, csv, json")
    given = urlencode(values)
    return HTMLResponse(render(
        "named.html", q=q, values=values, error=error,
        table=Markup(table_html(answer)) if answer is not None else None, answer=answer,
        csv_url=f"/queries/{name}?{given}&format=csv" if answer is not None else None,
        json_url=f"/queries/{name}?{given}&format=json" if answer is not None else None,
        settings=st.settings), headers=headers)


def chart_svg(st: State, kind: str, params: dict[str, str]) -> bytes:
    from kb.web import charts

    return charts.web_chart(st.store, st.build, kind, params)
