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

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kb import __version__, engine
from kb import namespaces as ns
from kb.engine import Call, Config
from kb.errors import KbError
from kb.nquads import P, QuadFile, QuadSink, iri, lit

if TYPE_CHECKING:
    from kb.models import SensitivitySpec


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


def declared_factors(spec: SensitivitySpec, config: Config) -> list[Factor]:
    """The uncertain choices a framework declares (``sensitivity.factors`` in its
    framework.yaml), with node ids made IRIs and method names citykb's own."""
    from kb import methods

    slug = ns.local_name(config.framework)
    out = []
    for f in spec.factors:
        if f.kind == "weight":
            out.append(Factor(f.name, "weight", node=ns.node(slug, str(f.node)),
                              low=f.low, high=f.high))
        elif f.kind == "drop":
            out.append(Factor(f.name, "drop", tuple(None if c is None else ns.node(slug, c)
                                                    for c in f.choices)))
        else:
            own: Call = getattr(config, f.kind)
            calls = []
            for c in f.choices:
                name = methods.ALIASES.get((f.kind, str(c)), str(c))
                calls.append(own if own.name == name else Call(name))
            out.append(Factor(f.name, f.kind, tuple(calls)))
    return out


def _factor_json(f: Factor) -> dict[str, Any]:
    choices = [{"name": c.name, "params": c.params} if isinstance(c, Call) else c
               for c in f.choices]
    return {"name": f.name, "kind": f.kind, "node": f.node or None, "low": f.low,
            "high": f.high, "choices": choices}


def run_id(config: Config, inputs: str, factors: Sequence[Factor], result: Sensitivity) -> str:
    """A digest of what the analysis depends on: configuration, factors, N, seed, software."""
    h = hashlib.sha256(json.dumps([config.to_json(), inputs, [_factor_json(f) for f in factors],
                                   result.n, result.seed, __version__],
                                  sort_keys=True).encode())
    return f"{ns.local_name(config.framework)}-sensitivity-{h.hexdigest()[:12]}"


def record(config: Config, inputs: str, factors: Sequence[Factor], result: Sensitivity,
           started: dt.datetime, ended: dt.datetime, out: QuadFile | QuadSink,
           informed_by: str | None = None) -> str:
    """Write the analysis as PROV to ``out``: a ``kb:SensitivityRun`` (a ``prov:Activity``)
    with its declared uncertain choices, N, seed and runs, each factor with its first-order
    and total Sobol' index, each unit's rank interval; every result ``prov:wasGeneratedBy``
    the run. Returns the run's IRI (its graph is ``ns.graph_run`` of the same id)."""
    rid = run_id(config, inputs, factors, result)
    g = iri(ns.graph_run(rid))
    run_iri = ns.run(rid)
    run = iri(run_iri)
    xsd = ns.XSD
    sink = QuadSink()
    sink.typed(run, P(ns.KB, "SensitivityRun"), g)
    sink.typed(run, P(ns.PROV, "Activity"), g)
    sink.add(run, P(ns.KB, "framework"), iri(config.framework), g)
    sink.add(run, P(ns.KB, "sampleSize"), lit(result.n, datatype=xsd + "integer"), g)
    sink.add(run, P(ns.KB, "randomSeed"), lit(result.seed, datatype=xsd + "integer"), g)
    sink.add(run, P(ns.KB, "runCount"), lit(result.runs, datatype=xsd + "integer"), g)
    params = {"config": config.to_json(), "inputs": inputs, "n": result.n,
              "seed": result.seed, "factors": [_factor_json(f) for f in factors]}
    sink.add(run, P(ns.KB, "parameters"), lit(json.dumps(params, sort_keys=True)), g)
    sink.add(run, P(ns.KB, "softwareVersion"), lit(f"citykb {__version__}"), g)
    sink.add(run, P(ns.PROV, "used"), iri(inputs), g)
    if informed_by is not None:
        sink.add(run, P(ns.PROV, "wasInformedBy"), iri(informed_by), g)
    sink.add(run, P(ns.PROV, "startedAtTime"),
             lit(started.isoformat(), datatype=xsd + "dateTime"), g)
    sink.add(run, P(ns.PROV, "endedAtTime"),
             lit(ended.isoformat(), datatype=xsd + "dateTime"), g)
    double = xsd + "double"
    for i, f in enumerate(factors):
        node = iri(f"{run_iri}/factor/{i + 1}")
        sink.add(run, P(ns.KB, "uncertainFactor"), node, g)
        sink.typed(node, P(ns.KB, "UncertainFactor"), g)
        sink.add(node, P(ns.RDFS, "label"), lit(f.name), g)
        sink.add(node, P(ns.KB, "factorKind"), lit(f.kind), g)
        sink.add(node, P(ns.KB, "parameters"),
                 lit(json.dumps(_factor_json(f), sort_keys=True)), g)
        sink.add(node, P(ns.KB, "firstOrderIndex"),
                 lit(repr(float(result.indices["first"].iloc[i])), datatype=double), g)
        sink.add(node, P(ns.KB, "totalIndex"),
                 lit(repr(float(result.indices["total"].iloc[i])), datatype=double), g)
        sink.add(node, P(ns.PROV, "wasGeneratedBy"), run, g)
    for place, row in result.ranks.iterrows():
        node = iri(f"{run_iri}/rank/{ns.local_name(str(place))}")
        sink.add(run, P(ns.KB, "rankInterval"), node, g)
        sink.typed(node, P(ns.KB, "RankInterval"), g)
        sink.add(node, P(ns.KB, "rankedUnit"), iri(str(place)), g)
        if pd.notna(row["nominal"]):
            sink.add(node, P(ns.KB, "nominalRank"),
                     lit(int(row["nominal"]), datatype=xsd + "integer"), g)
        for col, prop in (("mean", "meanRank"), ("median", "medianRank"),
                          ("p05", "rankQ05"), ("p95", "rankQ95")):
            if pd.notna(row[col]):
                sink.add(node, P(ns.KB, prop), lit(repr(float(row[col])), datatype=double), g)
        sink.add(node, P(ns.PROV, "wasGeneratedBy"), run, g)
    out.write_text(sink.text(), len(sink))
    return run_iri


RECORDED_QUERY = """
SELECT ?fw ?run ?params WHERE {
  ?run a kb:SensitivityRun ; kb:framework ?fw ; kb:parameters ?params }
ORDER BY ?run
"""


def recorded_factors(store: Any, framework: str) -> list[Factor]:
    """The uncertain choices of the framework's recorded sensitivity analysis (the one its
    framework.yaml declares, run by the build); none when it has none."""
    import pyoxigraph as ox

    from kb.sparql import select

    rows = select(store, RECORDED_QUERY, {"fw": ox.NamedNode(framework)})
    if not rows:
        return []
    params = json.loads(str(rows[0]["params"].value))  # type: ignore[union-attr]
    out = []
    for f in params["factors"]:
        choices = tuple(Call(c["name"], c["params"]) if isinstance(c, dict) else c
                        for c in f["choices"])
        out.append(Factor(f["name"], f["kind"], choices, f["node"] or "", f["low"], f["high"]))
    return out
