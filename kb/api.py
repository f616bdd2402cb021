"""The Python API: open a knowledge base and ask it questions; answers are DataFrames.

>>> import kb
>>> base = kb.open()                              # the default store ($CITYKB_HOME or ./.citykb)
>>> base.rank(top=3)[["rank", "city_zh", "total"]]      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyoxigraph as ox

from kb import graphs, queries
from kb.explain import Step
from kb.explain import explain as _explain
from kb.resolve import resolve
from kb.sparql import to_frame
from kb.store import BuildDir, current_build, open_store

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class KnowledgeBase:
    """An opened knowledge base: the current build's store, read-only."""

    build: BuildDir
    store: ox.Store

    def sparql(self, query: str) -> pd.DataFrame:
        """Any SELECT over the union of all named graphs (``GRAPH ?g`` names them)."""
        return to_frame(self.store, query)

    def query(self, name: str, **params: object) -> pd.DataFrame:
        """A named query from queries/ with its parameters (names are resolved to IRIs)."""
        return queries.get(name).run(self.store, {k: str(v) for k, v in params.items()})

    def queries(self) -> pd.DataFrame:
        """The named queries: name, title, parameters."""
        return pd.DataFrame([{"name": q.name, "title": q.title,
                              "parameters": ", ".join(f"{p.name}:{p.type}" for p in q.params)}
                             for q in queries.catalog().values()])

    def explain(self, place: str, concept: str | None = None) -> Step:
        """How a score was made; renders as a tree (rich) and has ``to_frame()``."""
        return _explain(self.store, place, concept)

    def rank(self, framework: str | None = None, dimension: str | None = None,
             top: int | None = None, weights: str | None = None) -> pd.DataFrame:
        """A computed ranking: a framework's total with every dimension, or one dimension."""
        from kb.ranking import ranking, scored_frameworks

        fw = resolve(self.store, "framework", framework) if framework else \
            scored_frameworks(self.store)[0]
        dim = resolve(self.store, "dimension", dimension, fw) if dimension else None
        return ranking(self.store, self.build, fw, dim, top, weights)

    def compare(self, a: str, b: str) -> pd.DataFrame:
        """Two indices side by side over their shared cities: scores and ranks; the Spearman
        correlation of the scores is in ``.attrs["spearman"]``."""
        df = self.query("ranks-side-by-side", a=a, b=b)
        df.attrs["spearman"] = float(df["scoreA"].rank().corr(df["scoreB"].rank()))
        return df

    def framework_graph(self, framework: str) -> nx.DiGraph:
        return graphs.framework_tree(self.store, resolve(self.store, "framework", framework))

    def geography(self) -> nx.DiGraph:
        return graphs.geography(self.store)

    def clusters(self) -> nx.Graph:
        return graphs.clusters(self.store)

    def export(self, path: str | Path, fmt: str | None = None,
               graph: str | None = None) -> Path:
        """Export to ttl, trig, nt, nq, jsonld or csv (a directory of tidy tables)."""
        from kb.export import export

        path = Path(path)
        return export(self.store, self.build, fmt or path.suffix.lstrip("."), path, graph)


def open(home: str | Path | None = None) -> KnowledgeBase:
    """Open the knowledge base at ``home`` (default ``$CITYKB_HOME`` or ``./.citykb``)."""
    build = current_build(Path(home) if home is not None else None)
    return KnowledgeBase(build, open_store(build))


__all__ = ["KnowledgeBase", "open"]
