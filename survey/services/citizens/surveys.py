"""Which survey a scanned QR code opens: the counter, then the instrument its unit uses that day."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from instruments.model import Instrument
from instruments.registry import RegisteredInstrument, UnknownInstrument, get_registered
from survey.errors import SurveyError
from survey.models import Counter
from survey.services.organisation.assignments import CounterLine, load_counter_line, nearest_assignment
from survey.services.organisation.counter_lines import kept_counter_line
from survey.services.qr.qr_tokens import check_counter, decode_token, token_secret

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenSurvey:
    """A counter's survey as a citizen opens it: the counter, and the instrument version in force there."""

    counter: Counter
    registered: RegisteredInstrument

    @property
    def instrument(self) -> Instrument:
        return self.registered.instrument


def find_instrument(instrument_id: str, version: str, extra_paths: Iterable[str | Path] = ()
                    ) -> RegisteredInstrument:
    """The shipped instrument, else one from the extra directories (config INSTRUMENT_PATHS)."""
    try:
        return get_registered(instrument_id, version)
    except UnknownInstrument:
        pass
    for path in extra_paths:
        try:
            return get_registered(instrument_id, version, data_dir=Path(path))
        except UnknownInstrument:
            continue
    raise UnknownInstrument(f"{instrument_id}@{version}")


def _no_survey() -> SurveyError:
    return SurveyError(404, "E-NO-SURVEY", _l("There is no survey open at this counter today. Thank you "
                                              "for your interest."), title=_l("No survey open"))


def open_survey(session: Session, token: str, config: Mapping[str, Any], day: date) -> OpenSurvey:
    """Resolve `token` (404/410/414 as `resolve_token`) and the instrument assigned on `day` (else 404).

    The counter, its unit's line and the open assignments come in one statement (`load_counter_line`),
    kept per process while none of them changes (`kept_counter_line`); the token's checks are
    `resolve_token`'s own (`check_counter`), made at every request."""
    decoded = decode_token(token, token_secret(config))
    read = kept_counter_line(session, decoded.counter_id, decoded.unit_id, day)
    return _survey(check_counter(read.counter, decoded), read, config)


def survey_at(session: Session, counter: Counter, config: Mapping[str, Any], day: date) -> OpenSurvey:
    """The survey of a live `counter` (already checked by its caller: a QR token or a registered
    tablet) with the instrument assigned on `day` (else 404)."""
    return _survey(counter, load_counter_line(session, counter.id, counter.unit_id, day), config)


def _survey(counter: Counter, read: CounterLine, config: Mapping[str, Any]) -> OpenSurvey:
    # `read` holds the line while the walk up links the units to the counter; from here the counter
    # holds its line, and the limits' and receipts' walks query no more.
    assignment = nearest_assignment(counter.unit, read.assignments)
    del read
    if assignment is None:
        raise _no_survey()
    try:
        registered = find_instrument(assignment.instrument_id, assignment.instrument_version,
                                     config.get("INSTRUMENT_PATHS", ()))
    except UnknownInstrument:
        # A configuration mistake, not the citizen's: tell them kindly, tell the operators loudly.
        logger.error("unit %s is assigned unknown instrument %s@%s", counter.unit_id,
                     assignment.instrument_id, assignment.instrument_version)
        raise _no_survey() from None
    return OpenSurvey(counter, registered)
