"""The citizen's survey: from a scanned QR code (`/s/<token>`) to the thank-you page. No login."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from survey.errors import SurveyError
from survey.extensions import csrf, db
from survey.forms import build_survey_form
from survey.i18n import current_locale
from survey.models import Channel, utcnow
from survey.services.citizens.form_nonce import issue_nonce, read_nonce
from survey.services.citizens.submissions import (
    MESSAGES,
    FieldError,
    Outcome,
    Stored,
    SubmissionSettings,
    store_response,
    validate_submission,
)
from survey.services.citizens.surveys import OpenSurvey, open_survey
from survey.services.organisation.kiosks import resolve_kiosk
from survey.services.qr.qr_tokens import issue_token, token_secret

bp = Blueprint("public", __name__)

FORM_ENCODINGS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Flask-WTF's wording for an expired token, the one CSRF failure an honest citizen meets
# (a form left open for more than WTF_CSRF_TIME_LIMIT): then the answers are given back.
CSRF_EXPIRED = "The CSRF token has expired."
# ... and the one of a citizen whose cookies were cleared mid-survey (or whose browser dropped the
# session): the posted token has no session to match. Giving the answers back stores nothing.
CSRF_NO_SESSION = "The CSRF session token is missing."
# Session key: counter id -> the nonce of the last form this browser sent there. While that nonce is
# still valid, opening the counter's form again (the Back button after the thank-you page, a reload)
# leads to the thank-you page instead of a fresh form that would store a second response.
ANSWERED = "answered"
ANSWERED_KEPT = 3  # counters remembered; the session cookie must stay small
# Session key: the token of the registered tablet this browser was opened as (`/k/<token>`); its next
# forms go through that URL again, so that revoking the tablet takes effect at the next citizen.
KIOSK_DEVICE = "kiosk_device"


@bp.get("/k/<device_token>")
def kiosk(device_token: str) -> Any:
    """A registered counter tablet: a fresh form of its counter, in kiosk mode and Vietnamese."""
    secret = token_secret(current_app.config)
    device = resolve_kiosk(db.session, device_token, secret)
    session[KIOSK_DEVICE] = device_token
    return redirect(url_for("public.start", token=issue_token(device.counter, secret), mode="kiosk",
                            lang="vi", new=1), 303)


@bp.get("/s/", defaults={"token": ""})  # an empty token is a malformed QR code, not an unknown page
@bp.get("/s/<token>")
def start(token: str) -> Any:
    survey = _open(token)
    if not request.args.get("new") and _answered_here(survey.counter.id):
        return redirect(url_for("public.thanks", token=token, **_mode_args()), 303)
    form = build_survey_form(survey.instrument, current_locale(), formdata=None)
    form.nonce.data = issue_nonce(current_app.config["SECRET_KEY"], survey.counter.id,
                                  survey.instrument.key, utcnow())
    return _render_form(survey, form, token)


@bp.post("/s/<token>")
@csrf.exempt  # checked below, after the content type, so that an expired token keeps the answers
def submit(token: str) -> Any:
    survey = _open(token)
    _require_form_body()
    if (expired_page := _csrf_expired_page(survey, token)) is not None:
        return expired_page, 400
    now = utcnow()
    result = validate_submission(request.form, survey.instrument, counter_id=survey.counter.id, now=now,
                                 settings=SubmissionSettings.from_config(current_app.config))
    if result.outcome is Outcome.REJECTED and (renewed := _renewed_form(survey, token, now)) is not None:
        return renewed, 400
    if result.outcome is Outcome.REJECTED:
        raise SurveyError(result.status, result.code or "E-SCHEMA", result.message)
    if result.outcome is Outcome.INVALID:
        form = build_survey_form(survey.instrument, current_locale(), formdata=request.form)
        return _render_form(survey, form, token, result.errors, result.code), result.status
    if result.outcome is Outcome.ACCEPTED:
        stored = store_response(db.session, result, counter=survey.counter, registered=survey.registered,
                                channel=_channel(), language=current_locale(), now=now)
        if stored is Stored.STORED:
            db.session.commit()
    # Stored now or before (a double tap, Back and resubmit): either way the thank-you page (PRG).
    _remember_answered(survey.counter.id, request.form.get("nonce", ""))
    return redirect(url_for("public.thanks", token=token, **_mode_args()), 303)


@bp.post("/s/<token>/language")
@csrf.exempt  # nothing is stored: the same form comes back in the language asked for (?lang=)
def switch_language(token: str) -> str:
    """The language switch of the survey page submits the form here, so no answer is lost."""
    survey = _open(token)
    _require_form_body()
    form = build_survey_form(survey.instrument, current_locale(), formdata=request.form)
    return _render_form(survey, form, token)


@bp.get("/s/<token>/thanks")
def thanks(token: str) -> str:
    survey = _open(token)
    return render_template("survey/thanks.html", **_page(survey, token),
                           kiosk_seconds=current_app.config["KIOSK_RETURN_SECONDS"])


@bp.after_request
def _never_cache(response: Response) -> Response:
    # Every form carries its own single-use nonce: a page kept by a shared (carrier) cache would
    # hand one nonce to many citizens, and all but the first would read "already recorded".
    response.headers["Cache-Control"] = "no-store"
    return response


def _remember_answered(counter_id: int, nonce: str) -> None:
    answered = {k: v for k, v in session.get(ANSWERED, {}).items() if k != str(counter_id)}
    answered[str(counter_id)] = nonce
    session[ANSWERED] = dict(list(answered.items())[-ANSWERED_KEPT:])


def _answered_here(counter_id: int) -> bool:
    nonce = session.get(ANSWERED, {}).get(str(counter_id))
    settings = SubmissionSettings.from_config(current_app.config)
    return read_nonce(nonce, settings.secret, utcnow(), settings.nonce_max_age) is not None


def _open(token: str) -> OpenSurvey:
    today = datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    return open_survey(db.session, token, current_app.config, today)


def _require_form_body() -> None:
    """415 for JSON, text and anything else a browser form does not send; 400 for uploaded files."""
    if request.mimetype not in FORM_ENCODINGS:
        raise SurveyError(415, "E-CONTENT-TYPE", _l("Please send the form from the survey page."))
    if request.files:
        raise SurveyError(400, "E-SCHEMA", MESSAGES["E-SCHEMA"])


def _kiosk() -> bool:
    return request.args.get("mode") == "kiosk"


def _channel() -> Channel:
    return Channel.KIOSK if _kiosk() else Channel.QR


def _mode_args() -> dict[str, str]:
    """Query arguments that follow the respondent through the form: language, and kiosk mode."""
    args = {"lang": current_locale()}
    if _kiosk():
        args["mode"] = "kiosk"
    return args


def _page(survey: OpenSurvey, token: str) -> dict[str, Any]:
    page = {"instrument": survey.instrument, "counter": survey.counter, "token": token,
            "lang": current_locale(), "kiosk": _kiosk()}
    if _kiosk():
        config = current_app.config
        # The next citizen's form: Vietnamese, a fresh nonce (`new`), whatever this browser sent before.
        device = session.get(KIOSK_DEVICE)
        page["kiosk_fresh_url"] = (url_for("public.kiosk", device_token=device) if device else
                                   url_for("public.start", token=token, mode="kiosk", lang="vi", new=1))
        page["kiosk_idle"] = {"idle": config["KIOSK_IDLE_SECONDS"],
                              "warn": config["KIOSK_IDLE_WARNING_SECONDS"],
                              # an untouched form renews its nonce well before it expires
                              "renew": max(60, config["FORM_NONCE_MAX_AGE"] // 2)}
    return page


def _render_form(survey: OpenSurvey, form: Any, token: str, errors: tuple[FieldError, ...] = (),
                 code: str | None = None) -> str:
    by_item = {error.item_id: error for error in errors if error.item_id is not None}
    kiosk = {"mode": "kiosk"} if _kiosk() else {}
    languages = {code: url_for("public.switch_language", token=token, lang=code, **kiosk)
                 for code in current_app.config["LANGUAGES"]}
    return render_template("survey/form.html", **_page(survey, token), form=form, errors=errors,
                           errors_by_item=by_item, error_code=code, language_actions=languages,
                           action=url_for("public.submit", token=token, **_mode_args()))


def _renewed_form(survey: OpenSurvey, token: str, now: datetime) -> str | None:
    """A genuine nonce of this form that only expired (a page left open for hours, a kiosk tablet
    overnight): the form comes back with the answers and a fresh nonce, to be sent again."""
    settings = SubmissionSettings.from_config(current_app.config)
    old = read_nonce(request.form.get("nonce"), settings.secret, now, timedelta(days=3650))
    if old is None or (old.counter_id, old.instrument_key) != (survey.counter.id, survey.instrument.key):
        return None
    if read_nonce(request.form.get("nonce"), settings.secret, now, settings.nonce_max_age) is not None:
        return None  # still valid: refused for another reason
    form = build_survey_form(survey.instrument, current_locale(), formdata=request.form)
    form.nonce.data = issue_nonce(settings.secret, survey.counter.id, survey.instrument.key, now)
    renewed = FieldError(None, "E-NONCE-EXPIRED", _l("The form was open for a long time, so it was renewed. "
                                                      "Your answers are still here: please send them again."))
    return _render_form(survey, form, token, (renewed,), "E-NONCE-EXPIRED")


def _csrf_expired_page(survey: OpenSurvey, token: str) -> str | None:
    """Enforce CSRF as CSRFProtect would (E-CSRF); on expiry only, the form back with the answers."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    try:
        csrf.protect()
    except CSRFError as error:
        if error.description not in (CSRF_EXPIRED, CSRF_NO_SESSION):
            raise
        form = build_survey_form(survey.instrument, current_locale(), formdata=request.form)
        expired = FieldError(None, "E-CSRF", _l("The form was open for a long time. Your answers are "
                                                "still here: please send them again."))
        return _render_form(survey, form, token, (expired,), "E-CSRF")
    return None
