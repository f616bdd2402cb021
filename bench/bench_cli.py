"""The commands a user runs, timed whole (start-up included), beside a bare Python start-up in
the same run: ``import kb.cli``, ``kb build`` of the seed data with its defaults (validation
included), and ``kb explain``, ``kb query``, ``kb rank`` on the built knowledge base.

Run: ``python -m bench.bench_cli [--repeat 5]``. Prints min and median wall seconds and the
median's ratio to ``python -c pass`` (machines are noisy: look at ratios and minima).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"import kb.cli": 0.25, "kb build (seed)": 2.0}
COMMAND_GOAL = 0.8


def wall(cmd: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="citykb-cli-"))
    kb = [sys.executable, "-m", "kb.cli"]
    cases: list[tuple[str, list[str]]] = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import kb.cli", [sys.executable, "-c", "import kb.cli"]),
        ("kb build (seed)", [*kb, "build", "--home", str(home)]),
        ("kb explain 深圳 经济实力", [*kb, "explain", "深圳", "经济实力", "--home", str(home)]),
        ("kb query top-in-area", [*kb, "query", "top-in-area", "--param", "area=东部",
                                  "--param", "dimension=科技创新", "--param", "top=10",
                                  "--home", str(home)]),
        ("kb rank", [*kb, "rank", "--home", str(home)]),
    ]
    base = None
    print(f"{'command':<28} {'min s':>7} {'median s':>9} {'× python':>9}  goal")
    for label, cmd in cases:
        times = wall(cmd, args.repeat)
        med = statistics.median(times)
        base = base or med
        goal = GOALS.get(label, COMMAND_GOAL if label.startswith("kb ") else None)
        met = goal is not None and min(times) <= goal
        verdict = "" if goal is None else f"≤ {goal} s: {'met' if met else 'NOT met'} (min)"
        print(f"{label:<28} {min(times):>7.2f} {med:>9.2f} {med / base:>8.1f}×  {verdict}",
              flush=True)


if __name__ == "__main__":
    main()
