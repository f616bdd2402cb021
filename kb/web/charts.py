"""Charts in the pages of ``kb serve``: the same figures as ``kb plot``, as SVG, drawn once
per served build and kept (the build never changes while it is served). matplotlib's state is
global, so one chart is drawn at a time."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kb import charts
from kb.errors import KbError
from kb.resolve import resolve

if TYPE_CHECKING:
    from kb.store import BuildDir

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str, tuple[tuple[str, str], ...]], bytes] = {}
_MAX_CACHED = 512


def has_radar(store: ox.Store, city: str) -> bool:
    return bool(charts.city_frameworks(store, city))


def has_sunburst(store: ox.Store, framework: str) -> bool:
    rows = store.query("ASK { ?run a <https://w3id.org/citykb/ontology#ScoringRun> ; "
                       "<https://w3id.org/citykb/ontology#framework> ?fw }",
                       use_default_graph_as_union=True,
                       substitutions={ox.Variable("fw"): ox.NamedNode(framework)})
    return bool(rows)


def web_chart(store: ox.Store, build: BuildDir, kind: str, params: dict[str, str]) -> bytes:
    """An SVG chart: radar (city=, framework=), heatmap (framework=), sunburst (framework=),
    bump (a=, b=). Names are resolved as on the command line."""
    if kind not in charts.KINDS:
        raise KbError("KB104", f"no chart {kind!r}; charts: {', '.join(charts.KINDS)}")
    key = (build.id, kind, tuple(sorted(params.items())))
    if key in _CACHE:
        return _CACHE[key]

    def need(name: str) -> str:
        if not params.get(name):
            raise KbError("KB106", f"the {kind} chart needs {name}=")
        return params[name]

    with _LOCK:
        if kind == "radar":
            fw = params.get("framework")
            fig = charts.radar(store, resolve(store, "city", need("city")),
                               resolve(store, "framework", fw) if fw else None)
        elif kind == "heatmap":
            fig = charts.heatmap(store, resolve(store, "framework", need("framework")))
        elif kind == "sunburst":
            fig = charts.sunburst(store, resolve(store, "framework", need("framework")))
        else:
            fig = charts.bump(store, resolve(store, "framework", need("a")),
                              resolve(store, "framework", need("b")))
        svg = charts.save(fig, "svg")
    if len(_CACHE) < _MAX_CACHED:
        _CACHE[key] = svg
    return svg
