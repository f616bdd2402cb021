"""Panels declared in data files: COINr's 5-year ASEM panel (``ASEM_iData_p``) as a framework
whose inputs carry a year and whose framework.yaml says ``panel: true``; built and scored like
any index, every value and rank is COINr's (goalposts fixed across the years, ranks within
each year), and the year-on-year rank changes answer by a named query."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyoxigraph as ox
import pytest
import yaml
from coinr_support import GENERATED, expected, mismatches, read
from typer.testing import CliRunner

from kb import namespaces as ns
from kb import queries
from kb.build import build
from kb.errors import BuildError
from kb.loader import load_catalog
from kb.scoring import regen
from kb.sparql import select
from kb.store import BuildDir, current_build, open_store, read_observations

sys.path.insert(0, str(Path(__file__).parent / "conformance" / "coinr-asem"))
from convert import slug

FIXTURE = Path(__file__).parent / "fixtures" / "coinr-asem"
PANEL = GENERATED / "q_panel_global_minmax_amean"


def panel_data(out: Path) -> Path:
    """The ASEM folders with the panel's raw values (every indicator, every year, each
    citing its row of COINr's generated raw.csv) and ``panel: true``."""
    for name in ("asem", "asem-geo"):
        shutil.copytree(FIXTURE / name, out / name)
    fw = out / "asem" / "framework.yaml"
    doc = yaml.safe_load(fw.read_text(encoding="utf-8"))
    doc["panel"] = True
    fw.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    indicators = set(pd.read_csv(out / "asem" / "framework.csv").query(
        "level == 'indicator'")["id"])
    raw = read(PANEL / "raw.csv")
    raw["line"] = raw.index + 2
    raw = raw[(raw["dset"] == "Raw") & raw["iCode"].map(slug).isin(indicators)
              & raw["value"].notna()]
    pd.DataFrame({
        "place": "country:" + raw["uCode"].str.lower(),
        "indicator": raw["iCode"].map(slug),
        "period": raw["Time"].astype(int).astype(str),
        "value": raw["value"].map(repr),
        "table": "ASEM_iData_p", "line": raw["line"], "line_en": "",
    }).to_csv(out / "asem" / "raw.csv", index=False)
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("panel-home")
    build(panel_data(tmp_path_factory.mktemp("panel-data")), home)
    return home


@pytest.fixture(scope="module")
def built(home: Path) -> BuildDir:
    return current_build(home)


def _codes(frame: pd.DataFrame, framework: str) -> pd.DataFrame:
    """Our observations as COINr's codes: uCode, iCode (Index for the total), Time."""
    codes = {slug(c): c for c in read(GENERATED.parent / "inputs" / "ASEM_iMeta.csv")["iCode"]}
    concept = frame["concept"].astype(str)
    return pd.DataFrame({
        "uCode": frame["place"].astype(str).str.rsplit("/", n=1).str[-1].str.upper(),
        "iCode": concept.str.rsplit("/", n=1).str[-1].map(codes).where(
            concept != framework, "Index"),
        "Time": frame["period"].astype(str).astype(int),
        "value": frame["value"].to_numpy(dtype="float64"),
        "rank": frame["rank"].astype("float64").to_numpy(),
    })


def _wide(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.pivot_table(index=["Time", "uCode"], columns="iCode", values=column,
                             dropna=False, aggfunc="first")


def test_the_declared_panel_is_scored_as_coinr_scores_it(built: BuildDir) -> None:
    fw = ns.framework("asem")
    obs = read_observations(built, framework=fw)
    sets, ranks = expected("q_panel_global_minmax_amean")
    norm = _codes(obs[obs["dataset"].astype(str).str.contains("/normalised-")], fw)
    agg = _codes(obs[obs["dataset"].astype(str).str.contains("/run-")], fw)
    assert sorted(set(agg["Time"])) == [2018, 2019, 2020, 2021, 2022]
    assert mismatches(_wide(norm, "value"), sets["Normalised"]).empty
    both = pd.concat([norm, agg])
    assert mismatches(_wide(both, "value"), sets["Aggregated"]).empty
    assert mismatches(_wide(agg, "rank"), ranks.reindex(columns=sorted(set(agg["iCode"])))
                      ).empty
    # ranks are within each year: every year has its first
    index = agg[agg["iCode"] == "Index"]
    assert sorted(index.loc[index["rank"] == 1, "Time"]) == [2018, 2019, 2020, 2021, 2022]


def test_each_year_is_an_observation_of_its_own_with_its_period(built: BuildDir) -> None:
    rows = select(open_store(built), """
        SELECT ?fw (STR(?p) AS ?year) (COUNT(?o) AS ?n) WHERE {
          ?o prov:wasGeneratedBy ?run ; kb:concept ?fw ; sdmx-dimension:refPeriod ?p
        } GROUP BY ?fw ?p ORDER BY ?p""", {"fw": ox.NamedNode(ns.framework("asem"))})
    assert [(r["year"].value, int(r["n"].value)) for r in rows] == [  # type: ignore[union-attr]
        (str(y), 51) for y in range(2018, 2023)]


def test_the_panel_run_replays_from_its_record(built: BuildDir) -> None:
    store = open_store(built)
    run = [str(r) for r in built.read_manifest()["runs"]]
    assert len(run) == 1
    again = regen(store, built, run[0])
    assert again.identical and again.compared > 5 * 51 * 49


def test_year_on_year_rank_changes_by_a_named_query(home: Path, built: BuildDir) -> None:
    """The named query's answer against COINr's own index ranks of the two years."""
    store = open_store(built)
    df = queries.get("rank-changes").run(store, {"framework": "asem", "from": "2018",
                                                 "to": "2022"})
    _, ranks = expected("q_panel_global_minmax_amean")
    index = ranks["Index"]
    before, after = index.xs(2018, level="Time"), index.xs(2022, level="Time")
    rise = (before - after).dropna()
    ours = pd.Series(df["rise"].to_numpy(dtype="float64"),
                     index=df["place"].astype(str).str.rsplit("/", n=1).str[-1].str.upper())
    assert len(ours) == len(rise) == 51
    assert ours.sort_index().equals(rise.sort_index().rename(None).rename_axis(None))
    assert (df["rankBefore"] - df["rankAfter"] == df["rise"]).all()
    assert list(df["rise"]) == sorted(df["rise"], reverse=True)
    # the header's example, as a user runs it
    example = queries.get("rank-changes").examples[0].split()[1:]
    from kb.cli import app

    out = CliRunner().invoke(app, [*example, "--home", str(home), "--format", "csv"])
    assert out.exit_code == 0 and len(out.output.strip().splitlines()) == 52, out.output


def test_a_panel_declaration_must_match_its_inputs(tmp_path: Path) -> None:
    data = panel_data(tmp_path / "data")
    fw = data / "asem" / "framework.yaml"
    doc = yaml.safe_load(fw.read_text(encoding="utf-8"))
    doc["panel"] = False
    fw.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data)
    assert [(p.code, "declare panel: true" in p.message) for p in info.value.problems] == [
        ("KB127", True)]
    # a panel whose inputs hold one year only
    shutil.rmtree(data)
    data = panel_data(tmp_path / "data")
    raw = pd.read_csv(data / "asem" / "raw.csv", dtype=str, keep_default_na=False)
    raw[raw["period"] == "2018"].to_csv(data / "asem" / "raw.csv", index=False)
    with pytest.raises(BuildError) as info:
        load_catalog(data)
    assert [p.code for p in info.value.problems] == ["KB127"]



def test_a_panel_has_no_declared_sensitivity_analysis(tmp_path: Path) -> None:
    """The analysis ranks units across the whole input table; in a panel that would mix the
    years, so the declaration is refused at load (KB126)."""
    data = panel_data(tmp_path / "data")
    fw = data / "asem" / "framework.yaml"
    doc = yaml.safe_load(fw.read_text(encoding="utf-8"))
    doc["sensitivity"] = {"n": 4, "seed": 1, "factors": [
        {"name": "agg", "kind": "aggregate", "choices": ["amean", "gmean"]}]}
    fw.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data)
    assert [(p.code, "panel" in p.message) for p in info.value.problems] == [("KB126", True)]


# --- imputation across the years of a panel (COINr's impute_panel) -------------------------

def _worked_example() -> pd.DataFrame:
    """Two units, two indicators, five years, with gaps at the start, inside and at the end,
    a series with one value and one with none."""
    nan = float("nan")
    values = {("a", "x"): [1.0, nan, nan, 7.0, nan], ("a", "y"): [nan, 2.5, nan, nan, 4.0],
              ("b", "x"): [nan, nan, 3.0, nan, nan], ("b", "y"): [nan] * 5}
    rows = [(p, c, 2018 + i, v) for (p, c), vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["place", "concept", "year", "value"])


def _as_units(df: pd.DataFrame) -> pd.DataFrame:
    from kb.engine import PERIOD_SEP

    return pd.DataFrame({"place": df["place"] + PERIOD_SEP + df["year"].astype(str),
                         "concept": df["concept"], "value": df["value"]})


@pytest.mark.parametrize("max_time", [None, 1, 2])
def test_latest_carries_the_last_observation_forward(max_time: int | None) -> None:
    from kb import methods

    ex = _worked_example()
    shuffled = ex.sample(frac=1.0, random_state=3)  # the method may not rely on row order
    ours = methods.get("impute", "latest").fn(_as_units(shuffled), pd.DataFrame(),
                                              max_time=max_time).reindex(ex.index)
    # independently: pandas' forward fill per unit and indicator (every year is present, so
    # a limit of max_time rows is max_time years)
    theirs = ex.sort_values("year").groupby(["place", "concept"])["value"].ffill(
        limit=max_time).reindex(ex.index)
    assert ours.equals(theirs.rename(None)), pd.DataFrame({"ours": ours, "pandas": theirs})
    assert ours.isna().sum() < ex["value"].isna().sum()


def test_linear_interpolates_between_years() -> None:
    from kb import methods

    ex = _worked_example()
    shuffled = ex.sample(frac=1.0, random_state=5)
    ours = methods.get("impute", "linear").fn(_as_units(shuffled), pd.DataFrame()).reindex(
        ex.index)

    def interp(s: pd.Series) -> pd.Series:
        return s.interpolate(method="index", limit_direction="both")

    theirs = (ex.set_index("year").groupby(["place", "concept"])["value"]
              .transform(interp).to_numpy())
    assert np.allclose(ours.to_numpy(), theirs, rtol=0, atol=1e-12, equal_nan=True)
    # a: x 1 → 7 over 2018–2021: 3 and 5 between, 7 carried to 2022; b/x has one value: flat;
    # b/y has none: stays missing
    a_x = ours[(ex["place"] == "a") & (ex["concept"] == "x")].tolist()
    assert a_x == [1.0, 3.0, 5.0, 7.0, 7.0]
    assert ours[(ex["place"] == "b") & (ex["concept"] == "y")].isna().all()


def test_panel_imputation_outside_a_panel_is_refused() -> None:
    from kb import methods
    from kb.errors import KbError

    ex = _worked_example()
    with pytest.raises(KbError) as info:
        methods.get("impute", "latest").fn(ex[["place", "concept", "value"]], pd.DataFrame())
    assert info.value.code == "KB127"


def test_latest_declared_in_data_fills_the_gaps_of_the_asem_panel(tmp_path: Path) -> None:
    """framework.yaml declares ``impute: latest`` on the panel with gaps made in its inputs:
    the run flags as imputed exactly the cells a forward fill of the inputs fills."""
    data = panel_data(tmp_path / "data")
    raw = pd.read_csv(data / "asem" / "raw.csv", dtype=str, keep_default_na=False)
    gone = raw.index % 37 == 5
    raw[~gone].to_csv(data / "asem" / "raw.csv", index=False)
    fw = data / "asem" / "framework.yaml"
    doc = yaml.safe_load(fw.read_text(encoding="utf-8"))
    doc["method"]["impute"] = "latest"
    fw.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    home = tmp_path / "home"
    build(data, home)
    b = current_build(home)
    store = open_store(b)
    rows = select(store, """
        SELECT ?fw ?place ?concept ?year WHERE {
          ?o kb:imputed true ; sdmx-dimension:refArea ?place ; kb:concept ?concept ;
             sdmx-dimension:refPeriod ?year ; qb:dataSet ?d . ?d kb:framework ?fw }""",
                  {"fw": ox.NamedNode(ns.framework("asem"))})
    ours = {(str(r["place"].value).rsplit("/", 1)[-1],  # type: ignore[union-attr]
             str(r["concept"].value).rsplit("/", 1)[-1],  # type: ignore[union-attr]
             str(r["year"].value)) for r in rows}  # type: ignore[union-attr]
    full = raw.assign(value=pd.to_numeric(raw["value"]).where(~gone),
                      place=raw["place"].str.removeprefix("country:"))
    grid = full.pivot_table(index="period", columns=["place", "indicator"], values="value",
                            dropna=False, aggfunc="first").sort_index()
    filled = grid.ffill()
    cells = (grid.isna() & filled.notna()).stack(["place", "indicator"], future_stack=True)
    hit = cells.index[cells.to_numpy(dtype=bool)]
    expected_cells = {(str(p), str(c), str(y)) for y, p, c in hit.tolist()}
    assert len(expected_cells) > 100
    assert ours == expected_cells
    assert regen(store, b, str(b.read_manifest()["runs"][0])).identical


def test_panel_imputation_declared_on_a_single_year_is_refused_at_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("asem", "asem-geo"):
        shutil.copytree(FIXTURE / name, data / name)
    fw = data / "asem" / "framework.yaml"
    doc = yaml.safe_load(fw.read_text(encoding="utf-8"))
    doc["method"]["impute"] = {"name": "locf", "params": {"max_time": 2}}  # COINr's name too
    fw.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data)
    assert [(p.code, "'latest'" in p.message) for p in info.value.problems] == [("KB127", True)]
