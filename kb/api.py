"""The Python API: open a knowledge base and ask it questions; answers are DataFrames.

>>> import kb
>>> base = kb.open()                              # the default store ($CITYKB_HOME or ./.citykb)
>>> base.rank(top=3)[["rank", "city_zh", "total"]]      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyoxigraph as ox

from kb import graphs, queries
from kb.explain import Step
from kb.explain import explain as _explain
from kb.resolve import Resolver, names_cache, resolve
from kb.sparql import limits, run_isolated
from kb.store import BuildDir, Reader, open_store

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class KnowledgeBase:
    """An opened knowledge base: the build that was current when it was opened, read-only.

    It keeps answering from that build however often the knowledge base is rebuilt (no
    writer removes a build while it is open); :meth:`newer` says when a newer one has been
    published, and ``kb.open()`` again opens it. :meth:`close` (or ``with``) lets it go.
    """

    build: BuildDir
    store: ox.Store
    reader: Reader | None = None
    names: dict[tuple[str, str | None], Resolver] = field(default_factory=dict, repr=False)
    """The names of places, frameworks and their nodes, read once (the build never changes)."""
    memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    """Answers about frameworks and runs that explain looks up again and again."""

    def newer(self) -> str | None:
        """The id of a build published since this one was opened, or None."""
        return self.reader.newer() if self.reader is not None else None

    def close(self) -> None:
        """Release the build (a later ``kb build`` may then remove it)."""
        if self.reader is not None:
            self.reader.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sparql(self, query: str, /, *, timeout: float | None = None,
               max_rows: int | None = None, memory_mb: int | None = None) -> pd.DataFrame:
        """Any read-only SELECT over the union of all named graphs (``GRAPH ?g`` names them).

        Refused (KB055): ``SERVICE``, updates, ``LOAD``. The query runs in a separate process
        that is stopped after ``timeout`` seconds (KB053) or beyond ``memory_mb`` (KB054);
        at most ``max_rows`` rows are returned — if there were more, ``attrs["truncated"]``
        is True and a :class:`kb.sparql.TruncatedWarning` is issued. Defaults: the
        environment variables ``CITYKB_QUERY_TIMEOUT`` (60 s), ``CITYKB_QUERY_MAX_ROWS``
        (100,000) and ``CITYKB_QUERY_MEMORY`` (2,048 MB).
        """
        return run_isolated(self.build.oxigraph, query, limits(timeout, max_rows, memory_mb))

    def query(self, name: str, /, **params: object) -> pd.DataFrame:
        """A named query from queries/ with its parameters (names are resolved to IRIs); at
        most ``$CITYKB_QUERY_MAX_ROWS`` rows, a cut reported in ``attrs["truncated"]``."""
        with names_cache(self.names, self.memo):
            return queries.get(name).run(self.store, {k: str(v) for k, v in params.items()})

    def queries(self) -> pd.DataFrame:
        """The named queries: name, title, parameters."""
        return pd.DataFrame([{"name": q.name, "title": q.title,
                              "parameters": ", ".join(f"{p.name}:{p.type}" for p in q.params)}
                             for q in queries.catalog().values()])

    def explain(self, place: str, concept: str | None = None) -> Step:
        """How a score was made; renders as a tree (rich) and has ``to_frame()``."""
        with names_cache(self.names, self.memo):
            return _explain(self.store, place, concept)

    def rank(self, framework: str | None = None, dimension: str | None = None,
             top: int | None = None, weights: str | None = None) -> pd.DataFrame:
        """A computed ranking: a framework's total with every dimension, or one dimension."""
        from kb.ranking import ranking, scored_frameworks

        with names_cache(self.names, self.memo):
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
    reader = Reader(Path(home) if home is not None else None)
    return KnowledgeBase(reader.build, open_store(reader.build), reader)


__all__ = ["KnowledgeBase", "open"]
