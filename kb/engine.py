"""The scoring pipeline, pure computation on DataFrames (no store):

raw values → direction → imputation → normalisation → aggregation level by level → ranks.

Each stage's values are returned separately (nothing is overwritten) with the links from each
value to the values it was computed from, so the caller can record them as observations with
PROV-O. The configuration is plain data (:class:`Config`, JSON-serialisable) so that a run can
be recorded and replayed exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kb import methods
from kb.errors import KbError
from kb.methods.aggregate import KEYS

if TYPE_CHECKING:
    import networkx as nx


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
    import networkx as nx

    g = nx.DiGraph()
    g.add_node(config.framework)
    for n in config.nodes:
        g.add_edge(n.parent, n.id)
    if not nx.is_arborescence(g):
        raise KbError("KB025", f"the framework {config.framework} is not a tree")
    return g


@dataclass(frozen=True)
class _Codes:
    """Places and nodes as integer codes: the pipeline groups and joins on integers and turns
    codes back into IRIs once, at the end."""

    places: np.ndarray
    nodes: pd.Index
    parent: np.ndarray
    weight: np.ndarray
    direction: np.ndarray

    def place_names(self, codes: pd.Series) -> pd.Categorical:
        out: pd.Categorical = pd.Categorical.from_codes(
            codes.to_numpy(), categories=pd.Index(self.places))
        return out

    def node_names(self, codes: pd.Series) -> pd.Categorical:
        out: pd.Categorical = pd.Categorical.from_codes(
            codes.to_numpy(), categories=self.nodes)
        return out


def run(config: Config, raw: pd.DataFrame, places: pd.DataFrame | None = None) -> Result:
    """Score ``raw`` (columns place, concept, value; concepts are the input nodes)."""
    import networkx as nx

    by_id = {n.id: n for n in config.nodes}
    nodes = pd.Index([config.framework, *by_id])
    concept = nodes.get_indexer(pd.Index(raw["concept"]))
    if (concept <= 0).any():
        bad = sorted(set(raw["concept"][concept <= 0]))[:5]
        raise KbError("KB021", f"inputs for nodes not in the framework: {bad}")
    place_codes, place_names = pd.factorize(raw["place"], sort=True)
    codes = _Codes(
        places=np.asarray(place_names, dtype=object),
        nodes=nodes,
        parent=np.array([-1] + [nodes.get_loc(n.parent) for n in by_id.values()]),
        weight=np.array([1.0] + [n.weight for n in by_id.values()]),
        direction=np.array([1] + [n.direction for n in by_id.values()]),
    )
    g = tree(config)
    inputs = set(nodes[np.unique(concept)])
    # the input nodes are the leaves of the scored tree: their declared children are ignored
    for c in inputs:
        g.remove_nodes_from(list(nx.descendants(g, c)))

    coded = pd.DataFrame({"place": place_codes, "concept": concept,
                          "value": raw["value"].to_numpy(dtype="float64")})
    normalised, identity = _normalise(config, coded, places, by_id, codes)
    agg_frames: list[pd.DataFrame] = []
    links: list[pd.DataFrame] = []
    current = normalised[["place", "concept", "value"]]
    for h, level_nodes in _levels(g):
        level_codes = nodes.get_indexer(pd.Index(sorted(level_nodes)))
        parent = codes.parent[current["concept"].to_numpy()]
        child = current[np.isin(parent, level_codes)]
        child = child.assign(parent=codes.parent[child["concept"].to_numpy()],
                             weight=codes.weight[child["concept"].to_numpy()])
        links.append(pd.DataFrame({"place": child["place"], "concept": child["parent"],
                                   "child": child["concept"]}))
        level = _aggregate_level(config, child, level_codes, by_id, codes)
        level["level"] = h
        agg_frames.append(level)
        current = pd.concat([current, level[["place", "concept", "value"]]], ignore_index=True)
    aggregated = pd.concat(agg_frames, ignore_index=True)
    aggregated["rank"] = competition_rank(aggregated["value"], aggregated["concept"])
    link_frame = pd.concat(links, ignore_index=True)
    return Result(_named(normalised, codes), _named(aggregated, codes),
                  _named(link_frame, codes, ("concept", "child")), identity)


def _named(df: pd.DataFrame, codes: _Codes,
           node_columns: tuple[str, ...] = ("concept",)) -> pd.DataFrame:
    """Codes back to IRIs, as categoricals (cheap at a million rows)."""
    out = df.copy()
    out["place"] = codes.place_names(df["place"])
    for col in node_columns:
        out[col] = codes.node_names(df[col])
    return out


def _normalise(config: Config, df: pd.DataFrame, places: pd.DataFrame | None,
               by_id: dict[str, NodeConfig], codes: _Codes) -> tuple[pd.DataFrame, bool]:
    direction = codes.direction[df["concept"].to_numpy()]
    df = df.assign(value=df["value"] * direction)
    # complete the place × indicator grid so imputation sees the gaps
    place_ids = np.unique(df["place"].to_numpy())
    concept_ids = np.unique(df["concept"].to_numpy())
    if len(df) < len(place_ids) * len(concept_ids):
        grid = pd.MultiIndex.from_product([place_ids, concept_ids], names=["place", "concept"])
        df = df.set_index(["place", "concept"]).reindex(grid).reset_index()
    missing = df["value"].isna().to_numpy()
    if config.impute.name != "none":
        named = df.assign(place=codes.places[df["place"].to_numpy()])
        attrs = places if places is not None else pd.DataFrame(index=codes.places)
        filled = methods.get("impute", config.impute.name).fn(named, attrs,
                                                               **config.impute.params)
        df["value"] = filled.to_numpy()
    df["imputed"] = missing & df["value"].notna().to_numpy()
    names = codes.nodes.to_numpy()
    calls = {int(c): (by_id[names[c]].normalise or config.normalise) for c in concept_ids}
    out = np.full(len(df), np.nan)
    for key, group in _group_calls(calls).items():
        name, params = key[0], dict(key[1])
        rows = np.isin(df["concept"].to_numpy(), group)
        if rows.all():
            out = methods.get("normalise", name).fn(df, **params).to_numpy()
        else:
            out[rows] = methods.get("normalise", name).fn(df[rows], **params).to_numpy()
    identity = (all(c.name == "none" for c in calls.values())
                and bool((direction == 1).all()) and not df["imputed"].any())
    df["value"] = out
    df["rank"] = competition_rank(df["value"], df["concept"])
    return df, identity


def _group_calls(calls: dict[Any, Call]) -> dict[tuple[str, tuple[tuple[str, Any], ...]],
                                                 list[Any]]:
    groups: dict[tuple[str, tuple[tuple[str, Any], ...]], list[Any]] = {}
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
    import networkx as nx

    height: dict[str, int] = {}
    for n in reversed(list(nx.topological_sort(g))):
        kids = list(g.successors(n))
        height[n] = 0 if not kids else 1 + max(height[k] for k in kids)
    by_h: dict[int, set[str]] = {}
    for n, h in height.items():
        if h > 0:
            by_h.setdefault(h, set()).add(n)
    return sorted(by_h.items())


def _aggregate_level(config: Config, child: pd.DataFrame, level_codes: np.ndarray,
                     by_id: dict[str, NodeConfig], codes: _Codes) -> pd.DataFrame:
    present = child[child["value"].notna()]
    names = codes.nodes.to_numpy()
    calls: dict[int, Call] = {}
    for c in level_codes:
        own = by_id[names[c]].aggregate if names[c] in by_id else None
        calls[int(c)] = own or config.aggregate
    parts: list[pd.Series] = []
    for key, parents in _group_calls(calls).items():
        name, params = key[0], dict(key[1])
        rows = present if len(parents) == len(calls) else \
            present[np.isin(present["parent"].to_numpy(), parents)]
        parts.append(methods.get("aggregate", name).fn(rows, **params))
    values = pd.concat(parts) if len(parts) > 1 else parts[0]
    # every (place, parent) pair gets a row, missing where no child is present
    grid = pd.MultiIndex.from_product([np.unique(child["place"].to_numpy()),
                                       np.sort(level_codes)], names=KEYS)
    out = values.reindex(grid).rename("value").reset_index()
    total_w = child.groupby(KEYS, sort=True)["weight"].sum()
    have_w = present.groupby(KEYS, sort=True)["weight"].sum()
    out["coverage"] = (have_w / total_w).reindex(grid).fillna(0.0).to_numpy()
    if config.threshold is not None:
        out.loc[out["coverage"] < config.threshold, "value"] = float("nan")
    return out.rename(columns={"parent": "concept"})
