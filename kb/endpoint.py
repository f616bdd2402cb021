"""The knowledge base on a SPARQL server: the store interface, the remote implementation over
the SPARQL 1.1 protocol, and ``kb publish``.

Two stores answer citykb's queries:

* :class:`EmbeddedStore`, the Oxigraph store of a build (the default, unchanged);
* :class:`RemoteStore`, any SPARQL 1.1 server reached by URL (``--endpoint``,
  ``$CITYKB_ENDPOINT`` or the config file, see :func:`configured`).

Both implement :class:`Store` (``select``/``ask``/``construct``); the remote one also offers
the part of :class:`pyoxigraph.Store`'s reading interface that citykb's read path uses
(``query`` with ``prefixes``, ``substitutions``, ``use_default_graph_as_union`` and
``default_graph``; ``named_graphs``; ``quads_for_pattern`` by graph; ``dump``), so that explain,
rank, check, the named queries and export run on it unchanged. Numeric bulk work keeps using
the columnar copy of the local build.

What comes back from the server is made to compare equal with the embedded store's answers:
numbers in Oxigraph's canonical lexical forms, language tags in lower case, plain literals as
``xsd:string``, and graph names as citykb names them. A server's traps are never passed on as
answers: an answer cut at the server's row cap (Virtuoso's ``ResultSetMaxRows``, by default
10,000, applied silently) is fetched in ordered pages or refused (KB181); a partial "anytime"
answer (Virtuoso's ``X-SQL-State`` header) is refused (KB182).

Publishing (:func:`publish`) loads each named graph of a build into a new, versioned graph
(``urn:citykb:build:<build-id>:<graph>``) through the Graph Store Protocol, checks each
graph's triple count, and only then switches the catalog graph (:data:`CATALOG`) to the new
version in one update; readers resolve the catalog once, when they open, and query exactly
that version's graphs (``default-graph-uri``/``named-graph-uri``), so they never see a
half-loaded knowledge base. Publishing the same build again changes nothing; an interrupted
publish resumes with the graphs not yet complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import pyoxigraph as ox

from kb.errors import KbError
from kb.namespaces import XSD
from kb.sparql import _TOKEN, Term

CATALOG = "urn:citykb:catalog"
"""The named graph that says which published version is current, and what each holds."""
VERSION_PREFIX = "urn:citykb:build:"
"""Versioned graph names: ``urn:citykb:build:<build-id>:<graph IRI>``."""
_C = "urn:citykb:"
DEFAULT_SERVER_MAX_ROWS = 10_000
"""The server's own row cap when not configured (Virtuoso's default ResultSetMaxRows)."""
KEEP_VERSIONS = 2
"""Published versions kept on the server: the current one and the one before it."""
CHUNK_TRIPLES = 20_000
"""Triples per Graph Store Protocol request when publishing."""
UPLOADS = 3
"""Graph Store Protocol requests in flight at once when publishing."""

_INTEGERS = {XSD + t for t in ("integer", "int", "long", "short", "byte", "positiveInteger",
                               "nonNegativeInteger", "negativeInteger", "nonPositiveInteger",
                               "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte")}
_STRING = XSD + "string"


# --- the interface ----------------------------------------------------------------------------


class Store(Protocol):
    """What citykb asks a store: SELECT (rows of RDF terms), ASK and CONSTRUCT, over the union
    of the knowledge base's named graphs, with parameters bound as RDF terms."""

    def select(self, query: str, bindings: Mapping[str, Term] | None = None
               ) -> tuple[list[str], list[dict[str, Term | None]]]: ...

    def ask(self, query: str, bindings: Mapping[str, Term] | None = None) -> bool: ...

    def construct(self, query: str, bindings: Mapping[str, Term] | None = None
                  ) -> list[ox.Triple]: ...


def _subs(bindings: Mapping[str, Term] | None) -> dict[ox.Variable, Any] | None:
    return {ox.Variable(k): v for k, v in bindings.items()} if bindings else None


@dataclass
class EmbeddedStore:
    """The embedded Oxigraph store of a build (citykb's default)."""

    store: ox.Store

    def _run(self, query: str, bindings: Mapping[str, Term] | None) -> Any:
        from kb.namespaces import PREFIXES

        return self.store.query(query, prefixes=PREFIXES, use_default_graph_as_union=True,
                                substitutions=_subs(bindings))

    def select(self, query: str, bindings: Mapping[str, Term] | None = None
               ) -> tuple[list[str], list[dict[str, Term | None]]]:
        result = self._run(query, bindings)
        names = [v.value for v in result.variables]
        return names, [{n: s[n] for n in names} for s in result]

    def ask(self, query: str, bindings: Mapping[str, Term] | None = None) -> bool:
        return bool(self._run(query, bindings))

    def construct(self, query: str, bindings: Mapping[str, Term] | None = None
                  ) -> list[ox.Triple]:
        return list(self._run(query, bindings))


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where the server is and how to reach it.

    ``url`` is the query endpoint; updates go to ``update_url`` and graph uploads to
    ``graph_store_url`` (for Virtuoso, by default ``<url>-auth`` and ``<base>/sparql-graph-
    crud-auth``, which sign in with HTTP digest authentication as ``user``). ``max_rows`` is
    the server's own row cap (Virtuoso's ResultSetMaxRows).
    """

    url: str
    update_url: str | None = None
    graph_store_url: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    max_rows: int = DEFAULT_SERVER_MAX_ROWS
    timeout: float = 300.0

    def __post_init__(self) -> None:
        for name in ("url", "update_url", "graph_store_url"):
            value = getattr(self, name)
            if value is not None and not re.match(r"^https?://[^\s/]+", value):
                raise KbError("KB186", f"the endpoint's {name.replace('_', ' ')} must be an "
                              f"http(s) URL, got {value!r}")
        if not 1 <= self.max_rows <= 100_000_000:
            raise KbError("KB186", f"the server's row cap must be from 1 to 100,000,000, got "
                          f"{self.max_rows}")

    @property
    def updates(self) -> str:
        return self.update_url or (self.url + "-auth" if self.url.endswith("/sparql")
                                   else self.url)

    @property
    def graph_store(self) -> str:
        if self.graph_store_url:
            return self.graph_store_url
        return re.sub(r"/sparql$", "", self.url) + "/sparql-graph-crud-auth"


def configured(url: str | None = None, home: Path | None = None) -> Endpoint | None:
    """The endpoint to use, or None for the embedded store: ``url`` (``--endpoint``), else
    ``$CITYKB_ENDPOINT``, else the config file (``$CITYKB_CONFIG``, or ``endpoint.toml`` in
    the knowledge-base home). Credentials and the server's row cap come from
    ``$CITYKB_ENDPOINT_USER``, ``$CITYKB_ENDPOINT_PASSWORD`` and ``$CITYKB_ENDPOINT_MAX_ROWS``
    or the file's ``user``, ``password`` and ``max_rows``.

    The config file (TOML)::

        url = "http://127.0.0.1:8890/sparql"
        user = "citykb"            # for kb publish
        password = "..."
        max_rows = 10000           # the server's ResultSetMaxRows
    """
    from kb.store import default_home

    conf: dict[str, Any] = {}
    path = Path(os.environ["CITYKB_CONFIG"]) if os.environ.get("CITYKB_CONFIG") else \
        (home or default_home()) / "endpoint.toml"
    if path.is_file() or os.environ.get("CITYKB_CONFIG"):
        try:
            conf = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise KbError("KB186", f"endpoint config {path} cannot be read: {exc}") from None
    chosen = url or os.environ.get("CITYKB_ENDPOINT") or conf.get("url")
    if not chosen:
        return None
    env_rows = os.environ.get("CITYKB_ENDPOINT_MAX_ROWS")
    try:
        max_rows = int(env_rows or conf.get("max_rows", DEFAULT_SERVER_MAX_ROWS))
    except ValueError:
        raise KbError("KB186", "$CITYKB_ENDPOINT_MAX_ROWS must be a whole number, got "
                      f"{env_rows!r}") from None
    return Endpoint(
        url=str(chosen),
        update_url=conf.get("update_url"),
        graph_store_url=conf.get("graph_store_url"),
        user=os.environ.get("CITYKB_ENDPOINT_USER") or conf.get("user"),
        password=os.environ.get("CITYKB_ENDPOINT_PASSWORD") or conf.get("password"),
        max_rows=max_rows,
    )


# --- query text: bound parameters, forms, top-level clauses ------------------------------------


def _tokens(query: str) -> list[tuple[str, str]]:
    """The query's tokens as (kind, text), comments dropped, whitespace kept as kind ``ws``."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(query):
        if m.start() > pos:
            out.append(("ws", query[pos:m.start()]))
        kind = m.lastgroup or "other"
        if kind != "comment":
            out.append((kind, m.group()))
        else:
            out.append(("ws", " "))
        pos = m.end()
    if pos < len(query):
        out.append(("ws", query[pos:]))
    return out


def substitute(query: str, bindings: Mapping[str, Term] | None) -> str:
    """The query with each bound variable replaced by its RDF term, as Oxigraph's
    substitutions bind it: in the SELECT clause ``?v`` becomes ``(<term> AS ?v)`` (so the
    column is still there), in GROUP BY and ORDER BY ``(<term>)``, elsewhere the term.
    The terms are validated RDF terms written in SPARQL syntax, never raw text."""
    if not bindings:
        return query
    terms = {k: str(v) for k, v in bindings.items()}
    out: list[str] = []
    clause = ""  # "select" (the projection), "modifier" (GROUP BY / ORDER BY) or ""
    depth = 0
    previous = ""
    for kind, text in _tokens(query):
        upper = text.upper()
        if kind == "word":
            if upper == "SELECT":
                clause, depth = "select", 0
            elif upper in ("WHERE", "FROM") and clause == "select":
                clause = ""
            elif upper in ("GROUP", "ORDER"):
                clause, depth = "modifier", 0
            elif upper in ("HAVING", "LIMIT", "OFFSET", "VALUES"):
                clause = ""
        elif kind == "other":
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
            elif text in "{}":
                clause = "" if clause == "select" or text == "}" else clause
        if kind == "var" and text[1:] in terms:
            term = terms[text[1:]]
            if clause == "select" and depth == 0 and previous != "AS":
                text = f"({term} AS {text})"
            elif clause == "modifier" and depth == 0:
                text = f"({term})"
            else:
                text = term
        out.append(text)
        if kind != "ws":
            previous = upper
    return "".join(out)


def without_lateral(query: str) -> str:
    """``LATERAL { OPTIONAL { P } }`` written as ``OPTIONAL { P }`` (SPARQL 1.2's LATERAL, which
    servers such as Virtuoso 7 do not parse). The same answers where P's filters use only
    variables P binds or shares with the pattern before it, as in citykb's queries (the tests
    compare them on both stores); a LATERAL around anything else is left as it is."""
    tokens = _tokens(query)
    if not any(k == "word" and x.upper() == "LATERAL" for k, x in tokens):
        return query
    out: list[str] = []
    stack: list[bool] = []  # per open brace: does it belong to a dropped LATERAL?
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "word" and text.upper() == "LATERAL":
            rest = [j for j in range(i + 1, len(tokens)) if tokens[j][0] != "ws"][:2]
            if len(rest) == 2 and tokens[rest[0]][1] == "{" and \
                    tokens[rest[1]][1].upper() == "OPTIONAL":
                stack.append(True)
                i = rest[0] + 1
                continue
        if kind == "other" and text == "{":
            stack.append(False)
        elif kind == "other" and text == "}" and stack and stack.pop():
            i += 1
            continue
        out.append(text)
        i += 1
    return "".join(out)


def form(query: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the query's form."""
    for kind, text in _tokens(query):
        if kind == "word" and text.upper() in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return text.upper()
    raise KbError("KB052", "not a SPARQL query (no SELECT, ASK, CONSTRUCT or DESCRIBE)")


def top_level(query: str) -> set[str]:
    """The keywords that stand outside every brace: ORDER, LIMIT, OFFSET, GROUP ..."""
    depth, words = 0, set()
    for kind, text in _tokens(query):
        if kind == "other" and text == "{":
            depth += 1
        elif kind == "other" and text == "}":
            depth -= 1
        elif kind == "word" and depth == 0:
            words.add(text.upper())
    return words


def _split_prologue(query: str) -> tuple[str, str]:
    """(PREFIX/BASE declarations, the rest)."""
    m = re.match(r"(?is)^((?:\s|#[^\n]*\n|(?:PREFIX\s+[\w.-]*:\s*<[^>]*>)|(?:BASE\s+<[^>]*>))*)",
                 query)
    head = m.group(1) if m else ""
    return head, query[len(head):]


# --- answers: normalised terms ---------------------------------------------------------------


def canonical_decimal(text: str) -> str:
    """An xsd:decimal in Oxigraph's canonical form: ``286.0`` → ``286``, ``1.50`` → ``1.5``."""
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return text
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def canonical_double(text: str) -> str:
    """An xsd:double in Oxigraph's canonical form (shortest round trip, positional):
    ``286.0`` → ``286``, ``2.5E1`` → ``25``."""
    import numpy as np

    t = text.strip()
    if t in ("INF", "+INF", "-INF", "NaN"):
        return t.lstrip("+")
    try:
        value = float(t)
    except ValueError:
        return text
    return str(np.format_float_positional(value, trim="-"))


def _literal(value: str, datatype: str | None, lang: str | None) -> dict[str, str]:
    if lang:
        return {"type": "literal", "value": value, "xml:lang": lang.lower()}
    if datatype is None or datatype == _STRING:
        return {"type": "literal", "value": value}
    if datatype in _INTEGERS:
        with contextlib.suppress(ValueError):
            value = str(int(value.strip()))
    elif datatype == XSD + "decimal":
        value = canonical_decimal(value)
    elif datatype in (XSD + "double", XSD + "float"):
        value = canonical_double(value)
    elif datatype == XSD + "boolean":
        value = {"1": "true", "0": "false"}.get(value.strip(), value.strip())
    return {"type": "literal", "value": value, "datatype": datatype}


def logical_graph(iri: str) -> str:
    """A versioned graph name back to the graph's own name (other IRIs unchanged)."""
    if iri.startswith(VERSION_PREFIX):
        return iri[len(VERSION_PREFIX):].split(":", 1)[1]
    return iri


def versioned_graph(build_id: str, graph: str) -> str:
    return f"{VERSION_PREFIX}{build_id}:{graph}"


_SEPARATOR = re.compile(r'(separator\s*=\s*)"([^"\\]*)"', re.IGNORECASE)


def ascii_separators(query: str) -> tuple[str, dict[str, str]]:
    """The query with each GROUP_CONCAT separator that is not ASCII (``"、"``) replaced by a
    control character, and what each stands for. Virtuoso returns a separator it cannot
    write as a narrow string as "?"; :func:`restore_separators` puts them back."""
    found: dict[str, str] = {}

    def swap(m: re.Match[str]) -> str:
        sep = m.group(2)
        if sep.isascii():
            return m.group(0)
        code = next((c for c, v in found.items() if v == sep), None)
        if code is None:
            code = chr(0x1F - len(found))
            found[code] = sep
        return f'{m.group(1)}"\\u{ord(code):04X}"'

    return _SEPARATOR.sub(swap, query), found


def restore_separators(row: dict[str, dict[str, str]], separators: Mapping[str, str]
                       ) -> dict[str, dict[str, str]]:
    """A result row with the control characters of :func:`ascii_separators` turned back into
    the separators they stand for."""
    out = {}
    for name, cell in row.items():
        value = cell.get("value", "")
        if cell.get("type") == "literal" and any(c in value for c in separators):
            for code, sep in separators.items():
                value = value.replace(code, sep)
            cell = {**cell, "value": value}
        out[name] = cell
    return out


def normalise_binding(cell: Mapping[str, str]) -> dict[str, str]:
    """One SPARQL JSON result term as the embedded store gives it."""
    kind = cell.get("type")
    if kind == "uri":
        return {"type": "uri", "value": logical_graph(cell["value"])}
    if kind == "bnode":
        return {"type": "bnode", "value": cell["value"].removeprefix("nodeID://")}
    if kind in ("literal", "typed-literal"):
        return _literal(cell["value"], cell.get("datatype"), cell.get("xml:lang"))
    return dict(cell)


# --- the remote store -------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """A published version: the build it was made from and its graphs (name → versioned)."""

    build_id: str
    graphs: dict[str, str]
    triples: dict[str, int]
    digest: str = ""


class RemoteStore:
    """A knowledge base published on a SPARQL 1.1 server (:func:`publish`), read through the
    standard protocol. Opening it fixes the version it reads (the catalog's current one)."""

    def __init__(self, endpoint: Endpoint, version: Version | None = None) -> None:
        import httpx

        self.endpoint = endpoint
        self._client = httpx.Client(timeout=endpoint.timeout, follow_redirects=True)
        self.version = version or self._current()

    # -- protocol ---------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def _post(self, url: str, data: Mapping[str, Any], accept: str, *,
              auth: bool = False) -> Any:
        import httpx

        try:
            response = (self._client.post(url, data=data, headers={"Accept": accept},
                                          auth=self._auth()) if auth else
                        self._client.post(url, data=data, headers={"Accept": accept}))
        except httpx.HTTPError as exc:
            raise KbError("KB180", f"{url} cannot be reached: {exc}") from None
        self._check(url, response)
        return response

    def _auth(self) -> Any:
        import httpx

        if not self.endpoint.user:
            raise KbError("KB186", "publishing needs the server's user and password "
                          "($CITYKB_ENDPOINT_USER and $CITYKB_ENDPOINT_PASSWORD, or user and "
                          "password in the config file)")
        return httpx.DigestAuth(self.endpoint.user, self.endpoint.password or "")

    @staticmethod
    def _check(url: str, response: Any) -> None:
        state = response.headers.get("X-SQL-State")
        if state:
            message = response.headers.get("X-SQL-Message", "")
            raise KbError("KB182", f"the server returned a partial answer (X-SQL-State "
                          f"{state}{': ' + message if message else ''}); citykb does not "
                          "return partial answers — narrow the query or raise the server's "
                          "execution time limit")
        if response.status_code in (401, 403):
            raise KbError("KB180", f"{url} refused the request (HTTP {response.status_code}): "
                          "check the user and password")
        if response.status_code >= 400:
            text = " ".join(response.text.split())[:400]
            if response.status_code in (400, 500) and text:
                raise KbError("KB183", text)
            raise KbError("KB180", f"{url} answered HTTP {response.status_code}: {text}")

    def _dataset(self, default_graph: str | None = None) -> dict[str, list[str]]:
        graphs = list(self.version.graphs.values())
        default = [self.version.graphs[default_graph]] if default_graph else graphs
        return {"default-graph-uri": default, "named-graph-uri": graphs}

    def _request(self, text: str, accept: str, default_graph: str | None = None) -> Any:
        return self._post(self.endpoint.url, {"query": text, **self._dataset(default_graph)},
                          accept)

    # -- reading ----------------------------------------------------------------------------

    def _current(self) -> Version:
        """The version readers use: the one switched to last (see :func:`publish`)."""
        response = self._post(self.endpoint.url, {"query": f"""
            SELECT ?id (MAX(?at) AS ?last) WHERE {{ GRAPH <{CATALOG}> {{
              ?b <{_C}buildId> ?id ; <{_C}switchedAt> ?at }} }}
            GROUP BY ?id ORDER BY DESC(?last) LIMIT 1"""}, "application/sparql-results+json")
        found = response.json()["results"]["bindings"]
        if not found:
            raise KbError("KB184", f"{self.endpoint.url} holds no published knowledge base; "
                          "run `kb publish --endpoint URL`")
        return self._version(found[0]["id"]["value"])

    def _version(self, build_id: str) -> Version:
        q = f"""SELECT ?digest ?name ?graph ?triples WHERE {{ GRAPH <{CATALOG}> {{
                  <{_C}version:{build_id}> <{_C}graph> ?graph .
                  ?graph <{_C}name> ?name ; <{_C}triples> ?triples .
                  OPTIONAL {{ <{_C}version:{build_id}> <{_C}digest> ?digest }} }} }}"""
        response = self._post(self.endpoint.url, {"query": q},
                              "application/sparql-results+json")
        rows = response.json()["results"]["bindings"]
        if not rows:
            raise KbError("KB184", f"{self.endpoint.url}: the catalog describes no graphs of "
                          f"version {build_id}; publish again")
        return Version(build_id, {r["name"]["value"]: r["graph"]["value"] for r in rows},
                       {r["name"]["value"]: int(r["triples"]["value"]) for r in rows},
                       rows[0].get("digest", {}).get("value", ""))

    def query(self, query: str, *, prefixes: Mapping[str, str] | None = None,
              use_default_graph_as_union: bool = False,
              substitutions: Mapping[ox.Variable, Term] | None = None,
              default_graph: ox.NamedNode | None = None, **_: object) -> Any:
        """Run a query as :meth:`pyoxigraph.Store.query` would: SELECT gives
        :class:`pyoxigraph.QuerySolutions`, ASK :class:`pyoxigraph.QueryBoolean`, CONSTRUCT
        a list of triples. Without ``default_graph`` the default graph is the union of the
        version's graphs (the knowledge base has nothing in its own default graph)."""
        bindings = {v.value: t for v, t in (substitutions or {}).items()}
        text, separators = ascii_separators(self.text(portable(query), prefixes, bindings))
        graph = default_graph.value if default_graph is not None else None
        kind = form(text)
        if kind == "SELECT":
            names, rows = self.select_json(text, graph)
            rows = [restore_separators(r, separators) for r in rows] if separators else rows
            return ox.parse_query_results(json.dumps(
                {"head": {"vars": names}, "results": {"bindings": rows}}),
                ox.QueryResultsFormat.JSON)
        if kind == "ASK":
            body = self._request(text, "application/sparql-results+json", graph).json()
            return ox.parse_query_results(json.dumps({"head": {},
                                                      "boolean": bool(body["boolean"])}),
                                          ox.QueryResultsFormat.JSON)
        return self.construct_triples(text, graph)

    @staticmethod
    def text(query: str, prefixes: Mapping[str, str] | None,
             bindings: Mapping[str, Term] | None) -> str:
        """The query as sent: citykb's prefixes declared, parameters written in as terms."""
        head = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in (prefixes or {}).items())
        return head + without_lateral(substitute(query, bindings))

    def select_json(self, text: str, default_graph: str | None = None
                    ) -> tuple[list[str], list[dict[str, dict[str, str]]]]:
        """A SELECT's variables and normalised SPARQL JSON rows, whole: an answer the server
        cut at its row cap is fetched again in pages (with the query's ORDER BY) or refused."""
        names, rows = self._select_once(text, default_graph)
        cap = self.endpoint.max_rows
        if len(rows) < cap:
            return names, rows
        expected = self.count(text, default_graph)
        if expected == len(rows):
            return names, rows
        words = top_level(_split_prologue(text)[1])
        if "ORDER" not in words or words & {"LIMIT", "OFFSET"}:
            raise KbError("KB181", f"the server cut the answer at {cap:,} rows (its row cap, "
                          f"Virtuoso's ResultSetMaxRows) and the query has no ORDER BY to "
                          f"page it by (or has its own LIMIT/OFFSET): {expected:,} rows "
                          "expected")
        head, body = _split_prologue(text)
        rows = []
        while True:
            # the ordered query as a subquery, paged outside it: Virtuoso refuses an OFFSET
            # past its sort limit (MaxSortedTopRows, 10,000) on the ordered query itself
            _, page = self._select_once(
                f"{head}SELECT * WHERE {{\n{body}\n}}\nLIMIT {cap} OFFSET {len(rows)}",
                default_graph)
            rows.extend(page)
            if len(page) < cap or len(rows) >= expected:
                break
        if len(rows) != expected:
            raise KbError("KB181", f"paging the answer gave {len(rows):,} rows, the server "
                          f"counts {expected:,}; the ORDER BY does not order every row")
        return names, rows

    def _select_once(self, text: str, default_graph: str | None
                     ) -> tuple[list[str], list[dict[str, dict[str, str]]]]:
        response = self._request(text, "application/sparql-results+json", default_graph)
        body = response.json()
        names = list(body["head"]["vars"])
        raw = body["results"]["bindings"]
        doubles = sorted({k for b in raw for k, v in b.items()
                          if v.get("datatype") in (XSD + "double", XSD + "float")})
        if doubles and response.headers.get("server", "").startswith("Virtuoso"):
            raw = self._exact_doubles(text, names, doubles, default_graph)
        rows = [{k: normalise_binding(v) for k, v in b.items()} for b in raw]
        return names, rows

    def _exact_doubles(self, text: str, names: list[str], doubles: list[str],
                       default_graph: str | None) -> list[dict[str, dict[str, str]]]:
        """The answer again, with every double exact. Virtuoso writes doubles in its results
        with 6 significant digits (``33.3333`` for 33.333333333333336) and ``STR()`` with 16,
        though it stores them exactly: the query is asked once more, as a subquery, with each
        double also written by ``bif:sprintf("%.17g")`` (Virtuoso's own function; 17 digits
        identify a double), and those texts replace the rounded ones."""
        head, body = _split_prologue(text)
        extra = " ".join(
            f'(IF(DATATYPE(?{v}) IN (<{XSD}double>, <{XSD}float>), '
            f'bif:sprintf("%.17g", ?{v}), "") AS ?{v}__exact_)' for v in doubles)
        wrapped = (f"{head}SELECT {' '.join('?' + n for n in names)} {extra} "
                   f"WHERE {{\n{body}\n}}")
        answer = self._request(wrapped, "application/sparql-results+json",
                               default_graph).json()["results"]["bindings"]
        out = []
        for b in answer:
            row = {k: v for k, v in b.items() if not k.endswith("__exact_")}
            for v in doubles:
                exact = b.get(f"{v}__exact_", {}).get("value")
                if exact and v in row:
                    row[v] = {**row[v], "value": exact}
            out.append(row)
        return out

    def count(self, text: str, default_graph: str | None = None) -> int:
        """How many rows a SELECT has, counted by the server (the count is one row: never
        cut)."""
        head, body = _split_prologue(text)
        _, rows = self._select_once(f"{head}SELECT (COUNT(*) AS ?citykb_n) WHERE {{\n{body}\n}}",
                                    default_graph)
        return int(rows[0]["citykb_n"]["value"])

    def construct_triples(self, text: str, default_graph: str | None = None
                          ) -> list[ox.Triple]:
        """A CONSTRUCT's triples. Every triple of the graphs (the query export and the full
        shape check ask) is read whole and exact, as :meth:`quads_for_pattern` reads it;
        other CONSTRUCTs are refused when the server may have cut them (KB181)."""
        if " ".join(_split_prologue(text)[1].split()) == \
                "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }":
            graph = ox.NamedNode(default_graph) if default_graph else None
            return list(dict.fromkeys(q.triple for q in self.quads_for_pattern(
                None, None, None, graph)))
        response = self._request(text, "application/n-triples", default_graph)
        triples = [q.triple for q in ox.parse(response.content, ox.RdfFormat.N_TRIPLES)]
        if len(triples) >= self.endpoint.max_rows:
            raise KbError("KB181", f"the server's answer has {len(triples):,} triples, its "
                          "row cap: it may have been cut; narrow the CONSTRUCT")
        return [_normal_triple(t) for t in triples]

    # -- the Store interface ----------------------------------------------------------------

    def select(self, query: str, bindings: Mapping[str, Term] | None = None
               ) -> tuple[list[str], list[dict[str, Term | None]]]:
        from kb.namespaces import PREFIXES

        result = self.query(query, prefixes=PREFIXES, substitutions=_subs(bindings))
        names = [v.value for v in result.variables]
        return names, [{n: s[n] for n in names} for s in result]

    def ask(self, query: str, bindings: Mapping[str, Term] | None = None) -> bool:
        from kb.namespaces import PREFIXES

        return bool(self.query(query, prefixes=PREFIXES, substitutions=_subs(bindings)))

    def construct(self, query: str, bindings: Mapping[str, Term] | None = None
                  ) -> list[ox.Triple]:
        from kb.namespaces import PREFIXES

        return list(self.query(query, prefixes=PREFIXES, substitutions=_subs(bindings)))

    # -- what export needs from pyoxigraph.Store -------------------------------------------

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        return iter([ox.NamedNode(g) for g in sorted(self.version.graphs)])

    def quads_for_pattern(self, subject: object, predicate: object, obj: object,
                          graph: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        """Every quad of one named graph (or of all), read whole: predicates are fetched in
        batches that stay under the server's row cap (each batch's size checked against the
        server's count), a predicate with more triples than the cap in ordered pages."""
        if subject is not None or predicate is not None or obj is not None:
            raise NotImplementedError("only whole graphs are read from a remote store")
        graphs = [graph.value] if graph is not None else sorted(self.version.graphs)
        cap = self.endpoint.max_rows
        for g in graphs:
            name = ox.NamedNode(g)
            _, counts = self._select_once(
                "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p", g)
            batch: list[str] = []
            size = 0
            for row in [*sorted(counts, key=lambda r: r["p"]["value"]), {}]:
                n = int(row["n"]["value"]) if row else 0
                if batch and (not row or size + n >= cap):
                    yield from self._batch(g, name, batch, size)
                    batch, size = [], 0
                if not row:
                    break
                if n >= cap:  # one large predicate: ordered pages
                    yield from self._triples(g, name, self.select_json(
                        f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER (?p = <{row['p']['value']}>)"
                        " } ORDER BY ?s ?o", g)[1])
                    continue
                batch.append(row["p"]["value"])
                size += n

    def _batch(self, g: str, name: ox.NamedNode, predicates: list[str],
               expected: int) -> Iterator[ox.Quad]:
        values = " ".join(f"<{p}>" for p in predicates)
        _, rows = self._select_once(
            f"SELECT ?s ?p ?o WHERE {{ VALUES ?p {{ {values} }} ?s ?p ?o }}", g)
        if len(rows) != expected:
            raise KbError("KB181", f"reading graph {g} from the server gave {len(rows):,} "
                          f"triples of {expected:,}")
        return self._triples(g, name, rows)

    @staticmethod
    def _triples(g: str, name: ox.NamedNode, rows: list[dict[str, dict[str, str]]]
                 ) -> Iterator[ox.Quad]:
        parsed = ox.parse_query_results(json.dumps(
            {"head": {"vars": ["s", "p", "o"]}, "results": {"bindings": rows}}),
            ox.QueryResultsFormat.JSON)
        assert isinstance(parsed, ox.QuerySolutions)
        for sol in parsed:
            yield ox.Quad(sol["s"], sol["p"], sol["o"], name)

    def dump(self, output: str, format: ox.RdfFormat,
             prefixes: Mapping[str, str] | None = None) -> None:
        ox.serialize(self.quads_for_pattern(None, None, None), output, format,
                     prefixes=dict(prefixes or {}))

    def snapshot(self) -> ox.Store:
        """The published version's graphs copied into an in-memory Oxigraph store (read in
        ordered pages, counted against the catalog): for the checks whose SPARQL a server
        answers differently (SHACL's NOT EXISTS patterns, transitive paths open at both ends,
        which Virtuoso 7 refuses), so that they check exactly what the server holds."""
        key = (self.endpoint.url, self.version.build_id)
        if key in _SNAPSHOTS:  # a published version never changes: read once a process
            return _SNAPSHOTS[key]
        store = ox.Store()
        store.extend(self.quads_for_pattern(None, None, None))
        for g, n in self.version.triples.items():
            got = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(g)))
            if got != n:
                raise KbError("KB181", f"reading graph {g} from the server gave {got:,} "
                              f"triples, the catalog says {n:,}")
        _SNAPSHOTS.clear()
        _SNAPSHOTS[key] = store
        return store

    def __len__(self) -> int:
        return sum(self.version.triples.values())


_SNAPSHOTS: dict[tuple[str, str], ox.Store] = {}
"""The last version copied by :meth:`RemoteStore.snapshot`, by (endpoint, build id)."""


def portable(query: str) -> str:
    """The portable variant of a named query, for servers (``queries/portable/NAME.rq``:
    the same answers without SPARQL 1.2 syntax such as LATERAL); other text unchanged."""
    from kb import paths, queries

    folder = paths.queries_dir() / "portable"
    for variant in sorted(folder.glob("*.rq")) if folder.is_dir() else []:
        named = queries.catalog().get(variant.stem)
        if named is None:
            continue
        if _body(named.text) == _body(query):
            return variant.read_text(encoding="utf-8")
        edited = _insertion(named.text, query, variant.read_text(encoding="utf-8"))
        if edited is not None:
            return edited
    return query


def _body(query: str) -> str:
    """A query without its comment lines (the header that documents it)."""
    return "\n".join(line for line in query.splitlines() if not line.lstrip().startswith("#"))


def _insertion(original: str, query: str, variant: str) -> str | None:
    """When ``query`` is ``original`` with one piece of text inserted (as explain inserts a
    VALUES clause into score-provenance), the variant with the same insertion after the same
    words; None otherwise."""
    if len(query) <= len(original):
        return None
    p = 0
    while p < len(original) and original[p] == query[p]:
        p += 1
    s = 0
    while s < len(original) - p and original[-1 - s] == query[-1 - s]:
        s += 1
    if p + s < len(original):
        return None  # not one insertion
    inserted = query[p:len(query) - s]
    anchor = original[max(0, p - 40):p]
    if len(anchor) < 8 or original.count(anchor) != 1 or variant.count(anchor) != 1:
        return None
    return variant.replace(anchor, anchor + inserted, 1)


def remote_rows(remote: RemoteStore, query: str, bounds: Any = None) -> Any:
    """A user's SELECT (``kb query --file``, ``KnowledgeBase.sparql``) on the server: checked
    as on the embedded store (read-only SELECT, no SERVICE: KB055), at most
    ``bounds.max_rows`` rows (a cut reported), stopped after ``bounds.timeout`` seconds
    (KB053). The answer as :class:`kb.sparql.Rows`."""
    import httpx

    from kb.namespaces import PREFIXES
    from kb.sparql import Rows, check_query, limits, python_value

    bounds = bounds or limits()
    check_query(query)
    previous = remote._client.timeout
    remote._client.timeout = httpx.Timeout(bounds.timeout)
    try:
        result = remote.query(query, prefixes=PREFIXES)
    except KbError as exc:
        if "timed out" in exc.message.lower():
            raise KbError("KB053", f"the query was stopped after {bounds.timeout:g} s (its "
                          "time limit); raise it with --timeout SECONDS, "
                          "$CITYKB_QUERY_TIMEOUT or timeout=") from None
        raise
    finally:
        remote._client.timeout = previous
    names = [v.value for v in result.variables]
    rows: list[list[object]] = []
    truncated = False
    for sol in result:
        if len(rows) >= bounds.max_rows:
            truncated = True
            break
        rows.append([python_value(sol[n]) for n in names])
    return Rows(names, rows, truncated, bounds.max_rows)


def _term(cell: Mapping[str, str]) -> Term:
    parsed = ox.parse_query_results(json.dumps({"head": {"vars": ["x"]}, "results": {
        "bindings": [{"x": dict(cell)}]}}), ox.QueryResultsFormat.JSON)
    assert isinstance(parsed, ox.QuerySolutions)
    term = next(iter(parsed))["x"]
    assert term is not None
    return term  # type: ignore[no-any-return]


def _normal_triple(t: ox.Triple) -> ox.Triple:
    def norm(term: Any) -> Any:
        if isinstance(term, ox.Literal):
            cell = _literal(term.value, term.datatype.value, term.language)
            return _term(cell)
        if isinstance(term, ox.NamedNode):
            return ox.NamedNode(logical_graph(term.value))
        return term

    return ox.Triple(norm(t.subject), norm(t.predicate), norm(t.object))


def open_remote(endpoint: Endpoint) -> RemoteStore:
    return RemoteStore(endpoint)


# --- publishing -------------------------------------------------------------------------------


@dataclass
class Published:
    """What :func:`publish` did."""

    build_id: str
    graphs: dict[str, int]
    loaded: list[str]
    already: bool = False
    removed: list[str] = field(default_factory=list)


Progress = Callable[[str, int, int], None]
"""Called as (graph, triples loaded so far, triples of the graph)."""


def _local_graphs(store: ox.Store) -> dict[str, int]:
    result = store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    assert isinstance(result, ox.QuerySolutions)
    return {r["g"].value: int(r["n"].value) for r in result}


def publish(store: ox.Store, build_id: str, endpoint: Endpoint, *, digest: str = "",
            progress: Progress | None = None, chunk: int = CHUNK_TRIPLES) -> Published:
    """Load a build's named graphs into the server as a new version and switch readers to it.

    Each graph goes into ``urn:citykb:build:<build-id>:<graph>`` through the Graph Store
    Protocol (N-Triples, ``chunk`` triples a request; a graph with blank nodes in one request,
    so that its blank nodes stay one document's); each loaded graph's triple count is checked
    against the build's. Only then does one update switch the catalog's ``current`` to the new
    version. Versions beyond the current and the previous one are removed afterwards.
    """
    remote = RemoteStore.__new__(RemoteStore)
    RemoteStore.__init__(remote, endpoint, Version("", {}, {}))
    try:
        return _publish(remote, store, build_id, endpoint, digest, progress, chunk)
    finally:
        remote.close()


def _publish(remote: RemoteStore, store: ox.Store, build_id: str, endpoint: Endpoint,
             digest: str, progress: Progress | None, chunk: int) -> Published:
    counts = _local_graphs(store)
    try:
        current: Version | None = remote._current()
    except KbError as exc:
        if exc.code != "KB184":
            raise
        current = None
    if current is not None and current.build_id == build_id and current.triples == counts \
            and all(_remote_count(remote, v) == counts[g] for g, v in current.graphs.items()):
        return Published(build_id, counts, [], already=True)
    loaded = []
    for g, n in counts.items():
        target = versioned_graph(build_id, g)
        if _remote_count(remote, target) == n:
            if progress:
                progress(g, n, n)
            continue  # complete from an interrupted publish of the same build
        _update(remote, f"DROP SILENT GRAPH <{target}>")
        _load_graph(remote, store, g, target, n, chunk, progress)
        got = _remote_count(remote, target)
        if got != n:
            raise KbError("KB185", f"graph {g} holds {got:,} triples after loading, {n:,} "
                          "expected; the published version is unchanged")
        loaded.append(g)
    _describe(remote, build_id, counts, digest)
    # the switch: one triple, inserted in one update; readers take the version switched to
    # last, so they see the old version or the new one, never a mixture
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _update(remote, f"""INSERT DATA {{ GRAPH <{CATALOG}> {{
        <{_C}version:{build_id}> <{_C}switchedAt> "{stamp}" }} }}""")
    now = remote._current()
    if now.build_id != build_id:
        raise KbError("KB185", f"the catalog names {now.build_id} as current after the switch, "
                      f"not {build_id}")
    return Published(build_id, counts, loaded, removed=_prune(remote, build_id))


def _remote_count(remote: RemoteStore, graph: str) -> int:
    _, rows = remote._select_once(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", None)
    return int(rows[0]["n"]["value"]) if rows else 0


def _update(remote: RemoteStore, text: str) -> None:
    try:
        remote._post(remote.endpoint.updates, {"update": text}, "*/*", auth=True)
    except KbError as exc:
        if exc.code in ("KB183", "KB180"):
            raise KbError("KB185", f"the server refused an update: {exc.message}") from None
        raise


def _load_graph(remote: RemoteStore, store: ox.Store, graph: str, target: str, total: int,
                chunk: int, progress: Progress | None) -> None:
    """Upload one graph in chunks, ``UPLOADS`` requests at a time (the server parses them in
    parallel); a graph with blank nodes in one request."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    quads = store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
    triples = [q.triple for q in quads]
    if any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode)
           for t in triples):
        chunk = max(chunk, len(triples))

    def upload(start: int) -> int:
        part = triples[start:start + chunk]
        body = ox.serialize(part, format=ox.RdfFormat.N_TRIPLES) or b""
        try:
            response = remote._client.post(
                remote.endpoint.graph_store, params={"graph-uri": target}, content=body,
                headers={"Content-Type": "application/n-triples"},
                auth=remote._auth())  # its own digest state: one per request in flight
        except httpx.HTTPError as exc:
            raise KbError("KB185", f"loading {graph} into {remote.endpoint.graph_store} "
                          f"failed: {exc}; the published version is unchanged") from None
        if response.status_code >= 300:
            text = " ".join(response.text.split())[:300]
            raise KbError("KB185", f"loading {graph}: the server answered HTTP "
                          f"{response.status_code}: {text}; the published version is "
                          "unchanged")
        return len(part)

    done = 0
    with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
        for n in pool.map(upload, range(0, len(triples), chunk)):
            done += n
            if progress:
                progress(graph, done, total)


def _describe(remote: RemoteStore, build_id: str, counts: Mapping[str, int],
              digest: str) -> None:
    version = f"<{_C}version:{build_id}>"
    lines = [f'{version} <{_C}buildId> "{build_id}" .']
    if digest:
        lines.append(f'{version} <{_C}digest> "{digest}" .')
    for g, n in counts.items():
        target = f"<{versioned_graph(build_id, g)}>"
        lines.append(f"{version} <{_C}graph> {target} .")
        lines.append(f"{target} <{_C}name> \"{g}\" .")
        lines.append(f"{target} <{_C}triples> {n} .")
    _update(remote, f"""DELETE {{ GRAPH <{CATALOG}> {{ {version} ?p ?o }} }}
        WHERE {{ GRAPH <{CATALOG}> {{ {version} ?p ?o FILTER (?p != <{_C}switchedAt>) }} }}""")
    _update(remote, f"INSERT DATA {{ GRAPH <{CATALOG}> {{ {' '.join(lines)} }} }}")


def _prune(remote: RemoteStore, current: str) -> list[str]:
    """Remove published versions beyond the current and the one before it."""
    _, rows = remote._select_once(
        f"SELECT ?id (MAX(?at) AS ?last) WHERE {{ GRAPH <{CATALOG}> {{ ?b <{_C}buildId> ?id ; "
        f"<{_C}switchedAt> ?at }} }} GROUP BY ?id ORDER BY DESC(?last)", None)
    ids = [r["id"]["value"] for r in rows]
    keep = {current, *[i for i in ids if i != current][:KEEP_VERSIONS - 1]}
    removed = []
    for old in ids:
        if old in keep:
            continue
        _, graphs = remote._select_once(  # STR: the versioned names, not mapped back
            f"SELECT (STR(?v) AS ?g) WHERE {{ GRAPH <{CATALOG}> {{ "
            f"<{_C}version:{old}> <{_C}graph> ?v }} }}", None)
        # out of the catalog first (no reader opens it any more), then its graphs
        _update(remote, f"""DELETE WHERE {{ GRAPH <{CATALOG}> {{
            <{_C}version:{old}> <{_C}graph> ?g . ?g ?p ?o }} }}""")
        _update(remote, f"DELETE WHERE {{ GRAPH <{CATALOG}> {{ <{_C}version:{old}> ?p ?o }} }}")
        for g in graphs:
            _update(remote, f"DROP SILENT GRAPH <{g['g']['value']}>")
        removed.append(old)
    return removed

