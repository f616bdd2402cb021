"""Every figure in data/coo2025 is on the line it cites, in both editions' seed texts.

Needs ../shared/seeds (skipped elsewhere). Errata name the values that differ from what an
edition printed; everything else must be found verbatim on the cited line.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd
import pytest
import yaml

from kb import paths

DATA = paths.data_dir() / "coo2025"
SEEDS = paths.seeds_dir()

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not available")


@cache
def lines(edition: str) -> list[str]:
    meta = yaml.safe_load((DATA / "source.yaml").read_text(encoding="utf-8"))
    text: str = (SEEDS / meta["seeds"][edition]).read_text(encoding="utf-8")
    return text.splitlines()


def numbers(line: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", line)]


@cache
def errata_keys() -> set[tuple[str | None, str | None, str]]:
    rows = yaml.safe_load((DATA / "errata.yaml").read_text(encoding="utf-8"))
    out = set()
    for e in rows:
        out.add((e.get("city"), e.get("concept"), e["edition"]))
        out.add((e.get("city"), e.get("table"), e["edition"]))
    return out


def corrected(city: str | None, concept: str, table: str, edition: str) -> bool:
    keys = errata_keys()
    return any((city, c, ed) in keys for c in (concept, table) for ed in (edition, "both"))


@pytest.fixture(scope="module")
def cities() -> pd.DataFrame:
    return pd.read_csv(paths.data_dir() / "geography" / "cities.csv").set_index("id")


@pytest.mark.seeds
@pytest.mark.parametrize("edition", ["zh", "en"])
def test_points_are_on_their_cited_lines(edition: str, cities: pd.DataFrame) -> None:
    df = pd.read_csv(DATA / "variable_points.csv")
    col = "line" if edition == "zh" else "line_en"
    name = "name_zh" if edition == "zh" else "name_en"
    text = lines(edition)
    missing = []
    for r in df.to_dict("records"):
        line = text[int(r[col]) - 1]
        if corrected(r["city"], r["variable"], r["table"], edition):
            continue
        if r["points"] not in numbers(line) or str(cities.at[r["city"], name]) not in line:
            missing.append((r["city"], r["variable"], r["points"], r[col]))
    assert not missing, missing[:10]


def found(value: int, text: list[str], line: int, table: str, edition: str) -> bool:
    """On the cited line; or, where a city-less erratum says a whole block of the table is
    garbled, within 20 lines of it."""
    if value in numbers(text[line - 1]):
        return True
    if corrected(None, table, table, edition):
        window = text[max(0, line - 21): line + 20]
        return any(value in numbers(t) for t in window)
    return False


@pytest.mark.seeds
def test_published_scores_are_on_their_cited_lines(cities: pd.DataFrame) -> None:
    df = pd.read_csv(DATA / "published_scores.csv")
    for edition, col in (("zh", "line"), ("en", "line_en")):
        text = lines(edition)
        bad = [(r["city"], r["concept"]) for r in df.to_dict("records")
               if not corrected(r["city"], r["concept"], r["table"], edition)
               and not found(r["score"], text, int(r[col]), r["table"], edition)]
        assert not bad, (edition, bad[:10])


@pytest.mark.seeds
def test_report_counts_and_sums() -> None:
    """The report's own arithmetic holds on the data used: each row of the ten tables sums to
    its printed dimension score, and the dimension scores sum to the printed total."""
    pts = pd.read_csv(DATA / "variable_points.csv")
    pub = pd.read_csv(DATA / "published_scores.csv")
    sums = pts.groupby(["city", "table"])["points"].sum()
    dims = pub[pub["concept"] != "total"].set_index(["city", "concept"])["score"]
    assert (sums.sort_index() == dims.sort_index().rename_axis(["city", "table"])).all()
    totals = pub[pub["concept"] == "total"].set_index("city")["score"]
    assert (dims.groupby(level="city").sum().sort_index() == totals.sort_index()).all()
    assert pts["city"].nunique() == 60 and pts.groupby("city").size().eq(50).all()


@pytest.mark.seeds
def test_framework_rows_are_on_their_cited_lines() -> None:
    fw = pd.read_csv(DATA / "framework.csv", keep_default_na=False)
    text = lines("zh")
    bad = [r["id"] for r in fw.to_dict("records")
           if r["level"] == "indicator" and str(r["name_zh"]) not in text[int(r["line"]) - 1]]
    assert len(bad) <= 1, bad  # the garbled last row is corrected by coo2025-e001
