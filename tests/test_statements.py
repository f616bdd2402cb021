"""Every checkable statement of every report is reproduced from the knowledge base, or its
disagreement is a recorded erratum; printed tier lists likewise."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from kb.statements import check_statements, check_tiers
from kb.store import BuildDir


@pytest.fixture(scope="module")
def statements(real_store: ox.Store, real_build: BuildDir):  # type: ignore[no-untyped-def]
    return check_statements(real_store, real_build).set_index("statement")


def test_every_statement_agrees_or_has_its_erratum(statements) -> None:  # type: ignore[no-untyped-def]
    assert len(statements) >= 200
    computable = statements[statements["status"] != "not computable"]
    assert len(computable) >= 150
    bad = computable[~computable["status"].isin(["agrees", "differs (erratum)"])]
    assert bad.empty, bad[["stated", "computed", "status"]].to_string()
    differs = computable[computable["status"] == "differs (erratum)"]
    assert (differs["erratum"] != "").all()


@pytest.mark.parametrize(("statement", "computed"), [
    ("dei2020-city-count", 148),                   # 148 cities scored
    ("dei2020-tier-1-count", 6),                   # tiers from the declared bands
    ("dei2020-greater-bay-area-assessed", 9),      # cluster members with a score
    ("dei2020-province-coverage", 31),             # provinces containing a scored city
    ("mfg2025-count-all", 50),
])
def test_known_statements(statements, statement: str, computed: int) -> None:  # type: ignore[no-untyped-def]
    row = statements.loc[statement]
    assert row["computed"] == computed and row["status"] == "agrees"


def test_a_contradiction_is_shown_with_both_values(statements) -> None:  # type: ignore[no-untyped-def]
    # the blue book: 东部 702356 printed, its provinces sum to 702326 (erratum e002)
    row = statements.loc["bluebook2025-east-gdp-2024-sum-of-provinces"]
    assert (row["stated"], row["computed"]) == (702356, 702326.0)
    assert row["status"] == "differs (erratum)" and "bluebook2025-e002" in row["erratum"]


def test_mean_score_is_recomputed(statements) -> None:  # type: ignore[no-untyped-def]
    row = statements.loc["dei2020-mean-score"]
    assert row["stated"] == 57.3 and abs(row["computed"] - 57.307) < 0.01


def test_printed_tiers_agree_or_have_errata(real_store: ox.Store, real_build: BuildDir) -> None:
    all_tiers = check_tiers(real_store, real_build)
    coo = all_tiers[all_tiers["framework"] == "coo-2025"]
    assert len(coo) == 27 and (coo["status"] == "agrees").all()  # the three 梯队, line 169
    tiers = all_tiers[all_tiers["framework"] == "dei-2020"]
    assert len(tiers) == 148
    assert (tiers["status"] == "agrees").sum() == 144
    differ = tiers[tiers["status"] != "agrees"]
    assert set(differ["place"]) == {"lishui", "jilin-city", "dazhou", "luan"}
    assert (differ["status"] == "differs (erratum)").all()


def test_a_statement_the_data_contradict_fails_the_check(mini_copy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from kb.build import build
    from kb.cli import app
    from kb.store import current_build, open_store

    home = tmp_path / "home"
    build(mini_copy, home)
    b = current_build(home)
    result = check_statements(open_store(b), b).set_index("statement")
    assert (result["status"] == "agrees").all(), result
    assert result.loc["toy-east-mean-economy", "computed"] == pytest.approx(16 / 3)
    del b
    path = mini_copy / "toy" / "statements.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("stated: 5.3", "stated: 5.4"),
                    encoding="utf-8")
    build(mini_copy, home)
    out = CliRunner().invoke(app, ["check", "--home", str(home)], terminal_width=200)
    assert out.exit_code == 1 and "DIFFERS" in out.output
