"""Models → RDF: N-Quads text, one named graph per source, plus the columnar observation copy.

Small tables are written statement by statement; observation tables set-wise with pandas so
that a million observations take seconds, not minutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pandas as pd

from kb import namespaces as ns
from kb.models import CallSpec, Catalog, Erratum, Framework, Node, SourcePackage
from kb.nquads import (
    P,
    QuadFile,
    QuadSink,
    column_quads,
    decimal,
    decimal_column,
    integer,
    integer_column,
    iri,
    iri_column,
    join,
    lit,
    per_unique,
)

T = iri(ns.RDF + "type")
PREF = iri(ns.SKOS + "prefLabel")
ALT = iri(ns.SKOS + "altLabel")
XSD = ns.XSD

OBS_FRAME_COLUMNS = ["obs", "graph", "dataset", "framework", "place", "concept", "value", "rank",
                     "period"]
"""Columns of the columnar copy: IRIs as strings, value float64, rank Int64."""


def _labels(sink: QuadSink, s: str, zh: str, en: str, g: str) -> None:
    if zh:
        sink.add(s, PREF, lit(zh, lang="zh"), g)
    if en:
        sink.add(s, PREF, lit(en, lang="en"), g)


def _titles(sink: QuadSink, s: str, zh: str, en: str, g: str) -> None:
    """A source's title in each language, as dcterms:title and as its skos:prefLabel."""
    _labels(sink, s, zh, en, g)
    for text, lang in ((zh, "zh"), (en, "en")):
        if text:
            sink.add(s, P(ns.DCTERMS, "title"), lit(text, lang=lang), g)


def _year(text: str) -> str:
    """``"2024"`` → xsd:gYear, ``"2025.6"`` → xsd:gYearMonth ``2025-06``."""
    if "." in text:
        y, m = text.split(".")
        return lit(f"{y}-{int(m):02d}", datatype=XSD + "gYearMonth")
    return lit(text, datatype=XSD + "gYear")


@dataclass
class Built:
    """The RDF of a catalog: the small statements per named graph, held as N-Quads text; the
    observations written to a bulk file as they are made; their rows for the columnar copy."""

    structure: dict[str, str]
    observations: pd.DataFrame


CHUNK_ROWS = 100_000
"""Observation rows turned into N-Quads text at a time: bounds the text held in memory."""


def build_rdf(catalog: Catalog, bulk: QuadFile) -> Built:
    """Write every source's graph: its observations to ``bulk``, the rest kept as text."""
    graphs: dict[str, str] = {}
    frames: list[pd.DataFrame] = []
    named_sources: set[str] = set()
    for pkg in catalog.sources:
        g = ns.graph_source(pkg.meta.id)
        sink = QuadSink()
        out = _Out(sink, bulk, iri(g), set())
        _source(sink, pkg, iri(g), named_sources)
        _places(sink, pkg, iri(g))
        for fw in pkg.frameworks:
            frames.extend(_framework(out, pkg, fw))
        frames.extend(_statistics(out, pkg))
        _statements(sink, pkg, iri(g))
        _tiers(sink, pkg, iri(g))
        _report_tables(sink, pkg, iri(g))
        _printed_lists(sink, pkg, iri(g))
        _editions(sink, pkg, iri(g))
        _errata(sink, pkg, iri(g))
        graphs[g] = sink.text()
    obs = pd.concat(frames, ignore_index=True) if frames else empty_observations()
    return Built(graphs, obs)


@dataclass
class _Out:
    """Where one source graph's statements go: small ones to ``sink``, observations to
    ``bulk``; ``tables`` remembers the source tables already described."""

    sink: QuadSink
    bulk: QuadFile
    g: str
    tables: set[str]


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in OBS_FRAME_COLUMNS}).astype(
        {"value": "float64", "rank": "Int64"}
    )


def _source(sink: QuadSink, pkg: SourcePackage, g: str, named_sources: set[str]) -> None:
    m = pkg.meta
    if m.is_report:
        s = iri(ns.source(m.id))
        sink.typed(s, P(ns.KB, "Report"), g)
        sink.typed(s, P(ns.KB, "Source"), g)
        _titles(sink, s, m.title_zh, m.title_en, g)
        if m.issued:
            sink.add(s, P(ns.DCTERMS, "issued"), _year(m.issued), g)
        for edition, file in sorted(m.seeds.items()):
            sink.add(s, P(ns.KB, "seedText"), lit(f"{edition}: {file}"), g)
        for pub in m.publishers:
            o = iri(ns.org(pub.id))
            sink.add(s, P(ns.DCTERMS, "publisher"), o, g)
            sink.typed(o, P(ns.SCHEMA, "Organization"), g)
            _labels(sink, o, pub.name_zh, pub.name_en, g)
    for ds in m.data_sources:
        # a data source (统计公报) is one node however many reports name it; its names are
        # given by the first report that names it, each report's mention is a citation
        s = iri(ns.source(ds.id))
        sink.typed(s, P(ns.KB, "DataSource"), g)
        sink.typed(s, P(ns.KB, "Source"), g)
        if ds.id not in named_sources:
            _titles(sink, s, ds.name_zh, ds.name_en, g)
            named_sources.add(ds.id)
        if m.is_report:
            sink.add(s, P(ns.PROV, "hadPrimarySource"), iri(ns.source(m.id)), g)
            where = [f"{m.seeds.get(ed, ed)} line {n}"
                     for ed, n in (("zh", ds.line), ("en", ds.line_en)) if n is not None]
            title = m.title_zh or m.title_en
            sink.add(s, P(ns.DCTERMS, "bibliographicCitation"),
                     lit(f"{title}: {ds.name_zh or ds.name_en}" + (
                         f" ({'; '.join(where)})" if where else "")), g)
    for ref in m.sources:
        s = iri(ns.source(ref.id))
        sink.typed(s, P(ns.KB, "Source"), g)
        _titles(sink, s, ref.title_zh, ref.title_en, g)
        if ref.publisher:
            sink.add(s, P(ns.DCTERMS, "creator"), lit(ref.publisher), g)
        if ref.issued:
            sink.add(s, P(ns.DCTERMS, "issued"), _year(ref.issued), g)
        if ref.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(ref.note, lang="en"), g)


def _lines(sink: QuadSink, s: str, line: int | None, line_en: int | None, g: str) -> None:
    if line is not None:
        sink.add(s, P(ns.KB, "sourceLine"), integer(line), g)
    if line_en is not None:
        sink.add(s, P(ns.KB, "sourceLineEn"), integer(line_en), g)


def _places(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    within = P(ns.SCHEMA, "containedInPlace")
    src = P(ns.DCTERMS, "source")
    for r in pkg.regions:
        s = iri(ns.place("region", r.id))
        sink.typed(s, P(ns.KB, "Region"), g)
        _labels(sink, s, r.name_zh, r.name_en, g)
        if r.cite:
            sink.add(s, src, iri(ns.source(r.cite)), g)
    for p in pkg.provinces:
        s = iri(ns.place("province", p.id))
        sink.typed(s, P(ns.KB, "Province"), g)
        _labels(sink, s, p.name_zh, p.name_en, g)
        sink.add(s, P(ns.DCTERMS, "type"), lit(p.kind), g)
        if p.region:
            sink.add(s, within, iri(ns.place("region", p.region)), g)
        if p.cite:
            sink.add(s, src, iri(ns.source(p.cite)), g)
    for c in pkg.cities:
        s = iri(ns.place("city", c.id))
        sink.typed(s, P(ns.KB, "City"), g)
        _labels(sink, s, c.name_zh, c.name_en, g)
        sink.add(s, ALT, lit(c.name_zh + "市", lang="zh"), g)
        sink.add(s, within, iri(ns.place("province", c.province)), g)
        if c.cite:
            sink.add(s, src, iri(ns.source(c.cite)), g)
    for co in pkg.counties:
        s = iri(ns.place("county", co.id))
        sink.typed(s, P(ns.KB, "County"), g)
        _labels(sink, s, co.name_zh, co.name_en, g)
        sink.add(s, P(ns.DCTERMS, "type"), lit(co.kind), g)
        parent = ns.place("city", co.city) if co.city else ns.place("province", co.province)
        sink.add(s, within, iri(parent), g)
        if co.cite:
            sink.add(s, src, iri(ns.source(co.cite)), g)
    for op in pkg.places:
        s = iri(ns.place(op.kind, op.id))
        sink.typed(s, P(ns.KB, op.kind.capitalize()), g)
        _labels(sink, s, op.name_zh, op.name_en, g)
        if op.within:
            sink.add(s, within, iri(ns.place_ref(op.within)), g)
    report = iri(ns.source(pkg.meta.id))
    for cl in pkg.clusters:
        s = iri(ns.place("cluster", cl.id))
        sink.typed(s, P(ns.KB, "CityCluster"), g)
        _labels(sink, s, cl.name_zh, cl.name_en, g)
        sink.add(s, P(ns.DCTERMS, "type"), lit(cl.kind), g)
        sink.add(s, src, iri(ns.source(cl.cite)) if cl.cite else report, g)
        _lines(sink, s, cl.line, cl.line_en, g)
        if cl.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(cl.note, lang="en"), g)
    for mem in pkg.members:
        sink.add(iri(ns.place("cluster", mem.cluster)), P(ns.KB, "member"),
                 iri(ns.place_ref(mem.place)), g)


_LEVEL_CLASS = {"dimension": "Dimension", "variable": "Variable", "indicator": "Indicator"}


def _framework(out: _Out, pkg: SourcePackage, fw: Framework) -> list[pd.DataFrame]:
    sink, g = out.sink, out.g
    m = fw.meta
    f = iri(ns.framework(m.id))
    report = iri(ns.source(pkg.meta.id))
    sink.typed(f, P(ns.KB, "Framework"), g)
    sink.typed(f, P(ns.SKOS, "ConceptScheme"), g)
    sink.typed(f, P(ns.DCAT, "Dataset"), g)
    _labels(sink, f, m.name_zh, m.name_en, g)
    sink.add(f, P(ns.DCTERMS, "issued"), _year(m.issued), g)
    sink.add(f, P(ns.DCAT, "version"), lit(m.version), g)
    sink.add(f, P(ns.DCTERMS, "source"), report, g)
    if m.method.reproducible:
        _method(sink, f, "method", "aggregationParameters", m.method.aggregate, g)
        _method(sink, f, "normalisation", "normalisationParameters", m.method.normalise, g)
        _method(sink, f, "imputation", "imputationParameters", m.method.impute, g)
    else:
        # the report's own method, as far as it is described: not citykb's sum
        own = iri(ns.method(m.method.id or f"{m.id}-method"))
        sink.add(f, P(ns.KB, "method"), own, g)
        sink.typed(own, P(ns.KB, "Method"), g)
        _labels(sink, own, m.method.name_zh, m.method.name_en or m.method.id, g)
        sink.add(own, P(ns.KB, "reproducible"), lit("false", datatype=XSD + "boolean"), g)
        for text in m.method.known:
            sink.add(own, P(ns.KB, "methodKnown"), lit(text, lang="en"), g)
        for text in m.method.unknown:
            sink.add(own, P(ns.KB, "methodUnknown"), lit(text, lang="en"), g)
        sink.add(own, P(ns.PROV, "hadPrimarySource"), report, g)
        _lines(sink, own, m.method.line, m.method.line_en, g)
    if m.method.threshold is not None:
        sink.add(f, P(ns.KB, "coverageThreshold"), decimal(m.method.threshold), g)
    _pipeline(sink, f, fw, g)
    sink.add(f, P(ns.KB, "rankMethod"), iri(ns.method(m.method.rank + "-rank")), g)
    if m.method.name_zh or m.method.name_en:
        sink.add(f, P(ns.KB, "methodName"), lit(m.method.name_zh, lang="zh"), g)
        sink.add(f, P(ns.KB, "methodName"), lit(m.method.name_en, lang="en"), g)
    if m.method.parameters:
        sink.add(f, P(ns.KB, "parameters"),
                 lit(json.dumps(m.method.parameters, ensure_ascii=False, sort_keys=True)), g)
    _lines(sink, f, m.method.line, m.method.line_en, g)
    for pub in m.publishers:
        sink.add(f, P(ns.DCTERMS, "publisher"), iri(ns.org(pub)), g)
    for n in fw.nodes:
        _node(sink, fw, n, report, g)
    _weight_sets(sink, fw, g)

    concepts = {n.id: ns.node(m.id, n.id) for n in fw.nodes} | {"total": ns.framework(m.id)}
    labels = {n.id: n for n in fw.nodes}
    frames = []
    if fw.inputs is not None:
        frames.append(_dataset(out, pkg, fw, "inputs", "InputDataSet", fw.inputs, concepts,
                               labels))
    if fw.published is not None:
        frames.append(_dataset(out, pkg, fw, "published", "PublishedDataSet", fw.published,
                               concepts, labels))
    return frames


def _method(sink: QuadSink, s: str, prop: str, params_prop: str, call: CallSpec | None,
            g: str) -> None:
    """A method choice: the method's IRI, and its parameters as a JSON literal."""
    if call is None:
        return
    sink.add(s, P(ns.KB, prop), iri(ns.method(call.name)), g)
    if call.params:
        sink.add(s, P(ns.KB, params_prop), lit(json.dumps(call.params, sort_keys=True)), g)


def _pipeline(sink: QuadSink, f: str, fw: Framework, g: str) -> None:
    """The steps COINr's pipeline adds (written only when declared): screening, treatment,
    the threshold's basis, and the unit attributes as one JSON object (attribute → place IRI
    → value)."""
    m = fw.meta.method
    if m.screen.name != "none":
        _method(sink, f, "screening", "screeningParameters", m.screen, g)
    if m.treat.name != "none":
        _method(sink, f, "treatment", "treatmentParameters", m.treat, g)
    if m.threshold_basis != "weight":
        sink.add(f, P(ns.KB, "thresholdBasis"), lit(m.threshold_basis), g)
    if fw.units:
        table: dict[str, dict[str, str]] = {}
        for u in fw.units:
            for k, v in u.items():
                if k not in ("place", "row"):
                    table.setdefault(k, {})[ns.place_ref(u["place"])] = v
        sink.add(f, P(ns.KB, "unitAttributes"),
                 lit(json.dumps(table, ensure_ascii=False, sort_keys=True)), g)


def _weight_sets(sink: QuadSink, fw: Framework, g: str) -> None:
    m = fw.meta
    for name in sorted({w.set for w in fw.weight_sets}):
        ws = iri(ns.node(m.id, f"weight-set/{name}"))
        sink.typed(ws, P(ns.KB, "WeightSet"), g)
        sink.add(ws, P(ns.KB, "framework"), iri(ns.framework(m.id)), g)
        sink.add(ws, P(ns.RDFS, "label"), lit(name), g)
    for w in fw.weight_sets:
        a = iri(ns.node(m.id, f"weight-set/{w.set}/{w.node}"))
        sink.add(a, P(ns.KB, "weightSet"), iri(ns.node(m.id, f"weight-set/{w.set}")), g)
        sink.add(a, P(ns.KB, "node"), iri(ns.node(m.id, w.node)), g)
        sink.add(a, P(ns.KB, "weight"), decimal(w.weight), g)


def _node(sink: QuadSink, fw: Framework, n: Node, report: str, g: str) -> None:
    m = fw.meta
    s = iri(ns.node(m.id, n.id))
    f = iri(ns.framework(m.id))
    for cls in (_LEVEL_CLASS[n.level], "FrameworkNode"):
        sink.typed(s, P(ns.KB, cls), g)
    sink.typed(s, P(ns.SKOS, "Concept"), g)
    _labels(sink, s, n.name_zh, n.name_en, g)
    sink.add(s, P(ns.SKOS, "inScheme"), f, g)
    if n.parent is None:
        sink.add(s, P(ns.SKOS, "topConceptOf"), f, g)
        sink.add(f, P(ns.SKOS, "hasTopConcept"), s, g)
    else:
        sink.add(s, P(ns.SKOS, "broader"), iri(ns.node(m.id, n.parent)), g)
    sink.add(s, P(ns.KB, "order"), integer(n.order), g)
    if n.data_year:
        sink.add(s, P(ns.KB, "dataYear"), _year(n.data_year), g)
    for ds in n.data_source:
        sink.add(s, P(ns.DCTERMS, "source"), iri(ns.source(ds)), g)
    direction = n.direction if n.direction is not None else m.default_direction
    weight = n.weight if n.weight is not None else m.default_weight
    sink.add(s, P(ns.KB, "direction"), integer(direction), g)
    sink.add(s, P(ns.KB, "weight"), decimal(weight), g)
    _method(sink, s, "normalisation", "normalisationParameters", n.normalise, g)
    _method(sink, s, "aggregation", "aggregationParameters", n.aggregate, g)
    _method(sink, s, "treatment", "treatmentParameters", n.treat, g)
    if n.denominator is not None:
        sink.add(s, P(ns.KB, "denominator"), lit(n.denominator), g)
        if n.scale != 1:
            sink.add(s, P(ns.KB, "denominatorScale"), decimal(n.scale), g)
    if n.line is not None or n.line_en is not None:
        sink.add(s, P(ns.PROV, "hadPrimarySource"), report, g)
        _lines(sink, s, n.line, n.line_en, g)


def _dataset(
    out: _Out, pkg: SourcePackage, fw: Framework, name: str, cls: str, df: pd.DataFrame,
    concepts: dict[str, str], nodes: dict[str, Node],
) -> pd.DataFrame:
    m = fw.meta
    title = {"inputs": "input values", "published": "published scores and ranks"}[name]
    if name == "published":
        derive = m.published.derive_ranks if m.published is not None else []
        df = with_rank_basis(df, derive)
    return _observation_table(
        out, pkg, ns.dataset(m.id, name), cls, ns.framework(m.id),
        f"{m.name_en or m.name_zh}: {title}", df, concepts,
        f"{ns.ID}obs/{m.id}/{name}/", m.period,
        lambda t: f"{nodes[t].name_zh} / {nodes[t].name_en}" if t in nodes else t)


def with_rank_basis(df: pd.DataFrame, derive: list[str]) -> pd.DataFrame:
    """Published observations with ``rank_basis``: ``published`` where the report prints the
    rank; ``derived`` where the table is one of ``derive`` and prints none — the standard
    competition rank (1224) of the printed score among the places of the same kind that the
    table gives for the same concept and period."""
    out = df.copy()
    basis = pd.Series(pd.NA, index=out.index, dtype="object")
    basis[out["rank"].notna()] = "published"
    if derive:
        kind = out["place"].str.partition(":")[0]
        todo = out["table"].isin(derive) & out["rank"].isna()
        groups = [out["table"], out["concept"], out["period"], kind]
        derived = (out["value"].where(todo).groupby(groups).rank(method="min", ascending=False))
        out["rank"] = out["rank"].astype("Float64").fillna(derived.astype("Float64")) \
            .astype("Int64")
        basis[todo & derived.notna()] = "derived"
    out["rank_basis"] = basis
    return out


def _place_slug(refs: pd.Series) -> pd.Series:
    """``city:shenzhen`` → ``shenzhen``, ``province:guangdong`` → ``province-guangdong``."""
    kind = refs.str.split(":", n=1).str[0]
    pid = refs.str.split(":", n=1).str[1]
    return pid.where(kind == "city", kind + "-" + pid)


def table_iri(source: str, table: str) -> str:
    """The IRI of a report's table or section, from the id the data files give it."""
    return f"{ns.ID}table/{source}/{quote(table, safe='-._~')}"


def _observation_table(
    out: _Out, pkg: SourcePackage, d: str, cls: str, framework: str | None, title: str,
    df: pd.DataFrame, concepts: dict[str, str], obs_prefix: str, period: str,
    table_label: Callable[[str], str],
) -> pd.DataFrame:
    """A dataset and its observations, set-wise, in chunks; returns their rows for the
    columnar copy.

    Each observation carries its dimensions (place, period, concept), its measure, its rank,
    the table it was read from and the line in each edition's text. What is the same for a
    whole table (the report, the table's title, the seed files: the citation) is said once,
    on the table, and reached by a join.
    """
    sink, g = out.sink, out.g
    sink.typed(iri(d), P(ns.KB, cls), g)
    sink.typed(iri(d), P(ns.QB, "DataSet"), g)
    sink.add(iri(d), P(ns.QB, "structure"), iri(ns.STRUCTURE), g)
    if framework is not None:
        sink.add(iri(d), P(ns.KB, "framework"), iri(framework), g)
    sink.add(iri(d), P(ns.PROV, "hadPrimarySource"), iri(ns.source(pkg.meta.id)), g)
    sink.add(iri(d), P(ns.DCTERMS, "title"), lit(title, lang="en"), g)
    _tables(out, pkg, df["table"], table_label)

    place_iri = per_unique(df["place"], lambda u: u.map(ns.place_ref))
    slug = per_unique(df["place"], _place_slug)
    periods = df["period"].where(df["period"] != "", period)
    suffix = per_unique(df["period"], lambda u: ("/" + u).where(u != "", ""))
    obs_iri = join(obs_prefix, slug, "/", df["concept"], suffix)
    concept_iri = per_unique(df["concept"], lambda u: u.map(concepts))
    source = pkg.meta.id
    table = per_unique(df["table"], lambda u: u.map(
        lambda v: f"<{table_iri(source, v)}>" if v else None))
    year = per_unique(periods, lambda u: '"' + u + f'"^^<{XSD}gYear>')
    if "rank_basis" not in df.columns and cls == "PublishedDataSet":
        df = df.assign(rank_basis=pd.Series("published", index=df.index)
                       .where(df["rank"].notna(), None))
    basis = per_unique(df["rank_basis"] if "rank_basis" in df.columns
                       else pd.Series(None, index=df.index, dtype="object"),
                       lambda u: '"' + u + '"')
    notes = df["note"] if "note" in df.columns else pd.Series("", index=df.index)
    note = per_unique(notes.where(notes.fillna("") != "", None), lambda u: u.map(lit))
    const = (f" {T} {iri(ns.QB + 'Observation')} {g} .\n",
             f" {P(ns.QB, 'dataSet')} {iri(d)} {g} .\n")
    for start in range(0, len(df), CHUNK_ROWS):
        part = slice(start, start + CHUNK_ROWS)
        rows = df.iloc[part]
        s = iri_column(obs_iri[part])
        for tail in const:
            out.bulk.extend_lines(join(s, tail))
        for prop, terms in (
            (P(ns.SDMX_DIM, "refPeriod"), year[part]),
            (P(ns.SDMX_DIM, "refArea"), iri_column(place_iri[part])),
            (P(ns.KB, "concept"), iri_column(concept_iri[part])),
            (P(ns.SDMX_MEASURE, "obsValue"), decimal_column(rows["value"])),
            (P(ns.KB, "rank"), integer_column(rows["rank"])),
            (P(ns.KB, "rankBasis"), basis[part]),
            (P(ns.RDFS, "comment"), note[part]),
            (P(ns.KB, "table"), table[part]),
            (P(ns.KB, "sourceLine"), integer_column(rows["line"])),
            (P(ns.KB, "sourceLineEn"), integer_column(rows["line_en"])),
        ):
            out.bulk.extend_lines(column_quads(s, prop, terms, g))
    return pd.DataFrame({
        "obs": obs_iri.to_pandas().astype("str"),
        "graph": g.strip("<>"),
        "dataset": d,
        "framework": framework or "",
        "place": place_iri.to_pandas().astype("str"),
        "concept": concept_iri.to_pandas().astype("str"),
        "value": df["value"].astype("float64"),
        "rank": df["rank"].astype("Int64"),
        "period": periods,
    })


def _tables(out: _Out, pkg: SourcePackage, tables: pd.Series,
            table_label: Callable[[str], str]) -> None:
    """Each table of a report once: what it is part of, its title, its citation and the seed
    text files its line numbers refer to."""
    meta = pkg.meta
    report = iri(ns.source(meta.id))
    for table in sorted(set(tables.unique()) - {""} - out.tables):
        out.tables.add(table)
        s = iri(table_iri(meta.id, table))
        label = table_label(table)
        out.sink.typed(s, P(ns.KB, "SourceTable"), out.g)
        out.sink.add(s, P(ns.DCTERMS, "isPartOf"), report, out.g)
        out.sink.add(s, P(ns.RDFS, "label"), lit(label), out.g)
        out.sink.add(s, P(ns.DCTERMS, "identifier"), lit(table), out.g)
        out.sink.add(s, P(ns.DCTERMS, "bibliographicCitation"),
                     lit(f"{meta.title_zh or meta.title_en}, {label}"), out.g)
        out.sink.add(s, P(ns.KB, "seedTextZh"), lit(meta.seeds.get("zh", "zh")), out.g)
        out.sink.add(s, P(ns.KB, "seedTextEn"), lit(meta.seeds.get("en", "en")), out.g)


def _report_tables(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    """Each table of ``tables.csv``: its printed title, the line it is on, and the data
    source(s) its 来源 line names (``dcterms:source``, the line as ``kb:dataSourceLine``)."""
    meta = pkg.meta
    for t in pkg.tables:
        s = iri(table_iri(meta.id, t.id))
        sink.typed(s, P(ns.KB, "SourceTable"), g)
        sink.add(s, P(ns.DCTERMS, "isPartOf"), iri(ns.source(meta.id)), g)
        sink.add(s, P(ns.DCTERMS, "identifier"), lit(t.id), g)
        if t.title_zh:
            sink.add(s, P(ns.DCTERMS, "title"), lit(t.title_zh, lang="zh"), g)
        if t.title_en:
            sink.add(s, P(ns.DCTERMS, "title"), lit(t.title_en, lang="en"), g)
        for d in t.data_source:
            sink.add(s, P(ns.DCTERMS, "source"), iri(ns.source(d)), g)
        _lines(sink, s, t.line, None, g)
        if t.source_line is not None:
            sink.add(s, P(ns.KB, "dataSourceLine"), integer(t.source_line), g)
        if t.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(t.note, lang="en"), g)


def _printed_lists(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    """The lists of places a report prints, each entry with its position and line."""
    report = iri(ns.source(pkg.meta.id))
    for lst in pkg.lists:
        s = iri(f"{ns.ID}list/{pkg.meta.id}/{lst.id}")
        sink.typed(s, P(ns.KB, "PrintedList"), g)
        _labels(sink, s, lst.name_zh, lst.name_en, g)
        sink.add(s, P(ns.DCTERMS, "type"), lit(lst.kind), g)
        sink.add(s, P(ns.SDMX_DIM, "refPeriod"), lit(lst.period, datatype=XSD + "gYear"), g)
        if lst.compared_with:
            sink.add(s, P(ns.KB, "comparedWith"),
                     lit(lst.compared_with, datatype=XSD + "gYear"), g)
        sink.add(s, P(ns.KB, "ordered"),
                 lit("true" if lst.ordered else "false", datatype=XSD + "boolean"), g)
        sink.add(s, P(ns.PROV, "hadPrimarySource"), report, g)
        if lst.table:
            sink.add(s, P(ns.KB, "table"), iri(table_iri(pkg.meta.id, lst.table)), g)
        _lines(sink, s, lst.line, None, g)
        if lst.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(lst.note, lang="en"), g)
    for m in pkg.list_members:
        slug = _place_slug(pd.Series([m.place])).iloc[0]
        e = iri(f"{ns.ID}list/{pkg.meta.id}/{m.list}/{slug}")
        sink.typed(e, P(ns.KB, "ListEntry"), g)
        sink.add(e, P(ns.KB, "list"), iri(f"{ns.ID}list/{pkg.meta.id}/{m.list}"), g)
        sink.add(e, P(ns.SDMX_DIM, "refArea"), iri(ns.place_ref(m.place)), g)
        sink.add(e, P(ns.KB, "position"), integer(m.position), g)
        _lines(sink, e, m.line, None, g)
        if m.note:
            sink.add(e, P(ns.RDFS, "comment"), lit(m.note, lang="en"), g)


def _editions(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    """The report's edition and the earlier editions it mentions, each earlier one linked from
    the next (kb:previousEdition), with the figures the report states about each."""
    if not pkg.editions:
        return
    report = iri(ns.source(pkg.meta.id))

    def edition_iri(eid: str) -> str:
        return iri(f"{ns.ID}edition/{pkg.meta.id}/{eid}")

    by_year = sorted(pkg.editions, key=lambda e: (e.year, e.role == "current"))
    for i, e in enumerate(by_year):
        s = edition_iri(e.id)
        earlier = by_year[i - 1] if i > 0 else None
        sink.typed(s, P(ns.KB, "Edition"), g)
        _labels(sink, s, e.name_zh, e.name_en, g)
        if e.year:
            sink.add(s, P(ns.SDMX_DIM, "refPeriod"), lit(e.year, datatype=XSD + "gYear"), g)
        sink.add(s, P(ns.KB, "editionRole"), lit(e.role), g)
        sink.add(s, P(ns.PROV, "hadPrimarySource"), report, g)
        if e.role == "current":
            sink.add(s, P(ns.DCTERMS, "isVersionOf"), report, g)
        if earlier is not None and earlier.year and earlier.year < e.year:
            sink.add(s, P(ns.KB, "previousEdition"), edition_iri(earlier.id), g)
        if e.cities is not None:
            sink.add(s, P(ns.KB, "placesAssessed"), integer(e.cities), g)
        if e.comparable is not None:
            sink.add(s, P(ns.KB, "comparable"),
                     lit("true" if e.comparable else "false", datatype=XSD + "boolean"), g)
        _lines(sink, s, e.line, e.line_en, g)
        if e.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(e.note, lang="en"), g)
    for f in pkg.edition_figures:
        slug = _place_slug(pd.Series([f.place])).iloc[0] if f.place else "all"
        s = iri(f"{ns.ID}edition/{pkg.meta.id}/{f.edition}/{f.figure}/{slug}")
        sink.typed(s, P(ns.KB, "EditionFigure"), g)
        sink.add(s, P(ns.KB, "aboutEdition"), edition_iri(f.edition), g)
        sink.add(s, P(ns.DCTERMS, "identifier"), lit(f.figure), g)
        _labels(sink, s, f.name_zh, f.name_en, g)
        sink.add(s, P(ns.RDF, "value"), decimal(f.value), g)
        if f.unit:
            sink.add(s, P(ns.SDMX_ATTR, "unitMeasure"), lit(f.unit), g)
        if f.place:
            sink.add(s, P(ns.SDMX_DIM, "refArea"), iri(ns.place_ref(f.place)), g)
        sink.add(s, P(ns.PROV, "hadPrimarySource"), report, g)
        _lines(sink, s, f.line, f.line_en, g)
        if f.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(f.note, lang="en"), g)


def _statistics(out: _Out, pkg: SourcePackage) -> list[pd.DataFrame]:
    """Statistics (figures outside any composite index) as a concept scheme and a dataset."""
    if not pkg.statistics or pkg.statistic_values is None:
        return []
    sink, g = out.sink, out.g
    scheme = iri(ns.statistics_scheme(pkg.meta.id))
    sink.typed(scheme, P(ns.SKOS, "ConceptScheme"), g)
    _labels(sink, scheme, f"{pkg.meta.title_zh} 统计数据", f"{pkg.meta.title_en}: statistics", g)
    concepts = {}
    for st in pkg.statistics:
        s = iri(ns.statistic(pkg.meta.id, st.id))
        concepts[st.id] = ns.statistic(pkg.meta.id, st.id)
        sink.typed(s, P(ns.KB, "Statistic"), g)
        sink.typed(s, P(ns.SKOS, "Concept"), g)
        sink.add(s, P(ns.SKOS, "inScheme"), scheme, g)
        _labels(sink, s, st.name_zh, st.name_en, g)
        if st.unit:
            sink.add(s, P(ns.SDMX_ATTR, "unitMeasure"), lit(st.unit), g)
        if st.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(st.note, lang="en"), g)
    title = f"{pkg.meta.title_en or pkg.meta.title_zh}: statistics"
    frame = _observation_table(
        out, pkg, ns.dataset(pkg.meta.id, "statistics"), "PublishedDataSet", None, title,
        pkg.statistic_values, concepts, f"{ns.ID}obs/{pkg.meta.id}/statistics/", "",
        lambda t: t)
    return [frame]


def _statements(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    report = iri(ns.source(pkg.meta.id))
    for st in pkg.statements:
        s = iri(ns.statement(pkg.meta.id, st.id))
        sink.typed(s, P(ns.KB, "Statement"), g)
        sink.add(s, P(ns.DCTERMS, "description"), lit(st.text, lang="zh"), g)
        sink.add(s, P(ns.KB, "statedValue"), lit(json.dumps(st.stated, ensure_ascii=False)), g)
        if st.decimals is not None:
            sink.add(s, P(ns.KB, "decimals"), integer(st.decimals), g)
        if st.unit:
            sink.add(s, P(ns.SDMX_ATTR, "unitMeasure"), lit(st.unit), g)
        if st.compute is not None:
            sink.add(s, P(ns.KB, "computation"),
                     lit(json.dumps(st.compute, ensure_ascii=False, sort_keys=True)), g)
        if st.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(st.note, lang="en"), g)
        sink.add(s, P(ns.PROV, "hadPrimarySource"), report, g)
        _lines(sink, s, st.line, st.line_en, g)
        _statement_links(sink, s, st.compute or {}, pkg.meta.id, g)


def _statement_links(sink: QuadSink, s: str, c: dict[str, object], source: str,
                     g: str) -> None:
    """What a statement is about, for queries by place, index, statistic and year: the places
    its computation ranges over (``kb:about``), the framework or statistic it aggregates
    (``kb:concept``) and the year (``sdmx-dimension:refPeriod``)."""
    places = c.get("places")
    refs = places if isinstance(places, list) else [places]
    refs = [*refs, c.get("members"), c.get("within")]
    for ref in refs:
        if isinstance(ref, str) and ":" in ref:
            sink.add(s, P(ns.KB, "about"), iri(ns.place_ref(ref)), g)
    if isinstance(c.get("framework"), str):
        sink.add(s, P(ns.KB, "concept"), iri(ns.framework(str(c["framework"]))), g)
    if isinstance(c.get("statistic"), str):
        sink.add(s, P(ns.KB, "concept"), iri(ns.statistic(source, str(c["statistic"]))), g)
    if isinstance(c.get("period"), str | int) and not isinstance(c.get("period"), bool):
        sink.add(s, P(ns.SDMX_DIM, "refPeriod"),
                 lit(str(c["period"]), datatype=XSD + "gYear"), g)


def _tiers(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    t = pkg.tiers
    if t is None:
        return
    fw = ns.framework(t.framework)
    scheme = iri(ns.tier_scheme(t.framework))
    sink.typed(scheme, P(ns.SKOS, "ConceptScheme"), g)
    sink.add(scheme, P(ns.KB, "framework"), iri(fw), g)
    concept = fw if t.concept == "total" else ns.node(t.framework, t.concept)
    sink.add(scheme, P(ns.KB, "classifies"), iri(concept), g)
    for b in t.bands:
        s = iri(ns.tier(t.framework, b.id))
        sink.typed(s, P(ns.KB, "Tier"), g)
        sink.typed(s, P(ns.SKOS, "Concept"), g)
        sink.add(s, P(ns.SKOS, "inScheme"), scheme, g)
        _labels(sink, s, b.name_zh, b.name_en, g)
        if b.min is not None:
            sink.add(s, P(ns.KB, "minScore"), decimal(b.min), g)
        if b.max is not None:
            sink.add(s, P(ns.KB, "maxScore"), decimal(b.max), g)
        _lines(sink, s, b.line, b.line_en, g)
    for m in pkg.tier_members:
        sink.add(iri(ns.place_ref(m.place)), P(ns.KB, "printedTier"),
                 iri(ns.tier(t.framework, m.tier)), g)
        # the printed list entry itself, with the line it was read from
        entry = iri(f"{ns.ID}tier-member/{t.framework}/{m.tier}/"
                    f"{_place_slug(pd.Series([m.place])).iloc[0]}")
        sink.typed(entry, P(ns.KB, "TierListEntry"), g)
        sink.add(entry, P(ns.KB, "tier"), iri(ns.tier(t.framework, m.tier)), g)
        sink.add(entry, P(ns.SDMX_DIM, "refArea"), iri(ns.place_ref(m.place)), g)
        sink.add(entry, P(ns.PROV, "hadPrimarySource"), iri(ns.source(pkg.meta.id)), g)
        _lines(sink, entry, m.line, None, g)


def _errata(sink: QuadSink, pkg: SourcePackage, g: str) -> None:
    fws = {fw.meta.id: fw for fw in pkg.frameworks}
    for e in pkg.errata:
        s = iri(ns.erratum(pkg.meta.id, e.id))
        sink.typed(s, P(ns.KB, "Erratum"), g)
        if e.printed is not None:
            sink.add(s, P(ns.KB, "printedValue"), lit(e.printed), g)
        if e.printed_en is not None:
            sink.add(s, P(ns.KB, "printedValueEn"), lit(e.printed_en), g)
        sink.add(s, P(ns.KB, "usedValue"), lit(e.used if e.used is not None else "(none)"), g)
        sink.add(s, P(ns.KB, "reason"), lit(e.reason, lang="en"), g)
        sink.add(s, P(ns.KB, "edition"), lit(e.edition), g)
        sink.add(s, P(ns.PROV, "hadPrimarySource"), iri(ns.source(pkg.meta.id)), g)
        if e.table:
            sink.add(s, P(ns.KB, "sourceTable"), lit(e.table), g)
        _lines(sink, s, e.line, e.line_en, g)
        for target in touched(e, fws):
            sink.add(s, P(ns.KB, "touches"), iri(target), g)
        if e.statement is not None:
            sink.add(s, P(ns.KB, "touches"), iri(ns.statement(pkg.meta.id, e.statement)), g)
        if e.place is not None:
            sink.add(s, P(ns.KB, "concernsPlace"), iri(ns.place_ref(e.place)), g)
        if e.concept is not None and e.concept in {st.id for st in pkg.statistics}:
            cell = _statistic_cell(pkg, e)
            # the cell the erratum is about, where the folder holds a value for it (so that
            # erratum-impact and statistic-values link the two); else the statistic itself
            sink.add(s, P(ns.KB, "touches"),
                     iri(cell or ns.statistic(pkg.meta.id, e.concept)), g)
        if e.note:
            sink.add(s, P(ns.RDFS, "comment"), lit(e.note, lang="en"), g)


def _statistic_cell(pkg: SourcePackage, e: Erratum) -> str | None:
    """The IRI of the statistics observation an erratum names (place or city, statistic,
    period), if the folder's statistics_values.csv holds it."""
    ref = e.place or (f"city:{e.city}" if e.city else None)
    df = pkg.statistic_values
    if ref is None or e.concept is None or df is None:
        return None
    period = str(e.period or "")
    hit = df[(df["place"] == ref) & (df["concept"] == e.concept)
             & (df["period"].astype(str) == period)]
    if hit.empty:
        return None
    slug = _place_slug(pd.Series([ref])).iloc[0]
    return f"{ns.ID}obs/{pkg.meta.id}/statistics/{slug}/{e.concept}" + (
        f"/{period}" if period else "")


def touched(e: Erratum, fws: dict[str, Framework]) -> list[str]:
    """IRIs an erratum corrects: the observation of its city and concept, else the concept."""
    out: list[str] = []
    for fw_id, fw in fws.items():
        levels = {n.id: n.level for n in fw.nodes}
        if e.concept is None or (e.concept not in levels and e.concept != "total"):
            continue
        if e.city is None:
            out.append(ns.framework(fw_id) if e.concept == "total" else ns.node(fw_id, e.concept))
        elif fw.meta.inputs is not None and levels.get(e.concept) == fw.meta.inputs.level:
            out.append(ns.observation(fw_id, "inputs", e.city, e.concept))
        elif fw.published is not None:
            out.append(ns.observation(fw_id, "published", e.city, e.concept))
    return out
