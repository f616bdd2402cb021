"""Uncertainty and variance-based sensitivity analysis of an index, as COINr and the JRC do
it: the uncertain choices (weights, normaliser, aggregator, imputation, dropping an indicator)
are factors; each run of the pipeline draws every factor; the ranks of the units over the runs
give the uncertainty (nominal, mean, median, 5th and 95th percentile rank per unit), and
Sobol' first-order and total indices say how much of the variance of the output each factor
explains.

The design is Saltelli's: two independent N × k samples A and B, and for each factor i the
matrix A with column i taken from B — N(k + 2) runs. The estimators are Saltelli's (2010) for
the first-order index, ``Sᵢ = mean(f(B)·(f(ABᵢ) − f(A))) / V``, and Jansen's for the total,
``STᵢ = mean((f(A) − f(ABᵢ))²) / 2V``. The output whose variance is decomposed is, as in
COINr, the mean absolute shift of the units' ranks from the nominal ranks. Everything is drawn
from one seeded generator: a seed gives the same numbers on any machine.

The JRC's rule for N: indices are trusted when they no longer move as N doubles
(:func:`converged`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from kb import engine
from kb.engine import Call, Config
from kb.errors import KbError


@dataclass(frozen=True)
class Factor:
    """One uncertain choice. ``kind``: ``weight`` (the weight of ``node`` times a factor
    uniform in [low, high]), ``normalise``/``aggregate``/``impute`` (one of ``choices``, each
    a :class:`Call`, equally likely), or ``drop`` (one of ``choices``: a node id to leave out,
    or None to keep all)."""

    name: str
    kind: str
    choices: tuple[Any, ...] = ()
    node: str = ""
    low: float = 1.0
    high: float = 1.0

    def apply(self, config: Config, u: float) -> Config:
        """The configuration with this factor set by ``u`` ∈ [0, 1)."""
        if self.kind == "weight":
            f = self.low + u * (self.high - self.low)
            nodes = [replace(n, weight=n.weight * f) if n.id == self.node else n
                     for n in config.nodes]
            return replace(config, nodes=nodes)
        pick = self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.kind in ("normalise", "aggregate", "impute"):
            if self.kind == "aggregate":
                nodes = [replace(n, aggregate=None) for n in config.nodes]
                config = replace(config, nodes=nodes)
            if self.kind == "normalise":
                nodes = [replace(n, normalise=None) for n in config.nodes]
                config = replace(config, nodes=nodes)
            return replace(config, **{self.kind: pick})
        if self.kind == "drop":
            if pick is None:
                return config
            nodes = [replace(n, weight=0.0) if n.id == pick else n for n in config.nodes]
            return replace(config, nodes=nodes)
        raise KbError("KB121", f"unknown kind of uncertain factor {self.kind!r}")


def default_factors(config: Config, spread: float = 0.25) -> list[Factor]:
    """The usual audit: each top-level node's weight ±``spread``, and the aggregator among
    the framework's own, the arithmetic and the geometric mean."""
    tops = [n for n in config.nodes if n.parent == config.framework]
    out = [Factor(f"weight:{n.id.rsplit('/', 1)[-1]}", "weight", node=n.id,
                  low=1 - spread, high=1 + spread) for n in tops]
    aggs: list[Call] = []
    for c in (config.aggregate, Call("amean"), Call("gmean")):
        if c not in aggs:
            aggs.append(c)
    out.append(Factor("aggregate", "aggregate", tuple(aggs)))
    return out


def saltelli(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The two independent N × k uniform samples A and B."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, 2 * k))
    return base[:, :k], base[:, k:]


def sobol_indices(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """First-order and total indices from f(A), f(B) (length N) and f(ABᵢ) (N × k)."""
    both = np.concatenate([fa, fb])
    v = np.var(both)
    # centred outputs: the same expectations, much less sampling noise (Sobol' 2007)
    m = both.mean()
    fa, fb, fab = fa - m, fb - m, fab - m
    if v == 0:
        return np.zeros(fab.shape[1]), np.zeros(fab.shape[1])
    first = np.mean(fb[:, None] * (fab - fa[:, None]), axis=0) / v
    total = 0.5 * np.mean((fa[:, None] - fab) ** 2, axis=0) / v
    return first, total


def converged(history: Sequence[tuple[int, np.ndarray]], tol: float = 0.05) -> bool:
    """The JRC's rule: the indices are stable when, as N doubles, none of them moves by more
    than ``tol``. ``history``: (N, indices) for increasing N."""
    if len(history) < 2:
        return False
    (n0, a), (n1, b) = history[-2], history[-1]
    return n1 >= 2 * n0 and bool(np.all(np.abs(a - b) <= tol))


@dataclass
class Sensitivity:
    ranks: pd.DataFrame
    """Per unit: nominal, mean, median, p05, p95 rank of the index over all runs."""
    indices: pd.DataFrame
    """Per factor: first (Sᵢ), total (STᵢ)."""
    runs: int
    seed: int
    n: int


def analyse(config: Config, raw: pd.DataFrame, factors: list[Factor], *, n: int = 64,
            seed: int = 0, places: pd.DataFrame | None = None,
            progress: Callable[[int, int], None] | None = None) -> Sensitivity:
    """Run the pipeline N(k + 2) times over the factors' Saltelli design."""
    if not factors:
        raise KbError("KB121", "sensitivity analysis needs at least one uncertain factor")
    fw = config.framework
    nominal = _index_ranks(engine.run(config, raw, places), fw)
    k = len(factors)
    a, b = saltelli(n, k, seed)
    designs = [a, b] + [np.where(np.arange(k) == i, b, a) for i in range(k)]
    total = n * (k + 2)
    outputs = np.empty((k + 2, n))
    ranks = []
    done = 0
    for d, sample in enumerate(designs):
        for j in range(n):
            cfg = config
            for f, u in zip(factors, sample[j], strict=True):
                cfg = f.apply(cfg, float(u))
            r = _index_ranks(engine.run(cfg, raw, places), fw).reindex(nominal.index)
            outputs[d, j] = float(np.nanmean(np.abs(r.to_numpy(dtype="float64")
                                                    - nominal.to_numpy(dtype="float64"))))
            ranks.append(r.to_numpy(dtype="float64"))
            done += 1
            if progress is not None:
                progress(done, total)
    first, tot = sobol_indices(outputs[0], outputs[1], outputs[2:].T)
    all_ranks = np.vstack(ranks)
    table = pd.DataFrame({
        "nominal": nominal.to_numpy(dtype="float64"),
        "mean": np.nanmean(all_ranks, axis=0),
        "median": np.nanmedian(all_ranks, axis=0),
        "p05": np.nanquantile(all_ranks, 0.05, axis=0),
        "p95": np.nanquantile(all_ranks, 0.95, axis=0),
    }, index=nominal.index).sort_values(["nominal", "median"])
    indices = pd.DataFrame({"first": first, "total": tot},
                           index=pd.Index([f.name for f in factors], name="factor"))
    return Sensitivity(table, indices, total, seed, n)


def _index_ranks(result: engine.Result, framework: str) -> pd.Series:
    agg = result.aggregated
    top = agg[agg["concept"].astype(str) == framework]
    return pd.Series(top["rank"].to_numpy(dtype="float64", na_value=np.nan),
                     index=pd.Index(top["place"].astype(str), name="place"))
