"""The ``kb`` command line: thin commands over the library.

Exit codes (see docs/errors.md): 0 success · 1 a check failed (shapes or verification) · 2 bad
usage, unknown name or parameter, refused or over-limit query · 3 the input data has problems
(nothing was changed) · 4 no knowledge base, or it is in use · 70 an unexpected error inside
citykb. No command prints a traceback unless ``CITYKB_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from kb import __version__, paths
from kb.errordocs import (
    EXIT_CHECK,
    EXIT_DATA,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_STORE,
    EXIT_USAGE,
    exit_code,
)
from kb.errors import BuildError, KbError

if TYPE_CHECKING:
    import pandas as pd

    from kb.sparql import Rows

app = typer.Typer(help="citykb: a knowledge base of Chinese city composite indices.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

WIDE = 100_000
"""Console width when the output is not a terminal: piped text is never hard-wrapped."""


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(stderr=stderr, soft_wrap=not tty or stderr, width=None if tty else WIDE)


console = _console()
err = _console(stderr=True)

__all__ = ["EXIT_CHECK", "EXIT_DATA", "EXIT_INTERNAL", "EXIT_OK", "EXIT_STORE", "EXIT_USAGE",
           "app", "main"]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


Home = Annotated[Path | None, typer.Option(help="Knowledge-base home (default $CITYKB_HOME "
                                                "or ./.citykb).", show_default=False)]
Fmt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]

T = TypeVar("T")


_READERS: list[Any] = []
"""The builds this command reads, held until it exits so that no build removes them."""


def current_build(home: Path | None) -> Any:
    """The current build, held for the rest of the command like ``kb.open()`` holds it
    (kb.store imported only when a command runs)."""
    from kb.store import Reader

    reader = Reader(home)
    _READERS.append(reader)
    return reader.build


def open_store(build: Any, *, write: bool = False) -> Any:
    if not write:
        remote = remote_store(build)
        if remote is not None:
            return remote
    from kb.store import open_store as open_

    return open_(build, write=write)


# --- a SPARQL server as the store (kb/endpoint.py) ------------------------------------------

_ENDPOINT: dict[str, Any] = {}
"""The endpoint given with ``kb --endpoint URL``, and the remote store opened for it."""


@app.callback()
def _options(
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="Read from this SPARQL 1.1 endpoint (a knowledge base published "
                           "with `kb publish`) instead of the embedded store; default "
                           "$CITYKB_ENDPOINT or the config file.", show_default=False)] = None,
) -> None:
    """citykb: a knowledge base of Chinese city composite indices."""
    _ENDPOINT.clear()
    if endpoint:
        _ENDPOINT["url"] = endpoint


def remote_store(build: Any) -> Any:
    """The remote store when an endpoint is configured (else None); the columnar copy stays
    the local build's, and a note says so when the server holds another build."""
    if "store" in _ENDPOINT:
        return _ENDPOINT["store"]
    from kb.endpoint import RemoteStore, configured

    chosen = configured(_ENDPOINT.get("url"), getattr(build, "path", None) and
                        build.path.parent.parent)
    if chosen is None:
        return None
    store = RemoteStore(chosen)
    if store.version.build_id != getattr(build, "id", store.version.build_id):
        err.print("[yellow]note[/] ", end="", highlight=False)
        err.out(f"{chosen.url} holds build {store.version.build_id}; the columnar copy used "
                f"for numbers is the local build {build.id}", highlight=False)
    _ENDPOINT["store"] = store
    return store


def default_home() -> Path:
    from kb.store import default_home as home

    return home()


def _debug() -> bool:
    return os.environ.get("CITYKB_DEBUG", "") not in ("", "0")


def _error(code: str, message: str) -> None:
    """Print a coded error on stderr, plain (never wrapped, no markup from the message)."""
    from kb.errors import CATALOGUE

    err.print(f"[bold red]error[/] {code} {CATALOGUE[code].title}: ", end="", highlight=False)
    err.out(message, highlight=False)


def internal_error(exc: BaseException) -> int:
    """Report an unexpected exception as KB070 (the traceback only with CITYKB_DEBUG=1)."""
    if _debug():
        import traceback

        traceback.print_exception(exc)
    text = " ".join(str(exc).split())[:300]
    _error("KB070", f"unexpected {type(exc).__name__}{': ' + text if text else ''} (a bug in "
           "citykb; please report it with the command; CITYKB_DEBUG=1 shows the traceback)")
    return EXIT_INTERNAL


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body, turning citykb errors into messages and exit codes, and notes about
    names into notes on stderr; anything unexpected becomes KB070."""
    from kb.resolve import NameNote
    from kb.sparql import TruncatedWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NameNote)
        warnings.simplefilter("ignore", TruncatedWarning)  # emit() reports truncation
        try:
            return fn()
        except BuildError as exc:
            err.print("[bold red]build failed[/]: ", end="", highlight=False)
            err.out(str(exc), highlight=False)
            raise typer.Exit(EXIT_DATA) from None
        except KbError as exc:
            err.print("[bold red]error[/] ", end="", highlight=False)
            err.out(str(exc), highlight=False)
            raise typer.Exit(exit_code(exc.code)) from None
        except BrokenPipeError:  # the reader went away (kb ... | head): not a failure
            _quiet_stdout()
            raise typer.Exit(EXIT_OK) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise typer.Exit(internal_error(exc)) from None
        finally:
            seen: set[str] = set()
            for w in caught:
                text = str(w.message)
                if isinstance(w.message, NameNote) and text not in seen:
                    seen.add(text)
                    err.print("[yellow]note[/] ", end="", highlight=False)
                    err.out(text, highlight=False)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v) or type(v).__name__ == "NAType":
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def emit(df: pd.DataFrame, fmt: Format, title: str | None = None) -> None:
    """Print a DataFrame as a rich table, CSV or JSON records.

    A frame cut at the row cap (``attrs["truncated"]``) is never passed off as complete: a
    notice goes to stderr, JSON becomes ``{"truncated": true, "max_rows": N, "rows": [...]}``
    and CSV ends with a line ``# truncated: ...``.
    """
    truncated = bool(df.attrs.get("truncated"))
    cap = df.attrs.get("max_rows") or len(df)
    notice = (f"truncated: the answer has more than {cap:,} rows and only the first {cap:,} "
              "are shown; raise the cap with --max-rows N or $CITYKB_QUERY_MAX_ROWS")
    if fmt is Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        if truncated:
            sys.stdout.write(f"# {notice}\n")
    elif fmt is Format.json:
        records = df.to_json(orient="records", force_ascii=False, indent=1)
        if truncated:
            records = ('{"truncated": true, "max_rows": ' + str(cap) + ', "rows": '
                       + records + "}")
        sys.stdout.write(records + "\n")
    else:
        import pandas as pd
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for c in df.columns:
            numeric = pd.api.types.is_numeric_dtype(df[c])
            table.add_column(str(c), justify="right" if numeric else "left")
        for row in df.itertuples(index=False):
            table.add_row(*(_fmt(v) for v in row))
        console.print(table)
    if truncated:
        err.print("[yellow]warning[/] ", end="", highlight=False)
        err.out(notice, highlight=False)


def _typed(values: list[Any]) -> tuple[list[Any], bool]:
    """A column typed as :func:`kb.sparql.frame` types it (integers, else numbers as floats,
    booleans, else text), and whether it is numeric."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return values, False
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return values, True
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return [None if v is None else float(v) for v in values], True
    return [None if v is None else str(v) for v in values], False


def emit_rows(answer: Rows, fmt: Format, title: str | None = None,
              drop: Sequence[str] = ()) -> None:
    """Print a query's rows like :func:`emit` prints a DataFrame, without pandas."""
    import csv

    keep = [i for i, n in enumerate(answer.names) if n not in drop]
    names = [answer.names[i] for i in keep]
    typed = [_typed([r[i] for r in answer.rows]) for i in keep]
    rows = [list(r) for r in zip(*(c for c, _ in typed), strict=True)] if answer.rows else []
    cap = answer.max_rows or len(rows)
    notice = (f"truncated: the answer has more than {cap:,} rows and only the first {cap:,} "
              "are shown; raise the cap with --max-rows N or $CITYKB_QUERY_MAX_ROWS")
    if fmt is Format.csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(names)
        out.writerows([["" if v is None else v for v in r] for r in rows])
        if answer.truncated:
            sys.stdout.write(f"# {notice}\n")
    elif fmt is Format.json:
        records: Any = [dict(zip(names, r, strict=True)) for r in rows]
        if answer.truncated:
            records = {"truncated": True, "max_rows": cap, "rows": records}
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    else:
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for n, (_, numeric) in zip(names, typed, strict=True):
            table.add_column(n, justify="right" if numeric else "left")
        for r in rows:
            table.add_row(*(_fmt(v) for v in r))
        console.print(table)
    if answer.truncated:
        err.print("[yellow]warning[/] ", end="", highlight=False)
        err.out(notice, highlight=False)


@app.command()
def build(
    data: Annotated[Path | None, typer.Option(help="The data/ folder to build from.")] = None,
    home: Home = None,
    validate: Annotated[bool, typer.Option(help="Validate against the SHACL shapes.")] = True,
    score: Annotated[bool, typer.Option(help="Run each framework's scoring.")] = True,
    allow_removal: Annotated[bool, typer.Option(
        help="Publish even if the build removes a source, framework, dimension or dataset "
             "that the current knowledge base has.")] = False,
    sensitivity: Annotated[bool, typer.Option(
        help="Also run each framework's declared sensitivity analysis and record it "
             "(kb:SensitivityRun; seconds per framework, so not by default).")] = False,
) -> None:
    """Build the knowledge base from data/ (atomically: a failed build changes nothing)."""
    from kb.build import build as run_build

    def body() -> None:
        from kb.build_report import print_report, progress_printer

        target = home or default_home()
        with progress_printer() as progress:
            report = run_build(data or paths.data_dir(), target, validate=validate,
                               run_scoring=score, allow_removal=allow_removal,
                               progress=progress, sensitivity=sensitivity)
        print_report(console, report, target)

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
    top: Annotated[int | None, typer.Option("--top", "-n", min=1, max=100_000,
                                            help="Show the top N.")] = None,
    framework: Annotated[str | None, typer.Option(help="The index framework.")] = None,
    wide: Annotated[bool, typer.Option(help="Show every dimension's score beside the total "
                                             "(always included in csv and json).")] = False,
    weights: Annotated[str | None, typer.Option(
        help="The ranking under a named weight set (after `kb score --weights`).")] = None,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """The ranking of a framework's total, or of one dimension: computed where citykb scores
    the index, else the report's printed ranks or ranks derived from its printed scores
    (column rank_basis: computed, published or derived).

    Examples: kb rank · kb rank --framework mfg-2025 --top 10 · kb rank --framework dei-2020
    """
    from kb.ranking import ranking_rows
    from kb.resolve import resolve

    def body() -> None:
        store = open_store(current_build(home))
        fw = _framework(store, framework)
        dim = resolve(store, "dimension", dimension, fw) if dimension else None
        answer = ranking_rows(store, fw, dim, top, weights)
        drop: list[str] = []
        if fmt is Format.table:
            drop = ["city"]
            if not wide and dim is None:
                drop += answer.names[4:-2]      # the dimensions (total, rank_basis kept)
            if wide:
                console.width = max(console.width, 40 + 9 * len(answer.names))
        basis = answer.names.index("rank_basis")
        kinds = sorted({str(r[basis]) for r in answer.rows})
        emit_rows(answer, fmt, title=f"{dimension or 'total'} — ranking ({', '.join(kinds)})",
                  drop=drop)

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


def _read_query_file(file: Path) -> str:
    if not file.exists():
        raise KbError("KB056", f"query file {file} not found")
    if file.is_dir():
        raise KbError("KB056", f"query file {file} is a directory, not a .rq file")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KbError("KB056", f"query file {file} is not UTF-8 text ({exc.reason} at byte "
                      f"{exc.start})") from None
    except OSError as exc:
        raise KbError("KB056", f"query file {file} cannot be read: {exc.strerror}") from None


@app.command(context_settings={"help_option_names": []})
def query(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A named query from queries/.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A .rq file to run.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="A parameter, key=value (repeatable).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the named queries, by theme.")
                     ] = False,
    search: Annotated[str | None, typer.Option(
        "--search", help="List the named queries whose name, title, description, parameters, "
                         "columns or examples contain TEXT (e.g. 排名, province, erratum).")
                      ] = None,
    help_: Annotated[bool, typer.Option("--help", help="Show help (of NAME if given).")] = False,
    timeout: Annotated[float | None, typer.Option(
        help="Stop a --file query after this many seconds (default $CITYKB_QUERY_TIMEOUT "
             "or 60).", show_default=False)] = None,
    max_rows: Annotated[int | None, typer.Option(
        help="Return at most this many rows; more are cut and reported (default "
             "$CITYKB_QUERY_MAX_ROWS or 100000).", show_default=False)] = None,
    memory: Annotated[int | None, typer.Option(
        help="Memory limit of a --file query in MB (default $CITYKB_QUERY_MEMORY or 2048).",
        show_default=False)] = None,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """Run a named query or SPARQL over the union of all named graphs (GRAPH ?g works too).

    Examples: kb query --list · kb query --search 排名 · kb query dimension-ranking --help ·
    kb query dimension-ranking --param dimension=mfg-2025 ·
    kb query statements --param report=mfg2025 · kb query --file my.rq --format csv

    A --file query must be a read-only SELECT (no SERVICE, no update); it runs in a separate
    process, stopped at its time and memory limits. Answers longer than the row cap are cut,
    and the cut is reported.
    """
    from kb import queries
    from kb.sparql import Rows, isolated_rows, limits

    def body() -> None:
        if help_ and name is None:
            console.print(ctx.get_help())
            return
        if list_ or search is not None:
            found = [q for q in queries.catalog().values()
                     if search is None or q.matches(search)]
            found.sort(key=lambda q: (q.theme, q.name))
            emit_rows(Rows(["theme", "name", "title", "parameters"], [
                [q.theme, q.name, q.title, ", ".join(f"{p.name}:{p.spec}" for p in q.params)]
                for q in found]), fmt, title="named queries" + (
                    f" matching {search!r}" if search is not None else " by theme"))
            return
        if name is not None and help_:
            q = queries.get(name)
            console.print(f"[bold]{q.name}[/] — {q.title}\n\n{q.description}\n")
            for p in q.params:
                default = f" (default {p.default})" if p.default is not None else ""
                console.print(f"  --param {p.name}=<{p.spec}>{default}  {p.doc}")
            if q.columns:
                console.print("\n  columns:")
                for col, doc in q.columns:
                    console.print(f"    {col}  {doc}", highlight=False)
            for ex in q.examples:
                console.print(f"\n  example: {ex}")
            return
        bounds = limits(timeout, max_rows, memory)
        if file is not None:
            if name is not None:
                raise KbError("KB051", "give a query NAME or --file F.rq, not both")
            text = _read_query_file(file)
            b = current_build(home)
            remote = remote_store(b)
            if remote is not None:
                from kb.endpoint import remote_rows

                emit_rows(remote_rows(remote, text, bounds), fmt)
            else:
                emit_rows(isolated_rows(b.oxigraph, text, bounds), fmt)
        elif name is not None:
            q = queries.get(name)
            values = _params(param or [])
            answer = q.rows(open_store(current_build(home)), values, max_rows=bounds.max_rows)
            # in a table, the bound parameters (the same on every row) are left out
            emit_rows(answer, fmt, drop=[p.name for p in q.params] if fmt is Format.table
                      else ())
        else:
            raise KbError("KB051", "give a query NAME, --file F.rq or --list")

    _guard(body)


@app.command("errors")
def errors_cmd(
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print the catalogue as Markdown (docs/errors.md).")] = False,
    fmt: Fmt = Format.table,
) -> None:
    """The error catalogue: every code, its meaning, exit code and an example message."""
    from kb.errors import CATALOGUE

    def body() -> None:
        if markdown:
            from kb.errordocs import markdown as render

            sys.stdout.write(render())
            return
        import pandas as pd

        emit(pd.DataFrame([{"code": e.code, "title": e.title, "exit": exit_code(e.code),
                            "description": e.description, "example": e.example}
                           for e in CATALOGUE.values()]), fmt, title="error codes")

    _guard(body)


# --- scoring methods (the composite-indicator workflow) ----------------------------------

@app.command("methods")
def methods_cmd(
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print the method reference as Markdown (docs/methods.md).")] = False,
    fmt: Fmt = Format.table,
) -> None:
    """Every scoring method: its family, parameters, COINr equivalent and formula."""

    def body() -> None:
        from kb.methods.reference import markdown as render

        if markdown:
            sys.stdout.write(render())
            return
        import pandas as pd

        from kb import methods
        from kb.methods.reference import KINDS

        rows = []
        for kind, _, _ in KINDS:
            for name in methods.names(kind):
                m = methods.get(kind, name)
                rows.append({"family": kind, "method": name, "coinr": m.coinr,
                             "parameters": ", ".join(p.name for p in m.params),
                             "formula": m.formula})
        emit(pd.DataFrame(rows), fmt, title="scoring methods")

    _guard(body)


@app.command()
def sensitivity(
    framework: Annotated[str, typer.Argument(help="The index framework (name, slug or IRI).")],
    n: Annotated[int, typer.Option("--n", min=2, max=100_000,
                                   help="Saltelli base sample size N (N·(k+2) runs).")] = 64,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Random seed.")] = 0,
    spread: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Each top-level weight varies by ± this share.")] = 0.25,
    default_factors: Annotated[bool, typer.Option(
        "--default-factors", help="Vary every top-level weight and the aggregator even when "
                                  "the framework declares its uncertain choices.")] = False,
    nquads: Annotated[Path | None, typer.Option(
        "--nquads", help="Also write the run's PROV record (kb:SensitivityRun, its factors, "
                         "Sobol' indices and rank intervals) to this N-Quads file.")] = None,
    home: Home = None,
    fmt: Fmt = Format.table,
) -> None:
    """Uncertainty and variance-based sensitivity (Sobol' first-order and total indices) of
    an index's ranks over the uncertain choices its framework.yaml declares (`sensitivity:`),
    or else over its top-level weights (± --spread) and its aggregation method."""
    from rich.progress import Progress

    from kb import sensitivity as sa
    from kb.resolve import resolve
    from kb.scoring import _attributes_needed, load_plan
    from kb.store import read_observations

    def body() -> None:
        b = current_build(home)
        store = open_store(b)
        fw = resolve(store, "framework", framework)
        plan = load_plan(store, fw)
        raw = read_observations(b, dataset=plan.inputs)
        import datetime as dt

        from kb.nquads import QuadSink

        declared = [] if default_factors else sa.recorded_factors(store, fw)
        factors = declared or sa.default_factors(plan.config, spread)
        started = dt.datetime.now(dt.UTC)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("Sobol runs", total=n * (len(factors) + 2))
            result = sa.analyse(plan.config, raw, factors, n=n, seed=seed,
                                places=_attributes_needed(plan.config, store),
                                progress=lambda i, _t: bar.update(task, completed=i))
        if nquads is not None:
            sink = QuadSink()
            run = sa.record(plan.config, plan.inputs, factors, result, started,
                            dt.datetime.now(dt.UTC), sink)
            nquads.write_text(sink.text(), encoding="utf-8")
            err.print(f"wrote {run} ({len(sink)} quads) to {nquads}")
        emit(result.ranks.reset_index(names="place").assign(
            place=lambda d: d["place"].map(ns_local)), fmt,
            title=f"rank uncertainty ({result.runs} runs, N={n}, seed {seed})")
        emit(result.indices.round(4).reset_index(), fmt,
             title="Sobol' indices of the mean absolute rank shift")

    _guard(body)


@app.command()
def check(
    home: Home = None,
    fmt: Fmt = Format.table,
    shapes: Annotated[bool, typer.Option(help="Also re-validate the SHACL shapes.")] = True,
    full: Annotated[bool, typer.Option(
        "--full", help="Validate the shapes with pySHACL, the reference engine, on the whole "
                       "graph (slower), instead of citykb's set-wise SPARQL validator.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="List every statement.")] = False,
    report: Annotated[str | None, typer.Option(
        "--report", help="Only the statements of this report (slug such as mfg2025, title "
                         "or IRI); lists them all.")] = None,
    statement: Annotated[str | None, typer.Option(
        "--statement", help="Only this statement (its id, e.g. mfg2025-count-all).")] = None,
    question: Annotated[str | None, typer.Option(
        "--question", help="Only statements whose text or id contains TEXT (e.g. 江苏, "
                           "平均).")] = None,
) -> None:
    """Validate the store, verify computed scores against every published value, and
    reproduce every report's checkable statements and printed tier lists.

    With --report, --statement or --question only the matching statements are recomputed
    and listed (shapes, score verification and tier lists are skipped). Examples:
    kb check · kb check --report mfg2025 · kb check --statement bluebook2025-national-gdp-2024
    · kb check --question 江苏
    """
    from kb.ranking import scored_frameworks
    from kb.statements import check_statements, check_tiers
    from kb.validate import check_shapes, check_shapes_full
    from kb.verify import verify

    def body() -> None:
        b = current_build(home)
        store = open_store(b)
        # on a server: the shapes and statements are checked on a copy of what the server
        # holds (Virtuoso answers their SPARQL differently: docs/scaling.md); the tier lists
        # and the scores on the server itself
        held = store.snapshot() if hasattr(store, "snapshot") else store
        failed = False
        scoped = any(x is not None for x in (report, statement, question))
        if scoped:
            _check_scoped(held, b, fmt, report, statement, question)
            return
        if shapes:
            res = check_shapes_full(held) if full else check_shapes(held, observations=True)
            console.print("SHACL shapes: " + ("[green]conform[/]" if res.conforms
                                              else "[red]violations[/]"))
            for p in res.problems:
                console.print(f"  {p}", highlight=False)
            failed |= not res.conforms
        statements = check_statements(held, b)
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


def _check_scoped(store: Any, b: Any, fmt: Format, report: str | None,
                  statement: str | None, question: str | None) -> None:
    """``kb check`` of a report's, one statement's or a question's statements only."""
    from kb import namespaces as ns
    from kb.resolve import resolve
    from kb.statements import check_statements

    df = check_statements(store, b)
    if report is not None:
        df = df[df["source"] == ns.local_name(resolve(store, "source", report))]
    if statement is not None:
        df = df[df["statement"] == statement.strip()]
        if df.empty:
            raise KbError("KB140", f"no statement {statement!r} (kb query statements "
                          "--param report=R lists a report's statements)")
    if question is not None:
        needle = question.strip().casefold()
        df = df[df["text"].str.casefold().str.contains(needle, regex=False)
                | df["statement"].str.casefold().str.contains(needle, regex=False)]
    counts = df["status"].value_counts().to_dict()
    console.print("report statements: " + (", ".join(f"{n} {k}" for k, n in
                                                  sorted(counts.items())) or "none match"))
    emit(df.assign(stated=df["stated"].map(str), computed=df["computed"].map(str)), fmt,
         title="statements")
    if df["status"].str.startswith(("DIFFERS", "error")).any():
        raise typer.Exit(EXIT_CHECK)


@app.command()
def score(
    framework: Annotated[str, typer.Argument(help="The index framework (name, slug or IRI).")],
    weights: Annotated[str | None, typer.Option(
        help="Score with a named weight set instead of the declared weights.")] = None,
    direction: Annotated[list[str] | None, typer.Option(
        help="NODE=1 or NODE=-1: this node's direction for this run (repeatable).")] = None,
    weight: Annotated[list[str] | None, typer.Option(
        help="NODE=W: this node's weight for this run (repeatable).")] = None,
    home: Home = None,
) -> None:
    """Score a framework again on the current knowledge base (e.g. with another weight set,
    or with directions and weights changed for this run); the run is recorded beside the
    others."""
    from kb.build import rescore

    def body() -> None:
        dirs = {k: int(_override(k, v, "direction", (-1, 1)))
                for k, v in (s.partition("=")[::2] for s in direction or [])}
        ws = {k: _override(k, v, "weight", None) for k, v in
              (s.partition("=")[::2] for s in weight or [])}
        result = rescore(home, framework, weights, directions=dirs, weights=ws)
        console.print(f"scoring run {result.run}: {len(result.scores):,} values")

    _guard(body)


def _override(node: str, value: str, what: str, allowed: tuple[int, ...] | None) -> float:
    """One ``NODE=VALUE`` of ``kb score --direction/--weight``; KB058 when malformed."""
    from kb.errors import KbError

    try:
        v = float(value)
    except ValueError:
        v = float("nan")
    bad_value = v not in allowed if allowed is not None else v < 0
    if not node or v != v or bad_value:
        raise KbError("KB058", f"--{what} takes NODE=VALUE"
                      f"{' with VALUE 1 or -1' if allowed else ' with a weight ≥ 0'}, "
                      f"not {node}={value}")
    return v


@app.command()
def analyze(
    framework: Annotated[str, typer.Argument(help="The index framework (name, slug or IRI).")],
    compare: Annotated[str | None, typer.Option(
        help="Another framework: Spearman correlation and largest movers over shared places."
    )] = None,
    sensitivity: Annotated[int, typer.Option(
        min=0, max=100_000,
        help="Monte Carlo draws over weights and aggregation methods (0: none).")] = 0,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1,
                                      help="Random seed of the Monte Carlo.")] = 0,
    spread: Annotated[float, typer.Option(min=0.0, max=1.0,
                                          help="Weights vary by ± this share.")] = 0.25,
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
        import pandas as pd

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
    void: Annotated[Path | None, typer.Option(
        "--void", help="Also write a VoID/DCAT description of the datasets (Turtle): counts "
                       "per graph, classes and properties, licence, sources.")] = None,
    home: Home = None,
) -> None:
    """Export the knowledge base: Turtle, TriG (named graphs kept), N-Triples, N-Quads,
    JSON-LD (with a readable context) or CSV tidy tables."""
    from kb.export import export

    def body() -> None:
        b = current_build(home)
        chosen = fmt.value if fmt else out.suffix.lstrip(".")
        store = open_store(b)
        path = export(store, b, chosen, out, graph)
        console.print(f"wrote {path}")
        if void is not None:  # the description of the datasets (kb/void.py)
            from kb.void import describe

            void.parent.mkdir(parents=True, exist_ok=True)
            void.write_text(describe(store), encoding="utf-8")
            console.print(f"wrote {void}")

    _guard(body)


# --- ontology documentation (kb/docs.py) -----------------------------------------------------


@app.command("docs")
def docs_cmd(
    out: Annotated[Path, typer.Argument(help="The HTML page to write.")] = Path(
        "docs/ontology.html"),
    home: Home = None,
) -> None:
    """Write the ontology as a web page: classes, properties, individuals, SHACL shapes and
    examples from the knowledge base, in Chinese and English."""
    from kb.docs import write

    def body() -> None:
        b = current_build(home)
        console.print(f"wrote {write(out, open_store(b))}")

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


# --- kb serve and kb plot: the knowledge base on the web, and its charts --------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default; "
                                           "0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535,
                                      help="Port (0: any free port, printed).")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="SPARQL queries run at once "
                                         "(one worker process each).")] = 2,
    timeout: Annotated[float | None, typer.Option(
        help="Seconds a query may run (default $CITYKB_QUERY_TIMEOUT or 60).",
        show_default=False)] = None,
    max_rows: Annotated[int | None, typer.Option(
        help="Rows (or triples) a query returns at most; a cut is reported (default "
             "$CITYKB_QUERY_MAX_ROWS or 100000).", show_default=False)] = None,
    memory: Annotated[int | None, typer.Option(
        help="MB of address space per query worker (default $CITYKB_QUERY_MEMORY or 2048).",
        show_default=False)] = None,
    max_request: Annotated[int, typer.Option(min=1024, max=10_000_000,
                                             help="Largest request body or query string, "
                                                  "bytes.")] = 65_536,
    queue_wait: Annotated[float, typer.Option(min=0.1, max=600, help="Seconds a query waits "
                                              "for a free worker before a 503.")] = 10.0,
    home: Home = None,
) -> None:
    """Serve the knowledge base on the web: SPARQL endpoint (/sparql), a page for every IRI
    (/id/...), the query editor (/query), named queries as forms, charts."""
    from kb.web.serve import run as run_server

    def body() -> None:
        from kb.web.app import Settings

        settings = Settings.from_limits(home, timeout=timeout, max_rows=max_rows,
                                        memory_mb=memory, workers=workers,
                                        max_request=max_request, queue_wait=queue_wait)
        run_server(settings, host, port, announce=lambda text: console.out(text,
                                                                           highlight=False))

    _guard(body)


class PlotKind(StrEnum):
    radar = "radar"
    heatmap = "heatmap"
    sunburst = "sunburst"
    bump = "bump"


@app.command()
def plot(
    kind: Annotated[PlotKind, typer.Argument(help="radar CITY [FRAMEWORK] · heatmap FRAMEWORK "
                                             "· sunburst FRAMEWORK · bump FRAMEWORK_A "
                                             "FRAMEWORK_B")],
    names: Annotated[list[str], typer.Argument(help="What to plot (names, slugs or IRIs).",
                                               show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .png or .svg.")],
    home: Home = None,
) -> None:
    """Draw a chart to PNG or SVG: a city's radar profile against the median, a cities ×
    dimensions heatmap, a framework's sunburst by effective weight, two indices' ranks."""
    from kb import charts
    from kb.resolve import resolve

    def body() -> None:
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("png", "svg"):
            raise KbError("KB058", f"--out {out}: write a .png or .svg file")
        wanted = {"radar": (1, 2), "heatmap": (1, 1), "sunburst": (1, 1), "bump": (2, 2)}
        lo, hi = wanted[kind.value]
        if not lo <= len(names) <= hi:
            raise KbError("KB106", f"kb plot {kind.value} takes {lo}"
                          f"{'' if lo == hi else f' or {hi}'} name(s), got {len(names)}")
        store = open_store(current_build(home))
        if kind is PlotKind.radar:
            fig = charts.radar(store, resolve(store, "city", names[0]),
                               resolve(store, "framework", names[1]) if len(names) > 1
                               else None)
        elif kind is PlotKind.bump:
            fig = charts.bump(store, resolve(store, "framework", names[0]),
                              resolve(store, "framework", names[1]))
        else:
            fw = resolve(store, "framework", names[0])
            fig = charts.heatmap(store, fw) if kind is PlotKind.heatmap else \
                charts.sunburst(store, fw)
        data = charts.save(fig, fmt)
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise KbError("KB058", f"cannot write {out}: {exc.strerror or exc}") from None
        font = charts.cjk_font()
        console.out(f"wrote {out} ({len(data):,} bytes)" + ("" if font else
                    "; no CJK font is installed, so labels are in English"), highlight=False)

    _guard(body)


@app.command()
def publish(
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="The SPARQL server's query URL (default $CITYKB_ENDPOINT or the "
                           "config file); updates go to its authenticated endpoint.",
        show_default=False)] = None,
    home: Home = None,
) -> None:
    """Load the current build into a SPARQL server, named graph by named graph, and switch
    the server's readers to it at once; publishing the same build again changes nothing.
    Credentials: $CITYKB_ENDPOINT_USER and $CITYKB_ENDPOINT_PASSWORD (or the config file)."""
    from kb.endpoint import configured
    from kb.endpoint import publish as run_publish

    def body() -> None:
        from rich.progress import Progress

        b = current_build(home)
        chosen = configured(endpoint or _ENDPOINT.get("url"), b.path.parent.parent)
        if chosen is None:
            raise KbError("KB186", "give the server with --endpoint URL, $CITYKB_ENDPOINT or "
                          "the config file")
        store = _embedded(b)
        with Progress(console=err, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(graph: str, done: int, total: int) -> None:
                if graph not in tasks:
                    tasks[graph] = bar.add_task(graph.rsplit("/graph/", 1)[-1], total=total)
                bar.update(tasks[graph], completed=done)

            result = run_publish(store, b.id, chosen,
                                 digest=str(b.read_manifest().get("data_sha256", "")),
                                 progress=progress)
        if result.already:
            console.print(f"{chosen.url} already serves build {result.build_id}: nothing to do")
            return
        console.print(f"published build {result.build_id} to {chosen.url}: "
                      f"{len(result.graphs)} graphs, {sum(result.graphs.values()):,} triples "
                      f"({len(result.loaded)} loaded now)"
                      + (f"; removed old versions {', '.join(result.removed)}"
                         if result.removed else ""))

    _guard(body)


def _embedded(build: Any) -> Any:
    from kb.store import open_store as open_

    return open_(build)


@app.command()
def version() -> None:
    """Print the citykb version."""
    console.print(f"citykb {__version__}")


def main(argv: list[str] | None = None) -> None:
    """The ``kb`` entry point: every failure is a coded message and an exit code, never a
    traceback (unless ``CITYKB_DEBUG=1``)."""
    try:  # typer ≥ 0.20 carries its own copy of click
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover
        import click.exceptions as cx  # type: ignore[no-redef,import-not-found,unused-ignore]

    try:
        code = app(args=argv, prog_name="kb", standalone_mode=False)
    except cx.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed
            sys.exit(exc.exit_code)
        hint = ""
        if exc.ctx is not None:
            hint = f" ({exc.ctx.command_path} --help lists the options)"
        _error("KB058", exc.format_message() + hint)
        code = EXIT_USAGE
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted", highlight=False)
        code = 130
    except cx.ClickException as exc:
        _error("KB058", exc.format_message())
        code = exc.exit_code
    except BrokenPipeError:
        _quiet_stdout()
        code = EXIT_OK
    except Exception as exc:
        code = internal_error(exc)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _quiet_stdout() -> None:
    """The reader of a pipe went away (``kb ... | head``): stop writing, quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    main()
