"""A submitted survey form: strict validation (pure: no request, no database), then storing it once.

`validate_submission` takes the posted fields as a multi-mapping, the instrument, the counter the
form was opened at, the time and the settings, and returns a `Validation`: the answers parsed to raw
codes and clean texts, or the refusal with the stable codes of docs/bad-input.md's catalogue.
`store_response` writes one Response with its Answer and TextAnswer rows; the idempotency key (the
nonce's random part, UNIQUE in the table) makes a double tap or a retry store nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, cast

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from instruments.model import (
    Instrument,
    Item,
    LongTextItem,
    MultipleChoiceItem,
    NoteItem,
    NumberItem,
    ScaleItem,
    ShortTextItem,
    SingleChoiceItem,
)
from instruments.registry import RegisteredInstrument
from survey.models import Answer, Channel, Counter, Response, ResponseStatus, TextAnswer
from survey.services.citizens.form_nonce import FormNonce, read_nonce
from survey.services.citizens.plausibility import join_reasons
from survey.services.citizens.receipts import RECEIPT_FIELD
from survey.services.citizens.text import TextProblem, clean_text
from survey.services.reporting.aggregates import count_response

CSRF_FIELD = "csrf_token"
NONCE_FIELD = "nonce"
HONEYPOT_FIELD = "website"  # innocuous on purpose: form-filling bots fill fields called website/url
RESERVED_FIELDS = frozenset({CSRF_FIELD, NONCE_FIELD, HONEYPOT_FIELD, RECEIPT_FIELD})

# Codes as the browser sends them: ASCII digits, no sign games, no padding. `[0-9]`, not `\d`,
# because `\d` accepts full-width and other Unicode digits.
_INTEGER = re.compile(r"-?[0-9]{1,9}")

MESSAGES: Mapping[str, Any] = {
    "E-SCHEMA": _l("The form contained fields that do not belong to this survey. Please open the survey "
                   "again from the QR code."),
    "E-DUPLICATE-FIELD": _l("The form sent the same answer field twice. Please open the survey again "
                            "from the QR code."),
    "E-NONCE": _l("This form has expired or was not issued by this site. Please open the survey again "
                  "from the QR code."),
    "E-VALUE": _l("Please choose one of the answers shown."),
    "E-REQUIRED": _l("Please answer this question."),
    "E-CONTROL-CHAR": _l("The text contains characters that cannot be stored. Please remove them."),
    "E-TOO-LONG": _l("The text is too long. Please shorten it."),
}
_HIDDEN_ITEM = _l("This question applies only to some answers above; please leave it empty.")


def refusal_message(item: Item, code: str) -> Any:
    """What the form says beside `item` for the refusal `code`: a number box out of range names its
    range (there are no answers shown to choose from); anything else, the code's message."""
    if code == "E-VALUE" and isinstance(item, NumberItem):
        return _l("Please enter a whole number from %(min)s to %(max)s.", min=item.min, max=item.max)
    return MESSAGES[code]


def offline_refusals(item: Item) -> list[tuple[str, Any]]:
    """The refusals of `item` a counter tablet can foresee offline, each with what the form says of it:
    a required question left empty, a number outside its range (the browser's own constraint).
    `kiosk-offline.js` checks them before it queues an answer, with no server to ask."""
    codes = (["E-REQUIRED"] if item.required else []) + (["E-VALUE"] if isinstance(item, NumberItem) else [])
    return [(code, refusal_message(item, code)) for code in codes]


class FormData(Protocol):
    """What is read from the posted form: Werkzeug's MultiDict fits."""

    def keys(self) -> Iterable[str]: ...
    def getlist(self, key: str) -> list[str]: ...


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # store it
    DECOY = "decoy"  # the honeypot was filled: thank the sender, store nothing
    REJECTED = "rejected"  # tampered or stale form: an error page, nothing to re-render
    INVALID = "invalid"  # the citizen can fix it: re-render the form with the answers and errors


@dataclass(frozen=True)
class FieldError:
    """A problem with one item (`item_id`) or with the whole form (`item_id` None)."""

    item_id: str | None
    code: str
    message: Any


@dataclass(frozen=True)
class Validation:
    outcome: Outcome
    status: int
    code: str | None = None
    errors: tuple[FieldError, ...] = ()
    answers: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    nonce: FormNonce | None = None

    @property
    def message(self) -> Any:
        return MESSAGES.get(self.code or "", "")


@dataclass(frozen=True)
class SubmissionSettings:
    secret: str
    nonce_max_age: timedelta

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SubmissionSettings:
        return cls(secret=str(config["SECRET_KEY"]),
                   nonce_max_age=timedelta(seconds=config["FORM_NONCE_MAX_AGE"]))


def _rejected(code: str, nonce: FormNonce | None = None) -> Validation:
    return Validation(Outcome.REJECTED, 400, code, nonce=nonce)


def answerable_items(instrument: Instrument) -> dict[str, Item]:
    """Items that take an answer (notes don't), by id."""
    return {item.id: item for item in instrument.items() if not isinstance(item, NoteItem)}


def _max_values(items: Mapping[str, Item]) -> int:
    """The most values a genuine form can carry: one per field, one per option of a multiple choice."""
    return len(RESERVED_FIELDS) + sum(
        len(item.options) if isinstance(item, MultipleChoiceItem) else 1 for item in items.values())


def _check_shape(form: FormData, items: Mapping[str, Item], max_values: int) -> tuple[str | None, set[str]]:
    """E-SCHEMA / E-DUPLICATE-FIELD for the field names; also the items sent as `q1[]` (E-VALUE)."""
    keys = list(form.keys())
    if sum(len(form.getlist(key)) for key in keys) > max_values:
        return "E-SCHEMA", set()
    bracketed: set[str] = set()
    for key in keys:
        base = key.split("[", 1)[0]
        if key not in RESERVED_FIELDS and key not in items:
            if "[" not in key or base not in items:
                return "E-SCHEMA", set()
            bracketed.add(base)  # PHP-style array syntax for a real item: a malformed answer
    for key in keys:
        if len(form.getlist(key)) > 1 and not isinstance(items.get(key), MultipleChoiceItem):
            return "E-DUPLICATE-FIELD", set()
    return None, bracketed


def _choice_codes(item: Item, instrument: Instrument) -> dict[str, int]:
    """The codes offered for a scale or choice item, keyed by their exact text in the form."""
    if isinstance(item, ScaleItem):
        scale = instrument.scales[item.scale]
        levels = list(scale.levels)
        if item.allow_na and scale.not_applicable is not None:
            levels.append(scale.not_applicable)
    elif isinstance(item, SingleChoiceItem | MultipleChoiceItem):
        levels = list(item.options)
    else:
        return {}
    return {str(level.code): level.code for level in levels}


@dataclass(frozen=True)
class _FormRules:
    """What validating a form of one instrument needs, derived from it once (by the functions above,
    the one source of each rule) rather than at every submission."""

    items: Mapping[str, Item]
    max_values: int
    codes: Mapping[str, Mapping[str, int]]  # item id -> the codes it offers, by their text in the form
    order: Mapping[str, int]  # item id -> its place in the questionnaire

    @classmethod
    def of(cls, instrument: Instrument) -> _FormRules:
        items = answerable_items(instrument)
        codes = {item_id: _choice_codes(item, instrument) for item_id, item in items.items()}
        return cls(items, _max_values(items), codes, {item_id: place for place, item_id in enumerate(items)})


# id(instrument) -> (instrument, its rules). Instruments are immutable and the registry keeps one
# object per version; the entry holds the instrument, so its id cannot be reused while it is here.
_FORM_RULES: dict[int, tuple[Instrument, _FormRules]] = {}
_FORM_RULES_KEPT = 64  # more than any deployment's instrument versions; drafts come and go


def _form_rules(instrument: Instrument) -> _FormRules:
    cached = _FORM_RULES.get(id(instrument))
    if cached is not None and cached[0] is instrument:
        return cached[1]
    rules = _FormRules.of(instrument)
    if len(_FORM_RULES) >= _FORM_RULES_KEPT:
        _FORM_RULES.clear()
    _FORM_RULES[id(instrument)] = (instrument, rules)
    return rules


@dataclass
class _Parsed:
    answers: dict[str, tuple[int, ...]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, tuple[str, Any]] = field(default_factory=dict)  # item id -> (code, message)

    def fail(self, item_id: str, code: str, message: Any = None) -> None:
        self.errors[item_id] = (code, MESSAGES[code] if message is None else message)

    def answered(self, item_id: str) -> bool:
        return item_id in self.answers or item_id in self.texts


def _parse_item(item: Item, values: Sequence[str], codes: Mapping[str, int], parsed: _Parsed) -> None:
    """Parse one item's posted values; `codes` are those it offers (`_choice_codes`)."""
    if isinstance(item, ShortTextItem | LongTextItem):
        clean = clean_text(values[0], item.max_length) if values else ""
        if isinstance(clean, TextProblem):
            parsed.fail(item.id, clean.value)
        elif clean:
            parsed.texts[item.id] = clean
    elif isinstance(item, NumberItem):
        if not values or values[0] == "":  # browsers send an empty number box as an empty value
            return
        if _INTEGER.fullmatch(values[0]) and item.min <= int(values[0]) <= item.max:
            parsed.answers[item.id] = (int(values[0]),)
        else:
            parsed.fail(item.id, "E-VALUE", refusal_message(item, "E-VALUE"))
    elif isinstance(item, SingleChoiceItem) and values == [""]:
        return  # a long option list is a drop-down, whose empty first entry means "not answered"
    elif values:
        if not all(value in codes for value in values) or len(set(values)) != len(values):
            parsed.fail(item.id, "E-VALUE")
        elif (isinstance(item, MultipleChoiceItem) and item.max_choices is not None
              and len(values) > item.max_choices):
            parsed.fail(item.id, "E-VALUE", _l("Please choose at most %(n)s options.", n=item.max_choices))
        else:
            parsed.answers[item.id] = tuple(codes[value] for value in values)


def _visibility(items: Mapping[str, Item], parsed: _Parsed) -> dict[str, bool | None]:
    """Whether each item is shown given the answers; None when unknown (its trigger is invalid)."""
    visible: dict[str, bool | None] = {}
    for item in items.values():
        rule = item.show_if
        if rule is None:
            visible[item.id] = True
        elif rule.item in parsed.errors or visible.get(rule.item) is None:
            visible[item.id] = None
        else:
            chosen = parsed.answers.get(rule.item, ())
            visible[item.id] = bool(visible[rule.item]) and any(code in rule.in_ for code in chosen)
    return visible


def validate_submission(form: FormData, instrument: Instrument, *, counter_id: int, now: datetime,
                        settings: SubmissionSettings) -> Validation:
    """Check a posted survey form strictly.

    See the module docstring and docs/bad-input.md rows 7-18 and 27-28.
    """
    rules = _form_rules(instrument)
    items = rules.items
    shape_error, bracketed = _check_shape(form, items, rules.max_values)
    if shape_error is not None:
        return _rejected(shape_error)
    nonce_values = form.getlist(NONCE_FIELD)
    nonce = read_nonce(nonce_values[0] if nonce_values else None, settings.secret, now,
                       settings.nonce_max_age)
    if nonce is None or nonce.counter_id != counter_id or nonce.instrument_key != instrument.key:
        return _rejected("E-NONCE")
    if any(value for value in form.getlist(HONEYPOT_FIELD)):
        return Validation(Outcome.DECOY, 200, nonce=nonce)

    parsed = _Parsed()
    for item in items.values():
        if item.id in bracketed:
            parsed.fail(item.id, "E-VALUE")
        else:
            _parse_item(item, form.getlist(item.id), rules.codes[item.id], parsed)
    visible = _visibility(items, parsed)
    hidden_answered = [i for i in items if visible[i] is False and (parsed.answered(i) or i in parsed.errors)]
    for item_id in hidden_answered:
        parsed.fail(item_id, "E-SCHEMA", _HIDDEN_ITEM)
    for item in items.values():
        unanswered = not parsed.answered(item.id) and item.id not in parsed.errors
        if item.required and visible[item.id] and unanswered:
            parsed.fail(item.id, "E-REQUIRED")

    errors = [FieldError(item_id, code, message) for item_id, (code, message)
              in sorted(parsed.errors.items(), key=lambda pair: rules.order[pair[0]])]
    # A form sent faster than it can be read is not refused: the response is flagged for review
    # (survey.services.citizens.plausibility), never blamed on the citizen.
    if errors:
        # An answer to a hidden item is a schema violation (400), though re-rendered so that a citizen
        # without JavaScript, who saw every question, keeps the other answers.
        status = 400 if hidden_answered else 422
        code = "E-SCHEMA" if hidden_answered else errors[0].code
        return Validation(Outcome.INVALID, status, code, tuple(errors), nonce=nonce)
    return Validation(Outcome.ACCEPTED, 200, answers=parsed.answers, texts=parsed.texts, nonce=nonce)


class Stored(StrEnum):
    STORED = "stored"
    ALREADY = "already"  # this form (nonce) was stored before: a double tap, a retry, the back button


def already_stored(session: Session, validation: Validation) -> bool:
    """Whether this form (its nonce) was stored before: checked before the limits count it again."""
    if validation.nonce is None:
        return False
    return session.scalar(_STORED_KEY, {"key": validation.nonce.key}) is not None


_STORED_KEY = sa.select(Response.id).where(Response.idempotency_key == sa.bindparam("key"))  # built once


def store_response(session: Session, validation: Validation, *, counter: Counter,
                   registered: RegisteredInstrument, channel: Channel, language: str,
                   now: datetime, flags: Sequence[str] = (), receipt_verified: bool = False) -> Stored:
    """Add the Response and its answers, and flush; never commit (the view does, once). With `flags`
    (plausibility reason codes) it is stored as flagged, the codes as its reason.

    The UNIQUE idempotency key is the guarantee against double storage. The common double tap never
    gets here (`already_stored`, asked before the limits count it, answers it), so there is no
    look-up first: on a violation (a concurrent twin committed in between) the session is rolled
    back, everything this request wrote with it, and the twin holds the stored response.
    """
    if validation.outcome is not Outcome.ACCEPTED or validation.nonce is None:
        raise ValueError("only an accepted validation can be stored")
    key = validation.nonce.key
    # The row goes in as one Core INSERT ... RETURNING: through the ORM's unit of work (add, flush) it
    # cost about three times as much CPU, for an object nothing in the request reads back. The Response
    # made of the same values is transient (never added to the session): it carries them to the index
    # aggregates. Columns left out take their defaults, as they would through the ORM.
    values = {
        "instrument_id": registered.instrument.id, "instrument_version": registered.instrument.version,
        "instrument_hash": registered.content_hash, "unit_id": counter.unit_id, "counter_id": counter.id,
        "procedure_field": counter.procedure_field, "channel": channel, "language": language,
        "submitted_at": now, "status": ResponseStatus.FLAGGED if flags else ResponseStatus.VALID,
        "status_reason": join_reasons(tuple(flags)), "idempotency_key": key,
        "receipt_verified": receipt_verified,
    }
    try:
        response = Response(id=session.execute(_INSERT_RESPONSE, values).scalar_one(), **values)
    except IntegrityError:
        session.rollback()
        if session.scalar(_STORED_KEY, {"key": key}) is None:
            raise
        return Stored.ALREADY
    # The answers go in as one executemany each: as ORM objects, SQLite received one INSERT ... RETURNING
    # per answer (31 on the SIPAS form), the largest share of a submission's database time. Into the
    # tables, not the ORM classes: the ORM's bulk path prepared every row in Python for nothing.
    answers = [{"response_id": response.id, "item_id": item_id, "code": code}
               for item_id, codes in validation.answers.items() for code in codes]
    if answers:
        session.execute(_INSERT_ANSWERS, answers)
    texts = [{"response_id": response.id, "item_id": item_id, "text": text}
             for item_id, text in validation.texts.items()]
    if texts:
        session.execute(_INSERT_TEXTS, texts)
    count_response(session, response, validation.answers)  # the dashboard's sums, in this transaction
    return Stored.STORED


# Built once (they run on every submission).
_INSERT_RESPONSE = sa.insert(cast(sa.Table, Response.__table__)).returning(Response.__table__.c.id)
_INSERT_ANSWERS = sa.insert(cast(sa.Table, Answer.__table__))
_INSERT_TEXTS = sa.insert(cast(sa.Table, TextAnswer.__table__))


__all__ = [
    "CSRF_FIELD", "HONEYPOT_FIELD", "MESSAGES", "NONCE_FIELD", "RESERVED_FIELDS", "FieldError", "Outcome",
    "Stored", "SubmissionSettings", "TextProblem", "Validation", "already_stored", "answerable_items",
    "offline_refusals", "refusal_message", "store_response", "validate_submission",
]
