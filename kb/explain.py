"""``kb explain``: where a score came from, as a tree down to indicators and sources.

Built from the named queries ``score-provenance`` (a dimension score) and ``score-breakdown``
(a total), so the command line, the Python API and SPARQL users see the same provenance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyoxigraph as ox
from rich.tree import Tree

from kb import namespaces as ns
from kb import queries
from kb.errors import KbError
from kb.resolve import resolve

FRAMEWORK_OF = "SELECT ?fw WHERE { ?concept skos:inScheme ?fw }"


@dataclass
class Step:
    """One node of an explanation: what it is, its value and rank, details, children."""

    kind: str
    label: str
    value: float | None = None
    rank: int | None = None
    details: dict[str, str] = field(default_factory=dict)
    children: list[Step] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Step]]:
        yield depth, self
        for c in self.children:
            yield from c.walk(depth + 1)

    def to_frame(self) -> pd.DataFrame:
        """Flattened: one row per step with its depth."""
        rows: list[dict[str, Any]] = [
            {"depth": d, "kind": s.kind, "label": s.label, "value": s.value, "rank": s.rank,
             **s.details}
            for d, s in self.walk()
        ]
        return pd.DataFrame(rows)

    def tree(self) -> Tree:
        """The explanation as a rich Tree (what ``kb explain`` prints)."""

        def label(s: Step) -> str:
            value = f" = [bold]{_fmt(s.value)}[/]" if s.value is not None else ""
            rank = f" (rank {s.rank})" if s.rank is not None else ""
            return f"[cyan]{s.kind}[/] {s.label}{value}{rank}"

        def grow(node: Tree, s: Step) -> None:
            for k, v in s.details.items():
                if v:
                    node.add(f"[dim]{k}:[/] {v}")
            for c in s.children:
                grow(node.add(label(c)), c)

        root = Tree(label(self))
        grow(root, self)
        return root

    def __rich__(self) -> Tree:
        return self.tree()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "value": self.value, "rank": self.rank,
                "details": self.details, "children": [c.to_dict() for c in self.children]}


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def _num(v: Any) -> float | None:
    return None if _missing(v) else float(v)


def _int(v: Any) -> int | None:
    return None if _missing(v) else int(v)


def _s(v: Any) -> str:
    return "" if _missing(v) else str(v)


def _erratum(row: pd.Series) -> Step:
    printed = [f"zh printed {row['printed']}" if _s(row["printed"]) else "",
               f"en printed {row['printedEn']}" if _s(row["printedEn"]) else ""]
    return Step("erratum", f"correction: used {row['used']}",
                details={"iri": _s(row["erratum"]),
                         "printed": "; ".join(p for p in printed if p),
                         "reason": _s(row["reason"])})


def explain_dimension(store: ox.Store, city: str, dimension: str) -> Step:
    city_iri = resolve(store, "city", city)
    dim_iri = resolve(store, "dimension", dimension)
    q = queries.get("score-provenance")
    df = q.run(store, {"city": city_iri, "dimension": dim_iri})
    labels = _labels(store, [city_iri, dim_iri])
    if df.empty:
        raise KbError("KB060", f"no computed score of {labels[city_iri]} in "
                      f"{labels[dim_iri]}; run `kb build`")
    first = df.iloc[0]
    root = Step("dimension score", f"{labels[city_iri]} · {labels[dim_iri]}",
                _num(first["score"]), _int(first["rank"]),
                {"run": _s(first["run"]), "method": ns.local_name(_s(first["method"]))})
    for _var, vdf in df.groupby("variable", sort=False):
        v = vdf.iloc[0]
        var = Step("variable", f"{v['variableZh']} ({v['variableEn']})", _num(v["points"]),
                   details={"observation": _s(v["input"]), "read from": _s(v["citation"])})
        for _ind, idf in vdf.dropna(subset=["indicator"]).groupby("indicator", sort=False):
            i = idf.iloc[0]
            sources = sorted({f"{r['dataSourceZh']} ({r['dataSourceEn']})"
                              for _, r in idf.iterrows() if _s(r["dataSourceZh"])})
            var.children.append(Step(
                "indicator", f"{i['indicatorZh']} ({i['indicatorEn']})",
                details={"data year": _s(i["dataYear"]) or "—",
                         "source": "; ".join(sources) or "—"}))
        for _e, edf in vdf.dropna(subset=["erratum"]).groupby("erratum", sort=False):
            var.children.append(_erratum(edf.iloc[0]))
        root.children.append(var)
    return root


def explain_total(store: ox.Store, city: str, framework: str | None = None) -> Step:
    city_iri = resolve(store, "city", city)
    fw_iri = resolve(store, "framework", framework) if framework else _only_framework(store)
    df = queries.get("score-breakdown").run(store, {"city": city_iri, "framework": fw_iri})
    labels = _labels(store, [city_iri, fw_iri])
    if df.empty:
        raise KbError("KB060", f"no computed total of {labels[city_iri]} in {labels[fw_iri]}")
    first = df.iloc[0]
    root = Step("total score", f"{labels[city_iri]} · {labels[fw_iri]}", _num(first["total"]),
                _int(first["totalRank"]),
                {"run": _s(first["run"]), "method": ns.local_name(_s(first["method"]))})
    for _dim, ddf in df.groupby("dimension", sort=False):
        d = ddf.iloc[0]
        step = Step("dimension", f"{d['dimensionZh']} ({d['dimensionEn']})", _num(d["score"]),
                    _int(d["rank"]))
        for _e, edf in ddf.dropna(subset=["erratum"]).groupby("erratum", sort=False):
            step.children.append(_erratum(edf.iloc[0]))
        root.children.append(step)
    return root


def explain_published(store: ox.Store, place: str, framework: str,
                      concept: str | None = None) -> Step:
    """What a report prints about a place in an index the knowledge base does not compute:
    each published score with its rank, table and line, and any erratum; then the framework's
    dimensions with their weights (how the report says the score is made)."""
    place_iri = resolve(store, "place", place)
    fw_iri = resolve(store, "framework", framework)
    df = queries.get("published-scores").run(store, {"place": place_iri, "framework": fw_iri})
    if concept is not None:
        df = df[df["concept"] == concept]
    labels = _labels(store, [place_iri, fw_iri])
    if df.empty:
        raise KbError("KB060", f"{labels[place_iri]} has no score in {labels[fw_iri]}")
    root = Step("published scores", f"{labels[place_iri]} · {labels[fw_iri]}",
                details={"method": "as printed by the report (not computed by citykb: the "
                                   "report does not give the values its scores are made of)"})
    for _c, cdf in df.groupby("concept", sort=False):
        r = cdf.iloc[0]
        name = (f"{_s(r['conceptZh'])} ({_s(r['conceptEn'])})" if _s(r["conceptZh"])
                else "total")
        step = Step("score", name, _num(r["score"]), _int(r["rank"]),
                    {"read from": _s(r["citation"])})
        for _e, edf in cdf.dropna(subset=["erratum"]).groupby("erratum", sort=False):
            e = edf.iloc[0]
            step.children.append(Step("erratum", f"correction: used {e['used']}",
                                      details={"iri": _s(e["erratum"]),
                                               "reason": _s(e["reason"])}))
        root.children.append(step)
    tree = queries.get("framework-tree").run(store, {"framework": fw_iri})
    dims = tree[tree["level"] == "dimension"]
    if not dims.empty:
        weights = Step("framework", "dimensions and weights")
        for d in dims.to_dict("records"):
            weights.children.append(Step("dimension", f"{_s(d['zh'])} ({_s(d['en'])})",
                                         details={"weight": _s(d["weight"])}))
        root.children.append(weights)
    return root


def _scored(store: ox.Store, framework: str) -> bool:
    from kb.sparql import select

    return bool(select(store, "SELECT ?fw WHERE { ?r a kb:ScoringRun ; kb:framework ?fw }",
                       {"fw": ox.NamedNode(framework)}))


def _framework_of(store: ox.Store, node: str) -> str:
    from kb.sparql import select

    rows = select(store, "SELECT ?n ?fw WHERE { ?n skos:inScheme ?fw }", {"n": ox.NamedNode(node)})
    assert rows and rows[0]["fw"] is not None
    return rows[0]["fw"].value


def explain(store: ox.Store, city: str, concept: str | None = None) -> Step:
    """Explain a place's score: a dimension's (``concept`` a dimension), or a total
    (``concept`` a framework, or nothing for the one scored framework). For an index the
    knowledge base only describes, what the report prints."""
    if concept is None:
        return explain_total(store, city)
    try:
        dim = resolve(store, "dimension", concept)
    except KbError as dim_error:
        try:
            fw = resolve(store, "framework", concept)
        except KbError:
            raise dim_error from None
        if _scored(store, fw):
            return explain_total(store, city, fw)
        return explain_published(store, city, fw)
    fw = _framework_of(store, dim)
    if _scored(store, fw):
        return explain_dimension(store, city, dim)
    return explain_published(store, city, fw, dim)


def _only_framework(store: ox.Store) -> str:
    from kb.sparql import select

    rows = select(store, "SELECT DISTINCT ?fw WHERE { ?r a kb:ScoringRun ; kb:framework ?fw }")
    if len(rows) != 1:
        raise KbError("KB051", "several frameworks have scores; name one")
    fw = rows[0]["fw"]
    assert fw is not None
    return fw.value


def _labels(store: ox.Store, iris: list[str]) -> dict[str, str]:
    from kb.sparql import select

    out: dict[str, str] = {}
    for x in iris:
        rows = select(store, "SELECT ?x ?zh ?en WHERE { ?x skos:prefLabel ?zh , ?en . "
                      "FILTER (lang(?zh) = 'zh' && lang(?en) = 'en') }", {"x": ox.NamedNode(x)})
        out[x] = f"{rows[0]['zh'].value} ({rows[0]['en'].value})" if rows else x  # type: ignore[union-attr]
    return out
