"""Staff sign-in, two-factor and sign-out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from survey import auth
from survey.blueprints.auth_forms import ChangePasswordForm, LoginForm, TwoFactorForm
from survey.extensions import db
from survey.models import Role
from survey.ratelimit import account_key, keyed, limiter
from survey.services.staff import accounts, audit, totp

bp = Blueprint("auth", __name__, url_prefix="/auth")

_PENDING_TOTP = "totp_pending_secret"  # enrolment secret, in the signed cookie until confirmed


def _failed_attempt(response: Any) -> bool:
    """Only failed attempts count against the limits: a clumsy but right password costs nothing."""
    return bool(g.get("auth_attempt_failed"))


def _refuse_attempt(message: str) -> None:
    """Mark this request as a failed attempt, which `_failed_attempt` counts, and say why."""
    g.auth_attempt_failed = True
    flash(message, "error")


def _pending_account_key() -> str:
    principal = auth.pending_principal()
    subject = f"user:{principal.user.id}" if principal is not None else "-"
    return keyed("two-factor", subject, secret=current_app.config["SECRET_KEY"], day="")


def _login_limit(name: str) -> Any:
    return lambda: current_app.config[name]


def _next_url() -> str:
    target = request.args.get("next")
    staff = auth.current_staff_or_none()
    researcher = staff is not None and staff.role == Role.RESEARCHER
    # Researchers have no dashboard: their page is the exports, also when /manage/ sent them to sign in.
    if researcher and (target is None or target == url_for("manage.dashboard")):
        return url_for("manage.research")
    if auth.is_safe_next(target):
        return str(target)
    if researcher:
        return url_for("manage.research")
    for endpoint in ("manage.dashboard", "manage.index"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("auth.account")


def _after_password(user_totp: bool) -> WerkzeugResponse:
    next_arg = request.args.get("next")
    next_arg = next_arg if auth.is_safe_next(next_arg) else None
    return redirect(url_for("auth.two_factor" if user_totp else "auth.enrol", next=next_arg))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit("LOGIN_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=_failed_attempt)
@limiter.limit(_login_limit("LOGIN_LIMIT_PER_ACCOUNT"), key_func=account_key, methods=["POST"],
               deduct_when=_failed_attempt)
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        now = auth.current_time()
        user = accounts.authenticate(db.session(), current_app.config, form.username.data or "",
                                     form.password.data or "", now=now)
        if user is not None:
            needs_second = auth.second_factor_applies(user)
            auth.sign_in(user, second_factor_done=False)
            db.session.commit()
            return _after_password(user.totp_enabled) if needs_second else redirect(_next_url())
        db.session.commit()  # keeps the failed-attempt audit event
        _refuse_attempt(_("Wrong username or password."))
    return render_template("auth/login.html", form=form)


@bp.route("/2fa", methods=["GET", "POST"])
@limiter.limit(_login_limit("TWO_FACTOR_LIMIT_PER_ACCOUNT"), key_func=_pending_account_key,
               methods=["POST"], deduct_when=_failed_attempt)
def two_factor() -> Any:
    principal = auth.pending_principal()
    if principal is None:
        return redirect(url_for("auth.login"))
    if principal.is_authenticated:
        return redirect(_next_url())
    if not principal.user.totp_enabled:
        return redirect(url_for("auth.enrol", next=request.args.get("next")))
    form = TwoFactorForm()
    if form.validate_on_submit():
        if accounts.check_second_factor(db.session(), user=principal.user, code=form.code.data or "",
                                        now=auth.current_time()):
            auth.complete_second_factor(principal)
            db.session.commit()
            return redirect(_next_url())
        db.session.commit()  # keeps the failed-attempt audit event
        _refuse_attempt(_("That code is not valid. Check the time on your phone and try the current code."))
    return render_template("auth/two_factor.html", form=form)


@bp.route("/2fa/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit("TWO_FACTOR_LIMIT_PER_ACCOUNT"), key_func=_pending_account_key,
               methods=["POST"], deduct_when=_failed_attempt)
def enrol() -> Any:
    principal = auth.pending_principal()
    if principal is None:
        return redirect(url_for("auth.login"))
    user = principal.user
    if user.totp_enabled:
        if principal.is_authenticated:
            return render_template("auth/enrol_done.html")
        return redirect(url_for("auth.two_factor", next=request.args.get("next")))
    secret = session.get(_PENDING_TOTP)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[_PENDING_TOTP] = totp.new_secret()
    form = TwoFactorForm()
    if form.validate_on_submit():
        if accounts.enable_two_factor(db.session(), user=user, secret=secret, code=form.code.data or "",
                                      now=auth.current_time()):
            auth.complete_second_factor(principal)
            db.session.commit()
            session.pop(_PENDING_TOTP, None)
            flash(_("Two-step sign-in is on. You will be asked for a code at every sign-in."), "ok")
            return redirect(_next_url())
        _refuse_attempt(_("That code is not valid. Check the time on your phone and try the current code."))
    uri = totp.provisioning_uri(secret, user.username)
    return render_template("auth/enrol.html", form=form, qr=totp.qr_svg(uri), secret=secret,
                           required=not principal.is_authenticated)


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    principal = auth.pending_principal()
    if principal is not None:
        audit.record(db.session(), actor=principal.user, action="auth.logout", object_type="user",
                     object_id=principal.user.id, now=auth.current_time())
    auth.sign_out()
    db.session.commit()
    session.pop(_PENDING_TOTP, None)
    flash(_("You have signed out."), "ok")  # on a shared office computer, say that it took effect
    return redirect(url_for("auth.login"))


@bp.get("/account")
@auth.staff_required()
def account() -> str:
    return render_template("auth/account.html", user=auth.current_staff())


@bp.route("/password", methods=["GET", "POST"])
@auth.staff_required()
@limiter.limit(_login_limit("LOGIN_LIMIT_PER_ACCOUNT"), key_func=_pending_account_key, methods=["POST"],
               deduct_when=_failed_attempt)
def change_password() -> Any:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        principal = auth.pending_principal()
        assert principal is not None  # staff_required guarantees it
        changed = accounts.change_own_password(
            db.session(), current_app.config, user=principal.user, current=form.current.data or "",
            new=form.new.data or "", keep_session_id=principal.staff_session.id, now=auth.current_time())
        db.session.commit()
        if changed:
            flash(_("Your password has been changed. Your other sessions were signed out."), "ok")
            return redirect(url_for("auth.account"))
        g.auth_attempt_failed = True  # a stolen session must not become a password-guessing oracle
        form.current.errors = [_("The current password is wrong.")]
    return render_template("auth/change_password.html", form=form)
