"""Typed SQLAlchemy 2 models. Import from here so Alembic sees every table."""

from survey.models.base import Base, utcnow
from survey.models.responses import Answer, Channel, Response, ResponseStatus, TextAnswer
from survey.models.units import Counter, InstrumentAssignment, Target, Unit, UnitKind

__all__ = [
    "Answer", "Base", "Channel", "Counter", "InstrumentAssignment", "Response", "ResponseStatus", "Target",
    "TextAnswer", "Unit", "UnitKind", "utcnow",
]
