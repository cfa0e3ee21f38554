"""Admin page: lift a sign-in lockout (a NAT'd office over its address limit, or one account's limit).

The limits themselves (survey.ratelimit) never lock anyone out for good; this clears the counted
failed attempts at once, for an address's network and/or a user name, and audits who did it and why.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.account_forms import LiftLockoutForm
from survey.extensions import db
from survey.models import Role, User
from survey.ratelimit import lift_lockout
from survey.services.staff import audit


def _valid_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@bp.route("/accounts/lockouts", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def lockout_lift() -> Any:
    form = LiftLockoutForm()
    if form.validate_on_submit():
        address, username = (form.address.data or "").strip(), (form.username.data or "").strip()
        if address and not _valid_address(address):
            form.address.errors = [_("Not an IP address: write it like 203.0.113.7 or 2001:db8::1.")]
        elif not (address or username):
            form.address.errors = [_("Give an address, a user name, or both.")]
        else:
            actor, now = current_staff(), current_time()
            user = (db.session.scalar(sa.select(User).where(sa.func.lower(User.username) == username.lower()))
                    if username else None)
            lifted = lift_lockout(current_app.config, address=address, username=username,
                                  user_id=user.id if user is not None else None, now=now)
            # The address itself is not stored: the audit log holds no IP addresses (audit.record).
            audit.record(db.session(), actor=actor, action="auth.unlock", object_type="user" if user else "",
                         object_id=user.id if user else "",
                         detail={"address_given": bool(address), "username": username[:80],
                                 "locked": lifted.locked, "counted": lifted.counted,
                                 "reason": " ".join((form.reason.data or "").split())}, now=now)
            db.session.commit()
            if lifted.counted:
                flash(_("Lockout lifted: the failed attempts counted for it were forgotten."), "ok")
            else:
                flash(_("No failed attempts were counted for this address or user name; nothing to lift."),
                      "ok")
            return redirect(url_for("manage.lockout_lift"))
    return render_template("manage/accounts/lockouts.html", form=form), 422 if form.errors else 200
