"""Scoring methods, in a registry keyed by name and by ontology IRI.

Families, one module each: :mod:`.normalise` (indicator values → comparable scores),
:mod:`.aggregate` (children → parent), :mod:`.impute` (missing values), :mod:`.classify`
(scores → tiers). Adding a method is one function, one ``@register`` line and one test.

Every method works set-wise on a long DataFrame (``place, concept, value``), never row by row.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from kb import namespaces as ns
from kb.errors import KbError

Fn = Callable[..., Any]


@dataclass(frozen=True)
class Param:
    """A parameter a method takes: its name, type (as the YAML author writes it), default
    (``REQUIRED`` when it has none) and, for a choice, the values allowed."""

    name: str
    type: str
    default: Any
    choices: tuple[Any, ...] = ()


REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Method:
    kind: str
    name: str
    fn: Fn
    doc: str
    coinr: str = ""
    """COINr's equivalent (``n_minmax``, ``a_amean`` …), empty when COINr has none."""
    formula: str = ""

    @property
    def iri(self) -> str:
        return ns.method(self.name)

    @property
    def params(self) -> list[Param]:
        """The parameters a declaration may give (the data frames a method works on and the
        attributes the engine passes itself are not among them)."""
        hints = typing.get_type_hints(self.fn)
        out = []
        for p in list(inspect.signature(self.fn).parameters.values())[_POSITIONAL[self.kind]:]:
            if p.name in _ENGINE_ARGS:
                continue
            tname, choices = _type_name(hints.get(p.name, Any))
            out.append(Param(p.name, tname, p.default, choices))
        return out


_POSITIONAL = {"normalise": 1, "aggregate": 1, "impute": 2, "classify": 1, "treat": 1,
               "screen": 1}
_ENGINE_ARGS = {"units", "attributes"}

REGISTRY: dict[tuple[str, str], Method] = {}
ALIASES: dict[tuple[str, str], str] = {}
"""COINr's function names (``n_minmax``, ``a_amean``, ``i_mean_grp`` …) → citykb's."""


def register(kind: str, name: str, *, coinr: str = "", formula: str = "",
             aliases: tuple[str, ...] = ()) -> Callable[[Fn], Fn]:
    """Register ``fn`` as method ``name`` of family ``kind``; its IRI is ``id/method/{name}``.
    ``coinr``: COINr's function of the same computation (accepted as an alias, as are
    ``aliases``); ``formula``: for the generated reference (docs/methods.md)."""

    def deco(fn: Fn) -> Fn:
        key = (kind, name)
        if key in REGISTRY:
            raise ValueError(f"method {kind}/{name} registered twice")
        REGISTRY[key] = Method(kind, name, fn, (fn.__doc__ or "").strip(), coinr, formula)
        for alias in (coinr, *aliases):
            if alias:
                ALIASES[(kind, alias)] = name
        return fn

    return deco


def _type_name(hint: Any) -> tuple[str, tuple[Any, ...]]:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "choice", typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        name, choices = _type_name(args[0]) if len(args) == 1 else ("any", ())
        return name + " or null", choices
    if origin is not None:
        return {dict: "mapping", list: "list", tuple: "list"}.get(origin, "any"), ()
    return {float: "number", int: "integer", str: "text", bool: "true/false",
            dict: "mapping", list: "list"}.get(hint, "any"), ()


# COINr's parameter names and values, turned into citykb's before validation
PARAM_ALIASES: dict[str, str] = {"ties.method": "ties", "ties_method": "ties",
                                 "trunc2posts": "trunc", "targ": "target", "iref": "ref"}
VALUE_ALIASES: dict[tuple[str, Any], Any] = {}
PAIR_ALIASES: dict[str, tuple[str, str]] = {"l_u": ("low", "high"), "m_sd": ("mean", "sd")}


def canonical(kind: str, name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A declared method in citykb's own terms: COINr's function and parameter names become
    citykb's (``n_minmax`` with ``l_u: [1, 100]`` → ``minmax`` with ``low: 1, high: 100``);
    then every parameter is checked against the method's signature. Raises KB120 for an
    unknown parameter (naming the known ones), KB121 for a value of the wrong type or outside
    its choices, KB051 for an unknown method."""
    name = ALIASES.get((kind, name), name)
    method = get(kind, name)
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k in PAIR_ALIASES and isinstance(v, list) and len(v) == 2:
            a, b = PAIR_ALIASES[k]
            out[a], out[b] = v
            continue
        out[PARAM_ALIASES.get(k, k)] = v
    known = {p.name: p for p in method.params}
    for k, v in out.items():
        if k not in known:
            raise KbError("KB120", f"{kind} method {name!r} has no parameter {k!r}; it takes: "
                          f"{', '.join(known) or 'none'}")
        out[k] = _check_value(kind, name, known[k], v)
    missing = [p.name for p in known.values() if p.default is REQUIRED and p.name not in out]
    if missing:
        raise KbError("KB121", f"{kind} method {name!r} needs the parameter(s) "
                      f"{', '.join(missing)}")
    return name, out


def _check_value(kind: str, name: str, p: Param, v: Any) -> Any:
    def bad(what: str) -> KbError:
        return KbError("KB121", f"{kind} method {name!r}: parameter {p.name!r} must be "
                       f"{what}, not {v!r}")

    if v is None:
        if p.type.endswith("or null"):
            return v
        raise bad(p.type)
    base = p.type.removesuffix(" or null")
    if base == "choice":
        if v not in p.choices:
            raise bad("one of " + ", ".join(map(str, p.choices)))
    elif base == "number":
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise bad("a number")
        return float(v)
    elif base == "integer":
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad("a whole number")
    elif base == "text" and not isinstance(v, str):
        raise bad("text")
    elif base == "true/false" and not isinstance(v, bool):
        raise bad("true or false")
    elif base == "mapping" and not isinstance(v, dict):
        raise bad("a mapping")
    elif base == "list" and not isinstance(v, list):
        raise bad("a list")
    return v


def get(kind: str, name_or_iri: str) -> Method:
    """A method by name or IRI; KB051 with the known names otherwise."""
    _load()
    name = ns.local_name(name_or_iri) if name_or_iri.startswith("http") else name_or_iri
    name = ALIASES.get((kind, name), name)
    try:
        return REGISTRY[(kind, name)]
    except KeyError:
        known = sorted(n for k, n in REGISTRY if k == kind)
        raise KbError("KB051", f"no {kind} method {name_or_iri!r}; known: {', '.join(known)}")\
            from None


def names(kind: str) -> list[str]:
    _load()
    return sorted(n for k, n in REGISTRY if k == kind)


def _load() -> None:
    from kb.methods import aggregate, classify, impute, normalise, screen, treat  # noqa: F401
