"""Running SPARQL on the store: prefixes, bound parameters, results as DataFrames."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pyoxigraph as ox

from kb.errors import KbError
from kb.namespaces import PREFIXES, XSD

Term = ox.NamedNode | ox.Literal | ox.BlankNode

_INTEGER = {XSD + t for t in ("integer", "int", "long", "short", "positiveInteger",
                              "nonNegativeInteger", "negativeInteger", "nonPositiveInteger")}
_FLOAT = {XSD + t for t in ("decimal", "double", "float")}


def solutions(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None
) -> tuple[list[str], ox.QuerySolutions]:
    """Run a SELECT on the union of all graphs.

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
    except RuntimeError as exc:
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


def python_value(term: Term | None) -> object:
    """An RDF term as a Python value: IRIs as strings, numbers as int/float, else the text."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt in _INTEGER:
            return int(term.value)
        if dt in _FLOAT:
            return float(term.value)
        if dt == XSD + "boolean":
            return term.value == "true"
        return term.value
    return term.value


def to_frame(
    store: ox.Store, query: str, bindings: Mapping[str, Term] | None = None
) -> pd.DataFrame:
    """A SELECT's solutions as a DataFrame with typed columns."""
    names, result = solutions(store, query, bindings)
    rows = [[python_value(sol[n]) for n in names] for sol in result]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pd.DataFrame({n: _column(list(c)) for n, c in zip(names, columns, strict=True)},
                        columns=names)


def _column(values: list[object]) -> pd.Series:
    """A typed column: Int64 for integers, Float64 for other numbers, boolean, or string."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Float64")
    return pd.Series(values, dtype="string")
