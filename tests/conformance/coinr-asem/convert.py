"""Declare COINr's ASEM example index in citykb's data format.

Writes two source folders: ``asem-geo`` (the 51 countries) and ``asem`` (the framework:
indicators → pillars → sub-indices → Index, with COINr's directions and weights; the raw
values in long format, each citing its row of ASEM_iData.csv; the method: min-max onto
[0, 100], weighted arithmetic mean, competition ranks). The committed fixture in
tests/fixtures/coinr-asem is this script's output; a test checks they agree.

Run: ``python tests/conformance/coinr-asem/convert.py OUT_DIR``
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).parent


def slug(code: str) -> str:
    """COINr codes (CamelCase) → citykb slugs: ``ConEcFin`` → ``con-ec-fin``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", code).lower()


def convert(out: Path) -> None:
    meta = pd.read_csv(HERE / "inputs" / "ASEM_iMeta.csv")
    data = pd.read_csv(HERE / "inputs" / "ASEM_iData.csv", dtype=str, keep_default_na=False)
    geo, asem = out / "asem-geo", out / "asem"
    geo.mkdir(parents=True, exist_ok=True)
    asem.mkdir(parents=True, exist_ok=True)
    cite = {"id": "coinr-asem", "title_en": "COINr example data: ASEM Sustainable Connectivity",
            "publisher": "European Commission Joint Research Centre (COINr 1.1.14)",
            "issued": "2022", "note": "inputs/ASEM_iData.csv and inputs/ASEM_iMeta.csv"}
    _yaml(geo / "source.yaml", {"id": "asem-geo", "sources": [cite]})
    pd.DataFrame({"id": data["uCode"].str.lower(), "kind": "country", "name_zh": "",
                  "name_en": data["uName"], "within": "", "cite": "coinr-asem"}
                 ).to_csv(geo / "places.csv", index=False)

    _yaml(asem / "source.yaml", {
        "id": "asem", "title_en": cite["title_en"], "issued": "2022",
        "seeds": {"en": "ASEM_iData.csv"},
        "publishers": [{"id": "jrc", "name_en": "European Commission Joint Research Centre"}],
    })
    _yaml(asem / "framework.yaml", {
        "id": "asem", "name_zh": "", "name_en": "ASEM Sustainable Connectivity Index",
        "publishers": ["jrc"], "issued": "2022", "version": "COINr 1.1.14", "period": "2018",
        "places": len(data),
        "method": {"normalise": {"name": "minmax", "params": {"low": 0, "high": 100}},
                   "aggregate": "amean", "impute": "none", "rank": "competition"},
        "inputs": {"file": "raw.csv", "level": "indicator", "concept_column": "indicator",
                   "value_column": "value", "complete": False},
    })
    rows = meta[meta["Type"].isin(["Indicator", "Aggregate"]) & (meta["iCode"] != "Index")]
    level = {3: "dimension", 2: "variable", 1: "indicator"}
    nodes = pd.DataFrame({
        "id": rows["iCode"].map(slug),
        "level": rows["Level"].map(level),
        "parent": rows["Parent"].where(rows["Parent"] != "Index", "").map(
            lambda p: slug(p) if p else ""),
        "name_zh": "",
        "name_en": rows["iName"],
        "direction": rows["Direction"].astype(int),
        "weight": rows["Weight"],
        "line": rows.index + 2,
        "line_en": "",
    })
    order = {"dimension": 0, "variable": 1, "indicator": 2}
    nodes = nodes.sort_values("level", key=lambda s: s.map(order), kind="stable")
    nodes.to_csv(asem / "framework.csv", index=False)
    indicators = rows[rows["Type"] == "Indicator"]["iCode"].tolist()
    long = data.reset_index().melt(id_vars=["index", "uCode"], value_vars=indicators,
                                   var_name="code", value_name="value")
    long = long[long["value"] != ""]
    pd.DataFrame({
        "place": "country:" + long["uCode"].str.lower(),
        "indicator": long["code"].map(slug),
        "value": long["value"],
        "table": "ASEM_iData",
        "line": long["index"] + 2,
        "line_en": "",
    }).to_csv(asem / "raw.csv", index=False)
    _example(out, data, nodes, rows)


def _example(out: Path, data: pd.DataFrame, nodes: pd.DataFrame, rows: pd.DataFrame) -> None:
    """``asem-example``: COINr's worked example (``build_example_coin()``) declared as a
    framework: the same tree and inputs, each indicator's denominator, the units' groups and
    denominators in a units file, and the pipeline denominate → impute by EurAsia_group →
    screen (90 % of the data) → treat (winsorise, at most 5 points, then log) → min-max →
    arithmetic mean."""
    ex = out / "asem-example"
    ex.mkdir(parents=True, exist_ok=True)
    asem = out / "asem"
    _yaml(ex / "source.yaml", {
        "id": "asem-example", "title_en": "COINr's worked example on the ASEM data",
        "issued": "2022", "seeds": {"en": "ASEM_iData.csv"},
        "publishers": [{"id": "jrc", "name_en": "European Commission Joint Research Centre"}],
    })
    _yaml(ex / "framework.yaml", {
        "id": "asem-example", "name_zh": "",
        "name_en": "ASEM Sustainable Connectivity Index (COINr's worked example)",
        "publishers": ["jrc"], "issued": "2022", "version": "COINr 1.1.14", "period": "2018",
        "places": len(data),
        "method": {"normalise": {"name": "n_minmax", "params": {"l_u": [0, 100]}},
                   "aggregate": "a_amean",
                   "impute": {"name": "i_mean_grp",
                              "params": {"group": "EurAsia_group", "fallback": "none"}},
                   "screen": {"name": "availability", "params": {"min_available": 0.9}},
                   "treat": {"name": "winsorise", "params": {"winmax": 5}},
                   "rank": "competition"},
        "inputs": {"file": "raw.csv", "level": "indicator", "concept_column": "indicator",
                   "value_column": "value", "complete": False},
        "units": "units.csv",
    })
    den = rows.set_index(rows["iCode"].map(slug))["Denominator"]
    nodes.assign(denominator=nodes["id"].map(den).fillna("")).to_csv(
        ex / "framework.csv", index=False)
    (ex / "raw.csv").write_bytes((asem / "raw.csv").read_bytes())
    cols = ["GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group",
            "Area", "Energy", "GDP", "Population"]
    units = data[["uCode", *cols]].copy()
    units.insert(0, "place", "country:" + units.pop("uCode").str.lower())
    units.to_csv(ex / "units.csv", index=False)


def _yaml(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    convert(Path(sys.argv[1]))
