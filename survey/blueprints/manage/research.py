"""The researchers' page: what they may download for their scope, and anonymised microdata on request.

`GET /manage/research/` lists the units in the account's scope with their aggregate reports (XLSX, CSV)
and a form; `POST /manage/research/microdata` builds the export with the same service as
`flask export microdata` and answers a ZIP of the data file and its codebook. The unit is checked
against the account's scopes (another unit: 404 and an `access.denied` audit event); a request that
disclosure control cannot make safe is answered 422 with what to coarsen. Every download is audited
(`microdata.download`). Admins and managers may use the page too (they may export their units).
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from typing import Any

from flask import Response, current_app, render_template
from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from analysis.disclosure import GRANULARITIES
from instruments.registry import UnknownInstrument, get_instrument, list_instruments, parse_spec
from survey.auth import current_staff, current_time, local_today, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.unit_forms import KIND_SHORT
from survey.extensions import db
from survey.i18n import current_locale
from survey.local_time import local_date
from survey.models import Role, Unit, UnitKind
from survey.services.disclosure import exports
from survey.services.disclosure.microdata import (
    MicrodataRefused,
    MicrodataRequest,
    build_microdata,
    quasi_identifiers_for,
)
from survey.services.disclosure.microdata_files import FORMATS, bundle
from survey.services.organisation.unit_plans import DEFAULT_INSTRUMENT
from survey.services.staff import audit
from survey.services.staff.access import unit_or_404, visible_unit_ids

PERIOD_LABELS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month"), "quarter": _l("Quarter"),
                 "year": _l("Year")}
FORMAT_LABELS = {"csv": "CSV (UTF-8)", "xlsx": "Excel (XLSX)", "sav": "SPSS (.sav)", "dta": "Stata (.dta)",
                 "parquet": "Parquet"}
CHANNEL_LABEL = _l("Channel")


class MicrodataForm(FlaskForm):
    unit_id = SelectField(_l("Unit"), coerce=int, validators=[InputRequired()], validate_choice=False)
    instrument = SelectField(_l("Questionnaire"), validators=[InputRequired()])
    first = DateField(_l("From"), validators=[InputRequired()])
    last = DateField(_l("To (inclusive)"), validators=[InputRequired()])
    file_format = SelectField(_l("Format"), choices=[SelectChoice(f, FORMAT_LABELS[f]) for f in FORMATS])
    level = SelectField(_l("Report each response's unit as"), validate_choice=False)
    period = SelectField(_l("Period of each response"), default="month",
                         choices=[SelectChoice(g, PERIOD_LABELS[g]) for g in GRANULARITIES])
    merge_age_bands = BooleanField(_l("Merge the five age bands into three"))
    include_text = BooleanField(_l("Add the comments, with personal data removed"))
    omit = SelectMultipleField(_l("Leave out"), widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput())
    lang = SelectField(_l("Language of the labels"),
                       choices=[SelectChoice("vi", "Tiếng Việt"), SelectChoice("en", "English")])


def _form() -> MicrodataForm:
    form = MicrodataForm()
    user = current_staff()
    visible = visible_unit_ids(db.session(), user)
    units = db.session.query(Unit).filter(Unit.id.in_(visible)).order_by(Unit.code)
    form.unit_id.choices = [SelectChoice(u.id, f"{u.code} – {u.name_vi}") for u in units]
    form.instrument.choices = [SelectChoice(r.instrument.key, f"{r.instrument.title.vi} ({r.instrument.key})")
                               for r in list_instruments() if r.instrument.status == "published"]
    form.level.choices = [SelectChoice("", _("The unit where the response was given")), *(
        SelectChoice(kind.value, str(KIND_SHORT[kind])) for kind in UnitKind)]
    form.omit.choices = [SelectChoice(column, label) for column, label in _omittable().items()]
    if not form.is_submitted():
        form.instrument.data = DEFAULT_INSTRUMENT
        today = local_today()
        last = today.replace(day=1) - timedelta(days=1)
        form.first.data, form.last.data = last.replace(day=1), last
    return form


def _omittable() -> dict[str, str]:
    """Column -> its label, for every column disclosure control may blank in a published instrument's
    export (its quasi-identifiers and sensitive items, `quasi_identifiers_for`): what a refusal may ask
    to leave out must be something the form offers. Named by the question as the instrument words it,
    and by the questionnaires that ask it when not all do."""
    lang = current_locale()
    asked: dict[str, tuple[str, list[str]]] = {}
    published = [r.instrument for r in list_instruments() if r.instrument.status == "published"]
    for instrument in published:
        quasi, sensitive = quasi_identifiers_for(instrument)
        questions = {item.id: item for item in instrument.items()}
        for column in [*(q.column for q in quasi if q.suppressible), *sensitive]:
            if column in questions:
                asked.setdefault(column, (questions[column].text.get(lang), []))[1].append(instrument.id)
    everywhere = {instrument.id for instrument in published}
    labels = {column: label + ("" if set(ids) == everywhere else f" ({', '.join(sorted(set(ids)))})")
              for column, (label, ids) in asked.items()}
    return {**labels, "channel": str(CHANNEL_LABEL)}  # every export has the channel


def _roots(visible: set[int]) -> list[Unit]:
    units = db.session.query(Unit).filter(Unit.id.in_(visible)).all()
    return sorted((u for u in units if u.parent_id not in visible), key=lambda u: u.code)


def _page(form: MicrodataForm, *, refusal: str | None = None, status: int = 200) -> tuple[str, int]:
    user = current_staff()
    last_month = local_today().replace(day=1) - timedelta(days=1)
    return render_template("manage/research/index.html", form=form, refusal=refusal,
                           roots=_roots(visible_unit_ids(db.session(), user)),
                           report_period=last_month.strftime("%Y-%m")), status


@bp.get("/research/")
@staff_required(Role.ADMIN, Role.MANAGER, Role.RESEARCHER)
def research() -> tuple[str, int]:
    return _page(_form())


def _refusal_text(refused: MicrodataRefused, labels: dict[str, str]) -> str:
    """The refusal in words; `labels` name the columns as the form's "leave out" list does."""
    if refused.refusal is None:
        if refused.code == "E-MICRODATA-DATES":
            return str(_("The end date is before the start date."))
        return str(_("Nothing to export: no valid responses match this request.")) if refused.code == \
            "E-MICRODATA-EMPTY" else str(refused)
    report = refused.refusal.report
    steps = []
    if "(records)" in refused.refusal.costliest:
        steps.append(_("choose a higher unit level or a longer period"))
    columns = [labels.get(c, c) for c in refused.refusal.costliest if c != "(records)"]
    if columns:
        steps.append(_("merge the age bands or leave out: %(columns)s", columns="; ".join(columns)))
    return str(_("This request cannot be released safely: %(rate)s of the cells would have to be suppressed "
             "(the limit is %(budget)s). To continue, %(steps)s.",
             rate=format_percent(report.suppression_rate, "#,##0.0 %"),
             budget=format_percent(report.budget, "#,##0 %"), steps="; ".join(steps)))


@bp.post("/research/microdata")
@staff_required(Role.ADMIN, Role.MANAGER, Role.RESEARCHER)
def research_microdata() -> Any:
    form = _form()
    if not form.validate():
        return _page(form, status=400)
    user = current_staff()
    now = current_time()
    unit = unit_or_404(db.session(), user, form.unit_id.data or 0, now=now, action="microdata.download")
    instrument_id, version = parse_spec(form.instrument.data or "")
    try:
        instrument = get_instrument(instrument_id, version)
    except UnknownInstrument:
        form.instrument.errors = [_("Unknown instrument.")]
        return _page(form, status=400)
    first: date = form.first.data
    last: date = form.last.data
    request = MicrodataRequest(
        unit_code=unit.code, first=first, last=last, instrument=instrument,
        unit_level=UnitKind(form.level.data) if form.level.data in {k.value for k in UnitKind} else None,
        period=next((g for g in GRANULARITIES if g == form.period.data), "month"),
        merge_age_bands=bool(form.merge_age_bands.data),
        omit=tuple(o for o in form.omit.data or () if o in {"channel", *(i.id for i in instrument.items())}),
        include_text=bool(form.include_text.data),
    )
    try:
        microdata = build_microdata(db.session(), request, min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    except MicrodataRefused as refused:
        labels = {str(choice.value): str(choice.label) for choice in form.omit.choices or ()}
        return _page(form, refusal=_refusal_text(refused, labels), status=422)
    file_format = form.file_format.data or "csv"
    period = f"{first.isoformat()}_{last.isoformat()}"
    data_name = exports.download_name(unit_code=unit.code, period=period, instrument_id=instrument.id,
                                      instrument_version=instrument.version, extension=file_format)
    files = bundle(microdata, file_format, data_name=data_name, created=local_date(now),
                   lang=form.lang.data or "vi")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    report = microdata.report
    audit.record(db.session(), actor=user, action="microdata.download", object_type="unit", object_id=unit.id,
                 unit_id=unit.id, now=now,
                 detail={"format": file_format, "from": first.isoformat(), "to": last.isoformat(),
                         "instrument": instrument.key, "rows": len(microdata.table),
                         "k": report.k_achieved, "suppression_rate": round(report.suppression_rate, 4)})
    db.session.commit()
    zip_name = f"{data_name}.zip"  # the format in the name: a CSV and a Stata release are two files
    return Response(buffer.getvalue(), mimetype="application/zip", headers={
        "Content-Disposition": exports.content_disposition(zip_name),
        "Cache-Control": "private, no-store",
    })
