"""Malformed data fails the build with a stable code, file and row, and leaves the previous
knowledge base untouched. Each case corrupts a copy of the real data/ folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kb.build import build
from kb.errors import BuildError
from kb.loader import load_catalog
from kb.ranking import ranking
from kb.store import current_build, open_store

FW = "coo2025"


def _points(data: Path) -> Path:
    meta = yaml.safe_load((data / FW / "framework.yaml").read_text(encoding="utf-8"))
    return data / FW / str(meta["inputs"]["file"])


def _edit_csv(path: Path, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df).to_csv(path, index=False)


def _set_point_cell(data: Path, index: int, column: str, value: str) -> int:
    """Overwrite one cell of the input points file; return its row number (header = 1)."""
    def f(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[index, column] = value
        return df
    _edit_csv(_points(data), f)
    return index + 2


def unknown_city(data: Path) -> tuple[str, int]:
    return "KB020", _set_point_cell(data, 4, "city", "atlantis")


def duplicate_id(data: Path) -> tuple[str, int]:
    path = data / "geography" / "cities.csv"
    def f(df: pd.DataFrame) -> pd.DataFrame:
        dup = df.iloc[[0]].assign(name_zh="重复", name_en="Duplicate")
        return pd.concat([df, dup], ignore_index=True)
    _edit_csv(path, f)
    return "KB010", len(pd.read_csv(path)) + 1


def variable_without_dimension(data: Path) -> tuple[str, int]:
    path = data / FW / "framework.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    idx = int(df.index[df["level"] == "variable"][0])
    df.loc[idx, "parent"] = ""
    df.to_csv(path, index=False)
    return "KB023", idx + 2


def non_numeric_points(data: Path) -> tuple[str, int]:
    return "KB004", _set_point_cell(data, 10, "points", "五十")


def out_of_range_points(data: Path) -> tuple[str, int]:
    return "KB005", _set_point_cell(data, 20, "points", "61")


CASES = [unknown_city, duplicate_id, variable_without_dimension, non_numeric_points,
         out_of_range_points]


@pytest.mark.parametrize("corrupt", CASES, ids=lambda f: f.__name__)
def test_bad_input_is_reported_with_code_file_and_row(
    corrupt: Callable[[Path], tuple[str, int]], data_copy: Path
) -> None:
    code, row = corrupt(data_copy)
    with pytest.raises(BuildError) as info:
        load_catalog(data_copy)
    found = [(p.code, p.row) for p in info.value.problems]
    assert (code, row) in found, found
    assert all(p.file for p in info.value.problems if p.code == code)


@pytest.mark.parametrize("corrupt", CASES, ids=lambda f: f.__name__)
def test_failed_build_keeps_previous_store(
    corrupt: Callable[[Path], tuple[str, int]], data_copy: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    build(data_copy, home, validate=False)
    before = current_build(home)
    store = open_store(before)
    fw = "https://w3id.org/citykb/id/framework/coo-2025"
    expected = ranking(store, before, fw)
    del store
    builds_before = sorted(os.listdir(home / "builds"))

    code, _ = corrupt(data_copy)
    with pytest.raises(BuildError) as info:
        build(data_copy, home)
    assert code in {p.code for p in info.value.problems}
    after = current_build(home)
    assert after.path == before.path
    assert sorted(os.listdir(home / "builds")) == builds_before  # nothing half-built left
    store = open_store(after)
    pd.testing.assert_frame_equal(ranking(store, after, fw), expected)


def test_missing_file_and_column(data_copy: Path) -> None:
    (data_copy / FW / "framework.csv").unlink()
    path = data_copy / "geography" / "regions.csv"
    path.write_text("id,name_zh\neast,东部\n", encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data_copy)
    codes = {p.code for p in info.value.problems}
    assert {"KB001", "KB003"} <= codes
