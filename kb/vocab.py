"""What the ontology defines and what the data uses: every ``kb:`` term the knowledge base (or the
ontology, or the shapes) mentions must be defined in ontology/citykb.ttl, with an rdfs:label and
an rdfs:comment in Chinese and in English."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from kb import namespaces as ns

LANGS = ("zh", "en")
LABEL = ox.NamedNode(ns.RDFS + "label")
COMMENT = ox.NamedNode(ns.RDFS + "comment")


@dataclass
class Definition:
    iri: str
    labels: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)

    def missing(self) -> list[str]:
        """What it lacks: ``label@zh``, ``comment@en``, ..."""
        return [f"{kind}@{lang}" for kind, texts in (("label", self.labels),
                                                      ("comment", self.comments))
                for lang in LANGS if not texts.get(lang)]


def read_turtle(path: Path) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)]


def definitions(ontology: Iterable[ox.Triple]) -> dict[str, Definition]:
    """Every IRI the ontology gives a label or a comment, with them by language."""
    out: dict[str, Definition] = {}
    for t in ontology:
        if t.predicate not in (LABEL, COMMENT) or not isinstance(t.subject, ox.NamedNode):
            continue
        if not isinstance(t.object, ox.Literal):
            continue
        d = out.setdefault(t.subject.value, Definition(t.subject.value))
        texts = d.labels if t.predicate == LABEL else d.comments
        texts.setdefault(t.object.language or "", t.object.value)
    return out


def kb_terms(triples: Iterable[ox.Triple | ox.Quad]) -> dict[str, int]:
    """Every IRI in the ``kb:`` namespace in any position, with its number of uses."""
    counts: dict[str, int] = {}
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode) and term.value.startswith(ns.KB):
                counts[term.value] = counts.get(term.value, 0) + 1
    return counts


def undefined(used: Iterable[str], defined: dict[str, Definition]) -> list[str]:
    """The used ``kb:`` terms the ontology does not define (no label and no comment)."""
    return sorted(set(used) - set(defined))


def incomplete(defined: dict[str, Definition]) -> dict[str, list[str]]:
    """Defined terms of citykb (the ontology's namespace and its instances) that lack a label
    or a comment in one of the languages."""
    return {iri: d.missing() for iri, d in sorted(defined.items())
            if iri.startswith((ns.KB, ns.ID, "https://w3id.org/citykb/")) and d.missing()}
