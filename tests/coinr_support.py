"""COINr's ASEM data as engine inputs, and COINr's outputs (tests/conformance/coinr-asem/
generated/, made by generate.R with COINr itself) as wide tables to compare with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kb.engine import Call, Config, NodeConfig

HERE = Path(__file__).parent
COINR = HERE / "conformance" / "coinr-asem"
GENERATED = COINR / "generated"
GROUPS = ["GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group"]
DENOMINATORS = ["Area", "Energy", "GDP", "Population"]


TEXT = {"uName", "uCode", "iCode", "iName", "dset", "Unit", "Parent", "Type", "Denominator",
        "treatment", *GROUPS}


def read(path: Path) -> pd.DataFrame:
    """A COINr CSV with its numbers parsed exactly (``%.17g`` round-trips: each cell through
    Python's correctly rounded ``float``)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        if c not in TEXT:
            df[c] = np.array([float(v) if v != "" else np.nan for v in df[c]])
        else:
            df[c] = df[c].replace("", np.nan)
    return df


def meta() -> pd.DataFrame:
    return read(COINR / "inputs" / "ASEM_iMeta.csv")


def raw(panel: bool = False) -> pd.DataFrame:
    """Long inputs: place (uCode), concept (iCode), value[, period]."""
    m = meta()
    codes = list(m.loc[m["Type"] == "Indicator", "iCode"])
    if panel:
        data = read(GENERATED / "q_panel_global_minmax_amean" / "raw.csv")
        data = data[data["iCode"].isin(codes)]
        return pd.DataFrame({"place": data["uCode"], "concept": data["iCode"],
                             "value": data["value"].astype("float64"),
                             "period": data["Time"].astype(int).astype(str)})
    data = read(COINR / "inputs" / "ASEM_iData.csv")
    long = data.melt(id_vars=["uCode"], value_vars=codes, var_name="concept")
    return long.rename(columns={"uCode": "place"})[["place", "concept", "value"]]


def units() -> dict[str, dict[str, Any]]:
    """The unit attributes ASEM declares beside its units: groups and denominators."""
    data = read(COINR / "inputs" / "ASEM_iData.csv").set_index("uCode")
    return {c: {str(k): v for k, v in data[c].items()} for c in GROUPS + DENOMINATORS}


def config(*, reverse: tuple[str, ...] = (),
           weights: dict[str, float] | None = None, denominate: bool = False,
           **kw: Any) -> Config:
    """The ASEM tree (indicators → pillars → sub-indices → Index) in iMeta's order."""
    m = meta()
    m = m[m["Type"].isin(["Indicator", "Aggregate"]) & (m["iCode"] != "Index")]
    nodes = []
    for r in m.to_dict("records"):
        d = int(r["Direction"]) if not pd.isna(r["Direction"]) else 1
        d = -d if r["iCode"] in reverse else d
        w = (weights or {}).get(str(r["iCode"]), float(r["Weight"]))
        den = r["Denominator"] if denominate and isinstance(r["Denominator"], str) else None
        nodes.append(NodeConfig(str(r["iCode"]), str(r["Parent"]), w, d, denominator=den))
    kw.setdefault("aggregate", Call("amean"))
    kw.setdefault("normalise", Call("minmax"))
    return Config("Index", nodes, **kw)


def expected(pipeline: str) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """COINr's data sets (dset → uCode × iCode, [Time] in the index for the panel) and
    ranks of the aggregated set."""
    folder = GENERATED / pipeline
    v = read(folder / "values.csv")
    idx = ["Time", "uCode"] if "Time" in v.columns else ["uCode"]
    sets = {str(d): g.pivot_table(index=idx, columns="iCode", values="value", dropna=False,
                             aggfunc="first")
            for d, g in v.groupby("dset")}
    r = read(folder / "ranks.csv")
    ranks = r.pivot_table(index=idx, columns="iCode", values="rank", dropna=False,
                          aggfunc="first")
    return sets, ranks


def wide(frame: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    f = pd.DataFrame({"uCode": np.asarray(frame["place"], dtype=object),
                      "iCode": np.asarray(frame["concept"], dtype=object),
                      column: frame[column].to_numpy(dtype="float64", na_value=np.nan)})
    idx = ["uCode"]
    if "period" in frame.columns:
        f["Time"] = np.asarray(frame["period"], dtype=object).astype(int)
        idx = ["Time", "uCode"]
    return f.pivot_table(index=idx, columns="iCode", values=column, dropna=False,
                         aggfunc="first")


def mismatches(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Cells where two tables differ in any bit (NaN equal to NaN), ours aligned to theirs."""
    ours = ours.reindex(index=theirs.index, columns=theirs.columns)
    a, b = ours.to_numpy(dtype="float64"), theirs.to_numpy(dtype="float64")
    diff = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    rows, cols = np.nonzero(diff)
    return pd.DataFrame({"unit": theirs.index[rows], "code": theirs.columns[cols],
                         "ours": a[rows, cols], "coinr": b[rows, cols]})
