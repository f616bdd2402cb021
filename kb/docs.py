"""The ontology as a web page (``kb docs`` → docs/ontology.html): classes, properties, the
individuals (methods, the data structure), the SHACL shapes, and examples taken from the
knowledge base, in Chinese and English.  Generated from ontology/citykb.ttl, ontology/shapes.ttl
and the current build; nothing in it is written by hand."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.namespace import OWL, RDF, RDFS

from kb import namespaces as ns
from kb.validate import ontology_path, shapes_path

SH = rdflib.Namespace(ns.SH)
SCHEMA = rdflib.Namespace(ns.SCHEMA)
DCTERMS = rdflib.Namespace(ns.DCTERMS)
QB = rdflib.Namespace(ns.QB)
PROPERTY_KINDS = (OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property)
EXAMPLES = {
    "input observation": "kb:InputDataSet",
    "published observation": "kb:PublishedDataSet",
    "computed observation": "kb:ComputedDataSet",
}

_CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; max-width: 70em; margin: 2em auto;
       padding: 0 1em; line-height: 1.5; color: #222; }
code, pre { font-family: ui-monospace, monospace; font-size: 90%; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
section.term { border-top: 1px solid #ddd; padding: .3em 0 .6em; }
h3 { margin-bottom: .2em; } .zh { color: #444; } dt { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; margin: .4em 0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .2em .5em; }
"""


def _curie(term: rdflib.term.Node) -> str:
    if isinstance(term, rdflib.BNode):
        return "[]"
    text = str(term)
    for prefix, base in sorted(ns.PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if text.startswith(base) and len(text) > len(base) and prefix != "kbid":
            return f"{prefix}:{text[len(base):]}"
    for prefix, base in (("kbsh", ns.SHAPES), ("sh", ns.SH)):
        if text.startswith(base):
            return f"{prefix}:{text[len(base):]}"
    return f"<{text}>"


def _anchor(term: rdflib.term.Node) -> str:
    return _curie(term).replace(":", "-").strip("<>").replace("/", "-")


def _link(term: rdflib.term.Node, known: set[rdflib.term.Node]) -> str:
    label = escape(_curie(term))
    if term in known:
        return f'<a href="#{_anchor(term)}"><code>{label}</code></a>'
    if isinstance(term, rdflib.URIRef):
        return f'<a href="{escape(str(term))}"><code>{label}</code></a>'
    if isinstance(term, rdflib.Literal):
        return f"<code>{escape(term.n3())}</code>"
    return f"<code>{label}</code>"


def _text(g: rdflib.Graph, s: rdflib.term.Node, p: rdflib.URIRef, lang: str) -> str:
    for o in g.objects(s, p):
        if isinstance(o, rdflib.Literal) and o.language == lang:
            return str(o)
    return ""


def _list(g: rdflib.Graph, node: rdflib.term.Node) -> list[rdflib.term.Node]:
    return list(rdflib.collection.Collection(g, node)) if node is not None else []


def _term(g: rdflib.Graph, s: rdflib.term.Node, known: set[rdflib.term.Node],
          rows: list[tuple[str, list[rdflib.term.Node]]], extra: str = "") -> str:
    zh, en = _text(g, s, RDFS.label, "zh"), _text(g, s, RDFS.label, "en")
    out = [f'<section class="term" id="{_anchor(s)}">',
           f"<h3><code>{escape(_curie(s))}</code> — {escape(en)} <span class=zh>"
           f"{escape(zh)}</span></h3>",
           f"<p>{escape(_text(g, s, RDFS.comment, 'en'))}</p>",
           f"<p class=zh>{escape(_text(g, s, RDFS.comment, 'zh'))}</p>"]
    shown = [(k, v) for k, v in rows if v]
    if shown:
        out.append("<dl>" + "".join(
            f"<dt>{escape(k)}</dt><dd>{', '.join(_link(x, known) for x in v)}</dd>"
            for k, v in shown) + "</dl>")
    out.append(extra + "</section>")
    return "\n".join(out)


def _shape(g: rdflib.Graph, s: rdflib.term.Node, known: set[rdflib.term.Node]) -> str:
    rows: list[tuple[str, str]] = []
    for p, o in sorted(g.predicate_objects(s), key=lambda po: str(po[0])):
        if p in (RDF.type, SH.message, RDFS.comment, SH.sparql, SH.property):
            continue
        if isinstance(o, rdflib.BNode) and (o, RDF.first, None) in g:
            value = "( " + " ".join(_inline(g, x) for x in _list(g, o)) + " )"
        else:
            value = _inline(g, o)
        rows.append((_curie(p), value))
    for prop in g.objects(s, SH.property):
        rows.append(("sh:property", _inline(g, prop)))
    for c in g.objects(s, SH.sparql):
        select = g.value(c, SH.select)
        rows.append(("sh:sparql", f"<pre>{escape(str(select).strip())}</pre>"))
    message = g.value(s, SH.message)
    comment = g.value(s, RDFS.comment)
    return "\n".join([
        f'<section class="term" id="{_anchor(s)}"><h3><code>{escape(_curie(s))}</code></h3>',
        f"<p>{escape(str(message))}</p>" if message else "",
        f"<p>{escape(str(comment))}</p>" if comment else "",
        "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>",
        "</section>"])


def _inline(g: rdflib.Graph, o: rdflib.term.Node) -> str:
    if isinstance(o, rdflib.BNode):
        if (o, RDF.first, None) in g:
            return "( " + " ".join(_inline(g, x) for x in _list(g, o)) + " )"
        inner = "; ".join(f"{escape(_curie(p))} {_inline(g, v)}"
                          for p, v in sorted(g.predicate_objects(o), key=lambda pv: str(pv[0]))
                          if p != SH.message)
        return f"[ {inner} ]"
    if isinstance(o, rdflib.Literal):
        if o.datatype in _PLAIN:
            return f"<code>{escape(str(o))}</code>"
        return f"<code>{escape(o.n3())}</code>"
    return f"<code>{escape(_curie(o))}</code>"


_PLAIN = {rdflib.XSD.integer, rdflib.XSD.boolean, rdflib.XSD.decimal}
"""Literals shown as Turtle writes them without a datatype."""


def _examples(store: ox.Store | None) -> str:
    if store is None:
        return "<p>(No knowledge base was built when this page was made.)</p>"
    out = []
    for title, cls in EXAMPLES.items():
        result = store.query(ns.sparql_prefixes() + f"""
            SELECT ?o ?d WHERE {{ ?d a {cls} . ?o qb:dataSet ?d }} ORDER BY ?o LIMIT 1""",
                             use_default_graph_as_union=True)
        assert isinstance(result, ox.QuerySolutions)
        found = list(result)
        if not found:
            continue
        obs, dataset = found[0]["o"], found[0]["d"]
        assert isinstance(obs, ox.NamedNode) and isinstance(dataset, ox.NamedNode)
        g = rdflib.Graph()
        for prefix, base in ns.PREFIXES.items():
            if prefix != "kbid":
                g.bind(prefix, base)
        for node in (obs, dataset):
            for q in store.quads_for_pattern(node, None, None, None):
                g.add((rdflib.URIRef(node.value), rdflib.URIRef(q.predicate.value),
                       _to_rdflib(q.object)))
        text = g.serialize(format="turtle")
        out.append(f"<h3>{escape(title)}</h3>\n<pre>{escape(text)}</pre>")
    return "\n".join(out)


def _to_rdflib(t: object) -> rdflib.term.Node:
    if isinstance(t, ox.NamedNode):
        return rdflib.URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return rdflib.BNode(t.value)
    assert isinstance(t, ox.Literal)
    if t.language:
        return rdflib.Literal(t.value, lang=t.language)
    if t.datatype.value == ns.XSD + "string":
        return rdflib.Literal(t.value)
    return rdflib.Literal(t.value, datatype=rdflib.URIRef(t.datatype.value))


def render(store: ox.Store | None = None) -> str:
    """The page, as HTML text."""
    g = rdflib.Graph().parse(ontology_path(), format="turtle")
    shapes = rdflib.Graph().parse(shapes_path(), format="turtle")
    onto = rdflib.URIRef("https://w3id.org/citykb/ontology")
    classes = sorted({s for s in g.subjects(RDF.type, OWL.Class) if isinstance(s, rdflib.URIRef)},
                     key=str)
    props = sorted({s for k in PROPERTY_KINDS for s in g.subjects(RDF.type, k)
                    if isinstance(s, rdflib.URIRef) and s not in classes}, key=str)
    individuals = sorted({s for s in g.subjects(RDF.type, OWL.NamedIndividual)}, key=str)
    shape_nodes = sorted({s for k in (SH.NodeShape, SH.PropertyShape)
                          for s in shapes.subjects(RDF.type, k)
                          if isinstance(s, rdflib.URIRef)}, key=str)
    known: set[rdflib.term.Node] = {*classes, *props, *individuals, *shape_nodes}
    counts = _counts(store)

    def uses(s: rdflib.term.Node) -> str:
        n = counts.get(str(s))
        return f"<p>Used {n:,} times in the data · 数据中使用 {n:,} 次</p>" \
            if n else ""

    parts = [f"<h1>{escape(_text(g, onto, DCTERMS.title, 'en'))}<br><span class=zh>"
             f"{escape(_text(g, onto, DCTERMS.title, 'zh'))}</span></h1>",
             f"<p>Namespace <code>{escape(ns.KB)}</code> (prefix <code>kb:</code>) · version "
             f"{escape(str(g.value(onto, OWL.versionInfo)))} · licence "
             f"{_link(g.value(onto, DCTERMS.license) or rdflib.Literal('?'), set())}</p>",
             f"<p>{escape(_text(g, onto, DCTERMS.description, 'en'))}</p>",
             f"<p class=zh>{escape(_text(g, onto, DCTERMS.description, 'zh'))}</p>",
             "<p>Contents · 目录: <a href='#classes'>Classes 类</a> · <a href='#properties'>"
             "Properties 属性</a> · <a href='#individuals'>Individuals 个体</a> · "
             "<a href='#shapes'>Shapes 约束</a> · <a href='#examples'>Examples 示例</a></p>",
             f"<h2 id=classes>Classes · 类 ({len(classes)})</h2>"]
    for c in classes:
        parts.append(_term(g, c, known, [
            ("subclass of 子类于", list(g.objects(c, RDFS.subClassOf))),
            ("union of 并集", [x for u in g.objects(c, OWL.unionOf) for x in _list(g, u)]),
            ("domain of 定义域", sorted(g.subjects(RDFS.domain, c), key=str)),
            ("range of 值域", sorted(g.subjects(RDFS.range, c), key=str)),
        ], uses(c)))
    parts.append(f"<h2 id=properties>Properties · 属性 ({len(props)})</h2>")
    for p in props:
        parts.append(_term(g, p, known, [
            ("type 类型", [t for t in g.objects(p, RDF.type) if t != RDF.Property]),
            ("domain 定义域", list(g.objects(p, RDFS.domain))),
            ("domain includes 可用于", list(g.objects(p, SCHEMA.domainIncludes))),
            ("range 值域", list(g.objects(p, RDFS.range))),
            ("range includes 取值可为", list(g.objects(p, SCHEMA.rangeIncludes))),
        ], uses(p)))
    parts.append(f"<h2 id=individuals>Individuals · 个体 ({len(individuals)})</h2>")
    for i in individuals:
        components = "".join(f"<li>{_inline(g, c)}</li>" for c in g.objects(i, QB.component))
        parts.append(_term(g, i, known, [
            ("type 类型", [t for t in g.objects(i, RDF.type) if t != OWL.NamedIndividual]),
            ("identifier 标识", list(g.objects(i, DCTERMS.identifier))),
        ], (f"<p>Components · 组件:</p><ul>{components}</ul>" if components else "")
            + uses(i)))
    parts.append(f"<h2 id=shapes>Shapes · SHACL 约束 ({len(shape_nodes)})</h2>"
                 "<p>What every build must satisfy (ontology/shapes.ttl). · "
                 "每次构建都必须满足的约束。</p>")
    parts.extend(_shape(shapes, s, known) for s in shape_nodes)
    parts.append("<h2 id=examples>Examples · 示例</h2><p>One observation of each kind, with its "
                 "dataset, as the knowledge base holds them. · "
                 "知识库中每类观测值各一例及其数据集。</p>")
    parts.append(_examples(store))
    return ("<!DOCTYPE html>\n<html lang=en>\n<head><meta charset=utf-8>\n"
            "<title>citykb ontology · citykb 本体</title>\n"
            f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _counts(store: ox.Store | None) -> dict[str, int]:
    """Uses of each term in the data (every graph but the ontology's): as a predicate, a class
    or another object."""
    if store is None:
        return {}
    out: dict[str, int] = {}
    data = f"FILTER(?g != <{ns.graph_ontology()}>)"
    for pattern in ("?s ?t ?o", "?s a ?t",
                    f"?s ?p ?t FILTER(isIRI(?t) && ?p != <{ns.RDF}type>)"):
        query = (f"SELECT ?t (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ {pattern} }} {data} }} "
                 "GROUP BY ?t")
        for r in store.query(query):  # type: ignore[union-attr]
            key = r["t"].value
            out[key] = out.get(key, 0) + int(r["n"].value)
    return out


def write(out: Path, store: ox.Store | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(store), encoding="utf-8")
    return out
