"""Each registered method, on small cases worked by hand; the registry and the ontology agree."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import rdflib

from kb import engine, methods
from kb import namespaces as ns
from kb.engine import Call, Config, NodeConfig
from kb.errors import KbError
from kb.methods.classify import Band, bands
from kb.validate import load_turtle, ontology_path


def frame(vals: list[float | None], concept: str = "x") -> pd.DataFrame:
    return pd.DataFrame({"place": [f"p{i}" for i in range(len(vals))], "concept": concept,
                         "value": np.array([np.nan if v is None else v for v in vals])})


def norm(name: str, vals: list[float | None], **params: object) -> list[float]:
    out = methods.get("normalise", name).fn(frame(vals), **params)
    return [None if math.isnan(v) else v for v in out.tolist()]  # type: ignore[misc]


def test_rank_points_tie_policies_and_absent_values() -> None:
    assert norm("rank-points", [10, 30, 30, 5]) == [2, 4, 4, 1]
    assert norm("rank-points", [10, 30, 30, 5], ties="low") == [2, 3, 3, 1]
    assert norm("rank-points", [10, None, 30], absent=1) == [1, 1, 2]
    assert norm("rank-points", [10, 20], population=60) == [59, 60]


def test_categorical_levels() -> None:
    pts = {1: 60, 2: 50, 3: 40, 4: 30, 5: 20, 6: 10, 7: 5}
    assert norm("categorical", [1, 7, 3], points=pts) == [60, 5, 40]
    with pytest.raises(KbError):
        norm("categorical", [8], points=pts)


def test_minmax_zscore_goalposts() -> None:
    assert norm("minmax", [2, 4, 6]) == [0, 50, 100]
    assert norm("minmax", [2, 4, 6], low=1, high=10) == [1, 5.5, 10]
    assert norm("zscore", [1, 2, 3]) == [-1, 0, 1]
    assert norm("goalposts", [0, 5, 20], lower=0, upper=10) == [0, 50, 100]
    assert norm("goalposts", [20], lower=0, upper=10, trunc=False) == [200]


def test_bands() -> None:
    s = pd.Series([90.0, 85.0, 64.9, 10.0])
    out = bands(s, [Band("a", 85, None), Band("b", 65, 85), Band("c", None, 65)])
    assert out.tolist() == ["a", "a", "c", "c"]


def _tree(aggregate: str, **kw: object) -> Config:
    nodes = [NodeConfig("d", "fw"), NodeConfig("x", "d", weight=1.0),
             NodeConfig("y", "d", weight=3.0)]
    return Config("fw", nodes, aggregate=Call(aggregate), **kw)  # type: ignore[arg-type]


def _raw(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["place", "concept", "value"]).assign(obs="")


def test_aggregations_weighted_and_missing_children() -> None:
    raw = _raw([("a", "x", 2.0), ("a", "y", 4.0), ("b", "x", 8.0)])
    res = engine.run(_tree("amean"), raw)
    d = res.aggregated[res.aggregated["concept"] == "d"].set_index("place")
    assert d.loc["a", "value"] == pytest.approx((2 + 3 * 4) / 4)
    assert d.loc["b", "value"] == 8.0  # weights rescaled over the child present
    assert d.loc["b", "coverage"] == pytest.approx(0.25)
    res = engine.run(_tree("amean", threshold=0.5), raw)
    d = res.aggregated[res.aggregated["concept"] == "d"].set_index("place")
    assert math.isnan(float(d["value"]["b"]))  # below the coverage threshold
    g = engine.run(_tree("gmean"), raw).aggregated.set_index(["place", "concept"])
    expected = math.exp((math.log(2) + 3 * math.log(4)) / 4)
    assert g.loc[("a", "d"), "value"] == pytest.approx(expected)


def test_sum_then_rerank() -> None:
    raw = _raw([("a", "x", 10), ("a", "y", 1), ("b", "x", 1), ("b", "y", 1),
                ("c", "x", 5), ("c", "y", 9)])
    res = engine.run(_tree("sum-rerank"), raw).aggregated
    d = res[res["concept"] == "d"].set_index("place")["value"]
    assert d.to_dict() == {"a": 2.0, "b": 1.0, "c": 3.0}


def test_imputation_is_flagged() -> None:
    cfg = Config("fw", [NodeConfig("d", "fw"), NodeConfig("x", "d"), NodeConfig("y", "d")],
                 impute=Call("mean"))
    raw = _raw([("a", "x", 2.0), ("b", "x", 4.0), ("a", "y", 1.0), ("b", "y", 1.0),
                ("c", "y", 1.0)])
    res = engine.run(cfg, raw)
    n = res.normalised.set_index(["place", "concept"])
    assert n.loc[("c", "x"), "value"] == 3.0 and n.loc[("c", "x"), "imputed"]
    assert not n.loc[("a", "x"), "imputed"] and not res.identity
    places = pd.DataFrame({"region": ["e", "e", "w"]}, index=["a", "b", "c"])
    cfg = Config("fw", cfg.nodes, impute=Call("group-mean", {"group": "region"}))
    raw2 = _raw([("a", "x", 2.0), ("b", "x", 4.0), ("c", "y", 1.0), ("a", "y", 5.0)])
    n2 = engine.run(cfg, raw2, places).normalised.set_index(["place", "concept"])
    assert n2.loc[("b", "y"), "value"] == 5.0  # the mean of its region (e)
    assert n2.loc[("c", "x"), "value"] == 3.0  # region w has no x: the overall mean


def test_config_round_trips_through_json() -> None:
    cfg = _tree("amean", normalise=Call("minmax", {"low": 1, "high": 10}), threshold=0.5)
    assert Config.from_json(cfg.to_json()) == cfg


def test_every_registered_method_is_in_the_ontology() -> None:
    onto = load_turtle(ontology_path())
    kb_method = rdflib.URIRef(ns.KB + "Method")
    declared = {str(s) for s in onto.subjects(rdflib.RDF.type, kb_method)}
    for kind in ("normalise", "aggregate", "impute", "classify", "treat", "screen"):
        for name in methods.names(kind):
            m = methods.get(kind, name)
            assert m.iri in declared, m.iri
            labels = {lbl.language for lbl in onto.objects(rdflib.URIRef(m.iri),
                                                            rdflib.RDFS.label)
                      if isinstance(lbl, rdflib.Literal)}
            assert {"zh", "en"} <= labels, m.iri
            assert m.doc, f"{kind}/{name} has no docstring"


def test_unknown_method_is_reported() -> None:
    with pytest.raises(KbError) as e:
        methods.get("aggregate", "median-of-medians")
    assert e.value.code == "KB051" and "amean" in e.value.message


def test_coinr_normalisers_by_hand() -> None:
    assert norm("rank", [10, 30, 30, 5]) == [2, 3, 3, 1]
    assert norm("rank", [10, 30, 30, 5], ties="average") == [2, 3.5, 3.5, 1]
    assert norm("rank", [10, 30, 30, 5], ties="dense") == [2, 3, 3, 1]
    assert norm("rank", [10, 30, 30, 5], ties="first") == [2, 3, 4, 1]
    assert norm("rank-points", [10, 30, 30, 5], ties="min") == [2, 3, 3, 1]
    assert norm("borda", [10, 30, None, 5]) == [1, 2, None, 0]
    assert norm("percentile", [10, 30, 20]) == [0, 1, 0.5]
    assert norm("dist2max", [0, 5, 10]) == [0, 0.5, 1]
    assert norm("dist2targ", [0, 5, 20], target=10) == [0, 0.5, 2]
    assert norm("dist2targ", [0, 5, 20], target=10, cap=True) == [0, 0.5, 1]
    assert norm("dist2ref", [0, 5, 20], ref="p1") == [0, 1, 4]
    assert norm("fracmax", [1, 2, 4]) == [0.25, 0.5, 1]
    assert norm("scaled", [0, 5, 20], low=0, high=10, scale=10) == [0, 5, 20]
    assert norm("power", [0, 5, 10], exponent=2, scale=1) == [0, 0.25, 1]
    assert norm("goalposts", [-5, 5, 20], lower=0, upper=10, scale=100) == [0, 50, 100]


def test_coinr_aggregators_by_hand() -> None:
    raw = _raw([("a", "x", 2.0), ("a", "y", 4.0), ("b", "x", 8.0), ("b", "y", 1.0)])

    def at(name: str, **params: object) -> dict[str, float]:
        cfg = _tree(name)
        cfg = Config("fw", cfg.nodes, aggregate=Call(name, dict(params)))
        res = engine.run(cfg, raw).aggregated
        return {str(k): float(v) for k, v in
                res[res["concept"] == "d"].set_index("place")["value"].items()}

    assert at("hmean") == pytest.approx({"a": 4 / (1 / 2 + 3 / 4), "b": 4 / (1 / 8 + 3)})
    assert at("genmean", p=2) == pytest.approx({"a": math.sqrt((4 + 48) / 4),
                                                "b": math.sqrt((64 + 3) / 4)})
    assert at("median") == {"a": 3.0, "b": 4.5}
    assert at("owa", order_weights=[1, 0]) == {"a": 4.0, "b": 8.0}  # the maximum
    assert at("owa", order_weights=[0, 1]) == {"a": 2.0, "b": 1.0}  # the minimum
    # x: b beats a; y (weight 3 of 4): a beats b → a wins the pair
    assert at("copeland") == {"a": 1.0, "b": -1.0}
    assert at("amean") == {"a": 2 * 0.25 + 4 * 0.75, "b": 8 * 0.25 + 1 * 0.75}


def test_amean_rescales_weights_first_as_coinr_does() -> None:
    """w/Σw then Σ(w·x), in that order: with weights 1, 1, 1 the three values below give
    COINr's double, which Σwx/Σw misses by an ulp."""
    vals = [13.4, 84.7, 76.4]
    raw = _raw([("a", c, v) for c, v in zip("xyz", vals, strict=True)])
    nodes = [NodeConfig("d", "fw"), *(NodeConfig(c, "d") for c in "xyz")]
    res = engine.run(Config("fw", nodes, aggregate=Call("amean")), raw).aggregated
    got = float(res[res["concept"] == "d"]["value"].iloc[0])
    w = 1 / 3
    coinr = float(np.sum(np.array([w * v for v in vals], dtype=np.longdouble)))
    assert got == coinr == 58.16666666666667
    assert float(np.sum(np.array(vals, dtype=np.longdouble))) / 3 != coinr


def test_method_reference_is_fresh() -> None:
    from pathlib import Path

    from kb.methods.reference import markdown

    page = Path(__file__).parent.parent / "docs" / "methods.md"
    assert page.read_text(encoding="utf-8") == markdown(), (
        "docs/methods.md is out of date: kb methods --markdown > docs/methods.md")
    for kind in ("normalise", "aggregate", "impute", "screen", "treat"):
        for name in methods.names(kind):
            assert f"### `{name}`" in page.read_text(encoding="utf-8")
