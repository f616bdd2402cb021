"""The scoring pipeline, pure computation on DataFrames (no store):

raw values → direction → imputation → normalisation → aggregation level by level → ranks.

Each stage's values are returned separately (nothing is overwritten) with the links from each
value to the values it was computed from, so the caller can record them as observations with
PROV-O. The configuration is plain data (:class:`Config`, JSON-serialisable) so that a run can
be recorded and replayed exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from kb import methods
from kb.errors import KbError
from kb.methods.aggregate import KEYS


@dataclass(frozen=True)
class Call:
    """A method chosen by name, with its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeConfig:
    id: str
    """The node's IRI."""
    parent: str
    """The parent's IRI; the framework's IRI for a top-level node."""
    weight: float = 1.0
    direction: int = 1
    normalise: Call | None = None
    """For input nodes: how their raw values are normalised (None: the framework default)."""
    aggregate: Call | None = None
    """For inner nodes: how their children are combined (None: the framework default)."""


@dataclass(frozen=True)
class Config:
    framework: str
    nodes: list[NodeConfig]
    normalise: Call = Call("none")
    aggregate: Call = Call("sum")
    impute: Call = Call("none")
    threshold: float | None = None
    """Minimum share of a parent's children weight that must be present; below it the
    parent's value is missing."""
    rank: str = "competition"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        def call(d: dict[str, Any] | None) -> Call | None:
            return None if d is None else Call(d["name"], dict(d.get("params") or {}))

        nodes = [NodeConfig(n["id"], n["parent"], float(n["weight"]), int(n["direction"]),
                            call(n.get("normalise")), call(n.get("aggregate")))
                 for n in data["nodes"]]
        return cls(data["framework"], nodes, call(data["normalise"]) or Call("none"),
                   call(data["aggregate"]) or Call("sum"), call(data["impute"]) or Call("none"),
                   data.get("threshold"), data.get("rank", "competition"))


@dataclass
class Result:
    normalised: pd.DataFrame
    """place, concept, value, rank, imputed, source (the raw observation it came from)"""
    aggregated: pd.DataFrame
    """place, concept, value, rank, coverage"""
    links: pd.DataFrame
    """place, concept (the computed value) and child (the concept it was computed from)"""
    identity: bool = False
    """True when normalisation changed nothing (all inputs 'none', direction +1, no
    imputation): the aggregates then derive directly from the raw observations."""


def competition_rank(values: pd.Series, groups: pd.Series) -> pd.Series:
    """Standard competition ranks within each group, highest first ("1224"); missing stays
    missing."""
    r = values.groupby(groups).rank(method="min", ascending=False, na_option="keep")
    return r.astype("Int64")


def tree(config: Config) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_node(config.framework)
    for n in config.nodes:
        g.add_edge(n.parent, n.id)
    if not nx.is_arborescence(g):
        raise KbError("KB025", f"the framework {config.framework} is not a tree")
    return g


def run(config: Config, raw: pd.DataFrame, places: pd.DataFrame | None = None) -> Result:
    """Score ``raw`` (columns place, concept, value; concepts are the input nodes)."""
    by_id = {n.id: n for n in config.nodes}
    inputs = sorted(set(raw["concept"]))
    unknown = [c for c in inputs if c not in by_id]
    if unknown:
        raise KbError("KB021", f"inputs for nodes not in the framework: {unknown[:5]}")
    g = tree(config)
    # the input nodes are the leaves of the scored tree: their declared children are ignored
    for c in inputs:
        g.remove_nodes_from(list(nx.descendants(g, c)))

    normalised, identity = _normalise(config, raw, places, by_id)
    agg_frames: list[pd.DataFrame] = []
    links: list[pd.DataFrame] = []
    current = normalised[["place", "concept", "value"]]
    weight = {n.id: n.weight for n in config.nodes}
    parent_of = {c: p for p, c in g.edges}
    for h, nodes in _levels(g):
        child = current[current["concept"].map(parent_of).isin(nodes)]
        child = child.assign(parent=child["concept"].map(parent_of),
                             weight=child["concept"].map(weight))
        links.append(pd.DataFrame({"place": child["place"], "concept": child["parent"],
                                   "child": child["concept"]}))
        level = _aggregate_level(config, g, child, nodes, by_id)
        level["level"] = h
        agg_frames.append(level)
        current = pd.concat([current, level[["place", "concept", "value"]]], ignore_index=True)
    aggregated = pd.concat(agg_frames, ignore_index=True)
    aggregated["rank"] = competition_rank(aggregated["value"], aggregated["concept"])
    link_frame = pd.concat(links, ignore_index=True)
    return Result(normalised, aggregated, link_frame, identity)


def _normalise(config: Config, raw: pd.DataFrame, places: pd.DataFrame | None,
               by_id: dict[str, NodeConfig]) -> tuple[pd.DataFrame, bool]:
    df = raw[["place", "concept", "value"]].copy()
    df["value"] = df["value"].astype("float64")
    direction = df["concept"].map({k: n.direction for k, n in by_id.items()})
    df["value"] = df["value"] * direction
    # complete the place × indicator grid so imputation sees the gaps
    grid = pd.MultiIndex.from_product(
        [sorted(df["place"].unique()), sorted(df["concept"].unique())], names=["place", "concept"])
    df = df.set_index(["place", "concept"]).reindex(grid).reset_index()
    missing = df["value"].isna()
    impute = methods.get("impute", config.impute.name)
    attrs = places if places is not None else pd.DataFrame(index=df["place"].unique())
    df["value"] = impute.fn(df, attrs, **config.impute.params)
    df["imputed"] = missing & df["value"].notna()
    calls = {c: (by_id[c].normalise or config.normalise) for c in df["concept"].unique()}
    out = pd.Series(index=df.index, dtype="float64")
    for key, concepts in _group_calls(calls).items():
        name, params = key[0], dict(key[1])
        rows = df["concept"].isin(concepts)
        out[rows] = methods.get("normalise", name).fn(df[rows], **params)
    identity = (all(c.name == "none" for c in calls.values())
                and bool((direction == 1).all()) and not df["imputed"].any())
    df["value"] = out
    df["rank"] = competition_rank(df["value"], df["concept"])
    return df, identity


def _group_calls(calls: dict[str, Call]) -> dict[tuple[str, tuple[tuple[str, Any], ...]],
                                                  list[str]]:
    groups: dict[tuple[str, tuple[tuple[str, Any], ...]], list[str]] = {}
    for concept, call in calls.items():
        key = (call.name, tuple(sorted((k, _hashable(v)) for k, v in call.params.items())))
        groups.setdefault(key, []).append(concept)
    return groups


def _hashable(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def _levels(g: nx.DiGraph) -> list[tuple[int, set[str]]]:
    """Inner nodes grouped by height above the leaves, lowest first."""
    height: dict[str, int] = {}
    for n in reversed(list(nx.topological_sort(g))):
        kids = list(g.successors(n))
        height[n] = 0 if not kids else 1 + max(height[k] for k in kids)
    by_h: dict[int, set[str]] = {}
    for n, h in height.items():
        if h > 0:
            by_h.setdefault(h, set()).add(n)
    return sorted(by_h.items())


def _aggregate_level(config: Config, g: nx.DiGraph, child: pd.DataFrame, nodes: set[str],
                     by_id: dict[str, NodeConfig]) -> pd.DataFrame:
    present = child[child["value"].notna()]
    parts: list[pd.Series] = []
    calls: dict[str, Call] = {}
    for n in nodes:
        own = by_id[n].aggregate if n in by_id else None
        calls[n] = own or config.aggregate
    for key, parents in _group_calls(calls).items():
        name, params = key[0], dict(key[1])
        rows = present[present["parent"].isin(parents)]
        parts.append(methods.get("aggregate", name).fn(rows, **params))
    values = pd.concat(parts) if parts else pd.Series(dtype="float64")
    # every (place, parent) pair gets a row, missing where no child is present
    places = sorted(child["place"].unique())
    grid = pd.MultiIndex.from_product([places, sorted(nodes)], names=KEYS)
    out = values.reindex(grid).rename("value").reset_index()
    total_w = child.groupby(KEYS)["weight"].sum()
    have_w = present.groupby(KEYS)["weight"].sum()
    coverage = (have_w / total_w).reindex(grid).fillna(0.0).to_numpy()
    out["coverage"] = coverage
    if config.threshold is not None:
        out.loc[out["coverage"] < config.threshold, "value"] = float("nan")
    return out.rename(columns={"parent": "concept"})
