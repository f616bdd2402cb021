"""A researcher's questions of the reports, one per named query, each answer checked against
the report text: the figure the query returns must be printed on the line it cites."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from kb import paths, queries
from kb.cli import app

SEEDS = paths.seeds_dir()
MFG, BLUE, DEI = ("002_349db812b43c9bfd.txt", "003_d38c5b18524d90f6.txt",
                  "001_5df1c8c77506a7d3.txt")
pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not available")
ID = "https://w3id.org/citykb/id/"


def seed_line(citation: str) -> str:
    """The seed text line a citation (``…, FILE line N``) points at."""
    m = re.search(r"(\d{3}_[0-9a-f]+\.txt) line (\d+)", citation)
    assert m, citation
    return (SEEDS / m[1]).read_text(encoding="utf-8").splitlines()[int(m[2]) - 1]


def at(df: pd.DataFrame, row: str, col: str) -> Any:
    return df.loc[row, col]


def number(v: float) -> str:
    return f"{v:g}"


def ask(store: ox.Store, query: str, **params: str) -> pd.DataFrame:
    return queries.get(query).run(store, params)


def test_top_of_the_manufacturing_index(real_store: ox.Store) -> None:
    """Which cities lead the manufacturing index? No rank is printed (表1 groups cities by
    province): ranks are derived from the printed scores, and the text's top 10 (line 103,
    in this order) and 合肥 第15 (line 245) agree."""
    df = ask(real_store, "dimension-ranking", dimension="mfg-2025")
    assert set(df["rankBasis"]) == {"derived"} and len(df) == 50
    top = df[df["rank"] <= 10]
    line103 = (SEEDS / MFG).read_text(encoding="utf-8").splitlines()[102]
    # 深圳 … 常州 (the line breaks inside 青岛)
    printed = re.findall(r"(\S{2})市", line103.split("十个城市为")[1])
    assert len(printed) == 6 and list(top["cityZh"])[:6] == printed
    for _, r in df.iterrows():  # every score is printed on its cited line of 表1
        assert number(r["score"]) in seed_line(f"{MFG} line {int(r['line'])}")
    assert int(at(df.set_index("cityZh"), "合肥", "rank")) == 15


def test_published_ranks_of_the_digital_economy_index(real_store: ox.Store) -> None:
    df = ask(real_store, "top-in-area", area="西部", dimension="dei-2020", top="10")
    assert set(df["rankBasis"]) == {"published"}
    assert list(df["cityZh"])[:1] == ["成都"] and int(df["rank"].iloc[0]) == 4


def test_cluster_top_n_of_the_manufacturing_index(real_store: ox.Store) -> None:
    df = ask(real_store, "cluster-top-n", area="plan-yangtze-river-delta", concept="mfg-2025",
             top="10")
    assert list(df["placeZh"]) == ["苏州", "无锡", "宁波", "常州", "南京", "杭州"]


def test_statements_of_a_report(real_store: ox.Store) -> None:
    df = ask(real_store, "statements", report="mfg2025")
    row = df[df["statement"].str.endswith("/mfg2025-count-all")].iloc[0]
    assert "对50个" in seed_line(row["citation"]) and float(row["stated"]) == 50
    assert df["citation"].str.contains(MFG).mean() > 0.9


def test_statements_about_a_province(real_store: ox.Store) -> None:
    df = ask(real_store, "statements-about-place", place="江苏")
    row = df[df["statement"].str.endswith("/mfg2025-count-jiangsu-text")].iloc[0]
    assert "江苏以 10 城入围居首" in seed_line(row["citation"])


def test_statistic_values_with_printed_ranks(real_store: ox.Store) -> None:
    """How many national green factories has 深圳? 表2 prints 130, rank 1 (line 201)."""
    df = ask(real_store, "statistic-values",
             statistic=f"{ID}statistic/mfg2025/green-factories").set_index("placeZh")
    assert int(at(df, "深圳", "value")) == 130 and int(at(df, "深圳", "rank")) == 1
    assert "1\t深圳市\t130" in seed_line(at(df, "深圳", "citation"))


def test_growth_leaders(real_store: ox.Store) -> None:
    """Which provinces grew fastest in 2024? 西藏 6.3% (blue book, line 70)."""
    df = ask(real_store, "statistic-leaders", statistic="gdp-growth", kind="province", top="3")
    first = df.iloc[0]
    assert first["placeZh"] == "西藏" and "西藏" in seed_line(first["citation"])
    assert "6.3%" in seed_line(first["citation"])


def test_provinces_without_a_manufacturing_city(real_store: ox.Store) -> None:
    df = ask(real_store, "provinces-without-figure", figure=f"{ID}framework/mfg-2025")
    names = set(df["provinceZh"])
    assert {"上海", "北京", "吉林"} <= names and not {"江苏", "江西", "四川"} & names
    assert len(names) == 34 - 15  # 15 provinces hold the 50 cities of 表1


def test_counts_per_province_match_table_1(real_store: ox.Store) -> None:
    """表1 prints 江苏省（10个）, 安徽省（3个）: the counts agree."""
    df = ask(real_store, "counts-per-province",
             figure=f"{ID}framework/mfg-2025").set_index("provinceZh")
    text = (SEEDS / MFG).read_text(encoding="utf-8")
    for prov, n in df["places"].items():
        if f"{prov}省（" in text:
            assert f"{prov}省（{n}个）" in text


def test_provinces_sum_to_the_regional_total(real_store: ox.Store) -> None:
    """东部 702356 亿元 (line 37); its ten provinces sum to 30 less (erratum e002)."""
    df = ask(real_store, "provinces-sum-check", statistic="gdp",
             period="2024").set_index("areaZh")
    assert int(at(df, "东部", "printed")) == 702356 and int(at(df, "东部", "provinces")) == 10
    assert int(at(df, "东部", "difference")) == 30
    assert str(at(df, "东部", "erratum")).endswith("bluebook2025-e002")
    assert "702356亿元" in (SEEDS / BLUE).read_text(encoding="utf-8").splitlines()[36]
    assert int(at(df, "东北", "difference")) == 0


def test_tier_lists(real_store: ox.Store) -> None:
    df = ask(real_store, "tier-lists", framework="dei-2020")
    first = df[df["tierZh"] == "数字经济一线城市"]
    assert len(first) == 6 and "上海" in set(first["placeZh"])
    assert "上海" in seed_line(str(first["citation"].iloc[0]))


def test_blue_book_erratum_is_attached_to_its_cell(real_store: ox.Store) -> None:
    """广东 占全国的10.8% (line 37) against 10.5 from the report's own figures: the erratum
    touches the cell, so erratum-impact and statistic-values show it."""
    df = ask(real_store, "erratum-impact", erratum="bluebook2025-e007")
    assert list(df["touched"]) == [f"{ID}obs/bluebook2025/statistics/province-guangdong/"
                                   "gdp-share/2024"]
    shares = ask(real_store, "statistic-values", statistic="gdp-share").set_index("placeZh")
    assert at(shares, "广东", "printed") == "10.8"
    assert "占全国的10.8%" in seed_line(at(shares, "广东", "citation"))


def test_query_catalogue_is_searchable_and_documented() -> None:
    cat = queries.catalog()
    assert {"rankings", "statements and statistics", "errata"} <= {q.theme for q in cat.values()}
    assert {q.name for q in cat.values() if q.matches("排名")} >= {"dimension-ranking",
                                                                 "top-in-area"}
    for q in cat.values():  # every new question's output columns are documented
        if q.theme == "statements and statistics":
            assert q.columns, q.name


def test_kb_check_of_one_report(real_home: Path) -> None:
    run = CliRunner().invoke(app, ["check", "--report", "mfg2025", "--home", str(real_home),
                                   "--format", "csv"])
    assert run.exit_code == 0, run.output
    assert "mfg2025-count-all" in run.output and "coo2025" not in run.output
    bad = CliRunner().invoke(app, ["check", "--statement", "nope", "--home", str(real_home)])
    assert bad.exit_code == 2


def test_clusters_without_members_and_county_members(real_store: ox.Store) -> None:
    """The five 14th-FYP clusters no plan we hold gives members for are listed, defined by the
    plan; 北部湾's four county-level units under 海南 are members."""
    for name in ("粤闽浙沿海", "辽中南", "宁夏沿黄", "天山北坡", "黔中"):
        df = ask(real_store, "cluster-definitions", name=name)
        assert len(df) == 1 and df["member"].isna().all(), name
        assert "第十四个五年规划" in str(df["definedBy"].iloc[0])
    beibu = ask(real_store, "cluster-definitions", name="北部湾")
    assert len(beibu) == 15 and {"东方", "澄迈", "临高", "昌江"} <= set(beibu["memberZh"])
    middle = ask(real_store, "cluster-definitions", name="长江中游")
    assert {"仙桃", "潜江", "天门"} <= set(middle["memberZh"])


def test_errata_attached_to_their_cells(real_store: ox.Store) -> None:
    """人均消费支出: 36 printed for 中山 and 肇庆, 2 for no city (both editions)."""
    for eid, city, line in (("coo2025-e114", "zhongshan", 677), ("coo2025-e115", "zhaoqing", 697)):
        df = ask(real_store, "erratum-impact", erratum=eid)
        assert f"{ID}obs/coo-2025/inputs/{city}/per-capita-consumption-expenditure" in set(
            df["touched"])
        assert "\t36\t" in seed_line(f"000_8137679129e8b607.txt line {line}")
    wuhan = ask(real_store, "erratum-impact", erratum="dei2020-e014")
    assert f"{ID}obs/dei-2020/published/wuhan/total" in set(wuhan["touched"])
    assert "评分领" in seed_line(f"{DEI} line 264") and "全部位于此四大区域" in seed_line(
        f"{DEI} line 266")


def test_scope_of_the_yangtze_river_delta_count(real_store: ox.Store, real_build: Any) -> None:
    """21 strong cities in 长三角 (line 154) holds for the four provinces, 19 for the 2016
    plan's 26 cities: the plan-scope reading differs and its erratum says why."""
    from kb.statements import check_statements

    df = check_statements(real_store, real_build).set_index("statement")
    assert at(df, "mfg2025-count-yangtze-river-delta", "status") == "agrees"
    plan = df.loc["mfg2025-count-yangtze-river-delta-plan-scope"]
    assert (str(plan["computed"]), plan["status"], plan["erratum"]) == (
        "19", "differs (erratum)", "mfg2025-e036")
    assert "21 个" in (SEEDS / MFG).read_text(encoding="utf-8").splitlines()[153]


def test_five_cities_four_numbers_not_assigned(real_store: ox.Store) -> None:
    df = ask(real_store, "statistic-values",
             statistic=f"{ID}statistic/mfg2025/china-manufacturing-500-enterprises")
    assert not {"广州", "潍坊", "唐山", "苏州", "福州"} & set(df["placeZh"])
    assert "杭州" in set(df["placeZh"])
    st = ask(real_store, "statements", report="mfg2025")
    row = st[st["statement"].str.endswith("/mfg2025-500-enterprises-five-cities")].iloc[0]
    assert str(row["erratum"]).endswith("mfg2025-e015")
    assert "11 家、10 家、9 家和 9 家" in seed_line(row["citation"])


def test_manufacturing_method_is_not_a_plain_sum(real_store: ox.Store) -> None:
    from kb.sparql import select

    rows = select(real_store, """SELECT ?m ?r WHERE {
        <https://w3id.org/citykb/id/framework/mfg-2025> kb:method ?m .
        OPTIONAL { ?m kb:reproducible ?r } }""")
    assert len(rows) == 1 and rows[0]["m"] is not None
    assert rows[0]["m"].value.endswith("/weighted-index")
    assert rows[0]["r"] is not None and rows[0]["r"].value == "false"
    assert "指数加权法" in (SEEDS / MFG).read_text(encoding="utf-8").splitlines()[102]


def test_printed_lists_and_changes_since_the_last_edition(real_store: ox.Store) -> None:
    """与上年相比，滨州市、惠州市首次跻身…; 综合进步最快的城市为滨州市、台州市… (line 105)."""
    df = ask(real_store, "printed-lists", report="mfg2025")
    entered = df[df["kind"] == "entered"]
    assert list(entered["placeZh"]) == ["滨州", "惠州"]
    assert "滨州市、惠州市首次跻身" in seed_line(entered["citation"].iloc[0])
    improved = df[df["kind"] == "improved"].sort_values("position")
    assert list(improved["placeZh"])[:3] == ["滨州", "台州", "金华"]
    exited = set(df[df["kind"] == "exited"]["placeZh"])
    assert exited == {"连云港", "漳州"}
    binzhou = ask(real_store, "place-in-lists", place="滨州")
    assert {"entered", "improved"} <= set(binzhou["kind"])


def test_year_on_year_counts(real_store: ox.Store) -> None:
    """江苏以 10 城入围居首，数量较上年下降 1 个（连云港市退出） (line 167)."""
    df = ask(real_store, "year-on-year", statistic="strong-cities-count", **{"from": "2024",
                                                                             "to": "2025"})
    by = df.set_index("placeZh")
    assert [int(at(by, "江苏", c)) for c in ("before", "after", "change")] == [11, 10, -1]
    assert "较上年下降 1 个" in seed_line(str(at(by, "江苏", "citationAfter")))
    assert int(at(df.set_index("placeZh"), "山东", "change")) == 1


def test_green_totals_and_shares(real_store: ox.Store) -> None:
    """制造业强市累计获评国家级绿色工厂 2492 家、绿色园区 134 家，占全国比重达 38.8%、27.3%
    (line 196)."""
    line = (SEEDS / MFG).read_text(encoding="utf-8").splitlines()[195]
    for stat, value in (("green-factories-total", 2492), ("green-parks-total", 134),
                        ("green-factories-national-share", 38.8),
                        ("green-parks-national-share", 27.3)):
        df = ask(real_store, "statistic-values", statistic=f"{ID}statistic/mfg2025/{stat}")
        assert list(df["value"]) == [value] and list(df["placeZh"]) == ["制造业强市"]
        assert number(value) in line and line in seed_line(str(df["citation"].iloc[0]))


def test_table_titles_and_data_sources(real_store: ox.Store) -> None:
    """表1 … 资料来源：国家统计局 (blue book lines 90, 102); 表3 资料来源 工信部、商务部
    (line 280)."""
    df = ask(real_store, "report-tables", report="bluebook2025").set_index("tableId")
    assert at(df, "table-1", "dataSourceZh") == "国家统计局"
    text = (SEEDS / BLUE).read_text(encoding="utf-8").splitlines()
    assert str(at(df, "table-1", "titleZh")) in text[int(at(df, "table-1", "line")) - 1]
    assert "国家统计局" in text[int(at(df, "table-1", "dataSourceLine")) - 1]
    mfg = ask(real_store, "report-tables", report="mfg2025")
    t3 = mfg[mfg["tableId"] == "表3"]
    assert len(t3) == 2 and int(t3["values"].iloc[0]) == 16


@pytest.mark.parametrize(("file", "line", "row"), [
    ("tables.csv", "表9,某表,Some table,not-declared,1,,", 15),
    ("list_members.csv", "no-such-list,city:binzhou,1,105,", 38),
])
def test_undeclared_references_are_kb141(data_copy: Path, file: str, line: str,
                                         row: int) -> None:
    from kb.errors import BuildError
    from kb.loader import load_catalog

    path = data_copy / "mfg2025" / file
    path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    with pytest.raises(BuildError) as info:
        load_catalog(data_copy)
    found = [(p.code, p.file, p.row) for p in info.value.problems]
    assert found == [("KB141", f"data/mfg2025/{file}", row)]


def test_every_output_column_is_documented() -> None:
    """Each named query's header documents every column it returns (``# column:``), so that
    ``kb query NAME --help`` explains the answer."""
    for q in queries.catalog().values():
        head = q.text[q.text.index("SELECT"):q.text.index("WHERE")]
        outer = re.sub(r"\((?:[^()]|\([^()]*(?:\([^()]*\))*[^()]*\))*\)", " ", head)
        names = set(re.findall(r"AS \?(\w+)\)", head)) | set(re.findall(r"\?(\w+)", outer))
        missing = names - {c for c, _ in q.columns} - {p.name for p in q.params}
        assert not missing, f"{q.name}: undocumented columns {sorted(missing)}"


def _by_statistic(df: pd.DataFrame, report: str) -> pd.DataFrame:
    df = df[df["report"].astype(str) == f"{ID}source/{report}"].copy()
    df["key"] = (df["statistic"].astype(str).str.rsplit("/", n=1).str[1] + "@"
                 + df["period"].astype(str))
    return df.set_index("key")


def test_national_energy_and_rural_figures_of_the_blue_book(real_store: ox.Store) -> None:
    """How much solar, wind and new-energy capacity had China at the end of 2024, and what did
    rural residents earn? Blue book 二(一)1 (line 511): 太阳能 约 8.9 亿千瓦, 风电 约 5.2 亿千瓦,
    新能源 约 14.1 亿千瓦 — the report's own total of the two; 一(四)2 (line 351):
    农村居民人均可支配收入 23119 元, 实际增长 6.3%; 与共建"一带一路"国家 22.07 万亿元
    (line 539) is more than half of the 43.85 万亿元 of line 533, as the text says."""
    china = _by_statistic(ask(real_store, "place-statistics", place="中国"), "bluebook2025")
    figures = {}
    for stat, line in (("solar-capacity", 511), ("wind-capacity", 511),
                       ("new-energy-capacity", 511), ("rural-disposable-income-per-capita", 351),
                       ("rural-disposable-income-per-capita-growth", 351),
                       ("trade-with-belt-and-road-countries", 539),
                       ("foreign-trade-goods-trillion", 533)):
        value = float(at(china, f"{stat}@2024", "value"))
        citation = str(at(china, f"{stat}@2024", "citation"))
        assert citation.endswith(f"line {line}"), stat
        assert number(value) in seed_line(citation).replace(" ", ""), stat
        figures[stat] = value
    assert figures["solar-capacity"] + figures["wind-capacity"] == pytest.approx(
        figures["new-energy-capacity"])
    assert "首次超过 50%" in seed_line(f"{BLUE} line 539")
    assert figures["trade-with-belt-and-road-countries"] / figures[
        "foreign-trade-goods-trillion"] > 0.5
    assert figures["rural-disposable-income-per-capita"] == 23119


def test_county_and_strategy_area_figures_of_the_blue_book(real_store: ox.Store) -> None:
    """What does the blue book say of 庆元县 and of the 长江经济带? 甜橘柚 全产业链产值超 30 亿元
    (line 349, printed as a lower bound); 长江流域水质优良断面比例 81.8% in 2015, 97.8% in 2024
    (line 156)."""
    county = _by_statistic(ask(real_store, "place-statistics", place="庆元县"), "bluebook2025")
    key = "industry-chain-output@2024"
    assert float(at(county, key, "value")) == 30 and "超" in str(at(county, key, "note"))
    assert "全产业链产值超 30 亿元" in seed_line(str(at(county, key, "citation")))
    belt = _by_statistic(ask(real_store, "place-statistics", place="长江经济带"), "bluebook2025")
    for period, value in (("2015", 81.8), ("2024", 97.8)):
        key = f"water-quality-good-share@{period}"
        assert float(at(belt, key, "value")) == value
        line = seed_line(str(at(belt, key, "citation")))
        assert f"{period}年" in line and f"{value}%" in line


def test_a_printed_top_five_that_disagrees_with_its_points(real_store: ox.Store) -> None:
    """安全生产水平: both editions' text names 福州 among the five leaders (zh line 1367, en 1384)
    and omits 中山, whose 56 points in the 城市韧性 积分表 exceed 福州's 55; each city's cell
    carries an erratum, and the table's value is the one used."""
    points = {}
    for eid, city in (("coo2025-e117", "fuzhou-fujian"), ("coo2025-e118", "zhongshan")):
        df = ask(real_store, "erratum-impact", erratum=eid)
        cell = f"{ID}obs/coo-2025/inputs/{city}/production-safety-level"
        assert set(df["touched"].astype(str)) == {cell}
        points[city] = float(df["touchedValue"].iloc[0])
        assert float(df["used"].iloc[0]) == points[city]
    assert points["zhongshan"] > points["fuzhou-fujian"]
    zh = seed_line("000_8137679129e8b607.txt line 1367").split("。")[0]
    en = seed_line("004_1584661281511365.txt line 1384").split(".")[0]
    assert "福州" in zh and "中山" not in zh and "Fuzhou" in en and "Zhongshan" not in en
    assert f"\t{points['zhongshan']:g}\t" in seed_line("000_8137679129e8b607.txt line 1421")
    assert f"\t{points['fuzhou-fujian']:g}\t" in seed_line("000_8137679129e8b607.txt line 1401")
