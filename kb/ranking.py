"""Rankings from the latest scoring run: numbers from the columnar copy, labels from SPARQL."""

from __future__ import annotations

import pandas as pd
import pyoxigraph as ox

from kb import namespaces as ns
from kb.errors import KbError
from kb.sparql import to_frame
from kb.store import BuildDir, read_observations
from kb.verify import run_dataset

NODE_LABELS = """
SELECT ?fw ?x ?zh ?en ?order WHERE {
  ?x skos:inScheme ?fw ; skos:topConceptOf ?fw ; kb:order ?order ;
     skos:prefLabel ?zh , ?en . FILTER (lang(?zh) = "zh" && lang(?en) = "en")
}
"""
CITY_LABELS = """
SELECT ?x ?zh ?en WHERE {
  ?x a kb:City ; skos:prefLabel ?zh , ?en . FILTER (lang(?zh) = "zh" && lang(?en) = "en")
}
"""
FRAMEWORKS = "SELECT DISTINCT ?fw WHERE { ?r a kb:ScoringRun ; kb:framework ?fw } ORDER BY ?fw"
RANK_BASIS = """
SELECT ?o ?ds ?basis WHERE { ?o qb:dataSet ?ds ; kb:rankBasis ?basis }
"""


def scored_frameworks(store: ox.Store) -> list[str]:
    return [str(r) for r in to_frame(store, FRAMEWORKS).get("fw", pd.Series(dtype=str))]


def ranking(
    store: ox.Store, build: BuildDir, framework: str, dimension: str | None = None,
    top: int | None = None, weight_set: str | None = None,
) -> pd.DataFrame:
    """The ranking of a framework's total (with every dimension's score beside it, as the
    report's 总积分表 prints it) or of one dimension.

    A framework citykb scores is ranked by its scoring run (``rank_basis`` "computed"); one it
    only describes (the report prints scores, not their inputs) by the report's printed ranks
    ("published") or, where the report prints none, ranks derived from the printed scores
    ("derived"). Only cities are ranked."""
    obs = read_observations(build, framework=framework)
    if obs.empty:
        raise KbError("KB060", f"no observations for {framework}")
    cities = to_frame(store, CITY_LABELS).set_index("x")
    target = dimension or framework
    if weight_set is None and framework not in scored_frameworks(store):
        published = ns.dataset(ns.local_name(framework), "published")
        scores = obs[(obs["dataset"] == published) & obs["place"].isin(cities.index)
                     & obs["rank"].notna()]
        ds = ox.NamedNode(published)
        basis = {str(r["o"]): str(r["basis"]) for _, r in
                 to_frame(store, RANK_BASIS, {"ds": ds}).iterrows()}
    else:
        scores = obs[obs["dataset"] == run_dataset(store, framework, weight_set)]
        basis = {}
    main = scores[scores["concept"] == target].sort_values(["rank", "place"])
    if main.empty:
        raise KbError("KB060", f"no ranks of {target} for cities: the report prints no score "
                      "for it and citykb does not compute it")
    out = pd.DataFrame({
        "rank": main["rank"].astype("int64").to_numpy(),
        "city_zh": main["place"].map(cities["zh"]).to_numpy(),
        "city_en": main["place"].map(cities["en"]).to_numpy(),
    })
    if dimension is None:
        dims = to_frame(store, NODE_LABELS, {"fw": ox.NamedNode(framework)}).sort_values("order")
        wide = scores.pivot(index="place", columns="concept", values="value")
        for _, d in dims.iterrows():
            if d["x"] in wide.columns:       # a described framework may print totals only
                out[str(d["zh"])] = wide.loc[main["place"], d["x"]].to_numpy()
        out["total"] = main["value"].to_numpy()
    else:
        out["score"] = main["value"].to_numpy()
    out.insert(3, "city", main["place"].to_numpy())
    out["rank_basis"] = [basis.get(o, "computed") for o in main["obs"]]
    if top is not None:
        out = out[out["rank"] <= top]
    return out.reset_index(drop=True)
