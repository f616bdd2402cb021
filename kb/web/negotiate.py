"""Content negotiation: the HTTP ``Accept`` header (RFC 9110 §12.5.1) against what a resource
offers.

Each media range carries a quality (``q``, 0 to 1, default 1). A type's quality is that of the
*most specific* range that matches it (``text/turtle;q=0.2`` beats ``text/*;q=0.9`` beats
``*/*``), so ``text/*;q=0.9, text/turtle;q=0.2`` ranks Turtle at 0.2, not 0.9. A quality of 0
means "not acceptable". Among types of equal quality the server's order of preference decides.
No ``Accept`` header means anything is acceptable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    type: str
    subtype: str
    q: float
    params: tuple[tuple[str, str], ...] = ()

    @property
    def specificity(self) -> int:
        if self.type == "*":
            return 0
        if self.subtype == "*":
            return 1
        return 2 + len(self.params)

    def matches(self, media: str) -> bool:
        main, _, sub = media.partition("/")
        return (self.type in ("*", main)) and (self.subtype in ("*", sub))


def parse_accept(header: str | None) -> list[Range]:
    """The media ranges of an ``Accept`` header; malformed entries are skipped, a malformed
    quality counts as 1 (as most servers read it)."""
    if header is None or not header.strip():
        return [Range("*", "*", 1.0)]
    out: list[Range] = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if "/" not in media:
            if media == "*":  # a common mistake for */*
                media = "*/*"
            else:
                continue
        main, _, sub = media.partition("/")
        if not main or not sub or (main == "*" and sub != "*"):
            continue
        q = 1.0
        params: list[tuple[str, str]] = []
        for f in fields[1:]:
            key, _, value = f.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 1.0
                break  # parameters after q are accept-extensions
            if key:
                params.append((key, value))
        out.append(Range(main, sub, q, tuple(params)))
    return out


def quality(ranges: Sequence[Range], media: str) -> float:
    """The quality the client gives ``media``: that of the most specific matching range (a
    range with parameters other than charset matches only if the parameters are equal, which
    for the types offered here never happens — such ranges are ignored unless they are all
    that matches)."""
    best: Range | None = None
    for r in ranges:
        if r.matches(media) and not [p for p in r.params if p[0] != "charset"] and (
                best is None or r.specificity > best.specificity):
            best = r
    if best is None:  # only parameterised ranges matched (e.g. application/ld+json;profile=…)
        for r in ranges:
            if r.matches(media) and (best is None or r.specificity > best.specificity):
                best = r
    return 0.0 if best is None else best.q


def choose(header: str | None, offered: Sequence[str]) -> str | None:
    """The offered media type the client prefers, or None if none is acceptable (406).

    ``offered`` is in the server's order of preference, which breaks ties.
    """
    ranges = parse_accept(header)
    best, best_q = None, 0.0
    for media in offered:
        q = quality(ranges, media)
        if q > best_q:
            best, best_q = media, q
    return best
