"""Benchmarks: build and scoring at the report's scale and on a generated ~1M-observation
framework, each beside a plain pandas computation of the same scores in the same process;
``kb explain`` and ``kb query`` as a user runs them (start-up included), beside a bare Python
start-up.

Run: ``python -m bench.bench_build_score [--quick] [--places N --dimensions D --variables V]``.
Prints times and ratios (machines are noisy: compare ratios, not seconds).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from bench.generate import generate
from bench.timing import timed
from kb import engine, paths
from kb import namespaces as ns
from kb.build import build
from kb.scoring import load_plan, score
from kb.store import current_build, open_store, read_observations


def pandas_scores(data: Path, folder: str) -> pd.DataFrame:
    """The same scores computed with nothing but pandas from the CSV inputs: read points,
    sum to dimensions and total, rank (competition, best first)."""
    meta = yaml.safe_load((data / folder / "framework.yaml").read_text(encoding="utf-8"))
    spec = meta["inputs"]
    pts = pd.read_csv(data / folder / spec["file"],
                      usecols=["city", spec["concept_column"], spec["value_column"]])
    fw = pd.read_csv(data / folder / "framework.csv", usecols=["id", "parent"])
    parent = fw.set_index("id")["parent"]
    pts["dimension"] = pts[spec["concept_column"]].map(parent)
    dims = pts.groupby(["city", "dimension"])[spec["value_column"]].sum().rename("value")
    dims = dims.reset_index()
    dims["rank"] = dims.groupby("dimension")["value"].rank(method="min", ascending=False)
    total = dims.groupby("city")["value"].sum().rename("value").reset_index()
    total["rank"] = total["value"].rank(method="min", ascending=False)
    out: pd.DataFrame = pd.concat([dims, total.assign(dimension="total")], ignore_index=True)
    return out


def row(label: str, engine: float, baseline: float) -> None:
    print(f"  {label:<52} {engine:9.3f} s   pandas {baseline:8.3f} s   "
          f"ratio {engine / baseline:8.1f}×")


def bench_scale(label: str, data: Path, folder: str, framework: str, home: Path,
                validate: bool, repeat: int) -> None:
    print(f"\n{label}")
    base = timed(lambda: pandas_scores(data, folder), repeat)
    reports = []
    t_build = timed(lambda: reports.append(build(data, home, validate=validate)), 1)
    rep = reports[-1]
    print(f"  {rep.observations:,} observations, {rep.quads:,} quads; stages: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in rep.timings.items()))
    row("kb build (load, RDF, store, score"
        + (", SHACL)" if validate else ")"), t_build, base)
    b = current_build(home)
    store = open_store(b, write=True)

    def engine_compute() -> object:
        plan = load_plan(store, framework)
        inputs = read_observations(b, dataset=plan.inputs)
        return engine.run(plan.config, inputs)

    row("scoring computation (tree, read inputs, sums, ranks)", timed(engine_compute, repeat),
        base)
    t_score = timed(lambda: score(store, b, framework), repeat)
    row("scoring rerun (computation, compare with stored run)", t_score, base)


def bench_cli(home: Path, repeat: int) -> None:
    print("\ncommands as a user runs them (start-up included)")
    kb = [sys.executable, "-m", "kb.cli"]
    env_home = ["--home", str(home)]

    def run(args: list[str]) -> Callable[[], object]:
        return lambda: subprocess.run(args, check=True, capture_output=True)

    python = timed(run([sys.executable, "-c", "pass"]), repeat)
    for label, args in [
        ("kb explain 深圳 经济实力", [*kb, "explain", "深圳", "经济实力", *env_home]),
        ("kb explain Shenzhen (total)", [*kb, "explain", "Shenzhen", *env_home]),
        ("kb query dimension-ranking", [*kb, "query", "dimension-ranking", "--param",
                                        "dimension=科技创新", *env_home]),
        ("kb rank", [*kb, "rank", *env_home]),
    ]:
        t = timed(run(args), repeat)
        print(f"  {label:<44} {t:9.3f} s   python -c pass {python:6.3f} s   ratio "
              f"{t / python:6.1f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="report scale only")
    ap.add_argument("--places", type=int, default=5000)
    ap.add_argument("--dimensions", type=int, default=20)
    ap.add_argument("--variables", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="citykb-bench-") as tmp:
        root = Path(tmp)
        bench_scale("report scale: Cities of Opportunity 2025 (60 cities × 50 variables)",
                    paths.data_dir(), "coo2025", ns.framework("coo-2025"), root / "real",
                    validate=True, repeat=args.repeat)
        bench_cli(root / "real", args.repeat)
        if not args.quick:
            data = root / "synth-data"
            n = generate(data, places=args.places, dimensions=args.dimensions,
                         variables=args.variables)
            bench_scale(f"generated: {args.places:,} places × {args.dimensions} dimensions × "
                        f"{args.variables} variables = {n:,} inputs (no SHACL)", data, "synth",
                        ns.framework("synth"), root / "synth", validate=False, repeat=1)


if __name__ == "__main__":
    main()
