"""Staff sign-in state: Flask-Login on top of revocable server-side sessions.

The signed Flask session cookie carries only a random session id (Flask-Login's "user id" slot).
Each request hashes it and loads the `StaffSession` row, which logout or an admin can revoke, and
which expires after STAFF_IDLE_MINUTES without activity or STAFF_ABSOLUTE_HOURS after sign-in.

Views declare who may use them with `@staff_required(...)`; the `manage` blueprint additionally
refuses anonymous requests in `before_request`, so a view that forgets the decorator still needs a
signed-in account (and the access-matrix test fails until it declares its roles).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.extensions import db
from survey.local_time import local_date
from survey.models import Role, StaffSession, User
from survey.services.staff import access, staff_sessions

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()


def current_time() -> datetime:
    """Now, from `app.config["CLOCK"]` when set (tests move time without sleeping), else UTC now."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock is not None else datetime.now(UTC)


def local_today() -> date:
    """Today in Vietnam by the app's clock: the day a citizen answers on and a month is counted in."""
    return local_date(current_time())


def second_factor_applies(user: User) -> bool:
    """A TOTP code is needed if the user enrolled one, and always for admins unless switched off."""
    return user.totp_enabled or (user.role == Role.ADMIN and bool(current_app.config["REQUIRE_ADMIN_TOTP"]))


class Principal:
    """What Flask-Login sees as `current_user`: a live StaffSession and its account.

    `is_authenticated` is False until the second factor is done where it applies, so a password alone
    never opens a staff page; the two-factor pages reach the half-signed-in principal through
    `pending_principal()`."""

    is_anonymous = False

    def __init__(self, row: StaffSession, token: str) -> None:
        self.staff_session = row
        self.user = row.user
        self._token = token

    @property
    def is_authenticated(self) -> bool:
        return self.staff_session.second_factor_done or not second_factor_applies(self.user)

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return self._token


def _lifetime() -> staff_sessions.Lifetime:
    return staff_sessions.Lifetime(idle=timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"]),
                                   absolute=timedelta(hours=current_app.config["STAFF_ABSOLUTE_HOURS"]))


def _load_principal(token: str) -> Principal | None:
    now = current_time()
    row = staff_sessions.find_live(db.session(), token, now=now, lifetime=_lifetime())
    if row is None:
        return None
    if staff_sessions.needs_touch(row, now):
        staff_sessions.touch_independently(db.session(), row, now)
    return Principal(row, token)


def sign_in(user: User, *, second_factor_done: bool) -> StaffSession:
    """Open a server-side session for `user` and put its id in the cookie (the view commits).
    A session this browser already had is revoked, not left alive behind the new cookie."""
    previous = pending_principal()
    if previous is not None:
        staff_sessions.revoke(previous.staff_session, now=current_time())
    token, row = staff_sessions.start(db.session(), user, now=current_time(),
                                      second_factor_done=second_factor_done)
    login_user(Principal(row, token))
    return row


def complete_second_factor(principal: Principal) -> StaffSession:
    """The second factor passed: swap the half-signed-in session for a new id marked done (a new
    session id at every privilege change, OWASP ASVS 3.2.1), so a cookie copied between the
    password and the code never gains the full session."""
    staff_sessions.revoke(principal.staff_session, now=current_time())
    return sign_in(principal.user, second_factor_done=True)


def sign_out() -> None:
    """Revoke the current session row (every copy of the cookie dies) and clear the cookie."""
    principal = pending_principal()
    if principal is not None:
        staff_sessions.revoke(principal.staff_session, now=current_time())
    logout_user()


def pending_principal() -> Principal | None:
    """The principal behind a live session, whether or not its second factor is done yet."""
    user = current_user._get_current_object()
    return user if isinstance(user, Principal) else None


def current_staff() -> User:
    """The signed-in account. Only call behind `staff_required` or the manage blueprint's guard."""
    principal = pending_principal()
    if principal is None or not principal.is_authenticated:
        raise RuntimeError("current_staff() called without a signed-in staff member")
    return principal.user


def current_staff_or_none() -> User | None:
    principal = pending_principal()
    return principal.user if principal is not None and principal.is_authenticated else None


def is_safe_next(target: str | None) -> bool:
    """Only same-site paths: `/manage/...`, never `//evil`, `/\\evil`, `https://evil` or control chars."""
    if not target or len(target) > 1000 or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def require_signed_in() -> WerkzeugResponse | None:
    """`before_request` guard: None when fully signed in, else the redirect to the next step."""
    principal = pending_principal()
    if principal is not None and principal.is_authenticated:
        return None
    if principal is not None:  # password accepted, second factor outstanding
        endpoint = "auth.two_factor" if principal.user.totp_enabled else "auth.enrol"
        return redirect(url_for(endpoint, next=_next_of_this_request()))
    return redirect(url_for("auth.login", next=_next_of_this_request()))


def _next_of_this_request() -> str | None:
    if request.method != "GET":
        return None
    target = request.full_path.rstrip("?")
    return target if is_safe_next(target) else None


ALL_ROLES: tuple[Role, ...] = tuple(Role)


def staff_required(*roles: Role | str) -> Callable[[F], F]:
    """Allow only signed-in staff with one of `roles` (all roles when none given).

    Anonymous → redirect to the sign-in page with a safe `next`; wrong role → 403 E-FORBIDDEN and a
    `role.denied` audit event. The allowed roles are kept on the view as `staff_roles`, which the
    access-matrix test reads."""
    allowed = tuple(Role(r) for r in roles) or ALL_ROLES

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            refusal = require_signed_in()
            if refusal is not None:
                return refusal
            access.require_role(current_staff(), *allowed, now=current_time())
            return view(*args, **kwargs)

        wrapper.staff_roles = allowed  # type: ignore[attr-defined]  # a mark on the view, for the tests
        return cast(F, wrapper)

    return decorate


def _unauthorized() -> WerkzeugResponse:
    return redirect(url_for("auth.login", next=_next_of_this_request()))


ROLE_LABELS = {Role.ADMIN: _l("Administrator"), Role.MANAGER: _l("Manager"),
               Role.RESEARCHER: _l("Researcher")}


def role_label(role: Role | str) -> str:
    return str(ROLE_LABELS[Role(role)])


def first_url(*endpoints: str) -> str | None:
    """URL of the first registered endpoint (the manager nav links pages other modules may add)."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


# Citizens' pages never show staff navigation: not loading a session there keeps the survey's own
# transaction free of the session-activity write.
CITIZEN_BLUEPRINTS = frozenset({"public", "home"})


def _template_globals() -> dict[str, Any]:
    # Outside a request (CLI rendering posters or reports) nobody is signed in.
    citizen_or_cli = not has_request_context() or request.blueprint in CITIZEN_BLUEPRINTS
    staff = None if citizen_or_cli else current_staff_or_none()
    return {"staff": staff, "can_manage": access.can_manage, "can_export": access.can_export,
            "is_admin": access.is_admin, "first_url": first_url,
            "role_label": role_label}


def init_app(app: Flask) -> None:
    from survey import ratelimit

    login_manager.init_app(app)
    login_manager.user_loader(_load_principal)
    login_manager.unauthorized_handler(_unauthorized)
    # Server-side sessions replace Flask-Login's IP/user-agent fingerprint check; the remember-me
    # cookie is never issued (it would outlive logout).
    login_manager.session_protection = None
    app.context_processor(_template_globals)
    ratelimit.init_app(app)
