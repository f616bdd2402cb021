"""Rankings from the latest scoring run: numbers from the columnar copy, labels from SPARQL."""

from __future__ import annotations

import pandas as pd
import pyoxigraph as ox

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


def scored_frameworks(store: ox.Store) -> list[str]:
    return [str(r) for r in to_frame(store, FRAMEWORKS).get("fw", pd.Series(dtype=str))]


def ranking(
    store: ox.Store, build: BuildDir, framework: str, dimension: str | None = None,
    top: int | None = None, weight_set: str | None = None,
) -> pd.DataFrame:
    """The ranking of a framework's total (with every dimension's score beside it, as the
    report's 总积分表 prints it) or of one dimension."""
    obs = read_observations(build, framework=framework)
    if obs.empty:
        raise KbError("KB060", f"no observations for {framework}")
    scores = obs[obs["dataset"] == run_dataset(store, framework, weight_set)]
    cities = to_frame(store, CITY_LABELS).set_index("x")
    target = dimension or framework
    main = scores[scores["concept"] == target].sort_values(["rank", "place"])
    out = pd.DataFrame({
        "rank": main["rank"].astype("int64").to_numpy(),
        "city_zh": main["place"].map(cities["zh"]).to_numpy(),
        "city_en": main["place"].map(cities["en"]).to_numpy(),
    })
    if dimension is None:
        dims = to_frame(store, NODE_LABELS, {"fw": ox.NamedNode(framework)}).sort_values("order")
        wide = scores.pivot(index="place", columns="concept", values="value")
        for _, d in dims.iterrows():
            out[str(d["zh"])] = wide.loc[main["place"], d["x"]].to_numpy()
        out["total"] = main["value"].to_numpy()
    else:
        out["score"] = main["value"].to_numpy()
    out.insert(3, "city", main["place"].to_numpy())
    if top is not None:
        out = out[out["rank"] <= top]
    return out.reset_index(drop=True)
