"""Manager pages: upload served-dossier frames (CSV) and see what is stored for one's units."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.unit_forms import UploadForm
from survey.extensions import db
from survey.models import Role
from survey.services.staff import access
from survey.services.weighting import frames
from survey.services.weighting.frame_rows import FrameChannel, RowError
from survey.services.weighting.frame_warnings import MAX_SHOWN, upload_warnings

UPLOAD_LIMIT = 4 * 1024 * 1024  # files for a whole province; the app-wide limit (64 KiB) suits forms
UPLOAD_ENDPOINTS = frozenset({"manage.frames", "manage.units_import"})
RECENT = 50


def _raise_upload_limit() -> None:
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = UPLOAD_LIMIT
        # Werkzeug's multipart parser also bounds its buffer by this, file parts included.
        request.max_form_memory_size = UPLOAD_LIMIT


@bp.record_once
def _before_csrf(state: Any) -> None:
    # CSRFProtect reads request.form in an app-level before_request hook, which runs before any
    # blueprint hook; the larger limit must be set before that first read, so this hook goes first.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _raise_upload_limit)


@bp.route("/frames/", methods=["GET", "POST"], endpoint="frames")  # the navigation bar links "manage.frames"
@staff_required(Role.ADMIN, Role.MANAGER)
def frames_page() -> Any:
    actor, now = current_staff(), current_time()
    form = UploadForm()
    errors: tuple[RowError, ...] = ()
    if form.validate_on_submit():
        try:
            data = form.file.data.read(UPLOAD_LIMIT + 1)
            result = frames.import_csv(db.session(), data, actor=actor, now=now)
        except frames.FramesRefused as refused:
            db.session.rollback()
            errors = refused.errors
        else:
            db.session.commit()
            flash(_imported(result), "ok")
            # The result page names what the upload will not weight as expected (partial breakdowns,
            # merged cells): the warnings are worked out again from the stored upload on the GET.
            return redirect(url_for("manage.frames", upload=result.upload_id))
    periods = frames.stored_periods(db.session(), actor, limit=RECENT)
    upload = request.args.get("upload", type=int)
    warnings = [] if upload is None else upload_warnings(
        db.session(), upload, min_cell=current_app.config["POSTSTRAT_MIN_CELL"],
        unit_ids=None if access.is_admin(actor) else access.visible_unit_ids(db.session(), actor))
    html = render_template("manage/frames/index.html", form=form, errors=errors, periods=periods,
                           channels=[c.value for c in FrameChannel], upload=upload, warnings=warnings,
                           max_shown=MAX_SHOWN)
    return html, 422 if errors or form.errors else 200


def _imported(result: frames.FrameImport) -> str:
    return str(_("Imported %(rows)d counts for %(units)d units; %(replaced)d earlier counts replaced.",
                 rows=result.rows, units=result.units, replaced=result.replaced))
