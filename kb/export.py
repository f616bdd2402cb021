"""Exports and imports in standard formats.

``ttl``/``nt``: the union of all named graphs (or one graph) as triples; ``trig``/``nq``: every
named graph kept; ``jsonld``: JSON-LD with a context of citykb's prefixes; ``csv``: tidy tables
(observations in long format with labels, frameworks as a tree table). Imports read TriG or
N-Quads into a fresh store and derive its columnar copy from the graph, so an exported
knowledge base can be queried, ranked and explained elsewhere.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyoxigraph as ox

from kb import __version__
from kb.errors import KbError
from kb.graphs import TREE
from kb.namespaces import PREFIXES
from kb.sparql import to_frame
from kb.store import (
    BuildDir,
    current_build,
    new_build_id,
    open_store,
    read_observations,
    staging,
    write_columnar,
)

FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES,
           "trig": ox.RdfFormat.TRIG, "nq": ox.RdfFormat.N_QUADS,
           "jsonld": ox.RdfFormat.JSON_LD}
# the instance namespace as a prefix would put slashes in local names (escaped in Turtle):
# full IRIs read better
EXPORT_PREFIXES = {p: iri for p, iri in PREFIXES.items() if p != "kbid"}
QUAD_FORMATS = {"trig", "nq"}
UNION = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


def export(store: ox.Store, build: BuildDir, fmt: str, out: Path,
           graph: str | None = None) -> Path:
    """Write the knowledge base (or one named graph) to ``out`` in ``fmt``."""
    if fmt == "csv":
        return export_csv(store, build, out, graph)
    if fmt not in FORMATS:
        raise KbError("KB051", f"unknown export format {fmt!r}; choose one of "
                      f"{', '.join([*FORMATS, 'csv'])}")
    g = ox.NamedNode(graph) if graph else None
    if g is not None and g not in set(store.named_graphs()):
        raise KbError("KB050", f"no named graph {graph}",
                      suggestions=[n.value for n in store.named_graphs()][:5])
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt in QUAD_FORMATS:
        if g is None:
            store.dump(str(out), FORMATS[fmt], prefixes=EXPORT_PREFIXES)
        else:
            quads = store.quads_for_pattern(None, None, None, g)
            ox.serialize(quads, str(out), FORMATS[fmt], prefixes=EXPORT_PREFIXES)
        return out
    if g is None:
        triples = store.query(UNION, use_default_graph_as_union=True)
    else:
        triples = store.query(UNION, default_graph=g)
    if fmt == "jsonld":
        return _jsonld(triples, out)  # type: ignore[arg-type]
    ox.serialize(triples, str(out), FORMATS[fmt], prefixes=EXPORT_PREFIXES)  # type: ignore[arg-type]
    return out


def _jsonld(triples: ox.QueryTriples, out: Path) -> Path:
    """JSON-LD with citykb's prefixes as its ``@context``: properties, types and node
    references as compact IRIs (``kb:concept``), literals with their datatype kept
    explicitly (lossless: 286.0 stays an xsd:double)."""
    nodes = json.loads(ox.serialize(triples, format=ox.RdfFormat.JSON_LD) or b"[]")
    ordered = sorted(EXPORT_PREFIXES.items(), key=lambda kv: -len(kv[1]))

    def curie(iri: str) -> str:
        for prefix, base in ordered:
            if iri.startswith(base) and len(iri) > len(base):
                return f"{prefix}:{iri[len(base):]}"
        return iri

    def compact(value: Any) -> Any:
        if isinstance(value, list):
            return [compact(v) for v in value]
        if isinstance(value, dict):
            out_: dict[str, Any] = {}
            for k, v in value.items():
                if k in ("@id", "@type"):
                    out_[k] = [curie(x) for x in v] if isinstance(v, list) else curie(v)
                elif k.startswith("@"):
                    out_[k] = v
                else:
                    out_[curie(k)] = compact(v)
            return out_
        return value

    doc = {"@context": EXPORT_PREFIXES, "@graph": compact(nodes)}
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


LABELS = """
SELECT ?x ?zh ?en WHERE {
  { ?x skos:prefLabel ?zh FILTER (lang(?zh) = "zh") }
  OPTIONAL { ?x skos:prefLabel ?en FILTER (lang(?en) = "en") }
}
"""


def export_csv(store: ox.Store, build: BuildDir, out: Path, graph: str | None = None) -> Path:
    """Tidy tables in the directory ``out``: observations.csv and frameworks.csv."""
    out.mkdir(parents=True, exist_ok=True)
    obs = read_observations(build, graph=graph) if graph else read_observations(build)
    labels = to_frame(store, LABELS).drop_duplicates("x").set_index("x")
    tidy = obs.assign(
        place_zh=obs["place"].map(labels["zh"]), place_en=obs["place"].map(labels["en"]),
        concept_zh=obs["concept"].map(labels["zh"]),
        concept_en=obs["concept"].map(labels["en"]))
    cols = ["obs", "graph", "dataset", "framework", "place", "place_zh", "place_en", "concept",
            "concept_zh", "concept_en", "period", "value", "rank"]
    tidy[cols].sort_values(["dataset", "concept", "place"]).to_csv(
        out / "observations.csv", index=False)
    tree = to_frame(store, TREE).rename(columns={"fw": "framework"})
    tree.sort_values(["framework", "level", "order"]).to_csv(out / "frameworks.csv",
                                                              index=False)
    return out


OBSERVATIONS = """
SELECT ?obs ?graph ?dataset ?framework ?place ?concept ?value ?rank ?period WHERE {
  GRAPH ?graph { ?obs a qb:Observation ; qb:dataSet ?dataset ; sdmx-dimension:refArea ?place ;
                 kb:concept ?concept ; sdmx-measure:obsValue ?value .
                 OPTIONAL { ?obs kb:rank ?rank }
                 OPTIONAL { ?obs sdmx-dimension:refPeriod ?period } }
  OPTIONAL { ?dataset kb:framework ?framework }
}
"""


def import_file(path: Path, home: Path) -> BuildDir:
    """Read a TriG or N-Quads export into a fresh knowledge base at ``home`` (atomically),
    deriving the columnar copy from the observations in the graph."""
    fmt = {".trig": ox.RdfFormat.TRIG, ".nq": ox.RdfFormat.N_QUADS}.get(path.suffix)
    if fmt is None:
        raise KbError("KB051", f"{path}: import reads TriG (.trig) or N-Quads (.nq), which keep "
                      "the named graphs")
    if not path.is_file():
        raise KbError("KB001", f"{path}: no such file to import")
    with staging(home, new_build_id("-import")) as target:
        store = open_store(target, write=True)
        try:
            store.bulk_load(path=str(path), format=fmt)
        except SyntaxError as exc:
            raise KbError("KB052", f"{path}: not valid {path.suffix[1:]}: {exc}") from exc
        obs = to_frame(store, OBSERVATIONS)
        if not obs.empty:
            frame = pd.DataFrame({
                "obs": obs["obs"].astype(str), "graph": obs["graph"].astype(str),
                "dataset": obs["dataset"].astype(str),
                "framework": obs["framework"].astype("object").fillna("").astype(str),
                "place": obs["place"].astype(str), "concept": obs["concept"].astype(str),
                "value": obs["value"].astype("float64"), "rank": obs["rank"].astype("Int64"),
                "period": obs["period"].astype("object").fillna("").astype(str),
            })
            for g, part in frame.groupby("graph"):
                write_columnar(target, str(g), part.reset_index(drop=True))
        target.write_manifest({"software": f"citykb {__version__}", "imported": str(path),
                               "built": dt.datetime.now(dt.UTC).isoformat(),
                               "observations": len(obs)})
        store.flush()
        del store
        gc.collect()
    return current_build(home)
