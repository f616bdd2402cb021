"""The scoring pipeline, pure computation on DataFrames (no store):

raw values → denomination → imputation → unit screening → outlier treatment → direction →
normalisation → aggregation level by level → ranks (COINr's order of steps).

A panel run (``panel=True``) takes raw values with a ``period`` column: each place-period is
a unit of its own, ranks are within a period, and normalisation statistics are taken over all
periods at once (goalposts fixed across years, COINr's ``global = TRUE``).

Each stage's values are returned separately (nothing is overwritten) with the links from each
value to the values it was computed from, so the caller can record them as observations with
PROV-O. The configuration is plain data (:class:`Config`, JSON-serialisable) so that a run can
be recorded and replayed exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

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
    denominator: str | None = None
    """For input nodes: the unit attribute their raw values are divided by (GDP, population,
    area …), as COINr's ``Denominate``: ``x / (denominator / scale)``."""
    scale: float = 1.0
    treat: Call | None = None
    """For input nodes: their outlier treatment (None: the framework default)."""


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
    screen: Call = Call("none")
    treat: Call = Call("none")
    threshold_basis: Literal["weight", "count"] = "weight"
    """What ``threshold`` compares: the share of the children's weight present, or the share
    of the children present (COINr's ``dat_thresh``)."""
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Declared unit attributes (groupings, denominators): attribute → place → value; kept in
    the configuration so that a recorded run replays without the store."""

    def to_json(self) -> dict[str, Any]:
        """Plain data; the steps added after the first release are left out when unused, so
        that the record (and the id) of a run that uses none of them is unchanged."""
        out = asdict(self)
        for k, v in _DEFAULTS.items():
            if out.get(k) == v:
                del out[k]
        for n in out["nodes"]:
            for k, v in _NODE_DEFAULTS.items():
                if n.get(k) == v:
                    del n[k]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        def call(d: dict[str, Any] | None) -> Call | None:
            return None if d is None else Call(d["name"], dict(d.get("params") or {}))

        nodes = [NodeConfig(n["id"], n["parent"], float(n["weight"]), int(n["direction"]),
                            call(n.get("normalise")), call(n.get("aggregate")),
                            n.get("denominator"), float(n.get("scale", 1.0)),
                            call(n.get("treat")))
                 for n in data["nodes"]]
        return cls(data["framework"], nodes, call(data["normalise"]) or Call("none"),
                   call(data["aggregate"]) or Call("sum"), call(data["impute"]) or Call("none"),
                   data.get("threshold"), data.get("rank", "competition"),
                   call(data.get("screen")) or Call("none"),
                   call(data.get("treat")) or Call("none"),
                   data.get("threshold_basis", "weight"), dict(data.get("units") or {}))


_DEFAULTS: dict[str, Any] = {"screen": {"name": "none", "params": {}},
                             "treat": {"name": "none", "params": {}},
                             "threshold_basis": "weight", "units": {}}
_NODE_DEFAULTS: dict[str, Any] = {"denominator": None, "scale": 1.0, "treat": None}


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
    stages: dict[str, pd.DataFrame] = field(default_factory=dict)
    """The values after each step that ran before normalisation (``denominated``,
    ``imputed``, ``treated``): place, concept, value."""
    screened: pd.DataFrame | None = None
    """When units were screened: place, available, nonzero, included."""
    treated: pd.DataFrame | None = None
    """When outliers were treated: place, concept, treatment (COINr's labels) of each
    value changed."""


def competition_rank(values: pd.Series, groups: pd.Series | list[pd.Series]) -> pd.Series:
    """Standard competition ranks within each group, highest first ("1224", R's
    ``rank(-x, ties.method = "min")``); missing stays missing."""
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


PERIOD_SEP = "\x1f"
"""Joins a place and a period into the unit of a panel run."""


def run(config: Config, raw: pd.DataFrame, places: pd.DataFrame | None = None, *,
        panel: bool = False) -> Result:
    """Score ``raw`` (columns place, concept, value; concepts are the input nodes).
    ``places``: unit attributes indexed by place (province, region …), joined with those the
    configuration declares. ``panel``: ``raw`` has a ``period`` column and each place-period
    is a unit (see the module's description)."""
    import networkx as nx

    by_id = {n.id: n for n in config.nodes}
    nodes = pd.Index([config.framework, *by_id])
    concept = nodes.get_indexer(pd.Index(raw["concept"]))
    if (concept <= 0).any():
        bad = sorted(set(raw["concept"][concept <= 0]))[:5]
        raise KbError("KB021", f"inputs for nodes not in the framework: {bad}")
    if panel and ("period" not in raw.columns or raw["period"].isna().any()):
        raise KbError("KB026", "a panel run needs a period for every value")
    unit = (raw["place"].astype(str) + PERIOD_SEP + raw["period"].astype(str) if panel
            else raw["place"])
    place_codes, place_names = pd.factorize(unit, sort=True)
    codes = _Codes(
        places=np.asarray(place_names, dtype=object),
        nodes=nodes,
        parent=np.array([-1] + [nodes.get_loc(n.parent) for n in by_id.values()]),
        weight=np.array([1.0] + [n.weight for n in by_id.values()]),
        direction=np.array([1] + [n.direction for n in by_id.values()]),
    )
    period = (pd.factorize(pd.Series(codes.places).str.split(PERIOD_SEP).str[-1])[0] if panel
              else np.zeros(len(codes.places), dtype=np.intp))
    g = tree(config)
    inputs = set(nodes[np.unique(concept)])
    # the input nodes are the leaves of the scored tree: their declared children are ignored
    for c in inputs:
        g.remove_nodes_from(list(nx.descendants(g, c)))

    coded = pd.DataFrame({"place": place_codes, "concept": concept,
                          "value": raw["value"].to_numpy(dtype="float64")})
    attrs = _attributes(config, places, codes, panel)
    prepared = _prepare(config, coded, attrs, by_id, codes)
    normalised, identity = _normalise(config, prepared.frame, by_id, codes, period)
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
    aggregated["rank"] = competition_rank(
        aggregated["value"], [aggregated["concept"],
                              pd.Series(period[aggregated["place"].to_numpy()],
                                        index=aggregated.index)])
    link_frame = pd.concat(links, ignore_index=True)
    named = {k: _named(v, codes, panel=panel) for k, v in prepared.stages.items()}
    screened = prepared.screened
    if screened is not None:
        screened = _named(screened, codes, (), panel=panel)
    treated = prepared.treated
    if treated is not None:
        treated = _named(treated, codes, panel=panel)
    return Result(_named(normalised, codes, panel=panel), _named(aggregated, codes, panel=panel),
                  _named(link_frame, codes, ("concept", "child"), panel=panel),
                  identity and not prepared.changed, named, screened, treated)


def _named(df: pd.DataFrame, codes: _Codes,
           node_columns: tuple[str, ...] = ("concept",), *, panel: bool = False) -> pd.DataFrame:
    """Codes back to IRIs, as categoricals (cheap at a million rows); in a panel the unit
    splits back into place and period."""
    out = df.copy()
    out["place"] = codes.place_names(df["place"])
    if panel:
        unit = pd.Series(np.asarray(out["place"], dtype=object), index=out.index).str.split(
            PERIOD_SEP, n=1)
        out["place"] = pd.Categorical(unit.str[0])
        out["period"] = pd.Categorical(unit.str[1])
    for col in node_columns:
        out[col] = codes.node_names(df[col])
    return out


def _attributes(config: Config, places: pd.DataFrame | None, codes: _Codes,
                panel: bool) -> pd.DataFrame:
    """Each unit's attributes (columns), indexed by unit name."""
    parts = [p for p in (places, pd.DataFrame(config.units) if config.units else None)
             if p is not None and not p.empty]
    base = pd.concat(parts, axis=1) if parts else pd.DataFrame()
    base = base.loc[:, ~base.columns.duplicated(keep="last")]
    names = pd.Index(codes.places)
    keys = names.str.split(PERIOD_SEP).str[0] if panel else names
    return base.reindex(keys).set_axis(names) if not base.empty else pd.DataFrame(index=names)


@dataclass
class _Prepared:
    frame: pd.DataFrame
    """place, concept, value (raw, after the steps before normalisation; direction not yet
    applied), imputed"""
    stages: dict[str, pd.DataFrame]
    screened: pd.DataFrame | None
    treated: pd.DataFrame | None
    changed: bool


def _prepare(config: Config, df: pd.DataFrame, attrs: pd.DataFrame,
             by_id: dict[str, NodeConfig], codes: _Codes) -> _Prepared:
    """Denomination, imputation, screening and treatment, in COINr's order."""
    names = codes.nodes.to_numpy()
    stages: dict[str, pd.DataFrame] = {}
    changed = False
    # complete the place × indicator grid so imputation and screening see the gaps
    place_ids = np.unique(df["place"].to_numpy())
    concept_ids = np.unique(df["concept"].to_numpy())
    if len(df) < len(place_ids) * len(concept_ids):
        grid = pd.MultiIndex.from_product([place_ids, concept_ids], names=["place", "concept"])
        df = df.set_index(["place", "concept"]).reindex(grid).reset_index()
    denominators = {int(c): by_id[names[c]] for c in concept_ids
                    if by_id[names[c]].denominator is not None}
    if denominators:
        df = df.copy()
        df["value"] = _denominate(df, denominators, attrs, codes)
        stages["denominated"] = df[["place", "concept", "value"]].copy()
        changed = True
    missing = df["value"].isna().to_numpy()
    if config.impute.name != "none":
        named = df.assign(place=codes.places[df["place"].to_numpy()])
        filled = methods.get("impute", config.impute.name).fn(named, attrs,
                                                               **config.impute.params)
        df = df.assign(value=filled.to_numpy())
        stages["imputed"] = df[["place", "concept", "value"]].copy()
    df = df.assign(imputed=missing & df["value"].notna().to_numpy())
    screened = None
    if config.screen.name != "none":
        named = df.assign(place=codes.places[df["place"].to_numpy()])
        table = methods.get("screen", config.screen.name).fn(named, **config.screen.params)
        keep = pd.Index(table.loc[table["included"], "place"])
        if keep.empty:
            raise KbError("KB124", f"screening ({config.screen.name} {config.screen.params}) "
                          f"drops every unit")
        screened = table.assign(place=pd.Index(codes.places).get_indexer(table["place"]))
        df = df[np.isin(codes.places[df["place"].to_numpy()], keep)].reset_index(drop=True)
        changed = changed or bool((~table["included"]).any())
    treated = None
    calls = {int(c): (by_id[names[c]].treat or config.treat) for c in concept_ids}
    if any(c.name != "none" for c in calls.values()):
        out = df["value"].to_numpy(dtype="float64").copy()
        labels = np.full(len(df), "", dtype=object)
        for key, group in _group_calls(calls).items():
            rows = np.isin(df["concept"].to_numpy(), group)
            vals, lab = methods.get("treat", key[0]).fn(df[rows], **dict(key[1]))
            out[rows] = vals.to_numpy()
            labels[rows] = lab.to_numpy()
        df = df.assign(value=out)
        stages["treated"] = df[["place", "concept", "value"]].copy()
        hit = labels != ""
        treated = pd.DataFrame({"place": df["place"].to_numpy()[hit],
                                "concept": df["concept"].to_numpy()[hit],
                                "treatment": labels[hit]})
        changed = changed or bool(hit.any())
    return _Prepared(df, stages, screened, treated, changed)


def _denominate(df: pd.DataFrame, nodes: dict[int, NodeConfig], attrs: pd.DataFrame,
                codes: _Codes) -> np.ndarray:
    """``x / (denominator / scale)`` for the indicators that declare a denominator; KB123 when
    the denominator is not a declared unit attribute."""
    values = df["value"].to_numpy(dtype="float64").copy()
    concept = df["concept"].to_numpy()
    place = df["place"].to_numpy()
    for c, node in nodes.items():
        col = node.denominator
        if col not in attrs.columns:
            raise KbError("KB123", f"{node.id}: its denominator {col!r} is not a declared unit "
                          f"attribute (declared: {', '.join(map(str, attrs.columns)) or 'none'})")
        d = pd.to_numeric(attrs[col], errors="coerce").to_numpy(dtype="float64")
        rows = concept == c
        # a unit without the denominator gets a missing value (as in COINr), which
        # imputation may then fill
        den = d[place[rows]]
        values[rows] = values[rows] / (den / node.scale)
    return values


def _normalise(config: Config, df: pd.DataFrame, by_id: dict[str, NodeConfig],
               codes: _Codes, period: np.ndarray) -> tuple[pd.DataFrame, bool]:
    direction = codes.direction[df["concept"].to_numpy()]
    df = df.assign(value=df["value"] * direction)
    concept_ids = np.unique(df["concept"].to_numpy())
    names = codes.nodes.to_numpy()
    calls = {int(c): (by_id[names[c]].normalise or config.normalise) for c in concept_ids}
    out = np.full(len(df), np.nan)
    named = df.assign(place=codes.places[df["place"].to_numpy()])
    for key, group in _group_calls(calls).items():
        name, params = key[0], _unhash(dict(key[1]))
        rows = np.isin(df["concept"].to_numpy(), group)
        if rows.all():
            out = methods.get("normalise", name).fn(named, **params).to_numpy()
        else:
            out[rows] = methods.get("normalise", name).fn(named[rows], **params).to_numpy()
    identity = (all(c.name == "none" for c in calls.values())
                and bool((direction == 1).all()) and not df["imputed"].any())
    df["value"] = out
    df["rank"] = competition_rank(df["value"], [df["concept"], pd.Series(
        period[df["place"].to_numpy()], index=df.index)])
    return df, identity


def _unhash(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters back from their hashable form (tuples → lists, as declared)."""
    def back(v: Any) -> Any:
        if isinstance(v, tuple) and all(isinstance(x, tuple) and len(x) == 2
                                        and isinstance(x[0], str) for x in v) and v:
            return {k: back(x) for k, x in v}
        if isinstance(v, tuple):
            return [back(x) for x in v]
        return v
    return {k: back(v) for k, v in params.items()}


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
        name, params = key[0], _unhash(dict(key[1]))
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
        share = out["coverage"]
        if config.threshold_basis == "count":
            total_n = child.groupby(KEYS, sort=True)["weight"].size()
            have_n = present.groupby(KEYS, sort=True)["weight"].size()
            share = (have_n / total_n).reindex(grid).fillna(0.0).to_numpy()
        out.loc[share < config.threshold, "value"] = float("nan")
    return out.rename(columns={"parent": "concept"})
