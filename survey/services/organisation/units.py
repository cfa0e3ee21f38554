"""Managing the unit tree and its counters, within the manager's scope.

Every function takes the acting user and `now`, checks scope itself (never trusting the page that
called it), records an audit event and only flushes: the view or command commits once.
Units are never deleted: they close with `valid_to` and may name a successor (docs/sipas-method.md §6).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey.errors import SurveyError
from survey.local_time import local_date
from survey.models import Counter, Role, Unit, UnitKind, User
from survey.services.qr import counters as counter_keys
from survey.services.staff import access, audit

# Which kind may sit under which (None = a root). Provinces are roots; their departments, the provincial
# service centre and (since 2025) communes sit under them; pre-2025 districts sit between provinces and
# communes; counters live at service points, which belong to an agency, a commune or a district.
ALLOWED_PARENT_KINDS: dict[UnitKind, frozenset[UnitKind | None]] = {
    UnitKind.PROVINCE: frozenset({None}),
    UnitKind.AGENCY: frozenset({UnitKind.PROVINCE}),
    UnitKind.DISTRICT: frozenset({UnitKind.PROVINCE}),
    UnitKind.COMMUNE: frozenset({UnitKind.PROVINCE, UnitKind.DISTRICT}),
    UnitKind.SERVICE_POINT: frozenset({UnitKind.AGENCY, UnitKind.DISTRICT, UnitKind.COMMUNE}),
}

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
FIELD_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnitRefused(SurveyError):
    """A unit or counter change that breaks a rule; the message says which, in the user's language."""

    def __init__(self, message: object) -> None:
        super().__init__(422, "E-VALUE", message)

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class UnitData:
    """What a manager may set on a unit."""

    code: str
    kind: UnitKind
    name_vi: str
    name_en: str = ""
    parent_id: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    successor_id: int | None = None


@dataclass(frozen=True)
class CounterData:
    code: str
    name_vi: str
    name_en: str = ""
    procedure_field: str | None = None
    active: bool = True


@dataclass(frozen=True)
class TreeRow:
    """One line of the tree page: the unit, how deep it sits under its visible root, its counter count."""

    unit: Unit
    depth: int
    counters: int
    closed: bool


# ---------------------------------------------------------------- scope


def visible_ids(session: Session, actor: User) -> set[int] | None:
    """The units `actor` may manage, or None for an administrator (everything)."""
    if access.is_admin(actor):
        return None
    return access.visible_unit_ids(session, actor)


def _require_manager(actor: User) -> None:
    access.require_role(actor, Role.ADMIN, Role.MANAGER)


def _in_scope_or_refuse(session: Session, actor: User, unit_id: int | None, *, now: datetime,
                        action: str) -> Unit | None:
    """Load a unit the actor names as parent or successor: 404 + audit when it is outside scope."""
    if unit_id is None:
        return None
    return access.unit_or_404(session, actor, unit_id, now=now, action=action)


# ---------------------------------------------------------------- reading


def unit_tree(session: Session, actor: User, now: datetime) -> list[TreeRow]:
    """The actor's visible subtrees in depth-first order, each root being a visible unit whose parent
    is not visible. Closed units are listed (marked), because their history still matters."""
    visible = visible_ids(session, actor)
    query = sa.select(Unit).order_by(Unit.code)
    if visible is not None:
        query = query.where(Unit.id.in_(visible))
    units = list(session.scalars(query))
    ids = {u.id for u in units}
    counts: dict[int, int] = {
        row.unit_id: row.n for row in session.execute(
            sa.select(Counter.unit_id, sa.func.count().label("n")).where(Counter.unit_id.in_(ids))
            .group_by(Counter.unit_id))}
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        key = unit.parent_id if unit.parent_id in ids else None
        children.setdefault(key, []).append(unit)
    rows: list[TreeRow] = []
    today = local_date(now)

    def walk(parent: int | None, depth: int) -> None:
        for unit in children.get(parent, []):
            closed = unit.valid_to is not None and unit.valid_to < today
            rows.append(TreeRow(unit, depth, counts.get(unit.id, 0), closed))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return rows


def parent_choices(session: Session, actor: User, kind: UnitKind | None = None) -> list[Unit]:
    """Units the actor may attach a unit to (optionally only those a `kind` may sit under)."""
    visible = visible_ids(session, actor)
    query = sa.select(Unit).order_by(Unit.code)
    if visible is not None:
        query = query.where(Unit.id.in_(visible))
    if kind is not None:
        allowed = [k for k in ALLOWED_PARENT_KINDS[kind] if k is not None]
        query = query.where(Unit.kind.in_(allowed))
    return list(session.scalars(query))


def get_unit(session: Session, actor: User, unit_id: int, *, now: datetime) -> Unit:
    """A unit in the actor's scope, or 404 (and an audit event) for anything else."""
    return access.unit_or_404(session, actor, unit_id, now=now, action="unit.view")


# ---------------------------------------------------------------- units


def clean_text(value: str, *, field: str, required: bool = True, max_length: int = 200) -> str:
    """NFC, trimmed, no control characters; refused with a message naming the field."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if _CONTROL.search(text):
        raise UnitRefused(_("%(field)s contains control characters.", field=field))
    if required and not text:
        raise UnitRefused(_("%(field)s is required.", field=field))
    if len(text) > max_length:
        raise UnitRefused(_("%(field)s is longer than %(n)d characters.", field=field, n=max_length))
    return text


def check_code(code: str) -> str:
    code = (code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise UnitRefused(_("The code '%(code)s' is not valid: use 1–40 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit.", code=code[:60]))
    return code


def check_nesting(kind: UnitKind, parent_kind: UnitKind | None) -> None:
    """Refuse `kind` under a parent of `parent_kind` (None = at the top); see ALLOWED_PARENT_KINDS."""
    if parent_kind not in ALLOWED_PARENT_KINDS[kind]:
        raise UnitRefused(_("A unit of kind %(kind)s cannot be placed under %(parent)s.", kind=kind.value,
                            parent=parent_kind.value if parent_kind else _("the top level")))


def check_dates(valid_from: date | None, valid_to: date | None) -> None:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise UnitRefused(_("The closing date is before the opening date."))


def _unit_detail(unit: Unit) -> dict[str, object]:
    return {"code": unit.code, "kind": unit.kind.value, "parent_id": unit.parent_id,
            "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
            "valid_to": unit.valid_to.isoformat() if unit.valid_to else None,
            "successor_id": unit.successor_id}


def _audit_unit(session: Session, actor: User, action: str, unit: Unit, detail: dict[str, object], *,
                now: datetime) -> None:
    audit.record(session, actor=actor, action=action, object_type="unit", object_id=str(unit.id),
                 unit_id=unit.id, detail=detail, now=now)


def create_unit(session: Session, actor: User, data: UnitData, *, now: datetime) -> Unit:
    """Create a unit under a parent in the actor's scope; only an administrator creates a root."""
    _require_manager(actor)
    code = check_code(data.code)
    if data.parent_id is None and actor.role != Role.ADMIN:
        raise UnitRefused(_("Choose a parent unit within your scope."))
    parent = _in_scope_or_refuse(session, actor, data.parent_id, now=now, action="unit.create")
    check_nesting(data.kind, parent.kind if parent else None)
    check_dates(data.valid_from, data.valid_to)
    successor = _in_scope_or_refuse(session, actor, data.successor_id, now=now, action="unit.create")
    if session.scalar(sa.select(Unit.id).where(Unit.code == code)) is not None:
        raise UnitRefused(_("The code '%(code)s' is already used by another unit.", code=code))
    unit = Unit(code=code, kind=data.kind, parent=parent,
                name_vi=clean_text(data.name_vi, field=_("Vietnamese name")),
                name_en=clean_text(data.name_en, field=_("English name"), required=False),
                valid_from=data.valid_from, valid_to=data.valid_to,
                successor_id=successor.id if successor else None)
    session.add(unit)
    session.flush()
    _audit_unit(session, actor, "unit.create", unit, _unit_detail(unit), now=now)
    return unit


def update_unit(session: Session, actor: User, unit_id: int, data: UnitData, *, now: datetime) -> Unit:
    """Edit a unit in scope. A new parent must be in scope too and must not lie below the unit."""
    _require_manager(actor)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="unit.update")
    code = check_code(data.code)
    if data.parent_id != unit.parent_id:
        if data.parent_id is None and actor.role != Role.ADMIN:
            raise UnitRefused(_("Choose a parent unit within your scope."))
        parent = _in_scope_or_refuse(session, actor, data.parent_id, now=now, action="unit.update")
        if parent is not None and parent.id in access.subtree_ids(session, [unit.id]):
            raise UnitRefused(_("A unit cannot be placed under itself or one of its own units."))
    else:
        parent = unit.parent
    check_nesting(data.kind, parent.kind if parent else None)
    for child in unit.children:  # a new kind must still fit what already sits below it
        check_nesting(child.kind, data.kind)
    check_dates(data.valid_from, data.valid_to)
    if data.successor_id != unit.successor_id:
        _check_successor(session, actor, unit, data.successor_id, now=now)
    if code != unit.code and session.scalar(sa.select(Unit.id).where(Unit.code == code)) is not None:
        raise UnitRefused(_("The code '%(code)s' is already used by another unit.", code=code))
    before = _unit_detail(unit)
    unit.code, unit.kind, unit.parent = code, data.kind, parent
    unit.name_vi = clean_text(data.name_vi, field=_("Vietnamese name"))
    unit.name_en = clean_text(data.name_en, field=_("English name"), required=False)
    unit.valid_from, unit.valid_to, unit.successor_id = data.valid_from, data.valid_to, data.successor_id
    session.flush()
    _audit_unit(session, actor, "unit.update", unit, {"before": before, "after": _unit_detail(unit)}, now=now)
    return unit


def _check_successor(session: Session, actor: User, unit: Unit, successor_id: int | None, *,
                     now: datetime) -> None:
    if successor_id is None:
        return
    if successor_id == unit.id:
        raise UnitRefused(_("A unit cannot be its own successor."))
    _in_scope_or_refuse(session, actor, successor_id, now=now, action="unit.successor")


def close_unit(session: Session, actor: User, unit_id: int, *, valid_to: date, successor_id: int | None,
               now: datetime) -> Unit:
    """Close a unit on `valid_to` (its last valid day), optionally naming the unit that took it over."""
    _require_manager(actor)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="unit.close")
    check_dates(unit.valid_from, valid_to)
    _check_successor(session, actor, unit, successor_id, now=now)
    unit.valid_to, unit.successor_id = valid_to, successor_id
    session.flush()
    _audit_unit(session, actor, "unit.close", unit, _unit_detail(unit), now=now)
    return unit


# ---------------------------------------------------------------- counters


def get_counter(session: Session, actor: User, counter_id: int, *, now: datetime,
                action: str = "counter.view") -> Counter:
    """A counter of a unit in scope; 404 (with an audit event) for a missing or another unit's counter."""
    return access.counter_or_404(session, actor, counter_id, now=now, action=action)


def _clean_counter(data: CounterData) -> tuple[str, str, str, str | None]:
    code = check_code(data.code)
    field = (data.procedure_field or "").strip() or None
    if field is not None and not FIELD_PATTERN.fullmatch(field):
        raise UnitRefused(_("The procedure field '%(field)s' is not valid: use lower-case letters, digits "
                            "and '-', e.g. dat-dai.", field=field[:60]))
    return (code, clean_text(data.name_vi, field=_("Vietnamese name")),
            clean_text(data.name_en, field=_("English name"), required=False), field)


def _counter_detail(counter: Counter) -> dict[str, object]:
    return {"code": counter.code, "procedure_field": counter.procedure_field, "active": counter.active,
            "key_version": counter.key_version}


def _audit_counter(session: Session, actor: User, action: str, counter: Counter, detail: dict[str, object],
                   *, now: datetime) -> None:
    audit.record(session, actor=actor, action=action, object_type="counter", object_id=str(counter.id),
                 unit_id=counter.unit_id, detail=detail, now=now)


def create_counter(session: Session, actor: User, unit_id: int, data: CounterData, *,
                   now: datetime) -> Counter:
    _require_manager(actor)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="counter.create")
    if unit.kind != UnitKind.SERVICE_POINT:  # citizens are served, and surveyed, at service points
        raise UnitRefused(_("Counters belong to service points: add a service point below this unit first."))
    code, name_vi, name_en, field = _clean_counter(data)
    _refuse_duplicate_counter(session, unit.id, code, None)
    counter = Counter(unit=unit, code=code, name_vi=name_vi, name_en=name_en, procedure_field=field,
                      active=data.active, created_at=now)
    session.add(counter)
    session.flush()
    _audit_counter(session, actor, "counter.create", counter, _counter_detail(counter), now=now)
    return counter


def update_counter(session: Session, actor: User, counter_id: int, data: CounterData, *,
                   now: datetime) -> Counter:
    _require_manager(actor)
    counter = get_counter(session, actor, counter_id, now=now, action="counter.update")
    code, name_vi, name_en, field = _clean_counter(data)
    _refuse_duplicate_counter(session, counter.unit_id, code, counter.id)
    before = _counter_detail(counter)
    counter.code, counter.name_vi, counter.name_en = code, name_vi, name_en
    counter.procedure_field, counter.active = field, data.active
    session.flush()
    _audit_counter(session, actor, "counter.update", counter,
                   {"before": before, "after": _counter_detail(counter)}, now=now)
    return counter


def _refuse_duplicate_counter(session: Session, unit_id: int, code: str, own_id: int | None) -> None:
    query = sa.select(Counter.id).where(Counter.unit_id == unit_id, Counter.code == code)
    if own_id is not None:
        query = query.where(Counter.id != own_id)
    if session.scalar(query) is not None:
        raise UnitRefused(_("This unit already has a counter with the code '%(code)s'.", code=code))


def rotate_counter_key(session: Session, actor: User, counter_id: int, *, now: datetime) -> Counter:
    """Retire every printed code of the counter; new posters carry the next key version."""
    _require_manager(actor)
    counter = get_counter(session, actor, counter_id, now=now, action="counter.rotate")
    change = counter_keys.rotate_key(counter, now)
    _audit_counter(session, actor, "counter.rotate", counter,
                   {"old_key_version": change.old_key_version, "key_version": change.key_version}, now=now)
    return counter


def revoke_counter(session: Session, actor: User, counter_id: int, *, now: datetime) -> Counter:
    """Stop every code of the counter for good."""
    _require_manager(actor)
    counter = get_counter(session, actor, counter_id, now=now, action="counter.revoke")
    change = counter_keys.revoke(counter, now)
    _audit_counter(session, actor, "counter.revoke", counter, {"key_version": change.key_version}, now=now)
    return counter
