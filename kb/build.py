"""``kb build``: data/ → a validated knowledge base, published atomically or not at all.

    load (every problem collected, coded) ─▶ compare with the current build (a build that
    removes a source, framework, dimension or dataset needs ``allow_removal``)
    ─▶ [write lock, staging directory]
    ─▶ RDF: the ontology and the small statements as text, observations streamed to one
       N-Quads file through Arrow; the columnar copy written straight from the loaded tables
    ─▶ scoring runs computed before anything is loaded (the plan from an in-memory graph of
       the small statements, the numbers from the tables, the results checked set-wise) and
       appended to the same file
    ─▶ SHACL on that in-memory graph: everything but bulk observations, which were checked
       set-wise as tables (``kb check --full`` runs SHACL on the whole graph)
    ─▶ one Oxigraph bulk load of that file (the loader bounds its own memory; see
       :func:`bulk_chunk`) ─▶ manifest ─▶ publish (rename, swap ``current``).

Any failure, a kill at any moment, or a second concurrent writer leaves the published build
as it was (see :mod:`kb.store`).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyoxigraph as ox

from kb import __version__, paths
from kb import namespaces as ns
from kb.errors import BuildError, KbError, Problem
from kb.loader import load_catalog
from kb.models import Catalog
from kb.nquads import QuadFile
from kb.scoring import Plan, RunResult, compute, is_panel, load_plan
from kb.store import (
    BuildDir,
    Layout,
    current_build,
    default_home,
    derive_build,
    new_build_id,
    open_store,
    staging,
    write_columnar,
)
from kb.triples import build_rdf
from kb.validate import check_shapes, ontology_path

if TYPE_CHECKING:
    import pandas as pd

    from kb.models import SensitivitySpec

Progress = Callable[[str], None]
STAGES = ("load", "compare", "rdf", "score", "validate", "store", "publish")
"""The stages of a build, in the order they run (progress counts them)."""


@dataclass
class BuildReport:
    build: Path
    quads: int
    observations: int
    runs: list[RunResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)
    """What differs from the build that was current before: see :func:`compare`."""


def data_digest(data_dir: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(data_dir)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def summarise(catalog: Catalog) -> dict[str, Any]:
    """What a build holds, by name, for comparing one build with the next."""
    datasets: dict[str, int] = {}
    frameworks: dict[str, dict[str, Any]] = {}
    for pkg in catalog.sources:
        for fw in pkg.frameworks:
            frameworks[fw.meta.id] = {
                "dimensions": sorted(n.id for n in fw.nodes if n.level == "dimension"),
                "nodes": len(fw.nodes),
            }
            for name, df in (("inputs", fw.inputs), ("published", fw.published)):
                if df is not None:
                    datasets[ns.dataset(fw.meta.id, name)] = len(df)
        if pkg.statistic_values is not None:
            datasets[ns.dataset(pkg.meta.id, "statistics")] = len(pkg.statistic_values)
    return {"sources": sorted(p.meta.id for p in catalog.sources),
            "frameworks": frameworks, "datasets": datasets,
            "observations": sum(datasets.values())}


def compare(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Sources, frameworks, dimensions and datasets removed and added; observation counts."""
    if not old:
        return {"first": True, "removed": {}, "added": {}, "observations": [0, new["observations"]]}
    removed: dict[str, list[str]] = {}
    added: dict[str, list[str]] = {}

    def diff(kind: str, a: set[str], b: set[str]) -> None:
        if a - b:
            removed[kind] = sorted(a - b)
        if b - a:
            added[kind] = sorted(b - a)

    diff("sources", set(old["sources"]), set(new["sources"]))
    diff("frameworks", set(old["frameworks"]), set(new["frameworks"]))
    diff("dimensions",
         {f"{f}/{d}" for f, v in old["frameworks"].items() for d in v["dimensions"]},
         {f"{f}/{d}" for f, v in new["frameworks"].items() for d in v["dimensions"]})
    diff("datasets", set(old["datasets"]), set(new["datasets"]))
    shrunk = {d: [n, new["datasets"][d]] for d, n in old["datasets"].items()
              if d in new["datasets"] and new["datasets"][d] < n}
    return {"first": False, "removed": removed, "added": added, "shrunk": shrunk,
            "observations": [old["observations"], new["observations"]]}


def _write(catalog: Catalog, target: BuildDir, small: ox.Store, bulk: QuadFile,
           run_scoring: bool, say: Progress, lap: Callable[[str], None],
           sensitivity: bool = False) -> tuple[int, list[RunResult]]:
    """The RDF of the catalog and of every framework's scoring run, to ``bulk``; the columnar
    copy to ``target``. In a function of its own so that its tables are freed on return."""
    say("rdf")
    built = build_rdf(catalog, bulk)
    for graph, frame in built.observations.groupby("graph", sort=True):
        write_columnar(target, str(graph), frame.reset_index(drop=True))
    for text in built.structure.values():
        bulk.write_text(text, text.count(" .\n"))
    lap("rdf")
    runs: list[RunResult] = []
    if run_scoring:
        say("score")
        inputs = built.observations.groupby("dataset", sort=False)
        for fw in catalog.frameworks:
            if fw.inputs is None:
                continue
            plan = load_plan(small, ns.framework(fw.meta.id))
            raw = inputs.get_group(plan.inputs).reset_index(drop=True)
            plan = replace(plan, period="" if is_panel(raw) else str(raw["period"].iloc[0]))
            run = compute(small, plan, raw, bulk)
            check_scores(run)
            write_columnar(target, run.graph, run.scores)
            runs.append(run.counted())  # its rows are written: let them go before the load
            if sensitivity and fw.meta.sensitivity is not None:
                _sensitivity(fw.meta.sensitivity, small, plan, raw, run.run, bulk)
        lap("score")
    return len(built.observations), runs


def _sensitivity(spec: SensitivitySpec, small: ox.Store, plan: Plan, raw: pd.DataFrame,
                 scoring_run: str, bulk: QuadFile) -> None:
    """Run a framework's declared sensitivity analysis and record it (kb:SensitivityRun)."""
    from kb import sensitivity as sa
    from kb.scoring import _attributes_needed

    started = dt.datetime.now(dt.UTC)
    factors = sa.declared_factors(spec, plan.config)
    result = sa.analyse(plan.config, raw, factors, n=spec.n, seed=spec.seed,
                        places=_attributes_needed(plan.config, small))
    sa.record(plan.config, plan.inputs, factors, result, started, dt.datetime.now(dt.UTC),
              bulk, informed_by=scoring_run)


def _ontology_nquads() -> str:
    """The ontology (and shapes) as N-Quads in its graph: loaded with everything else, so
    that the store is made by one bulk load."""
    graph = ox.NamedNode(ns.graph_ontology())
    quads = (ox.Quad(t.subject, t.predicate, t.object, graph)
             for t in ox.parse(path=str(ontology_path()), format=ox.RdfFormat.TURTLE))
    text = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    assert text is not None  # no output file given: the bytes are returned
    return text.decode("utf-8")


def bulk_chunk() -> int:
    """Statements per bulk-load file: ``$CITYKB_BULK_CHUNK``; by default (or 0) one file.

    Oxigraph's bulk loader works through one input in batches of its own, so its memory is
    bounded whatever the size of the file (peak RSS 1.61 GB at 3.3M statements, 1.76 GB at
    6.6M, about 1.7 GB at 11M), and one file loads fastest: loading many files into a
    growing store makes it merge what it already holds again (at 11M statements, one file
    took 117 s, files of 1M statements 199 s, files of 500k 250 s). Smaller files lower the
    peak (under 1 GB with 500k) at that cost in time: for machines with little memory.
    """
    raw = os.environ.get("CITYKB_BULK_CHUNK", "")
    try:
        n = int(raw) if raw else 0
    except ValueError:
        raise KbError("KB058", f"CITYKB_BULK_CHUNK must be a whole number, got {raw!r}") from None
    return n if n > 0 else 2**62


def _release_memory() -> None:
    """Give the tables' memory back to the system before the bulk load needs its own."""
    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def check_scores(run: RunResult) -> None:
    """A run's computed observations, checked set-wise as the loader checks the inputs:
    finite values, ranks that are positive integers."""
    scores = run.scores
    bad = scores[~np.isfinite(scores["value"].to_numpy(dtype="float64"))
                 | (scores["rank"].notna() & (scores["rank"] < 1)).to_numpy(dtype=bool)]
    if len(bad):
        raise BuildError([Problem("KB030", f"scoring run {run.run} computed "
                                  f"{len(bad)} invalid value(s) or rank(s), e.g. {o} = {v!r}")
                          for o, v in zip(bad["obs"][:5], bad["value"][:5], strict=True)])


def _current_summary(home: Path) -> dict[str, Any] | None:
    try:
        summary = current_build(home).read_manifest().get("summary")
    except (KbError, OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def build(
    data_dir: Path | None = None, home: Path | None = None, *, validate: bool = True,
    run_scoring: bool = True, allow_removal: bool = False, progress: Progress | None = None,
    sensitivity: bool = False,
) -> BuildReport:
    """Build the knowledge base from ``data_dir`` into ``home``.

    Raises BuildError (bad input), KbError KB042 (another writer), KB043 (the disk), KB044
    (the build would remove what the current one has); in every case nothing is published.
    """
    data_dir = data_dir or paths.data_dir()
    home = home or default_home()
    say = progress or (lambda stage: None)
    timings: dict[str, float] = {}

    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = now - clock[0]
        clock[0] = now

    say("load")
    catalog = load_catalog(data_dir)
    lap("load")

    say("compare")
    summary = summarise(catalog)
    changes = compare(_current_summary(home), summary)
    if changes["removed"] and not allow_removal:
        what = "; ".join(f"{kind}: {', '.join(v[:8])}{' ...' if len(v) > 8 else ''}"
                         for kind, v in changes["removed"].items())
        raise BuildError([Problem("KB044", f"this build would remove {what}. If that is "
                                  "intended, build again with --allow-removal",
                                  str(data_dir))])
    digest = data_digest(data_dir)
    lap("compare")

    with staging(home, new_build_id()) as target:
        # The small statements (everything but bulk observations) also go to an in-memory
        # graph: scoring reads its plan there, and the shapes are checked there.
        small = ox.Store()

        def keep_small(text: str) -> None:
            small.bulk_load(text.encode("utf-8"), ox.RdfFormat.N_QUADS)

        with QuadFile(target.path, chunk_quads=bulk_chunk(), echo=keep_small) as bulk:
            ontology = _ontology_nquads()
            bulk.write_text(ontology, ontology.count(" .\n"))
            observations, runs = _write(catalog, target, small, bulk, run_scoring, say, lap,
                                        sensitivity)
            quads = bulk.count
        del catalog
        _release_memory()

        if validate:
            say("validate")
            result = check_shapes(small)
            lap("validate")
            if not result.conforms:
                raise BuildError(result.problems)

        say("store")
        store = open_store(target, write=True)
        # One file, unless $CITYKB_BULK_CHUNK asks for several. Lenient: the loader does not
        # check each IRI and literal again. The small statements were parsed strictly into
        # `small` above; the bulk lines are written from checked tables by kb.nquads (12 %
        # less CPU in the load at 3.3M statements).
        for chunk in bulk.files:
            store.bulk_load(path=str(chunk), format=ox.RdfFormat.N_QUADS, lenient=True)
            chunk.unlink()
        lap("store")

        say("publish")
        target.write_manifest({
            "software": f"citykb {__version__}",
            "built": dt.datetime.now(dt.UTC).isoformat(),
            "data": str(data_dir.resolve()),
            "data_sha256": digest,
            "graphs": sorted(str(g.value) for g in store.named_graphs()),
            "runs": [r.run for r in runs],
            "observations": observations,
            "quads": quads,
            "summary": summary,
            "timings": timings,
        })
        store.flush()
        del store
        gc.collect()  # release the store's lock now: query results can keep it alive in cycles
    lap("publish")
    return BuildReport(Layout(home).current.resolve(), quads, observations, runs, timings,
                       changes)



def rescore(home: Path | None, framework: str, weight_set: str | None = None, *,
            validate: bool = True, directions: dict[str, int] | None = None,
            weights: dict[str, float] | None = None) -> RunResult:
    """Score a framework again (e.g. with another weight set, or with some nodes' directions
    and weights changed for this run: node slug → value) into a new build derived from the
    published one; published only when the run is written and valid."""
    from kb import namespaces as ns
    from kb.resolve import resolve
    from kb.scoring import Overrides, score

    home = home or default_home()
    with derive_build(home, new_build_id("-score")) as (target, manifest):
        store = open_store(target, write=True)
        fw = resolve(store, "framework", framework)
        slug = ns.local_name(fw)
        overrides = Overrides({ns.node(slug, k): v for k, v in (directions or {}).items()},
                              {ns.node(slug, k): v for k, v in (weights or {}).items()})
        run = score(store, target, fw, weight_set, overrides)
        if validate:
            result = check_shapes(store)
            if not result.conforms:
                raise BuildError(result.problems)
        target.write_manifest({
            **manifest,
            "built": dt.datetime.now(dt.UTC).isoformat(),
            "graphs": sorted(str(g.value) for g in store.named_graphs()),
            "runs": sorted({*manifest.get("runs", []), run.run}),
        })
        store.flush()
        del store
        gc.collect()
    return run
