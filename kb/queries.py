"""Named queries: the .rq files of queries/, their headers, and safe parameter binding.

A query file starts with comment lines::

    # title: Provenance of a city's dimension score
    # description: What the score is made of ...
    # param: city: city — the city (Chinese or English name, slug or IRI)
    # param: top: integer[1..10000] = 10 — how many places (an integer from 1 to 10000)
    # example: kb query dimension-ranking --param dimension=经济实力
    # theme: rankings
    # keywords: 排名 名次
    # column: rank — the rank (1 is best)
    # list: about ;

``theme`` groups the catalogue (``kb query --list``); each ``column`` documents one output
column (``a, b — text`` documents several); ``kb query --search TEXT`` searches all of it.
``list: COLUMN SEPARATOR`` declares a column that joins several values (a GROUP_CONCAT): SPARQL
leaves the order of a GROUP_CONCAT undefined and stores differ (Virtuoso does not follow an
ordered subquery, Oxigraph does), so citykb sorts the joined items (by code point) in the
answer, the same on every store (:meth:`NamedQuery.rows`, :meth:`NamedQuery.records`).

Parameters are validated (type, range, known value, suggestions for near misses) and bound as
RDF terms through SPARQL substitution, never pasted into the query text: the query uses the
parameter as a variable (``?city``). Named queries run in this process under the row cap
(:func:`kb.sparql.limits`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kb import paths
from kb.errors import KbError
from kb.namespaces import XSD
from kb.resolve import KINDS, resolve
from kb.sparql import Rows, Term, limits, records, select_rows

if TYPE_CHECKING:
    import pandas as pd

SCALARS = {"integer": XSD + "integer", "decimal": XSD + "decimal", "string": XSD + "string"}
PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s*:\s*(?P<type>[a-z]+)"
    r"(?:\[(?P<lo>[+-]?\d+)?\.\.(?P<hi>[+-]?\d+)?\])?(?:\s*=\s*(?P<default>\S+))?"
    r"(?:\s*[—-]+\s*(?P<doc>.*))?$"
)


INTEGER_RANGE = (-1_000_000_000, 1_000_000_000)
"""Bounds of an integer parameter whose header declares none."""
MAX_TEXT = 500
"""Longest string parameter accepted."""
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    doc: str
    low: int | None = None
    high: int | None = None

    @property
    def spec(self) -> str:
        """The type as written in the header, with its range (``integer[1..10000]``)."""
        if self.low is None and self.high is None:
            return self.type
        return f"{self.type}[{'' if self.low is None else self.low}.." \
               f"{'' if self.high is None else self.high}]"


@dataclass
class NamedQuery:
    name: str
    path: Path
    title: str
    description: str
    params: list[Param] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    theme: str = "other"
    keywords: str = ""
    """Search words, Chinese ones included (``# keywords: 排名 名次``)."""
    columns: list[tuple[str, str]] = field(default_factory=list)
    """Output columns the header documents: (name, what it holds)."""
    lists: dict[str, str] = field(default_factory=dict)
    """Columns that join several values, and their separators (``# list: about ;``): their
    items are sorted in the answer, whatever order the store concatenated them in."""

    def matches(self, text: str) -> bool:
        """Whether ``text`` (case- and width-insensitive) occurs in the name, title,
        description, theme, a parameter's or a column's name or text, or an example."""
        needle = unicodedata.normalize("NFKC", text).casefold().strip()
        hay = " ".join([self.name, self.title, self.description, self.theme, self.keywords,
                        *(f"{p.name} {p.doc}" for p in self.params),
                        *(f"{c} {d}" for c, d in self.columns), *self.examples])
        return needle in unicodedata.normalize("NFKC", hay).casefold()

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

    def records(self, store: ox.Store, values: dict[str, str]) -> list[dict[str, Any]]:
        """The answer as dicts of Python values, uncapped (for citykb's own use: explain)."""
        out = records(store, self.text, self.bind(store, values))
        for record in out:
            for column, sep in self.lists.items():
                record[column] = sorted_list(record.get(column), sep)
        return out

    def run(self, store: ox.Store, values: dict[str, str], *,
            max_rows: int | None = -1) -> pd.DataFrame:
        """The answer, at most ``max_rows`` rows (default: :func:`kb.sparql.limits`; None for
        no cap); more are cut and reported in ``attrs["truncated"]``."""
        return self.rows(store, values, max_rows=max_rows).frame()

    def rows(self, store: ox.Store, values: dict[str, str], *,
             max_rows: int | None = -1) -> Rows:
        """:meth:`run`, the answer as :class:`kb.sparql.Rows` of Python values (no pandas)."""
        cap = limits().max_rows if max_rows == -1 else max_rows
        answer = select_rows(store, self.text, self.bind(store, values), max_rows=cap)
        for column, sep in self.lists.items():
            if column in answer.names:
                i = answer.names.index(column)
                for row in answer.rows:
                    row[i] = sorted_list(row[i], sep)
        return answer


def sorted_list(value: Any, sep: str) -> Any:
    """A joined list with its items sorted (by code point); other values unchanged."""
    if not isinstance(value, str) or sep not in value:
        return value
    return sep.join(sorted(value.split(sep)))


def _term(store: ox.Store, p: Param, raw: str, framework: str | None) -> Term:
    if len(raw) > MAX_TEXT or any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise KbError("KB051", f"parameter {p.name}: at most {MAX_TEXT} characters and no "
                      "control characters")
    if p.type in KINDS:
        try:
            return ox.NamedNode(resolve(store, p.type, raw, framework))
        except KbError as exc:
            raise KbError(exc.code, f"parameter {p.name}: {exc.message}",
                          suggestions=exc.suggestions) from None
    if p.type == "integer":
        low, high = (INTEGER_RANGE[0] if p.low is None else p.low,
                     INTEGER_RANGE[1] if p.high is None else p.high)
        if not re.fullmatch(r"\s*[+-]?\d{1,12}\s*", raw) or not low <= int(raw) <= high:
            raise KbError("KB051", f"parameter {p.name} must be an integer from {low} to "
                          f"{high}, got {raw!r}")
        return ox.Literal(str(int(raw)), datatype=ox.NamedNode(SCALARS["integer"]))
    if p.type == "decimal":
        if not _DECIMAL.fullmatch(raw.strip()):
            raise KbError("KB051", f"parameter {p.name} must be a number, got {raw!r}")
        return ox.Literal(raw.strip(), datatype=ox.NamedNode(SCALARS["decimal"]))
    if p.type == "iri":
        text = raw.strip().removeprefix("<").removesuffix(">")
        if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+", text):
            raise KbError("KB051", f"parameter {p.name} must be an absolute IRI, got {raw!r}")
        try:
            return ox.NamedNode(text)
        except ValueError as exc:
            raise KbError("KB051", f"parameter {p.name}: {exc}") from None
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
            q.params.append(Param(m["name"], m["type"], m["default"], (m["doc"] or "").strip(),
                                  None if m["lo"] is None else int(m["lo"]),
                                  None if m["hi"] is None else int(m["hi"])))
        elif key == "example":
            q.examples.append(value)
        elif key == "theme":
            q.theme = value
        elif key == "keywords":
            q.keywords = (q.keywords + " " + value).strip()
        elif key == "column":
            parts = re.split(r"\s+[—-]+\s+", value, maxsplit=1)
            names, doc = parts[0], parts[1] if len(parts) > 1 else ""
            q.columns.extend((c.strip(), doc.strip()) for c in names.split(",") if c.strip())
        elif key == "list":
            column, _, sep = value.partition(" ")
            if not re.fullmatch(r"[A-Za-z_]\w*", column) or not sep.strip():
                raise KbError("KB052", f"{path}: bad list header {value!r} (list: COLUMN "
                              "SEPARATOR)")
            q.lists[column] = sep.strip()
    return q


def catalog(folder: Path | None = None) -> dict[str, NamedQuery]:
    """All named queries, by file stem (read again only when a file changes)."""
    folder = folder or paths.queries_dir()
    files = []
    if folder.is_dir():
        with os.scandir(folder) as entries:
            files = sorted((e.name, e.stat()) for e in entries
                           if e.name.endswith(".rq") and e.is_file())
    key = (str(folder), tuple((name, st.st_mtime_ns, st.st_size) for name, st in files))
    if key not in _CATALOGS:
        _CATALOGS.clear()
        _CATALOGS[key] = {name[:-3]: parse_header(name[:-3], folder / name)
                          for name, _ in files}
    return _CATALOGS[key]


_CATALOGS: dict[tuple[str, tuple[tuple[str, int, int], ...]], dict[str, NamedQuery]] = {}


def get(name: str, folder: Path | None = None) -> NamedQuery:
    import difflib

    queries = catalog(folder)
    if name not in queries:
        raise KbError("KB050", f"no named query {name!r}",
                      suggestions=difflib.get_close_matches(name, list(queries), n=5))
    return queries[name]
