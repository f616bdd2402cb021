"""Runs one SELECT in a separate process, so that it can be stopped (see :mod:`kb.sparql`).

Started as a script (``python -I kb/sparql_worker.py``), it imports nothing from citykb: it
reads a JSON request on stdin — the store path, the query, the prefixes, the row cap and the
address-space limit — limits its own memory, opens the store read-only, and writes one JSON
answer on stdout: the column names, the rows (each cell ``null``, ``["i", iri]``,
``["b", id]``, ``["l", value, datatype, language]`` or ``["t", text]``) and whether the rows
were cut at the cap; or ``{"error": kind, "message": ...}``.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def _cell(term: Any) -> list[str] | None:
    import pyoxigraph as ox

    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return ["i", term.value]
    if isinstance(term, ox.BlankNode):
        return ["b", term.value]
    if isinstance(term, ox.Literal):
        return ["l", term.value, term.datatype.value, term.language or ""]
    return ["t", str(term)]


def run(request: dict[str, Any]) -> dict[str, Any]:
    memory = int(request["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import pyoxigraph as ox

    store = ox.Store.read_only(request["store"])
    try:
        result = store.query(request["query"], prefixes=request["prefixes"],
                             use_default_graph_as_union=True)
    except SyntaxError as exc:
        return {"error": "syntax", "message": str(exc)}
    if not isinstance(result, ox.QuerySolutions):
        return {"error": "not-select", "message": "only SELECT queries return tables"}
    names = [v.value for v in result.variables]
    cap = int(request["max_rows"])
    rows: list[list[list[str] | None]] = []
    truncated = False
    for solution in result:
        if len(rows) >= cap:
            truncated = True
            break
        rows.append([_cell(solution[n]) for n in names])
    return {"names": names, "rows": rows, "truncated": truncated}


def failure(exc: BaseException) -> dict[str, Any]:
    """An exception of a query as the answer the parent reads: memory, or another failure."""
    if isinstance(exc, MemoryError):
        return {"error": "memory", "message": "out of memory"}
    text = str(exc)
    kind = "memory" if "memory" in text.lower() or "alloc" in text.lower() else "query"
    return {"error": kind, "message": f"{type(exc).__name__}: {text}"}


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        answer = run(request)
    except Exception as exc:  # reported to the parent, which gives it a code
        answer = failure(exc)
    try:
        out = json.dumps(answer, ensure_ascii=False)
    except MemoryError:
        out = json.dumps({"error": "memory", "message": "out of memory writing the answer"})
    sys.stdout.write(out)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
