"""Names → IRIs: cities, provinces, regions, frameworks and their nodes, by Chinese or English
name, slug, typed slug (``city:shanghai``, ``province:shanghai``) or IRI. An unknown name
raises KB050 with the closest matches as suggestions.

北京, 上海, 天津 and 重庆 (and 吉林) name both a city and a province. Where the kind of thing
asked for settles it (a ``city`` or ``province`` parameter), the name resolves to that; where
either fits (a ``place``), the city is chosen and a :class:`NameNote` warning says so, naming
the typed slug of the other.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import unicodedata
import warnings
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import pyoxigraph as ox

from kb import namespaces as ns
from kb.errors import KbError
from kb.sparql import select

T = TypeVar("T")

KINDS: dict[str, list[str]] = {
    "city": ["City"],
    "province": ["Province"],
    "region": ["Region"],
    "county": ["County"],
    "cluster": ["CityCluster"],
    "place": ["City", "Province", "Region", "County", "CityCluster", "Country"],
    "framework": ["Framework"],
    "dimension": ["Dimension"],
    "variable": ["Variable"],
    "indicator": ["Indicator"],
    "concept": ["Dimension", "Variable", "Indicator", "Framework"],
    "source": ["Source", "Report", "DataSource"],
    "erratum": ["Erratum"],
    "statistic": ["Statistic"],
}

SCOPED = {"dimension", "variable", "indicator", "concept"}
"""Kinds looked up within one framework when a framework is given."""

UNNAMED = {"erratum", "statistic"}
"""Kinds given by id or IRI rather than by a human name: a value that matches none is a bad
parameter (KB051), not an unknown name."""

TYPED = {"city": "city", "province": "province", "region": "region", "county": "county",
         "cluster": "cluster", "country": "country", "framework": "framework", "source": "source",
         "erratum": "erratum", "statistic": "statistic"}
"""Prefixes of typed slugs (``city:shanghai``) → the path segment of the IRI."""

_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")

LABELS = """
SELECT ?x ?label ?cls %s WHERE {
  VALUES ?cls { %s }
  ?x a ?cls .
  OPTIONAL { { ?x skos:prefLabel ?label } UNION { ?x skos:altLabel ?label } }
  %s
}
"""
PAGED = "ORDER BY ?x ?label ?cls"
"""On a SPARQL server, every name of a kind is asked in order, so that a server that caps
its answers (Virtuoso's ResultSetMaxRows, 10,000 by default: 5,000 places have 15,000 names)
can be read page by page instead of refusing the truncated answer. Not on the embedded store:
ordering 25,000 names there took 5-6 s of CPU against 1.5 s."""


class NameNote(UserWarning):
    """A name fitted several things and one was chosen; the note says which and how to ask
    for the other."""


def normalise(text: str) -> str:
    """Case-, width- and space-insensitive form of a name."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.replace("_", " ").split())


def typed_slug(iri: str) -> str:
    """``https://w3id.org/citykb/id/city/shanghai`` → ``city:shanghai`` (else the IRI)."""
    if iri.startswith(ns.ID):
        kind, _, rest = iri[len(ns.ID):].partition("/")
        if kind in TYPED.values() and rest:
            return f"{kind}:{rest}"
    return iri


@dataclass
class Resolver:
    """Resolves names of one kind of thing, optionally within one framework."""

    kind: str
    names: dict[str, set[str]]
    """normalised name → IRIs"""
    display: dict[str, str]
    """normalised name → the name as stored, for suggestions"""
    classes: dict[str, set[str]] = field(default_factory=dict)
    """IRI → local names of its classes"""
    labels: dict[str, str] = field(default_factory=dict)
    """IRI → a label, for messages"""

    @classmethod
    def load(cls, store: ox.Store, kind: str, framework: str | None = None) -> Resolver:
        if kind not in KINDS:
            raise KbError("KB051", f"unknown kind of name {kind!r}")
        classes = " ".join(f"kb:{c}" for c in KINDS[kind])
        scoped = kind in SCOPED and framework is not None
        scope = "?x skos:inScheme ?fw ." if scoped else ""
        bindings = {"fw": ox.NamedNode(framework)} if scope and framework else None
        query = LABELS % ("?fw" if scope else "", classes, scope)
        if not isinstance(store, ox.Store):  # a server (kb.endpoint.RemoteStore)
            query += PAGED
        rows = select(store, query, bindings)
        names: dict[str, set[str]] = {}
        display: dict[str, str] = {}
        types: dict[str, set[str]] = {}
        labels: dict[str, str] = {}
        for r in rows:
            x, label, c = r["x"], r["label"], r["cls"]
            assert x is not None and c is not None
            types.setdefault(x.value, set()).add(ns.local_name(c.value))
            texts = [ns.local_name(x.value), x.value]
            if label is not None:
                texts.insert(0, label.value)
                known = labels.get(x.value, "")
                if label.value not in known.split(" / "):
                    labels[x.value] = f"{known} / {label.value}" if known else label.value
            for name in texts:
                key = normalise(name)
                names.setdefault(key, set()).add(x.value)
                if name != x.value:
                    display.setdefault(key, name)
        return cls(kind, names, display, types, labels)

    def candidates(self, name: str) -> set[str]:
        """Every IRI the name could mean (empty if none)."""
        text = name.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1].strip()
        prefix, sep, slug = text.partition(":")
        if sep and prefix.lower() in TYPED and not slug.startswith("//"):
            iri = f"{ns.ID}{TYPED[prefix.lower()]}/{slug.strip()}"
            return {iri} if iri in self.classes else set()
        key = normalise(text)
        found = self.names.get(key, set())
        for suffix in _SUFFIXES:
            if found or not key.endswith(suffix) or len(key) <= len(suffix):
                continue
            found = self.names.get(key[: -len(suffix)], set())
        return set(found)

    def resolve(self, name: str) -> str:
        candidates = self.candidates(name)
        if not candidates:
            key = normalise(name)
            close = difflib.get_close_matches(key, list(self.display), n=5, cutoff=0.5)
            code = "KB051" if self.kind in UNNAMED else "KB050"
            raise KbError(code, f"no {self.kind} named {name!r}",
                          suggestions=[self.display[c] for c in close])
        if len(candidates) == 1:
            return next(iter(candidates))
        cities = [c for c in candidates if "City" in self.classes.get(c, set())]
        others = sorted(candidates - set(cities))
        if len(cities) == 1 and others and all(
                "Province" in self.classes.get(o, set()) for o in others):
            chosen = cities[0]
            warnings.warn(NameNote(
                f"{name!r} names the city and the province; using the city "
                f"({typed_slug(chosen)}) — for the province give "
                + ", ".join(typed_slug(o) for o in others)), stacklevel=2)
            return chosen
        raise KbError("KB050", f"{name!r} names several {self.kind}s: "
                      + ", ".join(f"{typed_slug(c)} ({self.labels.get(c, '')})".replace(" ()", "")
                                  for c in sorted(candidates))
                      + "; give one of these")


_NAMES: contextvars.ContextVar[dict[tuple[str, str | None], Resolver] | None] = (
    contextvars.ContextVar("citykb_names", default=None))


_MEMO: contextvars.ContextVar[dict[Hashable, Any] | None] = (
    contextvars.ContextVar("citykb_memo", default=None))


@contextlib.contextmanager
def names_cache(cache: dict[tuple[str, str | None], Resolver],
                memo: dict[Hashable, Any] | None = None) -> Iterator[None]:
    """Within the block, the names of each kind are read from the store once and kept in
    ``cache``, and answers to :func:`memo` lookups in ``memo`` (for one opened build, which
    never changes: see ``kb.open``)."""
    token = _NAMES.set(cache)
    memo_token = _MEMO.set(memo)
    try:
        yield
    finally:
        _MEMO.reset(memo_token)
        _NAMES.reset(token)


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, kept under ``key`` while a :func:`names_cache` with a memo is active:
    for answers about the framework and the runs, which one build never changes."""
    cache = _MEMO.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cast(T, cache[key])


def remembering() -> bool:
    """Whether :func:`memo` keeps answers (a :func:`names_cache` with a memo is active)."""
    return _MEMO.get() is not None


def resolver(store: ox.Store, kind: str, framework: str | None = None) -> Resolver:
    """The names of one kind, from the cache of :func:`names_cache` if one is active."""
    cache = _NAMES.get()
    if cache is None:
        return Resolver.load(store, kind, framework)
    key = (kind, framework)
    if key not in cache:
        cache[key] = Resolver.load(store, kind, framework)
    return cache[key]


def resolve(store: ox.Store, kind: str, name: str, framework: str | None = None) -> str:
    """Resolve one name of ``kind`` (see :data:`KINDS`). An IRI of a thing of that kind is
    checked with one lookup instead of reading every name."""
    if kind in KINDS and name.startswith(ns.ID) and memo(
            ("is-a", name, kind, framework), lambda: _is_a(store, name, kind, framework)):
        return name
    return resolver(store, kind, framework).resolve(name)


def _is_a(store: ox.Store, iri: str, kind: str, framework: str | None) -> bool:
    classes = " ".join(f"kb:{c}" for c in KINDS[kind])
    scoped = kind in SCOPED and framework is not None
    query = (f"SELECT ?x {'?fw' if scoped else ''} WHERE {{ VALUES ?cls {{ {classes} }} "
             f"?x a ?cls {'. ?x skos:inScheme ?fw' if scoped else ''} }} LIMIT 1")
    try:
        bindings = {"x": ox.NamedNode(iri)}
    except ValueError:
        return False
    if scoped and framework is not None:
        bindings["fw"] = ox.NamedNode(framework)
    return bool(select(store, query, bindings))

