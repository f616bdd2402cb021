"""Benchmark: the engine's scoring pipeline with each method, on a generated framework of about
one million input values, against a plain pandas computation of the same scores in the same
run. Prints seconds and the ratio engine / pandas (aim: within 1.5×).

With ``--steps``: each step COINr's pipeline adds (denomination, group imputation,
screening, winsorisation, the rank-based and distance normalisers, the harmonic, generalised,
median and ordered weighted aggregators), alone, against the same computation written plainly
in pandas/numpy.

Run: ``python -m bench.bench_methods [--steps] [--places N --dimensions D --indicators I
--repeat R]``
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd

from bench.timing import timed
from kb import engine
from kb.engine import Call, Config, NodeConfig


def generate(places: int, dimensions: int, indicators: int, seed: int = 0) -> tuple[
        Config, pd.DataFrame]:
    """A two-level framework (dimensions → indicators) and raw values for every place."""
    rng = np.random.default_rng(seed)
    nodes = []
    for d in range(dimensions):
        nodes.append(NodeConfig(f"d{d}", "fw", 1.0))
        for i in range(indicators):
            nodes.append(NodeConfig(f"d{d}i{i}", f"d{d}", float(rng.integers(1, 4))))
    leaves = [n.id for n in nodes if n.parent != "fw"]
    raw = pd.DataFrame({
        "place": np.repeat([f"p{i:06d}" for i in range(places)], len(leaves)),
        "concept": np.tile(leaves, places),
        "value": rng.gamma(2.0, 10.0, size=places * len(leaves)),
    })
    raw["obs"] = ""
    return Config("fw", nodes), raw


def pandas_reference(cfg: Config, raw: pd.DataFrame, normalise: str,
                     aggregate: str) -> pd.DataFrame:
    """The same pipeline written directly in pandas, as an analyst would: normalise, rank the
    normalised values, aggregate twice (indicators → dimensions → index), rank each level."""
    parent = {n.id: n.parent for n in cfg.nodes}
    weight = {n.id: n.weight for n in cfg.nodes}
    df = raw[["place", "concept", "value"]]
    g = df.groupby("concept")["value"]
    if normalise == "minmax":
        lo, hi = g.transform("min"), g.transform("max")
        v = (df["value"] - lo) / (hi - lo) * 100
    elif normalise == "minmax1":
        lo, hi = g.transform("min"), g.transform("max")
        v = (df["value"] - lo) / (hi - lo) * 99 + 1
    elif normalise == "zscore":
        v = (df["value"] - g.transform("mean")) / g.transform("std")
    elif normalise == "rank-points":
        v = g.rank(method="max")
    else:
        v = df["value"]
    cur = pd.DataFrame({"place": df["place"], "concept": df["concept"], "value": v})
    cur["rank"] = cur.groupby("concept")["value"].rank(method="min", ascending=False)
    out = [cur]
    for _ in range(2):
        cur = cur.assign(parent=cur["concept"].map(parent), w=cur["concept"].map(weight))
        if aggregate == "sum":
            agg = cur.groupby(["place", "parent"])["value"].sum()
        elif aggregate == "gmean":
            cur = cur.assign(wl=cur["w"] * np.log(cur["value"]))
            s = cur.groupby(["place", "parent"])[["wl", "w"]].sum()
            agg = pd.Series(np.exp(s["wl"] / s["w"]), index=s.index)
        else:
            cur = cur.assign(wx=cur["w"] * cur["value"])
            s = cur.groupby(["place", "parent"])[["wx", "w"]].sum()
            agg = s["wx"] / s["w"]
        cur = agg.rename("value").reset_index().rename(columns={"parent": "concept"})
        cur["rank"] = cur.groupby("concept")["value"].rank(method="min", ascending=False)
        out.append(cur)
    return pd.concat(out)


CASES = [
    ("none + sum", "none", "sum", {}),
    ("minmax + amean", "minmax", "amean", {}),
    ("zscore + amean", "zscore", "amean", {}),
    ("rank-points + sum", "rank-points", "sum", {}),
    ("minmax[1,100] + gmean", "minmax1", "gmean", {"low": 1, "high": 100}),
]


def _plain_winsorise(df: pd.DataFrame, winmax: int = 5) -> pd.Series:
    """Winsorisation as an analyst writes it: per indicator, while |skew| ≥ 2 and kurtosis
    ≥ 3.5, set the extreme value(s) to the next one in (pandas' skew and kurt)."""
    out = []
    for _, s in df.groupby("concept", sort=False)["value"]:
        x = s.astype("float64").copy()
        n = 0
        while abs(x.skew()) >= 2 and x.kurt() >= 3.5 and n < winmax:  # type: ignore[operator,arg-type]
            hi = x.skew() >= 0  # type: ignore[operator]
            ext = x.max() if hi else x.min()
            at = x == ext
            x[at] = x[~at].max() if hi else x[~at].min()
            n = int(at.sum())
        out.append(x)
    result: pd.Series = pd.concat(out).reindex(df.index)
    return result


def steps(raw: pd.DataFrame, repeat: int) -> None:
    """Each new step against plain pandas/numpy on the same values."""
    from kb import methods
    from kb.methods.aggregate import KEYS

    rng = np.random.default_rng(1)
    places = raw["place"].unique()
    attrs = pd.DataFrame({"grp": rng.integers(0, 8, len(places)).astype(str),
                          "pop": rng.uniform(1, 100, len(places))}, index=places)
    df = raw[["place", "concept", "value"]].copy()
    holes = df.sample(frac=0.05, random_state=1).index
    gappy = df.assign(value=df["value"].where(~df.index.isin(holes)))
    children = df.assign(parent=df["concept"].str.split("i").str[0], weight=1.0)

    def by_concept() -> Any:
        """A fresh grouping for each timed call, as each of ours makes its own (a groupby
        kept across calls caches its factorisation: the plain side would skip that work)."""
        return df.groupby("concept")["value"]

    def ours(kind: str, name: str, frame: pd.DataFrame, *args: object,
             **kw: object) -> object:
        fn = methods.get(kind, name).fn
        return lambda: fn(frame, *args, **kw)

    cases = [
        ("denominate x / pop", lambda: df["value"].to_numpy()
         / attrs["pop"].reindex(df["place"]).to_numpy(),
         lambda: df["value"] / df["place"].map(attrs["pop"])),
        ("impute group-mean", ours("impute", "group-mean", gappy, attrs, group="grp"),
         lambda: gappy["value"].fillna(gappy.groupby(
             [gappy["concept"], gappy["place"].map(attrs["grp"])])["value"].transform("mean"))),
        ("screen availability", ours("screen", "availability", gappy, min_available=0.9),
         lambda: gappy["value"].notna().groupby(gappy["place"]).mean() >= 0.9),
        ("treat winsorise", ours("treat", "winsorise", df), lambda: _plain_winsorise(df)),
        ("normalise rank (min)", ours("normalise", "rank", df),
         lambda: by_concept().rank(method="min")),
        ("normalise percentile", ours("normalise", "percentile", df),
         lambda: (lambda g: (g.rank(method="min") - 1) / (g.transform("count") - 1))(
             by_concept())),
        ("normalise dist2max", ours("normalise", "dist2max", df),
         lambda: (lambda g: 1 - (g.transform("max") - df["value"])
                  / (g.transform("max") - g.transform("min")))(by_concept())),
        ("aggregate hmean", ours("aggregate", "hmean", children),
         lambda: children.groupby(KEYS)["weight"].sum()
         / children.assign(q=children["weight"] / children["value"]).groupby(KEYS)["q"].sum()),
        ("aggregate genmean p=2", ours("aggregate", "genmean", children, p=2.0),
         lambda: np.sqrt(children.assign(q=children["value"] ** 2).groupby(KEYS)["q"].mean())),
        ("aggregate median", ours("aggregate", "median", children),
         lambda: children.groupby(KEYS)["value"].median()),
        ("aggregate amean (COINr order)", ours("aggregate", "amean", children),
         lambda: children.assign(q=children["weight"] * children["value"]).groupby(KEYS)["q"]
         .sum() / children.groupby(KEYS)["weight"].sum()),
    ]
    for label, mine, plain in cases:
        t_mine = timed(mine, repeat)  # type: ignore[arg-type]
        t_plain = timed(plain, repeat)
        print(f"  {label:<30} citykb {t_mine:7.3f} s   plain {t_plain:7.3f} s   "
              f"ratio {t_mine / t_plain:5.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--places", type=int, default=10_000)
    ap.add_argument("--dimensions", type=int, default=10)
    ap.add_argument("--indicators", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", action="store_true", help="Time each pipeline step alone.")
    args = ap.parse_args()
    base, raw = generate(args.places, args.dimensions, args.indicators)
    print(f"{len(raw):,} input values: {args.places:,} places × {args.dimensions} dimensions "
          f"× {args.indicators} indicators")
    if args.steps:
        steps(raw, args.repeat)
        return
    for label, norm, agg, params in CASES:
        name = "minmax" if norm == "minmax1" else norm
        cfg = Config(base.framework, base.nodes, normalise=Call(name, params),
                     aggregate=Call(agg))
        t_engine = timed(lambda cfg=cfg: engine.run(cfg, raw), args.repeat)  # type: ignore[misc]
        t_pandas = timed(lambda n=norm, a=agg: pandas_reference(base, raw, n, a), args.repeat)  # type: ignore[misc]
        print(f"  {label:<24} engine {t_engine:7.3f} s   pandas {t_pandas:7.3f} s   "
              f"ratio {t_engine / t_pandas:5.2f}×")


if __name__ == "__main__":
    main()
