"""Yearly targets of a unit and who may change them.

A unit is judged against its target, so the unit's own manager must not be able to lower it: a
target is set (or cleared) only by an admin or by a manager whose scope covers the unit's parent
(the unit sits strictly below one of their scope roots). A unit's own manager (the unit is one of
their scope roots) may only *propose* a value; the proposal is visible on the unit's pages and takes
effect when someone allowed to set the target approves it. Until then it moves no verdict: verdicts
read the `targets` table only, proposals live in `target_proposals`.

Targets are inherited down the tree: a unit without its own target uses its nearest ancestor's, and
`effective_target(s)` say where the value comes from. Every change, proposal, approval and rejection
is audited with the old and new value, who, and the reason they gave. Functions flush; callers commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from instruments.registry import list_instruments
from survey.errors import SurveyError
from survey.models import ProposalStatus, Role, Target, TargetProposal, Unit, User
from survey.query_lists import one_of
from survey.services.organisation.assignments import ancestors_and_self
from survey.services.organisation.units import UnitRefused
from survey.services.staff import access, audit

_TARGET_TEXT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(%?)")
REASON_MAX = 500


@dataclass(frozen=True)
class EffectiveTarget:
    """The target that applies to a unit, and where it comes from (`source` None = the default)."""

    instrument_id: str
    year: int
    value: float
    source: Unit | None
    own: bool


def parse_target(text: str) -> float:
    """Read a target typed by a person: "80", "80%", "80 %", "0.8" and "85,5" (Vietnamese decimal comma).

    A number with '%' or above 1 is a percentage; otherwise a share. The result must lie in (0, 1].
    """
    match = _TARGET_TEXT.fullmatch((text or "").strip())
    if match is None:
        raise UnitRefused(_("Enter the target as a percentage (%(percent)s) or a share (%(share)s).",
                            percent="80, 80%", share="0.8"))
    try:
        number = Decimal(match.group(1).replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise UnitRefused(_("Enter the target as a percentage (%(percent)s) or a share (%(share)s).",
                            percent="80, 80%", share="0.8")) from None
    share = number / 100 if match.group(2) or number > 1 else number
    if not 0 < share <= 1:
        raise UnitRefused(_("The target must be above 0 and at most %(max)s.", max="100%"))
    return float(round(share, 4))


# ---------------------------------------------------------------- who may do what


def may_set_target(actor: User, unit: Unit) -> bool:
    """An admin, or a manager one of whose scope roots is a strict ancestor of `unit`."""
    if not actor.active:
        return False
    if actor.role == Role.ADMIN:
        return True
    if actor.role != Role.MANAGER:
        return False
    roots = {scope.unit_id for scope in actor.scopes}
    return any(node.id in roots for node in ancestors_and_self(unit) if node.id != unit.id)


def parent_only() -> SurveyError:
    return SurveyError(403, "E-TARGET-PARENT", _l(
        "A unit's target is set by the manager of the unit above it. You may propose a change."))


def _require_setter(session: Session, actor: User, unit: Unit, action: str, now: datetime) -> None:
    if may_set_target(actor, unit):
        return
    audit.record_independently(session, actor=actor, action="target.denied", object_type="unit",
                               object_id=unit.id, unit_id=unit.id, detail={"attempted": action}, now=now)
    raise parent_only()


def _checked(session: Session, actor: User, unit_id: int, instrument_id: str, year: int, reason: str, *,
             action: str, now: datetime) -> tuple[Unit, str]:
    access.require_role(actor, Role.ADMIN, Role.MANAGER, now=now)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action=action)
    if instrument_id not in {entry.instrument.id for entry in list_instruments()}:
        raise UnitRefused(_("Unknown instrument '%(key)s'.", key=instrument_id[:80]))
    if not 2000 <= year <= 2100:
        raise UnitRefused(_("The year must lie between 2000 and 2100."))
    return unit, _reason(reason)


def _reason(text: str) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise UnitRefused(_("Give the reason for this change: it is kept in the audit log."))
    if len(reason) > REASON_MAX:
        raise UnitRefused(_("The reason is too long (at most %(n)d characters).", n=REASON_MAX))
    return reason


# ---------------------------------------------------------------- reading


def effective_target(session: Session, unit: Unit, instrument_id: str, year: int,
                     default: float) -> EffectiveTarget:
    """The target for `unit`, or its nearest ancestor's, or `default`; with the unit it comes from."""
    for node in ancestors_and_self(unit):
        value = session.scalar(sa.select(Target.target).where(
            Target.unit_id == node.id, Target.instrument_id == instrument_id, Target.year == year))
        if value is not None:
            return EffectiveTarget(instrument_id, year, float(value), node, node.id == unit.id)
    return EffectiveTarget(instrument_id, year, default, None, False)


def effective_targets(session: Session, root: Unit, parents: Mapping[str, str | None], instrument_id: str,
                      year: int, default: float) -> dict[str, EffectiveTarget]:
    """`effective_target` of every unit of a subtree (`parents`: code -> parent code, None at `root`),
    with two queries instead of one per unit and level."""
    above = effective_target(session, root.parent, instrument_id, year, default) if root.parent else \
        EffectiveTarget(instrument_id, year, default, None, False)
    own = {unit.code: (unit, float(value)) for unit, value in session.execute(
        sa.select(Unit, Target.target).join(Target, Target.unit_id == Unit.id)
        .where(Target.instrument_id == instrument_id, Target.year == year,
               one_of(session, Unit.code, parents)))}
    out: dict[str, EffectiveTarget] = {}
    for code in parents:
        node: str | None = code
        while node is not None and node not in own:
            node = parents.get(node)
        if node is None:
            out[code] = EffectiveTarget(instrument_id, year, above.value, above.source, False)
        else:
            source, value = own[node]
            out[code] = EffectiveTarget(instrument_id, year, value, source, node == code)
    return out


def pending_proposals(session: Session, unit_ids: list[int] | set[int], instrument_id: str | None = None,
                      year: int | None = None) -> dict[tuple[int, str, int], TargetProposal]:
    """Pending proposals of these units, keyed (unit id, instrument, year)."""
    query = sa.select(TargetProposal).where(TargetProposal.unit_id.in_(sorted(unit_ids)),
                                            TargetProposal.status == ProposalStatus.PENDING)
    if instrument_id is not None:
        query = query.where(TargetProposal.instrument_id == instrument_id)
    if year is not None:
        query = query.where(TargetProposal.year == year)
    return {(p.unit_id, p.instrument_id, p.year): p for p in session.scalars(query)}


def proposals_to_decide(session: Session, actor: User) -> list[TargetProposal]:
    """Pending proposals `actor` may approve or reject, oldest first."""
    visible = access.visible_unit_ids(session, actor)
    found = session.scalars(sa.select(TargetProposal).where(
        TargetProposal.status == ProposalStatus.PENDING, TargetProposal.unit_id.in_(sorted(visible)))
        .order_by(TargetProposal.proposed_at, TargetProposal.id))
    return [p for p in found if may_set_target(actor, p.unit)]


# ---------------------------------------------------------------- changing


def set_target(session: Session, actor: User, unit_id: int, instrument_id: str, year: int, text: str, *,
               reason: str, now: datetime) -> Target:
    """Set (or change) the unit's own target; it then applies to every unit below that has none."""
    unit, why = _checked(session, actor, unit_id, instrument_id, year, reason, action="target.set", now=now)
    value = parse_target(text)
    _require_setter(session, actor, unit, "target.set", now)
    return _store(session, actor, unit, instrument_id, year, value, why, action="target.set", now=now)


def clear_target(session: Session, actor: User, unit_id: int, instrument_id: str, year: int, *,
                 reason: str, now: datetime) -> None:
    """Drop the unit's own target so that it inherits again (the audit event keeps the old value)."""
    unit, why = _checked(session, actor, unit_id, instrument_id, year, reason, action="target.clear", now=now)
    _require_setter(session, actor, unit, "target.clear", now)
    _remove(session, actor, unit, instrument_id, year, why, action="target.clear", now=now)


def propose_target(session: Session, actor: User, unit_id: int, instrument_id: str, year: int,
                   text: str | None, *, reason: str, now: datetime) -> TargetProposal:
    """Record a proposal (`text` None = drop the own target); it replaces the unit's earlier pending one."""
    unit, why = _checked(session, actor, unit_id, instrument_id, year, reason, action="target.propose",
                         now=now)
    value = parse_target(text) if text is not None else None
    earlier = pending_proposals(session, [unit.id], instrument_id, year).get((unit.id, instrument_id, year))
    if earlier is not None:
        earlier.status = ProposalStatus.SUPERSEDED
        earlier.decided_at = now
        earlier.decided_by_id = actor.id
    current = effective_target(session, unit, instrument_id, year, default=float("nan"))
    proposal = TargetProposal(unit_id=unit.id, instrument_id=instrument_id, year=year, target=value,
                              reason=why, proposed_by_id=actor.id, proposed_at=now)
    session.add(proposal)
    session.flush()
    audit.record(session, actor=actor, action="target.propose", object_type="target_proposal",
                 object_id=proposal.id, unit_id=unit.id,
                 detail={"instrument_id": instrument_id, "year": year,
                         "before": current.value if current.own else None, "target": value,
                         "reason": why, "replaces": earlier.id if earlier is not None else None}, now=now)
    return proposal


def approve_proposal(session: Session, actor: User, proposal_id: int, *, note: str = "",
                     now: datetime) -> TargetProposal:
    """Apply a pending proposal: the unit's own target becomes the proposed value (or is dropped)."""
    proposal, unit = _decidable(session, actor, proposal_id, "target.approve", now)
    note = " ".join((note or "").split())[:REASON_MAX]
    detail = {"proposal": proposal.id, "proposed_by": proposal.proposed_by_id, "note": note}
    if proposal.target is None:
        _remove(session, actor, unit, proposal.instrument_id, proposal.year, proposal.reason,
                action="target.approve", now=now, extra=detail)
    else:
        _store(session, actor, unit, proposal.instrument_id, proposal.year, proposal.target, proposal.reason,
               action="target.approve", now=now, extra=detail)
    proposal.status, proposal.decided_by_id, proposal.decided_at = ProposalStatus.APPROVED, actor.id, now
    proposal.decision_note = note
    session.flush()
    return proposal


def reject_proposal(session: Session, actor: User, proposal_id: int, *, reason: str,
                    now: datetime) -> TargetProposal:
    """Refuse a pending proposal; the target stays as it is. The reason is required and audited."""
    proposal, unit = _decidable(session, actor, proposal_id, "target.reject", now)
    why = _reason(reason)
    proposal.status, proposal.decided_by_id, proposal.decided_at = ProposalStatus.REJECTED, actor.id, now
    proposal.decision_note = why
    session.flush()
    audit.record(session, actor=actor, action="target.reject", object_type="target_proposal",
                 object_id=proposal.id, unit_id=unit.id,
                 detail={"instrument_id": proposal.instrument_id, "year": proposal.year,
                         "target": proposal.target, "proposed_by": proposal.proposed_by_id,
                         "reason": proposal.reason, "note": why}, now=now)
    return proposal


def _decidable(session: Session, actor: User, proposal_id: int, action: str,
               now: datetime) -> tuple[TargetProposal, Unit]:
    access.require_role(actor, Role.ADMIN, Role.MANAGER, now=now)
    proposal = session.get(TargetProposal, proposal_id)
    if proposal is None:
        raise NotFound()
    unit = access.unit_or_404(session, actor, proposal.unit_id, now=now, action=action)
    _require_setter(session, actor, unit, action, now)
    if proposal.status != ProposalStatus.PENDING:
        raise UnitRefused(_("This proposal has already been decided."))
    return proposal, unit


def _store(session: Session, actor: User, unit: Unit, instrument_id: str, year: int, value: float,
           reason: str, *, action: str, now: datetime, extra: Mapping[str, object] | None = None) -> Target:
    target = _own_target(session, unit.id, instrument_id, year)
    before = target.target if target is not None else None
    if target is None:
        target = Target(unit_id=unit.id, instrument_id=instrument_id, year=year, target=value)
        session.add(target)
    else:
        target.target = value
    session.flush()
    audit.record(session, actor=actor, action=action, object_type="target", object_id=target.id,
                 unit_id=unit.id, detail={"instrument_id": instrument_id, "year": year, "before": before,
                                          "target": value, "reason": reason, **(extra or {})}, now=now)
    return target


def _remove(session: Session, actor: User, unit: Unit, instrument_id: str, year: int, reason: str, *,
            action: str, now: datetime, extra: Mapping[str, object] | None = None) -> None:
    target = _own_target(session, unit.id, instrument_id, year)
    if target is None:
        if extra is None:
            raise UnitRefused(_("This unit has no target of its own for this instrument and year."))
        before, object_id = None, ""
    else:
        before, object_id = target.target, str(target.id)
        session.delete(target)
        session.flush()
    audit.record(session, actor=actor, action=action, object_type="target", object_id=object_id,
                 unit_id=unit.id, detail={"instrument_id": instrument_id, "year": year, "before": before,
                                          "target": None, "reason": reason, **(extra or {})}, now=now)


def _own_target(session: Session, unit_id: int, instrument_id: str, year: int) -> Target | None:
    return session.scalar(sa.select(Target).where(
        Target.unit_id == unit_id, Target.instrument_id == instrument_id, Target.year == year))
