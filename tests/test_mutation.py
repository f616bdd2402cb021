"""Random edits of the small fixture's CSV and YAML files: the loader either accepts the
result or rejects it with a BuildError of catalogued problems — never another exception.

Each example applies one to three mutations (a cell replaced by random text, a number or a
tricky string; a column or row deleted or repeated; a file truncated at any byte, a byte
changed, a file removed or turned into a directory; a YAML value replaced by another type, a
key deleted) to an in-memory copy of tests/fixtures/mini.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_support import FIXTURES

from kb.errors import CATALOGUE, BuildError
from kb.loader import load_catalog

MINI = FIXTURES / "mini"
FILES: dict[str, bytes] = {
    str(p.relative_to(MINI)): p.read_bytes() for p in sorted(MINI.rglob("*")) if p.is_file()
}
CSV_FILES = sorted(f for f in FILES if f.endswith(".csv"))
YAML_FILES = sorted(f for f in FILES if f.endswith(".yaml"))

TRICKY = ["", " ", "1e999", "-1e300", "5_9", "５９", "inf", "-inf", "nan", "NaN", "1:20",
          "0x10", "010", "1.", ".5", "+3", "-0", "12.5", "\"", ",", "\n", "\r", "\x00", "#",
          "city:", "city:shenzhen", "region:east", "total", "economy", "gdp", "gdp-total",
          "shenzhen", "深圳市", "null", "~", "true", "[1, 2]", "{a: 1}", "- x", "&a", "*a",
          "!!python/object:os.system", "9" * 400, "é", "\ufeff", "\u3000", "１２"]

cells = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
yaml_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
              st.sampled_from(TRICKY)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a YAML document."""
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        items: list[tuple[Any, Any]] = list(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    else:
        return out
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


def mutate(files: dict[str, bytes | None], data: st.DataObject) -> str:
    """Apply one random mutation in place; return what it did."""
    kind = data.draw(st.sampled_from(
        ["cell", "cell", "cell", "drop-column", "drop-row", "repeat-row", "header-only",
         "truncate", "byte", "remove", "directory", "yaml-value", "yaml-value",
         "yaml-delete"]))
    present = [f for f in sorted(files) if files[f] is not None]
    if kind in ("truncate", "byte", "remove", "directory"):
        name = data.draw(st.sampled_from(present))
        content = files[name] or b""
        if kind == "truncate":
            files[name] = content[:data.draw(st.integers(0, len(content)))]
        elif kind == "byte" and content:
            i = data.draw(st.integers(0, len(content) - 1))
            files[name] = content[:i] + bytes([data.draw(st.integers(0, 255))]) + content[i + 1:]
        elif kind == "remove":
            del files[name]
        else:
            files[name] = None  # a directory in its place
        return f"{kind} {name}"
    if kind.startswith("yaml"):
        candidates = [f for f in YAML_FILES if files.get(f) is not None]
        if not candidates:
            return "nothing"
        name = data.draw(st.sampled_from(candidates))
        try:
            doc = yaml.safe_load((files[name] or b"").decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return "nothing"
        paths = _paths(doc)
        if not paths:
            return "nothing"
        path = data.draw(st.sampled_from(paths))
        node = doc
        for k in path[:-1]:
            node = node[k]
        if kind == "yaml-value":
            node[path[-1]] = data.draw(yaml_values)
        else:
            del node[path[-1]]
        files[name] = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
        return f"{kind} {name} {path}"
    candidates = [f for f in CSV_FILES if files.get(f) is not None]
    if not candidates:
        return "nothing"
    name = data.draw(st.sampled_from(candidates))
    try:
        rows = _rows(files[name] or b"")
    except (UnicodeDecodeError, csv.Error):
        return "nothing"
    if len(rows) < 2 or not rows[0]:
        return "nothing"
    r = data.draw(st.integers(1, len(rows) - 1))
    c = data.draw(st.integers(0, len(rows[0]) - 1))
    if kind == "cell":
        if c < len(rows[r]):
            rows[r][c] = data.draw(cells)
    elif kind == "drop-column":
        rows = [row[:c] + row[c + 1:] for row in rows]
    elif kind == "drop-row":
        del rows[r]
    elif kind == "header-only":
        rows = rows[:1]
    else:
        rows.insert(r, list(rows[r]))
    files[name] = _csv(rows)
    return f"{kind} {name} row {r + 1} column {c}"


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_fixture_loads_or_fails_with_codes(data: st.DataObject) -> None:
    files: dict[str, bytes | None] = dict(FILES)
    done = [mutate(files, data) for _ in range(data.draw(st.integers(1, 3)))]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mini"
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                path.mkdir()
            else:
                path.write_bytes(content)
        try:
            load_catalog(root)
        except BuildError as exc:
            assert exc.problems, done
            assert all(p.code in CATALOGUE for p in exc.problems)
            assert str(exc)
