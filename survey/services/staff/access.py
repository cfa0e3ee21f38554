"""Who may see which units, enforced in services so every page, export and API shares one rule.

An admin sees every unit. A manager or researcher sees the subtrees rooted at their scopes (a scope on
a province covers every agency, commune and service point below it). Asking for a unit outside that
set looks exactly like asking for one that does not exist (404), so ids cannot be probed, and the
attempt is written to the audit log (docs/bad-input.md row 24).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, object_session
from werkzeug.exceptions import NotFound

from survey.errors import SurveyError
from survey.models import Alert, Counter, Response, Role, Unit, User
from survey.services.organisation.unit_trees import kept_tree
from survey.services.staff import audit

MANAGING_ROLES = (Role.ADMIN, Role.MANAGER)
EXPORTING_ROLES = (Role.ADMIN, Role.MANAGER, Role.RESEARCHER)
Found = TypeVar("Found", Unit, Counter, Alert, Response)
# Objects that belong to one unit and are reached by their own id in a URL.
Owned = TypeVar("Owned", Counter, Alert, Response)


def subtree_ids(session: Session, root_ids: Iterable[int]) -> set[int]:
    """The given units and all their descendants (recursive CTE on units.parent_id; SQLite and
    PostgreSQL). UNION, not UNION ALL, so a corrupt cycle in the tree terminates instead of looping."""
    roots = tuple(sorted(set(root_ids)))
    if not roots:
        return set()
    # A page asks for the same subtrees many times (its unit's, the province's for each table), and every
    # page for its viewer's: read once per process while the tree is unchanged (`unit_trees`); a copy, as
    # callers may add to it.
    return set(kept_tree(session, ("subtree_ids", roots), lambda: _read_subtree(session, roots)))


def _read_subtree(session: Session, roots: tuple[int, ...]) -> frozenset[int]:
    tree = sa.select(Unit.id).where(Unit.id.in_(roots)).cte("subtree", recursive=True)
    children = sa.select(Unit.id).join(tree, Unit.parent_id == tree.c.id)
    tree = tree.union(children)
    return frozenset(session.scalars(sa.select(tree.c.id)))


def visible_unit_ids(session: Session, user: User) -> set[int]:
    """Ids of every unit `user` may see: all for an admin, the union of scope subtrees otherwise."""
    if not user.active:
        return set()
    if user.role == Role.ADMIN:
        return set(session.scalars(sa.select(Unit.id)))
    return subtree_ids(session, (scope.unit_id for scope in user.scopes))


def unit_or_404(session: Session, user: User, unit_id: int, *, now: datetime, action: str = "view") -> Unit:
    """The unit, if it exists and `user` may see it; otherwise audit `access.denied` and raise 404.

    The denial is committed in its own transaction (`audit.record_independently`): the NotFound aborts
    the request, whose single commit therefore never runs, yet the attempt must stay on record.
    """
    unit = session.get(Unit, unit_id)
    return _visible_or_404(session, user, unit, unit.id if unit is not None else None,
                           object_type="unit", object_id=unit_id, action=action, now=now)


def counter_or_404(session: Session, user: User, counter_id: int, *, now: datetime,
                   action: str = "view") -> Counter:
    """The counter, if it exists and its unit is visible to `user`; otherwise audit and 404."""
    return owned_or_404(session, user, Counter, counter_id, object_type="counter", now=now, action=action)


def owned_or_404(session: Session, user: User, model: type[Owned], object_id: int, *, object_type: str,
                 now: datetime, action: str = "view") -> Owned:
    """The `model` row `object_id` (a counter, an alert, a response), if it exists and its unit is
    visible to `user`; otherwise audit `access.denied` and raise 404, as for a unit."""
    found = session.get(model, object_id)
    return _visible_or_404(session, user, found, found.unit_id if found is not None else None,
                           object_type=object_type, object_id=object_id, action=action, now=now)


def _visible_or_404(session: Session, user: User, found: Found | None, unit_id: int | None, *,
                    object_type: str, object_id: int, action: str, now: datetime) -> Found:
    """`found` if it exists and its unit (`unit_id`) is visible to `user`; otherwise audit and 404."""
    if found is None or unit_id not in visible_unit_ids(session, user):
        _deny(session, user, object_type=object_type, object_id=object_id, unit_id=unit_id, action=action,
              now=now)
        raise NotFound()
    return found


def refuse_404(session: Session, user: User, *, object_type: str, object_id: int, unit_id: int | None,
               action: str, now: datetime) -> NoReturn:
    """Audit `access.denied` for an object `user` may not reach, and raise 404, as for a unit (for
    objects whose rule is not the unit scope alone, e.g. another account's report subscription)."""
    _deny(session, user, object_type=object_type, object_id=object_id, unit_id=unit_id, action=action,
          now=now)
    raise NotFound()


def require_role(user: User, *roles: Role | str, now: datetime | None = None) -> None:
    """Raise 403 E-FORBIDDEN (after auditing `role.denied`) unless `user` is active with one of `roles`."""
    if user.active and user.role in {Role(r) for r in roles}:
        return
    session = object_session(user)
    if session is not None:
        audit.record_independently(
            session, actor=user, action="role.denied", object_type="role",
            detail={"required": sorted(str(r) for r in roles), "role": str(user.role)},
            now=now or datetime.now(UTC))
    raise forbidden()


def forbidden() -> SurveyError:
    return SurveyError(403, "E-FORBIDDEN", _l("You do not have access to this page."))


def can_manage(user: User) -> bool:
    """May change units, counters, frames and alerts (within scope)."""
    return user.active and user.role in MANAGING_ROLES


def can_export(user: User) -> bool:
    """May download exports (within scope): the navigation shows "Research data" to these roles."""
    return user.active and user.role in EXPORTING_ROLES


def is_admin(user: User) -> bool:
    return user.active and user.role == Role.ADMIN


def _deny(session: Session, user: User, *, object_type: str, object_id: int, unit_id: int | None,
          action: str, now: datetime) -> None:
    audit.record_independently(session, actor=user, action="access.denied", object_type=object_type,
                               object_id=object_id, unit_id=unit_id, detail={"attempted": action},
                               now=now)
