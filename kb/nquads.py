"""Writing N-Quads text: terms, and whole observation tables set-wise with pandas."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from kb.namespaces import RDF, XSD

_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def iri(value: str) -> str:
    return f"<{value}>"


def P(namespace: str, local: str) -> str:
    """An IRI term from a namespace and a local name: ``P(ns.KB, "City")``."""
    return f"<{namespace}{local}>"


def lit(value: object, *, lang: str | None = None, datatype: str | None = None) -> str:
    """A literal: strings escaped; a language tag or an XSD datatype."""
    text = str(value).translate(_ESCAPES)
    if lang:
        return f'"{text}"@{lang}'
    if datatype and datatype != XSD + "string":
        return f'"{text}"^^<{datatype}>'
    return f'"{text}"'


def integer(value: int) -> str:
    return lit(int(value), datatype=XSD + "integer")


def _decimal_text(value: float) -> str:
    """Shortest round-tripping positional form: 286 → "286.0", 1e-5 → "0.00001"."""
    return np.format_float_positional(float(value), unique=True, trim="0")


def decimal(value: float) -> str:
    """An xsd:decimal literal that reads back as exactly the same double."""
    return lit(_decimal_text(value), datatype=XSD + "decimal")


class QuadSink:
    """Accumulates N-Quads lines, each graph's statements together."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def add(self, s: str, p: str, o: str, g: str) -> None:
        self._parts.append(f"{s} {p} {o} {g} .\n")

    def typed(self, s: str, cls: str, g: str) -> None:
        self.add(s, iri(RDF + "type"), cls, g)

    def extend_lines(self, lines: Iterator[str] | pd.Series) -> None:
        """Add pre-formatted lines (each ending in ``.\\n``)."""
        self._parts.extend(lines)

    def text(self) -> str:
        return "".join(self._parts)

    def __len__(self) -> int:
        return len(self._parts)


def column_quads(
    subjects: pd.Series, predicate: str, objects: pd.Series, graph: str
) -> pd.Series:
    """One quad per row: ``subjects[i] predicate objects[i] graph`` as N-Quads lines.

    ``subjects`` and ``objects`` are already-formatted terms; rows where the object is
    missing (NA) are dropped.
    """
    keep = objects.notna()
    return subjects[keep] + f" {predicate} " + objects[keep] + f" {graph} .\n"


def decimal_column(values: pd.Series) -> pd.Series:
    """Format a float column as xsd:decimal terms, set-wise."""
    return '"' + values.map(_decimal_text) + f'"^^<{XSD}decimal>'


def double_column(values: pd.Series) -> pd.Series:
    """Format a float column as xsd:double terms that read back as exactly the same doubles."""
    return '"' + values.map(repr) + f'"^^<{XSD}double>'


def integer_column(values: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=values.index, dtype="object")
    ok = values.notna()
    out[ok] = '"' + values[ok].astype("int64").astype(str) + f'"^^<{XSD}integer>'
    return out


def string_column(values: pd.Series) -> pd.Series:
    out = values.astype("object").where(values.notna() & values.ne(""), None)
    ok = out.notna()
    out[ok] = '"' + out[ok].astype(str).str.translate(_ESCAPES) + '"'
    return out
