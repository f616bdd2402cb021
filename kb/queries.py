"""Named queries: the .rq files of queries/, their headers, and safe parameter binding.

A query file starts with comment lines::

    # title: Provenance of a city's dimension score
    # description: What the score is made of ...
    # param: city: city — the city (Chinese or English name, slug or IRI)
    # param: top: integer = 10 — how many places
    # example: kb query dimension-ranking --param dimension=经济实力

Parameters are validated (type, known value, suggestions for near misses) and bound as RDF
terms through SPARQL substitution, never pasted into the query text: the query uses the
parameter as a variable (``?city``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyoxigraph as ox

from kb import paths
from kb.errors import KbError
from kb.namespaces import XSD
from kb.resolve import KINDS, Resolver
from kb.sparql import Term, to_frame

SCALARS = {"integer": XSD + "integer", "decimal": XSD + "decimal", "string": XSD + "string"}
PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s*:\s*(?P<type>[a-z]+)(?:\s*=\s*(?P<default>\S+))?"
    r"(?:\s*[—-]+\s*(?P<doc>.*))?$"
)


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    doc: str


@dataclass
class NamedQuery:
    name: str
    path: Path
    title: str
    description: str
    params: list[Param] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def bind(self, store: ox.Store, values: dict[str, str]) -> dict[str, Term]:
        """Validate and convert parameter values to RDF terms."""
        known = {p.name for p in self.params}
        unknown = set(values) - known
        if unknown:
            raise KbError("KB051", f"query {self.name!r} has no parameter(s) "
                          f"{', '.join(sorted(unknown))}; it takes: {', '.join(sorted(known))}")
        framework = None
        out: dict[str, Term] = {}
        for p in sorted(self.params, key=lambda p: p.type != "framework"):
            raw = values.get(p.name, p.default)
            if raw is None:
                raise KbError("KB051", f"query {self.name!r} needs --param {p.name}=... "
                              f"({p.type}: {p.doc})")
            out[p.name] = _term(store, p, raw, framework)
            if p.type == "framework":
                framework = out[p.name].value
        return out

    def run(self, store: ox.Store, values: dict[str, str]) -> pd.DataFrame:
        return to_frame(store, self.text, self.bind(store, values))


def _term(store: ox.Store, p: Param, raw: str, framework: str | None) -> Term:
    if p.type in KINDS:
        return ox.NamedNode(Resolver.load(store, p.type, framework).resolve(raw))
    if p.type == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise KbError("KB051", f"parameter {p.name} must be an integer, got {raw!r}")
        return ox.Literal(str(int(raw)), datatype=ox.NamedNode(SCALARS["integer"]))
    if p.type == "decimal":
        try:
            float(raw)
        except ValueError as exc:
            raise KbError("KB051", f"parameter {p.name} must be a number, got {raw!r}") from exc
        return ox.Literal(raw, datatype=ox.NamedNode(SCALARS["decimal"]))
    if p.type == "iri":
        return ox.NamedNode(raw)
    return ox.Literal(raw)


def parse_header(name: str, path: Path) -> NamedQuery:
    q = NamedQuery(name=name, path=path, title=name, description="")
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.lstrip("# ").partition(":")
        value = value.strip()
        if key == "title":
            q.title = value
        elif key == "description":
            q.description = (q.description + " " + value).strip()
        elif key == "param":
            m = PARAM.match(value)
            if not m:
                raise KbError("KB052", f"{path}: bad param header {value!r}")
            if m["type"] not in KINDS and m["type"] not in (*SCALARS, "iri"):
                raise KbError("KB052", f"{path}: unknown param type {m['type']!r}")
            q.params.append(Param(m["name"], m["type"], m["default"], (m["doc"] or "").strip()))
        elif key == "example":
            q.examples.append(value)
    return q


def catalog(folder: Path | None = None) -> dict[str, NamedQuery]:
    """All named queries, by file stem."""
    folder = folder or paths.queries_dir()
    return {p.stem: parse_header(p.stem, p) for p in sorted(folder.glob("*.rq"))}


def get(name: str, folder: Path | None = None) -> NamedQuery:
    import difflib

    queries = catalog(folder)
    if name not in queries:
        raise KbError("KB050", f"no named query {name!r}",
                      suggestions=difflib.get_close_matches(name, list(queries), n=5))
    return queries[name]
