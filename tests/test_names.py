"""Names resolve by what the question needs: 北京, 上海, 天津 and 重庆 are a city and a province;
typed slugs (city:shanghai, province:shanghai) and 市/省 suffixes work everywhere a place
does; a parameter that names nothing of its kind is a coded error."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

import kb as kb_api
from kb import namespaces as ns
from kb.cli import app
from kb.errors import KbError
from kb.resolve import NameNote, Resolver

runner = CliRunner()


def kb(home: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, [*args, "--home", str(home)])
    assert "Traceback" not in r.output
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("name, slug", [("北京", "beijing"), ("上海", "shanghai"),
                                        ("天津", "tianjin"), ("重庆", "chongqing")])
def test_municipalities_across_reports(real_home: Path, name: str, slug: str) -> None:
    code, out, err = kb(real_home, "query", "city-across-reports", "--param", f"place={name}",
                        "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert rows and {r["place"] for r in rows} == {ns.place("city", slug)}
    assert "note" in err and f"province:{slug}" in err  # the choice is said, with the other


def test_typed_slugs_choose_the_province(real_home: Path) -> None:
    code, out, err = kb(real_home, "query", "city-across-reports", "--param",
                        "place=province:shanghai", "--format", "json")
    assert code == 0 and not err
    assert {r["place"] for r in json.loads(out)} == {ns.place("province", "shanghai")}
    code, out, _ = kb(real_home, "query", "city-across-reports", "--param",
                      "place=city:shanghai", "--format", "json")
    assert code == 0 and {r["place"] for r in json.loads(out)} == {ns.place("city", "shanghai")}


@pytest.mark.parametrize("args", [("上海", "dei-2020"), ("上海", "经济实力"), ("北京", "经济实力"),
                                  ("天津", "coo-2025"), ("重庆", "dei-2020"),
                                  ("city:shanghai", "经济实力"), ("上海市", "经济实力"),
                                  ("深圳市", "经济实力")])
def test_explain_a_municipality(real_home: Path, args: tuple[str, str]) -> None:
    code, out, err = kb(real_home, "explain", *args, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["children"]


def test_a_province_parameter_takes_the_province(real_home: Path) -> None:
    code, out, err = kb(real_home, "query", "top-in-area", "--param", "area=广东省", "--param",
                        "dimension=coo-2025", "--param", "top=60", "--format", "json")
    assert code == 0, err
    assert {r["area"] for r in json.loads(out)} == {ns.place("province", "guangdong")}


def test_resolver_prefers_the_city_only_where_either_fits(real_store: ox.Store) -> None:
    assert Resolver.load(real_store, "province").resolve("上海") == \
        ns.place("province", "shanghai")
    assert Resolver.load(real_store, "city").resolve("上海市") == ns.place("city", "shanghai")
    with pytest.warns(NameNote):
        assert Resolver.load(real_store, "place").resolve("北京") == \
            ns.place("city", "beijing")


def test_homonyms_list_their_typed_slugs(real_home: Path) -> None:
    code, _, err = kb(real_home, "query", "city-across-reports", "--param", "place=Suzhou")
    assert code == 2 and "KB050" in err
    assert "city:suzhou-jiangsu" in err and "city:suzhou-anhui" in err and "苏州" in err


@pytest.mark.parametrize("value", ["<http://evil>", "http://evil", "x' } UNION { ?a ?b ?c",
                                   "coo2025-e999", ""])
def test_bad_erratum_parameter_is_a_coded_error(real_home: Path, value: str) -> None:
    code, _, err = kb(real_home, "query", "erratum-impact", "--param", f"erratum={value}")
    assert code == 2 and "KB051" in err


@pytest.mark.parametrize("value", [
    "coo2025-e020", "erratum:coo2025/coo2025-e020",
    "https://w3id.org/citykb/id/erratum/coo2025/coo2025-e020",
    "<https://w3id.org/citykb/id/erratum/coo2025/coo2025-e020>"])
def test_erratum_parameter_by_id_typed_slug_or_iri(real_home: Path, value: str) -> None:
    code, out, err = kb(real_home, "query", "erratum-impact", "--param", f"erratum={value}",
                        "--format", "json")
    assert code == 0, err
    assert {r["erratum"] for r in json.loads(out)} == {ns.erratum("coo2025", "coo2025-e020")}


def test_a_statistic_parameter_by_iri(real_home: Path) -> None:
    code, out, err = kb(real_home, "query", "cluster-aggregates", "--param", "area=东部",
                        "--param", "framework=coo-2025", "--param",
                        "weight=https://w3id.org/citykb/id/statistic/bluebook2025/gdp",
                        "--format", "json")
    assert code == 0, err and json.loads(out)


def test_query_parameter_called_name(real_home: Path) -> None:
    base = kb_api.open(real_home)
    df = base.query("cluster-definitions", name="长三角")
    assert len(df) > 0 and set(df["name"]) == {"长三角"}
    with pytest.raises(KbError) as e:
        base.query("cluster-definitions", name="长三角", colour="red")
    assert e.value.code == "KB051"
