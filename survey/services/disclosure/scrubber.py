"""The comment scrubber: every free text that leaves the database goes through `scrub` first.

Structured personal data (phone numbers, citizen ID numbers, e-mail addresses, vehicle plates, dossier
codes of the one-stop systems) is replaced by a typed placeholder; names cannot be found reliably by
pattern, so an honorific followed by a capitalised word ("chị Lan ở quầy 3") only marks the comment for
review (docs/bad-input.md,
"Personal data in free text").

Detection runs on a *canonical copy* (per character NFKC, format characters such as zero-width spaces
dropped), so full-width digits ``０９１２…`` and ``0\u200b912…`` are caught; every canonical character
remembers the index of the original character it came from, and redaction cuts the original (stored
NFC) text at those indices. Numbers are found as *digit runs* (digit groups joined by one separator:
space, dot, hyphen, parentheses) and classified by their digits alone; when a whole run is not an
identifier, its consecutive groups are tried (longest first), so "0912 345 678 2 lần" still yields
the phone number and "quầy 3 15 hồ sơ" yields nothing. Thousands-grouped amounts followed by a
currency word ("1.200.000.000 đồng") are money, not identifiers.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Response, ResponseStatus, TextAnswer, Unit
from survey.query_lists import one_of


class PiiKind(StrEnum):
    """Placeholder of each kind of redacted data, as shown to readers."""

    PHONE = "[SĐT]"
    CCCD = "[CCCD]"
    CMND = "[CMND]"
    EMAIL = "[EMAIL]"
    PLATE = "[BIỂN SỐ]"
    DOSSIER = "[MÃ HỒ SƠ]"


class Redaction(NamedTuple):
    """A redacted span ``text[start:end]`` of the original text."""

    kind: PiiKind
    start: int
    end: int


@dataclass(frozen=True)
class ScrubResult:
    """The text safe to show, what was redacted, and whether a person should read it first."""

    text: str
    redactions: tuple[Redaction, ...]
    needs_review: bool
    review_reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Canonical:
    text: str
    origin: tuple[int, ...]  # origin[j] = index in the original of canonical character j


def canonical_copy(original: str) -> _Canonical:
    """NFKC per character, format characters (Unicode category Cf) dropped, with the offset map.

    Per-character NFKC keeps the map exact (each canonical character comes from one original one);
    it differs from whole-string NFKC only inside combining sequences, which hold no digits.
    """
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(original):
        if unicodedata.category(char) == "Cf":
            continue
        for out in unicodedata.normalize("NFKC", char):
            chars.append(out)
            origin.append(index)
    return _Canonical("".join(chars), tuple(origin))


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Car plates 29A-123.45, 30E-12345, 51F1-234.56; motorbikes 59-X1 123.45, 29B1-234.56; old 29A-1234.
_PLATE = re.compile(
    r"(?<![\w.])\d{2}\s?-?\s?[A-Z]{1,2}\d?\s?[-.]?\s?\d{3}(?:\.\d{2}|\d{1,2})(?![\w])", re.IGNORECASE
)
# Dossier codes of the one-stop systems: the national format "000.00.12.H26-240315-0001" (agency code,
# province letter and number, yymmdd, sequence) and shorter provincial ones ("H26.22-240315-0001"), or
# any code with three or more digits written after "mã/số hồ sơ", "số biên nhận", "hồ sơ số".
_DOSSIER = re.compile(r"(?<![\w.])(?:\d{3}\.\d{2}\.\d{2}\.)?[A-Z]\d{2}(?:\.\d{1,3})*-\d{6}-\d{3,5}(?![\w])",
                      re.IGNORECASE)
_DOSSIER_LABELLED = re.compile(
    r"(?:(?:mã|số)\s+(?:hồ\s*sơ|biên\s*nhận|phiếu\s*hẹn|hs)|(?:hồ\s*sơ|biên\s*nhận|phiếu\s*hẹn)\s+(?:số|mã))"
    r"\s*[:#]?\s*((?=(?:[^\s\d]*\d){3})[A-Z0-9][A-Z0-9.\-/]{4,}[A-Z0-9])", re.IGNORECASE
)
# Digit groups joined by at most one separator (space, dot, hyphen, dash), with optional brackets
# around an area or country code: "(024) 3825 1234", "(+84) 912-345-678".
_RUN = re.compile(r"(?:\(?\+)?\(?\d+(?:\)?[ \u00a0.\-–]?\(?\d+)*\)?")
_GROUP = re.compile(r"\d+")
# "84" is the country code; "+84 (0) 912 …" keeps the trunk 0 after it.
_MOBILE = re.compile(r"(?:840?|0)[35789]\d{8}")
_LANDLINE = re.compile(r"(?:840?|0)?2\d{9}")
_MONEY_GROUPING = re.compile(r"[1-9]\d{0,2}(?:[.,]\d{3})+")
_CURRENCY_AFTER = re.compile(r"\s?(?:đ\b|đồng|vnđ|vnd|nghìn|ngàn|triệu|tỷ|tỉ)", re.IGNORECASE)

HONORIFICS = ("anh", "chị", "em", "cô", "chú", "bác", "ông", "bà", "cậu", "dì", "cán bộ", "đồng chí",
              "công chức", "bạn")
_NAME_AFTER_HONORIFIC = re.compile(
    r"(?<!\w)(" + "|".join(HONORIFICS) + r")\s+((?:[^\W\d_]+)(?:\s+[^\W\d_]+){0,2})", re.IGNORECASE
)


def _classify(digits: str) -> PiiKind | None:
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return PiiKind.PHONE
    if len(digits) == 12:
        return PiiKind.CCCD
    if len(digits) == 9:
        return PiiKind.CMND
    return None


def _is_money(canonical: str, start: int, end: int) -> bool:
    return bool(_MONEY_GROUPING.fullmatch(canonical, start, end)) and bool(
        _CURRENCY_AFTER.match(canonical, end)
    )


def _number_spans(canonical: str, taken: list[tuple[int, int]]) -> list[tuple[PiiKind, int, int]]:
    found: list[tuple[PiiKind, int, int]] = []
    for run in _RUN.finditer(canonical):
        if any(s < run.end() and run.start() < e for s, e in taken):
            continue
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _GROUP.finditer(run.group())]
        i = 0
        while i < len(groups):
            for j in range(len(groups) - 1, i - 1, -1):
                start, end = groups[i][0], groups[j][1]
                digits = "".join(canonical[a:b] for a, b in groups[i : j + 1])
                kind = _classify(digits)
                if kind is not None and not _is_money(canonical, start, end):
                    # Take a leading "+" / "(" and a closing ")" with the number.
                    while start > run.start() and canonical[start - 1] in "+(":
                        start -= 1
                    opened = "(" in canonical[run.start() : start + 1]
                    if opened and end < run.end() and canonical[end] == ")":
                        end += 1
                    found.append((kind, start, end))
                    i = j + 1
                    break
            else:
                i += 1
    return found


def _review_reasons(original: str) -> tuple[str, ...]:
    reasons = []
    for match in _NAME_AFTER_HONORIFIC.finditer(original):
        words = match.group(2).split()
        capitalised = [w for w in words if w[0].isupper()]
        if capitalised and words[0][0].isupper():
            reasons.append(f"possible name after “{match.group(1)}”: {' '.join(capitalised)}")
    return tuple(reasons)


@functools.lru_cache(maxsize=8192)
def scrub(original: str) -> ScrubResult:
    """Redact structured personal data in `original` and flag possible names for review.

    Returns the text with each redacted span replaced by its placeholder (`PiiKind` value); the
    spans refer to `original`. Never raises on any string. A pure function of the text, remembered
    (in this module only): every view of a unit page scrubs the same few hundred comments again,
    about 8 ms.
    """
    canonical = canonical_copy(original)
    text = canonical.text
    spans: list[tuple[PiiKind, int, int]] = []
    for pattern, kind, group in ((_EMAIL, PiiKind.EMAIL, 0), (_DOSSIER_LABELLED, PiiKind.DOSSIER, 1),
                                 (_DOSSIER, PiiKind.DOSSIER, 0), (_PLATE, PiiKind.PLATE, 0)):
        for match in pattern.finditer(text):
            start, end = match.start(group), match.end(group)
            if not any(s < end and start < e for _, s, e in spans):
                spans.append((kind, start, end))
    spans.extend(_number_spans(text, [(s, e) for _, s, e in spans]))
    redactions = sorted(
        (Redaction(kind, canonical.origin[start], canonical.origin[end - 1] + 1)
         for kind, start, end in spans),
        key=lambda r: r.start,
    )
    pieces: list[str] = []
    cursor = 0
    for redaction in redactions:
        pieces.append(original[cursor : redaction.start])
        pieces.append(redaction.kind.value)
        cursor = redaction.end
    pieces.append(original[cursor:])
    reasons = _review_reasons(original)
    return ScrubResult("".join(pieces), tuple(redactions), bool(reasons), reasons)


def scrubbed_texts(session: Session, response_ids: Collection[int]) -> dict[tuple[int, str], str]:
    """``(response id, item id) -> scrubbed text`` of the free-text answers of `response_ids`, for
    microdata exports. A text flagged for review (a possible name) is left out: nobody reviews an
    export before it leaves, so only what the patterns could make safe is released."""
    rows = session.execute(
        sa.select(TextAnswer.response_id, TextAnswer.item_id, TextAnswer.text)
        .where(TextAnswer.response_id.in_(list(response_ids)))
    ).all()
    out: dict[tuple[int, str], str] = {}
    for response_id, item_id, raw in rows:
        result = scrub(raw)
        if not result.needs_review:
            out[(response_id, item_id)] = result.text
    return out


_ONE_BY_ONE = 32  # up to this many units, `scrubbed_comments` reads each unit's comments apart


@dataclass(frozen=True)
class Comment:
    """A comment as readers may see it: scrubbed, with its unit and day, flagged if a person should
    check it for a name first."""

    unit_code: str
    submitted: datetime
    text: str
    needs_review: bool
    review_reasons: tuple[str, ...]


def scrubbed_comments(session: Session, unit_ids: Collection[int], instrument_id: str, version: str,
                      start: datetime, end: datetime, *, limit: int = 50) -> list[Comment]:
    """The latest comments of valid responses in `unit_ids` between `start` and `end` (UTC), scrubbed.

    With `scrubbed_texts`, the only functions that read free text: the raw text never leaves this module.
    """
    def latest(units: sa.ColumnElement[bool]) -> list[tuple[str, datetime, int, str]]:
        query = (sa.select(Unit.code, Response.submitted_at, Response.id, TextAnswer.text)
                 .join(Response, Response.id == TextAnswer.response_id)
                 .join(Unit, Unit.id == Response.unit_id)
                 .where(units, Response.instrument_id == instrument_id,
                        Response.instrument_version == version, Response.status == ResponseStatus.VALID,
                        Response.submitted_at >= start, Response.submitted_at < end)
                 .order_by(Response.submitted_at.desc(), Response.id.desc()).limit(limit))
        return [(code, submitted, response_id, text)
                for code, submitted, response_id, text in session.execute(query)]

    units = sorted(set(unit_ids))
    if len(units) <= _ONE_BY_ONE:
        # A few units: each read backwards along its own (unit, time) index and merged. One query over
        # all of them would be planned along the time index with the units as a filter, expecting to
        # meet `limit` comments soon: for a commune with none in the window, PostgreSQL then read every
        # response of the year (1.2 s at a million responses).
        found = [row for unit in units for row in latest(Response.unit_id == unit)]
    else:  # many units: their comments are dense in time, the time index finds `limit` of them at once
        found = latest(one_of(session, Response.unit_id, units))
    found.sort(key=lambda row: (row[1], row[2]), reverse=True)
    rows = [(code, submitted, text) for code, submitted, _, text in found[:limit]]
    out = []
    for code, submitted, raw in rows:
        result = scrub(raw)
        out.append(Comment(code, submitted, result.text, result.needs_review, result.review_reasons))
    return out
