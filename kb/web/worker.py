"""A long-lived query worker of ``kb serve`` (run as ``python -I worker.py STORE MEMORY_MB``).

It opens the store read-only once, limits its own address space to ``MEMORY_MB``, and then
answers one query at a time: a request is a JSON line on standard input (query, format, row
cap, optional dataset), the answer a JSON header line followed by exactly ``length`` bytes of
the serialized result. The server kills a worker that runs past the time limit and starts a
new one, so no query outlives its limit. The query is checked here (:func:`kb.sparql.check_query`:
SERVICE, updates and LOAD refused) rather than in the server, since parsing it takes CPU and
the workers run side by side.

Results are serialized here, not in the server: SPARQL 1.1 Query Results JSON, XML, CSV and
TSV for SELECT and ASK; Turtle, JSON-LD, N-Triples and RDF/XML for CONSTRUCT and DESCRIBE. At
most ``max_rows`` solutions (or triples) are read; whether more were cut is in the header.
"""

from __future__ import annotations

import csv
import io
import json
import resource
import sys
from typing import Any
from xml.sax.saxutils import escape, quoteattr

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def _json_term(term: Any) -> dict[str, Any]:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                        "predicate": _json_term(term.predicate),
                                        "object": _json_term(term.object)}}


def _xml_term(term: Any) -> str:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return (f"<literal datatype={quoteattr(term.datatype.value)}>"
                    f"{escape(term.value)}</literal>")
        return f"<literal>{escape(term.value)}</literal>"
    return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>"
            f"{_xml_term(term.predicate)}</predicate><object>{_xml_term(term.object)}"
            "</object></triple>")


def _csv_value(term: Any) -> str:
    import pyoxigraph as ox

    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.NamedNode | ox.Literal):
        return str(term.value)
    return str(term)


def _select(result: Any, fmt: str, cap: int, extra: dict[str, Any]) -> tuple[bytes, int, bool]:
    names = [v.value for v in result.variables]
    rows: list[list[Any]] = []
    truncated = False
    for solution in result:
        if len(rows) >= cap:
            truncated = True
            break
        rows.append([solution[n] for n in names])
    if fmt == "json":
        body: dict[str, Any] = {
            "head": {"vars": names},
            "results": {"bindings": [{n: _json_term(t) for n, t in zip(names, r, strict=True)
                                      if t is not None} for r in rows]},
            "citykb": {**extra, "truncated": truncated, "max_rows": cap, "rows": len(rows)},
        }
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), len(rows), truncated
    if fmt == "xml":
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
               '<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>\n']
        out += [f"  <variable name={quoteattr(n)}/>\n" for n in names]
        out.append("</head>\n<results>\n")
        for r in rows:
            out.append("  <result>")
            out += [f"<binding name={quoteattr(n)}>{_xml_term(t)}</binding>"
                    for n, t in zip(names, r, strict=True) if t is not None]
            out.append("</result>\n")
        out.append("</results>\n</sparql>\n")
        return "".join(out).encode("utf-8"), len(rows), truncated
    buf = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(names)
        for r in rows:
            writer.writerow([_csv_value(t) for t in r])
    else:  # tsv: terms in Turtle/N-Triples form, header ?var
        buf.write("\t".join(f"?{n}" for n in names) + "\n")
        for r in rows:
            buf.write("\t".join("" if t is None else str(t) for t in r) + "\n")
    return buf.getvalue().encode("utf-8"), len(rows), truncated


def _boolean(value: bool, fmt: str, extra: dict[str, Any]) -> bytes:
    word = "true" if value else "false"
    if fmt == "json":
        return json.dumps({"head": {}, "boolean": value, "citykb": extra}).encode("utf-8")
    if fmt == "xml":
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="http://www.w3.org/'
                f'2005/sparql-results#">\n<head/>\n<boolean>{word}</boolean>\n</sparql>\n'
                ).encode()
    return (f"_askResult\r\n{word}\r\n" if fmt == "csv" else f"?_askResult\n{word}\n").encode()


def _graph(result: Any, fmt: str, cap: int, prefixes: dict[str, str]) -> tuple[bytes, int, bool]:
    import pyoxigraph as ox

    triples: list[Any] = []
    truncated = False
    for t in result:
        if len(triples) >= cap:
            truncated = True
            break
        triples.append(t)
    formats = {"turtle": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD,
               "ntriples": ox.RdfFormat.N_TRIPLES, "rdfxml": ox.RdfFormat.RDF_XML}
    kind = formats[fmt]
    # instance IRIs stay whole: their local names have slashes, which Turtle would escape
    used = ({k: v for k, v in prefixes.items() if k != "kbid"}
            if kind in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None)
    body = ox.serialize(triples, format=kind, prefixes=used)
    return body or b"", len(triples), truncated


def answer(store: Any, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    import pyoxigraph as ox

    from kb.errors import KbError
    from kb.sparql import QUERY_FORMS, check_query, may_be_refused

    try:  # here, not in the server: parsing takes CPU, and workers run side by side
        if may_be_refused(request["query"]):
            check_query(request["query"], QUERY_FORMS)
    except KbError as exc:
        return {"error": "refused", "code": exc.code, "message": exc.message}, b""

    options: dict[str, Any] = {"prefixes": request.get("prefixes") or {}}
    if request.get("default_graphs"):
        options["default_graph"] = [ox.NamedNode(g) for g in request["default_graphs"]]
    else:
        options["use_default_graph_as_union"] = True
    if request.get("named_graphs"):
        options["named_graphs"] = [ox.NamedNode(g) for g in request["named_graphs"]]
    try:
        result = store.query(request["query"], **options)
    except SyntaxError as exc:
        return {"error": "syntax", "message": str(exc)}, b""
    cap = int(request["max_rows"])
    formats = request["formats"]
    if isinstance(result, ox.QuerySolutions):
        fmt = formats["select"]
        body, count, truncated = _select(result, fmt, cap, {})
        return {"form": "select", "format": fmt, "rows": count, "truncated": truncated}, body
    if isinstance(result, ox.QueryBoolean):
        fmt = formats["ask"]
        return {"form": "ask", "format": fmt, "rows": 1, "truncated": False}, \
            _boolean(bool(result), fmt, {"truncated": False})
    fmt = formats["graph"]
    body, count, truncated = _graph(result, fmt, cap, request.get("prefixes") or {})
    return {"form": "graph", "format": fmt, "rows": count, "truncated": truncated}, body


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the server goes (PR_SET_PDEATHSIG), even in the
    middle of a query; elsewhere a worker ends when it reads the end of its input."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def main() -> int:
    _die_with_parent()
    store_path, memory_mb = sys.argv[1], int(sys.argv[2])
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import pyoxigraph as ox

    store = ox.Store.read_only(store_path)
    from kb.sparql import QUERY_FORMS, check_query
    from kb.sparql_worker import failure

    check_query("ASK {}", QUERY_FORMS)  # loads the SPARQL grammar before the first query
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        body = b""
        try:
            header, body = answer(store, json.loads(line))
        except Exception as exc:  # reported to the server, which gives it a code
            header = failure(exc)
        header["length"] = len(body)
        out.write(json.dumps(header).encode("utf-8") + b"\n")
        out.write(body)
        out.flush()
        if header.get("error") == "memory":
            return 3  # a worker that ran out of memory is not trusted again
    return 0


if __name__ == "__main__":
    sys.exit(main())
