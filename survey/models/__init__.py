"""Typed SQLAlchemy 2 models. Import from here so Alembic sees every table."""

from survey.models.accounts import AuditEvent, Role, StaffSession, User, UserScope
from survey.models.aggregates import IndexAggregate, ResponseTally
from survey.models.alerts import Alert, AlertKind, AlertNote
from survey.models.base import Base, utcnow
from survey.models.frames import ALL, ApiClient, FrameUpload, ServedCount, SettingsRevision
from survey.models.integrity import SpentReceipt, SubmissionHit, SubmissionRefusal
from survey.models.kiosks import KioskDevice
from survey.models.responses import Answer, Channel, Response, ResponseStatus, TextAnswer
from survey.models.subscriptions import ReportDelivery, ReportFrequency, ReportSubscription
from survey.models.units import (
    Counter,
    CounterRevision,
    InstrumentAssignment,
    ProposalStatus,
    Target,
    TargetProposal,
    Unit,
    UnitKind,
    UnitRevision,
)

__all__ = [
    "ALL", "Alert", "AlertKind", "AlertNote", "Answer", "ApiClient", "AuditEvent", "Base", "Channel",
    "Counter", "CounterRevision", "FrameUpload", "IndexAggregate", "InstrumentAssignment", "KioskDevice",
    "ProposalStatus", "ReportDelivery", "ReportFrequency", "ReportSubscription", "Response",
    "ResponseStatus", "ResponseTally", "Role", "ServedCount", "SettingsRevision", "SpentReceipt",
    "StaffSession", "SubmissionHit", "SubmissionRefusal", "Target", "TargetProposal", "TextAnswer", "Unit",
    "UnitKind", "UnitRevision", "User", "UserScope",
    "utcnow",
]
