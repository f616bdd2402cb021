"""Write the answers of every named query's documented examples on a knowledge base, as JSON.

The snapshot in this folder was taken on the seed knowledge base built by citykb before the
lean build (one build per run, the same data/); ``tests/test_query_snapshot.py`` compares the
current answers with it, so that a change in how the graph is written never changes an answer.

    python tests/golden/snapshot_queries.py HOME OUT.json
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests_support import cell_text


def answers(home: Path) -> dict[str, list[list[str]]]:
    """Every example of every named query: its rows, each cell as text, rows sorted."""
    from kb import queries
    from kb.store import current_build, open_store

    store = open_store(current_build(home))
    out: dict[str, list[list[str]]] = {}
    for name, q in sorted(queries.catalog().items()):
        for example in q.examples:
            args = shlex.split(example)
            params: dict[str, str] = {}
            for i, a in enumerate(args):
                if a == "--param":
                    k, _, v = args[i + 1].partition("=")
                    params[k] = v
            df = q.run(store, params)
            rows = [[cell_text(v) for v in row] for row in df.itertuples(index=False)]
            out[f"{name} {json.dumps(params, ensure_ascii=False, sort_keys=True)}"] = sorted(
                [list(df.columns), *rows])
    return out


if __name__ == "__main__":
    home, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.write_text(json.dumps(answers(home), ensure_ascii=False, indent=0, sort_keys=True),
                      encoding="utf-8")
