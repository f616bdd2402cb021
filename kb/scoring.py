"""Scoring by walking the framework graph.

The tree comes from SPARQL and is ordered by networkx; the numbers come from the columnar copy
and are aggregated set-wise with pandas. Each aggregate level is written back as observations
in the run's named graph, with PROV-O: the run is a ``kb:ScoringRun`` (method, parameters,
software version, time) and each score ``prov:wasDerivedFrom`` the observations it sums.

Methods (spine): ``sum`` — a node's score is the sum of its children's; ranks are standard
competition ranks ("1224": tied places share the best rank, the next rank skips).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import networkx as nx
import pandas as pd
import pyoxigraph as ox

from kb import __version__
from kb import namespaces as ns
from kb.errors import KbError
from kb.nquads import P, QuadSink, column_quads, decimal_column, integer_column, iri, lit
from kb.sparql import select
from kb.store import BuildDir, read_observations, remove_columnar, write_columnar

TREE_QUERY = """
SELECT ?fw ?node ?parent ?method ?rankMethod ?inputs WHERE {
  ?fw kb:method ?method ; kb:rankMethod ?rankMethod .
  ?inputs a kb:InputDataSet ; kb:framework ?fw .
  ?node skos:inScheme ?fw .
  OPTIONAL { ?node skos:broader ?parent }
}
"""
PERIOD_QUERY = """
SELECT ?inputs ?period WHERE { ?obs qb:dataSet ?inputs ; sdmx-dimension:refPeriod ?period }
LIMIT 1
"""


@dataclass(frozen=True)
class Tree:
    """A framework's tree as a networkx DiGraph (parent → child), root = the framework IRI."""

    framework: str
    graph: nx.DiGraph
    method: str
    rank_method: str
    inputs: str
    period: str

    def children(self, node: str) -> list[str]:
        return list(self.graph.successors(node))


def load_tree(store: ox.Store, framework: str) -> Tree:
    rows = select(store, TREE_QUERY, {"fw": ox.NamedNode(framework)})
    if not rows:
        raise KbError("KB050", f"no framework {framework} with an input dataset in the store")
    g = nx.DiGraph()
    g.add_node(framework)
    for r in rows:
        node = str(r["node"].value)  # type: ignore[union-attr]
        parent = r["parent"].value if r["parent"] is not None else framework
        g.add_edge(parent, node)
    if not nx.is_arborescence(g):
        raise KbError("KB025", f"the framework {framework} is not a tree")
    first = rows[0]
    assert first["inputs"] is not None
    found = select(store, PERIOD_QUERY, {"inputs": first["inputs"]})
    period = found[0]["period"].value if found else ""  # type: ignore[union-attr]
    return Tree(framework, g, str(first["method"].value),  # type: ignore[union-attr]
                str(first["rankMethod"].value), str(first["inputs"].value),  # type: ignore[union-attr]
                period)


def competition_rank(values: pd.Series, groups: pd.Series) -> pd.Series:
    """Standard competition ranks within each group, highest value first ("1224")."""
    return values.groupby(groups).rank(method="min", ascending=False).astype("int64")


@dataclass(frozen=True)
class RunResult:
    run: str
    graph: str
    dataset: str
    scores: pd.DataFrame
    """Columns: obs, place, concept, value, rank (one row per place and aggregate node)."""


def run_id(framework: str, tree: Tree, inputs: pd.DataFrame) -> str:
    """Deterministic: the same framework, method, software and inputs give the same run id."""
    h = hashlib.sha256()
    h.update(json.dumps([framework, tree.method, tree.rank_method, __version__]).encode())
    h.update(json.dumps(sorted(map(list, tree.graph.edges))).encode())
    key = inputs.sort_values("obs")[["obs", "value"]]
    h.update(pd.util.hash_pandas_object(key, index=False).to_numpy().tobytes())
    return f"{ns.local_name(framework)}-{ns.local_name(tree.method)}-{h.hexdigest()[:12]}"


def obs_iris(prefix: str, framework: str, places: pd.Series, concepts: pd.Series) -> pd.Series:
    """IRIs of computed observations: ``{prefix}{place-slug}/{concept-slug}`` (``total`` for
    the framework itself)."""
    place_slug = places.str.rsplit("/", n=1).str[-1]
    concept_slug = concepts.str.rsplit("/", n=1).str[-1].where(concepts != framework, "total")
    return prefix + place_slug + "/" + concept_slug


def compute(tree: Tree, inputs: pd.DataFrame, obs_prefix: str) -> tuple[pd.DataFrame,
                                                                        pd.DataFrame]:
    """Aggregate the inputs up the tree, level by level from the leaves.

    ``inputs`` has columns obs, place, concept, value. Returns ``scores`` (obs, place, concept,
    value, rank) and ``derivations`` (obs, derived_from: one row per child observation).
    """
    if tree.method != ns.method("sum"):
        raise KbError("KB051", f"unknown aggregation method {tree.method}")
    parent_of = {c: p for p, c in tree.graph.edges}
    heights = _heights(tree)
    current = inputs[["obs", "place", "concept", "value"]]
    results: list[pd.DataFrame] = []
    derivations: list[pd.DataFrame] = []
    for h in sorted(set(heights.values())):
        nodes = {n for n, nh in heights.items() if nh == h}
        child = current[current["concept"].map(parent_of).isin(nodes)]
        child = child.assign(parent=child["concept"].map(parent_of))
        agg = (child.groupby(["place", "parent"], sort=True)["value"].sum().reset_index()
               .rename(columns={"parent": "concept"}))
        agg["rank"] = competition_rank(agg["value"], agg["concept"])
        agg["obs"] = obs_iris(obs_prefix, tree.framework, agg["place"], agg["concept"])
        link = child.merge(agg[["place", "concept", "obs"]], left_on=["place", "parent"],
                           right_on=["place", "concept"], suffixes=("_child", ""))
        derivations.append(pd.DataFrame({"obs": link["obs"], "derived_from": link["obs_child"]}))
        results.append(agg[["obs", "place", "concept", "value", "rank"]])
        current = pd.concat([current, agg[["obs", "place", "concept", "value"]]],
                            ignore_index=True)
    return pd.concat(results, ignore_index=True), pd.concat(derivations, ignore_index=True)


def _heights(tree: Tree) -> dict[str, int]:
    """Height of each inner node above the leaves (leaves 0), computed bottom-up."""
    heights: dict[str, int] = {}
    for n in reversed(list(nx.topological_sort(tree.graph))):
        kids = list(tree.graph.successors(n))
        heights[n] = 0 if not kids else 1 + max(heights[k] for k in kids)
    return {n: h for n, h in heights.items() if h > 0}


def score(store: ox.Store, build: BuildDir, framework: str) -> RunResult:
    """Compute a framework's scores and write them back as a scoring run (replacing any
    earlier run with the same id)."""
    started = dt.datetime.now(dt.UTC)
    tree = load_tree(store, framework)
    inputs = read_observations(build, dataset=tree.inputs)
    if inputs.empty:
        raise KbError("KB026", f"framework {framework} has no input values")
    rid = run_id(framework, tree, inputs)
    graph = ns.graph_run(rid)
    dataset = ns.dataset(ns.local_name(framework), "run-" + rid)
    prefix = f"{ns.ID}obs/{ns.local_name(framework)}/run-{rid}/"
    scores, derivations = compute(tree, inputs, prefix)

    ended = dt.datetime.now(dt.UTC)
    text = _run_nquads(framework, tree, rid, graph, dataset, scores, derivations, started, ended)
    if ox.NamedNode(graph) in set(store.named_graphs()):
        store.remove_graph(ox.NamedNode(graph))
    store.bulk_load(text.encode("utf-8"), ox.RdfFormat.N_QUADS)
    store.flush()
    frame = pd.DataFrame({
        "obs": scores["obs"], "graph": graph, "dataset": dataset, "framework": framework,
        "place": scores["place"], "concept": scores["concept"],
        "value": scores["value"].astype("float64"), "rank": scores["rank"].astype("Int64"),
    })
    remove_columnar(build, graph)
    write_columnar(build, graph, frame)
    return RunResult(ns.run(rid), graph, dataset, frame)


def _run_nquads(
    framework: str, tree: Tree, rid: str, graph: str, dataset: str, scores: pd.DataFrame,
    derivations: pd.DataFrame, started: dt.datetime, ended: dt.datetime,
) -> str:
    g = iri(graph)
    run = iri(ns.run(rid))
    sink = QuadSink()
    sink.typed(run, P(ns.KB, "ScoringRun"), g)
    sink.typed(run, P(ns.PROV, "Activity"), g)
    sink.add(run, P(ns.KB, "framework"), iri(framework), g)
    sink.add(run, P(ns.KB, "method"), iri(tree.method), g)
    sink.add(run, P(ns.KB, "rankMethod"), iri(tree.rank_method), g)
    params = {"aggregate": ns.local_name(tree.method), "rank": ns.local_name(tree.rank_method),
              "inputs": tree.inputs}
    sink.add(run, P(ns.KB, "parameters"), lit(json.dumps(params, sort_keys=True)), g)
    sink.add(run, P(ns.KB, "softwareVersion"), lit(f"citykb {__version__}"), g)
    sink.add(run, P(ns.PROV, "used"), iri(tree.inputs), g)
    xsd_dt = ns.XSD + "dateTime"
    sink.add(run, P(ns.PROV, "startedAtTime"), lit(started.isoformat(), datatype=xsd_dt), g)
    sink.add(run, P(ns.PROV, "endedAtTime"), lit(ended.isoformat(), datatype=xsd_dt), g)
    d = iri(dataset)
    sink.typed(d, P(ns.KB, "ComputedDataSet"), g)
    sink.typed(d, P(ns.QB, "DataSet"), g)
    sink.add(d, P(ns.KB, "framework"), iri(framework), g)
    sink.add(d, P(ns.PROV, "wasGeneratedBy"), run, g)

    s = "<" + scores["obs"] + ">"
    const = {
        P(ns.RDF, "type"): P(ns.QB, "Observation"),
        P(ns.QB, "dataSet"): d,
        P(ns.PROV, "wasGeneratedBy"): run,
    }
    if tree.period:
        const[P(ns.SDMX_DIM, "refPeriod")] = lit(tree.period, datatype=ns.XSD + "gYear")
    for p, o in const.items():
        sink.extend_lines(s + f" {p} {o} {g} .\n")
    sink.extend_lines(column_quads(s, P(ns.SDMX_DIM, "refArea"), "<" + scores["place"] + ">", g))
    sink.extend_lines(column_quads(s, P(ns.KB, "concept"), "<" + scores["concept"] + ">", g))
    sink.extend_lines(column_quads(s, P(ns.SDMX_MEASURE, "obsValue"),
                                   decimal_column(scores["value"].astype("float64")), g))
    sink.extend_lines(column_quads(s, P(ns.KB, "rank"), integer_column(scores["rank"]), g))
    sink.extend_lines(column_quads("<" + derivations["obs"] + ">", P(ns.PROV, "wasDerivedFrom"),
                                   "<" + derivations["derived_from"] + ">", g))
    return sink.text()
