"""Names → IRIs: cities, provinces, regions, frameworks and their nodes, by Chinese or English
name, slug or IRI. An unknown name raises KB050 with the closest matches as suggestions."""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

import pyoxigraph as ox

from kb import namespaces as ns
from kb.errors import KbError
from kb.sparql import select

KINDS: dict[str, list[str]] = {
    "city": ["City"],
    "province": ["Province"],
    "region": ["Region"],
    "place": ["City", "Province", "Region", "County", "CityCluster"],
    "framework": ["Framework"],
    "dimension": ["Dimension"],
    "variable": ["Variable"],
    "indicator": ["Indicator"],
    "concept": ["Dimension", "Variable", "Indicator", "Framework"],
    "source": ["Source", "Report", "DataSource"],
}

SCOPED = {"dimension", "variable", "indicator", "concept"}
"""Kinds looked up within one framework when a framework is given."""

LABELS = """
SELECT ?x ?label %s WHERE {
  ?x a ?cls .
  { ?x skos:prefLabel ?label } UNION { ?x skos:altLabel ?label }
  FILTER (?cls IN (%s))
  %s
}
"""


def normalise(text: str) -> str:
    """Case-, width- and space-insensitive form of a name."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.replace("_", " ").split())


@dataclass
class Resolver:
    """Resolves names of one kind of thing, optionally within one framework."""

    kind: str
    names: dict[str, set[str]]
    """normalised name → IRIs"""
    display: dict[str, str]
    """normalised name → the name as stored, for suggestions"""

    @classmethod
    def load(cls, store: ox.Store, kind: str, framework: str | None = None) -> Resolver:
        classes = ", ".join(f"kb:{c}" for c in KINDS[kind])
        scoped = kind in SCOPED and framework is not None
        scope = "?x skos:inScheme ?fw ." if scoped else ""
        bindings = {"fw": ox.NamedNode(framework)} if scope and framework else None
        rows = select(store, LABELS % ("?fw" if scope else "", classes, scope), bindings)
        names: dict[str, set[str]] = {}
        display: dict[str, str] = {}
        for r in rows:
            x, label = r["x"], r["label"]
            assert x is not None and label is not None
            for name in (label.value, ns.local_name(x.value), x.value):
                key = normalise(name)
                names.setdefault(key, set()).add(x.value)
                if name != x.value:
                    display.setdefault(key, name)
        return cls(kind, names, display)

    def resolve(self, name: str) -> str:
        key = normalise(name)
        candidates = self.names.get(key)
        if not candidates and key.endswith("市"):
            candidates = self.names.get(key[:-1])
        if not candidates:
            close = difflib.get_close_matches(key, list(self.display), n=5, cutoff=0.5)
            raise KbError("KB050", f"no {self.kind} named {name!r}",
                          suggestions=[self.display[c] for c in close])
        if len(candidates) > 1:
            raise KbError("KB050", f"{name!r} names several {self.kind}s: "
                          + ", ".join(sorted(candidates)) + "; give the IRI or slug")
        return next(iter(candidates))


def resolve(store: ox.Store, kind: str, name: str, framework: str | None = None) -> str:
    """Resolve one name of ``kind`` (see :data:`KINDS`)."""
    return Resolver.load(store, kind, framework).resolve(name)
