"""The ``kb`` command line: thin commands over the library.

Exit codes: 0 success · 1 a check failed (shapes or verification) · 2 bad usage, unknown name or
parameter · 3 the input data has problems (nothing was changed) · 4 no knowledge base, or it is
in use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from kb import __version__, paths
from kb.errors import BuildError, KbError
from kb.store import current_build, default_home, open_store

app = typer.Typer(help="citykb: a knowledge base of Chinese city composite indices.",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_CHECK, EXIT_USAGE, EXIT_DATA, EXIT_STORE = 0, 1, 2, 3, 4
_EXIT_BY_PREFIX = {"KB04": EXIT_STORE, "KB06": EXIT_STORE, "KB05": EXIT_USAGE,
                   "KB02": EXIT_DATA, "KB03": EXIT_DATA, "KB00": EXIT_DATA, "KB01": EXIT_DATA}


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


Home = Annotated[Path | None, typer.Option(help="Knowledge-base home (default $CITYKB_HOME "
                                                "or ./.citykb).", show_default=False)]
Fmt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]

T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body, turning citykb errors into messages and exit codes."""
    try:
        return fn()
    except BuildError as exc:
        err.print(f"[bold red]build failed[/]: {exc}", highlight=False)
        raise typer.Exit(EXIT_DATA) from None
    except KbError as exc:
        err.print(f"[bold red]error[/] {exc}", highlight=False)
        raise typer.Exit(_EXIT_BY_PREFIX.get(exc.code[:4], EXIT_USAGE)) from None


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def emit(df: pd.DataFrame, fmt: Format, title: str | None = None) -> None:
    """Print a DataFrame as a rich table, CSV or JSON records."""
    if fmt is Format.csv:
        sys.stdout.write(df.to_csv(index=False))
    elif fmt is Format.json:
        sys.stdout.write(df.to_json(orient="records", force_ascii=False, indent=1) + "\n")
    else:
        table = Table(title=title, show_lines=False)
        for c in df.columns:
            numeric = pd.api.types.is_numeric_dtype(df[c])
            table.add_column(str(c), justify="right" if numeric else "left")
        for row in df.itertuples(index=False):
            table.add_row(*(_fmt(v) for v in row))
        console.print(table)


@app.command()
def build(
    data: Annotated[Path | None, typer.Option(help="The data/ folder to build from.")] = None,
    home: Home = None,
    validate: Annotated[bool, typer.Option(help="Validate against the SHACL shapes.")] = True,
    score: Annotated[bool, typer.Option(help="Run each framework's scoring.")] = True,
) -> None:
    """Build the knowledge base from data/ (atomically: a failed build changes nothing)."""
    from kb.build import build as run_build

    def body() -> None:
        target = home or default_home()
        report = run_build(data or paths.data_dir(), target, validate=validate,
                           run_scoring=score)
        console.print(f"built [bold]{report.quads:,}[/] quads, {report.observations:,} "
                      f"observations into {target}")
        for r in report.runs:
            console.print(f"  scoring run {r.run}: {len(r.scores):,} scores")
        console.print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items()))

    _guard(body)


def _framework(store: Any, name: str | None) -> str:
    from kb.ranking import scored_frameworks
    from kb.resolve import resolve

    if name:
        return resolve(store, "framework", name)
    scored = scored_frameworks(store)
    if not scored:
        raise KbError("KB060", "no framework has been scored; run `kb build`")
    if len(scored) > 1:
        raise KbError("KB051", "several frameworks are scored; choose one with --framework: "
                      + ", ".join(scored))
    return scored[0]


@app.command()
def rank(
    dimension: Annotated[str | None, typer.Option("--dimension", "-d",
                                                  help="A dimension (name or IRI).")] = None,
    top: Annotated[int | None, typer.Option("--top", "-n", min=1, help="Show the top N.")] = None,
    framework: Annotated[str | None, typer.Option(help="The index framework.")] = None,
    wide: Annotated[bool, typer.Option(help="Show every dimension's score beside the total "
                                             "(always included in csv and json).")] = False,
    weights: Annotated[str | None, typer.Option(
        help="The ranking under a named weight set (after `kb score --weights`).")] = None,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """The computed ranking of a framework's total, or of one dimension."""
    from kb.ranking import ranking
    from kb.resolve import resolve

    def body() -> None:
        b = current_build(home)
        store = open_store(b)
        fw = _framework(store, framework)
        dim = resolve(store, "dimension", dimension, fw) if dimension else None
        df = ranking(store, b, fw, dim, top, weights)
        if fmt is Format.table:
            df = df.drop(columns=["city"])
            if not wide and dim is None:
                df = df[["rank", "city_zh", "city_en", "total"]]
            if wide:
                console.width = max(console.width, 40 + 9 * len(df.columns))
        emit(df, fmt, title=f"{dimension or 'total'} — computed ranking")

    _guard(body)


@app.command()
def explain(
    city: Annotated[str, typer.Argument(help="A city: Chinese or English name, slug or IRI.")],
    dimension: Annotated[str | None, typer.Argument(
        help="A dimension (or a framework for the total).")] = None,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """Where a score came from: variables, indicators, data years, sources, corrections."""
    from kb.explain import explain as run_explain

    def body() -> None:
        store = open_store(current_build(home))
        step = run_explain(store, city, dimension)
        if fmt is Format.json:
            sys.stdout.write(json.dumps(step.to_dict(), ensure_ascii=False, indent=1) + "\n")
            return
        if fmt is Format.csv:
            sys.stdout.write(step.to_frame().to_csv(index=False))
            return
        console.print(step)

    _guard(body)


def ns_local(iri: str) -> str:
    from kb.namespaces import local_name

    return local_name(iri)


def _params(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep:
            raise KbError("KB051", f"--param takes key=value, got {v!r}")
        out[key.strip()] = val
    return out


@app.command(context_settings={"help_option_names": []})
def query(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A named query from queries/.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A .rq file to run.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="A parameter, key=value (repeatable).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the named queries.")] = False,
    help_: Annotated[bool, typer.Option("--help", help="Show help (of NAME if given).")] = False,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """Run SPARQL over the union of all named graphs (GRAPH ?g works too)."""
    from kb import queries
    from kb.sparql import to_frame

    def body() -> None:
        if help_ and name is None:
            console.print(ctx.get_help())
            return
        if list_:
            cat = queries.catalog()
            df = pd.DataFrame([{"name": q.name, "title": q.title,
                                "parameters": ", ".join(f"{p.name}:{p.type}" for p in q.params)}
                               for q in cat.values()])
            emit(df, fmt, title="named queries")
            return
        if name is not None and help_:
            q = queries.get(name)
            console.print(f"[bold]{q.name}[/] — {q.title}\n\n{q.description}\n")
            for p in q.params:
                default = f" (default {p.default})" if p.default is not None else ""
                console.print(f"  --param {p.name}=<{p.type}>{default}  {p.doc}")
            for ex in q.examples:
                console.print(f"\n  example: {ex}")
            return
        store = open_store(current_build(home))
        if file is not None:
            if not file.exists():
                raise KbError("KB052", f"query file {file} not found")
            df = to_frame(store, file.read_text(encoding="utf-8"))
        elif name is not None:
            q = queries.get(name)
            df = q.run(store, _params(param or []))
            if fmt is Format.table:  # the bound parameters are the same on every row
                df = df.drop(columns=[p.name for p in q.params if p.name in df.columns])
        else:
            raise KbError("KB051", "give a query NAME, --file F.rq or --list")
        emit(df, fmt)

    _guard(body)


@app.command()
def check(
    home: Home = None,
    fmt: Fmt = Format.table,
    shapes: Annotated[bool, typer.Option(help="Also re-validate the SHACL shapes.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="List every statement.")] = False,
) -> None:
    """Validate the store, verify computed scores against every published value, and
    reproduce every report's checkable statements and printed tier lists."""
    from kb.ranking import scored_frameworks
    from kb.statements import check_statements, check_tiers
    from kb.validate import check_shapes
    from kb.verify import verify

    def body() -> None:
        b = current_build(home)
        store = open_store(b)
        failed = False
        if shapes:
            res = check_shapes(store)
            console.print("SHACL shapes: " + ("[green]conform[/]" if res.conforms
                                              else "[red]violations[/]"))
            for p in res.problems:
                console.print(f"  {p}", highlight=False)
            failed |= not res.conforms
        statements = check_statements(store, b)
        if not statements.empty:
            counts = statements["status"].value_counts().to_dict()
            console.print("report statements: " + ", ".join(f"{n} {k}" for k, n in
                                                          sorted(counts.items())))
            quiet = statements["status"].isin(["agrees", "not computable"])
            shown = statements if verbose else statements[~quiet]
            emit(shown.assign(stated=shown["stated"].map(str),
                              computed=shown["computed"].map(str)), fmt,
                 title="statements" + ("" if verbose else " that differ from the knowledge "
                                       "base (--verbose shows all)"))
            failed |= bool(statements["status"].str.startswith(("DIFFERS", "error")).any())
        tiers = check_tiers(store, b)
        if not tiers.empty:
            counts = tiers["status"].value_counts().to_dict()
            console.print("printed tier lists: " + ", ".join(f"{n} {k}" for k, n in
                                                           sorted(counts.items())))
            emit(tiers[tiers["status"] != "agrees"], fmt, title="tier disagreements")
            failed |= bool((tiers["status"] == "DIFFERS").any())
        for fw in scored_frameworks(store):
            v = verify(store, b, fw)
            c = v.counts
            console.print(f"{fw}: scores {c['scores_ok']}/{c['scores']} equal the published, "
                          f"ranks {c['ranks_ok']}/{c['ranks']}")
            if not v.ok:
                failed = True
                cols = ["city_zh", "city_en", "concept_zh", "computed", "published",
                        "computed_rank", "published_rank"]
                emit(v.mismatches[cols], fmt, title="mismatches")
        if failed:
            raise typer.Exit(EXIT_CHECK)

    _guard(body)


@app.command()
def score(
    framework: Annotated[str, typer.Argument(help="The index framework (name, slug or IRI).")],
    weights: Annotated[str | None, typer.Option(
        help="Score with a named weight set instead of the declared weights.")] = None,
    home: Home = None,
) -> None:
    """Score a framework again on the current knowledge base (e.g. with another weight set);
    the run is recorded beside the others."""
    from kb.resolve import resolve
    from kb.scoring import score as run_score

    def body() -> None:
        b = current_build(home)
        store = open_store(b, write=True)
        result = run_score(store, b, resolve(store, "framework", framework), weights)
        console.print(f"scoring run {result.run}: {len(result.scores):,} values")

    _guard(body)


@app.command()
def analyze(
    framework: Annotated[str, typer.Argument(help="The index framework (name, slug or IRI).")],
    compare: Annotated[str | None, typer.Option(
        help="Another framework: Spearman correlation and largest movers over shared places."
    )] = None,
    sensitivity: Annotated[int, typer.Option(
        help="Monte Carlo draws over weights and aggregation methods (0: none).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed of the Monte Carlo.")] = 0,
    spread: Annotated[float, typer.Option(help="Weights vary by ± this share.")] = 0.25,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """Audit an index: statistics, correlations, balance, Cronbach's alpha, comparison with
    another index, and the sensitivity of its ranks."""
    from rich.progress import Progress

    from kb import analysis
    from kb.resolve import resolve
    from kb.scoring import load_plan
    from kb.store import read_observations

    def body() -> None:
        b = current_build(home)
        store = open_store(b)
        fw = resolve(store, "framework", framework)
        t = analysis.scores_table(store, b, fw)
        emit(analysis.describe(t).reset_index(names="dimension"), fmt,
             title="dimensions: descriptive statistics")
        for method in ("pearson", "spearman"):
            emit(analysis.correlations(t, method).round(3).reset_index(names="dimension"),
                 fmt, title=f"correlations between dimensions ({method})")
        sd = analysis.balance(t)
        bal = pd.DataFrame({"place": sd.index.map(ns_local), "sd": sd.to_numpy()})
        emit(pd.concat([bal.head(5), bal.tail(5)]), fmt,
             title="balance across dimensions: least and most balanced")
        alpha = analysis.alpha_per_dimension(store, b, fw)
        if not alpha.empty:
            emit(pd.DataFrame({"dimension": alpha.index.map(t.labels),
                               "alpha": alpha.round(3).to_numpy()}), fmt,
                 title="Cronbach's alpha of each dimension's inputs")
        if compare:
            other = analysis.scores_table(store, b, resolve(store, "framework", compare))
            rho, movers = analysis.compare_ranks(t.total, other.total)
            console.print(f"Spearman rank correlation with {compare}: {rho:.3f} "
                          f"({len(t.total.index.intersection(other.total.index))} shared)")
            emit(movers.reset_index(names="place").assign(place=lambda d: d["place"].map(
                ns_local)), fmt, title="largest movers")
        if sensitivity > 0:
            plan = load_plan(store, fw)
            raw = read_observations(b, dataset=plan.inputs)
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("Monte Carlo", total=sensitivity)
                result = analysis.sensitivity(
                    plan.config, raw, draws=sensitivity, seed=seed, weight_spread=spread,
                    progress=lambda i: bar.update(task, completed=i))
            emit(result.reset_index(names="place").assign(place=lambda d: d["place"].map(
                ns_local)), fmt,
                 title=f"rank sensitivity ({sensitivity} draws, seed {seed}): median and "
                       "5–95% interval")

    _guard(body)


@app.command()
def regen(
    run: Annotated[str, typer.Argument(help="A scoring run: its id or IRI.")],
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """Recompute a scoring run from its recorded configuration and compare every value."""
    from kb.scoring import regen as run_regen

    def body() -> None:
        b = current_build(home)
        result = run_regen(open_store(b), b, run)
        if result.identical:
            console.print(f"{result.run}: all {result.compared:,} values and ranks identical")
            return
        console.print(f"{result.run}: {len(result.differences):,} of {result.compared:,} "
                      "values differ")
        emit(result.differences, fmt, title="differences")
        raise typer.Exit(EXIT_CHECK)

    _guard(body)


class ExportFormat(StrEnum):
    ttl = "ttl"
    trig = "trig"
    nt = "nt"
    nq = "nq"
    jsonld = "jsonld"
    csv = "csv"


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Argument(help="File to write (a directory for csv).")],
    fmt: Annotated[ExportFormat | None, typer.Option(
        "--format", "-f", help="Format (default: from the file's extension).")] = None,
    graph: Annotated[str | None, typer.Option(
        help="Export one named graph only (its IRI).")] = None,
    home: Home = None,
) -> None:
    """Export the knowledge base: Turtle, TriG (named graphs kept), N-Triples, N-Quads,
    JSON-LD (with a readable context) or CSV tidy tables."""
    from kb.export import export

    def body() -> None:
        b = current_build(home)
        chosen = fmt.value if fmt else out.suffix.lstrip(".")
        path = export(open_store(b), b, chosen, out, graph)
        console.print(f"wrote {path}")

    _guard(body)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A TriG or N-Quads export.")],
    home: Home = None,
) -> None:
    """Load an export (TriG or N-Quads, which keep the named graphs) as the knowledge base at
    HOME; the previous one stays if the file is bad."""
    from kb.export import import_file

    def body() -> None:
        target = home or default_home()
        b = import_file(file, target)
        console.print(f"imported {file} into {b.path}")

    _guard(body)


@app.command()
def graph(
    framework: Annotated[str, typer.Argument(help="The index framework (name, slug or IRI).")],
    graphml: Annotated[Path | None, typer.Option(help="Also write the tree as GraphML.")] = None,
    home: Home = None,
) -> None:
    """Print a framework's tree with weights and directions; optionally write GraphML."""
    import networkx as nx
    from rich.tree import Tree

    from kb import graphs
    from kb.resolve import resolve

    def body() -> None:
        store = open_store(current_build(home))
        fw = resolve(store, "framework", framework)
        g = graphs.framework_tree(store, fw)

        def label(n: str) -> str:
            a = g.nodes[n]
            name = a.get("zh") or a.get("en") or n
            extra = []
            if "weight" in a:
                extra.append(f"weight {_fmt(a['weight'])}")
            if a.get("direction") == -1:
                extra.append("direction −1")
            return f"{name} [dim]{', '.join(extra)}[/]" if extra else str(name)

        def grow(node: Tree, n: str) -> None:
            kids = sorted(g.successors(n), key=lambda k: (g.nodes[k].get("order", 0), k))
            for k in kids:
                grow(node.add(label(k)), k)

        tree = Tree(f"[bold]{label(fw)}[/]")
        grow(tree, fw)
        console.print(tree)
        problems = graphs.tree_problems(g, fw)
        for p in problems:
            err.print(f"[yellow]warning[/] {p}")
        if graphml is not None:
            nx.write_graphml(g, graphml)
            console.print(f"wrote {graphml}")

    _guard(body)


@app.command()
def version() -> None:
    """Print the citykb version."""
    console.print(f"citykb {__version__}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
