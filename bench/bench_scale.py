"""Scale bench: ``kb build`` (as a user runs it, validation included) on generated data of
100k, 300k, 1M (and 3M) input observations, beside Oxigraph's own bulk load of the very quads
that build produced, in the same run; peak memory of each; the growth exponent; and the
latency of ``explain`` through the Python API on each (the goal is at 1M).

Run: ``python -m bench.bench_scale [--sizes 100000,300000,1000000] [--explain 200]``.
Prints seconds, ratios and peak RSS (the whole process tree, sampled); compare ratios, not
seconds: these machines are noisy.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import generate

DIMENSIONS, VARIABLES = 20, 10
RATIO_GOAL, RSS_GOAL, EXPONENT_GOAL, P95_GOAL = 1.3, 2 * 2**30, 1.05, 0.010
"""The lean build's goals at 1M inputs: build ÷ bulk load, peak RSS, growth exponent, and
explain's p95 (seconds)."""


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"
BULK_LOAD = """
import sys, pyoxigraph as ox
ox.Store(sys.argv[1]).bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_QUADS)
"""


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (Linux /proc)."""
    total = 0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/statm", encoding="utf-8") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return total


def measured(cmd: list[str]) -> tuple[float, int]:
    """Wall time and peak resident memory (process tree, sampled every 50 ms) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read() if proc.stderr else ''}")
    return wall, peak


def one_size(n: int, work: Path) -> dict[str, float]:
    places = max(1, n // (DIMENSIONS * VARIABLES))
    data, home, bulk = work / f"data-{n}", work / f"home-{n}", work / f"bulk-{n}"
    generate(data, places=places, dimensions=DIMENSIONS, variables=VARIABLES)
    build_s, build_rss = measured([sys.executable, "-m", "kb.cli", "build", "--data",
                                   str(data), "--home", str(home)])
    quads = work / f"quads-{n}.nq"
    subprocess.run([sys.executable, "-c", "import sys, pyoxigraph as ox; "
                    "ox.Store.read_only(sys.argv[1]).dump(sys.argv[2], ox.RdfFormat.N_QUADS)",
                    str(home / "current" / "oxigraph"), str(quads)], check=True)
    with quads.open("rb") as fh:
        count = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
    bulk_s, bulk_rss = measured([sys.executable, "-c", BULK_LOAD, str(bulk), str(quads)])
    size = quads.stat().st_size
    quads.unlink()
    shutil.rmtree(bulk)
    shutil.rmtree(data)
    return {"n": n, "places": places, "quads": count, "bytes": size, "build": build_s,
            "build_rss": build_rss, "bulk": bulk_s, "bulk_rss": bulk_rss}


def explain_latency(home: Path, places: int, calls: int) -> tuple[float, float]:
    import kb

    base = kb.open(home)
    rng = random.Random(0)
    base.explain("c000000", "d000")  # warm the caches a user's session would warm
    times = []
    for _ in range(calls):
        city = f"c{rng.randrange(places):06d}"
        dim = f"d{rng.randrange(DIMENSIONS):03d}"
        t0 = time.perf_counter()
        base.explain(city, dim)
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(0.95 * len(times)) - 1)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100000,300000,1000000",
                    help="input observations per build, comma-separated (3000000 for 3M)")
    ap.add_argument("--explain", type=int, default=200, help="explain calls timed (0: none)")
    ap.add_argument("--keep", type=Path, help="keep the largest knowledge base here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="citykb-scale-"))
    rows = []
    try:
        print(f"{'inputs':>10} {'quads':>12} {'B/quad':>7} {'build s':>9} {'bulk s':>9} "
              f"{'ratio':>6} {'build RSS':>10} {'bulk RSS':>10}")
        latency = []
        for n in sizes:
            r = one_size(n, work)
            rows.append(r)
            goals = ""
            if n == 1_000_000:
                goals = (f"  ratio ≤ {RATIO_GOAL}×: {verdict(r['build'] / r['bulk'] <= RATIO_GOAL)}"
                         f"; RSS ≤ 2 GB: {verdict(r['build_rss'] <= RSS_GOAL)}")
            print(f"{n:>10,} {r['quads']:>12,.0f} {r['bytes'] / r['quads']:>7.0f} "
                  f"{r['build']:>9.1f} {r['bulk']:>9.1f} {r['build'] / r['bulk']:>5.2f}× "
                  f"{r['build_rss'] / 2**30:>8.2f} G {r['bulk_rss'] / 2**30:>8.2f} G{goals}",
                  flush=True)
            if args.explain:  # on every size: the goal is at 1M, growth shows beside it
                latency.append((n, *explain_latency(work / f"home-{n}", int(r["places"]),
                                                    args.explain)))
            if n != sizes[-1]:
                shutil.rmtree(work / f"home-{n}")
        if len(rows) > 1:
            xs = [math.log(r["n"]) for r in rows]
            ys = [math.log(r["build"]) for r in rows]
            mx, my = statistics.fmean(xs), statistics.fmean(ys)
            slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
                     / sum((x - mx) ** 2 for x in xs))
            print(f"growth exponent of build time: {slope:.2f} "
                  f"({rows[0]['n']:,} → {rows[-1]['n']:,} inputs)  ≤ {EXPONENT_GOAL}: "
                  f"{verdict(slope <= EXPONENT_GOAL)}")
        for n, p50, p95 in latency:
            goal = (f"  p95 ≤ 10 ms: {verdict(p95 <= P95_GOAL)}" if n == 1_000_000 else "")
            print(f"explain(city, dimension) at {n:,} inputs, {args.explain} calls: "
                  f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms{goal}")
        if args.keep:
            shutil.copytree(work / f"home-{rows[-1]['n']:.0f}", args.keep, symlinks=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
