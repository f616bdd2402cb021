"""Pydantic models of the declarative inputs (data/).

Small tables (places, framework nodes, sources, errata) become one model per row. Observation
tables can hold millions of rows, so they stay pandas DataFrames and are validated set-wise in
:mod:`kb.loader`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kb.namespaces import SLUG

Slug = str
Level = Literal["dimension", "variable", "indicator"]

NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""The only way a number may be written in data/: ASCII digits, an optional sign, decimal point
and exponent. The exponent is needed by the COINr example data (R prints ``2e-06``)."""
INTEGER = re.compile(r"[+-]?[0-9]+")
LIMIT = 1e15
"""Numbers must be smaller than this in magnitude. Beyond 2**53 (about 9.0e15) a double no
longer holds every whole number, so a bigger figure could be stored as a different number; the
largest figure in the reports is 140928 (亿元), far below."""


def number_problem(text: str) -> tuple[str, str] | None:
    """Why ``text`` is not an acceptable number: (code, message), or None when it is one.

    KB004 for text that is not a number at all, KB007 for text Python would read as a number
    but that is not written plainly (``5_9``, ``５９``, ``inf``) or is not finite or too large.
    """
    if NUMBER.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            return "KB007", f"{text!r} is not a finite number"
        if abs(value) >= LIMIT:
            return "KB007", f"{text!r} is too large (magnitude must stay below 1e15)"
        return None
    try:
        float(text)
    except ValueError:
        return "KB004", f"{text!r} is not a number"
    return "KB007", (f"{text!r} is not a plain ASCII decimal number (digits, optional sign, "
                     f"'.' and exponent; no '_', full-width digits, spaces, inf or nan)")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise PydanticCustomError("KB004", "{value} is a boolean, not a number",
                                  {"value": value})
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise PydanticCustomError("KB007", "{value} is not a finite number",
                                      {"value": value})
        if abs(value) >= LIMIT:
            raise PydanticCustomError("KB007", "{value} is too large (magnitude must stay "
                                      "below 1e15)", {"value": value})
        return float(value)
    if isinstance(value, str):
        problem = number_problem(value)
        if problem is not None:
            raise PydanticCustomError(problem[0], problem[1])
        return float(value)
    raise PydanticCustomError("KB004", "expected a number, got {kind}",
                              {"kind": type(value).__name__})


def integer_problem(text: str) -> tuple[str, str] | None:
    """Why ``text`` is not an acceptable whole number: (code, message), or None."""
    if INTEGER.fullmatch(text):
        if abs(int(text)) >= LIMIT:
            return "KB007", f"{text!r} is too large"
        return None
    problem = number_problem(text)
    if problem is not None:
        return problem
    return "KB007", f"{text!r} is not a whole number"


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise PydanticCustomError("KB004", "{value} is a boolean, not a number",
                                  {"value": value})
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise PydanticCustomError("KB007", "{value} is not a whole number",
                                      {"value": value})
        value = int(value)
    if isinstance(value, int):
        if abs(value) >= LIMIT:
            raise PydanticCustomError("KB007", "{value} is too large", {"value": value})
        return value
    if isinstance(value, str):
        problem = integer_problem(value)
        if problem is not None:
            raise PydanticCustomError(problem[0], problem[1])
        return int(value)
    raise PydanticCustomError("KB004", "expected a whole number, got {kind}",
                              {"kind": type(value).__name__})


_NUMBERS_IN_TEXT = re.compile(r"[-+\u2212]?(?:[0-9]+(?:[.,][0-9]+)*|\.[0-9]+)")


def numbers_in(text: str) -> list[float]:
    """The numbers written in a free text (``近60万亿元`` → [60.0]; ``1,234.5`` → [1234.5])."""
    out = []
    for m in _NUMBERS_IN_TEXT.findall(text):
        try:
            out.append(float(m.replace("\u2212", "-").replace(",", "")))
        except ValueError:
            continue
    return out


def records_value(texts: list[str | None], value: float, decimals: int | None) -> bool:
    """Whether ``value`` (printed with ``decimals``) is among the numbers in ``texts`` — the
    values an erratum says were printed. True when there is no text to compare with."""
    given = [t for t in texts if t]
    if not given:
        return True
    for t in given:
        for v in numbers_in(t):
            if decimals is not None and round(v, decimals) == round(value, decimals):
                return True
            if math.isclose(v, value, rel_tol=1e-9, abs_tol=1e-12):
                return True
    return False


Number = Annotated[float, BeforeValidator(_number)]
"""A finite number written plainly (see :data:`NUMBER`)."""
Whole = Annotated[int, BeforeValidator(_integer)]
"""A whole number written plainly: line numbers, counts, decimals."""


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{value!r} is not a slug (lowercase ASCII letters, digits and '-')")
    return value


class Row(BaseModel):
    """A row of a data file; ``row`` is its 1-based line in the file (header = 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    row: int = Field(default=0, exclude=True)


class IdRow(Row):
    """A row declaring something with an id: a lowercase ASCII slug (it becomes an IRI)."""

    id: Slug

    _check_id = field_validator("id")(_slug)


class Region(IdRow):
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    cite: str = ""


class Province(IdRow):
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    kind: Literal["province", "municipality", "autonomous-region", "sar"]
    region: Slug | None = None
    cite: str = ""


class City(IdRow):
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    province: Slug
    cite: str = ""


PLACE_KINDS = ("region", "province", "city", "county", "cluster", "country")
PLACE_REF = re.compile(r"^(region|province|city|county|cluster|country):[a-z0-9]+(?:-[a-z0-9]+)*$")


def _place_ref(value: str) -> str:
    if not PLACE_REF.match(value):
        raise ValueError(f"{value!r} is not a place reference (kind:id, kind one of "
                         f"{', '.join(PLACE_KINDS)})")
    return value


class County(IdRow):
    """A county-level unit: district (市辖区), county-level city (县级市) or county (县)."""

    name_zh: str = Field(min_length=1)
    name_en: str = ""
    kind: Literal["district", "county-level-city", "county"]
    city: Slug | None = None
    province: Slug
    cite: str = ""


class OtherPlace(IdRow):
    """A place of another kind (a country, for frameworks that score countries)."""

    kind: Literal["country"]
    name_zh: str = ""
    name_en: str = Field(min_length=1)
    within: str | None = None
    cite: str = ""


class Cluster(IdRow):
    """A city cluster or strategy area as one source defines it."""

    name_zh: str = Field(min_length=1)
    name_en: str = ""
    kind: Literal["city-cluster", "strategy-area", "city-group"]
    """``city-group``: a set of cities a report defines by its own criteria (the
    manufacturing report's 50 制造业强市), not a geographic cluster."""
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    cite: str = ""
    note: str = ""


class ClusterMember(Row):
    cluster: Slug
    place: str
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    cite: str = ""
    note: str = ""

    _check_place = field_validator("place")(_place_ref)


class Citation(BaseModel):
    """Where in a report's text a statement was read: 1-based lines of each edition."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: str = ""
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)


class DataSource(IdRow):
    name_zh: str = ""
    name_en: str = ""
    publisher: str = ""
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    note: str = ""


class Publisher(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Slug
    name_zh: str = ""
    name_en: str = ""
    note: str = ""


class Reference(BaseModel):
    """An official document cited by a folder for facts not taken from the seed reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Slug
    title_zh: str = ""
    title_en: str = ""
    publisher: str = ""
    issued: str = ""
    note: str = ""


class SourceMeta(BaseModel):
    """A source folder's ``source.yaml``: the report it transcribes, or the documents it cites.

    A report folder states the report itself (titles, publishers, issue date, the seed texts
    of each edition) and ``data_sources``, the sources its indicator table names. A folder of
    reference facts (geography) lists the official documents it cites in ``sources``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    id: Slug
    title_zh: str = ""
    title_en: str = ""
    publishers: list[Publisher] = []
    issued: str = ""
    seeds: dict[str, str] = {}
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    note: str = ""
    data_sources: list[DataSource] = []
    sources: list[Reference] = []

    @property
    def is_report(self) -> bool:
        return bool(self.title_zh or self.title_en)


class CallSpec(BaseModel):
    """A method by registry name with its parameters; a bare string is a name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("params")
    @classmethod
    def _finite_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        finite_tree(v)
        return v


def finite_tree(value: Any) -> Any:
    """Reject a non-finite or too large number anywhere in free-form parameters."""
    if isinstance(value, dict):
        for v in value.values():
            finite_tree(v)
    elif isinstance(value, list):
        for v in value:
            finite_tree(v)
    elif isinstance(value, float | int) and not isinstance(value, bool):
        _number(value)
    return value


class MethodSpec(BaseModel):
    """How a framework is scored — the defaults for its nodes: normalisation of inputs,
    aggregation of children, imputation, coverage threshold, ranking — and the method as the
    report states it (``parameters``, and the lines of its description in each edition)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = ""
    name_zh: str = ""
    name_en: str = ""
    normalise: CallSpec = CallSpec(name="none")
    aggregate: CallSpec = CallSpec(name="sum")
    impute: CallSpec = CallSpec(name="none")
    screen: CallSpec = CallSpec(name="none")
    """Unit screening by data availability, before treatment (COINr's ``Screen``)."""
    treat: CallSpec = CallSpec(name="none")
    """Outlier treatment of every input, before normalisation (COINr's ``Treat``)."""
    threshold: Number | None = Field(default=None, ge=0, le=1)
    threshold_basis: Literal["weight", "count"] = "weight"
    rank: Literal["competition"] = "competition"
    parameters: dict[str, Any] = {}
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    reproducible: bool = True
    """False when the report names its method but not enough of it to recompute the scores
    (weights not printed): the framework then asserts the report's own method (``id``, names,
    ``known``, ``unknown``) instead of citykb's aggregation defaults."""
    known: list[str] = []
    """What the report states about its method (English, each citing its line)."""
    unknown: list[str] = []
    """What the report leaves unstated that recomputing its scores would need."""

    _finite_parameters = field_validator("parameters")(finite_tree)


class Counts(BaseModel):
    """How many nodes of each level the report says its framework has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dimensions: Whole | None = Field(default=None, ge=0)
    variables: Whole | None = Field(default=None, ge=0)
    indicators: Whole | None = Field(default=None, ge=0)


class InputSpec(BaseModel):
    """The file of input values and the bounds each value must respect."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    level: Level
    concept_column: str
    value_column: str
    min: Number | None = None
    max: Number | None = None
    integer: bool = False
    complete: bool = True


class PublishedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    derive_ranks: list[str] = []
    """Tables (their ``table`` ids) that print scores but no ranks: the build derives the
    standard competition rank of each concept's printed scores within the table, marked
    ``kb:rankBasis "derived"`` (printed ranks are ``"published"``)."""


class WeightsSpec(BaseModel):
    """What the printed weights mean: percent or fraction, of the parent or of the total."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    unit: Literal["percent", "fraction"] | None = None
    basis: Literal["parent", "total"] | None = None


class FactorSpec(BaseModel):
    """One declared uncertain choice of a sensitivity analysis: ``weight`` (a node's weight
    times a factor uniform in [low, high]), ``aggregate``/``normalise``/``impute`` (one of
    ``choices``, method names, equally likely) or ``drop`` (one of ``choices``: a node id to
    leave out, or ``null`` to keep every node)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["weight", "aggregate", "normalise", "impute", "drop"]
    node: Slug | None = None
    low: Number = Field(default=1.0, ge=0)
    high: Number = Field(default=1.0, ge=0)
    choices: list[str | None] = []

    @model_validator(mode="after")
    def _complete(self) -> FactorSpec:
        if self.kind == "weight" and (self.node is None or self.high < self.low):
            raise PydanticCustomError(
                "KB126", "a weight factor needs a node and low <= high")
        if self.kind != "weight" and len(self.choices) < 2:
            raise PydanticCustomError(
                "KB126", "a {kind} factor needs at least two choices", {"kind": self.kind})
        return self


class SensitivitySpec(BaseModel):
    """A sensitivity analysis the build runs and records (a kb:SensitivityRun): Saltelli's
    design of base size ``n`` over the declared ``factors``, drawn with ``seed``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    n: Whole = Field(ge=2, le=4096)
    seed: Whole = Field(default=0, ge=0)
    factors: list[FactorSpec] = Field(min_length=1)


class FrameworkMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    id: Slug
    source: Slug | None = None
    name_zh: str = ""
    name_en: str = ""
    publishers: list[Slug] = []
    issued: str
    version: str
    period: str = Field(pattern=r"^[0-9]{4}$")
    """The year of every observation (its sdmx-dimension:refPeriod, an xsd:gYear)."""
    places: Whole | None = Field(default=None, ge=1)
    counts: Counts = Counts()
    default_direction: Literal[1, -1] = 1
    default_weight: Number = Field(default=1.0, ge=0)
    method: MethodSpec
    """Required: a framework.yaml cut short must not fall back to a default method."""
    inputs: InputSpec | None = None
    """Absent when the report gives only scores: the framework is then described, not scored."""
    published: PublishedSpec | None = None
    weights: WeightsSpec = WeightsSpec()
    weight_sets: str | None = None
    """A CSV of named alternative weight sets: ``set,node,weight``."""
    units: str | None = None
    """A CSV of unit attributes: ``place`` and one column per attribute (a grouping such as
    income group or macro-region, or a denominator such as GDP or population)."""
    unit: str = ""
    panel: bool = False
    """The inputs span several years (a ``period`` column): every year is scored in one run,
    ranks within each year, goalposts fixed across the years (COINr's ``global = TRUE``)."""
    sensitivity: SensitivitySpec | None = None
    """An uncertainty and sensitivity analysis of the index, run and recorded by the build."""

    _check_id = field_validator("id")(_slug)

    @model_validator(mode="after")
    def _described(self) -> FrameworkMeta:
        if self.inputs is None and self.published is None:
            raise PydanticCustomError(
                "KB006", "a framework needs inputs (the values it is scored from), published "
                "(the scores the report prints), or both")
        return self


class Node(IdRow):
    """A dimension, variable or indicator of a framework."""

    level: Level
    parent: Slug | None = None
    name_zh: str = ""
    name_en: str = ""
    data_year: str | None = None
    data_source: list[Slug] = []
    direction: Literal[1, -1] | None = None
    weight: Number | None = Field(default=None, ge=0)
    normalise: CallSpec | None = None
    aggregate: CallSpec | None = None
    treat: CallSpec | None = None
    denominator: str | None = None
    """The unit attribute this indicator is divided by (COINr's ``Denominate``)."""
    scale: Number = Field(default=1.0, gt=0)
    """The denominator is divided by this first: ``x / (denominator / scale)``."""
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    order: int = 0

    @model_validator(mode="after")
    def _named(self) -> Node:
        if not (self.name_zh or self.name_en):
            raise PydanticCustomError(
                "KB006", "a node needs a Chinese or an English name (name_zh, name_en)")
        return self

    @field_validator("data_year")
    @classmethod
    def _year(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{4}(\.\d{1,2})?", v):
            raise ValueError(f"data year {v!r} is neither YYYY nor YYYY.M")
        return v


class Erratum(IdRow):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    table: str = ""
    edition: Literal["zh", "en", "both"]
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    city: Slug | None = None
    place: str | None = None
    """A place reference, for errata about a place that is not a city."""
    period: str | None = None
    concept: Slug | None = None
    statement: Slug | None = None
    printed: str | None = None
    printed_en: str | None = None
    used: str | None = None
    """The value in the data files; None when the passage supplies no value that is used."""
    reason: str = Field(min_length=1)
    note: str = ""


class WeightSetRow(Row):
    set: Slug
    node: Slug
    weight: Number = Field(ge=0)

    _check_set = field_validator("set")(_slug)


COMPUTE_KEYS = {
    "aggregate", "framework", "statistic", "period", "concept", "places", "level", "kind", "tier",
    "members", "top", "within", "value_min", "value_max", "value_above", "value_below",
    "ordered", "n", "nth", "method",
}
ANALYSES = ("spread-max", "spread-min", "correlation-max", "least-balanced",
            "top-all-dimensions")
"""Aggregates over a framework's dimension table (kb.analysis): the dimensions that spread
most or least, the nth most correlated pair, the least balanced places, the places in the top
``n`` of every dimension. Their stated value is a list of ids."""
AGGREGATES = ("count", "mean", "median", "max", "min", "sum", "rank", "members", *ANALYSES)


class Statement(IdRow):
    """A checkable statement a report makes about its own figures, and how to recompute it."""

    text: str = Field(min_length=1)
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    stated: Number | list[str] | str
    decimals: Whole | None = Field(default=None, ge=0)
    unit: str | None = None
    compute: dict[str, Any] | None = None
    note: str = ""

    @field_validator("stated", mode="before")
    @classmethod
    def _stated(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip():
            problem = number_problem(v.strip())
            if problem is not None and problem[0] == "KB007":
                raise PydanticCustomError(problem[0], problem[1])
        if isinstance(v, float | int) and not isinstance(v, bool):
            return _number(v)
        return v

    @field_validator("compute")
    @classmethod
    def _compute(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        finite_tree(v)
        unknown = sorted(str(k) for k in set(v) - COMPUTE_KEYS)
        if unknown:
            raise ValueError(f"unknown compute keys {unknown}; known: {sorted(COMPUTE_KEYS)}")
        if v.get("aggregate") not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, not {v.get('aggregate')!r}")
        if ("framework" in v) == ("statistic" in v) and "members" not in v:
            raise ValueError("compute needs exactly one of framework or statistic (or members)")
        for key, value in v.items():
            _compute_value(str(key), value)
        return v


def _compute_value(key: str, value: Any) -> None:
    """Each key of a statement's computation holds the type it is read as."""
    def wrong(what: str) -> PydanticCustomError:
        return PydanticCustomError("KB004", "compute.{key} must be {what}, not {value}",
                                   {"key": key, "what": what, "value": repr(value)[:60]})

    if key in ("aggregate", "framework", "statistic", "concept", "tier", "method"):
        if not isinstance(value, str):
            raise wrong("text")
    elif key in ("places", "members", "within", "level", "kind"):
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(x, str) for x in items):
            raise wrong("text or a list of texts")
    elif key in ("top", "n", "nth"):
        if _integer(value) < 1:
            raise wrong("a positive whole number")
    elif key.startswith("value_"):
        _number(value)
    elif key == "period":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise wrong("a year")
    elif key == "ordered" and not isinstance(value, bool):
        raise wrong("true or false")


class Statistic(IdRow):
    name_zh: str = ""
    name_en: str = ""
    unit: str = ""
    note: str = ""


class SourceTableRow(Row):
    """A table or figure of a report (``tables.csv``): its title as printed and the data
    source its 来源 line names. ``id`` is the table id the folder's data files use."""

    id: str = Field(min_length=1)
    title_zh: str = ""
    title_en: str = ""
    data_source: list[Slug] = []
    line: Whole | None = Field(default=None, ge=1)
    source_line: Whole | None = Field(default=None, ge=1)
    note: str = ""

    @field_validator("data_source", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        return [x.strip() for x in v.split(";") if x.strip()] if isinstance(v, str) else v


class PrintedList(IdRow):
    """A list of places a report prints (``lists.csv``): its top 10, its fastest-improving
    cities, the cities that entered or left a list since the previous edition."""

    name_zh: str = Field(min_length=1)
    name_en: str = ""
    kind: Literal["top", "improved", "entered", "exited", "group"]
    period: str = Field(pattern=r"^\d{4}$")
    compared_with: str = Field(default="", pattern=r"^(\d{4})?$")
    """The earlier edition's year the list is relative to (entered / exited / improved)."""
    ordered: bool = False
    """Whether the printed order means something (a ranking), or is only the order printed."""
    table: str = ""
    line: Whole | None = Field(default=None, ge=1)
    note: str = ""


class ListMember(Row):
    list: Slug
    place: str
    position: Whole = Field(ge=1)
    """The place's position in the printed list (its printed order)."""
    line: Whole | None = Field(default=None, ge=1)
    note: str = ""

    _check_place = field_validator("place")(_place_ref)


class Edition(IdRow):
    """An edition of a report's series (``editions.csv``): the report's own (``current``) and
    the earlier ones it mentions or compares itself with (``earlier``)."""

    name_zh: str = Field(min_length=1)
    name_en: str = ""
    year: str = Field(default="", pattern=r"^(\d{4})?$")
    """The edition year; empty when the report does not say which year (往年)."""
    role: Literal["current", "earlier"]
    cities: Whole | None = Field(default=None, ge=1)
    """The number of places the edition assessed, where the report states (or implies) it."""
    comparable: bool | None = None
    """Whether the report says its results compare with this edition's (empty: not stated)."""
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    note: str = ""


class EditionFigure(Row):
    """A figure a report states about one edition (``edition_figures.csv``): the same
    ``figure`` id in two editions makes a year-on-year pair."""

    edition: Slug
    figure: Slug
    name_zh: str = Field(min_length=1)
    name_en: str = ""
    value: Number
    unit: str = ""
    place: str = ""
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)
    note: str = ""

    _check_slugs = field_validator("edition", "figure")(_slug)

    @field_validator("place")
    @classmethod
    def _check_place(cls, v: str) -> str:
        return _place_ref(v) if v else v


class TierBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Slug
    name_zh: str = ""
    name_en: str = ""
    min: Number | None = None
    max: Number | None = None
    line: Whole | None = Field(default=None, ge=1)
    line_en: Whole | None = Field(default=None, ge=1)


class Tiers(BaseModel):
    """Score bands of one framework concept (``min <= score < max``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    framework: Slug
    concept: str = "total"
    bands: list[TierBand]


class TierMember(Row):
    tier: Slug
    place: str
    line: Whole | None = Field(default=None, ge=1)

    _check_place = field_validator("place")(_place_ref)


@dataclass
class Framework:
    """A framework as declared: metadata, its nodes, and its observations as DataFrames.

    ``inputs`` and ``published`` have columns ``place, concept, value, rank, table, line,
    line_en, row`` (``place`` a place reference, ``concept`` a node id or ``total``; ``rank``
    may be missing). ``inputs`` is None for a framework the report only describes.
    """

    meta: FrameworkMeta
    source: str
    nodes: list[Node]
    inputs: pd.DataFrame | None
    published: pd.DataFrame | None = None
    weight_sets: list[WeightSetRow] = field(default_factory=list)
    units: list[dict[str, str]] = field(default_factory=list)
    """Unit attributes from the framework's units file: ``place``, ``row`` and one entry per
    attribute given."""


@dataclass
class SourcePackage:
    """Everything one data/ folder declares."""

    folder: str
    meta: SourceMeta
    regions: list[Region] = field(default_factory=list)
    provinces: list[Province] = field(default_factory=list)
    cities: list[City] = field(default_factory=list)
    counties: list[County] = field(default_factory=list)
    places: list[OtherPlace] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    members: list[ClusterMember] = field(default_factory=list)
    frameworks: list[Framework] = field(default_factory=list)
    statistics: list[Statistic] = field(default_factory=list)
    statistic_values: pd.DataFrame | None = None
    statements: list[Statement] = field(default_factory=list)
    tiers: Tiers | None = None
    tier_members: list[TierMember] = field(default_factory=list)
    errata: list[Erratum] = field(default_factory=list)
    tables: list[SourceTableRow] = field(default_factory=list)
    lists: list[PrintedList] = field(default_factory=list)
    editions: list[Edition] = field(default_factory=list)
    edition_figures: list[EditionFigure] = field(default_factory=list)
    list_members: list[ListMember] = field(default_factory=list)


@dataclass
class Catalog:
    """All declared inputs, after loading and cross-checking."""

    sources: list[SourcePackage]

    @property
    def regions(self) -> list[Region]:
        return [r for s in self.sources for r in s.regions]

    @property
    def provinces(self) -> list[Province]:
        return [p for s in self.sources for p in s.provinces]

    @property
    def cities(self) -> list[City]:
        return [c for s in self.sources for c in s.cities]

    @property
    def frameworks(self) -> list[Framework]:
        return [f for s in self.sources for f in s.frameworks]

    def place_refs(self) -> set[str]:
        """Every declared place as ``kind:id``."""
        refs = {f"region:{r.id}" for r in self.regions}
        refs |= {f"province:{p.id}" for p in self.provinces}
        refs |= {f"city:{c.id}" for c in self.cities}
        for pkg in self.sources:
            refs |= {f"county:{c.id}" for c in pkg.counties}
            refs |= {f"{p.kind}:{p.id}" for p in pkg.places}
            refs |= {f"cluster:{c.id}" for c in pkg.clusters}
        return refs
