"""The offline kiosk: the service worker of a registered counter tablet, its nonce stock, and the door
through which the answers it queued offline come in (docs/kiosk.md, "Offline").

Phones never load any of this: the worker is registered by `kiosk-offline.js`, which only the form of
a registered tablet (`/k/<token>`) includes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from survey.auth import current_time, local_today
from survey.blueprints.public import _require_form_body
from survey.extensions import csrf, db
from survey.models import Channel
from survey.ratelimit import utc_day
from survey.services.citizens.browser_cookie import COOKIE_NAME, read_browser_id
from survey.services.citizens.intake import take_submission
from survey.services.citizens.kiosk_queue import answered_at, nonce_stock, queued_settings
from survey.services.citizens.limits import Client, store_for
from survey.services.citizens.receipts import RECEIPT_FIELD
from survey.services.citizens.submissions import Outcome, Stored, validate_submission
from survey.services.citizens.surveys import OpenSurvey, survey_at
from survey.services.organisation.kiosks import resolve_kiosk
from survey.services.qr.qr_tokens import token_secret

bp = Blueprint("kiosk_offline", __name__)
WORKER = "kiosk-sw.js"
# Under /s/, where the browser cookie of the submission limits lives (its path): a synced answer is
# counted in the tablet's own kiosk allowance, as its live answers are.
QUEUE_PREFIX = "/s/k"


@bp.get("/kiosk-sw.js")
def service_worker() -> Response:
    """The worker's script, served from the root so that its scope covers `/k/` and `/s/`. Never
    cached over HTTP: the browser checks it for updates at every navigation."""
    body = (Path(current_app.static_folder or "") / WORKER).read_bytes()
    return Response(body, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.get(f"{QUEUE_PREFIX}/<device_token>/nonces")
def nonces(device_token: str) -> Any:
    """Unused form nonces for the forms the tablet shows while offline (404/410 as the tablet's URL)."""
    survey, _device_id = _tablet_survey(device_token)
    config = current_app.config
    stock = nonce_stock(config["SECRET_KEY"], survey.counter.id, survey.instrument.key, current_time(),
                        config["KIOSK_NONCE_STOCK"])
    return _no_store(jsonify(nonces=stock, max_age=config["KIOSK_QUEUE_MAX_AGE"]))


@bp.post(f"{QUEUE_PREFIX}/<device_token>/queued")
@csrf.exempt  # the tablet's token in the path is the credential, not a cookie a third site could ride
def queued(device_token: str) -> Any:
    """One answer the tablet queued offline: 200 once stored (or stored before: a repeated sync),
    429 to retry later, any other 4xx never to be retried."""
    survey, device_id = _tablet_survey(device_token)
    _require_form_body()
    config, now = current_app.config, current_time()
    result = validate_submission(request.form, survey.instrument, counter_id=survey.counter.id, now=now,
                                 settings=queued_settings(config))
    if result.outcome is Outcome.DECOY:
        return _no_store(jsonify(status="stored"))
    if result.outcome is not Outcome.ACCEPTED or result.nonce is None:
        return _refused(result.status, result.code or "E-SCHEMA")
    session_ = db.session()
    language = request.args.get("lang") if request.args.get("lang") in config["LANGUAGES"] else "vi"
    secret = config["SECRET_KEY"]
    client = Client.of(request.remote_addr, read_browser_id(request.cookies.get(COOKIE_NAME), secret),
                       secret=secret, day=utc_day(), kiosk_device_id=device_id)
    intake = take_submission(session_, result, survey=survey, client=client,
                             store=store_for(config["SUBMISSION_LIMIT_STORAGE"], session_), config=config,
                             channel=Channel.KIOSK, language=str(language), now=now,
                             local_day=local_today(), receipt=request.form.get(RECEIPT_FIELD),
                             answered_at=answered_at(request.args.get("answered_at"), result.nonce, now))
    if intake.receipt_problem is not None:
        db.session.rollback()
        return _refused(409 if intake.receipt_problem == "E-RECEIPT-USED" else 422, intake.receipt_problem)
    if intake.stored is not Stored.ALREADY:
        db.session.commit()
    if intake.stored is None:
        response = _refused(429, "E-RATE")
        response[0].headers["Retry-After"] = str(intake.retry_after)
        return response
    return _no_store(jsonify(status=intake.stored.value))


def _tablet_survey(device_token: str) -> tuple[OpenSurvey, int]:
    """The survey of the registered tablet's counter, and the tablet's id (its own allowance)."""
    secret = token_secret(current_app.config)
    device = resolve_kiosk(db.session(), device_token, secret)
    return survey_at(db.session(), device.counter, current_app.config, local_today()), device.id


def _refused(status: int, code: str) -> tuple[Response, int]:
    return _no_store(jsonify(status="refused", code=code)), status


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
