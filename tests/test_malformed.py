"""The corpus of malformed data trees (tests/malformed/cases.yaml): each is a small edit of a
good tree, and the loader must reject it with a BuildError carrying the expected code, naming
the file (and the row) — never another exception, never a silent success.

A few cases also go through ``kb build`` on the command line against a home that already
holds a good build: exit code 3, no traceback, and the published build left as it was.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests_support import FIXTURES

from kb import paths
from kb.errors import CATALOGUE, BuildError
from kb.loader import load_catalog

HERE = Path(__file__).parent / "malformed"
CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
BASES = {"mini": FIXTURES / "mini", "rich": HERE / "rich", "asem": FIXTURES / "coinr-asem",
         "data": paths.data_dir()}


# --- edits ------------------------------------------------------------------------------

def _read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _walk(doc: Any, key: str) -> tuple[Any, Any]:
    """The container holding the last part of a dotted key (list indices are numbers)."""
    parts: list[Any] = [int(k) if k.isdigit() else k for k in key.split(".")]
    node = doc
    for k in parts[:-1]:
        node = node[k]
    return node, parts[-1]


def apply_edit(tree: Path, outside: Path, edit: dict[str, Any]) -> None:
    """One declarative edit of a data tree (see cases.yaml)."""
    (op, arg), = edit.items()
    if op == "remove":
        target = tree / arg
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        return
    if op == "mkdir":
        (tree / arg).unlink()
        (tree / arg).mkdir()
        return
    path = tree / arg["file"]
    if op == "write":
        path.write_text(arg["text"], encoding="utf-8")
    elif op == "append":
        with path.open("a", encoding="utf-8") as fh:
            fh.write(arg["text"])
    elif op == "append_bytes":
        with path.open("ab") as fh:
            fh.write(bytes.fromhex(arg["hex"]))
    elif op == "replace":
        text = path.read_text(encoding="utf-8")
        assert arg["old"] in text, f"{arg['old']!r} not in {path}"
        path.write_text(text.replace(arg["old"], arg["new"], 1), encoding="utf-8")
    elif op == "truncate":
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:arg["lines"]]), encoding="utf-8")
    elif op == "encode":
        path.write_bytes(path.read_text(encoding="utf-8").encode(arg["encoding"]))
    elif op == "symlink":
        target = Path(arg["target"].replace("{outside}", str(outside)))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        path.unlink()
        path.symlink_to(target)
    elif op == "set_cell":
        rows = _read_rows(path)
        rows[arg["row"] - 1][rows[0].index(arg["column"])] = arg["value"]
        _write_rows(path, rows)
    elif op == "drop_column":
        rows = _read_rows(path)
        i = rows[0].index(arg["column"])
        _write_rows(path, [r[:i] + r[i + 1:] for r in rows])
    elif op == "add_column":
        rows = _read_rows(path)
        _write_rows(path, [[*rows[0], arg["column"]]] + [[*r, ""] for r in rows[1:]])
    elif op == "delete_rows":
        rows = _read_rows(path)
        _write_rows(path, [r for i, r in enumerate(rows, start=1) if i not in arg["rows"]])
    elif op in ("yaml_set", "yaml_del"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        node, last = _walk(doc, arg["key"])
        if op == "yaml_set":
            node[last] = arg["value"]
        else:
            del node[last]
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
    else:
        raise AssertionError(f"unknown edit {op}")


def make_tree(case: dict[str, Any], tmp_path: Path) -> Path:
    tree = tmp_path / "data"
    shutil.copytree(BASES[case.get("base", "mini")], tree, symlinks=True)
    for edit in case.get("edits", []):
        apply_edit(tree, tmp_path / "outside", edit)
    return tree


# --- the corpus -------------------------------------------------------------------------

def test_corpus_is_large_and_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 70
    assert all(c["code"] in CATALOGUE for c in CASES)


@pytest.mark.parametrize("base", sorted(BASES))
def test_bases_load(base: str) -> None:
    load_catalog(BASES[base])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_malformed_tree_is_rejected(case: dict[str, Any], tmp_path: Path) -> None:
    tree = make_tree(case, tmp_path)
    with pytest.raises(BuildError) as info:
        load_catalog(tree)
    problems = info.value.problems
    report = str(info.value)
    hits = [p for p in problems if p.code == case["code"]]
    assert hits, f"expected {case['code']}; got:\n{report}"
    if "file" in case:
        want = f"data/{case['file']}"
        hits = [p for p in hits if p.file == want]
        assert hits, f"expected {case['code']} in {want}; got:\n{report}"
    if "row" in case:
        assert any(p.row == case["row"] for p in hits), \
            f"expected {case['code']} at row {case['row']}; got:\n{report}"
    if "at_most" in case:
        assert len(problems) <= case["at_most"], f"too many problems:\n{report}"
    assert "Traceback" not in report


ACCEPTED: list[dict[str, Any]] = yaml.safe_load(
    (HERE / "accepted.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["id"] for c in ACCEPTED])
def test_harmless_variation_still_loads(case: dict[str, Any], tmp_path: Path) -> None:
    load_catalog(make_tree(case, tmp_path))


# --- through the command line -----------------------------------------------------------

CLI_CASES = ["empty-data-folder", "missing-cities-csv-reported-once", "cities-csv-in-gbk",
             "errata-list-of-strings", "points-fractional-line", "inputs-file-outside-data",
             "cities-csv-is-a-directory"]


@pytest.fixture(scope="module")
def good_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kb.build import build

    home = tmp_path_factory.mktemp("malformed-home")
    build(FIXTURES / "mini", home, validate=False)
    return home


def _published(home: Path) -> tuple[str, bytes, list[str]]:
    current = home / "current"
    target = os.readlink(current)
    manifest = next((p for p in sorted(current.iterdir()) if "manifest" in p.name), None)
    return (target, manifest.read_bytes() if manifest else b"",
            sorted(os.listdir(home / "builds")) if (home / "builds").is_dir() else [])


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_kb_build_exits_3_and_keeps_the_previous_build(
    case_id: str, good_home: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from kb.cli import app

    case = next(c for c in CASES if c["id"] == case_id)
    tree = make_tree(case, tmp_path)
    before = _published(good_home)
    result = CliRunner().invoke(app, ["build", "--data", str(tree), "--home", str(good_home)])
    output = result.output
    assert result.exit_code == 3, output
    assert case["code"] in output, output
    assert "Traceback" not in output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    assert _published(good_home) == before


# --- kb check: an erratum about another value does not excuse a disagreement ----------------

@pytest.mark.parametrize(("printed", "status"), [
    ("6.0", "differs (erratum)"),
    ("5.3", "DIFFERS (erratum records another value)"),
])
def test_check_fails_when_the_erratum_records_another_value(
    printed: str, status: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb import loader
    from kb.build import build
    from kb.statements import check_statements, statements_failed
    from kb.store import current_build, open_store

    case = {"edits": [
        {"yaml_set": {"file": "toy/statements.yaml", "key": "1.stated", "value": 6.0}},
        {"append": {"file": "toy/errata.yaml", "text": (
            "- id: east-mean\n  edition: zh\n  line: 6\n  statement: toy-east-mean-economy\n"
            f"  printed: '东部城市经济平均 {printed} 分'\n  used: '5.3'\n"
            "  reason: The three eastern cities average 5.33.\n")}},
    ]}
    tree = make_tree(case, tmp_path)
    if status.startswith("DIFFERS"):
        # the loader rejects this erratum (KB013); a store built before that check existed
        # may still hold one, and kb check must not pass it
        with pytest.raises(BuildError) as info:
            load_catalog(tree)
        assert "KB013" in {p.code for p in info.value.problems}
        monkeypatch.setattr(loader, "_records_stated", lambda e, st: True)
    home = tmp_path / "home"
    build(tree, home, validate=False)
    b = current_build(home)
    result = check_statements(open_store(b), b)
    row = result.set_index("statement").loc["toy-east-mean-economy"]
    assert row["status"] == status
    assert statements_failed(result) is status.startswith("DIFFERS")
