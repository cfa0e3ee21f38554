"""Admin pages: the API clients of the frames endpoint, issuing a token (shown once) and revoking one.

The same service as `flask frames client-create` / `client-revoke` (survey/services/staff/api_clients),
so the page and the CLI audit alike (`api_client.create`, `api_client.revoke`, here with the admin as
actor). The token is rendered once, in the POST response with `Cache-Control: no-store`: never in a
URL, a flash message (the session cookie is signed, not encrypted) or a log; only its hash is stored.
Revoking asks for confirmation on its own page, since the one-stop system stops reporting at once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.extensions import db
from survey.i18n import current_locale
from survey.models import ApiClient, Role, Unit
from survey.services.staff import api_clients
from survey.services.staff.access import unit_or_404


class ApiClientForm(FlaskForm):
    name = StringField(_l("Name of the system"), validators=[
        DataRequired(_l("Name the system that will use the token.")), Length(max=120)],
        filters=[lambda value: " ".join(value.split()) if isinstance(value, str) else value],
        description=_l("e.g. the one-stop information system of An Bình ward"))
    unit = SelectField(_l("Unit whose counts it reports"), coerce=int, validate_choice=False,
                       validators=[InputRequired()],
                       description=_l("The client may post counts for this unit and every unit below it."))


def _form() -> ApiClientForm:
    form = ApiClientForm()
    lang = current_locale()
    units = db.session.scalars(sa.select(Unit).order_by(Unit.code))
    form.unit.choices = [SelectChoice(unit.id, f"{unit.name(lang)} ({unit.code})") for unit in units]
    return form


def _client_or_404(client_id: int) -> ApiClient:
    client = db.session.get(ApiClient, client_id)
    if client is None:
        raise NotFound()
    return client


def _list(form: ApiClientForm, status: int = 200) -> tuple[str, int]:
    clients = db.session.scalars(sa.select(ApiClient).order_by(ApiClient.revoked_at.is_not(None),
                                                               ApiClient.id)).all()
    return render_template("manage/api_clients/list.html", clients=clients, form=form), status


@bp.get("/api-clients/")
@staff_required(Role.ADMIN)
def api_clients_list() -> Any:
    return _list(_form())


@bp.post("/api-clients/")
@staff_required(Role.ADMIN)
def api_client_create() -> Any:
    form = _form()
    if not form.validate():
        return _list(form, 422)
    admin, now = current_staff(), current_time()
    unit = unit_or_404(db.session(), admin, form.unit.data, now=now, action="api_client.create")
    client, token = api_clients.create_client(db.session(), form.name.data or "", unit.code, actor=admin,
                                              now=now)
    db.session.commit()
    html = render_template("manage/api_clients/token.html", client=client, token=token)
    return html, 200, {"Cache-Control": "no-store"}


@bp.route("/api-clients/<int:client_id>/revoke", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def api_client_revoke(client_id: int) -> Any:
    client = _client_or_404(client_id)
    if client.revoked_at is not None:
        flash(_("This API client was already revoked."), "ok")
        return redirect(url_for("manage.api_clients_list"))
    form = FlaskForm()
    if form.validate_on_submit():
        api_clients.revoke_client(db.session(), client.id, actor=current_staff(), now=current_time())
        db.session.commit()
        flash(_("API client “%(name)s” revoked: its token no longer works.", name=client.name), "ok")
        return redirect(url_for("manage.api_clients_list"))
    return render_template("manage/api_clients/revoke.html", client=client, form=form)
