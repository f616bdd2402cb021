"""Composite-indicator analysis, as an audit of an index would do it.

Per-dimension statistics, correlations between dimensions (Pearson and Spearman), each
place's balance across dimensions, Cronbach's alpha of each dimension's components, rank
comparison between two indices, and Monte Carlo sensitivity of the ranks to weights and
aggregation methods. Everything works on wide pandas tables (places × dimensions) built from
the columnar copy; nothing loops over triples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
import pyoxigraph as ox

from kb import engine
from kb import namespaces as ns
from kb.errors import KbError
from kb.sparql import to_frame
from kb.store import BuildDir, read_observations

DIMENSIONS = """
SELECT ?fw ?dim ?zh ?en ?order WHERE {
  ?dim skos:topConceptOf ?fw ; kb:order ?order .
  OPTIONAL { ?dim skos:prefLabel ?zh FILTER (lang(?zh) = "zh") }
  OPTIONAL { ?dim skos:prefLabel ?en FILTER (lang(?en) = "en") }
}
"""
CHILDREN = "SELECT ?fw ?node ?parent WHERE { ?node skos:inScheme ?fw ; skos:broader ?parent }"


@dataclass(frozen=True)
class Table:
    """A framework's scores as wide tables: places × dimensions, and the totals."""

    framework: str
    dimensions: pd.DataFrame
    total: pd.Series
    labels: dict[str, str]
    """dimension IRI → Chinese (or English) name"""


def scores_table(store: ox.Store, build: BuildDir, framework: str) -> Table:
    """Computed scores of the latest run where citykb scores the framework, else published."""
    obs = read_observations(build, framework=framework)
    computed = obs[obs["dataset"].str.contains("/run-", regex=False)]
    chosen = computed if not computed.empty else obs[
        obs["dataset"] == ns.dataset(ns.local_name(framework), "published")]
    if chosen.empty:
        raise KbError("KB060", f"no scores for {framework}")
    dims = to_frame(store, DIMENSIONS, {"fw": ox.NamedNode(framework)}).sort_values("order")
    labels = {str(r["dim"]): str(r["zh"] if not pd.isna(r["zh"]) else r["en"])
              for r in dims.to_dict("records")}
    wide = chosen.pivot_table(index="place", columns="concept", values="value", aggfunc="first")
    present = [d for d in labels if d in wide.columns]
    total = wide[framework] if framework in wide.columns else wide[present].sum(axis=1)
    return Table(framework, wide[present], total.rename("total"), labels)


def describe(t: Table) -> pd.DataFrame:
    """Per-dimension descriptive statistics (sd with n − 1)."""
    d = t.dimensions
    out = pd.DataFrame({"mean": d.mean(), "sd": d.std(), "min": d.min(), "median": d.median(),
                        "max": d.max(), "n": d.count()})
    out["cv"] = out["sd"] / out["mean"]
    return out.rename(index=t.labels)


Method = Literal["pearson", "spearman"]


def correlations(t: Table, method: Method = "pearson") -> pd.DataFrame:
    return t.dimensions.corr(method=method).rename(index=t.labels, columns=t.labels)


def correlated_pairs(t: Table, method: Method = "pearson") -> pd.DataFrame:
    """Every pair of dimensions with its correlation, strongest first."""
    c = t.dimensions.corr(method=method)
    cols = list(c.columns)
    rows = [(cols[i], cols[j], c.iloc[i, j]) for i in range(len(cols))
            for j in range(i + 1, len(cols))]
    df = pd.DataFrame(rows, columns=["a", "b", "r"]).sort_values("r", ascending=False,
                                                                  ignore_index=True)
    return df


def balance(t: Table) -> pd.Series:
    """Each place's spread across its dimension scores (sd); larger = less balanced."""
    return t.dimensions.std(axis=1).sort_values(ascending=False)


def top_in_every_dimension(t: Table, n: int) -> list[str]:
    ranks = t.dimensions.rank(ascending=False, method="min")
    return sorted(ranks.index[(ranks <= n).all(axis=1)])


def cronbach_alpha(items: pd.DataFrame) -> float:
    """Cronbach's alpha of the columns (items) over the rows (places):
    ``k / (k − 1) · (1 − Σ var(item) / var(Σ items))``."""
    items = items.dropna()
    k = items.shape[1]
    if k < 2:
        return float("nan")
    total_var = items.sum(axis=1).var()
    return float(k / (k - 1) * (1 - items.var().sum() / total_var))


def alpha_per_dimension(store: ox.Store, build: BuildDir, framework: str) -> pd.Series:
    """Cronbach's alpha of each dimension over its input values (where they exist)."""
    obs = read_observations(build, framework=framework)
    inputs = obs[obs["dataset"] == ns.dataset(ns.local_name(framework), "inputs")]
    if inputs.empty:
        return pd.Series(dtype="float64")
    links = to_frame(store, CHILDREN, {"fw": ox.NamedNode(framework)})
    parent = dict(zip(links["node"].astype(str), links["parent"].astype(str), strict=True))
    dims = set(to_frame(store, DIMENSIONS, {"fw": ox.NamedNode(framework)})["dim"].astype(str))

    def dimension_of(c: str) -> str | None:
        while c in parent and c not in dims:
            c = parent[c]
        return c if c in dims else None

    inputs = inputs.assign(dim=inputs["concept"].map(dimension_of))
    out = {}
    for dim, grp in inputs.groupby("dim"):
        out[dim] = cronbach_alpha(grp.pivot(index="place", columns="concept", values="value"))
    return pd.Series(out, name="alpha")


def compare_ranks(a: pd.Series, b: pd.Series, movers: int = 10) -> tuple[float, pd.DataFrame]:
    """Spearman correlation of two indices' scores over their shared places, and the places
    whose rank among the shared places moves most."""
    shared = a.index.intersection(b.index)
    if len(shared) < 3:
        raise KbError("KB060", f"only {len(shared)} places are in both indices")
    ra = a[shared].rank(ascending=False, method="min")
    rb = b[shared].rank(ascending=False, method="min")
    # Spearman's rho: Pearson's r of the average ranks
    rho = float(a[shared].rank().corr(b[shared].rank()))
    table = pd.DataFrame({"rank_a": ra.astype(int), "rank_b": rb.astype(int)})
    table["move"] = table["rank_a"] - table["rank_b"]
    order = table["move"].abs().sort_values(ascending=False, kind="stable").index
    return rho, table.loc[order].head(movers)


def sensitivity(
    plan_config: engine.Config, raw: pd.DataFrame, *, draws: int = 200, seed: int = 0,
    weight_spread: float = 0.25, methods: tuple[str, ...] = ("amean", "gmean"),
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Monte Carlo over weights and aggregation methods: each draw multiplies every weight by
    a factor uniform in [1 − spread, 1 + spread] and picks the aggregation method at random;
    returns each place's nominal rank (the framework's declared method and weights), and its
    median, 5th and 95th percentile rank over the draws. Deterministic under ``seed``."""
    rng = np.random.default_rng(seed)
    fw = plan_config.framework
    nominal = _total_rank(engine.run(plan_config, raw), fw)
    ranks = []
    for i in range(draws):
        factors = rng.uniform(1 - weight_spread, 1 + weight_spread, size=len(plan_config.nodes))
        nodes = [replace(n, weight=n.weight * f, aggregate=None)
                 for n, f in zip(plan_config.nodes, factors, strict=True)]
        method = methods[int(rng.integers(len(methods)))]
        cfg = replace(plan_config, nodes=nodes, aggregate=engine.Call(method))
        ranks.append(_total_rank(engine.run(cfg, raw), fw).rename(i))
        if progress is not None:
            progress(i + 1)
    r = pd.concat(ranks, axis=1)
    out = pd.DataFrame({"nominal": nominal, "median": r.median(axis=1),
                        "p05": r.quantile(0.05, axis=1), "p95": r.quantile(0.95, axis=1)})
    return out.sort_values(["median", "nominal"])


def _total_rank(result: engine.Result, framework: str) -> pd.Series:
    agg = result.aggregated
    t = agg[agg["concept"] == framework].set_index("place")["value"]
    return t.rank(ascending=False, method="min")
