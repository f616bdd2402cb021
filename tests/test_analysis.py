"""Analysis of an index: statistics, correlations, balance, alpha, comparison, sensitivity."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from kb import analysis
from kb import namespaces as ns
from kb.cli import app
from kb.scoring import load_plan
from kb.store import BuildDir, read_observations

COO = ns.framework("coo-2025")


@pytest.fixture(scope="module")
def table(real_store: ox.Store, real_build: BuildDir) -> analysis.Table:
    return analysis.scores_table(real_store, real_build, COO)


def test_describe_matches_a_direct_computation(table: analysis.Table) -> None:
    d = analysis.describe(table)
    assert list(d.index)[:2] == ["经济实力", "科技创新"]
    assert d.loc["经济实力", "max"] == 286 and d.loc["经济实力", "n"] == 60
    assert d["sd"].idxmax() == "科技创新" and d["sd"].idxmin() == "市场环境"


def test_cronbach_alpha_by_hand() -> None:
    items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 3, 4, 5], "c": [1, 3, 2, 4]})
    k, var_sum, total_var = 3, items.var().sum(), items.sum(axis=1).var()
    assert analysis.cronbach_alpha(items) == pytest.approx(k / (k - 1) * (1 - var_sum / total_var))


def test_alpha_for_each_coo_dimension(real_store: ox.Store, real_build: BuildDir) -> None:
    alpha = analysis.alpha_per_dimension(real_store, real_build, COO)
    assert len(alpha) == 10 and alpha.between(-1, 1).all()


def test_compare_two_indices(table: analysis.Table, real_store: ox.Store,
                             real_build: BuildDir) -> None:
    dei = analysis.scores_table(real_store, real_build, ns.framework("dei-2020"))
    rho, movers = analysis.compare_ranks(table.total, dei.total)
    shared = table.total.index.intersection(dei.total.index)
    assert len(shared) == 60 and 0.5 < rho < 1
    assert (movers["move"].abs().diff().dropna() <= 0).all()


def test_sensitivity_is_deterministic_under_a_seed(real_store: ox.Store,
                                                   real_build: BuildDir) -> None:
    plan = load_plan(real_store, COO)
    raw = read_observations(real_build, dataset=plan.inputs)
    a = analysis.sensitivity(plan.config, raw, draws=12, seed=7)
    b = analysis.sensitivity(plan.config, raw, draws=12, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert (a["p05"] <= a["median"]).all() and (a["median"] <= a["p95"]).all()
    assert a.loc[ns.place("city", "ningbo"), "nominal"] == 15  # the declared method: ties kept


def test_analyze_command(real_home: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", "coo-2025", "--home", str(real_home),
                                      "--sensitivity", "5", "--format", "json"],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    first = json.loads(result.output.split("\n]\n")[0] + "\n]")
    assert first[0]["dimension"] == "经济实力"
