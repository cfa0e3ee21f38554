"""Manager pages: register a counter tablet (kiosk mode) and get its URL; revoke it, after a confirmation."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.unit_forms import ConfirmForm
from survey.extensions import db
from survey.models import KioskDevice, Role
from survey.services.organisation import kiosks
from survey.services.organisation.units import UnitRefused, get_counter
from survey.services.qr.qr_images import public_base_url
from survey.services.qr.qr_tokens import token_secret

MANAGERS = (Role.ADMIN, Role.MANAGER)


class KioskForm(FlaskForm):
    label = StringField(_l("Tablet name"), validators=[InputRequired(), Length(max=kiosks.LABEL_LENGTH)],
                        default=_l("Counter tablet"))


def kiosk_url(device: KioskDevice) -> str:
    """The address to open on the tablet (shown on the counter page)."""
    base = public_base_url(current_app.config, request.host_url)
    return f"{base}/k/{kiosks.device_token(device, token_secret(current_app.config))}"


@bp.post("/counters/<int:counter_id>/kiosks")
@staff_required(*MANAGERS)
def kiosk_register(counter_id: int) -> Any:
    actor, now = current_staff(), current_time()
    get_counter(db.session(), actor, counter_id, now=now)  # 404 (audited) outside the manager's scope
    form = KioskForm()
    if form.validate_on_submit():
        try:
            kiosks.register_kiosk(db.session(), actor, counter_id, form.label.data or "", now=now)
        except UnitRefused as refused:
            db.session.rollback()
            flash(str(refused.message), "error")
        else:
            db.session.commit()
            flash(_("Tablet registered: open its address on the tablet."), "ok")
    else:
        flash(_("Please name the tablet, e.g. 'Tablet at counter 1'."), "error")
    return redirect(url_for("manage.counter_edit", counter_id=counter_id) + "#kiosks")


@bp.route("/kiosks/<int:device_id>/revoke", methods=["GET", "POST"])
@staff_required(*MANAGERS)
def kiosk_revoke(device_id: int) -> Any:
    """GET asks for confirmation (a page, so it works without JavaScript); POST revokes for good."""
    actor, now = current_staff(), current_time()
    device = kiosks.kiosk_in_scope(db.session(), actor, device_id, now=now)
    back = url_for("manage.counter_edit", counter_id=device.counter_id) + "#kiosks"
    if device.revoked_at is not None:
        return redirect(back)
    form = ConfirmForm()
    if request.method == "GET":
        return render_template("manage/units/kiosk_revoke.html", device=device, form=form, back=back,
                               url=kiosk_url(device))
    if not form.validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(url_for("manage.kiosk_revoke", device_id=device.id))
    kiosks.revoke_kiosk(db.session(), actor, device_id, now=now)
    db.session.commit()
    flash(_("Tablet revoked: its address no longer opens the survey."), "ok")
    return redirect(back)


@bp.context_processor
def _kiosk_panel() -> dict[str, Any]:
    """`kiosk_panel(counter)` for the counter page: its tablets with their URLs, and the form."""
    def kiosk_panel(counter: Any) -> dict[str, Any]:
        devices = kiosks.counter_kiosks(db.session(), counter)
        return {"devices": [(device, kiosk_url(device)) for device in devices],
                "form": KioskForm(formdata=None)}
    return {"kiosk_panel": kiosk_panel}
