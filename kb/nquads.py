"""Writing N-Quads text: terms, and whole observation tables set-wise (pandas and Arrow)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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

    def extend_lines(self, lines: Iterator[str] | Lines) -> None:
        """Add pre-formatted lines (each ending in ``.\\n``)."""
        if isinstance(lines, pa.Array | pa.ChunkedArray | pd.Series):
            lines = [x for x in as_arrow(lines).to_pylist() if x is not None]
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
    """Writes N-Quads straight to files, so that bulk tables are never held whole.

    Column-wise lines arrive as Arrow string arrays, whose data buffer already is the text of
    all the lines one after another: it is written as it is, without a Python string per line.
    A new file is started every ``chunk_quads`` statements (between two writes); by default
    everything goes to one file, which Oxigraph's bulk loader loads fastest with its memory
    bounded (see :func:`kb.build.bulk_chunk`).
    """

    def __init__(self, folder: Path, *, chunk_quads: int = 2**62,
                 echo: Callable[[str], None] | None = None) -> None:
        self.folder = folder
        self.chunk_quads = chunk_quads
        self.files: list[Path] = []
        self.count = 0
        self._in_file = 0
        self._echo = echo
        self._fh = self._next()

    def _next(self) -> BinaryIO:
        path = self.folder / f"load-{len(self.files):05d}.nq"
        self.files.append(path)
        self._in_file = 0
        return path.open("wb")

    def _counted(self, quads: int) -> None:
        self.count += quads
        self._in_file += quads
        if self._in_file >= self.chunk_quads:
            self._fh.close()
            self._fh = self._next()

    def extend_lines(self, lines: Lines) -> None:
        """Write pre-formatted lines (each ending in ``.\\n``)."""
        arr = as_arrow(lines).drop_null()
        if not len(arr):
            return
        width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
        offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1]
        data = arr.buffers()[2]
        assert data is not None
        self._fh.write(memoryview(data)[int(offsets[0]):int(offsets[-1])])
        self._counted(len(arr))

    def write_text(self, text: str, quads: int) -> None:
        """Write the small statements of a graph as text (also given to ``echo``)."""
        self._fh.write(text.encode("utf-8"))
        self._counted(quads)
        if self._echo is not None:
            self._echo(text)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> QuadFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Lines: TypeAlias = "pa.Array | pa.ChunkedArray | pd.Series | list[str]"
"""A column of N-Quads lines or terms: Arrow strings, a pandas Series, or a list."""


def as_arrow(values: Lines | str) -> pa.Array:
    """A column as one Arrow string array (nulls kept)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if pa.types.is_string(values.type) or pa.types.is_large_string(
            values.type) else values.cast(pa.string())
    if isinstance(values, pd.Series):
        return pa.array(values.astype("object").where(values.notna(), None), type=pa.string())
    return pa.array(values, type=pa.string())


def join(*parts: Lines | str) -> pa.Array:
    """Concatenate columns and constant strings row by row; a null part makes the row null."""
    return pc.binary_join_element_wise(
        *[p if isinstance(p, str) else as_arrow(p) for p in parts], "")


def column_quads(subjects: Lines, predicate: str, objects: Lines, graph: str) -> pa.Array:
    """One quad per row: ``subjects[i] predicate objects[i] graph`` as N-Quads lines.

    ``subjects`` and ``objects`` are already-formatted terms; rows where the object is
    missing (null) give no line.
    """
    return join(subjects, f" {predicate} ", objects, f" {graph} .\n").drop_null()


def per_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pa.Array:
    """``fn`` applied once per distinct value and spread back (nulls stay null): for columns
    that repeat a few values many times (places, tables, rank points)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    done = as_arrow(fn(pd.Series(uniques)))
    return done.take(pa.array(codes, mask=codes < 0))


def iri_column(values: Lines) -> pa.Array:
    return join("<", values, ">")


def decimal_column(values: pd.Series) -> pa.Array:
    """Format a float column as xsd:decimal terms, set-wise."""
    return per_unique(values, lambda u: '"' + u.map(_decimal_text) + f'"^^<{XSD}decimal>')


def double_column(values: pd.Series) -> pa.Array:
    """Format a float column as xsd:double terms that read back as exactly the same doubles."""
    return per_unique(values, lambda u: '"' + u.map(repr) + f'"^^<{XSD}double>')


def integer_column(values: pd.Series) -> pa.Array:
    """Format an integer column (nullable) as xsd:integer terms; missing values give null."""
    ints = pa.array(values.astype("Int64"), type=pa.int64())
    return join('"', ints.cast(pa.string()), f'"^^<{XSD}integer>')
