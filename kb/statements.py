"""Reproducing the reports' checkable statements from the knowledge base.

Each statement (``kb:Statement``) carries the value the report states and a declarative
``kb:computation``; this module evaluates the computation set-wise — place sets from SPARQL
(containment followed transitively, cluster membership), numbers from the columnar copy — and
compares. A disagreement is acceptable only when an erratum touches the statement. Printed tier
lists are checked the same way against tiers computed from the declared bands.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd
import pyoxigraph as ox

from kb import namespaces as ns
from kb.methods.classify import Band, bands
from kb.models import ANALYSES, records_value
from kb.sparql import to_frame
from kb.store import BuildDir, read_observations

STATEMENTS = """
SELECT ?s ?source ?text ?line ?stated ?decimals ?unit ?computation ?note ?erratum WHERE {
  ?s a kb:Statement ; dcterms:description ?text ; kb:statedValue ?stated ;
     prov:hadPrimarySource ?source .
  OPTIONAL { ?s kb:sourceLine ?line }
  OPTIONAL { ?s kb:decimals ?decimals }
  OPTIONAL { ?s sdmx-attribute:unitMeasure ?unit }
  OPTIONAL { ?s kb:computation ?computation }
  OPTIONAL { ?s rdfs:comment ?note }
  OPTIONAL { ?erratum kb:touches ?s }
}
"""
CONTAINS = """
SELECT ?a ?p WHERE {
  { ?p schema:containedInPlace+ ?a }
  UNION { ?a kb:member ?p }
  UNION { ?a kb:member ?m . ?p schema:containedInPlace+ ?m }
}
"""
DIRECT = """
SELECT ?a ?p WHERE { { ?a kb:member ?p } UNION { ?p schema:containedInPlace ?a } }
"""
COUNTY_KINDS = "SELECT ?p ?kind WHERE { ?p a kb:County ; dcterms:type ?kind }"
STAT_UNITS = """
SELECT ?stat ?unit WHERE {
  ?stat a kb:Statistic . OPTIONAL { ?stat sdmx-attribute:unitMeasure ?unit }
}
"""
TIER_BANDS = """
SELECT ?fw ?concept ?tier ?min ?max WHERE {
  ?scheme kb:framework ?fw ; kb:classifies ?concept .
  ?tier skos:inScheme ?scheme ; a kb:Tier .
  OPTIONAL { ?tier kb:minScore ?min } OPTIONAL { ?tier kb:maxScore ?max }
}
"""
PRINTED_TIERS = """
SELECT ?place ?tier ?fw WHERE {
  ?place kb:printedTier ?tier . ?tier skos:inScheme/kb:framework ?fw .
}
"""
ERRATA_ON_STATEMENTS = """
SELECT ?s ?erratum ?printed ?printedEn ?used WHERE {
  ?erratum a kb:Erratum ; kb:touches ?s . ?s a kb:Statement .
  OPTIONAL { ?erratum kb:printedValue ?printed }
  OPTIONAL { ?erratum kb:printedValueEn ?printedEn }
  OPTIONAL { ?erratum kb:usedValue ?used }
}
"""
ERRATA_ON_PLACES = """
SELECT ?erratum ?place WHERE {
  ?erratum a kb:Erratum ; kb:sourceTable "tier_members" ; kb:touches ?obs .
  ?obs sdmx-dimension:refArea ?place .
}
"""

UNIT_SCALE = {"CNY 100 million": 1e8, "CNY trillion": 1e12, "CNY 10 thousand": 1e4,
              "CNY billion": 1e9}


def kind_of(iri: str) -> str:
    return iri[len(ns.ID):].split("/", 1)[0]


@dataclass
class Context:
    """What statements are evaluated against; each part loaded once, when first needed."""

    store: ox.Store
    build: BuildDir

    def _adjacency(self, query: str) -> dict[str, set[str]]:
        """``?a`` → the set of ``?p`` a query pairs with it."""
        df = to_frame(self.store, query)
        out: dict[str, set[str]] = {}
        for a, p in zip(df["a"], df["p"], strict=True):
            out.setdefault(str(a), set()).add(str(p))
        return out

    @cached_property
    def contains(self) -> dict[str, set[str]]:
        """Everything a place contains, transitively, and a cluster's members with what they
        contain."""
        return self._adjacency(CONTAINS)

    @cached_property
    def county_kinds(self) -> dict[str, str]:
        df = to_frame(self.store, COUNTY_KINDS)
        return dict(zip(df["p"].astype(str), df["kind"].astype(str), strict=True))

    @cached_property
    def stat_units(self) -> dict[str, str]:
        df = to_frame(self.store, STAT_UNITS)
        return {str(s): str(u) for s, u in zip(df["stat"], df["unit"], strict=True)
                if not pd.isna(u)}

    @cached_property
    def tier_bands(self) -> dict[str, tuple[str, list[Band]]]:
        """framework IRI → (classified concept IRI, bands)"""
        df = to_frame(self.store, TIER_BANDS)
        out: dict[str, tuple[str, list[Band]]] = {}
        for r in df.to_dict("records"):
            lo = None if pd.isna(r["min"]) else float(r["min"])
            hi = None if pd.isna(r["max"]) else float(r["max"])
            out.setdefault(str(r["fw"]), (str(r["concept"]), []))[1].append(
                Band(ns.local_name(str(r["tier"])), lo, hi))
        return out

    @cached_property
    def observations(self) -> pd.DataFrame:
        return read_observations(self.build)

    def values(self, c: dict[str, Any], source: str) -> tuple[pd.DataFrame, str | None]:
        """The (place, value) pairs a computation is about, and the unit of the values."""
        obs = self.observations
        if "framework" in c:
            fw = ns.framework(c["framework"])
            concept = c.get("concept", "total")
            concept_iri = fw if concept == "total" else ns.node(c["framework"], concept)
            mine = obs[(obs["framework"] == fw) & (obs["concept"] == concept_iri)]
            published = mine[mine["dataset"] == ns.dataset(c["framework"], "published")]
            chosen = published if not published.empty else mine
            return chosen[["place", "value"]].drop_duplicates("place"), None
        stat = c["statistic"]
        matches = obs[obs["concept"].str.endswith(f"/statistic/{source}/{stat}")]
        if matches.empty:
            matches = obs[obs["concept"].str.rsplit("/", n=1).str[-1].eq(stat)
                          & obs["concept"].str.contains("/statistic/")]
        if "period" in c:
            matches = matches[matches["period"].astype(str) == str(c["period"])]
        unit = self.stat_units.get(str(matches["concept"].iloc[0])) if len(matches) else None
        return matches[["place", "value"]], unit

    @cached_property
    def direct(self) -> dict[str, set[str]]:
        """Direct members of a cluster (kb:member) and places directly contained in a place."""
        return self._adjacency(DIRECT)

    def direct_members(self, ref: str) -> set[str]:
        return self.direct.get(ns.place_ref(ref), set())

    def lift(self, vals: pd.DataFrame, levels: set[str]) -> pd.DataFrame:
        """Replace each place by the places of ``levels`` that contain it."""
        ancestors = [(a, p) for a, ps in self.contains.items() if kind_of(a) in levels
                     for p in ps]
        up = pd.DataFrame(ancestors, columns=["ancestor", "place"])
        lifted = vals.merge(up, on="place")
        return lifted.drop(columns="place").rename(columns={"ancestor": "place"})\
            .drop_duplicates("place")

    def expand(self, refs: Any) -> set[str]:
        """Places named by references: each place itself and everything it contains or has
        as members."""
        out: set[str] = set()
        for ref in refs if isinstance(refs, list) else [refs]:
            p = ns.place_ref(ref)
            out.add(p)
            out |= self.contains.get(p, set())
        return out


def _levels(c: dict[str, Any]) -> set[str] | None:
    level = c.get("level")
    if level is None:
        return None
    return set(level if isinstance(level, list) else [level])


def _analysis(ctx: Context, c: dict[str, Any]) -> list[str]:
    """Aggregates over a framework's dimension table (see kb.models.ANALYSES)."""
    from kb import analysis

    t = analysis.scores_table(ctx.store, ctx.build, ns.framework(c["framework"]))
    agg, n = c["aggregate"], int(c.get("n", 1))
    if agg in ("spread-max", "spread-min"):
        sd = t.dimensions.std().sort_values(ascending=agg == "spread-min")
        return sorted(ns.local_name(d) for d in sd.index[:n])
    if agg == "correlation-max":
        pairs = analysis.correlated_pairs(
            t, "spearman" if c.get("method") == "spearman" else "pearson")
        row = pairs.iloc[int(c.get("nth", 1)) - 1]
        return sorted([ns.local_name(row["a"]), ns.local_name(row["b"])])
    if agg == "least-balanced":
        return sorted(ns.local_name(p) for p in analysis.balance(t).index[:n])
    return [ns.local_name(p) for p in analysis.top_in_every_dimension(t, int(c["top"]))]


def evaluate(ctx: Context, c: dict[str, Any], source: str) -> tuple[Any, str | None]:
    """The computed value of one statement's computation, and its unit."""
    agg = c["aggregate"]
    if agg in ANALYSES:
        return _analysis(ctx, c), None
    levels = _levels(c)
    kinds = c.get("kind")
    kinds = set(kinds if isinstance(kinds, list) else [kinds]) if kinds else None

    def keep(places: pd.Series) -> pd.Series:
        ok = pd.Series(True, index=places.index)
        if levels is not None:
            ok &= places.map(kind_of).isin(levels)
        else:  # a cluster's own score (a GDP-weighted cluster index) is not one of its places
            ok &= places.map(kind_of) != "cluster"
        if kinds is not None:
            ok &= places.map(lambda p: ctx.county_kinds.get(p)).isin(kinds)
        return ok

    if "members" in c and "framework" not in c and "statistic" not in c:
        members = pd.Series(sorted(ctx.direct_members(c["members"])), dtype="object")
        return int(keep(members).sum()), None

    vals, unit = ctx.values(c, source)
    if levels is not None and not vals["place"].map(kind_of).isin(levels).any():
        # a count by a broader level: the places of that level that contain a value's place
        vals = ctx.lift(vals, levels)
    vals = vals[keep(vals["place"])]
    universe = vals
    if "tier" in c:
        fw = ns.framework(c["framework"])
        _concept, bs = ctx.tier_bands[fw]
        tiers = bands(vals["value"], bs)
        vals = vals[tiers == c["tier"]]
    if "top" in c:
        rank = universe["value"].rank(method="min", ascending=False)
        top_places = set(universe.loc[rank <= int(c["top"]), "place"])
        vals = vals[vals["place"].isin(top_places)]
    for key, op in (("value_min", "ge"), ("value_max", "le"), ("value_above", "gt"),
                    ("value_below", "lt")):
        if key in c:
            vals = vals[getattr(vals["value"], op)(float(c[key]))]
    places = c.get("places", "all")
    if agg == "rank":
        target = ns.place_ref(places)
        candidates = universe
        if "within" in c:
            candidates = universe[universe["place"].isin(ctx.expand(c["within"]))]
        ranks = candidates["value"].rank(method="min", ascending=False)
        hit = candidates["place"] == target
        return (int(ranks[hit].iloc[0]) if hit.any() else None), None
    if places != "all":
        vals = vals[vals["place"].isin(ctx.expand(places))]
    if agg == "count":
        return int(vals["place"].nunique()), None
    if agg == "members":
        ordered = vals.sort_values("value", ascending=False, kind="stable")
        ids = [ns.local_name(p) for p in ordered["place"]]
        return (ids if c.get("ordered") else sorted(ids)), None
    if vals.empty:
        return None, unit
    v = vals["value"]
    if agg == "sum":
        return math.fsum(v), unit
    result: float = getattr(v, agg)()
    return float(result), unit


def _agrees(stated: Any, computed: Any, decimals: int | None, c: dict[str, Any]) -> bool:
    if computed is None:
        return False
    if isinstance(stated, list):
        if c.get("ordered"):
            return [str(s) for s in stated] == list(computed)
        return sorted(str(s) for s in stated) == sorted(computed)
    if isinstance(stated, str):
        return stated == str(computed)
    if decimals is None:
        return math.isclose(float(stated), float(computed), rel_tol=1e-9)
    return round(float(computed), decimals) == round(float(stated), decimals) or \
        math.isclose(round(float(computed) + 1e-9, decimals), float(stated))


def check_statements(store: ox.Store, build: BuildDir) -> pd.DataFrame:
    """One row per statement: report, line, text, stated, computed, status, erratum."""
    df = to_frame(store, STATEMENTS)
    if df.empty:
        return pd.DataFrame(columns=["statement", "source", "line", "text", "stated",
                                     "computed", "status", "erratum"])
    errata = df.groupby("s")["erratum"].agg(lambda e: ", ".join(sorted(
        ns.local_name(str(x)) for x in e.dropna())))
    recorded = _erratum_texts(store)
    df = df.drop_duplicates("s").set_index("s")
    ctx = Context(store, build)
    rows = []
    for s, r in df.iterrows():
        stated = json.loads(str(r["stated"]))
        source = ns.local_name(str(r["source"]))
        erratum = errata.get(s, "")
        computed: Any = None
        if pd.isna(r["computation"]):
            status = "not computable"
        else:
            c = json.loads(str(r["computation"]))
            try:
                computed, unit = evaluate(ctx, c, source)
            except (KeyError, IndexError, ValueError) as exc:
                computed, unit = None, None
                status = f"error: {exc}"
            else:
                want = None if pd.isna(r["unit"]) else str(r["unit"])
                if (computed is not None and want and unit and want != unit
                        and want in UNIT_SCALE and unit in UNIT_SCALE):
                    computed = float(computed) * UNIT_SCALE[unit] / UNIT_SCALE[want]
                decimals = None if pd.isna(r["decimals"]) else int(r["decimals"])
                ok = _agrees(stated, computed, decimals, c)
                status = "agrees" if ok else _disagreement(
                    stated, decimals, recorded.get(str(s), []) if erratum else None)
        rows.append({"statement": ns.local_name(str(s)), "source": source,
                     "line": None if pd.isna(r["line"]) else int(r["line"]),
                     "text": str(r["text"]), "stated": stated,
                     "computed": _show(computed), "status": status, "erratum": erratum})
    return pd.DataFrame(rows).sort_values(["source", "line", "statement"], ignore_index=True)


DIFFERS_OTHER_VALUE = "DIFFERS (erratum records another value)"
"""A disagreement whose erratum is about another value than the one stated: a failure."""


def _erratum_texts(store: ox.Store) -> dict[str, list[list[str | None]]]:
    """statement IRI → for each erratum touching it, the values it says were printed (or,
    when it records none, the value it says is used)."""
    df = to_frame(store, ERRATA_ON_STATEMENTS)
    out: dict[str, list[list[str | None]]] = {}
    for r in df.to_dict("records"):
        texts = [None if pd.isna(r[k]) else str(r[k]) for k in ("printed", "printedEn")]
        if not any(texts):
            used = None if pd.isna(r["used"]) else str(r["used"])
            texts = [None if used == "(none)" else used]
        out.setdefault(str(r["s"]), []).append(texts)
    return out


def _disagreement(stated: Any, decimals: int | None,
                  errata: list[list[str | None]] | None) -> str:
    """The status of a statement whose computed value differs from the stated one: excused
    ("differs (erratum)") only by an erratum that records the stated value among what the
    report printed; an erratum about some other value does not excuse it."""
    if errata is None:
        return "DIFFERS"
    if isinstance(stated, bool) or not isinstance(stated, int | float):
        return "differs (erratum)"
    if not errata or any(records_value(texts, float(stated), decimals) for texts in errata):
        return "differs (erratum)"
    return DIFFERS_OTHER_VALUE


def statements_failed(statements: pd.DataFrame) -> bool:
    """Whether ``kb check`` must fail on these statement results: a disagreement without an
    erratum, an erratum that records another value, or an evaluation error."""
    if statements.empty:
        return False
    return bool(statements["status"].str.startswith(("DIFFERS", "error")).any())


def _show(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    return v


def check_tiers(store: ox.Store, build: BuildDir) -> pd.DataFrame:
    """Printed tier lists against the tiers computed from each framework's declared bands."""
    ctx = Context(store, build)
    printed = to_frame(store, PRINTED_TIERS).drop_duplicates(["place", "tier"])
    if printed.empty:
        return pd.DataFrame(columns=["place", "printed", "computed", "status", "erratum"])
    errata = to_frame(store, ERRATA_ON_PLACES)
    by_place = errata.groupby("place")["erratum"].agg(
        lambda e: ", ".join(sorted(ns.local_name(str(x)) for x in e)))
    rows = []
    for fw, group in printed.groupby("fw"):
        concept, bs = ctx.tier_bands[str(fw)]
        fw_slug = ns.local_name(str(fw))
        c = {"framework": fw_slug,
             "concept": "total" if concept == fw else ns.local_name(concept)}
        vals, _ = ctx.values(c, "")
        computed = bands(vals.set_index("place")["value"], bs)
        for r in group.to_dict("records"):
            place = str(r["place"])
            got = computed.get(place)
            want = ns.local_name(str(r["tier"]))
            erratum = str(by_place.get(place, ""))
            status = "agrees" if got == want else ("differs (erratum)" if erratum
                                                   else "DIFFERS")
            rows.append({"framework": fw_slug, "place": ns.local_name(place), "printed": want,
                         "computed": got, "status": status, "erratum": erratum})
    return pd.DataFrame(rows)
