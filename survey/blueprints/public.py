"""The citizen's survey: from a scanned QR code (`/s/<token>`) to the thank-you page. No login."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, generate_csrf

from survey.auth import current_time, local_today
from survey.blueprints.form_pages import (
    CounterSlots,
    FormPageKey,
    Slots,
    context_slot_values,
    form_pages,
    marked_context,
)
from survey.errors import SurveyError
from survey.extensions import csrf, db
from survey.forms import build_survey_form
from survey.i18n import current_locale
from survey.models import Channel, Counter
from survey.ratelimit import utc_day
from survey.services.citizens.browser_cookie import (
    COOKIE_NAME,
    COOKIE_PATH,
    MAX_AGE_SECONDS,
    issue_browser_id,
    read_browser_id,
)
from survey.services.citizens.form_nonce import issue_nonce, read_nonce
from survey.services.citizens.intake import take_submission
from survey.services.citizens.limits import Client, store_for
from survey.services.citizens.receipt_links import ReceiptLink, link_spent, read_link
from survey.services.citizens.receipts import RECEIPT_FIELD, receipts_required
from survey.services.citizens.submissions import (
    MESSAGES,
    FieldError,
    Outcome,
    Stored,
    SubmissionSettings,
    offline_refusals,
    validate_submission,
)
from survey.services.citizens.surveys import OpenSurvey, open_survey
from survey.services.organisation.kiosks import registered_kiosk_id, resolve_kiosk
from survey.services.qr.qr_tokens import issue_token, token_secret

bp = Blueprint("public", __name__)

FORM_ENCODINGS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Flask-WTF's wording for an expired token, the CSRF failure an honest citizen meets most (a form
# left open for more than WTF_CSRF_TIME_LIMIT); the others come from a lost cookie or a proxy.
CSRF_EXPIRED = "The CSRF token has expired."
CSRF_EXPIRED_MESSAGE = _l("The form was open for a long time. Your answers are still here: please send them "
                          "again.")
CSRF_FAILED_MESSAGE = _l("This page could not confirm the form came from it. Your answers are still here: "
                         "please send them again.")
RECEIPT_MESSAGES = {
    "E-RECEIPT-FORMAT": _l("Please type the receipt number printed on your handover slip (at least 6 letters "
                           "or digits)."),
    "E-RECEIPT-USED": _l("This receipt number has already been used to answer the survey: each dossier can "
                         "be rated once. Thank you."),
}
# The summary's heading for a refusal that is not the citizen's mistake (the default heading asks them
# to check their answers, which would mislead here); the stable code stays in the small print.
ERROR_HEADINGS = {
    "E-RATE": _l("Too many answers in a short time"),
    "E-RECEIPT-USED": _l("This dossier has already been rated"),
}
RATE_MESSAGE = _l("Many answers were sent from this device or network in a short time. Your answers are "
                  "still here: please wait a few minutes and send them again.")
# Session key: counter id -> the nonce of the last form this browser sent there. While that nonce is
# still valid, opening the counter's form again (the Back button after the thank-you page, a reload)
# leads to the thank-you page instead of a fresh form that would store a second response.
ANSWERED = "answered"
ANSWERED_KEPT = 3  # counters remembered; the session cookie must stay small
# Session key: the token of the registered tablet this browser was opened as (`/k/<token>`); its next
# forms go through that URL again, so that revoking the tablet takes effect at the next citizen.
KIOSK_DEVICE = "kiosk_device"
# Session key: the per-dossier survey link (`/r/<token>`) this browser was opened with, until spent.
RECEIPT_LINK = "receipt_link"


@bp.get("/k/<device_token>")
def kiosk(device_token: str) -> Any:
    """A registered counter tablet: a fresh form of its counter, in kiosk mode and Vietnamese."""
    secret = token_secret(current_app.config)
    device = resolve_kiosk(db.session(), device_token, secret)
    session[KIOSK_DEVICE] = device_token
    return redirect(url_for("public.start", token=issue_token(device.counter, secret), mode="kiosk",
                            lang="vi", new=1), 303)


@bp.get("/r/<link_token>")
def receipt_link(link_token: str) -> Any:
    """A per-dossier survey link from the handover slip: its counter's fresh form, the link kept in the
    session until the answer is stored (404 forged, 410 expired, 409 already used)."""
    config = current_app.config
    link = read_link(link_token, config=config, now=current_time())
    if link_spent(db.session(), link, config):
        raise SurveyError(409, "E-RECEIPT-USED", RECEIPT_MESSAGES["E-RECEIPT-USED"])
    counter = db.session.get(Counter, link.counter_id)
    if counter is None:
        raise SurveyError(404, "E-RECEIPT-LINK", _l("This survey link is not valid. Please scan the code on "
                                                     "your slip again."))
    session[RECEIPT_LINK] = link_token
    return redirect(url_for("public.start", token=issue_token(counter, token_secret(config)),
                            lang=request.args.get("lang", "vi"), new=1), 303)


@bp.get("/s/", defaults={"token": ""})  # an empty token is a malformed QR code, not an unknown page
@bp.get("/s/<token>")
def start(token: str) -> Any:
    survey = _open(token)
    if not request.args.get("new") and _answered_here(survey.counter.id):
        return redirect(url_for("public.thanks", token=token, **_mode_args()), 303)
    nonce = issue_nonce(current_app.config["SECRET_KEY"], survey.counter.id, survey.instrument.key,
                        current_time())
    return _with_browser_cookie(make_response(empty_form_page(survey, token, nonce)))


@bp.post("/s/<token>")
@csrf.exempt  # checked below, after the content type, so that a token problem keeps the answers
def submit(token: str) -> Any:
    survey = _open(token)
    counter_id = survey.counter.id  # read once: the commit below expires the counter
    _require_form_body()
    if (csrf_page := _csrf_failure_page(survey, token)) is not None:
        return csrf_page, 400
    now = current_time()
    result = validate_submission(request.form, survey.instrument, counter_id=counter_id, now=now,
                                 settings=SubmissionSettings.from_config(current_app.config))
    if result.outcome is Outcome.REJECTED and (renewed := _renewed_form(survey, token, now)) is not None:
        return renewed, 400
    if result.outcome is Outcome.REJECTED:
        raise SurveyError(result.status, result.code or "E-SCHEMA", result.message)
    if result.outcome is Outcome.INVALID:
        return _form_back(survey, token, result.errors, result.code), result.status
    if result.outcome is Outcome.ACCEPTED:
        session_ = db.session()
        link = _receipt_link(counter_id)
        intake = take_submission(session_, result, survey=survey, client=_client(counter_id),
                                 store=store_for(current_app.config["SUBMISSION_LIMIT_STORAGE"], session_),
                                 config=current_app.config, channel=_channel(), language=current_locale(),
                                 now=now, local_day=local_today(), receipt=request.form.get(RECEIPT_FIELD),
                                 link=link)
        if intake.receipt_problem is not None:  # nothing to keep: the limits' hits roll back with it
            db.session.rollback()
            code = intake.receipt_problem
            page = _form_back(survey, token, (FieldError(None, code, RECEIPT_MESSAGES[code]),), code)
            return page, 409 if code == "E-RECEIPT-USED" else 422
        if intake.stored is not Stored.ALREADY:
            db.session.commit()  # the response, or a refusal's count with the limits' hits
        if intake.stored is None:
            page = _form_back(survey, token, (FieldError(None, "E-RATE", RATE_MESSAGE),), "E-RATE")
            return page, 429, {"Retry-After": str(intake.retry_after)}
        # Stored now or before (a double tap, Back and resubmit): either way the thank-you page (PRG).
        _remember_answered(counter_id, request.form.get("nonce", ""))
        if link is not None:
            session.pop(RECEIPT_LINK, None)  # spent: the browser's next form at the counter is ordinary
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
    return read_nonce(nonce, settings.secret, current_time(), settings.nonce_max_age) is not None


def _open(token: str) -> OpenSurvey:
    return open_survey(db.session(), token, current_app.config, local_today())


def _client(counter_id: int) -> Client:
    """The submitting client as the limits see it: keyed hashes of its address and browser cookie."""
    secret = current_app.config["SECRET_KEY"]
    return Client.of(request.remote_addr, read_browser_id(request.cookies.get(COOKIE_NAME), secret),
                     secret=secret, day=utc_day(), kiosk_device_id=_registered_kiosk(counter_id))


def _receipt_link(counter_id: int) -> ReceiptLink | None:
    """The survey link this browser was opened with, if it is this counter's and still valid (a form
    opened just before the link expired may still be sent with it)."""
    token = session.get(RECEIPT_LINK)
    if not token:
        return None
    grace = timedelta(seconds=current_app.config["FORM_NONCE_MAX_AGE"])
    try:
        link = read_link(token, config=current_app.config, now=current_time(), grace=grace)
    except SurveyError:
        return None
    return link if link.counter_id == counter_id else None


def _registered_kiosk(counter_id: int) -> int | None:
    """The registered tablet this browser was opened as (`/k/<token>`), checked again at each form:
    `?mode=kiosk` alone, a revoked tablet or another counter's claims no tablet allowance."""
    if not _kiosk():
        return None
    return registered_kiosk_id(db.session(), session.get(KIOSK_DEVICE), token_secret(current_app.config),
                               counter_id)


def _with_browser_cookie(response: Response) -> Response:
    """Issue the per-browser cookie of the submission limits with the form, unless a valid one came."""
    secret = current_app.config["SECRET_KEY"]
    if read_browser_id(request.cookies.get(COOKIE_NAME), secret) is None:
        response.set_cookie(COOKIE_NAME, issue_browser_id(secret), max_age=MAX_AGE_SECONDS, path=COOKIE_PATH,
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), httponly=True,
                            samesite="Lax")
    return response


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


class _ModeArgs(TypedDict, total=False):
    lang: str
    mode: str


def _mode_args() -> _ModeArgs:
    """Query arguments that follow the respondent through the form: language, and kiosk mode."""
    args: _ModeArgs = {"lang": current_locale()}
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
        if device:  # a registered tablet works offline too (survey.blueprints.kiosk_offline)
            page["kiosk_offline"] = {
                "worker": url_for("kiosk_offline.service_worker"),
                "queue": url_for("kiosk_offline.queued", device_token=device),
                "nonces": url_for("kiosk_offline.nonces", device_token=device),
                "thanks": url_for("public.thanks", token=token, mode="kiosk", lang="vi")}
            page["offline_refusals"] = offline_refusals  # the server's refusals, foreseen by the tablet
        page["kiosk_idle"] = {"idle": config["KIOSK_IDLE_SECONDS"],
                              "warn": config["KIOSK_IDLE_WARNING_SECONDS"],
                              # an untouched form renews its nonce well before it expires
                              "renew": max(60, config["FORM_NONCE_MAX_AGE"] // 2)}
    return page


def _render_form(survey: OpenSurvey, form: Any, token: str, errors: tuple[FieldError, ...] = (),
                 code: str | None = None) -> str:
    by_item = {error.item_id: error for error in errors if error.item_id is not None}
    return render_template("survey/form.html", **_form_context(survey, token), form=form, errors=errors,
                           errors_by_item=by_item, error_code=code,
                           error_heading=ERROR_HEADINGS.get(code or ""))


def _form_context(survey: OpenSurvey, token: str) -> dict[str, Any]:
    """The form page's context but the form and its errors."""
    mode = "kiosk" if _kiosk() else None  # url_for leaves out arguments that are None
    languages = {code: url_for("public.switch_language", token=token, lang=code, mode=mode)
                 for code in current_app.config["LANGUAGES"]}
    return {**_page(survey, token), "language_actions": languages,
            "receipt_required": (receipts_required(survey.counter, current_app.config)
                                 and _receipt_link(survey.counter.id) is None),
            "receipt_value": request.form.get(RECEIPT_FIELD, "")[:160],
            "action": url_for("public.submit", token=token, **_mode_args())}


def full_empty_form_page(survey: OpenSurvey, token: str, nonce: str) -> str:
    """The empty form with `nonce`, rendered in full: what `empty_form_page` must equal."""
    form = build_survey_form(survey.instrument, current_locale(), formdata=None)
    form.nonce.data = nonce
    return _render_form(survey, form, token)


def empty_form_page(survey: OpenSurvey, token: str, nonce: str) -> str:
    """The empty form with `nonce`, from the app's cache of rendered forms (survey.blueprints.form_pages):
    only the values of this request (nonce, CSRF token, the counter's names, the URLs that carry a
    token) are written into the page rendered once for the same instrument, language and mode."""
    context = _form_context(survey, token)
    if not context["language_actions"] or context["receipt_value"]:
        return full_empty_form_page(survey, token, nonce)  # the page would show request.path / a value
    key = FormPageKey(survey.registered.key, survey.registered.content_hash, current_locale(),
                      context["kiosk"], "kiosk_offline" in context, context["receipt_required"],
                      request.script_root)
    lang = current_locale()
    values = {"nonce": lambda: nonce, "csrf": generate_csrf,
              "unit_name": lambda: survey.counter.unit.name(lang),
              "counter_name": lambda: survey.counter.name(lang), **context_slot_values(context)}

    def render(slots: Slots) -> str:
        form = build_survey_form(survey.instrument, lang, formdata=None)
        form.nonce.data = slots.mark("nonce")
        if (csrf_field := getattr(form, "csrf_token", None)) is not None:  # None: CSRF is off
            csrf_field.current_token = slots.mark("csrf")
        return render_template("survey/form.html", **{**marked_context(context, slots),
                                                      "counter": CounterSlots(slots)},
                               form=form, errors=(), errors_by_item={}, error_code=None, error_heading=None)

    return form_pages(current_app).get(key, render).fill(values)


def _form_back(survey: OpenSurvey, token: str, errors: tuple[FieldError, ...], code: str | None, *,
               nonce: str | None = None) -> str:
    """The posted form again, with the citizen's answers, the errors that explain why, and a fresh
    nonce where the old one can no longer be sent (a renewed form)."""
    form = build_survey_form(survey.instrument, current_locale(), formdata=request.form)
    if nonce is not None:
        form.nonce.data = nonce
    return _render_form(survey, form, token, errors, code)


def _renewed_form(survey: OpenSurvey, token: str, now: datetime) -> str | None:
    """A genuine nonce of this form that only expired (a page left open for hours, a kiosk tablet
    overnight): the form comes back with the answers and a fresh nonce, to be sent again."""
    settings = SubmissionSettings.from_config(current_app.config)
    old = read_nonce(request.form.get("nonce"), settings.secret, now, timedelta(days=3650))
    if old is None or (old.counter_id, old.instrument_key) != (survey.counter.id, survey.instrument.key):
        return None
    if read_nonce(request.form.get("nonce"), settings.secret, now, settings.nonce_max_age) is not None:
        return None  # still valid: refused for another reason
    renewed = FieldError(None, "E-NONCE-EXPIRED", _l("The form was open for a long time, so it was renewed. "
                                                      "Your answers are still here: please send them again."))
    return _form_back(survey, token, (renewed,), "E-NONCE-EXPIRED",
                      nonce=issue_nonce(settings.secret, survey.counter.id, survey.instrument.key, now))


def _csrf_failure_page(survey: OpenSurvey, token: str) -> str | None:
    """Enforce CSRF as CSRFProtect would (E-CSRF), but give the form back with the answers and a fresh
    token instead of an error page: an expired token, a session cookie lost on the way, or a referrer
    a misconfigured proxy rewrote must never cost a citizen the answers. Nothing is stored without a
    valid token; resending from the re-rendered page is the citizen's own action on this site."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    try:
        csrf.protect()
    except CSRFError as error:
        message = CSRF_EXPIRED_MESSAGE if error.description == CSRF_EXPIRED else CSRF_FAILED_MESSAGE
        return _form_back(survey, token, (FieldError(None, "E-CSRF", message),), "E-CSRF")
    return None
