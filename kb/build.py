"""``kb build``: data/ → validated store, atomically.

load (pydantic, every problem collected) → RDF per source graph → a new Oxigraph store on disk
(bulk loaded) with its columnar copy → scoring runs → SHACL validation → publish. Any failure
discards the new build; the previous knowledge base stays as it was.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from kb import __version__, paths
from kb import namespaces as ns
from kb.errors import BuildError
from kb.loader import load_catalog
from kb.scoring import RunResult, score
from kb.store import (
    BuildDir,
    default_home,
    discard,
    new_build,
    open_store,
    publish,
    write_columnar,
)
from kb.triples import Built, build_rdf
from kb.validate import check_shapes, ontology_path


@dataclass
class BuildReport:
    build: Path
    quads: int
    observations: int
    runs: list[RunResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _build_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{os.getpid()}"


def data_digest(data_dir: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(data_dir)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def build(
    data_dir: Path | None = None, home: Path | None = None, *, validate: bool = True,
    run_scoring: bool = True,
) -> BuildReport:
    """Build the knowledge base from ``data_dir`` into ``home``; raise BuildError on bad input."""
    data_dir = data_dir or paths.data_dir()
    home = home or default_home()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    catalog = load_catalog(data_dir)
    timings["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    built = build_rdf(catalog)
    timings["rdf"] = time.perf_counter() - t0

    target = new_build(home, _build_id())
    try:
        frameworks = [ns.framework(fw.meta.id) for fw in catalog.frameworks
                      if fw.inputs is not None]
        report = _fill(target, built, frameworks, validate, run_scoring, timings)
        target.write_manifest({
            "software": f"citykb {__version__}",
            "built": dt.datetime.now(dt.UTC).isoformat(),
            "data": str(data_dir.resolve()),
            "data_sha256": data_digest(data_dir),
            "graphs": sorted(built.nquads),
            "runs": [r.run for r in report.runs],
            "observations": report.observations,
        })
    except BaseException:
        discard(target)
        raise
    publish(home, target)
    return report


def _fill(
    target: BuildDir, built: Built, frameworks: list[str], validate: bool, run_scoring: bool,
    timings: dict[str, float],
) -> BuildReport:
    """Load the RDF and the columnar copy into a new build, score, validate."""
    t0 = time.perf_counter()
    store = open_store(target, write=True)
    store.bulk_load(path=str(ontology_path()), format=ox.RdfFormat.TURTLE,
                    to_graph=ox.NamedNode(ns.graph_ontology()))
    for text in built.nquads.values():
        store.bulk_load(text.encode("utf-8"), ox.RdfFormat.N_QUADS)
    for graph, frame in built.observations.groupby("graph"):
        write_columnar(target, str(graph), frame.reset_index(drop=True))
    timings["store"] = time.perf_counter() - t0

    report = BuildReport(target.path, built.quad_count, len(built.observations), timings=timings)
    if run_scoring:
        t0 = time.perf_counter()
        report.runs = [score(store, target, fw) for fw in frameworks]
        timings["score"] = time.perf_counter() - t0
    if validate:
        t0 = time.perf_counter()
        result = check_shapes(store)
        timings["validate"] = time.perf_counter() - t0
        if not result.conforms:
            raise BuildError(result.problems)
    store.flush()
    del store
    gc.collect()  # release the store's lock now: query results can keep it alive in cycles
    return report
