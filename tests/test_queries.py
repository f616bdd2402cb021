"""Named queries run on the real knowledge base; parameters are bound as RDF terms."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from kb import namespaces as ns
from kb import queries
from kb.errors import KbError


def test_catalog_headers_are_complete() -> None:
    cat = queries.catalog()
    assert {"score-provenance", "score-breakdown", "dimension-ranking", "top-in-area"} <= set(cat)
    for q in cat.values():
        assert q.title and q.description and q.examples, q.name
        for p in q.params:
            assert p.doc, (q.name, p.name)


def test_score_provenance(real_store: ox.Store) -> None:
    df = queries.get("score-provenance").run(real_store, {"city": "深圳", "dimension": "经济实力"})
    assert set(df["score"]) == {286.0} and set(df["rank"]) == {1}
    points = df.drop_duplicates("variable").set_index("variableZh")["points"]
    assert points.to_dict() == {"经济总量潜力": 59, "人均经济产出": 56, "存款贷款密度": 53,
                                "品牌企业数量": 58, "政府债务负担": 60}
    gdp = df[df["indicatorZh"] == "GDP 总量"].iloc[0]
    assert gdp["dataYear"] == "2024" and gdp["dataSourceZh"] == "统计公报"
    assert "经济实力" in gdp["citation"] and "line 310" in gdp["citation"]


def test_dimension_ranking(real_store: ox.Store) -> None:
    df = queries.get("dimension-ranking").run(real_store, {"dimension": "Green and low-carbon"})
    assert len(df) == 60
    assert df.iloc[0]["cityZh"] == "深圳" and df.iloc[0]["score"] == 260
    total = queries.get("dimension-ranking").run(real_store, {"dimension": "coo-2025"})
    assert total.iloc[0]["cityEn"] == "Shanghai" and total.iloc[0]["score"] == 2446


def test_top_in_area_follows_containment(real_store: ox.Store) -> None:
    q = queries.get("top-in-area")
    east = q.run(real_store, {"area": "东部", "dimension": "科技创新", "top": "10"})
    assert len(east) > 0 and (east["rank"] <= 10).all()
    # the top 10 of 科技创新 minus the cities outside the east (武汉, 西安, 合肥 ...)
    provinces = set(east["province"])
    assert provinces <= {"北京", "上海", "广东", "浙江", "江苏", "天津", "福建", "山东", "河北",
                         "海南"}
    guangdong = q.run(real_store, {"area": "Guangdong", "dimension": "coo-2025", "top": "60"})
    assert set(guangdong["cityZh"]) == {"深圳", "广州", "东莞", "佛山", "珠海", "惠州", "中山",
                                        "江门", "肇庆"}


def test_parameters_are_validated(real_store: ox.Store) -> None:
    q = queries.get("top-in-area")
    with pytest.raises(KbError) as e:
        q.run(real_store, {"area": "东部", "dimension": "科技创新", "top": "10; DROP ALL"})
    assert e.value.code == "KB051"
    with pytest.raises(KbError) as e:
        q.run(real_store, {"area": "东部", "dimension": "科技创心"})
    assert e.value.code == "KB050" and "科技创新" in e.value.suggestions
    with pytest.raises(KbError) as e:
        q.run(real_store, {"area": "东部", "dimension": "科技创新", "colour": "red"})
    assert e.value.code == "KB051"


def test_injection_is_impossible(real_store: ox.Store) -> None:
    """A name is resolved to an IRI or rejected; text never reaches the query."""
    with pytest.raises(KbError) as e:
        queries.get("dimension-ranking").run(
            real_store, {"dimension": '经济实力> } UNION { ?x ?y ?z'})
    assert e.value.code == "KB050"
    assert ns.framework("coo-2025")
