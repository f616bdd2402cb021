"""The command line as a user runs it: output, both languages, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kb.cli import app

runner = CliRunner()


def kb(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--home", str(home)], terminal_width=200)
    return result.exit_code, result.output


def test_rank_prints_the_computed_total_ranking(real_home: Path) -> None:
    code, out = kb(real_home, "rank", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 60
    assert [(r["rank"], r["city_zh"], r["total"]) for r in rows[:3]] == [
        (1, "上海", 2446.0), (2, "北京", 2435.0), (3, "深圳", 2420.0)]
    assert [(r["rank"], r["city_zh"]) for r in rows[14:17]] == [
        (15, "合肥"), (15, "宁波"), (17, "郑州")]
    assert rows[-1]["city_en"] == "Zhaoqing" and rows[-1]["total"] == 613.0


def test_rank_of_a_dimension_top_n(real_home: Path) -> None:
    code, out = kb(real_home, "rank", "--dimension", "Technological innovation", "--top", "3",
                   "--format", "csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[1].startswith("1,北京,Beijing") and lines[1].endswith(",300.0,computed")
    assert len(lines) == 4


def test_explain_in_chinese_reaches_sources(real_home: Path) -> None:
    code, out = kb(real_home, "explain", "深圳", "经济实力")
    assert code == 0, out
    assert "= 286 (rank 1)" in out
    for text in ("经济总量潜力", "= 59", "GDP 总量", "统计公报", "2024",
                 "000_8137679129e8b607.txt line 310"):
        assert text in out, text


def test_explain_in_english_matches_chinese(real_home: Path) -> None:
    code_zh, zh = kb(real_home, "explain", "深圳", "经济实力", "--format", "json")
    code_en, en = kb(real_home, "explain", "Shenzhen", "Economic strength", "--format", "json")
    assert code_zh == code_en == 0
    assert json.loads(zh) == json.loads(en)
    tree = json.loads(en)
    assert tree["value"] == 286 and len(tree["children"]) == 5
    assert sum(c["value"] for c in tree["children"]) == 286


def test_explain_shows_a_correction(real_home: Path) -> None:
    # the English edition prints 11 for Yancheng's brand companies; 1 is used (coo2025-e020)
    code, out = kb(real_home, "explain", "盐城", "经济实力", "--format", "json")
    assert code == 0
    var = next(c for c in json.loads(out)["children"] if c["label"].startswith("品牌企业数量"))
    errata = [c for c in var["children"] if c["kind"] == "erratum"]
    assert errata and "en printed 11" in errata[0]["details"]["printed"]
    assert var["value"] == 1


def test_explain_total(real_home: Path) -> None:
    code, out = kb(real_home, "explain", "宁波", "--format", "json")
    assert code == 0
    tree = json.loads(out)
    dimensions = [c for c in tree["children"] if c["kind"] == "dimension"]
    assert tree["value"] == 1903 and tree["rank"] == 15 and len(dimensions) == 10


def test_unknown_city_suggests_close_names(real_home: Path) -> None:
    code, out = kb(real_home, "explain", "Shenzen", "经济实力")
    assert code == 2
    assert "KB050" in out and "Shenzhen" in out


def test_query_file_runs_any_select_with_graphs(real_home: Path, tmp_path: Path) -> None:
    q = tmp_path / "graphs.rq"
    q.write_text("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                 encoding="utf-8")
    code, out = kb(real_home, "query", "--file", str(q), "--format", "json")
    assert code == 0
    graphs = {r["g"] for r in json.loads(out)}
    assert "https://w3id.org/citykb/graph/source/coo2025" in graphs
    assert "https://w3id.org/citykb/graph/ontology" in graphs
    assert any("/graph/run/" in g for g in graphs)


def test_query_bad_sparql_and_bad_param(real_home: Path, tmp_path: Path) -> None:
    q = tmp_path / "bad.rq"
    q.write_text("SELECT WHERE {", encoding="utf-8")
    assert kb(real_home, "query", "--file", str(q))[0] == 2
    code, out = kb(real_home, "query", "top-in-area", "--param", "area=东部",
                   "--param", "dimension=科技创新", "--param", "top=ten")
    assert code == 2 and "KB051" in out


def test_query_list_and_help(real_home: Path) -> None:
    code, out = kb(real_home, "query", "--list", "--format", "json")
    assert code == 0
    names = {r["name"] for r in json.loads(out)}
    assert {"score-provenance", "dimension-ranking", "top-in-area"} <= names
    code, out = kb(real_home, "query", "top-in-area", "--help")
    assert code == 0 and "--param top=<integer[1..10000]>" in out


def test_check_passes(real_home: Path) -> None:
    code, out = kb(real_home, "check")
    assert code == 0, out
    assert "scores 660/660" in out and "ranks 660/660" in out and "conform" in out


def test_no_store_exit_code(tmp_path: Path) -> None:
    code, out = kb(tmp_path / "nothing", "rank")
    assert code == 4 and "KB040" in out


def test_explain_works_for_an_index_citykb_only_describes(real_home: Path) -> None:
    code, out = kb(real_home, "explain", "杭州", "China City Digital Economy Index 2020",
                   "--format", "json")
    assert code == 0, out
    tree = json.loads(out)
    total = tree["children"][0]
    assert (total["value"], total["rank"]) == (89.1, 5)
    assert "001_5df1c8c77506a7d3.txt line" in total["details"]["read from"]
    weights = {c["label"]: c["details"]["weight"] for c in tree["children"][-1]["children"]}
    assert weights["城市服务 (City services)"] == "35.0"


def test_explain_a_county_level_unit(real_home: Path) -> None:
    code, out = kb(real_home, "explain", "南山区", "dei-2020-county", "--format", "json")
    assert code == 0, out
    assert json.loads(out)["children"][0]["value"] == 85.8
