"""The named queries answer exactly as they did before the lean build rewrote how the graph is
written (the snapshot in tests/golden was taken on the seed knowledge base built by the
previous release; see tests/golden/snapshot_queries.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_support import cell_text

from kb import queries
from kb.queries import sorted_list
from kb.store import current_build, open_store

GOLDEN = Path(__file__).parent / "golden" / "named-queries.json"
SNAPSHOT = json.loads(GOLDEN.read_text(encoding="utf-8"))

# source-contributions counts statements per class; the lean build says what is only repeated
# (an observation's citation and primary source) once, on its table and dataset, so those
# counts fall by design. Every other column must be unchanged.
FEWER_STATEMENTS = {"source-contributions": "triples"}


def _rows(name: str, params: dict[str, str], home: Path) -> list[list[str]]:
    store = open_store(current_build(home))
    df = queries.get(name).run(store, params)
    rows = [[cell_text(v) for v in r] for r in df.itertuples(index=False)]
    return sorted([list(df.columns), *rows])


@pytest.mark.parametrize("key", sorted(SNAPSHOT))
def test_named_query_answers_unchanged(key: str, real_home: Path) -> None:
    name, _, params_json = key.partition(" ")
    params = json.loads(params_json)
    now = _rows(name, params, real_home)
    before = SNAPSHOT[key]
    if name in FEWER_STATEMENTS:
        header = next(r for r in before if FEWER_STATEMENTS[name] in r)
        drop = header.index(FEWER_STATEMENTS[name])
        cls = header.index("class")

        def keep(rows: list[list[str]]) -> set[tuple[str, ...]]:
            return {tuple(v for i, v in enumerate(r) if i != drop) for r in rows
                    if not r[cls].endswith("#SourceTable")}

        assert keep(now) == keep(before)
        return
    # a `list:` column's items are sorted in the answer now (GROUP_CONCAT's order is not
    # defined, and stores differ): the same items as before, in that order
    lists = queries.get(name).lists
    header = next((r for r in before if all(c in r for c in lists)), None)
    if lists and header is not None:
        at = {header.index(c): sep for c, sep in lists.items()}
        before = sorted(r if r is header else
                        [sorted_list(v, at[i]) if i in at else v for i, v in enumerate(r)]
                        for r in before)
    assert now == before
