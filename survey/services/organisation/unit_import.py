"""Import a unit tree from CSV: `code,kind,name_vi,name_en,parent_code,valid_from,valid_to,successor_code`.

All or nothing: the whole file is checked first and every problem reported with its line; only a clean
file is written, in the caller's single transaction. Rules (also in docs/manage.md):

- UTF-8 with or without a byte-order mark; the header names the columns, in any order; `code`, `kind`
  and `name_vi` are required, the others optional.
- A code already in the database is UPDATED (kind, names, parent, validity, successor): after a merger
  a province re-imports its tree with new names and closing dates. Units are never deleted.
- `parent_code` may name a unit further down the file or one already stored. Empty = a top-level unit,
  which only an administrator may create.
- Scope: a manager may create or update only units inside their subtrees, under parents inside them;
  a parent or successor outside the scope is accepted only where it is already the unit's own.
- Kinds nest as `units.ALLOWED_PARENT_KINDS` (this package) says; the parent links must not form a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey.models import Unit, UnitKind, User
from survey.services.organisation.units import ALLOWED_PARENT_KINDS, CODE_PATTERN, UnitRefused, clean_text
from survey.services.staff import access, audit
from survey.services.weighting.frame_rows import RowError, decode_csv, printable, read_csv_records
from survey.services.weighting.frames import FramesRefused

COLUMNS = ("code", "kind", "name_vi", "name_en", "parent_code", "valid_from", "valid_to", "successor_code")
REQUIRED = ("code", "kind", "name_vi")
MAX_ROWS = 20_000  # 34 provinces and 3,321 communes fit many times over


class UnitImportRefused(FramesRefused):
    """The file was refused as a whole; `errors` lists every problem with its line."""


@dataclass(frozen=True)
class UnitRow:
    line: int
    code: str
    kind: UnitKind
    name_vi: str
    name_en: str
    parent_code: str
    valid_from: date | None
    valid_to: date | None
    successor_code: str


@dataclass(frozen=True)
class UnitImport:
    created: tuple[str, ...]
    updated: tuple[str, ...]


def import_units_csv(session: Session, data: bytes, *, actor: User | None, now: datetime) -> UnitImport:
    """Check the whole file, then create or update its units; `actor` None = the system (CLI, admin)."""
    text, error = decode_csv(data)
    if error is not None or text is None:
        raise UnitImportRefused([error] if error else [])
    records, errors = read_csv_records(text, COLUMNS, REQUIRED)
    if errors and not records:
        raise UnitImportRefused(errors)
    if not records:
        raise UnitImportRefused([RowError(0, "empty", _("there are no units to import."))])
    if len(records) > MAX_ROWS:
        raise UnitImportRefused([RowError(0, "too_many", _("more than %(n)d rows: split the file.",
                                                              n=MAX_ROWS))])
    rows = [row for line, record in records if (row := _check_row(line, record, errors)) is not None]
    rows = _without_duplicates(rows, errors)
    plan = _Plan(session, actor, rows, errors)
    plan.check()
    if errors:
        raise UnitImportRefused(errors)
    return plan.write(now)


def _check_row(line: int, record: Mapping[str, str], errors: list[RowError]) -> UnitRow | None:
    before = len(errors)

    def fail(code: str, message: str) -> None:
        errors.append(RowError(line, code, message))

    code = record.get("code", "")
    if not CODE_PATTERN.fullmatch(code):
        fail("code", _("unit code '%(code)s' is not valid (1–40 letters, digits, '.', '_' or '-').",
                       code=printable(code)))
    kind_text = record.get("kind", "").lower()
    kind = UnitKind(kind_text) if kind_text in {k.value for k in UnitKind} else None
    if kind is None:
        fail("kind", _("kind '%(kind)s' is not one of %(allowed)s.", kind=kind_text[:20],
                       allowed=", ".join(k.value for k in UnitKind)))
    names = []
    for column, label, required in (("name_vi", "name_vi", True), ("name_en", "name_en", False)):
        try:
            names.append(clean_text(record.get(column, ""), field=label, required=required))
        except UnitRefused as refused:
            fail("name", str(refused.message))
    dates = []
    for column in ("valid_from", "valid_to"):
        value = record.get(column, "")
        try:
            dates.append(date.fromisoformat(value) if value else None)
            if value and len(value) != 10:
                raise ValueError(value)
        except ValueError:
            fail("date", _("%(column)s '%(value)s' is not a date (YYYY-MM-DD).", column=column,
                           value=value[:20]))
    if len(dates) == 2 and dates[0] and dates[1] and dates[1] < dates[0]:
        fail("date", _("valid_to is before valid_from."))
    for column in ("parent_code", "successor_code"):
        value = record.get(column, "")
        if value and not CODE_PATTERN.fullmatch(value):  # cannot exist; never query with NULs and the like
            fail(column.removesuffix("_code"), _("%(column)s '%(code)s' is not a valid unit code.",
                                                 column=column, code=printable(value)))
    if len(errors) > before or kind is None:
        return None
    return UnitRow(line, code, kind, names[0], names[1], record.get("parent_code", ""), dates[0], dates[1],
                   record.get("successor_code", ""))


def _without_duplicates(rows: list[UnitRow], errors: list[RowError]) -> list[UnitRow]:
    first: dict[str, int] = {}
    kept = []
    for row in rows:
        if row.code in first:
            errors.append(RowError(row.line, "duplicate", _(
                "unit code '%(code)s' already appears on line %(other)d.", code=row.code,
                other=first[row.code])))
        else:
            first[row.code] = row.line
            kept.append(row)
    return kept


class _Plan:
    """The tree as it would be after the import, checked against the database and the actor's scope."""

    def __init__(self, session: Session, actor: User | None, rows: list[UnitRow], errors: list[RowError]):
        self.session, self.actor, self.rows, self.errors = session, actor, rows, errors
        self.admin = actor is None or access.is_admin(actor)
        self.visible = set() if self.admin or actor is None else access.visible_unit_ids(session, actor)
        self.file = {row.code: row for row in rows}
        named = set(self.file) | {r.parent_code for r in rows} | {r.successor_code for r in rows}
        named.discard("")
        self.stored = {u.code: u for u in session.scalars(sa.select(Unit).where(Unit.code.in_(named)))}

    def fail(self, row: UnitRow, code: str, message: str) -> None:
        self.errors.append(RowError(row.line, code, message))

    def in_scope(self, unit: Unit) -> bool:
        return self.admin or unit.id in self.visible

    def kind_of(self, code: str) -> UnitKind:
        return self.file[code].kind if code in self.file else self.stored[code].kind

    def parent_of(self, code: str) -> str:
        if code in self.file:
            return self.file[code].parent_code
        parent = self.stored[code].parent
        return parent.code if parent is not None else ""

    def check(self) -> None:
        for row in self.rows:
            existing = self.stored.get(row.code)
            if existing is not None and not self.in_scope(existing):
                self.fail(row, "unit_out_of_scope", _("unit '%(code)s' exists outside your units.",
                                                      code=row.code))
                continue
            if self._check_parent(row, existing):
                self._check_nesting(row, existing)
            self._check_successor(row, existing)
        self._check_cycles()

    def _check_parent(self, row: UnitRow, existing: Unit | None) -> bool:
        current = existing.parent.code if existing is not None and existing.parent is not None else ""
        if not row.parent_code:
            if not self.admin and not (existing is not None and current == ""):
                self.fail(row, "parent", _("only an administrator may create a top-level unit; give a "
                                           "parent_code."))
                return False
            return True
        if row.parent_code == row.code:
            self.fail(row, "cycle", _("unit '%(code)s' cannot be its own parent.", code=row.code))
            return False
        if row.parent_code not in self.file and row.parent_code not in self.stored:
            self.fail(row, "parent", _("parent unit code '%(code)s' does not exist.", code=row.parent_code))
            return False
        stored_parent = self.stored.get(row.parent_code)
        outside = stored_parent is not None and not self.in_scope(stored_parent)
        if row.parent_code not in self.file and outside and row.parent_code != current:
            self.fail(row, "parent", _("parent unit '%(code)s' is outside your units.", code=row.parent_code))
            return False
        return True

    def _check_nesting(self, row: UnitRow, existing: Unit | None) -> None:
        parent_kind = self.kind_of(row.parent_code) if row.parent_code else None
        if parent_kind not in ALLOWED_PARENT_KINDS[row.kind]:
            self.fail(row, "kind", _("a %(kind)s cannot be placed under a %(parent)s.", kind=row.kind.value,
                                     parent=parent_kind.value if parent_kind else _("the top level")))
        if existing is None or existing.kind == row.kind:
            return
        for child in existing.children:
            if child.code not in self.file and row.kind not in ALLOWED_PARENT_KINDS[child.kind]:
                self.fail(row, "kind", _("unit '%(child)s' (%(child_kind)s) below it cannot sit under a "
                                         "%(kind)s.", child=child.code, child_kind=child.kind.value,
                                         kind=row.kind.value))

    def _check_successor(self, row: UnitRow, existing: Unit | None) -> None:
        code = row.successor_code
        if not code:
            return
        if code == row.code:
            self.fail(row, "successor", _("unit '%(code)s' cannot be its own successor.", code=code))
        elif code not in self.file and code not in self.stored:
            self.fail(row, "successor", _("successor unit code '%(code)s' does not exist.", code=code))
        elif code not in self.file and not self.in_scope(self.stored[code]) and not (
                existing is not None and existing.successor_id == self.stored[code].id):
            self.fail(row, "successor", _("successor unit '%(code)s' is outside your units.", code=code))

    def _check_cycles(self) -> None:
        reported: set[str] = set()
        for row in self.rows:
            if row.parent_code == row.code or row.code in reported:  # already reported
                continue
            path = [row.code]
            code = row.parent_code if row.parent_code in self.file or row.parent_code in self.stored else ""
            while code and code not in reported:
                if code in path:
                    cycle = [*path[path.index(code):], code]
                    reported.update(cycle)
                    self.fail(row, "cycle", _("the parent links form a cycle: %(cycle)s.",
                                              cycle=" → ".join(cycle)))
                    break
                if code not in self.file and code not in self.stored:
                    self._load(code)
                    if code not in self.stored:
                        break
                path.append(code)
                code = self.parent_of(code)

    def _load(self, code: str) -> None:
        unit = self.session.scalar(sa.select(Unit).where(Unit.code == code))
        if unit is not None:
            self.stored[code] = unit

    def write(self, now: datetime) -> UnitImport:
        created, updated = [], []
        units: dict[str, Unit] = dict(self.stored)
        for row in self.rows:
            unit = units.get(row.code)
            if unit is None:
                unit = Unit(code=row.code, kind=row.kind, name_vi=row.name_vi)
                self.session.add(unit)
                units[row.code] = unit
                created.append(row.code)
            else:
                updated.append(row.code)
        self.session.flush()
        for row in self.rows:
            unit = units[row.code]
            unit.kind, unit.name_vi, unit.name_en = row.kind, row.name_vi, row.name_en
            unit.valid_from, unit.valid_to = row.valid_from, row.valid_to
            unit.parent = units[row.parent_code] if row.parent_code else None
            unit.successor_id = units[row.successor_code].id if row.successor_code else None
        self.session.flush()
        audit.record(self.session, actor=self.actor, action="units.import", object_type="unit",
                     object_id="", detail={"created": len(created), "updated": len(updated),
                                           "codes": sorted(created + updated)[:200]}, now=now)
        return UnitImport(tuple(created), tuple(updated))
