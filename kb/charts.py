"""Charts of the knowledge base (``kb plot`` and the pages of ``kb serve``), drawn with
matplotlib (no display needed) to PNG or SVG:

* ``radar``: a city's dimension scores against the median of every city scored;
* ``heatmap``: cities × dimensions of a scored framework;
* ``sunburst``: a framework's tree, each ring a level, sized by effective weight (a node's
  weight among its siblings times its parent's effective weight);
* ``bump``: two indices' ranks of their shared cities, one line per city (a slope chart).

Chinese labels need a CJK font: the first installed of :data:`CJK_FONTS` is used (Debian's
fonts-noto-cjk gives Noto Sans CJK); without one, labels fall back to English names.
"""

from __future__ import annotations

import io
import math
from functools import cache
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kb.errors import KbError
from kb.sparql import records

if TYPE_CHECKING:
    from matplotlib.figure import Figure


CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei",
             "Source Han Sans SC", "AR PL UMing CN"]
KINDS = ("radar", "heatmap", "sunburst", "bump")
MAX_CITIES = 60
"""Cities a heatmap or bump chart shows at most (the best ranked)."""


@cache
def cjk_font() -> str | None:
    """The CJK font family matplotlib will use, or None if none is installed."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FONTS if f in names), None)


def _setup() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import rcParams

    font = cjk_font()
    rcParams["font.family"] = "sans-serif"
    rcParams["font.sans-serif"] = ([font] if font else []) + ["DejaVu Sans"]
    rcParams["axes.unicode_minus"] = False
    rcParams["svg.fonttype"] = "path"  # text as outlines: the SVG needs no font to show
    rcParams["svg.hashsalt"] = "citykb"


def _name(zh: object, en: object) -> str:
    """The Chinese name if a CJK font is installed, else the English one."""
    return str(zh) if cjk_font() and zh else str(en or zh)


def save(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight", dpi=110,
                metadata={"Date": None} if fmt == "svg" else None)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


# --- data ---------------------------------------------------------------------------------

_DIMS = """
SELECT ?fw ?dim ?zh ?en ?order WHERE {
  ?dim skos:topConceptOf ?fw ; kb:order ?order ; skos:prefLabel ?zh , ?en .
  FILTER (lang(?zh) = "zh" && lang(?en) = "en") } ORDER BY ?order"""
_RUN_SCORES = """
SELECT ?fw ?city ?concept ?value ?rank WHERE {
  ?run a kb:ScoringRun ; kb:framework ?fw .
  ?obs prov:wasGeneratedBy ?run ; sdmx-dimension:refArea ?city ; kb:concept ?concept ;
       sdmx-measure:obsValue ?value . OPTIONAL { ?obs kb:rank ?rank } }"""
_CITY_FW = """
SELECT DISTINCT ?city ?fw WHERE { ?run a kb:ScoringRun ; kb:framework ?fw .
  ?obs prov:wasGeneratedBy ?run ; sdmx-dimension:refArea ?city } ORDER BY ?fw"""
_CITY_NAMES = """
SELECT ?x ?zh ?en WHERE { ?x a kb:City ; skos:prefLabel ?zh , ?en .
  FILTER (lang(?zh) = "zh" && lang(?en) = "en") }"""
_LABEL = """
SELECT ?x ?zh ?en WHERE { OPTIONAL { ?x skos:prefLabel ?zh FILTER(lang(?zh) = "zh") }
  OPTIONAL { ?x skos:prefLabel ?en FILTER(lang(?en) = "en") } } LIMIT 1"""


def _label(store: ox.Store, iri: str) -> str:
    rows = records(store, _LABEL, {"x": ox.NamedNode(iri)})
    r = rows[0] if rows else {}
    return _name(r.get("zh"), r.get("en") or iri.rsplit("/", 1)[-1])


def _scores(store: ox.Store, fw: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dims = records(store, _DIMS, {"fw": ox.NamedNode(fw)})
    rows = records(store, _RUN_SCORES, {"fw": ox.NamedNode(fw)})
    if not dims or not rows:
        raise KbError("KB106", f"{_label(store, fw)} has no computed scores to chart")
    return dims, rows


def city_frameworks(store: ox.Store, city: str) -> list[str]:
    return [str(r["fw"]) for r in records(store, _CITY_FW, {"city": ox.NamedNode(city)})]


# --- charts -------------------------------------------------------------------------------


def radar(store: ox.Store, city: str, framework: str | None = None) -> Figure:
    """A city's dimension scores in a scored framework against the median of all cities."""
    import statistics

    _setup()
    import matplotlib.pyplot as plt

    fws = city_frameworks(store, city)
    fw = framework or (fws[0] if fws else None)
    if fw is None or fw not in fws:
        raise KbError("KB106", f"{_label(store, city)} has no computed dimension scores"
                      + (f" in {_label(store, framework)}" if framework else ""))
    dims, rows = _scores(store, fw)
    by: dict[str, dict[str, float]] = {}
    for r in rows:
        by.setdefault(str(r["concept"]), {})[str(r["city"])] = float(r["value"])
    names = [_name(d["zh"], d["en"]) for d in dims]
    mine = [by[str(d["dim"])].get(city, math.nan) for d in dims]
    median = [statistics.median(by[str(d["dim"])].values()) for d in dims]
    angles = [2 * math.pi * i / len(dims) for i in range(len(dims))]
    fig, ax = plt.subplots(figsize=(6, 6), subplot_kw={"polar": True})
    for values, text, style in ((median, "median" if not cjk_font() else "中位数 median", "--"),
                                (mine, _label(store, city), "-")):
        (line,) = ax.plot([*angles, angles[0]], [*values, values[0]], style, linewidth=2,
                          label=text)
        if style == "-":
            ax.fill([*angles, angles[0]], [*values, values[0]], alpha=0.2,
                    color=line.get_color())
    ax.set_xticks(angles)
    ax.set_xticklabels(names)
    ax.set_title(f"{_label(store, city)} · {_label(store, fw)}", pad=20)
    ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.12))
    return fig


def heatmap(store: ox.Store, framework: str, top: int = MAX_CITIES) -> Figure:
    """Cities × dimensions of a scored framework, best total first."""
    _setup()
    import matplotlib.pyplot as plt

    dims, rows = _scores(store, framework)
    totals = {str(r["city"]): (r["rank"] or 10**9) for r in rows
              if str(r["concept"]) == framework}
    cities = sorted(totals, key=lambda c: (totals[c], c))[:top]
    value = {(str(r["city"]), str(r["concept"])): float(r["value"]) for r in rows}
    names = {str(r["x"]): _name(r["zh"], r["en"]) for r in records(store, _CITY_NAMES)}
    grid = [[value.get((c, str(d["dim"])), math.nan) for d in dims] for c in cities]
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(dims), 1.5 + 0.22 * len(cities)))
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(dims)))
    ax.set_xticklabels([_name(d["zh"], d["en"]) for d in dims], rotation=45, ha="right")
    ax.set_yticks(range(len(cities)))
    ax.set_yticklabels([names.get(c, c.rsplit("/", 1)[-1]) for c in cities], fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.6)
    ax.set_title(_label(store, framework))
    return fig


_TREE = """
SELECT ?fw ?node ?parent ?weight ?zh ?en WHERE {
  ?node skos:inScheme ?fw .
  { ?node skos:broader ?parent } UNION { ?node skos:topConceptOf ?fw BIND (?fw AS ?parent) }
  OPTIONAL { ?node kb:weight ?weight }
  OPTIONAL { ?node skos:prefLabel ?zh FILTER(lang(?zh) = "zh") }
  OPTIONAL { ?node skos:prefLabel ?en FILTER(lang(?en) = "en") } }"""


def effective_weights(store: ox.Store, framework: str) -> dict[str, tuple[str, float, int]]:
    """node → (parent, effective weight, depth): a node's weight divided by its siblings'
    sum (equal shares where no weight is given), times its parent's effective weight."""
    rows = records(store, _TREE, {"fw": ox.NamedNode(framework)})
    if not rows:
        raise KbError("KB106", f"{framework} has no framework tree")
    children: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        children.setdefault(str(r["parent"]), []).append(r)
    out: dict[str, tuple[str, float, int]] = {}

    def walk(parent: str, share: float, depth: int) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: str(r["node"]))
        given = [float(r["weight"]) for r in kids if r["weight"] is not None]
        total = sum(given) if len(given) == len(kids) and sum(given) > 0 else None
        for r in kids:
            w = float(r["weight"]) / total if total else 1 / len(kids)
            out[str(r["node"])] = (parent, share * w, depth)
            walk(str(r["node"]), share * w, depth + 1)

    walk(framework, 1.0, 1)
    return out


def sunburst(store: ox.Store, framework: str) -> Figure:
    """The framework's tree as rings (dimensions inside), sized by effective weight."""
    _setup()
    import matplotlib.pyplot as plt

    weights = effective_weights(store, framework)
    labels = {str(r["node"]): _name(r["zh"], r["en"]) for r in
              records(store, _TREE, {"fw": ox.NamedNode(framework)})}
    depth = max(d for _, _, d in weights.values())
    fig, ax = plt.subplots(figsize=(7, 7))
    cmap = plt.get_cmap("tab10")
    start: dict[str, float] = {framework: 0.0}
    colour: dict[str, Any] = {}
    for level in range(1, depth + 1):
        nodes = sorted((n for n, (_, _, d) in weights.items() if d == level),
                       key=lambda n: (start.get(weights[n][0], 0.0), n))
        offsets: dict[str, float] = {}
        sizes, colours, texts = [], [], []
        for n in nodes:
            parent, w, _ = weights[n]
            begin = offsets.get(parent, start.get(parent, 0.0))
            start[n] = begin
            offsets[parent] = begin + w
            colour[n] = cmap(len(colour) % 10) if level == 1 else colour.get(parent)
            sizes.append((begin, w))
            colours.append(colour[n])
            texts.append(labels.get(n, n.rsplit("/", 1)[-1]) if level == 1 else "")
        # gaps: the order is by start, so draw as wedges
        radius = 0.35 + 0.22 * level
        for (begin, w), c, t in zip(sizes, colours, texts, strict=True):
            theta1, theta2 = 90 - 360 * (begin + w), 90 - 360 * begin
            from matplotlib.patches import Wedge

            alpha = max(0.35, 1.0 - 0.2 * (level - 1))
            ax.add_patch(Wedge((0, 0), radius, theta1, theta2, width=0.21, facecolor=c,
                               alpha=alpha, edgecolor="white", linewidth=0.5))
            if t and w > 0.03:
                mid = math.radians((theta1 + theta2) / 2)
                ax.text((radius - 0.1) * math.cos(mid), (radius - 0.1) * math.sin(mid), t,
                        ha="center", va="center", fontsize=8)
    lim = 0.35 + 0.22 * depth + 0.05
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(_label(store, framework))
    return fig


def bump(store: ox.Store, a: str, b: str, top: int = MAX_CITIES) -> Figure:
    """Two indices' ranks of their shared cities, a line per city (best of ``a`` first)."""
    from kb import queries

    _setup()
    import matplotlib.pyplot as plt

    rows = queries.get("ranks-side-by-side").records(store, {"a": a, "b": b})
    rows = [r for r in rows if r.get("rankA") is not None and r.get("rankB") is not None]
    if not rows:
        raise KbError("KB106", f"{_label(store, a)} and {_label(store, b)} rank no city in "
                      "common")
    rows = sorted(rows, key=lambda r: int(r["rankA"]))[:top]
    names = {str(r["x"]): _name(r["zh"], r["en"]) for r in records(store, _CITY_NAMES)}
    fig, ax = plt.subplots(figsize=(6, 1.5 + 0.22 * len(rows)))
    for r in rows:
        ra, rb = int(r["rankA"]), int(r["rankB"])
        colour = "#2a9d8f" if rb < ra else "#e76f51" if rb > ra else "#888888"
        ax.plot([0, 1], [ra, rb], "-o", color=colour, linewidth=1.2, markersize=3)
        city = names.get(str(r["city"]), str(r["city"]).rsplit("/", 1)[-1])
        ax.text(-0.03, ra, f"{city} {ra}", ha="right", va="center", fontsize=7)
        ax.text(1.03, rb, f"{rb} {city}", ha="left", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(-0.6, 1.6)
    ax.set_xticks([0, 1])
    ax.set_xticklabels([_label(store, a), _label(store, b)])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return fig
