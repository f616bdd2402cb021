"""Every goal of the lean build in one run: the commands a user runs (:mod:`bench.bench_cli`),
then builds of 100k, 300k, 1M and 3M generated inputs beside Oxigraph's bulk load of the same
quads, the growth exponent, and explain's latency at the largest size
(:mod:`bench.bench_scale`). Each line says whether its goal is met.

Run: ``python -m bench.bench_lean [--sizes 100000,300000,1000000,3000000] [--repeat 3]``
(about 40 minutes on a 2-core machine with 3M; run it on a quiet machine).
"""

from __future__ import annotations

import argparse

from bench import bench_cli, bench_scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100000,300000,1000000,3000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--explain", type=int, default=200)
    args = ap.parse_args()
    bench_cli.main(["--repeat", str(args.repeat)])
    print()
    bench_scale.main(["--sizes", args.sizes, "--explain", str(args.explain)])


if __name__ == "__main__":
    main()
