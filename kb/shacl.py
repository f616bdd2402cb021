"""Set-wise SHACL: the shapes compiled to SPARQL SELECT queries run directly on the store.

pySHACL evaluates shapes focus node by focus node over an rdflib copy of the graph.  Here each
shape's targets become one query, and its constraints a few SELECTs that return every violating
focus node (and value node) at once, evaluated by Oxigraph on the union of the store's named
graphs.  Nothing is copied out of the store and no Python code runs per triple.

Only the part of SHACL Core (and SHACL-SPARQL constraints) that citykb's shapes can use is
supported; anything else in the shapes graph raises :class:`ShapesError` when the shapes are
compiled, never silently passes:

- targets: ``sh:targetClass`` (SHACL instances: ``rdf:type/rdfs:subClassOf*`` in the data
  graph), ``sh:targetSubjectsOf``, ``sh:targetObjectsOf``, ``sh:targetNode``; the shapes
  referenced by a targeted node shape's ``sh:property`` inherit its targets.
- paths: predicate, ``sh:inversePath``, sequence, ``sh:alternativePath``,
  ``sh:zeroOrMorePath``, ``sh:oneOrMorePath``, ``sh:zeroOrOnePath``.
- value constraints: ``sh:class``, ``sh:datatype`` (the literal's lexical form must be in the
  datatype's lexical space, see :data:`LEXICAL`), ``sh:nodeKind``, ``sh:in``, ``sh:hasValue``,
  ``sh:pattern`` (+ ``sh:flags``), ``sh:minInclusive``, ``sh:maxInclusive``,
  ``sh:minExclusive``, ``sh:maxExclusive``, ``sh:minLength``, ``sh:maxLength``,
  ``sh:languageIn``, ``sh:node``, ``sh:or``, ``sh:and``, ``sh:not``, ``sh:xone``.
- cardinality: ``sh:minCount``, ``sh:maxCount``, ``sh:uniqueLang``, ``sh:qualifiedValueShape``
  with ``sh:qualifiedMinCount`` / ``sh:qualifiedMaxCount`` (not disjoint).
- ``sh:sparql`` SELECT constraints: the focus nodes are joined as ``$this`` at the start of the
  WHERE clause (pre-binding); ``$PATH`` is substituted.  The SELECT must project ``$this`` and
  group by it if it aggregates; ``$currentShape``, ``$shapesGraph``, MINUS, VALUES, SERVICE and
  sub-SELECTs are rejected, because there pre-binding is not a join.
- ``sh:message`` (``{$this}``, ``{?var}`` are filled in), ``sh:severity``, ``sh:deactivated``.

Rejected: ``sh:closed``, ``sh:equals``, ``sh:disjoint``, ``sh:lessThan``,
``sh:lessThanOrEquals``, ``sh:qualifiedValueShapesDisjoint true``, SHACL-AF targets and rules,
implicit class targets (a shape that is also a class), blank nodes as constants (``sh:in``,
``sh:hasValue``), XSD datatypes not in :data:`LEXICAL`, ``sh:sparql``, ``sh:uniqueLang`` and
qualified shapes inside ``sh:node`` / ``sh:or`` / ``sh:and`` / ``sh:xone`` / ``sh:not``.

Observations.  ``observations=False`` validates the graph without the observations' own
triples (those whose subject is a SHACL instance of ``qb:Observation``; the build checks the
observation tables with the same rules before they become RDF), without reading them:

- shapes whose only target is ``qb:Observation`` are not run, nor the SPARQL constraints of a
  shape annotated ``kbsh:reportsOn qb:Observation`` (their results are observations, reported
  through their dataset);
- focus nodes of ``sh:targetSubjectsOf`` / ``sh:targetObjectsOf`` come from the triples of
  typed nodes that are not observations, found from the rdf:type index (nodes without any
  rdf:type are reached only with ``observations=True``);
- observations among the other shapes' violating focus nodes are dropped.

What still grows with the observations is one scan of the rdf:type index for the classes in
use.  ``observations=True`` validates everything, exactly as pySHACL does.

Cost.  Oxigraph evaluates FILTER (NOT) EXISTS and property paths once per row, ~10 µs each;
the queries therefore test class membership through an OPTIONAL sub-SELECT of the class's
instances (evaluated once, then joined), datatypes with ``sameTerm(v, STRDT(STR(v), dt))``
rather than DATATYPE() (~10x faster), and a property shape targeting the subjects of its own
path reads its values without joining with the focus nodes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox

from kb import namespaces as ns

SH = ns.SH
RDF_TYPE = ns.RDF + "type"
RDF_FIRST = ns.RDF + "first"
RDF_REST = ns.RDF + "rest"
RDF_NIL = ns.RDF + "nil"
QB_OBSERVATION = ns.QB + "Observation"
REPORTS_ON = ns.SHAPES + "reportsOn"
"""Annotation on a shape with SPARQL constraints: the class of the nodes its results are about
(their ``sh:value``), when that differs from the focus node."""

VIOLATION = SH + "Violation"
INSTANCE = f"<{RDF_TYPE}>/<{ns.RDFS}subClassOf>*"


class ShapesError(ValueError):
    """The shapes graph uses a SHACL feature the set-wise validator does not implement."""


# ---------------------------------------------------------------------------------------------
# Lexical spaces (XSD 1.1 Part 2).  An ill-typed literal does not conform to sh:datatype.

_TZ = r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
_YEAR = r"-?([1-9][0-9]{3,}|0[0-9]{3})"
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[12][0-9]|3[01])"
_TIME = r"(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|24:00:00(\.0+)?)"
_DECIMAL = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
_FLOAT = rf"^({_DECIMAL}([eE][+-]?[0-9]+)?|[+-]?INF|NaN)$"

LEXICAL: dict[str, str | None] = {
    ns.XSD + "string": None,
    ns.XSD + "anyURI": None,
    ns.XSD + "boolean": r"^(true|false|1|0)$",
    ns.XSD + "decimal": rf"^{_DECIMAL}$",
    ns.XSD + "integer": r"^[+-]?[0-9]+$",
    ns.XSD + "nonNegativeInteger": r"^(\+?[0-9]+|-0+)$",
    ns.XSD + "positiveInteger": r"^\+?0*[1-9][0-9]*$",
    ns.XSD + "nonPositiveInteger": r"^(-[0-9]+|\+?0+)$",
    ns.XSD + "negativeInteger": r"^-0*[1-9][0-9]*$",
    ns.XSD + "double": _FLOAT,
    ns.XSD + "float": _FLOAT,
    ns.XSD + "gYear": rf"^{_YEAR}{_TZ}$",
    ns.XSD + "gYearMonth": rf"^{_YEAR}-{_MONTH}{_TZ}$",
    ns.XSD + "date": rf"^{_YEAR}-{_MONTH}-{_DAY}{_TZ}$",
    ns.XSD + "dateTime": rf"^{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_TZ}$",
    ns.XSD + "time": rf"^{_TIME}{_TZ}$",
}
"""Anchored regular expressions for the lexical space of each supported XSD datatype (``None``:
every string).  The day of the month is not checked against the month's length."""

_SUPPORTED_ON_SHAPE = {SH + p for p in [
    "targetClass", "targetSubjectsOf", "targetObjectsOf", "targetNode", "path", "property",
    "class", "datatype", "nodeKind", "in", "hasValue", "pattern", "flags", "minInclusive",
    "maxInclusive", "minExclusive", "maxExclusive", "minLength", "maxLength", "languageIn",
    "node", "or", "and", "not", "xone", "minCount", "maxCount", "uniqueLang",
    "qualifiedValueShape", "qualifiedMinCount", "qualifiedMaxCount",
    "qualifiedValueShapesDisjoint", "sparql", "message", "severity", "deactivated",
    # no effect on validation
    "name", "description", "order", "group", "defaultValue",
]}
_SHAPE_TYPES = {SH + "NodeShape", SH + "PropertyShape"}
_SHAPE_REFS = ("node", "property", "qualifiedValueShape", "not")
_SHAPE_LISTS = ("or", "and", "xone")
_TARGETS = ("targetClass", "targetSubjectsOf", "targetObjectsOf", "targetNode")
_NODE_KINDS = {
    SH + "IRI": "isIRI({v})",
    SH + "Literal": "isLiteral({v})",
    SH + "BlankNode": "isBlank({v})",
    SH + "BlankNodeOrIRI": "(isBlank({v}) || isIRI({v}))",
    SH + "BlankNodeOrLiteral": "(isBlank({v}) || isLiteral({v}))",
    SH + "IRIOrLiteral": "(isIRI({v}) || isLiteral({v}))",
}
_RANGES = {"minInclusive": ">=", "maxInclusive": "<=", "minExclusive": ">", "maxExclusive": "<"}
_FORBIDDEN_SPARQL = re.compile(r"\$(currentShape|shapesGraph)\b|\b(MINUS|VALUES|SERVICE)\b",
                               re.IGNORECASE)
_SELECT = re.compile(r"\bSELECT\b", re.IGNORECASE)
_AGGREGATE = re.compile(r"\b(COUNT|SUM|MIN|MAX|AVG|SAMPLE|GROUP_CONCAT)\s*\(", re.IGNORECASE)

Term = ox.NamedNode | ox.BlankNode | ox.Literal


# ---------------------------------------------------------------------------------------------
# The shapes graph, as plain dictionaries (it is small).


class _Graph:
    def __init__(self, path: Path) -> None:
        self.out: dict[Term, dict[str, list[Term]]] = defaultdict(lambda: defaultdict(list))
        for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
            s, p, o = q.subject, q.predicate, q.object
            if not isinstance(s, ox.NamedNode | ox.BlankNode) or not isinstance(
                    o, ox.NamedNode | ox.BlankNode | ox.Literal):
                raise ShapesError(f"unsupported RDF term in the shapes graph: {q}")
            self.out[s][p.value].append(o)

    def objects(self, s: Term, p: str) -> list[Term]:
        return self.out[s].get(p, []) if s in self.out else []

    def one(self, s: Term, p: str) -> Term | None:
        values = self.objects(s, p)
        if len(values) > 1:
            raise ShapesError(f"{_show(s)} has {len(values)} values of {p}; expected one")
        return values[0] if values else None

    def items(self, head: Term) -> list[Term]:
        out: list[Term] = []
        node = head
        while not (isinstance(node, ox.NamedNode) and node.value == RDF_NIL):
            first, rest = self.one(node, RDF_FIRST), self.one(node, RDF_REST)
            if first is None or rest is None:
                raise ShapesError(f"{_show(head)} is not a well-formed RDF list")
            out.append(first)
            node = rest
        return out


def _show(t: object) -> str:
    if isinstance(t, ox.NamedNode | ox.BlankNode):
        return t.value
    return "" if t is None else str(t)


def _sparql(t: Term) -> str:
    if isinstance(t, ox.BlankNode):
        raise ShapesError("a blank node cannot be a constant in a constraint (sh:in, sh:hasValue)")
    return str(t)


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _lit(t: Term | None) -> str:
    if not isinstance(t, ox.Literal):
        raise ShapesError(f"expected a literal, got {t}")
    return t.value


def _int(g: _Graph, s: Term, p: str) -> int | None:
    v = g.one(s, SH + p)
    if v is None:
        return None
    if not isinstance(v, ox.Literal) or not re.fullmatch(r"[0-9]+", v.value):
        raise ShapesError(f"{_show(s)}: sh:{p} must be a non-negative integer")
    return int(v.value)


def _true(g: _Graph, s: Term, p: str) -> bool:
    v = g.one(s, SH + p)
    return isinstance(v, ox.Literal) and v.value == "true"


def _message(g: _Graph, s: Term) -> str | None:
    msgs = [m for m in g.objects(s, SH + "message") if isinstance(m, ox.Literal)]
    msgs.sort(key=lambda m: (m.language != "en", m.language is not None))
    return msgs[0].value if msgs else None


# ---------------------------------------------------------------------------------------------
# Compiled checks


@dataclass(frozen=True)
class Check:
    """Constraints of one shape as one SELECT with ``?this`` (and maybe ``?value`` and message
    variables) per violation.  ``query`` contains the placeholder ``{FOCUS}`` for the focus
    nodes.  ``flags`` maps boolean variables of the solution to constraint components (the
    row violates each whose variable is false); without flags every row violates
    ``component``."""

    shape: str
    target: str
    """Key of the shape's focus nodes in :attr:`Compiled.targets`."""
    component: str
    path: str | None
    message: str
    severity: str
    query: str
    prefixes: str = ""
    flags: tuple[tuple[str, str], ...] = ()
    observation_only: bool = False


@dataclass(frozen=True)
class Target:
    pattern: str
    """Graph pattern binding ?this to every focus node (observations included)."""
    only_observations: bool
    parts: tuple[tuple[str, str], ...] = ()
    """(target kind, SPARQL term) pairs."""


@dataclass(frozen=True)
class Violation:
    shape: str
    component: str
    focus: Term
    path: str | None
    value: Term | None
    message: str
    severity: str


@dataclass
class Compiled:
    checks: list[Check] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)


_Add = Callable[..., None]


class _Compiler:
    def __init__(self, g: _Graph) -> None:
        self.g = g
        self.n = 0
        self.out = Compiled()

    def var(self, stem: str = "v") -> str:
        self.n += 1
        return f"?_{stem}{self.n}"

    # -- shapes and their targets -------------------------------------------------------------

    def shapes(self) -> list[Term]:
        g = self.g
        found: set[Term] = set()
        for s, props in g.out.items():
            types = {t.value for t in props.get(RDF_TYPE, []) if isinstance(t, ox.NamedNode)}
            if types & _SHAPE_TYPES or any(SH + t in props for t in _TARGETS):
                found.add(s)
            for r in _SHAPE_REFS:
                found.update(props.get(SH + r, []))
            for r in _SHAPE_LISTS:
                for head in props.get(SH + r, []):
                    found.update(g.items(head))
        for s in found:
            types = {t.value for t in g.objects(s, RDF_TYPE) if isinstance(t, ox.NamedNode)}
            if types & {ns.RDFS + "Class", ns.OWL + "Class"}:
                raise ShapesError(f"{_show(s)}: implicit class targets are not supported")
            for p in g.out.get(s, {}):
                if p.startswith(SH) and p not in _SUPPORTED_ON_SHAPE:
                    raise ShapesError(f"{_show(s)}: {p} is not supported")
        return sorted(found, key=str)

    def targets(self, s: Term) -> list[tuple[str, str]]:
        return [(kind, _sparql(t)) for kind in _TARGETS for t in self.g.objects(s, SH + kind)]

    def compile(self) -> Compiled:
        g = self.g
        shapes = [s for s in self.shapes() if not _true(g, s, "deactivated")]
        inherited: dict[Term, list[tuple[str, str]]] = defaultdict(list)
        parent: dict[Term, str] = {}
        for s in shapes:
            for p in g.objects(s, SH + "property"):
                inherited[p].extend(self.targets(s))
                if isinstance(s, ox.NamedNode):
                    parent[p] = s.value
        for s in shapes:
            targets = sorted(set(self.targets(s) + inherited.get(s, [])))
            if not targets:
                continue
            # the problem code: the shape's IRI, or that of the node shape holding it
            name = s.value if isinstance(s, ox.NamedNode) else parent.get(s)
            if name is None:
                raise ShapesError(f"a shape with targets needs an IRI (its problem code): {s}")
            patterns = [{
                "targetClass": f"?this {INSTANCE} {t} .",
                "targetSubjectsOf": f"?this {t} ?_t .",
                "targetObjectsOf": f"?_t {t} ?this .",
                "targetNode": f"BIND({t} AS ?this)",
            }[kind] for kind, t in targets]
            self.out.targets[str(s)] = Target(
                " UNION ".join(f"{{ {p} }}" for p in patterns),
                all(k == "targetClass" and t == f"<{QB_OBSERVATION}>" for k, t in targets),
                tuple(targets))
            self.shape(s, name, targets)
        return self.out

    # -- paths --------------------------------------------------------------------------------

    def path(self, p: Term) -> str:
        g = self.g
        if isinstance(p, ox.NamedNode):
            return str(p)
        if isinstance(p, ox.Literal):
            raise ShapesError(f"a literal is not a path: {p}")
        props = g.out.get(p, {})
        if RDF_FIRST in props:
            return "(" + "/".join(self.path(x) for x in g.items(p)) + ")"
        kinds = {
            SH + "inversePath": "^({})",
            SH + "zeroOrMorePath": "({})*",
            SH + "oneOrMorePath": "({})+",
            SH + "zeroOrOnePath": "({})?",
        }
        for k, fmt in kinds.items():
            inner = g.one(p, k)
            if inner is not None:
                return fmt.format(self.path(inner))
        alt = g.one(p, SH + "alternativePath")
        if alt is not None:
            return "(" + "|".join(self.path(x) for x in g.items(alt)) + ")"
        raise ShapesError(f"unsupported sh:path {p}")

    # -- conformance conditions ---------------------------------------------------------------
    #
    # A condition is a SPARQL expression, free of errors, that is true iff the node in a
    # variable satisfies a constraint, plus the graph patterns it needs: each sh:class test
    # becomes a flag bound by an OPTIONAL sub-SELECT of the class's instances, evaluated once
    # for all value nodes instead of once per value node.

    def is_instance(self, v: str, cls: Term, extra: list[str]) -> str:
        flag = self.var("k")
        extra.append(f"OPTIONAL {{ SELECT DISTINCT {v} (true AS {flag}) "
                     f"WHERE {{ {v} {INSTANCE} {_sparql(cls)} }} }}")
        return f"BOUND({flag})"

    def value_conditions(self, s: Term, v: str, extra: list[str]) -> list[tuple[str, str]]:
        """(component, condition on ``v``) for each constraint of ``s`` that tests a value node
        on its own."""
        g = self.g
        out: list[tuple[str, str]] = []

        def safe(expr: str) -> str:
            return f"COALESCE({expr}, false)"

        for c in g.objects(s, SH + "class"):
            out.append(("Class", self.is_instance(v, c, extra)))
        d = g.one(s, SH + "datatype")
        if d is not None:
            out.append(("Datatype", safe(self.datatype(d, v))))
        k = g.one(s, SH + "nodeKind")
        if k is not None:
            if not isinstance(k, ox.NamedNode) or k.value not in _NODE_KINDS:
                raise ShapesError(f"{_show(s)}: unknown sh:nodeKind {k}")
            out.append(("NodeKind", _NODE_KINDS[k.value].format(v=v)))
        for lst in g.objects(s, SH + "in"):
            members = g.items(lst)
            expr = " || ".join(f"sameTerm({v}, {_sparql(m)})" for m in members) or "false"
            out.append(("In", f"({expr})"))
        flags = g.one(s, SH + "flags")
        for pat in g.objects(s, SH + "pattern"):
            args = _string(_lit(pat)) + ("" if flags is None else ", " + _string(_lit(flags)))
            out.append(("Pattern", safe(f"(!isBlank({v}) && REGEX(STR({v}), {args}))")))
        for name, op in _RANGES.items():
            bound = g.one(s, SH + name)
            if bound is not None:
                out.append((name[0].upper() + name[1:], safe(f"({v} {op} {_sparql(bound)})")))
        for name, op in (("minLength", ">="), ("maxLength", "<=")):
            n = _int(g, s, name)
            if n is not None:
                out.append((name[0].upper() + name[1:],
                            safe(f"(!isBlank({v}) && STRLEN(STR({v})) {op} {n})")))
        langs = g.one(s, SH + "languageIn")
        if langs is not None:
            tests = " || ".join(f"langMatches(LANG({v}), {_string(_lit(x))})"
                                for x in g.items(langs)) or "false"
            out.append(("LanguageIn", safe(f"(isLiteral({v}) && ({tests}))")))
        for shape in g.objects(s, SH + "node"):
            out.append(("Node", self.conforms(shape, v, extra)))
        for lst in g.objects(s, SH + "or"):
            parts = [self.conforms(x, v, extra) for x in g.items(lst)]
            out.append(("Or", "(" + (" || ".join(parts) or "false") + ")"))
        for lst in g.objects(s, SH + "and"):
            parts = [self.conforms(x, v, extra) for x in g.items(lst)]
            out.append(("And", "(" + (" && ".join(parts) or "true") + ")"))
        for lst in g.objects(s, SH + "xone"):
            parts = [f"IF({self.conforms(x, v, extra)}, 1, 0)" for x in g.items(lst)]
            out.append(("Xone", "((" + (" + ".join(parts) or "0") + ") = 1)"))
        for x in g.objects(s, SH + "not"):
            out.append(("Not", f"!{self.conforms(x, v, extra)}"))
        hv = g.one(s, SH + "hasValue")
        if hv is not None and g.one(s, SH + "path") is None:  # on a property shape: per focus
            out.append(("HasValue", f"sameTerm({v}, {_sparql(hv)})"))
        return out

    def datatype(self, d: Term, v: str) -> str:
        # sameTerm(v, STRDT(STR(v), d)): v is a literal of datatype d (DATATYPE() is ~10x
        # slower in Oxigraph); the lexical form is then checked on its own.
        if not isinstance(d, ox.NamedNode):
            raise ShapesError(f"sh:datatype must be an IRI: {d}")
        if d.value == ns.RDF + "langString":
            return f"(isLiteral({v}) && LANG({v}) != \"\")"
        if d.value == ns.RDFS + "Literal":
            return f"isLiteral({v})"
        if d.value.startswith(ns.XSD) and d.value not in LEXICAL:
            raise ShapesError(f"sh:datatype {d.value}: its lexical space is not implemented")
        expr = f"isLiteral({v}) && sameTerm({v}, STRDT(STR({v}), {d}))"
        lexical = LEXICAL.get(d.value)
        if lexical is not None:
            expr += f" && REGEX(STR({v}), {_string(lexical)})"
        return f"({expr})"

    def conforms(self, s: Term, v: str, extra: list[str]) -> str:
        """Condition: the node in ``v`` conforms to the nested shape ``s``."""
        g = self.g
        if _true(g, s, "deactivated"):
            return "true"
        for p in ("sparql", "qualifiedValueShape", "uniqueLang"):
            if g.objects(s, SH + p):
                raise ShapesError(f"{_show(s)}: sh:{p} in a shape used by sh:node, sh:or, sh:and, "
                                  "sh:xone, sh:not or sh:qualifiedValueShape is not supported")
        parts: list[str] = []
        path_term = g.one(s, SH + "path")
        if path_term is None:
            parts += [e for _, e in self.value_conditions(s, v, extra)]
        else:
            parts += self.property_conditions(s, v, self.path(path_term))
        for prop in g.objects(s, SH + "property"):
            pt = g.one(prop, SH + "path")
            if pt is None:
                raise ShapesError(f"{_show(prop)}: an sh:property shape needs an sh:path")
            parts += self.property_conditions(prop, v, self.path(pt))
        return "(" + (" && ".join(parts) or "true") + ")"

    def property_conditions(self, s: Term, focus: str, path: str) -> list[str]:
        g = self.g
        parts: list[str] = []
        w = self.var()
        inner: list[str] = []
        conds = [c for _, c in self.value_conditions(s, w, inner)]
        if conds:
            parts.append(f"NOT EXISTS {{ {focus} {path} {w} . {' '.join(inner)} "
                         f"FILTER(!({' && '.join(conds)})) }}")
        hv = g.one(s, SH + "hasValue")
        if hv is not None:
            parts.append(f"EXISTS {{ {focus} {path} {_sparql(hv)} }}")
        lo, hi = _int(g, s, "minCount"), _int(g, s, "maxCount")
        if lo:
            parts.append(self.at_least(focus, path, lo))
        if hi is not None:
            parts.append("!" + self.at_least(focus, path, hi + 1))
        return parts

    def at_least(self, focus: str, path: str, n: int) -> str:
        if n > 3:
            raise ShapesError("sh:minCount/sh:maxCount above 3 in a nested shape is not supported")
        vs = [self.var() for _ in range(n)]
        triples = " ".join(f"{focus} {path} {w} ." for w in vs)
        distinct = " && ".join(f"!sameTerm({a}, {b})" for i, a in enumerate(vs) for b in vs[i + 1:])
        return f"EXISTS {{ {triples} {f'FILTER({distinct})' if distinct else ''} }}"

    # -- top-level checks ---------------------------------------------------------------------

    def shape(self, s: Term, name: str, targets: list[tuple[str, str]]) -> None:
        g = self.g
        sev = g.one(s, SH + "severity")
        severity = sev.value if isinstance(sev, ox.NamedNode) else VIOLATION
        message = _message(g, s) or ""
        path_term = g.one(s, SH + "path")
        path = None if path_term is None else self.path(path_term)
        shown = None if path_term is None else (
            path_term.value if isinstance(path_term, ox.NamedNode) else path)

        def add(component: str, query: str, *, msg: str | None = None, prefixes: str = "",
                flags: tuple[tuple[str, str], ...] = (), observation_only: bool = False) -> None:
            self.out.checks.append(Check(name, str(s), component, shown, msg or message,
                                         severity, query, prefixes, flags, observation_only))

        for p in ("closed", "equals", "disjoint", "lessThan", "lessThanOrEquals"):
            if g.objects(s, SH + p):
                raise ShapesError(f"{_show(s)}: sh:{p} is not supported")
        if path is None:
            for kind in ("minCount", "maxCount", "uniqueLang", "qualifiedValueShape"):
                if g.objects(s, SH + kind):
                    raise ShapesError(f"{_show(s)}: sh:{kind} needs an sh:path")
            self.value_check(s, "?this", "BIND(?this AS ?value)", add)
        else:
            # sh:targetSubjectsOf p with sh:path p: every triple ?this p ?value is a focus node
            # and a value, so with all focus nodes the checks on values need not join with them
            implied = targets == [("targetSubjectsOf", path)]
            focus = "{IMPLIED}" if implied else "{FOCUS}"
            self.value_check(s, "?value", f"?this {path} ?value .", add, focus)
            self.cardinality(s, path, add, focus)
        for c in g.objects(s, SH + "sparql"):
            self.sparql(s, c, path, add)

    def value_check(self, s: Term, v: str, bind: str, add: _Add, focus: str = "{FOCUS}") -> None:
        """All per-value constraints of a shape in one query: one flag per component."""
        extra: list[str] = []
        conds = self.value_conditions(s, v, extra)
        if not conds:
            return
        flags = tuple((self.var("ok")[1:], comp) for comp, _ in conds)
        binds = " ".join(f"BIND({c} AS ?{f})" for (f, _), (_, c) in zip(flags, conds, strict=True))
        fails = " || ".join(f"!?{f}" for f, _ in flags)
        add(conds[0][0] if len(conds) == 1 else "Value",
            f"SELECT DISTINCT ?this ?value {' '.join('?' + f for f, _ in flags)} WHERE {{ "
            f"{focus} {bind} {' '.join(extra)} {binds} FILTER({fails}) }}", flags=flags)

    def cardinality(self, s: Term, path: str, add: _Add, focus: str) -> None:
        """Counting constraints; ``focus`` is ``{IMPLIED}`` when each focus node has a value."""
        g = self.g
        hv = g.one(s, SH + "hasValue")
        if hv is not None:
            add("HasValue", f"SELECT ?this WHERE {{ {{FOCUS}} "
                            f"FILTER NOT EXISTS {{ ?this {path} {_sparql(hv)} }} }}")
        lo, hi = _int(g, s, "minCount"), _int(g, s, "maxCount")
        if lo == 1 and focus == "{FOCUS}":
            add("MinCount", f"SELECT ?this WHERE {{ {{FOCUS}} "
                            f"FILTER NOT EXISTS {{ ?this {path} ?_v }} }}")
        elif lo and lo > 1:
            add("MinCount", f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {path} ?_v }} }} "
                            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) < {lo})")
        if hi == 0:
            add("MaxCount", f"SELECT DISTINCT ?this WHERE {{ {focus} ?this {path} ?_v }}")
        elif hi is not None:
            add("MaxCount", f"SELECT ?this WHERE {{ {focus} ?this {path} ?_v }} "
                            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) > {hi})")
        if _true(g, s, "uniqueLang"):
            add("UniqueLang", f"SELECT ?this (SAMPLE(?_l) AS ?lang) WHERE {{ {focus} "
                              f"?this {path} ?_v . FILTER(isLiteral(?_v) && LANG(?_v) != \"\") "
                              f"BIND(LCASE(LANG(?_v)) AS ?_l) }} GROUP BY ?this ?_l "
                              f"HAVING (COUNT(DISTINCT ?_v) > 1)")
        qvs = g.objects(s, SH + "qualifiedValueShape")
        qlo, qhi = _int(g, s, "qualifiedMinCount"), _int(g, s, "qualifiedMaxCount")
        if len(qvs) > 1 or ((qlo is not None or qhi is not None) and not qvs):
            raise ShapesError(f"{_show(s)}: sh:qualifiedMinCount/MaxCount need exactly one "
                              "sh:qualifiedValueShape")
        if qvs:
            if _true(g, s, "qualifiedValueShapesDisjoint"):
                raise ShapesError(f"{_show(s)}: sh:qualifiedValueShapesDisjoint is not supported")
            extra: list[str] = []
            cond = self.conforms(qvs[0], "?_v", extra)
            values = f"?this {path} ?_v . {' '.join(extra)} FILTER({cond})"
            if qlo:
                add("QualifiedMinCount",
                    f"SELECT ?this WHERE {{ {{FOCUS}} OPTIONAL {{ {values} }} }} "
                    f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) < {qlo})")
            if qhi is not None:
                add("QualifiedMaxCount", f"SELECT ?this WHERE {{ {focus} {values} }} "
                                         f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) > {qhi})")

    def sparql(self, s: Term, c: Term, path: str | None, add: _Add) -> None:
        g = self.g
        if _true(g, c, "deactivated"):
            return
        for p in g.out.get(c, {}):
            if p.startswith(SH) and p not in {SH + "select", SH + "message", SH + "prefixes",
                                              SH + "deactivated"}:
                raise ShapesError(f"{_show(s)}: {p} on an sh:sparql constraint is not supported")
        select = g.one(c, SH + "select")
        if not isinstance(select, ox.Literal):
            raise ShapesError(f"{_show(s)}: an sh:sparql constraint needs one sh:select")
        text = select.value
        if _FORBIDDEN_SPARQL.search(text) or len(_SELECT.findall(text)) != 1:
            raise ShapesError(f"{_show(s)}: its SPARQL uses a feature that pre-binding does not "
                              "allow to evaluate as a join ($currentShape, $shapesGraph, MINUS, "
                              "VALUES, SERVICE or a sub-SELECT)")
        if "$PATH" in text:
            if path is None:
                raise ShapesError(f"{_show(s)}: $PATH in a node shape")
            text = text.replace("$PATH", path)
        text = re.sub(r"\$this\b", "?this", text)
        brace = text.find("{")
        if brace < 0 or "{FOCUS}" in text:
            raise ShapesError(f"{_show(s)}: cannot place the focus nodes in its SPARQL")
        # $this is one node under pre-binding; joined with all focus nodes it must stay apart:
        # in every group, and in the projection (each result's focus node; SHACL requires it)
        group = re.search(r"\bGROUP\s+BY\b(.*?)(\bHAVING\b|\bORDER\b|\bLIMIT\b|$)", text,
                          re.IGNORECASE | re.DOTALL)
        if (group and "?this" not in group.group(1)) or (not group and _AGGREGATE.search(text)):
            raise ShapesError(f"{_show(s)}: its SPARQL aggregates without GROUP BY $this")
        head = _SELECT.search(text)
        assert head is not None
        projection = text[head.end():text.index("{")]
        if "?this" not in projection and "*" not in projection:
            raise ShapesError(f"{_show(s)}: its SPARQL SELECT does not project $this")
        reports_on = {o.value for o in g.objects(s, REPORTS_ON) if isinstance(o, ox.NamedNode)}
        add("SPARQL", text[:brace + 1] + " {FOCUS} " + text[brace + 1:], msg=_message(g, c),
            prefixes="".join(self.prefixes(c)), observation_only=QB_OBSERVATION in reports_on)

    def prefixes(self, c: Term) -> list[str]:
        g = self.g
        out = []
        for ontology in g.objects(c, SH + "prefixes"):
            for d in g.objects(ontology, SH + "declare"):
                prefix, namespace = g.one(d, SH + "prefix"), g.one(d, SH + "namespace")
                out.append(f"PREFIX {_lit(prefix)}: <{_lit(namespace)}>\n")
        return out


def compile_shapes(path: Path) -> Compiled:
    """Compile a SHACL shapes file (Turtle); raises :class:`ShapesError` on any feature the
    set-wise validator does not implement.  Cached until the file changes."""
    stat = path.stat()
    return _compile(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _compile(path: Path, _mtime: int, _size: int) -> Compiled:
    return _Compiler(_Graph(path)).compile()


# ---------------------------------------------------------------------------------------------
# Running


_PLACEHOLDER = re.compile(r"\{[?$](\w+)\}")


def _fill(message: str, bound: dict[str, object]) -> str:
    """Substitute ``{?var}`` / ``{$this}`` in a message with the solution's terms."""
    return _PLACEHOLDER.sub(lambda m: _show(bound.get(m.group(1))) or m.group(0), message)


def _select(store: ox.Store, query: str) -> ox.QuerySolutions:
    result = store.query(query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    return result


def _observation_classes(store: ox.Store) -> list[str]:
    rows = _select(store, f"SELECT DISTINCT ?c WHERE {{ ?c <{ns.RDFS}subClassOf>* "
                          f"<{QB_OBSERVATION}> }}")
    return sorted({str(r["c"]) for r in rows} | {f"<{QB_OBSERVATION}>"})


class _Focus:
    """The focus-node clause of each shape's checks, computed once per target.

    The clause is the target pattern itself, except without observations for shapes targeting
    the subjects or objects of a property: their focus nodes come from the triples of typed nodes
    that are not observations (one query for all such properties, so the observations' own
    triples are never scanned), and are passed as VALUES."""

    def __init__(self, store: ox.Store, compiled: Compiled, observations: bool,
                 obs_classes: list[str]) -> None:
        self.store = store
        self.compiled = compiled
        self.observations = observations
        self.obs_classes = obs_classes
        self.cache: dict[tuple[tuple[str, str], ...], str | None] = {}
        self._triples: dict[str, list[tuple[Term, Term]]] | None = None

    def clause(self, target: Target) -> str | None:
        """``None`` when the shape has no focus node."""
        if target.parts not in self.cache:
            self.cache[target.parts] = self._clause(target)
        return self.cache[target.parts]

    def _clause(self, target: Target) -> str | None:
        inline = f"{{ SELECT DISTINCT ?this WHERE {{ {target.pattern} }} }}"
        by_property = any(k in ("targetSubjectsOf", "targetObjectsOf") for k, _ in target.parts)
        if self.observations or not by_property:  # the pattern itself: few nodes, or all
            found = _select(self.store, f"SELECT ?this WHERE {{ {target.pattern} }} LIMIT 1")
            return inline if list(found) else None
        nodes: set[Term] = set()
        for kind, t in target.parts:
            if kind == "targetSubjectsOf":
                nodes.update(s for s, _ in self.triples().get(t, []))
            elif kind == "targetObjectsOf":
                nodes.update(o for _, o in self.triples().get(t, []))
            else:  # other targets of the same shape
                pattern = (f"?this {INSTANCE} {t}" if kind == "targetClass"
                           else f"BIND({t} AS ?this)")
                nodes.update(_terms(_select(
                    self.store, f"SELECT DISTINCT ?this WHERE {{ {pattern} }}"), "this"))
        if not nodes:
            return None
        if any(isinstance(n, ox.BlankNode) for n in nodes):  # cannot be named in VALUES
            return inline
        return "VALUES ?this { " + " ".join(sorted(str(n) for n in nodes)) + " }"

    def triples(self) -> dict[str, list[tuple[Term, Term]]]:
        """Subject and object of each target property's triples whose subject is typed and not
        an observation: one scan of the rdf:type index for the classes, then per node."""
        if self._triples is None:
            props = sorted({t for target in self.compiled.targets.values()
                            for kind, t in target.parts
                            if kind in ("targetSubjectsOf", "targetObjectsOf")})
            classes = sorted(set(map(str, _terms(_select(
                self.store, f"SELECT DISTINCT ?c WHERE {{ ?x <{RDF_TYPE}> ?c }}"), "c")))
                - set(self.obs_classes))
            self._triples = defaultdict(list)
            if props and classes:
                # the LIMIT keeps Oxigraph from starting with the (observation-sized) triples of
                # the properties: it looks up each typed node's triples instead
                rows = _select(self.store, (
                    f"SELECT DISTINCT ?s ?p ?o WHERE {{ {{ SELECT DISTINCT ?s WHERE {{ "
                    f"VALUES ?k {{ {' '.join(classes)} }} ?s <{RDF_TYPE}> ?k }} LIMIT {1 << 62} }} "
                    f"?s ?p ?o FILTER(?p IN ({', '.join(props)})) }}"))
                for r in rows:
                    subj, obj = r["s"], r["o"]
                    if isinstance(subj, ox.NamedNode | ox.BlankNode) and isinstance(
                            obj, ox.NamedNode | ox.BlankNode | ox.Literal):
                        self._triples[str(r["p"])].append((subj, obj))
        return self._triples


def _terms(rows: ox.QuerySolutions, var: str) -> list[Term]:
    out: list[Term] = []
    for r in rows:
        t = r[var]
        if isinstance(t, ox.NamedNode | ox.BlankNode | ox.Literal):
            out.append(t)
    return out


def _observations_among(store: ox.Store, nodes: set[Term], obs_classes: list[str]) -> set[Term]:
    found: set[Term] = set()
    named = sorted((n for n in nodes if not isinstance(n, ox.BlankNode)), key=str)
    for i in range(0, len(named), 1000):
        values = " ".join(str(n) for n in named[i:i + 1000])
        classes = " ".join(obs_classes)
        found.update(r["x"] for r in _select(
            store, f"SELECT DISTINCT ?x WHERE {{ VALUES ?x {{ {values} }} "
                   f"VALUES ?c {{ {classes} }} ?x <{RDF_TYPE}> ?c }}"))
    blank = [n for n in nodes if isinstance(n, ox.BlankNode)]
    if blank:  # a blank node cannot be named in a query
        obs = {r["x"] for c in obs_classes
               for r in _select(store, f"SELECT ?x WHERE {{ ?x <{RDF_TYPE}> {c} "
                                       "FILTER(isBlank(?x)) }")}
        found.update(n for n in blank if n in obs)
    return found


def run(compiled: Compiled, store: ox.Store, *, observations: bool) -> list[Violation]:
    """Every violation of the compiled shapes in the union of the store's graphs."""
    out: list[Violation] = []
    obs_classes = [] if observations else _observation_classes(store)
    focus = _Focus(store, compiled, observations, obs_classes)
    for check in compiled.checks:
        target = compiled.targets[check.target]
        if not observations and (target.only_observations or check.observation_only):
            continue
        clause = focus.clause(target)
        if clause is None:
            continue
        query = check.query.replace("{IMPLIED}", "" if observations else clause)
        result = _select(store, check.prefixes + query.replace("{FOCUS}", clause))
        names = [v.value for v in result.variables]
        for row in result:
            bound = {n: row[n] for n in names if row[n] is not None}
            focus_node = bound.get("this")
            if not isinstance(focus_node, ox.NamedNode | ox.BlankNode | ox.Literal):
                raise ShapesError(f"{check.shape}: a result without its focus node")
            value = bound.get("value")
            path = bound.get("path")
            components = [c for f, c in check.flags
                          if not (isinstance(bound.get(f), ox.Literal)
                                  and bound[f].value == "true")] if check.flags \
                else [check.component]
            for component in components:
                out.append(Violation(
                    check.shape, component, focus_node,
                    _show(path) if isinstance(path, ox.NamedNode) else check.path,
                    value if isinstance(value, ox.NamedNode | ox.BlankNode | ox.Literal) else None,
                    _fill(check.message, bound), check.severity))
    if out and not observations:
        obs = _observations_among(store, {v.focus for v in out}, obs_classes)
        out = [v for v in out if v.focus not in obs]
    return out
