"""The error catalogue: every problem citykb reports has a stable code.

Loaders collect :class:`Problem` objects instead of stopping at the first; a build proceeds
only when there are none. Tests compare codes, never wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ErrorType:
    code: str
    title: str
    description: str
    example: str = ""
    """An example message, shown in docs/errors.md (see :data:`EXAMPLES`)."""


CATALOGUE: dict[str, ErrorType] = {
    e.code: e
    for e in [
        ErrorType("KB001", "missing-file", "A required data file does not exist."),
        ErrorType("KB002", "unreadable-file", "A data file could not be parsed as CSV or YAML."),
        ErrorType("KB003", "missing-column", "A CSV file lacks a required column."),
        ErrorType("KB004", "invalid-value", "A cell has the wrong type or format."),
        ErrorType("KB005", "out-of-range", "A number lies outside its allowed range."),
        ErrorType("KB006", "missing-value", "A required cell is empty."),
        ErrorType("KB007", "bad-number",
                  "A number is not written as a plain, finite ASCII decimal: digits with an "
                  "optional sign, decimal point and exponent (`58.4`, `-3`, `.5`, `2e-06`). "
                  "Rejected are forms that Python or YAML would quietly read as some other "
                  "number — `5_9` (59), full-width `５９`, `inf`, `nan`, `0x10`, YAML's `1:20` "
                  "(80) — and values that overflow (`1e999`) or reach 10^15 in magnitude, "
                  "beyond which a double no longer holds every whole number exactly. Line "
                  "numbers, ranks and counts must be whole numbers (`12`, not `12.5`)."),
        ErrorType("KB008", "path-outside-data",
                  "A declared file (inputs, published scores, weight sets) or a data file "
                  "reached through a symbolic link resolves outside the data folder; every "
                  "input must live inside it, so that a build reads only what the folder "
                  "holds."),
        ErrorType("KB009", "not-utf8",
                  "A data file is not UTF-8 text (for example GBK/GB18030 saved by a Chinese "
                  "spreadsheet program); re-save it as UTF-8. The message gives the line of the "
                  "first undecodable byte and, when the bytes decode as GB18030, says so."),
        ErrorType("KB010", "duplicate-id", "Two rows declare the same id."),
        ErrorType("KB011", "duplicate-row", "Two rows state a value for the same key."),
        ErrorType("KB012", "weights-mismatch",
                  "Printed weights do not add up as the framework declares "
                  "(`weights: {unit, basis}`): with basis `parent` every sibling group must "
                  "sum to 100 % (or 1); with basis `total` all weights of a level must. A "
                  "small tolerance allows for weights printed rounded. Also reported: a "
                  "weight that is given for some siblings but not others."),
        ErrorType("KB013", "bad-erratum-target",
                  "An erratum points at nothing it can correct: its city and concept name no "
                  "value in the folder's inputs or published scores, it names neither a "
                  "concept nor a statement, or the value it says was printed is not the value "
                  "the statement it names states."),
        ErrorType("KB014", "tier-bands",
                  "Tier bands are inconsistent: a band's min is not below its max, a band "
                  "has neither bound, or two bands overlap (a score would fall in both)."),
        ErrorType("KB015", "bad-structure",
                  "A YAML file or entry, or a JSON cell (`normalise_params`), has the wrong "
                  "shape: a list where a mapping is expected (or the reverse), or a plain "
                  "value where a record is expected (an errata file that lists strings "
                  "instead of erratum records)."),
        ErrorType("KB020", "unknown-place",
                  "A row refers to a city, province or region not declared."),
        ErrorType("KB021", "unknown-node",
                  "A row refers to a framework node that is not declared."),
        ErrorType("KB022", "unknown-source", "A row refers to a source that is not declared."),
        ErrorType("KB023", "orphan-node", "A variable or indicator has no valid parent."),
        ErrorType("KB024", "wrong-level",
                  "A node's parent or a value's concept is at the wrong level."),
        ErrorType("KB025", "cycle", "The framework tree contains a cycle."),
        ErrorType("KB026", "incomplete-inputs",
                  "A place lacks an input value the framework needs."),
        ErrorType("KB027", "count-mismatch",
                  "A framework's declared node counts differ from the nodes declared."),
        ErrorType("KB030", "shape-violation", "The built graph violates a SHACL shape."),
        ErrorType("KB040", "no-store", "No knowledge base has been built at the store location."),
        ErrorType("KB041", "store-locked", "The store is in use by another process."),
        ErrorType("KB042", "build-in-progress",
                  "Another process is writing the knowledge base (build, score or import); "
                  "one writer at a time."),
        ErrorType("KB043", "write-failed",
                  "The new build could not be written (disk full, permissions); nothing was "
                  "published and the previous knowledge base is unchanged."),
        ErrorType("KB044", "shrinking-build",
                  "The new build removes a whole source, framework, dimension or dataset that "
                  "the current one has; rebuild with --allow-removal if that is intended."),
        ErrorType("KB045", "empty-build", "The data folder declares no source: nothing to build."),
        ErrorType("KB050", "unknown-name", "A name given on the command line matches nothing."),
        ErrorType("KB051", "bad-parameter", "A query parameter is missing or of the wrong type."),
        ErrorType("KB052", "bad-query", "A SPARQL query could not be parsed or run."),
        ErrorType("KB053", "query-timeout",
                  "A query ran longer than its time limit and was stopped; raise the limit with "
                  "--timeout, $CITYKB_QUERY_TIMEOUT or timeout=."),
        ErrorType("KB054", "query-memory",
                  "A query needed more memory than its limit and was stopped; raise the limit "
                  "with --memory, $CITYKB_QUERY_MEMORY or memory_mb=."),
        ErrorType("KB055", "unsafe-query",
                  "A SPARQL query would reach outside the knowledge base (SERVICE, LOAD, an "
                  "update); only read-only SELECT queries over the store are run."),
        ErrorType("KB056", "bad-query-file",
                  "A query file does not exist, is a directory, or cannot be read as UTF-8."),
        ErrorType("KB057", "query-failed",
                  "The process running a query ended without an answer."),
        ErrorType("KB058", "bad-usage",
                  "The command line is malformed: an unknown command or option, a missing "
                  "argument, or an option value of the wrong type."),
        ErrorType("KB060", "no-scores", "No scoring run exists for the framework."),
        # kb serve and kb plot (KB100–KB119)
        ErrorType("KB100", "not-acceptable",
                  "kb serve: nothing the server can send for this request fits the client's "
                  "Accept header (HTTP 406); the message lists the media types it sends."),
        ErrorType("KB101", "request-too-large",
                  "kb serve: a request (its body or query string) is larger than the server "
                  "accepts (HTTP 413); raise the limit with kb serve --max-request."),
        ErrorType("KB102", "server-busy",
                  "kb serve: every query worker stayed busy for longer than the server waits "
                  "for one (HTTP 503, with Retry-After); try again, or start the server with "
                  "more --workers."),
        ErrorType("KB103", "bad-request",
                  "kb serve: a request the SPARQL protocol does not allow: two queries, an "
                  "unsupported Content-Type, an unknown format= (HTTP 400)."),
        ErrorType("KB104", "not-found",
                  "kb serve: the knowledge base has nothing about this IRI, or the page does "
                  "not exist (HTTP 404)."),
        ErrorType("KB105", "cannot-listen",
                  "kb serve could not listen on the address and port given (in use, or not "
                  "an address of this machine)."),
        ErrorType("KB106", "nothing-to-plot",
                  "kb plot (or a chart of kb serve): the chart has no data to draw (a city "
                  "with no computed scores, two indices with no city in common), or a "
                  "required argument is missing."),
        ErrorType("KB120", "unknown-method-parameter",
                  "A method is declared with a parameter it does not take (a misspelling, or a "
                  "parameter of another method); the message lists the parameters it takes. "
                  "COINr's names are accepted (`ties.method`, `l_u`, `m_sd`, `n_minmax`, "
                  "`a_amean` …)."),
        ErrorType("KB121", "bad-method-parameter",
                  "A method parameter has a value of the wrong type or outside its choices "
                  "(`ties: lowest`, `low: \"0\"`), or a required one is missing "
                  "(goalposts without `lower`)."),
        ErrorType("KB122", "unknown-unit-group",
                  "Imputation or screening by group names a unit attribute that is not "
                  "declared for the units (a framework's `units` file, or a city's province "
                  "and region), or a unit with a missing value has no value for it."),
        ErrorType("KB123", "unknown-denominator",
                  "An indicator's denominator is not a declared unit attribute."),
        ErrorType("KB124", "screening-drops-everything",
                  "Screening units by data availability would leave no unit to score."),
        ErrorType("KB125", "bad-unit-attributes",
                  "A framework's units file (unit attributes: groupings, denominators) names "
                  "an unknown place, repeats one, or lacks the `place` column."),
        ErrorType("KB126", "bad-uncertain-factor",
                  "A framework's declared sensitivity analysis (`sensitivity:` in "
                  "framework.yaml) has a factor naming no node of the framework or an unknown "
                  "method, a weight factor without a node or with low > high, or a choice "
                  "factor with fewer than two choices."),
        ErrorType("KB127", "bad-panel",
                  "A framework declares `panel: true` but its inputs do not give every value "
                  "a year (a `period` column) or span fewer than two years; or its inputs "
                  "span several years without `panel: true`."),
        # KB140-KB159: questions of the reports (statements, statistics, ranks)
        ErrorType("KB140", "unknown-statement",
                  "kb check --statement names no statement of any report; `kb query "
                  "statements --param report=R` lists a report's statements."),
        ErrorType("KB141", "bad-report-reference",
                  "tables.csv, list_members.csv or edition_figures.csv names something its "
                  "folder does not declare: a data source missing from source.yaml, a list "
                  "missing from lists.csv, or an edition missing from editions.csv."),
        ErrorType("KB142", "bad-edition",
                  "editions.csv marks more than one edition as the report's own (role "
                  "current), or edition_figures.csv gives one figure of an edition (for one "
                  "place) twice."),
        # --- a SPARQL server as the store (kb/endpoint.py): KB180–KB199 ---
        ErrorType("KB180", "endpoint-unreachable",
                  "The SPARQL endpoint (--endpoint, $CITYKB_ENDPOINT or the config file) "
                  "cannot be reached or answered with an HTTP error that is not about the "
                  "query."),
        ErrorType("KB181", "endpoint-truncated",
                  "The server cut an answer at its own row cap (Virtuoso's ResultSetMaxRows) "
                  "and the answer could not be fetched whole in ordered pages; citykb never "
                  "returns a cut answer as complete. Add ORDER BY to the query (so that it can "
                  "be paged), narrow it, or raise the server's cap and tell citykb "
                  "($CITYKB_ENDPOINT_MAX_ROWS)."),
        ErrorType("KB182", "endpoint-partial",
                  "The server returned a partial answer (Virtuoso's \"anytime\" results after "
                  "its execution time limit, reported in the X-SQL-State header); citykb "
                  "refuses it rather than pass it off as complete."),
        ErrorType("KB183", "endpoint-query-failed",
                  "The SPARQL server could not run a query (its own error message follows)."),
        ErrorType("KB184", "endpoint-empty",
                  "The SPARQL endpoint holds no knowledge base published by `kb publish`."),
        ErrorType("KB185", "publish-failed",
                  "Loading the knowledge base into the SPARQL server failed; readers still "
                  "see the previously published version (the new graphs are never switched "
                  "in half-loaded)."),
        ErrorType("KB186", "endpoint-config",
                  "The endpoint configuration is invalid: a URL that is not http(s), or a "
                  "config file that cannot be read."),
        ErrorType("KB070", "internal-error",
                  "An unexpected error inside citykb (a bug): please report it with the "
                  "command; CITYKB_DEBUG=1 shows the traceback."),
    ]
}


EXAMPLES: dict[str, str] = {
    "KB001": "data/coo2025/values.csv: file not found",
    "KB002": "data/coo2025/source.yaml: mapping values are not allowed here (line 3)",
    "KB003": "data/coo2025/values.csv: missing column 'value'",
    "KB004": "data/coo2025/values.csv:12: value 'abc' is not a number",
    "KB005": "data/coo2025/framework.csv:7: weight -1 must be ≥ 0",
    "KB006": "data/coo2025/values.csv:12: 'place' is empty",
    "KB007": "data/coo2025/values.csv:12: '5_9' is not a plain decimal number",
    "KB008": "data/greenx2025/framework.yaml: inputs '../elsewhere/values.csv' is outside "
             "the data folder",
    "KB009": "data/coo2025/values.csv: not UTF-8 text (byte 0xc9 on line 3; it decodes as "
             "GB18030): re-save it as UTF-8",
    "KB010": "data/geography/cities.csv:40: id 'suzhou' is declared twice",
    "KB011": "data/coo2025/values.csv:88: a value for (shenzhen, gdp) is already given on row 12",
    "KB012": "data/dei2020/framework.csv: the weights of the children of 'digital-industry' "
             "sum to 95, not 100",
    "KB013": "data/coo2025/errata.yaml:4: erratum coo2025-e999 names no value of city "
             "'shenzen' and concept 'gdp'",
    "KB014": "data/dei2020/tiers.yaml: tiers 'leading' [80, 100) and 'advanced' [70, 85) "
             "overlap from 80",
    "KB015": "data/coo2025/errata.yaml: expected a list of errata, got a mapping",
    "KB020": "data/coo2025/values.csv:12: unknown place 'shenzen'",
    "KB021": "data/coo2025/values.csv:12: unknown framework node 'gdpp'",
    "KB022": "data/coo2025/framework.csv:9: unknown source 'cb-insight'",
    "KB023": "data/coo2025/framework.csv:9: parent 'econ' of 'gdp' is not declared",
    "KB024": "data/coo2025/framework.csv:9: an indicator's parent must be a variable",
    "KB025": "data/coo2025/framework.csv: a → b → a",
    "KB026": "data/coo2025/values.csv: shenzhen has no value for 'gdp'",
    "KB027": "data/coo2025/framework.yaml: declares 10 dimensions, framework.csv has 9",
    "KB030": "obs/coo-2025/inputs/shenzhen/gdp: exactly one sdmx-measure:obsValue expected",
    "KB040": "no knowledge base at /home/me/.citykb; run `kb build` first (or set CITYKB_HOME)",
    "KB041": "/home/me/.citykb/current/oxigraph is in use by another process",
    "KB042": "/home/me/.citykb is being written by process 4242 since 2026-12-01T10:00:00; "
             "try again when it has finished",
    "KB043": "writing the new build under /home/me/.citykb failed: the disk is full; nothing "
             "was published and the previous knowledge base is unchanged",
    "KB044": "data: this build would remove sources: dei2020. If that is intended, build "
             "again with --allow-removal",
    "KB045": "data/ declares no source",
    "KB050": "no place named '东不' — did you mean: 广东, 东部?",
    "KB051": "parameter top must be an integer from 1 to 10000, got '0'",
    "KB052": "invalid SPARQL: error at 1:8: expected one of Prefix, Variable, …",
    "KB053": "the query was stopped after 30 s (its time limit); raise it with --timeout "
             "SECONDS or $CITYKB_QUERY_TIMEOUT",
    "KB054": "the query was stopped: it needed more than 2048 MB (its memory limit); raise it "
             "with --memory MB or $CITYKB_QUERY_MEMORY",
    "KB055": "SERVICE <http://example.org/sparql> would query another server; citykb runs "
             "queries over its own store only",
    "KB056": "query file /tmp is a directory, not a .rq file",
    "KB057": "the query process ended with signal 9 and no answer",
    "KB058": "no such option: --tpo (kb rank --help lists the options)",
    "KB060": "no computed score of 深圳 (Shenzhen) in 经济实力 (Economic strength); run `kb build`",
    "KB100": "nothing this endpoint can send is acceptable (Accept: image/png); it sends "
             "application/sparql-results+json, application/sparql-results+xml, text/csv, …",
    "KB101": "the request body has 200,000 bytes; at most 65,536 are accepted (kb serve "
             "--max-request)",
    "KB102": "all 2 query workers stayed busy for 10 s; try again later",
    "KB103": "the request has 2 'query' parameters; the SPARQL protocol allows one",
    "KB104": "the knowledge base has nothing about https://w3id.org/citykb/id/city/atlantis",
    "KB105": "cannot listen on 127.0.0.1:8000: address already in use (choose another with "
             "--port)",
    "KB106": "上海 (Shanghai) and 浦东 (Pudong) rank no city in common",
    "KB120": "data/asem/framework.yaml: normalise method 'minmax' has no parameter 'hgih'; it "
             "takes: low, high",
    "KB121": "data/asem/framework.yaml: normalise method 'rank' parameter 'ties' must be one "
             "of high, low, min, max, average, first, dense, not 'lowest'",
    "KB122": "imputation by group: no unit attribute 'income' is declared for these places "
             "(declared: province, region)",
    "KB123": "…/indicator/flights: its denominator 'Population' is not a declared unit "
             "attribute (declared: none)",
    "KB124": "screening (availability {'min_available': 1.0}) drops every unit",
    "KB125": "data/asem/units.csv:7: unknown place 'country:xyz'",
    "KB126": "data/coo2025/framework.yaml: sensitivity factor 'weight:economy': no node "
             "'economy' in framework.csv",
    "KB127": "data/asem/framework.yaml: the inputs span the years 2018, 2019, 2020, 2021, "
             "2022: declare panel: true to score them as a panel",
    "KB140": "no statement 'mfg2025-count-al' (kb query statements --param report=R lists a "
             "report's statements)",
    "KB141": "data/mfg2025/tables.csv:3: table '表3': data source 'mof' is not declared in "
             "source.yaml (data_sources)",
    "KB142": "data/dei2020/edition_figures.csv:3: figure 'cities-assessed' of edition "
             "'dei2020-edition-2019' is given twice (rows 2 and 3)",
    "KB180": "http://127.0.0.1:8890/sparql cannot be reached: [Errno 111] Connection refused",
    "KB181": "the server cut the answer at 10,000 rows (its ResultSetMaxRows) and the query has "
             "no ORDER BY to page it by: 12,345 rows expected",
    "KB182": "the server returned a partial answer (X-SQL-State S1TAT: anytime query timeout)",
    "KB183": "Virtuoso 37000 Error SP030: SPARQL compiler, line 3: syntax error at 'LATERAL'",
    "KB184": "http://127.0.0.1:8890/sparql holds no published knowledge base; run `kb publish "
             "--endpoint URL`",
    "KB185": "graph https://w3id.org/citykb/graph/source/dei2020 holds 1,200 triples after "
             "loading, 1,204 expected; the published version is unchanged",
    "KB186": "--endpoint must be an http(s) URL, got 'localhost:8890'",
    "KB070": "unexpected ValueError: … (a bug in citykb; CITYKB_DEBUG=1 shows the traceback)",
}
"""An example message of each code (for docs/errors.md); an entry's own example wins."""

CATALOGUE = {c: replace(e, example=e.example or EXAMPLES.get(c, "")) for c, e in CATALOGUE.items()}


@dataclass(frozen=True)
class Problem:
    """One problem in the input: code, file, row (1-based data row, header = row 1) and message."""

    code: str
    message: str
    file: str = ""
    row: int | None = None

    def __post_init__(self) -> None:
        if self.code not in CATALOGUE:
            raise ValueError(f"unknown error code {self.code}")

    @property
    def title(self) -> str:
        return CATALOGUE[self.code].title

    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.row}" if self.row is not None else self.file

    def __str__(self) -> str:
        where = self.location()
        return f"{self.code} {self.title}: {where + ': ' if where else ''}{self.message}"


class KbError(Exception):
    """An error with a catalogue code, raised for bad user input or a missing store."""

    def __init__(self, code: str, message: str, *, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestions = suggestions or []

    def __str__(self) -> str:
        text = f"{self.code} {CATALOGUE[self.code].title}: {self.message}"
        if self.suggestions:
            text += " — did you mean: " + ", ".join(self.suggestions) + "?"
        return text


@dataclass
class BuildError(Exception):
    """The input data has problems; nothing was written."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input; the store was not changed"
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)
