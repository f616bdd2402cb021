"""The README's guide for maintainers, step by step: adding the example index (docs/example-
index) to a copy of data/, building, ranking, scoring with another weight set, and changing a
method — checked against a plain computation from the example's own CSV."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kb import namespaces as ns
from kb import paths
from kb.build import build
from kb.ranking import ranking
from kb.scoring import score
from kb.store import current_build, open_store

EXAMPLE = paths.PROJECT_ROOT / "docs" / "example-index" / "greenx2025"
FW = ns.framework("greenx-2025")


def expected_totals(weights: dict[str, float]) -> pd.Series:
    """The example index computed by hand: min-max per indicator (after its direction),
    equal-weight means up the tree, the dimensions weighted by ``weights``."""
    v = pd.read_csv(EXAMPLE / "values.csv").pivot(index="city", columns="indicator",
                                                   values="value")
    v["carbon-intensity"] *= -1
    n = (v - v.min()) / (v.max() - v.min()) * 100
    green = (n["green-factories"] + n["carbon-intensity"]) / 2
    growth = n["gdp-growth"]
    return (weights["green"] * green + weights["growth"] * growth) / sum(weights.values())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(paths.data_dir() / "geography", target / "geography")
    shutil.copytree(EXAMPLE, target / "greenx2025")  # step 1: add the folder
    return target


def _ranked(table: pd.DataFrame) -> list[str]:
    return [c.rsplit("/", 1)[-1] for c in table.sort_values(["rank", "city"])["city"]]


def test_add_an_index_build_and_rank(data: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    build(data, home)                                    # step 2: kb build
    b = current_build(home)
    table = ranking(open_store(b), b, FW)                # step 3: kb rank
    want = expected_totals({"green": 1, "growth": 1}).sort_values(ascending=False)
    assert _ranked(table) == list(want.index)
    got = table.set_index(table["city"].str.rsplit("/", n=1).str[-1])["total"]
    assert got.to_dict() == pytest.approx(want.to_dict())


def test_score_with_another_weight_set(data: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    build(data, home)
    b = current_build(home)
    store = open_store(b, write=True)
    score(store, b, FW, "green-only")                   # step 4: kb score --weights
    table = ranking(store, b, FW, weight_set="green-only")
    want = expected_totals({"green": 1, "growth": 0}).sort_values(ascending=False)
    assert _ranked(table) == list(want.index)
    default = ranking(store, b, FW)
    assert _ranked(default) != _ranked(table)  # the weight set reorders 上海 and 北京


def test_change_a_weight_and_a_method(data: Path, tmp_path: Path) -> None:
    fw_csv = data / "greenx2025" / "framework.csv"
    df = pd.read_csv(fw_csv, dtype=str, keep_default_na=False)
    df.loc[df["id"] == "growth", "weight"] = "3"        # step 5: change a weight
    df.to_csv(fw_csv, index=False)
    home = tmp_path / "home"
    build(data, home)
    b = current_build(home)
    table = ranking(open_store(b), b, FW)
    got = table.set_index(table["city"].str.rsplit("/", n=1).str[-1])["total"]
    assert got.to_dict() == pytest.approx(expected_totals({"green": 1, "growth": 3}).to_dict())

    meta = yaml.safe_load((data / "greenx2025" / "framework.yaml").read_text(encoding="utf-8"))
    meta["method"]["normalise"] = {"name": "rank-points"}   # step 6: change a method
    (data / "greenx2025" / "framework.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    build(data, home)
    b = current_build(home)
    table = ranking(open_store(b), b, FW)
    assert table["rank"].tolist() == sorted(table["rank"].tolist())
    assert table.iloc[0]["city_en"] == "Shenzhen"
