"""data/ → models: read every source folder, validate every row, collect every problem.

:func:`load_catalog` returns a :class:`~kb.models.Catalog` or raises
:class:`~kb.errors.BuildError` listing all problems found (code, file, row, message).
Small tables are validated row by row with pydantic; observation tables set-wise with pandas.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from kb.errors import BuildError, Problem
from kb.graphs import tree_problems
from kb.models import (
    CallSpec,
    Catalog,
    City,
    Cluster,
    ClusterMember,
    County,
    Erratum,
    Framework,
    FrameworkMeta,
    Node,
    OtherPlace,
    Province,
    Region,
    SourceMeta,
    SourcePackage,
    Statement,
    Statistic,
    TierMember,
    Tiers,
    WeightSetRow,
)

M = TypeVar("M", bound=BaseModel)

MAX_PER_KIND = 20
"""Problems of one code in one file beyond this many are summarised in one line."""

OBS_COLUMNS = ["place", "concept", "value", "rank", "table", "line", "line_en", "period", "row"]


class Problems:
    """Collects problems, capping repeats of one code in one file."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, code: str, message: str, file: str = "", row: int | None = None) -> None:
        key = (code, file)
        self._counts[key] += 1
        if self._counts[key] <= MAX_PER_KIND:
            self.items.append(Problem(code, message, file, row))

    def finish(self) -> list[Problem]:
        for (code, file), n in self._counts.items():
            if n > MAX_PER_KIND:
                self.items.append(
                    Problem(code, f"... and {n - MAX_PER_KIND} more problems of this kind", file)
                )
        return self.items

    def __bool__(self) -> bool:
        return bool(self.items)


_PYDANTIC_CODES = {
    "missing": "KB006",
    "greater_than_equal": "KB005",
    "greater_than": "KB005",
    "less_than_equal": "KB005",
    "less_than": "KB005",
    "string_too_short": "KB006",
    "extra_forbidden": "KB003",
}


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _validate(
    model: type[M], record: dict[str, Any], problems: Problems, file: str, row: int | None
) -> M | None:
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            code = _PYDANTIC_CODES.get(err["type"], "KB004")
            problems.add(code, f"{field}: {err['msg']} (got {err.get('input')!r})", file, row)
        return None


def read_yaml(path: Path, problems: Problems, root: Path) -> Any:
    file = _rel(path, root)
    if not path.exists():
        problems.add("KB001", "file not found", file)
        return None
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.add("KB002", f"not valid YAML: {exc}".replace("\n", " "), file)
        return None


def read_csv(
    path: Path, problems: Problems, root: Path, required: Iterable[str]
) -> pd.DataFrame | None:
    """Read a CSV as strings; add a ``row`` column with each row's line number (header = 1)."""
    file = _rel(path, root)
    if not path.exists():
        problems.add("KB001", "file not found", file)
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.add("KB002", f"not valid CSV: {exc}".replace("\n", " "), file)
        return None
    missing = [c for c in required if c not in df.columns]
    if missing:
        problems.add("KB003", f"missing column(s): {', '.join(missing)}", file, 1)
        return None
    df = df.apply(lambda col: col.str.strip())
    df["row"] = range(2, len(df) + 2)
    out: pd.DataFrame = df
    return out


def _records(
    df: pd.DataFrame, model: type[M], problems: Problems, file: str,
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[M]:
    out: list[M] = []
    for rec in df.to_dict("records"):
        clean: dict[str, Any] = {str(k): v for k, v in rec.items() if v != ""}
        if convert:
            clean = convert(clean)
        item = _validate(model, clean, problems, file, int(rec["row"]))
        if item is not None:
            out.append(item)
    return out


def _duplicates(items: Iterable[Any], what: str, problems: Problems, file: str) -> None:
    seen: dict[str, int] = {}
    for item in items:
        if item.id in seen:
            problems.add(
                "KB010", f"duplicate {what} id {item.id!r} (first at row {seen[item.id]})",
                file, item.row,
            )
        else:
            seen[item.id] = item.row


def _node_record(rec: dict[str, Any]) -> dict[str, Any]:
    if "data_source" in rec:
        rec["data_source"] = [s.strip() for s in rec["data_source"].split(";") if s.strip()]
    if rec.get("direction") in ("1", "+1", "-1"):
        rec["direction"] = int(rec["direction"])
    for kind in ("normalise", "aggregate"):
        params = rec.pop(f"{kind}_params", None)
        if kind in rec:
            try:
                rec[kind] = {"name": rec[kind], "params": json.loads(params) if params else {}}
            except json.JSONDecodeError as exc:
                rec[kind] = {"name": rec[kind], "params": f"not JSON: {exc}"}
    return rec


def _float_or_nan(text: str) -> float:
    try:
        return float(text) if text != "" else float("nan")
    except ValueError:
        return float("nan")


def parse_float(values: pd.Series) -> pd.Series:
    """Text → float64, correctly rounded (pandas' own CSV and to_numeric parsers can be off by
    one unit in the last place); unparsable text → NaN."""
    return values.map(_float_or_nan).astype("float64")


def _read_observations(
    path: Path, problems: Problems, root: Path, *, place: str, concept: str, value: str,
    rank: str | None,
) -> pd.DataFrame | None:
    """Read an observation table into the canonical columns of :data:`OBS_COLUMNS`."""
    required = [concept, value, "table", "line"] + ([rank] if rank else [])
    df = read_csv(path, problems, root, required)
    if df is None:
        return None
    file = _rel(path, root)
    if "place" in df.columns:
        places = df["place"]
    elif place in df.columns:
        places = "city:" + df[place]
    else:
        problems.add("KB003", "missing column: place (or city)", file, 1)
        return None
    out = pd.DataFrame(
        {
            "place": places,
            "concept": df[concept],
            "value": parse_float(df[value]),
            "rank": parse_float(df[rank]) if rank else float("nan"),
            "table": df["table"],
            "line": pd.to_numeric(df["line"], errors="coerce"),
            "line_en": (pd.to_numeric(df["line_en"], errors="coerce") if "line_en" in df
                        else float("nan")),
            "period": df.get("period", ""),
            "row": df["row"],
        }
    )
    for col, label in [(value, "value"), (rank, "rank")]:
        if col is None:
            continue
        bad = out[label].isna() & (df[col] != "" if label == "rank" else True)
        for r, raw in zip(out.loc[bad, "row"], df.loc[bad, col], strict=True):
            problems.add("KB004", f"{col} {raw!r} is not a number", file, int(r))
    bad_rank = out["rank"].notna() & ((out["rank"] < 1) | (out["rank"] % 1 != 0))
    for r, v in zip(out.loc[bad_rank, "row"], out.loc[bad_rank, "rank"], strict=True):
        problems.add("KB005", f"rank {v} is not a positive integer", file, int(r))
    for col in [c for c in ("line", "line_en") if c in df]:
        bad = out[col].isna() & (df[col] != "")
        for r, raw in zip(out.loc[bad, "row"], df.loc[bad, col], strict=True):
            problems.add("KB004", f"{col} {raw!r} is not a line number", file, int(r))
    out["rank"] = out["rank"].astype("Int64")
    out["line"] = out["line"].astype("Int64")
    out["line_en"] = out["line_en"].astype("Int64")
    dup = out.duplicated(["place", "concept", "period"], keep="first")
    for r, p, c in zip(out.loc[dup, "row"], out.loc[dup, "place"], out.loc[dup, "concept"],
                       strict=True):
        problems.add("KB011", f"a second value for place {p!r} and {c!r}", file, int(r))
    return out


def _load_framework(
    folder: Path, meta_raw: Any, source: str, problems: Problems, root: Path
) -> Framework | None:
    file = _rel(folder / "framework.yaml", root)
    meta = _validate(FrameworkMeta, meta_raw or {}, problems, file, None)
    nodes_df = read_csv(folder / "framework.csv", problems, root,
                        ["id", "level", "parent", "name_zh", "name_en"])
    if meta is None or nodes_df is None:
        return None
    nodes_file = _rel(folder / "framework.csv", root)
    nodes_df["order"] = nodes_df.groupby("parent").cumcount().add(1).astype(str)
    nodes = _records(nodes_df, Node, problems, nodes_file, _node_record)
    _duplicates(nodes, "node", problems, nodes_file)

    _check_methods(meta, nodes, problems, file, nodes_file)
    weight_sets: list[WeightSetRow] = []
    if meta.weight_sets is not None:
        ws = read_csv(folder / meta.weight_sets, problems, root, ["set", "node", "weight"])
        if ws is not None:
            ws_file = _rel(folder / meta.weight_sets, root)
            weight_sets = _records(ws, WeightSetRow, problems, ws_file)
            known = {n.id for n in nodes}
            for w in weight_sets:
                if w.node not in known:
                    problems.add("KB021", f"weight set {w.set!r}: unknown node {w.node!r}",
                                 ws_file, w.row)
    spec = meta.inputs
    inputs = None
    if spec is not None:
        inputs = _read_observations(folder / spec.file, problems, root, place="city",
                                    concept=spec.concept_column, value=spec.value_column,
                                    rank=None)
        if inputs is None:
            return None
    published = None
    if meta.published is not None:
        published = _read_observations(folder / meta.published.file, problems, root,
                                       place="city", concept="concept", value="score",
                                       rank="rank")
    return Framework(meta=meta, source=source, nodes=nodes, inputs=inputs, published=published,
                     weight_sets=weight_sets)


def _check_methods(meta: FrameworkMeta, nodes: list[Node], problems: Problems, file: str,
                   nodes_file: str) -> None:
    """Every method named must be in the registry."""
    from kb import methods

    def check(kind: str, call: CallSpec | None, where: str, row: int | None) -> None:
        if call is not None and call.name not in methods.names(kind):
            problems.add("KB004", f"unknown {kind} method {call.name!r}; known: "
                         f"{', '.join(methods.names(kind))}", where, row)

    check("normalise", meta.method.normalise, file, None)
    check("aggregate", meta.method.aggregate, file, None)
    check("impute", meta.method.impute, file, None)
    for n in nodes:
        check("normalise", n.normalise, nodes_file, n.row)
        check("aggregate", n.aggregate, nodes_file, n.row)


def load_source(folder: Path, problems: Problems, root: Path) -> SourcePackage | None:
    """Read one data/ folder."""
    raw = read_yaml(folder / "source.yaml", problems, root)
    if raw is None:
        return None
    meta = _validate(SourceMeta, raw, problems, _rel(folder / "source.yaml", root), None)
    if meta is None:
        return None
    pkg = SourcePackage(folder=folder.name, meta=meta)
    tables: list[tuple[str, type[BaseModel], list[str], str, str]] = [
        ("regions.csv", Region, ["id", "name_zh", "name_en"], "regions", "region"),
        ("provinces.csv", Province, ["id", "name_zh", "name_en", "kind", "region"], "provinces",
         "province"),
        ("cities.csv", City, ["id", "name_zh", "name_en", "province"], "cities", "city"),
        ("counties.csv", County, ["id", "name_zh", "kind", "city", "province"], "counties",
         "county"),
        ("places.csv", OtherPlace, ["id", "kind", "name_en"], "places", "place"),
        ("clusters.csv", Cluster, ["id", "name_zh", "kind"], "clusters", "cluster"),
    ]
    for name, model, required, attr, what in tables:
        path = folder / name
        if path.exists():
            df = read_csv(path, problems, root, required)
            if df is not None:
                items = _records(df, model, problems, _rel(path, root))
                _duplicates(items, what, problems, _rel(path, root))
                setattr(pkg, attr, items)
    if (folder / "cluster_members.csv").exists():
        path = folder / "cluster_members.csv"
        df = read_csv(path, problems, root, ["cluster", "place"])
        if df is not None:
            pkg.members = _records(df, ClusterMember, problems, _rel(path, root))
    if (folder / "statistics.csv").exists():
        path = folder / "statistics.csv"
        df = read_csv(path, problems, root, ["id", "unit"])
        if df is not None:
            pkg.statistics = _records(df, Statistic, problems, _rel(path, root))
            _duplicates(pkg.statistics, "statistic", problems, _rel(path, root))
        pkg.statistic_values = _read_observations(
            folder / "statistics_values.csv", problems, root, place="place",
            concept="statistic", value="value", rank=None)
    if (folder / "statements.yaml").exists():
        pkg.statements = _read_list(folder / "statements.yaml", Statement, "statement",
                                    problems, root)
    if (folder / "tiers.yaml").exists():
        file = _rel(folder / "tiers.yaml", root)
        pkg.tiers = _validate(Tiers, read_yaml(folder / "tiers.yaml", problems, root) or {},
                              problems, file, None)
        path = folder / "tier_members.csv"
        if path.exists():
            df = read_csv(path, problems, root, ["tier", "place"])
            if df is not None:
                pkg.tier_members = _records(df, TierMember, problems, _rel(path, root))
    if (folder / "framework.yaml").exists():
        fw = _load_framework(folder, read_yaml(folder / "framework.yaml", problems, root),
                             meta.id, problems, root)
        if fw is not None:
            pkg.frameworks.append(fw)
    if (folder / "errata.yaml").exists():
        pkg.errata = _read_list(folder / "errata.yaml", Erratum, "erratum", problems, root)
    return pkg


def _read_list(path: Path, model: type[M], what: str, problems: Problems, root: Path) -> list[M]:
    """A YAML list of records (statements, errata); ``row`` is the item's position."""
    file = _rel(path, root)
    raw = read_yaml(path, problems, root) or []
    if not isinstance(raw, list):
        problems.add("KB002", f"{path.name} must be a list of {what} records", file)
        return []
    items: list[M] = []
    for i, rec in enumerate(raw, start=1):
        item = _validate(model, {**(rec or {}), "row": i}, problems, file, i)
        if item is not None:
            items.append(item)
    _duplicates(items, what, problems, file)
    return items


def cross_check(catalog: Catalog, problems: Problems, root: Path) -> None:
    """References between files: places, nodes, sources; the framework tree's shape."""
    def where(folder: str, name: str) -> str:
        return _rel(root / folder / name, root)

    for attr, what in (("regions", "region"), ("provinces", "province"), ("cities", "city")):
        seen: dict[str, str] = {}
        for pkg in catalog.sources:
            for item in getattr(pkg, attr):
                if item.id in seen and seen[item.id] != pkg.folder:
                    problems.add("KB010", f"{what} {item.id!r} is also declared in "
                                 f"{seen[item.id]}/", where(pkg.folder, f"{attr}.csv"), item.row)
                seen.setdefault(item.id, pkg.folder)
    region_ids = {r.id for r in catalog.regions}
    province_ids = {p.id for p in catalog.provinces}
    city_ids = {c.id for c in catalog.cities}
    refs = catalog.place_refs()
    ref_ids = {r.id for pkg in catalog.sources for r in pkg.meta.sources}
    for pkg in catalog.sources:
        for p in pkg.provinces:
            if p.region is not None and p.region not in region_ids:
                problems.add("KB020", f"province {p.id!r}: unknown region {p.region!r}",
                             where(pkg.folder, "provinces.csv"), p.row)
        for c in pkg.cities:
            if c.province not in province_ids:
                problems.add("KB020", f"city {c.id!r}: unknown province {c.province!r}",
                             where(pkg.folder, "cities.csv"), c.row)
        for attr in ("regions", "provinces", "cities"):
            for item in getattr(pkg, attr):
                if item.cite and item.cite not in ref_ids:
                    problems.add("KB022", f"{item.id!r} cites unknown source {item.cite!r}",
                                 where(pkg.folder, f"{attr}.csv"), item.row)
        for co in pkg.counties:
            if co.province not in province_ids:
                problems.add("KB020", f"county {co.id!r}: unknown province {co.province!r}",
                             where(pkg.folder, "counties.csv"), co.row)
            if co.city is not None and co.city not in city_ids:
                problems.add("KB020", f"county {co.id!r}: unknown city {co.city!r}",
                             where(pkg.folder, "counties.csv"), co.row)
        own_clusters = {c.id for c in pkg.clusters}
        for m in pkg.members:
            if m.cluster not in own_clusters:
                problems.add("KB020", f"member of unknown cluster {m.cluster!r} (a cluster's "
                             "members are declared in the folder that defines it)",
                             where(pkg.folder, "cluster_members.csv"), m.row)
            if m.place not in refs:
                problems.add("KB020", f"cluster {m.cluster!r}: unknown place {m.place!r}",
                             where(pkg.folder, "cluster_members.csv"), m.row)
        data_sources = {d.id for d in pkg.meta.data_sources}
        _check_extras(catalog, pkg, refs, problems, where)
        for fw in pkg.frameworks:
            if fw.meta.source is not None and fw.meta.source != pkg.meta.id:
                problems.add("KB022", f"framework {fw.meta.id!r} names source "
                             f"{fw.meta.source!r}, but its folder is {pkg.meta.id!r}",
                             where(pkg.folder, "framework.yaml"))
            _check_tree(fw, data_sources, problems, where(pkg.folder, "framework.csv"))
            if fw.inputs is not None and fw.meta.inputs is not None:
                _check_observations(fw, fw.inputs, refs, problems,
                                    where(pkg.folder, fw.meta.inputs.file), published=False)
            if fw.published is not None and fw.meta.published is not None:
                _check_observations(fw, fw.published, refs, problems,
                                    where(pkg.folder, fw.meta.published.file), published=True)
        concepts = ({n.id for fw in pkg.frameworks for n in fw.nodes} | {"total"}
                    | {s.id for s in pkg.statistics})
        for e in pkg.errata:
            if e.city is not None and e.city not in city_ids:
                problems.add("KB020", f"erratum {e.id!r}: unknown city {e.city!r}",
                             where(pkg.folder, "errata.yaml"), e.row)
            if e.concept is not None and e.concept not in concepts:
                problems.add("KB021", f"erratum {e.id!r}: unknown concept {e.concept!r}",
                             where(pkg.folder, "errata.yaml"), e.row)


_PARENT_LEVEL = {"variable": "dimension", "indicator": "variable"}


def _check_extras(catalog: Catalog, pkg: SourcePackage, refs: set[str], problems: Problems,
                  where: Callable[[str, str], str]) -> None:
    """Statistics, statements, tiers and errata of one folder refer to what exists."""
    stat_ids = {s.id for s in pkg.statistics}
    if pkg.statistic_values is not None:
        df = pkg.statistic_values
        file = where(pkg.folder, "statistics_values.csv")
        for r, p in zip(df.loc[~df["place"].isin(refs), "row"],
                        df.loc[~df["place"].isin(refs), "place"], strict=True):
            problems.add("KB020", f"unknown place {p!r}", file, int(r))
        bad = ~df["concept"].isin(stat_ids)
        for r, c in zip(df.loc[bad, "row"], df.loc[bad, "concept"], strict=True):
            problems.add("KB021", f"unknown statistic {c!r} (declare it in statistics.csv)",
                         file, int(r))
        no_period = df["period"].eq("")
        for r in df.loc[no_period, "row"]:
            problems.add("KB006", "period: a statistic value needs its year", file, int(r))
    frameworks = {fw.meta.id: fw for fw in catalog.frameworks}
    all_stats = {s.id for p in catalog.sources for s in p.statistics}
    tiers = {b.id for p in catalog.sources if p.tiers for b in p.tiers.bands}
    file = where(pkg.folder, "statements.yaml")
    for st in pkg.statements:
        c = st.compute or {}
        if "framework" in c and c["framework"] not in frameworks:
            problems.add("KB021", f"statement {st.id!r}: unknown framework {c['framework']!r}",
                         file, st.row)
        if "statistic" in c and c["statistic"] not in all_stats:
            problems.add("KB021", f"statement {st.id!r}: unknown statistic {c['statistic']!r}",
                         file, st.row)
        if "tier" in c and c["tier"] not in tiers:
            problems.add("KB021", f"statement {st.id!r}: unknown tier {c['tier']!r}", file,
                         st.row)
        for key in ("places", "members", "within"):
            value = c.get(key)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is not None and v != "all" and v not in refs:
                    problems.add("KB020", f"statement {st.id!r}: unknown place {v!r} in {key}",
                                 file, st.row)
    if pkg.tiers is not None:
        file = where(pkg.folder, "tiers.yaml")
        if pkg.tiers.framework not in frameworks:
            problems.add("KB021", f"tiers of unknown framework {pkg.tiers.framework!r}", file)
        own = {b.id for b in pkg.tiers.bands}
        for m in pkg.tier_members:
            if m.tier not in own:
                problems.add("KB021", f"unknown tier {m.tier!r}",
                             where(pkg.folder, "tier_members.csv"), m.row)
            if m.place not in refs:
                problems.add("KB020", f"unknown place {m.place!r}",
                             where(pkg.folder, "tier_members.csv"), m.row)
    statements = {s.id for s in pkg.statements}
    for e in pkg.errata:
        if e.statement is not None and e.statement not in statements:
            problems.add("KB021", f"erratum {e.id!r}: unknown statement {e.statement!r}",
                         where(pkg.folder, "errata.yaml"), e.row)


def _check_tree(fw: Framework, data_sources: set[str], problems: Problems, file: str) -> None:
    import networkx as nx

    by_id = {n.id: n for n in fw.nodes}
    for n in fw.nodes:
        if n.level == "dimension":
            if n.parent is not None:
                problems.add("KB024", f"dimension {n.id!r} must not have a parent "
                             f"(has {n.parent!r})", file, n.row)
            continue
        if n.parent is None:
            problems.add("KB023", f"{n.level} {n.id!r} has no parent {_PARENT_LEVEL[n.level]}",
                         file, n.row)
        elif n.parent not in by_id:
            problems.add("KB023", f"{n.level} {n.id!r}: parent {n.parent!r} is not declared",
                         file, n.row)
        elif by_id[n.parent].level != _PARENT_LEVEL[n.level]:
            problems.add("KB024", f"{n.level} {n.id!r}: parent {n.parent!r} is a "
                         f"{by_id[n.parent].level}, expected a {_PARENT_LEVEL[n.level]}",
                         file, n.row)
        for ds in n.data_source:
            if ds not in data_sources:
                problems.add("KB022", f"{n.id!r}: unknown data source {ds!r}", file, n.row)
    declared = fw.meta.counts
    for lvl, expected in (("dimension", declared.dimensions), ("variable", declared.variables),
                          ("indicator", declared.indicators)):
        actual = sum(1 for n in fw.nodes if n.level == lvl)
        if expected is not None and actual != expected:
            problems.add("KB027", f"framework {fw.meta.id!r} states {expected} {lvl}s; "
                         f"{actual} are declared", file)
    level = fw.meta.inputs.level if fw.meta.inputs is not None else "indicator"
    g = nx.DiGraph()
    g.add_node(fw.meta.id, level="framework")
    for n in fw.nodes:
        g.add_node(n.id, level=n.level)
        g.add_edge(n.parent or fw.meta.id, n.id)
    rows = {n.id: n.row for n in fw.nodes}
    for text in tree_problems(g, fw.meta.id, frozenset({"indicator", level})):
        node = text.split(" ", 1)[0]
        code = "KB025" if text.startswith("cycle") else "KB023"
        problems.add(code, text, file, rows.get(node))


def _check_observations(
    fw: Framework, df: pd.DataFrame, refs: set[str], problems: Problems, file: str,
    *, published: bool,
) -> None:
    spec = fw.meta.inputs
    levels = {n.id: n.level for n in fw.nodes}
    assert spec is not None or published
    unknown_place = ~df["place"].isin(refs)
    for r, p in zip(df.loc[unknown_place, "row"], df.loc[unknown_place, "place"], strict=True):
        kind, _, pid = str(p).partition(":")
        problems.add("KB020", f"unknown {kind or 'place'} {pid or p!r}", file, int(r))
    concept_level = df["concept"].map(levels)
    if published:
        ok_concept = df["concept"].eq("total") | concept_level.notna()
    else:
        ok_concept = concept_level.notna()
    for r, c in zip(df.loc[~ok_concept, "row"], df.loc[~ok_concept, "concept"], strict=True):
        problems.add("KB021", f"unknown framework node {c!r}", file, int(r))
    if not published and spec is not None:
        wrong = ok_concept & concept_level.ne(spec.level)
        for r, c, lv in zip(df.loc[wrong, "row"], df.loc[wrong, "concept"],
                            concept_level[wrong], strict=True):
            problems.add("KB024", f"{c!r} is a {lv}; inputs must be {spec.level}s", file, int(r))
        values = df["value"]
        out = pd.Series(False, index=df.index)
        if spec.min is not None:
            out |= values < spec.min
        if spec.max is not None:
            out |= values > spec.max
        for r, v in zip(df.loc[out, "row"], values[out], strict=True):
            problems.add("KB005", f"value {v:g} outside [{spec.min:g}, {spec.max:g}]"
                         if spec.min is not None and spec.max is not None
                         else f"value {v:g} out of range", file, int(r))
        if spec.integer:
            frac = values.notna() & (values % 1 != 0)
            for r, v in zip(df.loc[frac, "row"], values[frac], strict=True):
                problems.add("KB004", f"value {v:g} is not an integer", file, int(r))
        if spec.complete:
            _check_complete(fw, df[unknown_place.eq(False) & ok_concept], problems, file)


def _check_complete(fw: Framework, df: pd.DataFrame, problems: Problems, file: str) -> None:
    assert fw.meta.inputs is not None
    needed = {n.id for n in fw.nodes if n.level == fw.meta.inputs.level}
    have = df.groupby("place")["concept"].agg(set)
    for place, concepts in have.items():
        missing = sorted(needed - concepts)
        if missing:
            problems.add("KB026", f"city {place!r} lacks {len(missing)} input(s): "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}", file)
    expected = fw.meta.places
    if expected is not None and len(have) != expected:
        problems.add("KB026", f"framework {fw.meta.id!r} declares {expected} places; the inputs "
                     f"cover {len(have)}", file)


def load_catalog(data_dir: Path) -> Catalog:
    """Load and cross-check every folder of ``data_dir``; raise BuildError on any problem."""
    problems = Problems()
    root = data_dir.resolve()
    if not root.is_dir():
        raise BuildError([Problem("KB001", f"data directory {data_dir} not found")])
    packages = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        pkg = load_source(folder, problems, root)
        if pkg is not None:
            packages.append(pkg)
    catalog = Catalog(packages)
    seen: dict[str, str] = {}
    for pkg in packages:
        if pkg.meta.id in seen:
            problems.add("KB010", f"source id {pkg.meta.id!r} is also used by {seen[pkg.meta.id]}/",
                         _rel(root / pkg.folder / "source.yaml", root))
        seen[pkg.meta.id] = pkg.folder
    cross_check(catalog, problems, root)
    found = problems.finish()
    if found:
        raise BuildError(found)
    return catalog
