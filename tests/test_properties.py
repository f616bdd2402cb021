"""Property-based tests of the scoring methods' invariants (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kb import engine
from kb.engine import Call, Config, NodeConfig
from kb.methods.aggregate import amean, gmean
from kb.methods.normalise import rank_points

values = st.lists(st.integers(min_value=-50, max_value=50), min_size=2, max_size=30)


def frame(vals: list[int], concept: str = "x") -> pd.DataFrame:
    return pd.DataFrame({"place": [f"p{i}" for i in range(len(vals))], "concept": concept,
                         "value": np.array(vals, dtype="float64")})


@given(values, st.sampled_from(["high", "low"]), st.randoms())
def test_rank_points_do_not_depend_on_row_order(vals, ties, rnd) -> None:  # type: ignore[no-untyped-def]
    df = frame(vals)
    order = list(range(len(vals)))
    rnd.shuffle(order)
    shuffled = df.iloc[order].reset_index(drop=True)
    a = pd.Series(rank_points(df, ties=ties).to_numpy(), index=df["place"])
    b = pd.Series(rank_points(shuffled, ties=ties).to_numpy(), index=shuffled["place"])
    assert a.sort_index().equals(b.sort_index())


@given(values, st.sampled_from(["high", "low"]))
def test_increasing_transform_keeps_rank_points(vals, ties) -> None:  # type: ignore[no-untyped-def]
    df = frame(vals)
    moved = df.assign(value=np.exp(df["value"] / 10.0) * 3 + 7)
    assert rank_points(df, ties=ties).equals(rank_points(moved, ties=ties))


@given(values)
def test_rank_points_range_and_ties(vals) -> None:  # type: ignore[no-untyped-def]
    pts = rank_points(frame(vals), ties="high")
    assert pts.max() == len(vals) and pts.min() >= 1
    by_value = pd.Series(pts.to_numpy(), index=vals).groupby(level=0).nunique()
    assert (by_value == 1).all()  # tied values share their points


@settings(max_examples=60)
@given(st.lists(st.floats(min_value=0.5, max_value=100), min_size=2, max_size=8),
       st.lists(st.floats(min_value=0.1, max_value=10), min_size=8, max_size=8),
       st.floats(min_value=0.01, max_value=1000))
def test_scaling_all_weights_leaves_weighted_means(xs, ws, k) -> None:  # type: ignore[no-untyped-def]
    n = len(xs)
    children = pd.DataFrame({"place": "p", "parent": "d", "value": xs, "weight": ws[:n]})
    scaled = children.assign(weight=children["weight"] * k)
    for fn in (amean, gmean):
        a, b = fn(children).iloc[0], fn(scaled).iloc[0]
        assert abs(a - b) <= 1e-12 * abs(a)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=3, max_size=12,
                unique=True))
def test_flipping_direction_reverses_order(vals) -> None:  # type: ignore[no-untyped-def]
    def ranks(direction: int) -> pd.Series:
        cfg = Config("fw", [NodeConfig("d", "fw"), NodeConfig("x", "d", direction=direction)],
                     normalise=Call("minmax"), aggregate=Call("amean"))
        res = engine.run(cfg, frame(vals))
        total = res.aggregated[res.aggregated["concept"] == "fw"].set_index("place")
        return total["rank"].astype(int)

    up, down = ranks(1), ranks(-1)
    n = len(vals)
    assert ((up + down) == n + 1).all()
