"""data/ → models: read every source folder, validate every row, collect every problem.

:func:`load_catalog` returns a :class:`~kb.models.Catalog` or raises
:class:`~kb.errors.BuildError` listing all problems found (code, file, row, message).
Small tables are validated row by row with pydantic; observation tables set-wise with pandas.

Every file is read the same strict way: it must be a regular file inside the data folder
(symbolic links included), UTF-8, CSV with one field per header column or YAML whose numbers
are plain decimals (``5_9``, ``010`` and ``1:20`` are not read as numbers). A file that fails
to load is reported once; the references other files make to what it would have declared are
not reported again one by one (see :class:`Problems`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from kb.errors import BuildError, KbError, Problem
from kb.graphs import tree_problems
from kb.models import (
    INTEGER,
    NUMBER,
    CallSpec,
    Catalog,
    City,
    Cluster,
    ClusterMember,
    County,
    Edition,
    EditionFigure,
    Erratum,
    Framework,
    FrameworkMeta,
    ListMember,
    Node,
    OtherPlace,
    PrintedList,
    Province,
    Region,
    SourceMeta,
    SourcePackage,
    SourceTableRow,
    Statement,
    Statistic,
    TierMember,
    Tiers,
    WeightSetRow,
    integer_problem,
    number_problem,
    records_value,
)

M = TypeVar("M", bound=BaseModel)

MAX_PER_KIND = 20
"""Problems of one code in one file beyond this many are summarised in one line."""

OBS_COLUMNS = ["place", "concept", "value", "rank", "table", "line", "line_en", "period", "note",
               "row"]

PLACE_TABLES = {"region": "regions.csv", "province": "provinces.csv", "city": "cities.csv",
                "county": "counties.csv", "cluster": "clusters.csv", "country": "places.csv"}
"""The file that declares each kind of place."""

FAST_CSV = 100_000
"""CSV texts longer than this (characters) are read by pandas' C parser when they can be; the
exact record-by-record reader is faster for small files."""

WEIGHT_TOLERANCE = 0.01
"""How far printed sibling weights may be from summing to the whole, as a fraction of it (1
percentage point). Weights printed rounded to whole percents need not add up exactly; every
sibling group of the reports' weighted frameworks (dei2020, dei2020-county: 30 groups) sums to
exactly 100, so the tolerance is only for future reports with rounded weights."""


class Problems:
    """Collects problems, capping repeats of one code in one file.

    Also remembers what failed to load — a kind of place whose table is missing or broken,
    the ids of rows that failed validation, a folder's framework — so that references to
    it are not reported one by one: :meth:`ref` counts them and :meth:`finish` reports one
    line per kind.
    """

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self.failed_kinds: dict[str, str] = {}
        """kind of place → the file that should have declared it and failed to load"""
        self.bad_ids: dict[str, set[str]] = {}
        """kind → ids of rows that were reported invalid"""
        self.failed_frameworks: set[str] = set()
        """folders whose framework failed to load"""
        self.unchecked: Counter[str] = Counter()
        """kind → references not checked because what declares that kind failed"""

    def add(self, code: str, message: str, file: str = "", row: int | None = None) -> None:
        key = (code, file)
        self._counts[key] += 1
        if self._counts[key] <= MAX_PER_KIND:
            self.items.append(Problem(code, message, file, row))

    def ref(self, ref: str, message: str, file: str, row: int | None) -> None:
        """An unknown place reference ``kind:id``: KB020, unless the table declaring that
        kind (or that row) failed to load, already reported."""
        kind, _, ident = ref.partition(":")
        if kind in self.failed_kinds or ident in self.bad_ids.get(kind, set()):
            self.unchecked[kind] += 1
            return
        self.add("KB020", message, file, row)

    def finish(self) -> list[Problem]:
        for kind, n in sorted(self.unchecked.items()):
            if n == 0:
                continue
            cause = self.failed_kinds.get(kind)
            because = (f"{cause} failed to load" if cause
                       else f"the {kind} rows they name are invalid (reported above)")
            what = {"node": "framework nodes", "statistic": "statistics"}.get(
                kind, f"{kind} places")
            self.items.append(Problem(
                "KB021" if kind in ("node", "statistic") else "KB020",
                f"{n} reference{'s' if n != 1 else ''} to {what} not checked because "
                f"{because}", cause or ""))
        for (code, file), n in self._counts.items():
            if n > MAX_PER_KIND:
                self.items.append(
                    Problem(code, f"... and {n - MAX_PER_KIND} more problems of this kind", file)
                )
        return self.items

    def __bool__(self) -> bool:
        return bool(self.items)


_PYDANTIC_CODES = {
    "missing": "KB006",
    "greater_than_equal": "KB005",
    "greater_than": "KB005",
    "less_than_equal": "KB005",
    "less_than": "KB005",
    "string_too_short": "KB006",
    "extra_forbidden": "KB003",
    "model_type": "KB015",
    "model_attributes_type": "KB015",
    "dict_type": "KB015",
    "list_type": "KB015",
}


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _validate(
    model: type[M], record: Any, problems: Problems, file: str, row: int | None
) -> M | None:
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"] if "[" not in str(x))
            kind = str(err["type"])
            code = kind if kind.startswith("KB") else _PYDANTIC_CODES.get(kind, "KB004")
            got = f" (got {_short(err.get('input'))})" if not kind.startswith("KB") else ""
            problems.add(code, f"{field + ': ' if field else ''}{err['msg']}{got}", file, row)
        return None


# --- reading files -----------------------------------------------------------------------

def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _read_text(path: Path, problems: Problems, root: Path) -> str | None:
    """The text of a data file, or None (problem reported) if it is missing, a directory,
    outside the data folder or not UTF-8."""
    file = _rel(path, root)
    if not path.exists():
        target = " (a symbolic link to nothing)" if path.is_symlink() else ""
        problems.add("KB001", f"file not found{target}", file)
        return None
    if not _inside(path, root):
        problems.add("KB008", f"resolves to {path.resolve()}, outside the data folder {root}",
                     file)
        return None
    if path.is_dir():
        problems.add("KB002", "is a directory; a file is expected here", file)
        return None
    if not path.is_file():
        problems.add("KB002", "is not a regular file (a device, socket or pipe)", file)
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.add("KB002", f"cannot be read: {exc.strerror or exc}", file)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        try:
            data.decode("gb18030")
            hint = "; it decodes as GBK/GB18030 (re-save it as UTF-8)"
        except UnicodeDecodeError:
            hint = ""
        problems.add("KB009", f"not UTF-8 text: byte {data[exc.start]:#04x} on line {line} "
                     f"cannot be decoded{hint}", file)
        return None


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's parser when PyYAML has it: the same documents, read faster
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_SafeLoader):
    """YAML with numbers written plainly: an int is ASCII digits with an optional sign, a float
    has a decimal point or an exponent (``.inf`` and ``.nan`` are read, then rejected by the
    models). YAML 1.1's ``5_9`` (59), ``010`` (8), ``0x10`` and ``1:20`` (80) stay strings,
    and a mapping with a repeated key is an error instead of keeping the last value."""


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?[0-9]+$"),
                                   list("-+0123456789"))
StrictLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]+|\.[0-9]+|[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+"
               r"|\.[0-9]+[eE][-+]?[0-9]+)|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def _construct_int(loader: StrictLoader, node: yaml.Node) -> Any:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    return int(text) if INTEGER.fullmatch(text) else text


def _construct_mapping(loader: StrictLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.MappingNode)
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            repeated = key in seen
        except TypeError:
            repeated = False
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
        with contextlib.suppress(TypeError):
            seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(_INT_TAG, _construct_int)
StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def read_yaml(path: Path, problems: Problems, root: Path) -> tuple[bool, Any]:
    """(True, the document) — None for an empty one — or (False, None) with the problem
    reported."""
    text = _read_text(path, problems, root)
    if text is None:
        return False, None
    try:
        return True, yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        problems.add("KB002", f"not valid YAML: {exc}".replace("\n", " "), _rel(path, root))
    except (ValueError, TypeError, RecursionError) as exc:
        problems.add("KB002", f"not valid YAML: {exc}", _rel(path, root))
    return False, None


def _mapping(raw: Any, what: str, problems: Problems, file: str) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    got = "empty" if raw is None else f"a {type(raw).__name__}"
    problems.add("KB015", f"{what} must be a mapping of keys to values; the file is {got}",
                 file)
    return None


def read_csv(
    path: Path, problems: Problems, root: Path, required: Iterable[str]
) -> pd.DataFrame | None:
    """Read a CSV as stripped strings; add a ``row`` column with each row's line number in the
    file (header = 1). Every row must have as many fields as the header."""
    file = _rel(path, root)
    text = _read_text(path, problems, root)
    if text is None:
        return None
    table = _fast_csv(text, problems, file) if len(text) > FAST_CSV else None
    if table is None:
        table = _exact_csv(text, problems, file)
    if table is None or isinstance(table, bool):
        return None
    header = [str(c) for c in table.columns if c != "row"]
    missing = [c for c in required if c not in header]
    if missing:
        problems.add("KB003", f"missing column(s): {', '.join(missing)}", file, 1)
        return None
    return table


def _header(fields: list[str], problems: Problems, file: str) -> list[str] | None:
    header = [h.strip() for h in fields]
    dup = sorted(h for h, n in Counter(header).items() if n > 1)
    if dup:
        problems.add("KB002", f"column(s) {', '.join(map(repr, dup))} appear more than once "
                     "in the header", file, 1)
        return None
    if "" in header or "row" in header:
        problems.add("KB002", "a header column is empty or named 'row'", file, 1)
        return None
    return header


def _fast_csv(text: str, problems: Problems, file: str) -> pd.DataFrame | bool | None:
    """A CSV without quotes, lone carriage returns or NUL characters, read by pandas' C parser
    after checking, line by line, that each row has as many fields as the header. None when
    the text needs the exact reader; False when it failed (problems reported)."""
    if '"' in text or "\x00" in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    lines = pd.Series(text.split("\n"), dtype="str")
    if lines.empty or lines.iloc[0] == "":
        problems.add("KB002", "the file is empty: a header row is expected", file)
        return False
    header = _header(str(lines.iloc[0]).split(","), problems, file)
    if header is None:
        return False
    body = lines.iloc[1:]
    filled = body.ne("")
    counts = body.str.count(",") + 1
    bad = filled & counts.ne(len(header))
    for i, n in zip(body.index[bad], counts[bad], strict=True):
        problems.add("KB002", f"{n} fields, but the header has {len(header)}", file, int(i) + 1)
    if bad.any():
        return False
    try:
        df = pd.read_csv(io.StringIO(text), dtype="str", header=0, names=header,
                         keep_default_na=False, na_filter=False, skip_blank_lines=True,
                         engine="c", quoting=csv.QUOTE_NONE)
    except (pd.errors.ParserError, ValueError):
        return None
    if len(df) != int(filled.sum()):
        return None
    for col in header:
        df[col] = df[col].str.strip()
    df["row"] = (body.index[filled] + 1).to_numpy()
    return df


def _exact_csv(text: str, problems: Problems, file: str) -> pd.DataFrame | None:
    """Any CSV, quoted fields included, read record by record (slower)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    broken = False
    try:
        first = next(reader, None)
        if first is None:
            problems.add("KB002", "the file is empty: a header row is expected", file)
            return None
        header = _header(first, problems, file)
        if header is None:
            return None
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                problems.add("KB002", f"{len(fields)} fields, but the header has "
                             f"{len(header)}", file, reader.line_num)
                broken = True
                continue
            rows.append([f.strip() for f in fields])
            lines.append(reader.line_num)
    except csv.Error as exc:
        problems.add("KB002", f"not valid CSV: {exc}", file, reader.line_num)
        return None
    if broken:
        return None
    df = pd.DataFrame(rows, columns=header, dtype="str")
    df["row"] = lines
    return df


# --- rows --------------------------------------------------------------------------------

def _records(
    df: pd.DataFrame, model: type[M], problems: Problems, file: str,
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    columns: Iterable[str] = (),
) -> list[M]:
    """Validate each row; columns the model does not know (beyond ``columns``, consumed by
    ``convert``) are reported once."""
    known = set(model.model_fields) | set(columns) | {"row"}
    extra = [c for c in df.columns if c not in known]
    if extra:
        problems.add("KB003", f"unknown column(s): {', '.join(extra)}; known: "
                     f"{', '.join(sorted(known - {'row', 'order'}))}", file, 1)
        df = df.drop(columns=extra)
    out: list[M] = []
    for rec in df.to_dict("records"):
        clean: dict[str, Any] = {str(k): v for k, v in rec.items() if v != ""}
        if convert:
            clean = convert(clean)
        item = _validate(model, clean, problems, file, int(rec["row"]))
        if item is not None:
            out.append(item)
    return out


def _duplicates(items: Iterable[Any], what: str, problems: Problems, file: str) -> None:
    seen: dict[str, int] = {}
    for item in items:
        if item.id in seen:
            problems.add(
                "KB010", f"duplicate {what} id {item.id!r} (first at row {seen[item.id]})",
                file, item.row,
            )
        else:
            seen[item.id] = item.row


def _node_record(rec: dict[str, Any]) -> dict[str, Any]:
    if "data_source" in rec:
        rec["data_source"] = [s.strip() for s in rec["data_source"].split(";") if s.strip()]
    if rec.get("direction") in ("1", "+1", "-1"):
        rec["direction"] = int(rec["direction"])
    for kind in ("normalise", "aggregate", "treat"):
        params = rec.pop(f"{kind}_params", None)
        if params is not None and kind not in rec:
            rec[kind] = {"name": "", "params": f"{kind}_params given without {kind}"}
        elif kind in rec:
            try:
                rec[kind] = {"name": rec[kind], "params": json.loads(params) if params else {}}
            except (json.JSONDecodeError, RecursionError) as exc:
                rec[kind] = {"name": rec[kind], "params": f"not JSON: {exc}"}
    return rec


LANGUAGES = {"zh": "a Chinese", "en": "an English"}


def languages(meta: SourceMeta) -> tuple[str, ...]:
    """The languages a folder's names must be given in: Chinese and English, or only English
    for a source whose seed texts are all in other languages (the COINr ASEM example)."""
    if meta.seeds and "zh" not in meta.seeds:
        return ("en",)
    return ("zh", "en")


def _names(items: Iterable[Any], langs: tuple[str, ...], what: str, problems: Problems,
           file: str, prefix: str = "name", rows: bool = True) -> None:
    """Every item has its name in each required language (downstream queries select labels
    by language: a missing one would drop the item from their answers)."""
    for i, item in enumerate(items, start=1):
        for lang in langs:
            if not getattr(item, f"{prefix}_{lang}", ""):
                ident = getattr(item, "id", None)
                problems.add("KB006", f"{prefix}_{lang}: {what}{f' {ident!r}' if ident else ''} "
                             f"needs {LANGUAGES[lang]} {prefix}", file,
                             (getattr(item, "row", None) or i) if rows else None)


# --- numbers in observation tables -------------------------------------------------------

def _text(values: pd.Series) -> pd.Series:
    """A column as strings, missing cells as empty strings."""
    return values.fillna("").astype("str").fillna("")


def _strict_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text → float64 (correctly rounded, as Python's float), and a mask of cells that are
    not empty but not an acceptable number (see :func:`kb.models.number_problem`)."""
    text = _text(values)
    ok = text.str.fullmatch(NUMBER.pattern).fillna(False).astype(bool)
    floats = pd.Series(np.asarray(text.where(ok, "nan"), dtype=object).astype(np.float64),
                       index=values.index)
    too_big = ok & ~(floats.abs() < 1e15)
    floats = floats.where(~too_big, float("nan"))
    bad = (~ok & text.ne("")) | too_big
    return floats, bad


def parse_float(values: pd.Series) -> pd.Series:
    """Text → float, correctly rounded (pandas' own CSV and to_numeric parsers can be off by
    one unit in the last place); text that is not a plain finite decimal → NaN."""
    return _strict_numbers(values)[0]


def _strict_integers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text → Int64 and a mask of non-empty cells that are not whole numbers."""
    text = _text(values)
    ok = (text.str.fullmatch(INTEGER.pattern) & text.str.len().le(15)).fillna(False)
    ok = ok.astype(bool)
    ints = pd.Series(np.asarray(text.where(ok, "0"), dtype=object).astype(np.int64),
                     index=values.index).astype("Int64")
    ints[~ok] = None
    return ints, ~ok & text.ne("")


def _read_observations(
    path: Path, problems: Problems, root: Path, *, place: str, concept: str, value: str,
    rank: str | None,
) -> pd.DataFrame | None:
    """Read an observation table into the canonical columns of :data:`OBS_COLUMNS`."""
    required = [concept, value, "table", "line"] + ([rank] if rank else [])
    df = read_csv(path, problems, root, required)
    if df is None:
        return None
    file = _rel(path, root)
    if rank is None and "rank" in df.columns:
        rank = "rank"       # a printed rank beside a value (a statistic's table), optional
    if "place" in df.columns:
        places = df["place"]
    elif place in df.columns:
        places = ("city:" + df[place]).where(df[place].ne(""), "")
    else:
        problems.add("KB003", "missing column: place (or city)", file, 1)
        return None
    values, bad_values = _strict_numbers(df[value])
    empty = pd.Series(float("nan"), index=df.index)
    ranks, bad_ranks = _strict_integers(df[rank]) if rank else (empty, empty.notna())
    lines, bad_lines = _strict_integers(df["line"])
    if "line_en" in df:
        lines_en, bad_lines_en = _strict_integers(df["line_en"])
    else:
        lines_en, bad_lines_en = empty.astype("Int64"), empty.notna()
    out = pd.DataFrame(
        {
            "place": places,
            "concept": df[concept],
            "value": values,
            "rank": ranks,
            "table": df["table"],
            "line": lines,
            "line_en": lines_en,
            "period": df.get("period", ""),
            "note": df.get("note", ""),
            "row": df["row"],
        }
    )
    for r, raw in zip(df.loc[bad_values, "row"], df.loc[bad_values, value], strict=True):
        found = number_problem(str(raw)) or ("KB007", f"{raw!r} is too large")
        problems.add(found[0], f"{value}: {found[1]}", file, int(r))
    for r in df.loc[df[value].eq(""), "row"]:
        problems.add("KB006", f"{value}: the value is empty", file, int(r))
    checks: list[tuple[str | None, pd.Series]] = [
        (rank, bad_ranks), ("line", bad_lines), ("line_en", bad_lines_en)]
    for col, bad in checks:
        if col is None or not bad.any():
            continue
        for r, raw in zip(df.loc[bad, "row"], df.loc[bad, col], strict=True):
            found = integer_problem(str(raw)) or ("KB007", f"{raw!r} is too large")
            problems.add(found[0], f"{col}: {found[1]}", file, int(r))
    for col in ("rank", "line", "line_en"):
        low = out[col].notna() & (out[col] < 1)
        for r, v in zip(out.loc[low, "row"], out.loc[low, col], strict=True):
            problems.add("KB005", f"{col} {v} is not a positive integer", file, int(r))
    for cells, label in ((places, "place"), (df[concept], concept)):
        for r in df.loc[cells.eq(""), "row"]:
            problems.add("KB006", f"{label}: the cell is empty", file, int(r))
    # a period becomes the observation's sdmx-dimension:refPeriod, an xsd:gYear
    periods = out["period"].astype("str")
    odd = periods.ne("") & ~periods.str.fullmatch(r"[0-9]{4}")
    for r, v in zip(out.loc[odd, "row"], periods[odd], strict=True):
        problems.add("KB004", f"period {v!r} is not a year (YYYY)", file, int(r))
    dup = out.duplicated(["place", "concept", "period"], keep="first")
    for r, p, c in zip(out.loc[dup, "row"], out.loc[dup, "place"], out.loc[dup, "concept"],
                       strict=True):
        problems.add("KB011", f"a second value for place {p!r} and {c!r}", file, int(r))
    return out


# --- frameworks --------------------------------------------------------------------------

def _declared(folder: Path, name: str, key: str, problems: Problems, root: Path,
              file: str) -> Path | None:
    """A file named in framework.yaml: it must lie inside the data folder."""
    path = folder / name
    lexical = Path(os.path.normpath(path.absolute()))
    if Path(name).is_absolute() or not lexical.is_relative_to(root):
        problems.add("KB008", f"{key}: {name!r} points outside the data folder; declared files "
                     "must lie inside it", file)
        return None
    return path


def _load_framework(
    folder: Path, meta_raw: Any, pkg: SourcePackage, problems: Problems, root: Path
) -> Framework | None:
    file = _rel(folder / "framework.yaml", root)
    raw = _mapping(meta_raw, "framework.yaml", problems, file)
    meta = _validate(FrameworkMeta, raw, problems, file, None) if raw is not None else None
    nodes_df = read_csv(folder / "framework.csv", problems, root,
                        ["id", "level", "parent", "name_zh", "name_en"])
    if meta is None or nodes_df is None:
        return None
    langs = languages(pkg.meta)
    _names([meta], langs, "framework", problems, file, rows=False)
    nodes_file = _rel(folder / "framework.csv", root)
    if "order" in nodes_df.columns:
        problems.add("KB003", "unknown column: order (a node's order is its row order among "
                     "its siblings)", nodes_file, 1)
        nodes_df = nodes_df.drop(columns="order")
    nodes_df["order"] = nodes_df.groupby("parent").cumcount().add(1).astype(str)
    nodes = _records(nodes_df, Node, problems, nodes_file, _node_record,
                     columns=("normalise_params", "aggregate_params", "treat_params"))
    problems.bad_ids.setdefault(f"node:{meta.id}", set()).update(
        set(nodes_df["id"]) - {n.id for n in nodes})
    _duplicates(nodes, "node", problems, nodes_file)
    for n in nodes:
        if n.id == meta.id:
            problems.add("KB010", f"node id {n.id!r} is the framework's own id", nodes_file,
                         n.row)
    _names(nodes, langs, "node", problems, nodes_file)
    _check_weights(meta, nodes, problems, nodes_file)
    _undeclared(folder, meta, problems, root, file)

    meta, nodes = _check_methods(meta, nodes, problems, file, nodes_file)
    units: list[dict[str, str]] = []
    if meta.units is not None:
        u_path = _declared(folder, meta.units, "units", problems, root, file)
        u = read_csv(u_path, problems, root, ["place"]) if u_path is not None else None
        if u_path is None or u is None:
            return None
        units = _unit_attributes(u, problems, _rel(u_path, root))
    weight_sets: list[WeightSetRow] = []
    if meta.weight_sets is not None:
        ws_path = _declared(folder, meta.weight_sets, "weight_sets", problems, root, file)
        ws = (read_csv(ws_path, problems, root, ["set", "node", "weight"])
              if ws_path is not None else None)
        if ws_path is None or ws is None:
            return None
        ws_file = _rel(ws_path, root)
        weight_sets = _records(ws, WeightSetRow, problems, ws_file)
        known = {n.id for n in nodes}
        for w in weight_sets:
            if w.node not in known:
                problems.add("KB021", f"weight set {w.set!r}: unknown node {w.node!r}",
                             ws_file, w.row)
    spec = meta.inputs
    inputs = None
    if spec is not None:
        in_path = _declared(folder, spec.file, "inputs.file", problems, root, file)
        if in_path is None:
            return None
        inputs = _read_observations(in_path, problems, root, place="city",
                                    concept=spec.concept_column, value=spec.value_column,
                                    rank=None)
        if inputs is None:
            return None
    published = None
    if meta.published is not None:
        pub_path = _declared(folder, meta.published.file, "published.file", problems, root,
                             file)
        if pub_path is None:
            return None
        published = _read_observations(pub_path, problems, root, place="city",
                                       concept="concept", value="score", rank="rank")
        if published is None:
            return None
    return Framework(meta=meta, source=pkg.meta.id, nodes=nodes, inputs=inputs,
                     published=published, weight_sets=weight_sets, units=units)


_KNOWN_FILES = {"source.yaml", "framework.yaml", "framework.csv", "errata.yaml",
                "statements.yaml", "tiers.yaml", "tier_members.csv", "statistics.csv",
                "statistics_values.csv", "cluster_members.csv", "tables.csv", "lists.csv",
                "list_members.csv", "editions.csv", "edition_figures.csv",
                *PLACE_TABLES.values()}


def _undeclared(folder: Path, meta: FrameworkMeta, problems: Problems, root: Path,
                file: str) -> None:
    """A CSV in a framework's folder that nothing reads: usually a framework.yaml that lost
    its ``inputs:`` or ``published:`` (a file cut short), which would silently leave the
    framework unscored or unverified."""
    declared = {meta.weight_sets, meta.units, meta.inputs.file if meta.inputs else None,
                meta.published.file if meta.published else None}
    for path in sorted(folder.glob("*.csv")):
        if path.name not in _KNOWN_FILES and path.name not in declared:
            problems.add("KB006", f"{path.name} is in the folder but framework.yaml declares it "
                         "nowhere (inputs.file, published.file or weight_sets)", file)


def _siblings(parent: str | None) -> str:
    return "the dimensions" if parent is None else f"the children of {parent!r}"


def _check_weights(meta: FrameworkMeta, nodes: list[Node], problems: Problems,
                   file: str) -> None:
    """Printed weights against what they are declared to be (``weights: {unit, basis}``):
    shares of the parent sum to the whole within each sibling group; shares of the total sum
    to the whole within each level, and a parent's weight is the sum of its children's."""
    unit, basis = meta.weights.unit, meta.weights.basis
    groups: dict[str | None, list[Node]] = {}
    for n in nodes:
        groups.setdefault(n.parent, []).append(n)
    for parent, sibs in groups.items():
        given = [n for n in sibs if n.weight is not None]
        if given and len(given) < len(sibs):
            missing = [n.id for n in sibs if n.weight is None]
            problems.add("KB012", f"weights of {_siblings(parent)} are given for some only; "
                         f"missing for {', '.join(missing)}",
                         file, next(n.row for n in sibs if n.weight is None))
    if unit is None or basis is None:
        return
    whole = 100.0 if unit == "percent" else 1.0
    tol = WEIGHT_TOLERANCE * whole

    def report(what: str, total: float, row: int | None) -> None:
        problems.add("KB012", f"{what} sum to {total:g}, not {whole:g} (weights: "
                     f"{{unit: {unit}, basis: {basis}}})", file, row)

    if basis == "parent":
        for parent, sibs in groups.items():
            ws = [n.weight for n in sibs if n.weight is not None]
            if len(ws) == len(sibs) and abs(math.fsum(ws) - whole) > tol:
                report(f"the weights of {_siblings(parent)}", math.fsum(ws), sibs[0].row)
        return
    for level in ("dimension", "variable", "indicator"):
        of_level = [n for n in nodes if n.level == level and n.weight is not None]
        total = math.fsum(n.weight for n in of_level if n.weight is not None)
        if of_level and abs(total - whole) > tol:
            report(f"the {level} weights", total, of_level[0].row)
    by_id = {n.id: n for n in nodes}
    for parent, sibs in groups.items():
        p = by_id.get(parent) if parent is not None else None
        ws = [n.weight for n in sibs if n.weight is not None]
        if (p is not None and p.weight is not None and len(ws) == len(sibs)
                and abs(math.fsum(ws) - p.weight) > tol):
            problems.add("KB012", f"the weights of the children of {parent!r} sum to "
                         f"{math.fsum(ws):g}, not its own weight {p.weight:g} (basis: total)",
                         file, sibs[0].row)


def _check_methods(meta: FrameworkMeta, nodes: list[Node], problems: Problems, file: str,
                   nodes_file: str) -> tuple[FrameworkMeta, list[Node]]:
    """Every method named must be in the registry, with parameters it takes, of the right
    type (KB004 unknown method, KB120 unknown parameter, KB121 bad value). COINr's names of
    methods and parameters are accepted and turned into citykb's."""
    from kb import methods

    def check(kind: str, call: CallSpec | None, where: str, row: int | None) -> CallSpec | None:
        if call is None:
            return None
        name = methods.ALIASES.get((kind, call.name), call.name)
        if name not in methods.names(kind):
            problems.add("KB004", f"unknown {kind} method {call.name!r}; known: "
                         f"{', '.join(methods.names(kind))}", where, row)
            return call
        try:
            name, params = methods.canonical(kind, name, dict(call.params))
        except KbError as e:
            problems.add(e.code, e.message, where, row)
            return call
        return CallSpec(name=name, params=params)

    m = meta.method
    update = {kind: check(kind, getattr(m, kind), file, None)
              for kind in ("normalise", "aggregate", "impute", "screen", "treat")}
    meta = meta.model_copy(update={"method": m.model_copy(update=update)})
    out = []
    for n in nodes:
        out.append(n.model_copy(update={
            kind: check(kind, getattr(n, kind), nodes_file, n.row)
            for kind in ("normalise", "aggregate", "treat")}))
    return meta, out


def _check_unit_methods(fw: Framework, problems: Problems, file: str,
                        nodes_file: str) -> None:
    """Denominators and imputation groups must be declared unit attributes (a city's province
    and region always are)."""
    declared = {k for u in fw.units for k in u if k not in ("place", "row")}
    imp = fw.meta.method.impute
    group = imp.params.get("group", "region") if imp.name.startswith("group-") else None
    if group is not None and group not in declared | {"province", "region"}:
        problems.add("KB122", f"imputation by group: no unit attribute {group!r} is declared "
                     f"(units file: {', '.join(sorted(declared)) or 'none'}; cities also have "
                     f"province and region)", file)
    for n in fw.nodes:
        if n.denominator is not None and n.denominator not in declared:
            problems.add("KB123", f"{n.id}: its denominator {n.denominator!r} is not a "
                         f"declared unit attribute (declared: "
                         f"{', '.join(sorted(declared)) or 'none'})", nodes_file, n.row)


def _check_panel(fw: Framework, problems: Problems, file: str) -> None:
    """A panel's inputs give every value its year, and span several years; inputs that span
    several years are a panel (KB127)."""
    if fw.inputs is None or fw.meta.inputs is None:
        if fw.meta.panel:
            problems.add("KB127", "panel: true, but the framework has no inputs", file)
        return
    years = fw.inputs["period"].astype(str)
    distinct = sorted(set(years) - {""})
    if fw.meta.panel:
        for r in fw.inputs.loc[years.eq(""), "row"][:5]:
            problems.add("KB127", "panel: an input value without its year (period column)",
                         f"{file.rsplit('/', 1)[0]}/{fw.meta.inputs.file}", int(r))
        if len(distinct) < 2:
            problems.add("KB127", f"panel: true, but the inputs span "
                         f"{len(distinct)} year(s) (a period column with several years)", file)
    elif len(distinct) > 1:
        problems.add("KB127", f"the inputs span the years {', '.join(distinct)}: declare "
                     "panel: true to score them as a panel", file)
    imp = fw.meta.method.impute.name
    if imp in PANEL_IMPUTATION and not fw.meta.panel:
        problems.add("KB127", f"imputation {imp!r} works across the years of a panel; "
                     "declare panel: true (and give the inputs a period column)", file)


PANEL_IMPUTATION = ("latest", "linear")
"""Imputation methods that work across the years of a panel."""


def _check_sensitivity(fw: Framework, problems: Problems, file: str) -> None:
    """A declared sensitivity analysis names nodes of the framework and known methods
    (KB126); it needs inputs to score."""
    from kb import methods

    spec = fw.meta.sensitivity
    if spec is None:
        return
    if fw.meta.inputs is None:
        problems.add("KB126", "sensitivity: the framework has no inputs to score", file)
    if fw.meta.panel:  # its ranks would mix the years
        problems.add("KB126", "sensitivity: not for a panel (ranks are within each year); "
                     "analyse one year's framework instead", file)
    ids = {n.id for n in fw.nodes}
    for f in spec.factors:
        wanted = [f.node] if f.kind == "weight" else f.choices if f.kind == "drop" else []
        for node in wanted:
            if node is not None and node not in ids:
                problems.add("KB126", f"sensitivity factor {f.name!r}: no node {node!r} in "
                             "framework.csv", file)
        if f.kind in ("aggregate", "normalise", "impute"):
            for c in f.choices:
                name = methods.ALIASES.get((f.kind, str(c)), str(c))
                if name not in methods.names(f.kind):
                    problems.add("KB126", f"sensitivity factor {f.name!r}: unknown {f.kind} "
                                 f"method {c!r}; known: {', '.join(methods.names(f.kind))}",
                                 file)
    names = [f.name for f in spec.factors]
    if len(set(names)) < len(names):
        problems.add("KB126", "sensitivity: two factors have the same name", file)


def _unit_attributes(df: pd.DataFrame, problems: Problems, file: str) -> list[dict[str, str]]:
    """Rows of a units file: ``place`` (a ``kind:id`` reference) and its attributes as text
    (numbers are parsed where used, as denominators)."""
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for rec in df.to_dict("records"):
        row = int(rec.pop("row"))
        place = str(rec.get("place") or "").strip()
        if ":" not in place:
            problems.add("KB125", f"place {place!r} is not a kind:id reference", file, row)
            continue
        if place in seen:
            problems.add("KB125", f"place {place!r} is already given on row {seen[place]}",
                         file, row)
            continue
        seen[place] = row
        out.append({str(k): str(v) for k, v in rec.items() if v is not None and str(v) != ""}
                   | {"row": str(row)})
    return out


# --- folders -----------------------------------------------------------------------------

def load_source(folder: Path, problems: Problems, root: Path) -> SourcePackage | None:
    """Read one data/ folder."""
    file = _rel(folder / "source.yaml", root)
    ok, raw = read_yaml(folder / "source.yaml", problems, root)
    raw = _mapping(raw, "source.yaml", problems, file) if ok else None
    meta = _validate(SourceMeta, raw, problems, file, None) if raw is not None else None
    if meta is None:
        for kind, name in PLACE_TABLES.items():
            if (folder / name).exists():
                problems.failed_kinds.setdefault(kind, file)
        if (folder / "framework.yaml").exists():
            problems.failed_frameworks.add(folder.name)
        return None
    langs = languages(meta)
    if _present(folder / "framework.yaml") or _present(folder / "statements.yaml"):
        _names([meta], langs, "report", problems, file, prefix="title", rows=False)
    _names(meta.data_sources, langs, "data source", problems, file)
    _names(meta.publishers, langs, "publisher", problems, file)
    pkg = SourcePackage(folder=folder.name, meta=meta)
    tables: list[tuple[str, type[BaseModel], list[str], str, str]] = [
        ("regions.csv", Region, ["id", "name_zh", "name_en"], "regions", "region"),
        ("provinces.csv", Province, ["id", "name_zh", "name_en", "kind", "region"], "provinces",
         "province"),
        ("cities.csv", City, ["id", "name_zh", "name_en", "province"], "cities", "city"),
        ("counties.csv", County, ["id", "name_zh", "kind", "city", "province"], "counties",
         "county"),
        ("places.csv", OtherPlace, ["id", "kind", "name_en"], "places", "country"),
        ("clusters.csv", Cluster, ["id", "name_zh", "kind"], "clusters", "cluster"),
    ]
    for name, model, required, attr, kind in tables:
        path = folder / name
        if not (path.exists() or path.is_symlink()):
            continue
        df = read_csv(path, problems, root, required)
        if df is None:
            problems.failed_kinds.setdefault(kind, _rel(path, root))
            continue
        items = _records(df, model, problems, _rel(path, root))
        _duplicates(items, kind, problems, _rel(path, root))
        if kind in ("county", "cluster"):
            _names(items, langs, kind, problems, _rel(path, root))
        if "id" in df.columns:
            problems.bad_ids.setdefault(kind, set()).update(
                set(df["id"]) - {getattr(i, "id", "") for i in items})
        setattr(pkg, attr, items)
    if _present(folder / "cluster_members.csv"):
        path = folder / "cluster_members.csv"
        df = read_csv(path, problems, root, ["cluster", "place"])
        if df is not None:
            pkg.members = _records(df, ClusterMember, problems, _rel(path, root))
        if not _present(folder / "clusters.csv"):
            problems.add("KB001", "file not found: cluster_members.csv names clusters this "
                         "file should declare", _rel(folder / "clusters.csv", root))
            problems.failed_kinds.setdefault("cluster", _rel(folder / "clusters.csv", root))
    if _present(folder / "statistics.csv") or _present(folder / "statistics_values.csv"):
        path = folder / "statistics.csv"
        df = read_csv(path, problems, root, ["id", "unit"])
        if df is not None:
            pkg.statistics = _records(df, Statistic, problems, _rel(path, root))
            _duplicates(pkg.statistics, "statistic", problems, _rel(path, root))
            _names(pkg.statistics, langs, "statistic", problems, _rel(path, root))
            problems.bad_ids.setdefault(f"statistic:{folder.name}", set()).update(
                set(df["id"]) - {st.id for st in pkg.statistics})
        else:
            problems.failed_kinds[f"statistic:{folder.name}"] = _rel(path, root)
            problems.failed_kinds.setdefault("statistic", _rel(path, root))
        pkg.statistic_values = _read_observations(
            folder / "statistics_values.csv", problems, root, place="place",
            concept="statistic", value="value", rank=None)
    _load_tables_and_lists(folder, pkg, langs, problems, root)
    if _present(folder / "statements.yaml"):
        pkg.statements = _read_list(folder / "statements.yaml", Statement, "statement",
                                    problems, root)
    if _present(folder / "tiers.yaml"):
        _load_tiers(folder, pkg, langs, problems, root)
    if _present(folder / "framework.yaml"):
        ok, fw_raw = read_yaml(folder / "framework.yaml", problems, root)
        fw = _load_framework(folder, fw_raw, pkg, problems, root) if ok else None
        if fw is not None:
            pkg.frameworks.append(fw)
        else:
            problems.failed_frameworks.add(folder.name)
    if _present(folder / "errata.yaml"):
        pkg.errata = _read_list(folder / "errata.yaml", Erratum, "erratum", problems, root)
    return pkg


def _load_tables_and_lists(folder: Path, pkg: SourcePackage, langs: tuple[str, ...],
                           problems: Problems, root: Path) -> None:
    """``tables.csv`` (each table's title and data source) and ``lists.csv`` with
    ``list_members.csv`` (the lists of places a report prints)."""
    sources = {d.id for d in pkg.meta.data_sources}
    if _present(folder / "tables.csv"):
        path = folder / "tables.csv"
        df = read_csv(path, problems, root, ["id", "title_zh"])
        if df is not None:
            pkg.tables = _records(df, SourceTableRow, problems, _rel(path, root))
            _duplicates(pkg.tables, "table", problems, _rel(path, root))
            for t in pkg.tables:
                for d in t.data_source:
                    if d not in sources:
                        problems.add("KB141", f"table {t.id!r}: data source {d!r} is not "
                                     "declared in source.yaml (data_sources)",
                                     _rel(path, root), t.row)
    if _present(folder / "lists.csv") or _present(folder / "list_members.csv"):
        path = folder / "lists.csv"
        df = read_csv(path, problems, root, ["id", "name_zh", "kind", "period"])
        if df is not None:
            pkg.lists = _named_records(df, PrintedList, "list", langs, problems,
                                       _rel(path, root))
        mpath = folder / "list_members.csv"
        mdf = read_csv(mpath, problems, root, ["list", "place", "position"])
        if mdf is not None:
            pkg.list_members = _records(mdf, ListMember, problems, _rel(mpath, root))
            known = {lst.id for lst in pkg.lists}
            for m in pkg.list_members:
                if df is not None and m.list not in known:
                    problems.add("KB141", f"list member of unknown list {m.list!r} (declare "
                                 "it in lists.csv)", _rel(mpath, root), m.row)
    _load_editions(folder, pkg, langs, problems, root)


def _named_records(df: pd.DataFrame, model: type[M], kind: str, langs: tuple[str, ...],
                   problems: Problems, file: str) -> list[M]:
    """The rows of a file of named things (lists, editions): valid, unique, named in every
    required language."""
    items = _records(df, model, problems, file)
    _duplicates(items, kind, problems, file)
    _names(items, langs, kind, problems, file)
    return items


def _load_editions(folder: Path, pkg: SourcePackage, langs: tuple[str, ...],
                   problems: Problems, root: Path) -> None:
    """``editions.csv`` (the report's edition and the earlier ones it mentions) and
    ``edition_figures.csv`` (what it states about each)."""
    if not (_present(folder / "editions.csv") or _present(folder / "edition_figures.csv")):
        return
    path = folder / "editions.csv"
    df = read_csv(path, problems, root, ["id", "name_zh", "year", "role"])
    if df is not None:
        pkg.editions = _named_records(df, Edition, "edition", langs, problems, _rel(path, root))
        current = [e for e in pkg.editions if e.role == "current"]
        if len(current) > 1:
            problems.add("KB142", f"{len(current)} editions are marked current "
                         f"({', '.join(e.id for e in current)}); a report is one edition",
                         _rel(path, root), current[1].row)
    if not _present(folder / "edition_figures.csv"):
        return
    fpath = folder / "edition_figures.csv"
    fdf = read_csv(fpath, problems, root, ["edition", "figure", "name_zh", "value"])
    if fdf is None:
        return
    pkg.edition_figures = _records(fdf, EditionFigure, problems, _rel(fpath, root))
    known = {e.id for e in pkg.editions}
    seen: dict[tuple[str, str, str], int] = {}
    for f in pkg.edition_figures:
        if df is not None and f.edition not in known:
            problems.add("KB141", f"figure {f.figure!r} of unknown edition {f.edition!r} "
                         "(declare it in editions.csv)", _rel(fpath, root), f.row)
        key = (f.edition, f.figure, f.place)
        if key in seen:
            problems.add("KB142", f"figure {f.figure!r} of edition {f.edition!r}"
                         + (f" for {f.place}" if f.place else "")
                         + f" is given twice (rows {seen[key]} and {f.row})",
                         _rel(fpath, root), f.row)
        seen.setdefault(key, f.row)


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _load_tiers(folder: Path, pkg: SourcePackage, langs: tuple[str, ...], problems: Problems,
                root: Path) -> None:
    file = _rel(folder / "tiers.yaml", root)
    ok, raw = read_yaml(folder / "tiers.yaml", problems, root)
    raw = _mapping(raw, "tiers.yaml", problems, file) if ok else None
    pkg.tiers = _validate(Tiers, raw, problems, file, None) if raw is not None else None
    if pkg.tiers is not None:
        bands = pkg.tiers.bands
        seen: set[str] = set()
        for i, b in enumerate(bands, start=1):
            if b.id in seen:
                problems.add("KB010", f"duplicate tier id {b.id!r}", file, i)
            seen.add(b.id)
        _names(bands, langs, "tier", problems, file, rows=True)
        _check_bands(pkg.tiers, problems, file)
    path = folder / "tier_members.csv"
    if _present(path):
        df = read_csv(path, problems, root, ["tier", "place"])
        if df is not None:
            pkg.tier_members = _records(df, TierMember, problems, _rel(path, root))


def _check_bands(tiers: Tiers, problems: Problems, file: str) -> None:
    """Each band is a non-empty interval ``min <= s < max``; no two bands overlap."""
    spans: list[tuple[float, float, int, str]] = []
    for i, b in enumerate(tiers.bands, start=1):
        lo = -math.inf if b.min is None else b.min
        hi = math.inf if b.max is None else b.max
        if b.min is None and b.max is None:
            problems.add("KB014", f"tier {b.id!r} has neither min nor max", file, i)
        elif lo >= hi:
            problems.add("KB014", f"tier {b.id!r}: min {b.min:g} is not below max {b.max:g}",
                         file, i)
            continue
        spans.append((lo, hi, i, b.id))
    spans.sort()
    for (lo1, hi1, _, id1), (lo2, _, i2, id2) in itertools.pairwise(spans):
        if lo2 < hi1:
            problems.add("KB014", f"tiers {id1!r} [{lo1:g}, {hi1:g}) and {id2!r} overlap from "
                         f"{lo2:g}: a score would be in both", file, i2)


def _read_list(path: Path, model: type[M], what: str, problems: Problems, root: Path) -> list[M]:
    """A YAML list of records (statements, errata); ``row`` is the item's position."""
    file = _rel(path, root)
    ok, raw = read_yaml(path, problems, root)
    if not ok or raw is None:
        return []
    if not isinstance(raw, list):
        problems.add("KB015", f"{path.name} must be a list of {what} records, not a "
                     f"{type(raw).__name__}", file)
        return []
    items: list[M] = []
    for i, rec in enumerate(raw, start=1):
        if not isinstance(rec, dict):
            problems.add("KB015", f"{what} {i} must be a mapping of keys to values, not "
                         f"{_short(rec, 40)}", file, i)
            continue
        item = _validate(model, {**rec, "row": i}, problems, file, i)
        if item is not None:
            items.append(item)
    _duplicates(items, what, problems, file)
    return items


# --- references between files ------------------------------------------------------------

def cross_check(catalog: Catalog, problems: Problems, root: Path) -> None:
    """References between files: places, nodes, sources; the framework tree's shape."""
    def where(folder: str, name: str) -> str:
        return _rel(root / folder / name, root)

    for attr, what in (("regions", "region"), ("provinces", "province"), ("cities", "city")):
        seen: dict[str, str] = {}
        for pkg in catalog.sources:
            for item in getattr(pkg, attr):
                if item.id in seen and seen[item.id] != pkg.folder:
                    problems.add("KB010", f"{what} {item.id!r} is also declared in "
                                 f"{seen[item.id]}/", where(pkg.folder, f"{attr}.csv"), item.row)
                seen.setdefault(item.id, pkg.folder)
    _missing_place_tables(catalog, problems, root)
    region_ids = {r.id for r in catalog.regions}
    province_ids = {p.id for p in catalog.provinces}
    city_ids = {c.id for c in catalog.cities}
    refs = catalog.place_refs()
    ref_ids = {r.id for pkg in catalog.sources for r in pkg.meta.sources}
    for pkg in catalog.sources:
        for p in pkg.provinces:
            if p.region is not None and p.region not in region_ids:
                problems.ref(f"region:{p.region}", f"province {p.id!r}: unknown region "
                             f"{p.region!r}", where(pkg.folder, "provinces.csv"), p.row)
        for c in pkg.cities:
            if c.province not in province_ids:
                problems.ref(f"province:{c.province}", f"city {c.id!r}: unknown province "
                             f"{c.province!r}", where(pkg.folder, "cities.csv"), c.row)
        for attr in ("regions", "provinces", "cities"):
            for item in getattr(pkg, attr):
                if item.cite and item.cite not in ref_ids:
                    problems.add("KB022", f"{item.id!r} cites unknown source {item.cite!r}",
                                 where(pkg.folder, f"{attr}.csv"), item.row)
        for co in pkg.counties:
            if co.province not in province_ids:
                problems.ref(f"province:{co.province}", f"county {co.id!r}: unknown province "
                             f"{co.province!r}", where(pkg.folder, "counties.csv"), co.row)
            if co.city is not None and co.city not in city_ids:
                problems.ref(f"city:{co.city}", f"county {co.id!r}: unknown city {co.city!r}",
                             where(pkg.folder, "counties.csv"), co.row)
        own_clusters = {c.id for c in pkg.clusters}
        for m in pkg.members:
            if m.cluster not in own_clusters:
                if "cluster" in problems.failed_kinds:
                    problems.unchecked["cluster"] += 1
                else:
                    problems.add("KB020", f"member of unknown cluster {m.cluster!r} (a "
                                 "cluster's members are declared in the folder that defines it)",
                                 where(pkg.folder, "cluster_members.csv"), m.row)
            if m.place not in refs:
                problems.ref(m.place, f"cluster {m.cluster!r}: unknown place {m.place!r}",
                             where(pkg.folder, "cluster_members.csv"), m.row)
        for lm in pkg.list_members:
            if lm.place not in refs:
                problems.ref(lm.place, f"list {lm.list!r}: unknown place {lm.place!r}",
                             where(pkg.folder, "list_members.csv"), lm.row)
        for ef in pkg.edition_figures:
            if ef.place and ef.place not in refs:
                problems.ref(ef.place, f"edition figure {ef.figure!r}: unknown place "
                             f"{ef.place!r}", where(pkg.folder, "edition_figures.csv"), ef.row)
        data_sources = {d.id for d in pkg.meta.data_sources}
        _check_extras(catalog, pkg, refs, problems, where)
        for fw in pkg.frameworks:
            if fw.meta.source is not None and fw.meta.source != pkg.meta.id:
                problems.add("KB022", f"framework {fw.meta.id!r} names source "
                             f"{fw.meta.source!r}, but its folder is {pkg.meta.id!r}",
                             where(pkg.folder, "framework.yaml"))
            _check_tree(fw, data_sources, problems, where(pkg.folder, "framework.csv"))
            if fw.inputs is not None and fw.meta.inputs is not None:
                _check_observations(fw, fw.inputs, refs, problems,
                                    where(pkg.folder, fw.meta.inputs.file), published=False)
            if fw.published is not None and fw.meta.published is not None:
                _check_observations(fw, fw.published, refs, problems,
                                    where(pkg.folder, fw.meta.published.file), published=True)
            for u in fw.units:
                if u["place"] not in refs:
                    problems.add("KB125", f"unknown place {u['place']!r}",
                                 where(pkg.folder, fw.meta.units or ""), int(u["row"]))
            _check_unit_methods(fw, problems, where(pkg.folder, "framework.yaml"),
                                where(pkg.folder, "framework.csv"))
            _check_sensitivity(fw, problems, where(pkg.folder, "framework.yaml"))
            _check_panel(fw, problems, where(pkg.folder, "framework.yaml"))
        _check_errata(pkg, city_ids, refs, problems, where(pkg.folder, "errata.yaml"))


def _missing_place_tables(catalog: Catalog, problems: Problems, root: Path) -> None:
    """A kind of place that some file refers to but that no folder declares at all: the
    table that should declare it is missing. Report that file once (KB001) instead of every
    reference to it."""
    declared = {kind for pkg in catalog.sources for kind, name in PLACE_TABLES.items()
                if (root / pkg.folder / name).exists()}
    used: set[str] = set()
    for pkg in catalog.sources:
        used |= {"region" for p in pkg.provinces if p.region is not None}
        used |= {"province" for _ in pkg.cities} | {"province" for _ in pkg.counties}
        used |= {"city" for c in pkg.counties if c.city is not None}
        used |= {m.place.partition(":")[0] for m in pkg.members}
        used |= {m.place.partition(":")[0] for m in pkg.tier_members}
        for fw in pkg.frameworks:
            for df in (fw.inputs, fw.published):
                if df is not None:
                    used |= {str(p).partition(":")[0] for p in df["place"].unique()}
        if pkg.statistic_values is not None:
            used |= {str(p).partition(":")[0] for p in pkg.statistic_values["place"].unique()}
    home = next((pkg.folder for pkg in catalog.sources
                 if any((root / pkg.folder / PLACE_TABLES[k]).exists()
                        for k in ("region", "province", "city", "county"))), None)
    for kind in sorted(used & set(PLACE_TABLES) - declared - set(problems.failed_kinds)):
        name = PLACE_TABLES[kind]
        file = _rel(root / home / name, root) if home and kind != "cluster" else name
        problems.add("KB001", f"file not found: no folder declares any {kind} ({name}), "
                     f"yet other files refer to {kind} places", file)
        problems.failed_kinds[kind] = file


def _cells(pkg: SourcePackage) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]]]:
    """The (place, concept) and (place, concept, period) cells the folder holds values for,
    among the places its errata name."""
    places = {f"city:{e.city}" if e.city is not None else e.place for e in pkg.errata}
    cells: set[tuple[str, str, str]] = set()
    frames = [df for fw in pkg.frameworks for df in (fw.inputs, fw.published) if df is not None]
    if pkg.statistic_values is not None:
        frames.append(pkg.statistic_values)
    for df in frames:
        mine = df[df["place"].isin(places)]
        cells |= {(str(p), str(c), "" if pd.isna(t) else str(t)) for p, c, t in
                  zip(mine["place"], mine["concept"], mine["period"], strict=True)}
    return {(p, c) for p, c, _ in cells}, cells


def _check_errata(pkg: SourcePackage, city_ids: set[str], refs: set[str], problems: Problems,
                  file: str) -> None:
    """Each erratum names what it corrects, and that exists in the folder: a city or place
    with a concept is a cell with a value (unless the erratum, naming a statement, records
    that no value is used); a statement exists and states the value the erratum says was
    printed."""
    concepts = ({n.id for fw in pkg.frameworks for n in fw.nodes} | {"total"}
                | {s.id for s in pkg.statistics})
    statements = {s.id: s for s in pkg.statements}
    fw_failed = pkg.folder in problems.failed_frameworks
    pairs, cells = _cells(pkg) if pkg.errata else (set(), set())
    periods_of: dict[tuple[str, str], set[str]] = {}
    for pl, c, p in cells:
        periods_of.setdefault((pl, c), set()).add(p)
    for e in pkg.errata:
        if e.city is not None and e.place is not None and e.place != f"city:{e.city}":
            problems.add("KB013", f"erratum {e.id!r} names city {e.city!r} and place "
                         f"{e.place!r}; give one", file, e.row)
            continue
        place = f"city:{e.city}" if e.city is not None else e.place
        if e.city is not None and e.city not in city_ids:
            problems.ref(f"city:{e.city}", f"erratum {e.id!r}: unknown city {e.city!r}", file,
                         e.row)
            continue
        if place is not None and place not in refs:
            problems.ref(place, f"erratum {e.id!r}: unknown place {place!r}", file, e.row)
            continue
        if e.concept is not None and e.concept not in concepts:
            if f"statistic:{pkg.folder}" in problems.failed_kinds:
                problems.unchecked["statistic"] += 1
            elif not fw_failed:
                problems.add("KB021", f"erratum {e.id!r}: unknown concept {e.concept!r}",
                             file, e.row)
            continue
        if e.statement is not None and e.statement not in statements:
            problems.add("KB013", f"erratum {e.id!r}: unknown statement {e.statement!r} (not "
                         "in this folder's statements.yaml)", file, e.row)
            continue
        if (place is not None and e.concept is not None and not fw_failed
                and not (e.statement is not None and e.used is None)):
            if (place, e.concept) not in pairs:
                problems.add("KB013", f"erratum {e.id!r}: no value of {e.concept!r} for "
                             f"{place!r} in this folder's data", file, e.row)
                continue
            periods = periods_of.get((place, e.concept), set())
            if e.period is not None and periods - {""} and (place, e.concept, e.period) \
                    not in cells:
                problems.add("KB013", f"erratum {e.id!r}: no value of {e.concept!r} for "
                             f"{place!r} in period {e.period} (there are "
                             f"{', '.join(sorted(periods))})", file, e.row)
                continue
        if e.statement is not None:
            st = statements[e.statement]
            if not _records_stated(e, st):
                problems.add("KB013", f"erratum {e.id!r} says the report printed "
                             f"{e.printed or e.printed_en!r}, but statement {st.id!r} states "
                             f"{st.stated!r}", file, e.row)


def _records_stated(e: Erratum, st: Statement) -> bool:
    """Whether an erratum about a statement records, among the values it says were printed,
    the value the statement states (a statement quotes what the report printed)."""
    if not isinstance(st.stated, float):
        return True
    texts = [e.printed, e.printed_en] if (e.printed or e.printed_en) else [e.used]
    return records_value(texts, st.stated, st.decimals)


_PARENT_LEVEL = {"variable": "dimension", "indicator": "variable"}


def _check_extras(catalog: Catalog, pkg: SourcePackage, refs: set[str], problems: Problems,
                  where: Callable[[str, str], str]) -> None:
    """Statistics, statements and tiers of one folder refer to what exists."""
    stat_ids = {s.id for s in pkg.statistics}
    if pkg.statistic_values is not None:
        df = pkg.statistic_values
        file = where(pkg.folder, "statistics_values.csv")
        unknown = ~df["place"].isin(refs) & df["place"].ne("")
        for r, p in zip(df.loc[unknown, "row"], df.loc[unknown, "place"], strict=True):
            problems.ref(str(p), f"unknown place {p!r}", file, int(r))
        bad = ~df["concept"].isin(stat_ids) & df["concept"].ne("")
        key = f"statistic:{pkg.folder}"
        skip = (df["concept"].isin(problems.bad_ids.get(key, set()))
                | (key in problems.failed_kinds))
        if (bad & skip).any():
            problems.unchecked["statistic"] += int((bad & skip).sum())
            problems.failed_kinds.setdefault("statistic", problems.failed_kinds.get(key, ""))
        bad &= ~skip
        for r, c in zip(df.loc[bad, "row"], df.loc[bad, "concept"], strict=True):
            problems.add("KB021", f"unknown statistic {c!r} (declare it in statistics.csv)",
                         file, int(r))
        no_period = df["period"].eq("")
        for r in df.loc[no_period, "row"]:
            problems.add("KB006", "period: a statistic value needs its year", file, int(r))
    frameworks = {fw.meta.id: fw for fw in catalog.frameworks}
    all_stats = {s.id for p in catalog.sources for s in p.statistics}
    tiers = {b.id for p in catalog.sources if p.tiers for b in p.tiers.bands}
    some_failed = bool(problems.failed_frameworks)
    stats_failed = any(k.startswith("statistic:") for k in problems.failed_kinds)
    file = where(pkg.folder, "statements.yaml")
    for st in pkg.statements:
        c = st.compute or {}
        if "framework" in c and c["framework"] not in frameworks and not some_failed:
            problems.add("KB021", f"statement {st.id!r}: unknown framework {c['framework']!r}",
                         file, st.row)
        if "statistic" in c and c["statistic"] not in all_stats and stats_failed:
            problems.unchecked["statistic"] += 1
        elif "statistic" in c and c["statistic"] not in all_stats:
            problems.add("KB021", f"statement {st.id!r}: unknown statistic {c['statistic']!r}",
                         file, st.row)
        if "tier" in c and c["tier"] not in tiers:
            problems.add("KB021", f"statement {st.id!r}: unknown tier {c['tier']!r}", file,
                         st.row)
        for key in ("places", "members", "within"):
            value = c.get(key)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is None or v == "all":
                    continue
                if not isinstance(v, str):
                    problems.add("KB004", f"statement {st.id!r}: {key} must be a place "
                                 f"reference, not {_short(v, 40)}", file, st.row)
                elif v not in refs:
                    problems.ref(v, f"statement {st.id!r}: unknown place {v!r} in {key}",
                                 file, st.row)
    if pkg.tiers is not None:
        file = where(pkg.folder, "tiers.yaml")
        fw = frameworks.get(pkg.tiers.framework)
        if fw is None:
            if pkg.folder not in problems.failed_frameworks:
                problems.add("KB021", f"tiers of unknown framework {pkg.tiers.framework!r}",
                             file)
        elif pkg.tiers.concept != "total" and pkg.tiers.concept not in {n.id for n in fw.nodes}:
            problems.add("KB021", f"tiers of unknown concept {pkg.tiers.concept!r} of "
                         f"framework {fw.meta.id!r}", file)
        own = {b.id for b in pkg.tiers.bands}
        for m in pkg.tier_members:
            if m.tier not in own:
                problems.add("KB021", f"unknown tier {m.tier!r}",
                             where(pkg.folder, "tier_members.csv"), m.row)
            if m.place not in refs:
                problems.ref(m.place, f"unknown place {m.place!r}",
                             where(pkg.folder, "tier_members.csv"), m.row)


def _check_tree(fw: Framework, data_sources: set[str], problems: Problems, file: str) -> None:
    import networkx as nx

    by_id = {n.id: n for n in fw.nodes}
    for n in fw.nodes:
        if n.level == "dimension":
            if n.parent is not None:
                problems.add("KB024", f"dimension {n.id!r} must not have a parent "
                             f"(has {n.parent!r})", file, n.row)
            continue
        if n.parent is None:
            problems.add("KB023", f"{n.level} {n.id!r} has no parent {_PARENT_LEVEL[n.level]}",
                         file, n.row)
        elif n.parent not in by_id:
            problems.add("KB023", f"{n.level} {n.id!r}: parent {n.parent!r} is not declared",
                         file, n.row)
        elif by_id[n.parent].level != _PARENT_LEVEL[n.level]:
            problems.add("KB024", f"{n.level} {n.id!r}: parent {n.parent!r} is a "
                         f"{by_id[n.parent].level}, expected a {_PARENT_LEVEL[n.level]}",
                         file, n.row)
        for ds in n.data_source:
            if ds not in data_sources:
                problems.add("KB022", f"{n.id!r}: unknown data source {ds!r}", file, n.row)
    declared = fw.meta.counts
    for lvl, expected in (("dimension", declared.dimensions), ("variable", declared.variables),
                          ("indicator", declared.indicators)):
        actual = sum(1 for n in fw.nodes if n.level == lvl)
        if expected is not None and actual != expected:
            problems.add("KB027", f"framework {fw.meta.id!r} states {expected} {lvl}s; "
                         f"{actual} are declared", file)
    level = fw.meta.inputs.level if fw.meta.inputs is not None else "indicator"
    g = nx.DiGraph()
    g.add_node(fw.meta.id, level="framework")
    for n in fw.nodes:
        g.add_node(n.id, level=n.level)
        g.add_edge(n.parent or fw.meta.id, n.id)
    rows = {n.id: n.row for n in fw.nodes}
    for text in tree_problems(g, fw.meta.id, frozenset({"indicator", level})):
        node = text.split(" ", 1)[0]
        code = "KB025" if text.startswith("cycle") else "KB023"
        problems.add(code, text, file, rows.get(node))


def _check_observations(
    fw: Framework, df: pd.DataFrame, refs: set[str], problems: Problems, file: str,
    *, published: bool,
) -> None:
    spec = fw.meta.inputs
    levels = {n.id: n.level for n in fw.nodes}
    unknown_place = ~df["place"].isin(refs) & df["place"].ne("")
    for r, p in zip(df.loc[unknown_place, "row"], df.loc[unknown_place, "place"], strict=True):
        kind, _, pid = str(p).partition(":")
        problems.ref(str(p), f"unknown {kind or 'place'} {pid or p!r}", file, int(r))
    concept_level = df["concept"].map(levels)
    if published:
        ok_concept = df["concept"].eq("total") | concept_level.notna()
    else:
        ok_concept = concept_level.notna()
    bad_concept = ~ok_concept & df["concept"].ne("")
    invalid = df["concept"].isin(problems.bad_ids.get(f"node:{fw.meta.id}", set()))
    if (bad_concept & invalid).any():
        problems.unchecked["node"] += int((bad_concept & invalid).sum())
    bad_concept &= ~invalid
    for r, c in zip(df.loc[bad_concept, "row"], df.loc[bad_concept, "concept"], strict=True):
        problems.add("KB021", f"unknown framework node {c!r}", file, int(r))
    if not published and spec is not None:
        wrong = ok_concept & concept_level.ne(spec.level)
        for r, c, lv in zip(df.loc[wrong, "row"], df.loc[wrong, "concept"],
                            concept_level[wrong], strict=True):
            problems.add("KB024", f"{c!r} is a {lv}; inputs must be {spec.level}s", file, int(r))
        values = df["value"]
        out = pd.Series(False, index=df.index)
        if spec.min is not None:
            out |= values < spec.min
        if spec.max is not None:
            out |= values > spec.max
        for r, v in zip(df.loc[out, "row"], values[out], strict=True):
            problems.add("KB005", f"value {v:g} outside [{spec.min:g}, {spec.max:g}]"
                         if spec.min is not None and spec.max is not None
                         else f"value {v:g} out of range", file, int(r))
        if spec.integer:
            frac = values.notna() & (values % 1 != 0)
            for r, v in zip(df.loc[frac, "row"], values[frac], strict=True):
                problems.add("KB004", f"value {v:g} is not an integer", file, int(r))
        if spec.complete:
            known = ~unknown_place & df["place"].ne("") & ok_concept
            _check_complete(fw, df[known], problems, file, count=not unknown_place.any())


def _check_complete(fw: Framework, df: pd.DataFrame, problems: Problems, file: str,
                    *, count: bool) -> None:
    assert fw.meta.inputs is not None
    needed = {n.id for n in fw.nodes if n.level == fw.meta.inputs.level}
    have = df.groupby("place")["concept"].agg(set)
    for place, concepts in have.items():
        missing = sorted(needed - concepts)
        if missing:
            problems.add("KB026", f"city {place!r} lacks {len(missing)} input(s): "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}", file)
    expected = fw.meta.places
    if count and expected is not None and len(have) != expected:
        problems.add("KB026", f"framework {fw.meta.id!r} declares {expected} places; the inputs "
                     f"cover {len(have)}", file)


def load_catalog(data_dir: Path) -> Catalog:
    """Load and cross-check every folder of ``data_dir``; raise BuildError on any problem."""
    problems = Problems()
    try:
        root = data_dir.resolve()
    except (OSError, RuntimeError) as exc:
        raise BuildError([Problem("KB001", f"data directory {data_dir}: {exc}")]) from None
    if not root.is_dir():
        raise BuildError([Problem("KB001", f"data directory {data_dir} not found")])
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not any(_present(f / "source.yaml") for f in folders):
        raise BuildError([Problem("KB045", f"{data_dir} holds no source folder (a folder with "
                                  "a source.yaml); nothing to build")])
    packages = []
    for folder in folders:
        pkg = load_source(folder, problems, root)
        if pkg is not None:
            packages.append(pkg)
    catalog = Catalog(packages)
    seen: dict[str, str] = {}
    for pkg in packages:
        if pkg.meta.id in seen:
            problems.add("KB010", f"source id {pkg.meta.id!r} is also used by {seen[pkg.meta.id]}/",
                         _rel(root / pkg.folder / "source.yaml", root))
        seen[pkg.meta.id] = pkg.folder
    cross_check(catalog, problems, root)
    found = problems.finish()
    if found:
        raise BuildError(found)
    return catalog
