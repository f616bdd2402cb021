"""networkx views of the knowledge base, and the structural checks run on them.

The framework tree (framework → dimensions → variables → indicators, with weights and
directions), the geography (containment), and cluster membership. The same checks serve the
loader (on the declared tree) and anyone holding a view of the store: no cycle, every node
reaches its framework, no orphan.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyoxigraph as ox

from kb.sparql import to_frame

if TYPE_CHECKING:
    import networkx as nx

TREE = """
SELECT ?fw ?node ?parent ?level ?zh ?en ?weight ?direction ?dataYear ?order WHERE {
  ?node skos:inScheme ?fw ; a ?cls .
  VALUES (?cls ?level) { (kb:Dimension "dimension") (kb:Variable "variable")
                         (kb:Indicator "indicator") }
  OPTIONAL { ?node skos:broader ?parent }
  OPTIONAL { ?node skos:prefLabel ?zh FILTER (lang(?zh) = "zh") }
  OPTIONAL { ?node skos:prefLabel ?en FILTER (lang(?en) = "en") }
  OPTIONAL { ?node kb:weight ?weight } OPTIONAL { ?node kb:direction ?direction }
  OPTIONAL { ?node kb:dataYear ?dataYear } OPTIONAL { ?node kb:order ?order }
}
"""
"""Every framework's nodes; bind ?fw for one framework."""
FRAMEWORK_LABEL = """
SELECT ?fw ?zh ?en WHERE {
  OPTIONAL { ?fw skos:prefLabel ?zh FILTER (lang(?zh) = "zh") }
  OPTIONAL { ?fw skos:prefLabel ?en FILTER (lang(?en) = "en") }
}
"""
PLACES = """
SELECT ?place ?kind ?zh ?en ?parent WHERE {
  ?place a ?cls . VALUES (?cls ?kind) { (kb:Region "region") (kb:Province "province")
    (kb:City "city") (kb:County "county") (kb:Country "country") }
  OPTIONAL { ?place skos:prefLabel ?zh FILTER (lang(?zh) = "zh") }
  OPTIONAL { ?place skos:prefLabel ?en FILTER (lang(?en) = "en") }
  OPTIONAL { ?place schema:containedInPlace ?parent }
}
"""
MEMBERS = """
SELECT ?cluster ?zh ?member ?source WHERE {
  ?cluster a kb:CityCluster ; kb:member ?member .
  OPTIONAL { ?cluster skos:prefLabel ?zh FILTER (lang(?zh) = "zh") }
  OPTIONAL { ?cluster dcterms:source ?source }
}
"""


def _attrs(row: Mapping[Hashable, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: row[k] for k in keys if row.get(k) is not None and row[k] is not pd.NA
            and row[k] == row[k]}


def framework_tree(store: ox.Store, framework: str) -> nx.DiGraph:
    """The framework as a tree: edges parent → child; node attributes level, zh, en, weight,
    direction, order. The root is the framework."""
    import networkx as nx

    fw = ox.NamedNode(framework)
    rows = to_frame(store, TREE, {"fw": fw}).to_dict("records")
    head = to_frame(store, FRAMEWORK_LABEL, {"fw": fw}).to_dict("records")
    g = nx.DiGraph()
    g.add_node(framework, level="framework", **(_attrs(head[0], ("zh", "en")) if head else {}))
    for r in rows:
        g.add_node(str(r["node"]), **_attrs(r, ("level", "zh", "en", "weight", "direction",
                                                "order")))
        parent = r["parent"] if not pd.isna(r["parent"]) else framework
        g.add_edge(str(parent), str(r["node"]))
    return g


def geography(store: ox.Store) -> nx.DiGraph:
    """Containment: edges from each place to the places it contains (region → province →
    city → county); node attributes kind, zh, en."""
    import networkx as nx

    g = nx.DiGraph()
    for r in to_frame(store, PLACES).to_dict("records"):
        g.add_node(str(r["place"]), **_attrs(r, ("kind", "zh", "en")))
        if not pd.isna(r["parent"]):
            g.add_edge(str(r["parent"]), str(r["place"]))
    return g


def clusters(store: ox.Store) -> nx.Graph:
    """Cluster membership as a bipartite graph: cluster nodes (kind "cluster", with their
    defining source) joined to their members."""
    import networkx as nx

    g = nx.Graph()
    for r in to_frame(store, MEMBERS).to_dict("records"):
        g.add_node(str(r["cluster"]), kind="cluster", **_attrs(r, ("zh", "source")))
        g.add_node(str(r["member"]))
        g.add_edge(str(r["cluster"]), str(r["member"]))
    return g


def tree_problems(g: nx.DiGraph, root: str,
                  leaf_levels: frozenset[str] = frozenset({"indicator"})) -> list[str]:
    """Structural problems of a framework tree: cycles, nodes that do not reach the root,
    nodes with several parents, and nodes without children at a level that is not a leaf
    level."""
    import networkx as nx

    problems: list[str] = []
    cycles = list(nx.simple_cycles(g))
    problems += [f"cycle: {' → '.join(c)}" for c in cycles[:5]]
    reach = nx.descendants(g, root) if root in g else set()
    problems += [f"{n} does not reach the framework" for n in g if n != root and n not in reach]
    problems += [f"{n} has {g.in_degree(n)} parents" for n in g if g.in_degree(n) > 1]
    problems += [f"{n} is a {g.nodes[n].get('level')} with no children" for n in g
                 if n != root and g.out_degree(n) == 0
                 and g.nodes[n].get("level") not in (None, *leaf_levels)]
    return problems
