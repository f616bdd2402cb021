"""Scoring methods, in a registry keyed by name and by ontology IRI.

Families, one module each: :mod:`.normalise` (indicator values → comparable scores),
:mod:`.aggregate` (children → parent), :mod:`.impute` (missing values), :mod:`.classify`
(scores → tiers). Adding a method is one function, one ``@register`` line and one test.

Every method works set-wise on a long DataFrame (``place, concept, value``), never row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kb import namespaces as ns
from kb.errors import KbError

Fn = Callable[..., Any]


@dataclass(frozen=True)
class Method:
    kind: str
    name: str
    fn: Fn
    doc: str

    @property
    def iri(self) -> str:
        return ns.method(self.name)


REGISTRY: dict[tuple[str, str], Method] = {}


def register(kind: str, name: str) -> Callable[[Fn], Fn]:
    """Register ``fn`` as method ``name`` of family ``kind``; its IRI is ``id/method/{name}``."""

    def deco(fn: Fn) -> Fn:
        key = (kind, name)
        if key in REGISTRY:
            raise ValueError(f"method {kind}/{name} registered twice")
        REGISTRY[key] = Method(kind, name, fn, (fn.__doc__ or "").strip())
        return fn

    return deco


def get(kind: str, name_or_iri: str) -> Method:
    """A method by name or IRI; KB051 with the known names otherwise."""
    _load()
    name = ns.local_name(name_or_iri) if name_or_iri.startswith("http") else name_or_iri
    try:
        return REGISTRY[(kind, name)]
    except KeyError:
        known = sorted(n for k, n in REGISTRY if k == kind)
        raise KbError("KB051", f"no {kind} method {name_or_iri!r}; known: {', '.join(known)}")\
            from None


def names(kind: str) -> list[str]:
    _load()
    return sorted(n for k, n in REGISTRY if k == kind)


def _load() -> None:
    from kb.methods import aggregate, classify, impute, normalise  # noqa: F401
