"""What ``kb build`` tells its user: stage progress on a terminal, then what changed."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from kb.build import STAGES, BuildReport, Progress

LABELS = {
    "load": "reading and checking data/",
    "compare": "comparing with the current build",
    "rdf": "writing RDF and the columnar copy",
    "score": "scoring every framework",
    "store": "loading the store",
    "validate": "validating against the shapes",
    "publish": "publishing",
}


@contextlib.contextmanager
def progress_printer() -> Iterator[Progress]:
    """A spinner naming the stage, on a terminal only (piped output stays clean)."""
    if not sys.stderr.isatty():
        yield lambda stage: None
        return
    console = Console(stderr=True)
    with console.status("") as status:
        def show(stage: str) -> None:
            n = STAGES.index(stage) + 1 if stage in STAGES else 0
            status.update(f"[{n}/{len(STAGES)}] {LABELS.get(stage, stage)} …")

        yield show


def print_report(console: Console, report: BuildReport, home: Path) -> None:
    """The build's size, its runs, and what it changed against the build before it."""
    console.print(f"built {report.quads:,} quads, {report.observations:,} observations into "
                  f"{home}", soft_wrap=True)
    for r in report.runs:
        console.print(f"  scoring run {r.run}: {r.scored:,} scores", soft_wrap=True)
    ch = report.changes
    if ch and not ch.get("first"):
        before, after = ch["observations"]
        console.print(f"  compared with the previous build: {before:,} → {after:,} input and "
                      "published observations", soft_wrap=True)
        for verb, key in (("removed", "removed"), ("added", "added")):
            for kind, items in ch.get(key, {}).items():
                console.print(f"  {verb} {kind}: {', '.join(items)}", soft_wrap=True)
        for d, (a, b) in ch.get("shrunk", {}).items():
            console.print(f"  fewer observations in {d}: {a:,} → {b:,}", soft_wrap=True)
    console.print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items()),
                  soft_wrap=True)
