"""The web application of ``kb serve``: the SPARQL endpoint, a page for every IRI, the query
editor and the named queries as forms, charts. Built on Starlette (ASGI) and served by uvicorn.

The app holds a :class:`kb.store.Reader` on the build it serves for as long as it runs, so a
``kb build`` meanwhile publishes a new build without removing the served one; the home page
says when a newer build exists (restart to serve it).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kb.errors import CATALOGUE, KbError
from kb.resolve import names_cache
from kb.sparql import limits
from kb.store import Reader, open_store
from kb.web import endpoint, pages
from kb.web.negotiate import choose
from kb.web.pool import WorkerPool

HERE = Path(__file__).parent

STATUS = {"KB100": 406, "KB101": 413, "KB102": 503, "KB103": 400, "KB104": 404,
          "KB050": 404, "KB051": 400, "KB052": 400, "KB055": 400, "KB053": 503, "KB054": 503,
          "KB057": 500, "KB106": 404, "KB060": 404}
"""HTTP status of an error code (anything else: 500)."""


@dataclass(frozen=True)
class Settings:
    home: Path | None = None
    workers: int = 2
    timeout: float = 60.0
    max_rows: int = 100_000
    memory_mb: int = 2048
    max_request: int = 65_536
    queue_wait: float = 10.0

    @staticmethod
    def from_limits(home: Path | None = None, *, timeout: float | None = None,
                    max_rows: int | None = None, memory_mb: int | None = None,
                    **rest: Any) -> Settings:
        """Settings with the query limits of :func:`kb.sparql.limits` (options, else the
        environment, else the defaults), checked there (KB051)."""
        b = limits(timeout, max_rows, memory_mb)
        return Settings(home, timeout=b.timeout, max_rows=b.max_rows, memory_mb=b.memory_mb,
                        **rest)


class State:
    """What one running server holds: the build (claimed by a Reader), the store opened
    read-only for pages and named queries, and the pool of query workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = Reader(settings.home)
        self.build = self.reader.build
        self.store: ox.Store = open_store(self.build)
        self.names: dict[Any, Any] = {}
        self.pool = WorkerPool(self.build.oxigraph, size=settings.workers,
                               timeout=settings.timeout, memory_mb=settings.memory_mb,
                               queue_wait=settings.queue_wait)
        self.cache = ResponseCache()
        self.graphs = sorted(g.value for g in self.store.named_graphs()
                             if isinstance(g, ox.NamedNode))

    def close(self) -> None:
        self.reader.close()


def error_response(request: Request, exc: KbError) -> Response:
    status = STATUS.get(exc.code, 500)
    title = CATALOGUE[exc.code].title if exc.code in CATALOGUE else "error"
    text = f"error {exc.code} {title}: {exc.message}"
    if exc.suggestions:
        text += " — did you mean: " + ", ".join(exc.suggestions) + "?"
    headers = {"X-Citykb-Error": exc.code, "Vary": "Accept"}
    if status == 503:
        headers["Retry-After"] = "5"
    wants_html = choose(request.headers.get("accept"), ["text/plain", "text/html"])
    if wants_html == "text/html" and not request.url.path.startswith("/sparql"):
        return HTMLResponse(pages.render("error.html", title=f"{exc.code} {title}",
                                         message=text, status=status),
                            status_code=status, headers=headers)
    return PlainTextResponse(text + "\n", status_code=status, headers=headers)


def state(request: Request) -> State:
    s: State = request.app.state.kb
    return s


async def sparql(request: Request) -> Response:
    st = state(request)
    try:
        q = await endpoint.parse_request(request, st.settings.max_request)
        if q is None:
            return service(request)
        job = endpoint.prepare(q, request.headers.get("accept"), st.settings.max_rows)
        header, body = await st.pool.run(job)
    except KbError as exc:
        return error_response(request, exc)
    if header.get("error") == "refused":
        return error_response(request, KbError(str(header["code"]), str(header["message"])))
    if "error" in header:
        kind, message = header["error"], str(header.get("message", ""))
        code = "KB052" if kind == "syntax" else "KB057"
        return error_response(request, KbError(code, ("invalid SPARQL: " if kind == "syntax"
                                                      else "") + message))
    headers = {"Vary": "Accept", "X-Citykb-Rows": str(header["rows"]),
               "X-Citykb-Truncated": "true" if header["truncated"] else "false",
               "X-Citykb-Max-Rows": str(st.settings.max_rows),
               "Access-Control-Allow-Origin": "*",
               "Access-Control-Expose-Headers": "X-Citykb-Rows, X-Citykb-Truncated, "
                                                "X-Citykb-Max-Rows"}
    if q.format is not None:
        ext = {"turtle": "ttl", "ntriples": "nt", "rdfxml": "rdf"}.get(header["format"],
                                                                      header["format"])
        headers["Content-Disposition"] = f'inline; filename="citykb-query.{ext}"'
    return Response(body, media_type=endpoint.MEDIA[header["format"]], headers=headers)


def service(request: Request) -> Response:
    st = state(request)
    offered = ["text/turtle", "application/ld+json", "application/n-triples",
               "application/rdf+xml", "text/html"]
    media = choose(request.headers.get("accept"), offered)
    if media is None:
        return error_response(request, KbError("KB100", "the service description is sent as "
                                               + ", ".join(offered)))
    if media == "text/html":  # a person: the query editor
        return RedirectResponse("/query", status_code=303, headers={"Vary": "Accept"})
    url = str(request.url.replace(query="", fragment=""))
    text = endpoint.service_description(
        url, st.graphs, timeout=st.settings.timeout, max_rows=st.settings.max_rows,
        memory_mb=st.settings.memory_mb, workers=st.settings.workers)
    if media == "text/turtle":
        return Response(text, media_type="text/turtle; charset=utf-8",
                        headers={"Vary": "Accept"})
    triples = [q.triple for q in ox.parse(text.encode(), format=ox.RdfFormat.TURTLE)]
    return Response(pages.serialize(triples, pages.RDF_MEDIA[media]),
                    media_type=media, headers={"Vary": "Accept"})


class ResponseCache:
    """Answers already given, by request (path, query string, Accept): the served build never
    changes, so a page or a named query's answer is the same every time. Bounded by entries
    and bytes, least recently used first out; only 200 answers are kept."""

    def __init__(self, entries: int = 2048, megabytes: int = 64) -> None:
        self.entries, self.limit = entries, megabytes * 1024 * 1024
        self._items: OrderedDict[tuple[str, str, str], Response] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(request: Request) -> tuple[str, str, str]:
        return (request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                request.url.query, request.headers.get("accept", ""))

    def get(self, request: Request) -> Response | None:
        with self._lock:
            hit = self._items.get(self.key(request))
            if hit is not None:
                self._items.move_to_end(self.key(request))
            return hit

    def put(self, request: Request, response: Response) -> Response:
        size = len(response.body)
        if response.status_code != 200 or size > self.limit // 8:
            return response
        with self._lock:
            self._items[self.key(request)] = response
            self._bytes += size
            while len(self._items) > self.entries or self._bytes > self.limit:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old.body)
        return response


def cached(render: Callable[[Request, State], Response]) -> Callable[[Request], Response]:
    """A page endpoint whose answers are kept in the server's :class:`ResponseCache`."""

    def endpoint(request: Request) -> Response:
        st = state(request)
        hit = st.cache.get(request)
        if hit is not None:
            return hit
        try:
            with names_cache(st.names):
                return st.cache.put(request, render(request, st))
        except KbError as exc:
            return error_response(request, exc)

    return endpoint


@cached
def resource(request: Request, st: State) -> Response:
    return pages.resource_response(request, st, request.path_params["path"])


def home(request: Request) -> Response:
    st = state(request)
    return HTMLResponse(pages.home_page(st))


def editor(request: Request) -> Response:
    st = state(request)
    return HTMLResponse(pages.editor_page(st))


@cached
def named_query(request: Request, st: State) -> Response:
    return pages.named_query_response(request, st, request.path_params["name"])


def chart(request: Request) -> Response:
    st = state(request)
    try:
        with names_cache(st.names):
            svg = pages.chart_svg(st, request.path_params["kind"],
                                  dict(request.query_params))
    except KbError as exc:
        return error_response(request, exc)
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "max-age=3600"})


def status(request: Request) -> Response:
    st = state(request)
    body = {"build": st.build.id, "newer_build": st.reader.newer(),
            "workers": st.pool.pids(), "workers_replaced": st.pool.killed,
            "limits": {"timeout": st.settings.timeout, "max_rows": st.settings.max_rows,
                       "memory_mb": st.settings.memory_mb,
                       "max_request": st.settings.max_request,
                       "concurrent_queries": st.settings.workers}}
    return Response(json.dumps(body), media_type="application/json")


def favicon(request: Request) -> Response:
    return Response((HERE / "static" / "favicon.svg").read_bytes(), media_type="image/svg+xml",
                    headers={"Cache-Control": "max-age=86400"})


def create_app(settings: Settings, st: State | None = None) -> Starlette:
    """The application over ``st`` (a :class:`State`; opened here if not given: the build
    claimed, the store opened); the query workers start when the application starts up."""
    st = st or State(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.kb = st
        try:
            await st.pool.start()
            yield
        finally:
            await st.pool.close()
            st.close()

    routes = [
        Route("/", home),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/query", editor),
        Route("/queries/{name}", named_query),
        Route("/id/{path:path}", resource),
        Route("/chart/{kind}.svg", chart),
        Route("/status", status),
        Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    async def internal(request: Request, exc: Exception) -> Response:
        import logging
        import traceback

        logging.getLogger("kb.web").error("".join(traceback.format_exception(exc)))
        text = " ".join(str(exc).split())[:300]
        return error_response(request, KbError(
            "KB070", f"unexpected {type(exc).__name__}{': ' + text if text else ''} (a bug "
            "in citykb; the server's log has the traceback)"))

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={Exception: internal})
