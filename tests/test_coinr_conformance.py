"""The engine against COINr: the JRC's ASEM example (51 countries, 49 indicators, four levels,
missing values, negative directions) declared in citykb's format, built and scored like any
index, reproduces every normalised value, every aggregate and every rank of COINr's default
pipeline (min-max onto [0, 100], weighted arithmetic mean, competition ranks)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kb import namespaces as ns
from kb.build import build
from kb.store import BuildDir, current_build, read_observations

HERE = Path(__file__).parent
COINR = HERE / "conformance" / "coinr-asem"
FIXTURE = HERE / "fixtures" / "coinr-asem"
FW = ns.framework("asem")
RTOL = 1e-9


def _convert_module() -> Any:
    spec = importlib.util.spec_from_file_location("convert", COINR / "convert.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def asem(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    home = tmp_path_factory.mktemp("asem")
    build(FIXTURE, home)
    return current_build(home)


def _code(iri: str) -> str:
    return "Index" if iri == FW else iri.rsplit("/", 1)[-1]


def _wide(obs: pd.DataFrame, column: str, codes: dict[str, str]) -> pd.DataFrame:
    w = obs.assign(col=obs["concept"].map(_code).map(codes),
                   unit=obs["place"].str.rsplit("/", n=1).str[-1].str.upper())
    return w.pivot(index="unit", columns="col", values=column)


def _codes() -> dict[str, str]:
    meta = pd.read_csv(COINR / "inputs" / "ASEM_iMeta.csv")
    slug = _convert_module().slug
    return {slug(c): c for c in meta["iCode"]} | {"Index": "Index"}


def test_fixture_is_the_converters_output(tmp_path: Path) -> None:
    _convert_module().convert(tmp_path)
    for f in sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()):
        assert (tmp_path / f).read_bytes() == (FIXTURE / f).read_bytes(), f


def test_every_normalised_and_aggregated_value(asem: BuildDir) -> None:
    obs = read_observations(asem, framework=FW)
    run = obs[obs["dataset"].str.contains("/run-|/normalised-", regex=True)]
    ours = _wide(run, "value", _codes())
    expected = pd.read_csv(COINR / "outputs" / "aggregated.csv",
                           dtype={"uCode": str}).set_index("uCode")
    expected = expected.apply(lambda c: c.map(float) if c.dtype == object else c)
    ours = ours.reindex(index=expected.index, columns=expected.columns)
    assert ours.shape == (51, 60)
    assert (ours.isna() == expected.isna()).all().all()
    both = expected.notna()
    rel = (ours[both] - expected[both]).abs() / expected[both].abs().clip(lower=1e-12)
    assert np.nanmax(rel.to_numpy()) < RTOL, rel.max().sort_values().tail()
    assert int(both.sum().sum()) == 51 * 60 - 63


def test_every_rank(asem: BuildDir) -> None:
    obs = read_observations(asem, framework=FW)
    run = obs[obs["dataset"].str.contains("/run-|/normalised-", regex=True)]
    ours = _wide(run, "rank", _codes()).astype("float64")
    expected = pd.read_csv(COINR / "outputs" / "ranks.csv").set_index("uCode")
    ours = ours.reindex(index=expected.index, columns=expected.columns)
    mismatch = (ours != expected) & ~(ours.isna() & expected.isna())
    assert not mismatch.any().any(), mismatch.sum()[mismatch.sum() > 0]
    index = pd.read_csv(COINR / "outputs" / "index_rank.csv").set_index("uCode")["Rank"]
    assert (ours["Index"] == index.reindex(ours.index)).all()


def test_coinr_values_parse_exactly() -> None:
    """The loader reads numbers correctly rounded (pandas' parsers can be one ulp off)."""
    from kb.loader import parse_float

    raw = pd.read_csv(FIXTURE / "asem" / "raw.csv", dtype=str)["value"]
    assert (parse_float(raw).to_numpy() == np.array([float(v) for v in raw])).all()


def test_regen_reproduces_the_run_from_its_record(asem: BuildDir) -> None:
    from kb.scoring import regen
    from kb.store import open_store

    store = open_store(asem)
    run = asem.read_manifest()["runs"][0]
    result = regen(store, asem, run)
    assert result.identical and result.compared == 2997, result.differences.head()
