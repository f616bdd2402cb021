"""The integrity constraints of the RDF Data Cube Recommendation (W3C, 2014, section 11.1).

The 21 constraints are kept in ``queries/qb-ic/`` as the Recommendation writes them: one ASK
query each (IC-19 has two, IC-20 and IC-21 are templates with an instantiation query), true
when the graph holds a Data Cube instance that violates the constraint.  They are run here on
an Oxigraph store, their text unchanged.

IC-12 (no duplicate observations) compares every pair of observations of a dataset, which is
quadratic: on the whole seed export (4,309 observations) Oxigraph had not answered it after six
minutes, nor Jena's arq after ten (a loaded 2-core machine).  Two observations can only be
duplicates if they share every dimension value, so it is run on groups of observations that keep
together every pair with the same dataset, kb:concept and refArea: the query text is unchanged,
its default graph being one group plus the structure triples it reads.

:func:`combined_query` makes one SELECT of all of them for engines started once per query (Jena's
``arq``): each ASK's group graph pattern, unchanged, inside ``FILTER EXISTS``, and IC-12's inside
``GRAPH ?group`` over the groups written as named graphs by :func:`write_partitioned`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox

from kb import namespaces as ns
from kb import paths

PAIRWISE = {"IC-12"}
"""Constraints run on each group of observations (see :func:`_groups`)."""

RDF_TYPE = ox.NamedNode(ns.RDF + "type")
QB_OBSERVATION = ox.NamedNode(ns.QB + "Observation")
QB_DATASET = ox.NamedNode(ns.QB + "dataSet")
KB_CONCEPT = ox.NamedNode(ns.KB + "concept")
SDMX_REF_AREA = ox.NamedNode(ns.SDMX_DIM + "refArea")
QB_DIMENSION_PROPERTY = ox.NamedNode(ns.QB + "DimensionProperty")
_STRUCTURE = {ox.NamedNode(ns.QB + p) for p in ("structure", "component", "componentProperty")}
"""What IC-12 reads besides the observations' own triples: qb:structure, qb:component,
qb:componentProperty and the qb:DimensionProperty type triples (its other patterns have an
observation, a subject of qb:dataSet, as their subject)."""


@dataclass(frozen=True)
class Constraint:
    id: str
    """``IC-1`` … ``IC-21``; IC-19's two queries are ``IC-19a`` and ``IC-19b``."""
    title: str
    query: str
    """The ASK query, as the file holds it (a template with ``$p`` for IC-20 and IC-21)."""
    instantiation: str | None
    """The SELECT whose every ``?p`` instantiates the template, for IC-20 and IC-21."""
    path: Path


def ic_dir() -> Path:
    return paths.queries_dir() / "qb-ic"


@lru_cache(maxsize=1)
def constraints() -> tuple[Constraint, ...]:
    """The constraints in ``queries/qb-ic/``, in the Recommendation's order."""
    out = []
    for path in sorted(ic_dir().glob("ic-*.rq")):
        if path.stem.endswith("-instantiation"):
            continue
        text = path.read_text(encoding="utf-8")
        head = re.match(r"# (IC-\d+)\. ([^\n]+)", text)
        assert head is not None, path
        suffix = path.stem[5:]  # "a" / "b" of IC-19
        inst = path.with_name(f"{path.stem}-instantiation.rq")
        out.append(Constraint(head.group(1) + suffix, head.group(2), text,
                              inst.read_text(encoding="utf-8") if inst.exists() else None,
                              path))
    return tuple(out)


@dataclass(frozen=True)
class Outcome:
    id: str
    title: str
    violated: bool
    runs: int
    """How many ASK queries were evaluated (partitions, instantiations)."""
    detail: str = ""


BIN = 8
"""Observations per group IC-12 is run on (fewer pairs against fewer queries)."""


def partitioned_store(
    triples: Iterable[ox.Triple | ox.Quad],
) -> tuple[ox.Store, list[ox.NamedNode]]:
    """An in-memory store of ``triples``, all of them in the default graph, and again for
    IC-12: the triples of each group of observations (see :func:`_groups`), with the structure
    triples IC-12 reads, in a graph of their own; returns the store and the groups' graphs."""
    by_subject: dict[ox.NamedNode | ox.BlankNode, list[ox.Triple]] = defaultdict(list)
    for t in triples:
        triple = t.triple if isinstance(t, ox.Quad) else t
        by_subject[triple.subject].append(triple)  # type: ignore[index]
    # whatever has a qb:dataSet is an observation to IC-12
    observations = {s: ts for s, ts in by_subject.items()
                    if any(t.predicate == QB_DATASET for t in ts)}
    quads = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
             for ts in by_subject.values() for t in ts]
    structure = [t for s, ts in by_subject.items() if s not in observations for t in ts
                 if t.predicate in _STRUCTURE or (t.predicate == RDF_TYPE
                                                  and t.object == QB_DIMENSION_PROPERTY)]
    graphs = []
    for i, group in enumerate(_groups(observations)):
        g = ox.NamedNode(f"urn:citykb:qb-ic:group:{i}")
        graphs.append(g)
        quads.extend(ox.Quad(t.subject, t.predicate, t.object, g)
                     for t in [*structure, *(t for s in group for t in observations[s])])
    store = ox.Store()
    store.extend(quads)
    return store, graphs


def _groups(observations: dict[ox.NamedNode | ox.BlankNode, list[ox.Triple]],
            ) -> list[list[ox.NamedNode | ox.BlankNode]]:
    """Groups of observations such that any two observations that could be duplicates (the
    same dataset, kb:concept and refArea) are in one group together.

    An observation is keyed by its dataset, concept and place; keys are packed into groups of
    about ``BIN`` observations (more pairs than needed are compared, never fewer).  An
    observation without a concept or a place could duplicate any other of its dataset: it
    joins every group of its dataset."""
    keyed: dict[str, dict[tuple[str, str], list[ox.NamedNode | ox.BlankNode]]] = \
        defaultdict(lambda: defaultdict(list))
    loose: dict[str, list[ox.NamedNode | ox.BlankNode]] = defaultdict(list)
    for s, ts in observations.items():
        values: dict[ox.NamedNode, list[str]] = defaultdict(list)
        for t in ts:
            values[t.predicate].append(str(t.object))
        for d in values[QB_DATASET]:
            if not values[KB_CONCEPT] or not values[SDMX_REF_AREA]:
                loose[d].append(s)
                continue
            for c in values[KB_CONCEPT]:
                for a in values[SDMX_REF_AREA]:
                    keyed[d][(c, a)].append(s)
    groups: list[list[ox.NamedNode | ox.BlankNode]] = []
    for d in sorted(set(keyed) | set(loose)):
        start = len(groups)
        current: list[ox.NamedNode | ox.BlankNode] = []
        for key in sorted(keyed[d]):
            members = keyed[d][key]
            if current and len(current) + len(members) > BIN:
                groups.append(current)
                current = []
            current.extend(members)
        groups.append(current)
        for g in groups[start:]:
            g.extend(loose[d])
    return [g for g in groups if len(g) > 1]


def _ask(store: ox.Store, query: str, graphs: list[ox.NamedNode]) -> bool:
    result = store.query(query, default_graph=graphs)  # type: ignore[arg-type]
    assert isinstance(result, ox.QueryBoolean)
    return bool(result)


def check(store: ox.Store, partitions: list[ox.NamedNode],
          only: Iterable[str] | None = None) -> list[Outcome]:
    """Evaluate every constraint on a store made by :func:`partitioned_store`."""
    wanted = set(only) if only is not None else None
    out = []
    for c in constraints():
        if wanted is not None and c.id not in wanted:
            continue
        if c.instantiation is not None:
            rows = store.query(c.instantiation)
            assert isinstance(rows, ox.QuerySolutions)
            props = sorted({str(r["p"].value) for r in rows
                            if r["p"] is not None})
            hits = [p for p in props if bool(store.query(c.query.replace("$p", p)))]
            out.append(Outcome(c.id, c.title, bool(hits), len(props),
                               f"instantiated for {len(props)} parent-child properties"
                               + (f"; fails for {', '.join(hits)}" if hits else "")))
        elif c.id in PAIRWISE:
            bad = [g for g in partitions if _ask(store, c.query, [g])]
            out.append(Outcome(c.id, c.title, bool(bad), len(partitions),
                               f"{len(partitions)} groups of observations"
                               + (f"; {len(bad)} with duplicates" if bad else "")))
        else:
            result = store.query(c.query)
            assert isinstance(result, ox.QueryBoolean)
            out.append(Outcome(c.id, c.title, bool(result), 1))
    return out


def check_file(path: Path, fmt: ox.RdfFormat | None = None) -> list[Outcome]:
    """Evaluate every constraint on an RDF file (an export), without any other vocabulary."""
    store, parts = partitioned_store(ox.parse(path=str(path), format=fmt))
    return check(store, parts)


def check_store(store: ox.Store) -> list[Outcome]:
    """Evaluate every constraint on the union of a store's named graphs."""
    triples = store.quads_for_pattern(None, None, None, None)
    mem, parts = partitioned_store(triples)
    return check(mem, parts)


def write_partitioned(store: ox.Store, out: Path) -> Path:
    """The store of :func:`partitioned_store` as N-Quads (the default graph and the groups)."""
    store.dump(str(out), ox.RdfFormat.N_QUADS)
    return out


def _body(query: str) -> str:
    """The group graph pattern of an ASK query: from the brace after ASK to its last brace."""
    start = re.search(r"^ASK\s*\{", query, re.MULTILINE)
    assert start is not None
    return query[start.end() - 1:query.rindex("}") + 1]


def combined_query() -> str:
    """One SELECT returning the id of every violated constraint (and of IC-20 and IC-21 when
    their templates have instantiations, which this query does not evaluate)."""
    prefixes = "".join(dict.fromkeys(re.findall(r"^PREFIX[^\n]*\n", "".join(
        c.query for c in constraints()), re.MULTILINE)))
    parts = []
    for c in constraints():
        if c.instantiation is not None:
            body = _body(c.instantiation.replace("SELECT ?p WHERE", "ASK"))
            label = f"{c.id} instantiated"
        else:
            body = _body(c.query)
            label = c.id
        if c.id in PAIRWISE:
            body = f"{{ GRAPH ?group {body} }}"
        parts.append(f'{{ BIND("{label}" AS ?ic) FILTER EXISTS {body} }}')
    return prefixes + "SELECT ?ic WHERE {\n" + "\nUNION\n".join(parts) + "\n}\n"
