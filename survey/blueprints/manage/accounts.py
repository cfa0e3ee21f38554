"""Manager pages: staff accounts (administrators only). Every action is audited by the service."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.account_forms import AccountForm, NewAccountForm
from survey.extensions import db
from survey.models import Role, Unit, User
from survey.services.staff import accounts

ACCOUNT_ERRORS = {
    "bad_username": _l("Lower-case letters, digits, dot, dash or underscore."),
    "username_taken": _l("This username is already taken."),
    "scope_required": _l("Choose at least one unit for a manager or researcher."),
    "cannot_deactivate_self": _l("You cannot deactivate your own account."),
    "cannot_change_own_role": _l("You cannot change your own role; ask another administrator."),
}


def _unit_choices() -> list[SelectChoice]:
    units = db.session.scalars(sa.select(Unit).order_by(Unit.code))
    return [SelectChoice(u.id, f"{u.code} · {u.name_vi}") for u in units]


def _user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@bp.get("/accounts/")
@staff_required(Role.ADMIN)
def accounts_list() -> str:
    return render_template("manage/accounts/list.html", users=accounts.list_users(db.session()))


@bp.route("/accounts/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def account_new() -> Any:
    form = NewAccountForm()
    form.units.choices = _unit_choices()
    if form.validate_on_submit():
        try:
            created = accounts.create_user(
                db.session(), current_app.config, actor=current_staff(), username=form.username.data or "",
                role=Role(form.role.data), unit_ids=form.units.data or [],
                display_name=form.display_name.data or "", now=current_time())
        except accounts.AccountError as error:
            db.session.rollback()
            form.units.errors = [ACCOUNT_ERRORS.get(error.code, error.code)]
        else:
            db.session.commit()
            return _one_time_password(created.user, created.password, created=True)
    return render_template("manage/accounts/edit.html", form=form, user=None), 200


@bp.route("/accounts/<int:user_id>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def account_edit(user_id: int) -> Any:
    user = _user_or_404(user_id)
    form = AccountForm(obj=user if not _submitted() else None,
                       data={"units": [s.unit_id for s in user.scopes], "role": user.role.value}
                       if not _submitted() else None)
    form.units.choices = _unit_choices()
    if form.validate_on_submit():
        try:
            accounts.set_role(db.session(), actor=current_staff(), user=user, role=Role(form.role.data),
                              unit_ids=form.units.data or [], display_name=form.display_name.data or "",
                              now=current_time())
        except accounts.AccountError as error:
            db.session.rollback()
            form.units.errors = [ACCOUNT_ERRORS.get(error.code, error.code)]
        else:
            db.session.commit()
            flash(_("Saved. The account's open sessions were signed out if its access changed."), "ok")
            return redirect(url_for("manage.accounts_list"))
    return render_template("manage/accounts/edit.html", form=form, user=user)


def _submitted() -> bool:
    return request.method == "POST"


@bp.post("/accounts/<int:user_id>/active")
@staff_required(Role.ADMIN)
def account_set_active(user_id: int) -> WerkzeugResponse:
    user = _user_or_404(user_id)
    try:
        accounts.set_active(db.session(), actor=current_staff(), user=user, active=not user.active,
                            now=current_time())
    except accounts.AccountError as error:
        db.session.rollback()
        flash(str(ACCOUNT_ERRORS.get(error.code, error.code)), "error")
    else:
        db.session.commit()
        flash(_("Account %(name)s is now active.", name=user.username) if user.active
              else _("Account %(name)s is deactivated and signed out.", name=user.username), "ok")
    return redirect(url_for("manage.accounts_list"))


@bp.post("/accounts/<int:user_id>/revoke-sessions")
@staff_required(Role.ADMIN)
def account_revoke_sessions(user_id: int) -> WerkzeugResponse:
    user = _user_or_404(user_id)
    count = accounts.revoke_sessions(db.session(), actor=current_staff(), user=user, now=current_time())
    db.session.commit()
    flash(_("%(count)d session(s) of %(name)s signed out.", count=count, name=user.username), "ok")
    return redirect(url_for("manage.accounts_list"))


@bp.post("/accounts/<int:user_id>/reset-password")
@staff_required(Role.ADMIN)
def account_reset_password(user_id: int) -> Any:
    user = _user_or_404(user_id)
    password = accounts.reset_password(db.session(), current_app.config, actor=current_staff(), user=user,
                                       now=current_time())
    db.session.commit()
    return _one_time_password(user, password, created=False)


@bp.post("/accounts/<int:user_id>/reset-2fa")
@staff_required(Role.ADMIN)
def account_reset_two_factor(user_id: int) -> WerkzeugResponse:
    user = _user_or_404(user_id)
    accounts.reset_two_factor(db.session(), actor=current_staff(), user=user, now=current_time())
    db.session.commit()
    flash(_("Two-step sign-in of %(name)s was reset; they will set it up at their next sign-in.",
            name=user.username), "ok")
    return redirect(url_for("manage.accounts_list"))


def _one_time_password(user: User, password: str, *, created: bool) -> tuple[str, int, dict[str, str]]:
    # Rendered once in the POST response, never put in a URL, flash message or log; no-store keeps
    # it out of the browser cache and the back button.
    html = render_template("manage/accounts/password.html", user=user, password=password, created=created)
    return html, 200, {"Cache-Control": "no-store"}
