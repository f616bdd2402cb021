"""The method reference (docs/methods.md), generated from the registry: every method with its
parameters (type, default, choices), COINr's equivalent, its formula and description. A test
fails when the committed page is out of date; regenerate with
``kb methods --markdown > docs/methods.md``."""

from __future__ import annotations

from kb import methods

KINDS = [
    ("normalise", "Normalisation", "`method.normalise` in framework.yaml, or the `normalise` "
     "and `normalise_params` columns of framework.csv for one indicator"),
    ("aggregate", "Aggregation", "`method.aggregate`, or `aggregate`/`aggregate_params` for "
     "one node"),
    ("impute", "Imputation", "`method.impute`"),
    ("screen", "Unit screening", "`method.screen`"),
    ("treat", "Outlier treatment", "`method.treat`, or `treat`/`treat_params` for one "
     "indicator"),
    ("classify", "Classification", "tiers.yaml"),
]


def _default(p: methods.Param) -> str:
    if p.default is methods.REQUIRED:
        return "required"
    return "null" if p.default is None else f"`{p.default!r}`".replace("'", "")


def markdown() -> str:
    """The whole page."""
    methods.names("normalise")  # the registry, aliases included, is loaded on first use
    aliases: dict[tuple[str, str], list[str]] = {}
    for (kind, alias), name in sorted(methods.ALIASES.items()):
        aliases.setdefault((kind, name), []).append(alias)
    lines = [
        "# Scoring methods",
        "",
        "Generated from citykb's method registry (`kb methods --markdown > docs/methods.md`; "
        "a test fails when this page is out of date). A method is declared by name, with its "
        "parameters: `{name: minmax, params: {low: 1, high: 100}}`, or a bare name. COINr's "
        "function names (`n_minmax`, `a_amean`, `i_mean_grp` …) and parameter names "
        "(`l_u`, `m_sd`, `ties.method`) are accepted and stored as citykb's. An unknown "
        "parameter is rejected when the data is loaded (KB120), as is a value of the wrong "
        "type or outside its choices, or a required parameter left out (KB121).",
        "",
        "Every step runs in COINr's order: denomination (an indicator's `denominator`, a unit "
        "attribute) → imputation → unit screening → outlier treatment → direction → "
        "normalisation → aggregation → ranks. Sums, means and variances are computed as R "
        "computes them (extended precision, corrected means), so COINr's results are "
        "reproduced to the bit (tests/test_coinr_pipelines.py).",
        "",
    ]
    for kind, title, where in KINDS:
        lines += [f"## {title}", "", f"Declared as {where}.", ""]
        for name in methods.names(kind):
            m = methods.get(kind, name)
            lines.append(f"### `{name}`")
            lines.append("")
            other = [a for a in aliases.get((kind, name), []) if a != m.coinr]
            facts = []
            if m.coinr:
                facts.append(f"COINr: `{m.coinr}`")
            if other:
                facts.append("also accepted: " + ", ".join(f"`{a}`" for a in other))
            if m.formula:
                facts.append(f"formula: {m.formula}")
            if facts:
                lines += ["; ".join(facts) + ".", ""]
            lines += [" ".join(m.doc.split()), ""]
            params = m.params
            if params:
                lines += ["| parameter | type | default | choices |", "|---|---|---|---|"]
                for p in params:
                    choices = ", ".join(f"`{c}`" for c in p.choices)
                    lines.append(f"| `{p.name}` | {p.type} | {_default(p)} | {choices} |")
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"
