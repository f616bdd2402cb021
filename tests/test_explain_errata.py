"""kb explain lists every erratum that touches the score: on its inputs, on the report's
printed row of the score, and on the framework's nodes it is made of."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
from typer.testing import CliRunner

from kb import namespaces as ns
from kb import queries
from kb.cli import app
from kb.explain import Step, explain
from kb.sparql import select

runner = CliRunner()

# every erratum on a value of a city under a dimension of the computed index
TOUCHING = """
SELECT DISTINCT ?city ?dimension ?erratum WHERE {
  ?erratum a kb:Erratum ; kb:touches ?obs .
  ?obs sdmx-dimension:refArea ?city ; kb:concept ?c .
  ?c skos:broader* ?dimension .
  ?dimension a kb:Dimension ; skos:inScheme <https://w3id.org/citykb/id/framework/coo-2025> .
}
ORDER BY ?city ?dimension
"""


def errata(step: Step) -> set[str]:
    return {s.details["iri"] for _, s in step.walk() if s.kind == "erratum"}


def test_xian_economic_strength_shows_the_row_correction(real_home: Path) -> None:
    r = runner.invoke(app, ["explain", "西安", "经济实力", "--format", "json",
                            "--home", str(real_home)])
    assert r.exit_code == 0, r.output
    text = json.dumps(json.loads(r.stdout), ensure_ascii=False)
    for e in ("coo2025-e014", "coo2025-e015"):  # an input's, and the printed row's
        assert ns.erratum("coo2025", e) in text, e


def test_every_erratum_on_a_city_dimension_is_explained(real_store: ox.Store) -> None:
    rows = select(real_store, TOUCHING)
    expected: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        assert r["city"] is not None and r["dimension"] is not None and r["erratum"]
        expected.setdefault((r["city"].value, r["dimension"].value), set()).add(
            r["erratum"].value)
    assert len(expected) > 20
    pairs = sorted(expected)[::8]  # a spread of them, kept quick
    pairs.append((ns.place("city", "xian"), ns.node("coo-2025", "economic-strength")))
    for city, dimension in pairs:
        assert expected[(city, dimension)] <= errata(explain(real_store, city, dimension)), \
            (city, dimension)


def test_a_total_shows_the_errata_of_its_dimensions(real_store: ox.Store) -> None:
    step = explain(real_store, "宁波", "coo-2025")
    ningbo = ns.place("city", "ningbo")
    on_ningbo = {e.value for r in select(real_store, TOUCHING)
                 if (c := r["city"]) is not None and c.value == ningbo
                 and (e := r["erratum"]) is not None}
    every = set(queries.get("score-errata").run(
        real_store, {"city": ningbo, "concept": ns.framework("coo-2025")})["erratum"])
    assert on_ningbo <= every and len(every) > len(on_ningbo)  # framework-wide ones too
    assert every <= errata(step)
    assert len([c for c in step.children if c.kind == "dimension"]) == 10
