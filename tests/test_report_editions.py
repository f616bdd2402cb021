"""The reports' running-text figures and their earlier editions, asked as a researcher would:
each answer is checked against the report text (the figure is printed on the line it cites)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyoxigraph as ox
import pytest
import yaml

from kb import paths, queries

SEEDS = paths.seeds_dir()
MFG, BLUE, DEI, COO = ("002_349db812b43c9bfd.txt", "003_d38c5b18524d90f6.txt",
                       "001_5df1c8c77506a7d3.txt", "000_8137679129e8b607.txt")
SEED_OF = {"mfg2025": MFG, "bluebook2025": BLUE}
ID = "https://w3id.org/citykb/id/"
pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not available")


def lines(seed: str) -> list[str]:
    return (SEEDS / seed).read_text(encoding="utf-8").splitlines()


def seed_line(citation: str) -> str:
    m = re.search(r"(\d{3}_[0-9a-f]+\.txt) line (\d+)", citation)
    assert m, citation
    return lines(m[1])[int(m[2]) - 1]


def ask(store: ox.Store, query: str, **params: str) -> pd.DataFrame:
    return queries.get(query).run(store, params)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("folder", sorted(SEED_OF))
def test_running_text_figures_are_on_their_cited_lines(folder: str) -> None:
    """Every value read from running text is printed on its line — as written in the CSV
    (47.0, 2.0 …), or as the note quotes it (``printed 14 万亿元以上``); only values the note
    calls derived (from a stated change) are not printed."""
    text = lines(SEED_OF[folder])
    df = pd.read_csv(paths.data_dir() / folder / "statistics_values.csv", dtype=str,
                     keep_default_na=False)
    errata = yaml.safe_load((paths.data_dir() / folder / "errata.yaml").read_text("utf-8"))
    corrected = {(e.get("place") or f"city:{e.get('city')}", e.get("concept"),
                  str(e.get("period"))) for e in errata}
    running = df[df["table"].str.contains("text") | df["table"].str.startswith("section-")]
    assert len(running) > 100
    checked = 0
    for _, r in running.iterrows():
        note = r.get("note", "")
        if (note.startswith("derived") or re.search(r": \d+ [-+] \d+$", note)
                or (r["place"], r["statistic"], r["period"]) in corrected):
            continue  # derived from a stated change (…: 10 + 1), or corrected by an erratum
        printed = re.match(r"printed (.+?)(?: \(|;|$)", note)
        want = printed[1].replace("'", "") if printed else r["value"].lstrip("-")
        line = squeeze(text[int(r["line"]) - 1])
        if printed and r["line"] == "184":  # '2025 年…405 家': the count, not the quote
            want = r["value"]
        assert squeeze(want) in line, f"{folder} {r['place']} {r['statistic']}: {want!r} " \
                                      f"not on line {r['line']}"
        checked += 1
    assert checked > 100


def test_running_text_figures_of_the_manufacturing_report(real_store: ox.Store) -> None:
    """劳动生产率 47.6 万元/人·年 (line 180), R&D 支出占全国 58.9% (218), 出口 14.3 万亿元 / 59.6%
    (228), 先进制造业集群 全国 80 个、强市 62 个 (282): each figure comes back for its place, with
    the line it is printed on."""
    strong, china = f"{ID}cluster/mfg2025-strong-cities", f"{ID}country/china"
    for stat, place, value, line in (
            ("labour-productivity", strong, 47.6, 180),
            ("industrial-rd-expenditure-national-share", strong, 58.9, 218),
            ("exports-total", strong, 14.3, 228), ("exports-national-share", strong, 59.6, 228),
            ("national-advanced-manufacturing-clusters-total", china, 80, 282),
            ("national-advanced-manufacturing-clusters-total", strong, 62, 282)):
        df = ask(real_store, "statistic-values", statistic=f"{ID}statistic/mfg2025/{stat}")
        row = df[df["place"].astype(str) == place]
        assert list(row["value"]) == [value], stat
        citation = str(row["citation"].iloc[0])
        assert citation.endswith(f"line {line}") and f"{value:g}" in seed_line(citation)


def test_contradictions_are_errata_on_their_cells(real_store: ox.Store) -> None:
    """A figure printed twice with two values (研发投入强度 2.0% on line 218, 2.1% on line 395),
    a share its own counts contradict (长三角 3319 家高新技术企业 = 30%, line 188, against the Bay
    Area's 7.5 万家 on line 170) and a sentence copied to another province (吉林 line 291 = 四川
    line 265): each erratum is on the cell and says what was printed and what is used."""
    rd = ask(real_store, "statistic-values", statistic=f"{ID}statistic/mfg2025/rd-intensity")
    cell = rd[rd["period"].astype(str) == "2024"]
    assert list(cell["value"]) == [2.0] and "2.1%" in str(cell["printed"].iloc[0])
    assert "2.1%" in lines(MFG)[394] and "2.0%" in lines(MFG)[217]
    share = ask(real_store, "statistic-values",
                statistic=f"{ID}statistic/bluebook2025/high-tech-enterprises-national-share")
    share = share[share["place"].astype(str) == f"{ID}cluster/bluebook2025-yangtze-river-delta"]
    assert list(share["erratum"].astype(str).str.rsplit("/", n=1).str[1]) == ["bluebook2025-e016"]
    assert "3319" in lines(BLUE)[187] and "7.5 万家" in lines(BLUE)[169]
    trade = ask(real_store, "statistic-values",
                statistic=f"{ID}statistic/bluebook2025/foreign-trade")
    assert list(trade["placeZh"]) == ["四川"] and str(trade["erratum"].iloc[0]).endswith("e013")
    assert "10457.2" in lines(BLUE)[264] and "10457.2" in lines(BLUE)[290]


def test_editions_a_report_mentions(real_store: ox.Store) -> None:
    """Which earlier editions does the digital economy white paper compare itself with, and
    what does it say of them? The 2019 edition: 113 cities (148 less the 35 new, line 272),
    its returning cities' mean 57.6 (line 274). 机遇之城 2025 says its ranks do not compare
    with earlier years' (line 161)."""
    df = ask(real_store, "editions", report="dei2020")
    assert sorted(set(df["year"].astype(str))) == ["2017", "2018", "2019", "2020"]
    e2019 = df[df["year"].astype(str) == "2019"]
    assert set(e2019["placesAssessed"]) == {113} and set(e2019["previousYear"].astype(str)) \
        == {"2018"}
    mean = e2019[e2019["figure"] == "returning-cities-mean-score"]
    assert list(mean["value"]) == [57.6] and "57.6" in seed_line(str(mean["citation"].iloc[0]))
    assert "新增了35" in lines(DEI)[271] and "148个城市" in lines(DEI)[421]
    coo = ask(real_store, "editions", report="coo2025").set_index("role")
    assert bool(coo.loc["earlier", "comparable"]) is False
    assert "不具备可比性" in seed_line(str(coo.loc["earlier", "citation"]))
    assert str(coo.loc["current", "placesAssessed"]) == "60"


def test_changes_between_editions(real_store: ox.Store) -> None:
    """What changed since the previous edition? The returning cities' mean score rose from
    57.6 to 61.8 (lines 274 and 276); the manufacturing report kept 50 strong cities and no
    border city three years running (line 366)."""
    df = ask(real_store, "edition-changes", report="dei2020").set_index("figure")
    mean = df.loc["returning-cities-mean-score"]
    assert (mean["before"], mean["after"]) == (57.6, 61.8)
    assert abs(mean["change"] - 4.2) < 1e-9
    assert "57.6" in seed_line(str(df.loc["returning-cities-mean-score", "citationBefore"]))
    assert "61.8" in seed_line(str(df.loc["returning-cities-mean-score", "citationAfter"]))
    # derived from a stated growth, and said so: 29 / 1.318 = 22
    assert str(df.loc["new-first-tier-cities-count", "noteBefore"]).startswith("derived")
    mfg = ask(real_store, "edition-changes", report="mfg2025")
    border = mfg[mfg["figure"] == "border-strong-cities-count"]
    assert [(str(a), str(b)) for a, b in zip(border["fromYear"], border["toYear"],
                                               strict=True)] == [("2023", "2024"),
                                                                 ("2024", "2025")]
    assert set(border["change"]) == {0} and "连续三年" in lines(MFG)[365]


@pytest.mark.parametrize(("file", "line", "code", "row"), [
    ("edition_figures.csv", "no-such-edition,mean-score,平均,Mean,1,,,1,,", "KB141", 12),
    ("edition_figures.csv", "dei2020-edition-2020,mean-score,平均,Mean,1,,,1,,", "KB142", 12),
    ("editions.csv", "dei2020-edition-x,某版,Some edition,2021,current,,,1,,", "KB142", 6),
])
def test_bad_edition_files(data_copy: Path, file: str, line: str, code: str, row: int) -> None:
    from kb.errors import BuildError
    from kb.loader import load_catalog

    path = data_copy / "dei2020" / file
    path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data_copy)
    found = [(p.code, p.file, p.row) for p in info.value.problems]
    assert found == [(code, f"data/dei2020/{file}", row)]


def test_national_totals_and_group_figures(real_store: ox.Store) -> None:
    """What national totals do the reports print, and what does the manufacturing report say
    of its 50 strong cities as a group? 全国 80 个先进制造业集群 (line 282), 178 个国家级高新区
    (263), 174 个综保区 (247); the group's 47 高新区 at 27.6% comes with its erratum (47/178 is
    26.4%)."""
    china = ask(real_store, "place-statistics", place="中国")
    mfg = china[china["report"].astype(str) == f"{ID}source/mfg2025"].copy()
    mfg["id"] = mfg["statistic"].astype(str).str.rsplit("/", n=1).str[1]
    totals = mfg.set_index("id")
    for stat, value in (("national-advanced-manufacturing-clusters-total", 80),
                        ("national-hitech-zones", 178), ("comprehensive-bonded-zones", 174)):
        assert totals.loc[stat, "value"] == value
        assert f"{value}个" in squeeze(seed_line(str(totals.loc[stat, "citation"])))
    group = ask(real_store, "place-statistics", place="制造业强市")
    stat_ids = group["statistic"].astype(str)
    share = group[stat_ids.str.endswith("/national-hitech-zones-national-share")]
    assert list(share["value"]) == [27.6] and str(share["erratum"].iloc[0]).endswith("e012")
    assert "占比27.6%" in squeeze(seed_line(str(share["citation"].iloc[0])))
    assert len(group) > 40 and set(group["report"].astype(str)) == {f"{ID}source/mfg2025"}
