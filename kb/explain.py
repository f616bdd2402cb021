"""``kb explain``: where a score came from, as a tree down to indicators and sources.

Built from the named queries ``score-provenance`` (a dimension score) and ``score-breakdown``
(a total), so the command line, the Python API and SPARQL users see the same provenance. Every
erratum that touches the score is shown (``score-errata``): on an input, beside that input;
on the report's printed row of the score, or on the framework's nodes, under the score.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kb import namespaces as ns
from kb import queries
from kb.errors import KbError
from kb.resolve import memo, remembering, resolve, resolver
from kb.sparql import records

if TYPE_CHECKING:
    import pandas as pd
    from rich.tree import Tree

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
        import pandas as pd

        rows: list[dict[str, Any]] = [
            {"depth": d, "kind": s.kind, "label": s.label, "value": s.value, "rank": s.rank,
             **s.details}
            for d, s in self.walk()
        ]
        return pd.DataFrame(rows)

    def tree(self) -> Tree:
        """The explanation as a rich Tree (what ``kb explain`` prints)."""
        from rich.tree import Tree

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
    return v is None or type(v).__name__ == "NAType" or (isinstance(v, float) and v != v)


def _num(v: Any) -> float | None:
    return None if _missing(v) else float(v)


def _int(v: Any) -> int | None:
    return None if _missing(v) else int(v)


def _s(v: Any) -> str:
    return "" if _missing(v) else str(v)


Row = dict[str, Any]


def _groups(rows: list[Row], key: str, *, sort: bool = False) -> list[tuple[str, list[Row]]]:
    """Rows grouped by a column in order of first appearance (or sorted), empty keys left
    out."""
    out: dict[str, list[Row]] = {}
    for r in rows:
        if not _missing(r.get(key)):
            out.setdefault(str(r[key]), []).append(r)
    return sorted(out.items()) if sort else list(out.items())


def _erratum(row: Row, touches: str = "") -> Step:
    printed = [f"zh printed {row['printed']}" if _s(row.get("printed")) else "",
               f"en printed {row['printedEn']}" if _s(row.get("printedEn")) else ""]
    details = {"iri": _s(row["erratum"])}
    if touches:
        details["touches"] = touches
    details |= {"printed": "; ".join(p for p in printed if p), "reason": _s(row["reason"])}
    return Step("erratum", f"correction: used {row['used']}", details=details)


def _other_errata(store: ox.Store, root: Step, city: str, concept: str,
                  steps: dict[str, Step]) -> None:
    """Add every erratum touching the score that the tree does not show yet — on the report's
    printed value of the score or of a part of it, on another value of the city under the
    concept, or on the concept's nodes (those apply to every city) — under the step of the
    node it touches (``steps``: node IRI → step), else under ``root``."""
    if remembering():  # skip the query when no erratum can reach this city's scores
        cities, framewide = memo("errata-reach", lambda: _errata_reach(store))
        if city not in cities and not framewide:
            return
    shown = {s.details.get("iri") for _, s in root.walk() if s.kind == "erratum"}
    rows = records(store, queries.get("score-errata").text,
                   {"city": ox.NamedNode(city), "concept": ox.NamedNode(concept)})
    parents = memo(("parents", concept), lambda: _parents(store, concept)) if rows else {}
    for _e, edf in _groups(rows, "erratum", sort=True):
        if _e in shown:
            continue
        r = edf[0]
        name = _s(r["touchedConceptZh"]) or ns.local_name(_s(r["touchedConcept"]))
        if _missing(r["dataset"]):
            where = f"the framework's {name} (every city)"
        elif "/published" in _s(r["dataset"]):
            where = f"the report's printed {name} of this city"
        else:
            where = f"this city's {name} ({ns.local_name(_s(r['dataset']))})"
        # the step of the touched node, else of its nearest ancestor that has one
        node, target = _s(r["touchedConcept"]), root
        while node and node not in steps and node != concept:
            node = parents.get(node, "")
        target = steps.get(node, root)
        target.children.append(_erratum(r, where))


ERRATA_REACH = """
SELECT ?touched ?area ?dataset WHERE {
  ?erratum a kb:Erratum ; kb:touches ?touched .
  OPTIONAL { ?touched qb:dataSet ?dataset }
  OPTIONAL { ?touched sdmx-dimension:refArea ?area }
}
"""


def _errata_reach(store: ox.Store) -> tuple[set[str], bool]:
    """What ``score-errata`` can find: the places whose observations errata touch, and
    whether an erratum touches a node outside any dataset (a framework's node, which
    concerns every place)."""
    rows = records(store, ERRATA_REACH)
    return ({str(r["area"]) for r in rows if r["area"] is not None and r["dataset"] is not None},
            any(r["dataset"] is None for r in rows))


def _parents(store: ox.Store, concept: str) -> dict[str, str]:
    """node → parent (skos:broader) for every node of the concept's framework."""
    from kb.sparql import select

    rows = select(store, "SELECT ?concept ?n ?p WHERE { { ?concept skos:inScheme ?fw } UNION "
                  "{ BIND (?concept AS ?fw) } ?n skos:inScheme ?fw ; skos:broader ?p }",
                  {"concept": ox.NamedNode(concept)})
    return {n.value: p.value for r in rows
            if (n := r["n"]) is not None and (p := r["p"]) is not None}


def explain_dimension(store: ox.Store, city: str, dimension: str) -> Step:
    city_iri = resolve(store, "city", city)
    dim_iri = resolve(store, "dimension", dimension)
    df = _provenance(store, city_iri, dim_iri)
    labels = _labels(store, [city_iri, dim_iri])
    if not df:
        raise KbError("KB060", f"no computed score of {labels[city_iri]} in "
                      f"{labels[dim_iri]}; run `kb build`")
    first = df[0]
    root = Step("dimension score", f"{labels[city_iri]} · {labels[dim_iri]}",
                _num(first["score"]), _int(first["rank"]),
                {"run": _s(first["run"]), "method": ns.local_name(_s(first["method"]))})
    steps: dict[str, Step] = {}
    for _var, vdf in _groups(df, "variable"):
        v = vdf[0]
        var = steps[str(_var)] = Step(
            "variable", f"{v['variableZh']} ({v['variableEn']})", _num(v["points"]),
            details={"observation": _s(v["input"]), "read from": _s(v["citation"])})
        for _ind, idf in _groups(vdf, "indicator"):
            i = idf[0]
            sources = sorted({f"{r['dataSourceZh']} ({r['dataSourceEn']})"
                              for r in idf if _s(r["dataSourceZh"])})
            var.children.append(steps.setdefault(str(_ind), Step(
                "indicator", f"{i['indicatorZh']} ({i['indicatorEn']})",
                details={"data year": _s(i["dataYear"]) or "—",
                         "source": "; ".join(sources) or "—"})))
        for _e, edf in _groups(vdf, "erratum"):
            var.children.append(_erratum(edf[0], "this input"))
        root.children.append(var)
    _other_errata(store, root, city_iri, dim_iri, steps)
    return root


def _provenance(store: ox.Store, city: str, dimension: str) -> list[Row]:
    """The ``score-provenance`` rows of a city's dimension score: by :mod:`kb.provenance`,
    the score's observation looked up by the IRI :func:`kb.namespaces.observation` gives a
    run's observations and the framework's part asked once per opened build; the named query
    itself where that finds nothing."""
    from kb.provenance import provenance
    from kb.ranking import run_dataset

    fw = _framework_of(store, dimension)
    dataset = memo(("run-dataset", fw), lambda: run_dataset(store, fw))
    obs = ns.observation(ns.local_name(fw), ns.local_name(dataset), ns.local_name(city),
                         ns.local_name(dimension))
    return (provenance(store, obs, city, dimension, fw, dataset)
            or queries.get("score-provenance").records(store, {"city": city,
                                                                "dimension": dimension}))


def explain_total(store: ox.Store, city: str, framework: str | None = None) -> Step:
    city_iri = resolve(store, "city", city)
    fw_iri = resolve(store, "framework", framework) if framework else _only_framework(store)
    df = queries.get("score-breakdown").records(store, {"city": city_iri, "framework": fw_iri})
    labels = _labels(store, [city_iri, fw_iri])
    if not df:
        raise KbError("KB060", f"no computed total of {labels[city_iri]} in {labels[fw_iri]}")
    first = df[0]
    root = Step("total score", f"{labels[city_iri]} · {labels[fw_iri]}", _num(first["total"]),
                _int(first["totalRank"]),
                {"run": _s(first["run"]), "method": ns.local_name(_s(first["method"]))})
    steps: dict[str, Step] = {}
    for _dim, ddf in _groups(df, "dimension"):
        d = ddf[0]
        step = steps[str(_dim)] = Step("dimension", f"{d['dimensionZh']} ({d['dimensionEn']})",
                                       _num(d["score"]), _int(d["rank"]))
        for _e, edf in _groups(ddf, "erratum"):
            step.children.append(_erratum(edf[0], "the report's printed score"))
        root.children.append(step)
    _other_errata(store, root, city_iri, fw_iri, steps)
    return root


def explain_published(store: ox.Store, place: str, framework: str,
                      concept: str | None = None) -> Step:
    """What a report prints about a place in an index the knowledge base does not compute:
    each published score with its rank, table and line, and any erratum; then the framework's
    dimensions with their weights (how the report says the score is made)."""
    fw_iri = resolve(store, "framework", framework)
    place_iri = _scored_place(store, place, fw_iri)
    df = queries.get("published-scores").records(store, {"place": place_iri,
                                                         "framework": fw_iri})
    if concept is not None:
        df = [r for r in df if r["concept"] == concept]
    labels = _labels(store, [place_iri, fw_iri])
    if not df:
        raise KbError("KB060", f"{labels[place_iri]} has no score in {labels[fw_iri]}")
    root = Step("published scores", f"{labels[place_iri]} · {labels[fw_iri]}",
                details={"method": "as printed by the report (not computed by citykb: the "
                                   "report does not give the values its scores are made of)"})
    for _c, cdf in _groups(df, "concept"):
        r = cdf[0]
        name = (f"{_s(r['conceptZh'])} ({_s(r['conceptEn'])})" if _s(r["conceptZh"])
                else "total")
        details = {"read from": _s(r["citation"])}
        if _s(r.get("rankBasis")) == "derived":
            details["rank"] = "derived from the printed scores (the report prints no rank)"
        step = Step("score", name, _num(r["score"]), _int(r["rank"]), details)
        for _e, edf in _groups(cdf, "erratum"):
            e = edf[0]
            step.children.append(Step("erratum", f"correction: used {e['used']}",
                                      details={"iri": _s(e["erratum"]),
                                               "reason": _s(e["reason"])}))
        root.children.append(step)
    _method_as_described(store, root, fw_iri)
    tree = queries.get("framework-tree").records(store, {"framework": fw_iri})
    dims = [r for r in tree if r["level"] == "dimension"]
    if dims:
        weights = Step("framework", "dimensions and weights")
        for d in dims:
            weights.children.append(Step("dimension", f"{_s(d['zh'])} ({_s(d['en'])})",
                                         details={"weight": _s(d["weight"])}))
        root.children.append(weights)
    return root


METHOD_AS_DESCRIBED = """
SELECT ?fw ?name ?what ?text WHERE {
  ?fw kb:method ?m . ?m kb:reproducible false ; skos:prefLabel ?name FILTER (lang(?name) = "zh")
  { ?m kb:methodKnown ?text BIND ("known" AS ?what) }
  UNION { ?m kb:methodUnknown ?text BIND ("not stated" AS ?what) }
}
"""


def _method_as_described(store: ox.Store, root: Step, framework: str) -> None:
    """A method the report names but does not describe fully: what is known, what is not."""
    from kb.sparql import select

    rows = select(store, METHOD_AS_DESCRIBED, {"fw": ox.NamedNode(framework)})
    if not rows:
        return
    name = rows[0]["name"]
    step = Step("method", f"{name.value if name is not None else ''}: as the report "
                "describes it (not enough to recompute the scores)")
    for what in ("known", "not stated"):
        for r in rows:
            w, t = r["what"], r["text"]
            if w is not None and t is not None and w.value == what:
                step.children.append(Step(what, t.value))
    root.children.append(step)


def _scored_place(store: ox.Store, place: str, framework: str) -> str:
    """The place a name means in an index: of the places it names (上海 the city and the
    province), the one the index scores; a city if it scores both or neither."""
    from kb.sparql import select

    names = resolver(store, "place")
    found = names.candidates(place)
    if len(found) > 1:
        query = ("SELECT ?x ?fw WHERE { ?o sdmx-dimension:refArea ?x ; qb:dataSet ?ds . "
                 "?ds kb:framework ?fw } LIMIT 1")
        fw = ox.NamedNode(framework)
        scored = {x for x in found if select(store, query, {"x": ox.NamedNode(x), "fw": fw})}
        if len(scored) == 1:
            return scored.pop()
    return names.resolve(place)


def _scored(store: ox.Store, framework: str) -> bool:
    from kb.sparql import select

    return memo(("scored", framework), lambda: bool(select(
        store, "SELECT ?fw WHERE { ?r a kb:ScoringRun ; kb:framework ?fw }",
        {"fw": ox.NamedNode(framework)})))


def _framework_of(store: ox.Store, node: str) -> str:
    from kb.sparql import select

    def lookup() -> str:
        rows = select(store, "SELECT ?n ?fw WHERE { ?n skos:inScheme ?fw }",
                      {"n": ox.NamedNode(node)})
        assert rows and rows[0]["fw"] is not None
        return rows[0]["fw"].value

    return memo(("framework-of", node), lookup)


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


LABELS = ("SELECT ?x ?zh ?en WHERE { ?x skos:prefLabel ?zh , ?en . "
          "FILTER (lang(?zh) = 'zh' && lang(?en) = 'en') }")


def _labels(store: ox.Store, iris: list[str]) -> dict[str, str]:
    """``zh (en)`` of each IRI (the IRI itself if it has no such labels): while answers are
    remembered (an opened build), every label is read once; else these IRIs' labels."""
    from kb.sparql import select

    def read(x: str | None = None) -> dict[str, str]:
        # every label, on a server: in order, so that its row cap pages them (kb.resolve.PAGED)
        query = LABELS if x or isinstance(store, ox.Store) else LABELS + " ORDER BY ?x ?zh ?en"
        rows = select(store, query, {"x": ox.NamedNode(x)} if x else None)
        return {r["x"].value: f"{r['zh'].value} ({r['en'].value})"  # type: ignore[union-attr]
                for r in rows}

    if remembering():
        known = memo("labels", read)
        return {x: known.get(x, x) for x in iris}
    return {x: read(x).get(x, x) for x in iris}
