"""Scoring runs: the framework's declared methods (from the store) applied by the engine to
the inputs (from the columnar copy), written back with their full record.

The tree and its methods come from SPARQL; the numbers from the Parquet copy; the engine
(:mod:`kb.engine`) computes set-wise. Every stage is kept: normalised values (when
normalisation changes anything) and each aggregate level are observations in the run's named
graph, each ``prov:wasDerivedFrom`` the observations it was computed from. The run is a
``kb:ScoringRun`` (``prov:Activity``) whose ``kb:parameters`` hold the complete engine
configuration, so :func:`regen` can replay it exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyoxigraph as ox

from kb import __version__, engine
from kb import namespaces as ns
from kb.engine import Call, Config, NodeConfig
from kb.errors import KbError
from kb.nquads import (
    P,
    QuadFile,
    QuadSink,
    column_quads,
    double_column,
    integer_column,
    iri,
    iri_column,
    join,
    lit,
    per_unique,
)
from kb.sparql import python_value, select
from kb.store import BuildDir, read_observations, remove_columnar, write_columnar
from kb.triples import CHUNK_ROWS

FRAMEWORK_QUERY = """
SELECT ?fw ?inputs ?agg ?aggParams ?norm ?normParams ?imp ?impParams ?threshold ?rankMethod
       ?screen ?screenParams ?treat ?treatParams ?basis ?units
WHERE {
  ?fw kb:method ?agg ; kb:rankMethod ?rankMethod .
  ?inputs a kb:InputDataSet ; kb:framework ?fw .
  OPTIONAL { ?fw kb:aggregationParameters ?aggParams }
  OPTIONAL { ?fw kb:normalisation ?norm OPTIONAL { ?fw kb:normalisationParameters ?normParams } }
  OPTIONAL { ?fw kb:imputation ?imp OPTIONAL { ?fw kb:imputationParameters ?impParams } }
  OPTIONAL { ?fw kb:coverageThreshold ?threshold }
  OPTIONAL { ?fw kb:screening ?screen OPTIONAL { ?fw kb:screeningParameters ?screenParams } }
  OPTIONAL { ?fw kb:treatment ?treat OPTIONAL { ?fw kb:treatmentParameters ?treatParams } }
  OPTIONAL { ?fw kb:thresholdBasis ?basis }
  OPTIONAL { ?fw kb:unitAttributes ?units }
}
"""
NODES_QUERY = """
SELECT ?fw ?node ?parent ?weight ?direction ?norm ?normParams ?agg ?aggParams ?treat
       ?treatParams ?denominator ?scale WHERE {
  ?node skos:inScheme ?fw .
  OPTIONAL { ?node skos:broader ?parent }
  OPTIONAL { ?node kb:weight ?weight }
  OPTIONAL { ?node kb:direction ?direction }
  OPTIONAL { ?node kb:normalisation ?norm
             OPTIONAL { ?node kb:normalisationParameters ?normParams } }
  OPTIONAL { ?node kb:aggregation ?agg OPTIONAL { ?node kb:aggregationParameters ?aggParams } }
  OPTIONAL { ?node kb:treatment ?treat OPTIONAL { ?node kb:treatmentParameters ?treatParams } }
  OPTIONAL { ?node kb:denominator ?denominator OPTIONAL { ?node kb:denominatorScale ?scale } }
}
"""
WEIGHT_SET_QUERY = """
SELECT ?fw ?set ?node ?weight WHERE {
  ?a kb:weightSet ?set ; kb:node ?node ; kb:weight ?weight . ?set kb:framework ?fw .
}
"""
PERIOD_QUERY = """
SELECT ?inputs ?period WHERE { ?obs qb:dataSet ?inputs ; sdmx-dimension:refPeriod ?period }
LIMIT 1
"""
PLACES_QUERY = """
SELECT ?place ?province ?region WHERE {
  ?place a kb:City ; schema:containedInPlace ?province .
  ?province a kb:Province . OPTIONAL { ?province schema:containedInPlace ?region }
}
"""


def _call(method: Any, params: Any) -> Call | None:
    if method is None:
        return None
    return Call(ns.local_name(str(method.value)), json.loads(params.value) if params else {})


@dataclass(frozen=True)
class Plan:
    """What a scoring run will do: the engine configuration, its inputs and period."""

    config: Config
    inputs: str
    period: str
    weight_set: str | None = None


@dataclass(frozen=True)
class Overrides:
    """Changes for one run, as COINr's ``directions =`` and ``w =`` arguments: node → new
    direction, node → new weight (nodes by IRI). The run's record holds the configuration
    with them applied, so it replays as it ran."""

    directions: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


def load_plan(store: ox.Store, framework: str, weight_set: str | None = None,
              overrides: Overrides | None = None) -> Plan:
    """Read a framework's declared methods, weights and tree from the store."""
    fw = ox.NamedNode(framework)
    head = select(store, FRAMEWORK_QUERY, {"fw": fw})
    if not head:
        raise KbError("KB050", f"no framework {framework} with an input dataset in the store")
    h = head[0]
    rows = select(store, NODES_QUERY, {"fw": fw})
    weights: dict[str, float] = {}
    if weight_set is not None:
        sets = [r for r in select(store, WEIGHT_SET_QUERY, {"fw": fw})
                if r["set"] is not None and ns.local_name(r["set"].value) == weight_set]
        if not sets:
            raise KbError("KB050", f"framework {framework} has no weight set {weight_set!r}")
        weights = {str(r["node"].value): float(r["weight"].value)  # type: ignore[union-attr]
                   for r in sets}
    nodes = []
    for r in rows:
        node = str(r["node"].value)  # type: ignore[union-attr]
        parent = str(r["parent"].value) if r["parent"] is not None else framework
        weight = weights.get(node, float(python_value(r["weight"]) or 1.0))  # type: ignore[arg-type]
        direction = int(python_value(r["direction"]) or 1)  # type: ignore[call-overload]
        if overrides is not None:
            weight = overrides.weights.get(node, weight)
            direction = overrides.directions.get(node, direction)
        scale = python_value(r["scale"])
        nodes.append(NodeConfig(
            node, parent, weight, direction, _call(r["norm"], r["normParams"]),
            _call(r["agg"], r["aggParams"]),
            str(r["denominator"].value) if r["denominator"] is not None else None,
            float(scale) if scale is not None else 1.0,  # type: ignore[arg-type]
            _call(r["treat"], r["treatParams"])))
    if overrides is not None:
        unknown = sorted((set(overrides.directions) | set(overrides.weights))
                         - {n.id for n in nodes})
        if unknown:
            raise KbError("KB050", f"framework {framework} has no node {unknown[0]}")
    nodes.sort(key=lambda n: n.id)
    threshold = python_value(h["threshold"])
    config = Config(
        framework=framework,
        nodes=nodes,
        normalise=_call(h["norm"], h["normParams"]) or Call("none"),
        aggregate=_call(h["agg"], h["aggParams"]) or Call("sum"),
        impute=_call(h["imp"], h["impParams"]) or Call("none"),
        threshold=float(threshold) if threshold is not None else None,  # type: ignore[arg-type]
        rank=ns.local_name(str(h["rankMethod"].value)).removesuffix("-rank"),  # type: ignore[union-attr]
        screen=_call(h["screen"], h["screenParams"]) or Call("none"),
        treat=_call(h["treat"], h["treatParams"]) or Call("none"),
        threshold_basis="count" if h["basis"] is not None and h["basis"].value == "count"
        else "weight",
        units=json.loads(h["units"].value) if h["units"] is not None else {},
    )
    inputs = str(h["inputs"].value)  # type: ignore[union-attr]
    found = select(store, PERIOD_QUERY, {"inputs": ox.NamedNode(inputs)})
    period = str(found[0]["period"].value) if found else ""  # type: ignore[union-attr]
    return Plan(config, inputs, period, weight_set)


@dataclass(frozen=True)
class RunResult:
    run: str
    graph: str
    dataset: str
    scores: pd.DataFrame
    """The run's observations as in the columnar copy: obs, graph, dataset, framework, place,
    concept, value, rank."""
    scored: int = -1
    """How many observations the run computed (``len(scores)`` unless the rows were let go:
    :meth:`counted`)."""

    def __post_init__(self) -> None:
        if self.scored < 0:
            object.__setattr__(self, "scored", len(self.scores))

    def counted(self) -> RunResult:
        """The run without its rows (kept: how many there were), once they are written."""
        return replace(self, scores=self.scores.iloc[:0])


def run_id(plan: Plan, inputs: pd.DataFrame) -> str:
    """A digest of everything the scores depend on: configuration, software and inputs."""
    h = hashlib.sha256()
    h.update(json.dumps([plan.config.to_json(), plan.inputs, __version__],
                        sort_keys=True).encode())
    key = inputs.sort_values("obs")[["obs", "value"]]
    h.update(pd.util.hash_pandas_object(key, index=False).to_numpy().tobytes())
    slug = ns.local_name(plan.config.framework)
    return f"{slug}-{plan.config.aggregate.name}-{h.hexdigest()[:12]}"


def place_attributes(store: ox.Store) -> pd.DataFrame:
    """Cities' province and region (the groupings every city has), indexed by place IRI;
    an empty table when the store holds no city."""
    rows = select(store, PLACES_QUERY)
    frame = pd.DataFrame(
        [{"place": r["place"].value, "province": r["province"].value,  # type: ignore[union-attr]
          "region": r["region"].value if r["region"] is not None else None} for r in rows],
        columns=["place", "province", "region"])
    return frame.set_index("place")


def _attributes_needed(config: Config, store: ox.Store) -> pd.DataFrame | None:
    """The cities' attributes, read only when imputation groups by one of them."""
    group = config.impute.params.get("group", "region")
    if config.impute.name.startswith("group-") and group not in config.units:
        return place_attributes(store)
    return None


def score(store: ox.Store, build: BuildDir, framework: str,
          weight_set: str | None = None, overrides: Overrides | None = None) -> RunResult:
    """Compute a framework's scores with its declared methods and write them back as a run.

    A rerun on the same inputs has the same id: its scores are recomputed and compared with
    the stored run, which is rewritten only if they differ (they never should).
    """
    started = dt.datetime.now(dt.UTC)
    plan = load_plan(store, framework, weight_set, overrides)
    return execute(store, build, plan, started)


def compute(store: ox.Store, plan: Plan, raw: pd.DataFrame, out: QuadFile | QuadSink,
            started: dt.datetime | None = None) -> RunResult:
    """Score ``raw`` (the framework's inputs, as in the columnar copy) by ``plan``; write the
    run's statements to ``out``. ``store`` only answers the places' attributes."""
    started = started or dt.datetime.now(dt.UTC)
    if raw.empty:
        raise KbError("KB026", f"framework {plan.config.framework} has no input values")
    result = engine.run(plan.config, raw, _attributes_needed(plan.config, store),
                        panel=is_panel(raw))
    rid = run_id(plan, raw)
    obs = _observations(plan, rid, raw, result)
    graph = ns.graph_run(rid)
    dropped = ([] if result.screened is None else
               sorted(result.screened.loc[~result.screened["included"], "place"].astype(str)))
    _run_nquads(plan, rid, graph, obs, started, dt.datetime.now(dt.UTC), out, dropped)
    return RunResult(ns.run(rid), graph, obs.dataset, obs.frame.assign(graph=graph))


def is_panel(raw: pd.DataFrame) -> bool:
    """A panel run: the inputs span several years (the framework declares ``panel: true``;
    the loader refuses several years without it). Each place-year is then a unit, ranks are
    within a year and normalisation's goalposts are fixed across the years (COINr's
    ``global = TRUE``)."""
    return "period" in raw.columns and raw["period"].astype(str).nunique() > 1


def execute(store: ox.Store, build: BuildDir, plan: Plan,
            started: dt.datetime | None = None) -> RunResult:
    """Score by ``plan`` from the build's columnar copy into its (writable) store."""
    raw = read_observations(build, dataset=plan.inputs)
    sink = QuadSink()
    run = compute(store, plan, raw, sink, started)
    exists = ox.NamedNode(run.graph) in set(store.named_graphs())
    if exists and _same(read_observations(build, graph=run.graph), run.scores):
        return run
    if exists:
        store.remove_graph(ox.NamedNode(run.graph))
    store.bulk_load(sink.text().encode("utf-8"), ox.RdfFormat.N_QUADS)
    store.flush()
    remove_columnar(build, run.graph)
    write_columnar(build, run.graph, run.scores)
    return run


@dataclass
class _Out:
    dataset: str
    normalised_dataset: str | None
    frame: pd.DataFrame
    imputed: pd.DataFrame
    derivations: pd.DataFrame


def obs_iris(prefix: str, framework: str, places: pd.Series, concepts: pd.Series,
             periods: pd.Series | None = None) -> pd.Series:
    """``{prefix}{place-slug}/{concept-slug}`` (``total`` for the framework itself), and
    ``/{year}`` in a panel run."""
    place_slug = places.str.rsplit("/", n=1).str[-1]
    concept_slug = concepts.str.rsplit("/", n=1).str[-1].where(concepts != framework, "total")
    out = prefix + place_slug + "/" + concept_slug
    return out if periods is None else out + "/" + periods


def _as_text(df: pd.DataFrame, columns: tuple[str, ...] = ("place", "concept")) -> pd.DataFrame:
    return df.astype({c: "object" for c in columns})


def _observations(plan: Plan, rid: str, raw: pd.DataFrame, result: engine.Result) -> _Out:
    fw = plan.config.framework
    panel = "period" in result.aggregated.columns
    unit = ["place", "period"] if panel else ["place"]
    text = (*unit, "concept")
    result = engine.Result(_as_text(result.normalised, text), _as_text(result.aggregated, text),
                           _as_text(result.links, (*text, "child")),
                           result.identity)
    slug = ns.local_name(fw)
    dataset = ns.dataset(slug, "run-" + rid)
    raw_obs = raw.astype({"period": str} if panel else {}).set_index(
        [*unit, "concept"])["obs"]

    def year(f: pd.DataFrame) -> pd.Series | None:
        return f["period"] if panel else None

    agg = result.aggregated[result.aggregated["value"].notna()].copy()
    agg["obs"] = obs_iris(f"{ns.ID}obs/{slug}/run-{rid}/", fw, agg["place"], agg["concept"],
                          year(agg))
    agg["dataset"] = dataset
    frames = [agg]
    derivations = []
    normalised_dataset = None
    if result.identity:
        child_obs = raw_obs
        imputed = pd.DataFrame(columns=["obs"])
    else:
        normalised_dataset = ns.dataset(slug, "normalised-" + rid)
        norm = result.normalised[result.normalised["value"].notna()].copy()
        norm["obs"] = obs_iris(f"{ns.ID}obs/{slug}/normalised-{rid}/", fw, norm["place"],
                               norm["concept"], year(norm))
        norm["dataset"] = normalised_dataset
        frames.append(norm)
        src = raw_obs.reindex(pd.MultiIndex.from_frame(norm[[*unit, "concept"]])).to_numpy()
        has_src = pd.notna(src)
        derivations.append(pd.DataFrame({"obs": norm["obs"].to_numpy()[has_src],
                                         "derived_from": src[has_src]}))
        imputed = norm[norm["imputed"]][["obs"]]
        child_obs = norm.set_index([*unit, "concept"])["obs"]
    all_obs = pd.concat([child_obs, agg.set_index([*unit, "concept"])["obs"]])
    links = result.links
    parent = all_obs.reindex(pd.MultiIndex.from_frame(links[[*unit, "concept"]])).to_numpy()
    child = all_obs.reindex(pd.MultiIndex.from_arrays(
        [*(links[c] for c in unit), links["child"]])).to_numpy()
    ok = pd.notna(parent) & pd.notna(child)
    derivations.append(pd.DataFrame({"obs": parent[ok], "derived_from": child[ok]}))
    frame = pd.concat(frames, ignore_index=True)
    frame = pd.DataFrame({
        "obs": frame["obs"], "dataset": frame["dataset"], "framework": fw,
        "place": frame["place"], "concept": frame["concept"],
        "value": frame["value"].astype("float64"), "rank": frame["rank"].astype("Int64"),
        "period": frame["period"] if panel else plan.period,
    })
    return _Out(dataset, normalised_dataset, frame, imputed,
                pd.concat(derivations, ignore_index=True))


def _same(stored: pd.DataFrame, new: pd.DataFrame) -> bool:
    """The same observations with the same values and ranks (dtypes aside: the stored copy
    comes back from Parquet with its own string type)."""
    if len(stored) != len(new):
        return False
    a = stored.sort_values("obs", ignore_index=True)
    b = new.sort_values("obs", ignore_index=True)
    return (np.array_equal(a["obs"].astype(str).to_numpy(), b["obs"].astype(str).to_numpy())
            and np.array_equal(a["value"].to_numpy(dtype="float64"),
                               b["value"].to_numpy(dtype="float64"), equal_nan=True)
            and a["rank"].astype("Int64").equals(b["rank"].astype("Int64")))


def _run_nquads(plan: Plan, rid: str, graph: str, out: _Out, started: dt.datetime,
                ended: dt.datetime, bulk: QuadFile | QuadSink,
                dropped: list[str] | None = None) -> None:
    cfg = plan.config
    g = iri(graph)
    run = iri(ns.run(rid))
    sink = QuadSink()
    sink.typed(run, P(ns.KB, "ScoringRun"), g)
    sink.typed(run, P(ns.PROV, "Activity"), g)
    sink.add(run, P(ns.KB, "framework"), iri(cfg.framework), g)
    sink.add(run, P(ns.KB, "method"), iri(ns.method(cfg.aggregate.name)), g)
    sink.add(run, P(ns.KB, "normalisation"), iri(ns.method(cfg.normalise.name)), g)
    sink.add(run, P(ns.KB, "rankMethod"), iri(ns.method(cfg.rank + "-rank")), g)
    params: dict[str, Any] = {"config": cfg.to_json(), "inputs": plan.inputs,
                              "period": plan.period, "weight_set": plan.weight_set}
    if out.frame["period"].astype(str).nunique() > 1:
        params["panel"] = sorted(out.frame["period"].astype(str).unique())
    sink.add(run, P(ns.KB, "parameters"), lit(json.dumps(params, sort_keys=True)), g)
    sink.add(run, P(ns.KB, "softwareVersion"), lit(f"citykb {__version__}"), g)
    sink.add(run, P(ns.PROV, "used"), iri(plan.inputs), g)
    for place in dropped or []:
        sink.add(run, P(ns.KB, "screenedOut"), iri(place), g)
    if plan.weight_set is not None:
        ws = ns.node(ns.local_name(cfg.framework), f"weight-set/{plan.weight_set}")
        sink.add(run, P(ns.KB, "weightSet"), iri(ws), g)
    xsd_dt = ns.XSD + "dateTime"
    sink.add(run, P(ns.PROV, "startedAtTime"), lit(started.isoformat(), datatype=xsd_dt), g)
    sink.add(run, P(ns.PROV, "endedAtTime"), lit(ended.isoformat(), datatype=xsd_dt), g)
    for d, stage in ((out.dataset, "aggregated"), (out.normalised_dataset, "normalised")):
        if d is None:
            continue
        sink.typed(iri(d), P(ns.KB, "ComputedDataSet"), g)
        sink.typed(iri(d), P(ns.QB, "DataSet"), g)
        sink.add(iri(d), P(ns.QB, "structure"), iri(ns.STRUCTURE), g)
        sink.add(iri(d), P(ns.KB, "framework"), iri(cfg.framework), g)
        sink.add(iri(d), P(ns.KB, "stage"), lit(stage), g)
        sink.add(iri(d), P(ns.PROV, "wasGeneratedBy"), run, g)

    bulk.write_text(sink.text(), len(sink))
    frame = out.frame
    panel = frame["period"].astype(str).nunique() > 1  # each observation its own year
    period = lit(plan.period, datatype=ns.XSD + "gYear") if plan.period else None
    for start in range(0, len(frame), CHUNK_ROWS):  # bounded temporaries, whatever the size
        f = frame.iloc[start:start + CHUNK_ROWS]
        s = iri_column(f["obs"])
        bulk.extend_lines(join(s, f" {P(ns.RDF, 'type')} {P(ns.QB, 'Observation')} {g} .\n"))
        bulk.extend_lines(join(s, f" {P(ns.PROV, 'wasGeneratedBy')} {run} {g} .\n"))
        if panel:
            year = per_unique(f["period"].astype(str),
                              lambda u: '"' + u + f'"^^<{ns.XSD}gYear>')
            bulk.extend_lines(column_quads(s, P(ns.SDMX_DIM, "refPeriod"), year, g))
        elif period is not None:
            bulk.extend_lines(join(s, f" {P(ns.SDMX_DIM, 'refPeriod')} {period} {g} .\n"))
        bulk.extend_lines(column_quads(s, P(ns.QB, "dataSet"), iri_column(f["dataset"]), g))
        bulk.extend_lines(column_quads(s, P(ns.SDMX_DIM, "refArea"), iri_column(f["place"]),
                                       g))
        bulk.extend_lines(column_quads(s, P(ns.KB, "concept"), iri_column(f["concept"]), g))
        bulk.extend_lines(column_quads(s, P(ns.SDMX_MEASURE, "obsValue"),
                                       double_column(f["value"]), g))
        bulk.extend_lines(column_quads(s, P(ns.KB, "rank"), integer_column(f["rank"]), g))
    true = lit("true", datatype=ns.XSD + "boolean")
    imputed = f" {P(ns.KB, 'imputed')} {true} {g} .\n"
    for start in range(0, len(out.imputed), CHUNK_ROWS):
        bulk.extend_lines(join(iri_column(out.imputed["obs"].iloc[start:start + CHUNK_ROWS]),
                               imputed))
    links = out.derivations
    for start in range(0, len(links), CHUNK_ROWS):
        part = links.iloc[start:start + CHUNK_ROWS]
        bulk.extend_lines(column_quads(iri_column(part["obs"]), P(ns.PROV, "wasDerivedFrom"),
                                       iri_column(part["derived_from"]), g))


RUN_QUERY = """
SELECT ?run ?params ?framework WHERE { ?run a kb:ScoringRun ; kb:parameters ?params ;
  kb:framework ?framework }
"""


@dataclass(frozen=True)
class Regeneration:
    run: str
    identical: bool
    compared: int
    differences: pd.DataFrame
    """obs, stored value and rank, regenerated value and rank, for each difference"""


def find_run(store: ox.Store, name: str) -> tuple[str, dict[str, Any]]:
    """A run by IRI or id; its recorded parameters."""
    iri_ = name if name.startswith("http") else ns.run(name)
    rows = select(store, RUN_QUERY, {"run": ox.NamedNode(iri_)})
    if not rows:
        known = [str(r["run"].value) for r in select(store, RUN_QUERY)]  # type: ignore[union-attr]
        raise KbError("KB050", f"no scoring run {name!r}",
                      suggestions=[ns.local_name(k) for k in known][:5])
    return iri_, json.loads(str(rows[0]["params"].value))  # type: ignore[union-attr]


def regen(store: ox.Store, build: BuildDir, name: str) -> Regeneration:
    """Recompute a run from its PROV record alone (configuration, inputs, period) and compare
    every value and rank with what the run stored."""
    run_iri, params = find_run(store, name)
    plan = Plan(Config.from_json(params["config"]), params["inputs"], params["period"],
                params.get("weight_set"))
    raw = read_observations(build, dataset=plan.inputs)
    places = _attributes_needed(plan.config, store)
    rid = ns.local_name(run_iri)
    fresh = _observations(plan, rid, raw, engine.run(plan.config, raw, places,
                                                     panel=is_panel(raw))).frame
    stored = read_observations(build, graph=ns.graph_run(rid))
    both = stored[["obs", "value", "rank"]].merge(
        fresh[["obs", "value", "rank"]], on="obs", how="outer", suffixes=("_stored", "_regen"))
    same_value = both["value_stored"].eq(both["value_regen"]).fillna(False).astype(bool)
    same_rank = (both["rank_stored"].eq(both["rank_regen"]).fillna(False).astype(bool)
                 | (both["rank_stored"].isna() & both["rank_regen"].isna()))
    diff = both[~(same_value & same_rank)]
    return Regeneration(run_iri, diff.empty, len(both), diff.reset_index(drop=True))
