"""Writing N-Quads text: terms, and whole observation tables set-wise with pandas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    """Accumulates N-Quads lines in memory (for the small statements of a graph)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._count = 0

    def add(self, s: str, p: str, o: str, g: str) -> None:
        self._parts.append(f"{s} {p} {o} {g} .\n")
        self._count += 1

    def typed(self, s: str, cls: str, g: str) -> None:
        self.add(s, iri(RDF + "type"), cls, g)

    def extend_lines(self, lines: Iterator[str] | pd.Series) -> None:
        """Add pre-formatted lines (each ending in ``.\\n``)."""
        before = len(self._parts)
        self._parts.extend(lines)
        self._count += len(self._parts) - before

    def write_text(self, text: str, quads: int) -> None:
        """Add N-Quads text of ``quads`` statements."""
        self._parts.append(text)
        self._count += quads

    def text(self) -> str:
        return "".join(self._parts)

    def __len__(self) -> int:
        return self._count


class QuadFile:
    """Writes N-Quads lines straight to a file, so that bulk tables are never held whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("w", encoding="utf-8", newline="\n")
        self.count = 0

    def extend_lines(self, lines: Iterator[str] | pd.Series) -> None:
        """Write pre-formatted lines (each ending in ``.\\n``)."""
        if isinstance(lines, pd.Series):
            self.count += len(lines)
            if len(lines):
                self._fh.write(lines.str.cat())
        else:
            for line in lines:
                self._fh.write(line)
                self.count += 1

    def write_text(self, text: str, quads: int) -> None:
        self._fh.write(text)
        self.count += quads

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> QuadFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
