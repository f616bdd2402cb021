"""Generate a synthetic data/ folder at any scale, in citykb's declarative format.

``places × dimensions × variables_per_dimension`` input values (rank points 1..places, random
but reproducible under the seed). Used by the benchmarks and by scale tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def generate(
    target: Path, *, places: int, dimensions: int, variables: int, seed: int = 0
) -> int:
    """Write geography/ and synth/ under ``target``; return the number of input values."""
    rng = np.random.default_rng(seed)
    geo = target / "geography"
    syn = target / "synth"
    geo.mkdir(parents=True, exist_ok=True)
    syn.mkdir(parents=True, exist_ok=True)
    (geo / "source.yaml").write_text(yaml.safe_dump({
        "id": "geography",
        "sources": [{"id": "synthetic", "title_en": "Synthetic geography",
                     "title_zh": "合成地理"}],
    }, allow_unicode=True), encoding="utf-8")
    pd.DataFrame([{"id": "r", "name_zh": "区域", "name_en": "Region", "cite": "synthetic"}]
                 ).to_csv(geo / "regions.csv", index=False)
    pd.DataFrame([{"id": "p", "name_zh": "省", "name_en": "Province", "kind": "province",
                   "region": "r", "cite": "synthetic"}]).to_csv(geo / "provinces.csv",
                                                                 index=False)
    ids = [f"c{i:06d}" for i in range(places)]
    pd.DataFrame({"id": ids, "name_zh": [f"城{i}" for i in range(places)],
                  "name_en": [f"City {i}" for i in range(places)], "province": "p",
                  "cite": "synthetic"}).to_csv(geo / "cities.csv", index=False)

    (syn / "source.yaml").write_text(yaml.safe_dump({
        "id": "synth", "title_zh": "合成指数报告", "title_en": "Synthetic index report",
        "issued": "2025", "seeds": {"zh": "synthetic.txt", "en": "synthetic.txt"},
    }, allow_unicode=True), encoding="utf-8")
    (syn / "framework.yaml").write_text(yaml.safe_dump({
        "id": "synth", "name_zh": "合成指数", "name_en": "Synthetic index", "issued": "2025",
        "version": "1", "period": "2025", "places": places,
        "method": {"aggregate": "sum", "rank": "competition"},
        "inputs": {"file": "points.csv", "level": "variable", "concept_column": "variable",
                   "value_column": "points", "min": 1, "max": places, "integer": True},
    }), encoding="utf-8")
    nodes = []
    var_ids = []
    for d in range(dimensions):
        nodes.append({"id": f"d{d:03d}", "level": "dimension", "parent": "",
                      "name_zh": f"维度{d}", "name_en": f"Dimension {d}"})
        for v in range(variables):
            vid = f"d{d:03d}-v{v:03d}"
            var_ids.append(vid)
            nodes.append({"id": vid, "level": "variable", "parent": f"d{d:03d}",
                          "name_zh": f"变量{d}-{v}", "name_en": f"Variable {d}-{v}"})
    pd.DataFrame(nodes).to_csv(syn / "framework.csv", index=False)
    n = places * len(var_ids)
    points = pd.DataFrame({
        "city": np.repeat(ids, len(var_ids)),
        "variable": np.tile(var_ids, places),
        "points": rng.integers(1, places + 1, size=n),
        "table": np.tile([v.split("-")[0] for v in var_ids], places),
        "line": 1,
        "line_en": 1,
    })
    points.to_csv(syn / "points.csv", index=False)
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("target", type=Path)
    ap.add_argument("--places", type=int, default=5000)
    ap.add_argument("--dimensions", type=int, default=20)
    ap.add_argument("--variables", type=int, default=10)
    args = ap.parse_args()
    n = generate(args.target, places=args.places, dimensions=args.dimensions,
                 variables=args.variables)
    print(f"{n:,} input values under {args.target}")


if __name__ == "__main__":
    main()
