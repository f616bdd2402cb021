"""Running SPARQL on the store: prefixes, bound parameters, results as DataFrames, limits.

Two ways a query runs:

* citykb's own queries (named queries, explain, rank) run in this process, bounded by a row
  cap (:func:`to_frame` with ``max_rows``);
* any other SPARQL (``kb query --file``, ``KnowledgeBase.sparql``) is first checked
  (:func:`check_query`: a read-only SELECT, no ``SERVICE``, no update or ``LOAD``), then run
  by :func:`run_isolated` in a separate process that opens the store read-only, with a
  wall-clock time limit (the process is killed when it is reached), an address-space limit
  and the row cap.

Rows past the cap are never dropped silently: the DataFrame's ``attrs["truncated"]`` is True
and a :class:`TruncatedWarning` is issued.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kb.errors import KbError
from kb.namespaces import PREFIXES, XSD

if TYPE_CHECKING:
    import pandas as pd

Term = ox.NamedNode | ox.Literal | ox.BlankNode

_INTEGER = {XSD + t for t in ("integer", "int", "long", "short", "positiveInteger",
                              "nonNegativeInteger", "negativeInteger", "nonPositiveInteger")}
_FLOAT = {XSD + t for t in ("decimal", "double", "float")}

DEFAULT_TIMEOUT = 60.0
"""Seconds an isolated query may run ($CITYKB_QUERY_TIMEOUT)."""
DEFAULT_MAX_ROWS = 100_000
"""Rows a SELECT may return ($CITYKB_QUERY_MAX_ROWS); more are cut and reported."""
DEFAULT_MEMORY_MB = 2048
"""Address space of the process running an isolated query, MB ($CITYKB_QUERY_MEMORY)."""

_BOUNDS: dict[str, tuple[str, float, float]] = {
    "timeout": ("CITYKB_QUERY_TIMEOUT", 0.1, 86_400),
    "max_rows": ("CITYKB_QUERY_MAX_ROWS", 1, 100_000_000),
    "memory_mb": ("CITYKB_QUERY_MEMORY", 1024, 1_048_576),
}


class TruncatedWarning(UserWarning):
    """A SELECT had more rows than its cap; the answer holds only the first ones."""


@dataclass(frozen=True)
class Limits:
    """The bounds a query runs under."""

    timeout: float = DEFAULT_TIMEOUT
    max_rows: int = DEFAULT_MAX_ROWS
    memory_mb: int = DEFAULT_MEMORY_MB


def limits(timeout: float | None = None, max_rows: int | None = None,
           memory_mb: int | None = None) -> Limits:
    """The limits to use: explicit values, else the environment variables, else the defaults;
    each checked (KB051)."""
    given: dict[str, float | None] = {"timeout": timeout, "max_rows": max_rows,
                                      "memory_mb": memory_mb}
    out: dict[str, Any] = {}
    for key, (env, lo, hi) in _BOUNDS.items():
        value: Any = given[key]
        origin = key.replace("_", "-")
        if value is None and os.environ.get(env):
            origin = f"${env}"
            try:
                value = float(os.environ[env])
            except ValueError:
                raise KbError("KB051", f"{origin} must be a number, got "
                              f"{os.environ[env]!r}") from None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not lo <= value <= hi or (key != "timeout" and value != int(value)):
            kind, span = (("a number of seconds", f"{lo:g} to {hi:g}") if key == "timeout"
                          else ("a whole number", f"{lo:,.0f} to {hi:,.0f}"))
            raise KbError("KB051", f"{origin} must be {kind} from {span}, got {value!r}")
        out[key] = float(value) if key == "timeout" else int(value)
    return Limits(**out)


def solutions(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None
) -> tuple[list[str], ox.QuerySolutions]:
    """Run a SELECT on the union of all graphs, in this process (citykb's own queries).

    ``bindings`` are substituted as RDF terms (SPARQL SEP-0007), never pasted into the query
    text; a bound variable must appear in the SELECT clause.
    """
    subs: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = {
        ox.Variable(k): v for k, v in (bindings or {}).items()
    }
    try:
        result = store.query(query, prefixes=PREFIXES, use_default_graph_as_union=True,
                             substitutions=subs or None)
    except SyntaxError as exc:
        raise KbError("KB052", f"invalid SPARQL: {exc}") from exc
    except (RuntimeError, OSError, ValueError) as exc:
        raise KbError("KB052", str(exc)) from exc
    if not isinstance(result, ox.QuerySolutions):
        raise KbError("KB052", "only SELECT queries return tables")
    return [v.value for v in result.variables], result


def select(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None
) -> list[dict[str, Term | None]]:
    """A SELECT's solutions as dicts of RDF terms."""
    names, result = solutions(store, query, bindings)
    return [{n: sol[n] for n in names} for sol in result]


def records(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None,
) -> list[dict[str, Any]]:
    """A SELECT's solutions as dicts of Python values (:func:`python_value`), in this process;
    no pandas."""
    answer = select_rows(store, query, bindings)
    return [dict(zip(answer.names, r, strict=True)) for r in answer.rows]


def python_value(term: Term | None) -> object:
    """An RDF term as a Python value: IRIs as strings, numbers as int/float, else the text."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        return _literal_value(term.value, term.datatype.value)
    return term.value


def _literal_value(value: str, datatype: str) -> object:
    try:
        if datatype in _INTEGER:
            return int(value)
        if datatype in _FLOAT:
            return float(value)
    except ValueError:  # an ill-typed literal stays text
        return value
    if datatype == XSD + "boolean":
        return value == "true"
    return value


@dataclass
class Rows:
    """A SELECT's answer as plain Python values: column names, rows, and whether rows were cut
    at ``max_rows``."""

    names: list[str]
    rows: list[list[object]]
    truncated: bool = False
    max_rows: int | None = None

    def frame(self) -> pd.DataFrame:
        return frame(self.names, self.rows, truncated=self.truncated, max_rows=self.max_rows)


def select_rows(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None, *,
    max_rows: int | None = None,
) -> Rows:
    """A SELECT's solutions as :class:`Rows` of Python values, run in this process, at most
    ``max_rows`` of them."""
    names, result = solutions(store, query, bindings)
    rows: list[list[object]] = []
    truncated = False
    try:
        for sol in result:
            if max_rows is not None and len(rows) >= max_rows:
                truncated = True
                break
            rows.append([python_value(sol[n]) for n in names])
    except (RuntimeError, OSError, ValueError) as exc:
        raise KbError("KB052", str(exc)) from exc
    return Rows(names, rows, truncated, max_rows)


def to_frame(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None, *,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """A SELECT's solutions as a DataFrame with typed columns, run in this process.

    With ``max_rows``, at most that many rows are read; if there were more, the frame's
    ``attrs["truncated"]`` is True and a :class:`TruncatedWarning` is issued.
    """
    return select_rows(store, query, bindings, max_rows=max_rows).frame()


def frame(names: list[str], rows: list[list[object]], *, truncated: bool = False,
          max_rows: int | None = None) -> pd.DataFrame:
    """Rows of Python values as a typed DataFrame, with ``attrs["truncated"]`` and
    ``attrs["max_rows"]``; a :class:`TruncatedWarning` when rows were cut."""
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    df = pd.DataFrame({n: _column(list(c)) for n, c in zip(names, columns, strict=True)},
                      columns=names)
    df.attrs["truncated"] = truncated
    df.attrs["max_rows"] = max_rows
    if truncated:
        warnings.warn(TruncatedWarning(
            f"the query has more than {max_rows:,} rows; only the first {max_rows:,} are "
            "returned (raise the cap with max_rows=, --max-rows or $CITYKB_QUERY_MAX_ROWS)"),
            stacklevel=3)
    return df


def _column(values: list[object]) -> pd.Series:
    """A typed column: Int64 for integers, Float64 for other numbers, boolean, or string."""
    import pandas as pd

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Float64")
    return pd.Series(values, dtype="string")


# --- untrusted SPARQL: checked, then run in a separate, bounded process ----------------------

_REFUSED = {
    "SERVICE": "SERVICE would query another server",
    "LOAD": "LOAD would fetch a document",
    **{w: "updates are not run" for w in ("INSERT", "DELETE", "CLEAR", "DROP", "CREATE",
                                          "COPY", "MOVE", "ADD", "WITH")},
}
_TOKEN = re.compile(
    r'(?P<comment>#[^\n]*)'
    r'|(?P<string>"""(?:[^\\]|\\.)*?"""' r"|'''(?:[^\\]|\\.)*?'''"
    r'|"(?:[^"\\\n]|\\.)*"' r"|'(?:[^'\\\n]|\\.)*')"
    r'|(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)'
    r'|(?P<var>[?$]\w+)'
    r'|(?P<pname>(?:[^\W\d][\w.-]*)?:[\w.:%-]*)'
    r'|(?P<word>[^\W\d]\w*)'
    r'|(?P<other>\S)',
    re.DOTALL,
)


def keywords(query: str) -> list[str]:
    """The bare words of a SPARQL text, upper-cased: what is left once comments, strings,
    IRIs, variables and prefixed names are taken out (a lexer, not a pattern search)."""
    return [m["word"].upper() for m in _TOKEN.finditer(query) if m["word"]]


def may_be_refused(query: str) -> bool:
    """Whether the query's bare words include one :func:`check_query` refuses (SERVICE,
    LOAD, an update's). Lexing only, so cheap: a query without any can neither call another
    server nor write, and need not be parsed to be let through; one with any is checked."""
    return not set(keywords(query)).isdisjoint(_REFUSED)


def _tree_names(node: object, out: set[str]) -> set[str]:
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        out.add(node.name)
        for v in node.values():
            _tree_names(v, out)
    elif isinstance(node, ParseResults | list | tuple):
        for v in node:
            _tree_names(v, out)
    return out


QUERY_FORMS = frozenset({"SelectQuery", "AskQuery", "ConstructQuery", "DescribeQuery"})
"""The read-only query forms (rdflib's names), all of which ``kb serve`` answers."""


def check_query(query: str, forms: frozenset[str] = frozenset({"SelectQuery"})) -> None:
    """Refuse what a read-only SELECT over the store must not do: ``SERVICE`` (a request to
    another server), updates and ``LOAD`` (KB055); query forms not in ``forms`` (KB052;
    ``kb serve`` passes :data:`QUERY_FORMS`).

    The text is parsed with rdflib's SPARQL grammar and the parse tree inspected; a text that
    grammar does not accept (e.g. SPARQL 1.2 syntax Oxigraph knows) is lexed instead and its
    keywords checked, so a word inside a string, an IRI or a comment never counts.
    """
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    words = set(keywords(query))
    if not words - {"PREFIX", "BASE"}:
        raise KbError("KB052", "the query is empty: give a SELECT query")
    try:
        tree: object = parseQuery(query)
    except Exception:  # not in rdflib's grammar: lexed below, then Oxigraph decides
        tree = None
    if tree is not None:
        names = _tree_names(tree, set())
        if "ServiceGraphPattern" in names:
            raise KbError("KB055", "the query uses SERVICE, which would query another "
                          "server; citykb runs queries over its own store only")
        if not names & forms:
            raise KbError("KB052", "only SELECT queries return tables (not ASK, CONSTRUCT "
                          "or DESCRIBE)")
        return
    try:
        parseUpdate(query)
    except Exception:
        pass
    else:
        if not words & set(_REFUSED):
            raise KbError("KB052", "not a SELECT query")
        raise KbError("KB055", "the text is a SPARQL update (INSERT, DELETE, LOAD, CLEAR …); "
                      "the knowledge base is read-only to queries")
    for word in keywords(query):  # in order, to name the first
        if word in _REFUSED:
            raise KbError("KB055", f"the query uses {word}: {_REFUSED[word]}; citykb runs "
                          "read-only SELECT queries over its own store only")


WORKER = Path(__file__).with_name("sparql_worker.py")


def run_isolated(store_path: Path, query: str, bounds: Limits | None = None) -> pd.DataFrame:
    """Check an arbitrary SELECT (:func:`check_query`) and run it in a separate process that
    opens the store read-only: killed after ``bounds.timeout`` seconds (KB053), limited to
    ``bounds.memory_mb`` of address space (KB054), at most ``bounds.max_rows`` rows."""
    return isolated_rows(store_path, query, bounds).frame()


def isolated_rows(store_path: Path, query: str, bounds: Limits | None = None) -> Rows:
    """:func:`run_isolated`, the answer as :class:`Rows`."""
    bounds = bounds or limits()
    check_query(query)
    request = json.dumps({"store": str(store_path), "query": query, "prefixes": PREFIXES,
                          "max_rows": bounds.max_rows, "memory_mb": bounds.memory_mb})
    # few malloc arenas: each reserves address space, which counts against the limit
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    proc = subprocess.Popen([sys.executable, "-I", str(WORKER)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, errtext = proc.communicate(request.encode("utf-8"), timeout=bounds.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise KbError("KB053", f"the query was stopped after {bounds.timeout:g} s (its time "
                      "limit); raise it with --timeout SECONDS, $CITYKB_QUERY_TIMEOUT or "
                      "timeout=") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    answer = _answer(out)
    if answer is None:
        detail = errtext.decode("utf-8", "replace").strip().splitlines()
        if "memory" in " ".join(detail).lower() or proc.returncode == -6:
            raise _memory_error(bounds)
        how = (f"signal {-proc.returncode}" if proc.returncode < 0
               else f"status {proc.returncode}")
        raise KbError("KB057", f"the query process ended with {how} and no answer"
                      + (f": {detail[-1]}" if detail else ""))
    if "error" in answer:
        kind, message = answer["error"], str(answer.get("message", ""))
        if kind == "memory":
            raise _memory_error(bounds)
        if kind == "syntax":
            raise KbError("KB052", f"invalid SPARQL: {message}")
        if kind == "query" and "lock" in message.lower():
            raise KbError("KB041", f"{store_path} is in use by another process: {message}")
        raise KbError("KB052", message)
    rows = [[_cell_value(c) for c in row] for row in answer["rows"]]
    return Rows(list(answer["names"]), rows, bool(answer["truncated"]), bounds.max_rows)


def _memory_error(bounds: Limits) -> KbError:
    return KbError("KB054", f"the query was stopped: it needed more than {bounds.memory_mb} MB "
                   "(its memory limit); raise it with --memory MB, $CITYKB_QUERY_MEMORY or "
                   "memory_mb=, or narrow the query")


def _answer(out: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def _cell_value(cell: Iterable[str] | None) -> object:
    if cell is None:
        return None
    kind, value, *rest = cell
    if kind == "l":
        return _literal_value(value, rest[0])
    return value
