"""The research interface: the README's Python examples, exports and imports, graph views."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import pyoxigraph as ox
import pytest

from kb import namespaces as ns
from kb import paths
from kb.export import export, import_file
from kb.graphs import clusters, framework_tree, geography, tree_problems
from kb.store import BuildDir, current_build, open_store


def readme_blocks(section: str) -> list[str]:
    text = (paths.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", part, flags=re.S)


def test_readme_research_examples_run(real_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYKB_HOME", str(real_home))
    blocks = readme_blocks("For researchers")
    assert len(blocks) == 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)


def _quads(path: Path) -> list[tuple[object, ...]]:
    fmt = {".trig": ox.RdfFormat.TRIG, ".nq": ox.RdfFormat.N_QUADS}[path.suffix]
    return [(q.subject, q.predicate, q.object, q.graph_name)
            for q in ox.parse(path=str(path), format=fmt)]


def _triples(items: object) -> list[tuple[object, ...]]:
    return [(t.subject, t.predicate, t.object) for t in items]  # type: ignore[attr-defined]


def isomorphic(a: list[tuple[object, ...]], b: list[tuple[object, ...]]) -> bool:
    """RDF isomorphism, graph by graph: statements without blank nodes must be equal as sets;
    those with blank nodes (the ontology's Data Cube structure) are compared by rdflib's
    canonical isomorphism."""
    import rdflib
    from rdflib.compare import isomorphic as rdflib_isomorphic

    def split(items: list[tuple[object, ...]]) -> tuple[set[tuple[object, ...]],
                                                          dict[object, list[str]]]:
        ground: set[tuple[object, ...]] = set()
        blank: dict[object, list[str]] = {}
        for t in items:
            if any(isinstance(x, ox.BlankNode) for x in t[:3]):
                blank.setdefault(t[3] if len(t) == 4 else None, []).append(
                    " ".join(str(x) for x in t[:3]) + " .")
            else:
                ground.add(t)
        return ground, blank

    ga, ba = split(a)
    gb, bb = split(b)
    if ga != gb or set(ba) != set(bb):
        return False
    for key in ba:
        ra, rb = rdflib.Graph(), rdflib.Graph()
        ra.parse(data="\n".join(ba[key]), format="nt")
        rb.parse(data="\n".join(bb[key]), format="nt")
        if not rdflib_isomorphic(ra, rb):
            return False
    return True


def test_trig_round_trip_is_isomorphic(real_store: ox.Store, real_build: BuildDir,
                                       tmp_path: Path) -> None:
    first = export(real_store, real_build, "trig", tmp_path / "a.trig")
    b = import_file(first, tmp_path / "home")
    second = export(open_store(b), b, "trig", tmp_path / "b.trig")
    a_quads, b_quads = _quads(first), _quads(second)
    assert len(a_quads) > 50_000 and isomorphic(a_quads, b_quads)
    # the imported knowledge base works: same ranking, same columnar copy
    from kb.ranking import ranking

    fw = ns.framework("coo-2025")
    assert ranking(open_store(b), b, fw).equals(ranking(real_store, real_build, fw))


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld"])
def test_triple_exports_hold_the_union(real_store: ox.Store, real_build: BuildDir,
                                       tmp_path: Path, fmt: str) -> None:
    path = export(real_store, real_build, fmt, tmp_path / f"kb.{fmt}")
    rdf_fmt = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES,
               "jsonld": ox.RdfFormat.JSON_LD}[fmt]
    got = _triples(ox.parse(path=str(path), format=rdf_fmt))
    union = _triples(real_store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                                      use_default_graph_as_union=True))
    assert isomorphic(got, union)
    if fmt == "jsonld":
        text = path.read_text(encoding="utf-8")
        assert '"@context"' in text and '"kb:concept"' in text


def test_one_named_graph(real_store: ox.Store, real_build: BuildDir, tmp_path: Path) -> None:
    g = ns.graph_source("dei2020")
    path = export(real_store, real_build, "ttl", tmp_path / "dei.ttl", g)
    got = _triples(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))
    expected = _triples(real_store.quads_for_pattern(None, None, None, ox.NamedNode(g)))
    assert isomorphic(got, expected)


def test_csv_tidy_tables(real_store: ox.Store, real_build: BuildDir, tmp_path: Path) -> None:
    import pandas as pd

    out = export(real_store, real_build, "csv", tmp_path / "csv")
    obs = pd.read_csv(out / "observations.csv")
    shenzhen = obs[(obs["place_zh"] == "深圳") & (obs["concept_zh"] == "经济实力")
                   & obs["dataset"].str.contains("/run-")]
    assert shenzhen["value"].tolist() == [286.0]
    tree = pd.read_csv(out / "frameworks.csv")
    assert (tree.groupby("framework")["node"].count().loc[ns.framework("coo-2025")]) == 126


@pytest.mark.skipif(shutil.which("rapper") is None and os.environ.get("CI") != "true",
                    reason="raptor's rapper is not installed (CI installs it)")
@pytest.mark.parametrize(("fmt", "syntax"), [("ttl", "turtle"), ("trig", "trig")])
def test_an_independent_toolkit_accepts_the_output(real_store: ox.Store, real_build: BuildDir,
                                                   tmp_path: Path, fmt: str, syntax: str) -> None:
    path = export(real_store, real_build, fmt, tmp_path / f"kb.{fmt}")
    done = subprocess.run(["rapper", "-i", syntax, "-c", str(path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    count = int(re.search(r"returned (\d+) triples", done.stderr).group(1))  # type: ignore[union-attr]
    union = len(set(real_store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                                     use_default_graph_as_union=True)))  # type: ignore[arg-type]
    assert count >= union
    bad = tmp_path / "bad.ttl"
    bad.write_text('<http://e/a> <http://e/b> "unterminated .\n', encoding="utf-8")
    assert subprocess.run(["rapper", "-i", "turtle", "-c", str(bad)], capture_output=True,
                          check=False).returncode != 0


def test_graph_views(real_store: ox.Store) -> None:
    fw = ns.framework("coo-2025")
    tree = framework_tree(real_store, fw)
    assert nx.is_arborescence(tree) and tree.number_of_nodes() == 127
    assert tree_problems(tree, fw) == []
    assert tree.nodes[ns.node("coo-2025", "economic-strength")]["level"] == "dimension"
    geo = geography(real_store)
    assert nx.is_directed_acyclic_graph(geo)
    east = nx.descendants(geo, ns.place("region", "east"))
    assert ns.place("city", "shenzhen") in east and ns.place("city", "harbin") not in east
    cl = clusters(real_store)
    assert cl.degree(ns.place("cluster", "plan-yangtze-river-delta")) == 26


def test_tree_problems_are_found() -> None:
    g = nx.DiGraph([("fw", "d"), ("d", "v"), ("v", "d2"), ("d2", "v")])
    g.add_node("lonely", level="indicator")
    nx.set_node_attributes(g, {"d": "dimension", "v": "variable", "d2": "dimension"}, "level")
    problems = tree_problems(g, "fw")
    assert any(p.startswith("cycle") for p in problems)
    assert "lonely does not reach the framework" in problems


def test_graph_command_writes_graphml(real_home: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kb.cli import app

    out = tmp_path / "coo.graphml"
    result = CliRunner().invoke(app, ["graph", "coo-2025", "--home", str(real_home),
                                      "--graphml", str(out)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "经济实力" in result.output and "weight 1" in result.output
    assert nx.read_graphml(out).number_of_nodes() == 127


def test_import_rejects_a_bad_file_and_keeps_the_store(real_build: BuildDir,
                                                       tmp_path: Path) -> None:
    from kb.errors import KbError

    home = tmp_path / "home"
    good = export(open_store(real_build), real_build, "trig", tmp_path / "ok.trig")
    before = import_file(good, home)
    bad = tmp_path / "bad.trig"
    bad.write_text("<http://e/a> <http://e/b> .", encoding="utf-8")
    with pytest.raises(KbError):
        import_file(bad, home)
    assert current_build(home).path == before.path
    assert len(os.listdir(home / "builds")) == 1
