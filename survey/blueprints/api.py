"""JSON API for machine clients: one-stop systems posting served-dossier frames and minting the
per-dossier survey links printed on handover slips (docs/api.md).

Authentication is a bearer token per client (`flask frames client-create`), so the blueprint is exempt
from CSRF: no browser cookie authenticates these requests, hence no cross-site request can borrow one.
`csrf.exempt(bp)` names this blueprint only; every form elsewhere keeps its CSRF check.

Errors: `{"error": {"status", "code", "message"}}` with stable codes; E-VALUE adds `errors`, one entry per
problem: `{"row", "code", "message"}` (row 1 = the first element of `counts`, 0 = the body as a whole).
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.auth import current_time
from survey.extensions import csrf, db
from survey.models import ApiClient, Counter, Unit
from survey.services.citizens import receipt_links
from survey.services.qr.qr_images import public_base_url, qr_png, qr_svg
from survey.services.staff import access, api_clients
from survey.services.weighting import frames
from survey.services.weighting.frame_rows import parse_period
from survey.services.weighting.frame_warnings import upload_warnings

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

BODY_LIMIT = 4 * 1024 * 1024  # 50,000 counts of ~80 bytes each
TOP_KEYS = {"period_start", "period_end", "period", "counts"}
COUNT_KEYS = {"unit_code", "procedure_field", "channel", "served"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[WerkzeugResponse, int, dict[str, str]]:
    body = {"status": error.status, "code": error.code, "message": error.message, **error.extra}
    headers = {"WWW-Authenticate": 'Bearer realm="hai-long"'} if error.status == 401 else {}
    return jsonify(error=body), error.status, headers


@bp.post("/frames")
def post_frames() -> tuple[WerkzeugResponse, int]:
    """Replace the client's counts for a period (see docs/manage.md for the body)."""
    now = current_time()
    client = _client(now)
    request.max_content_length = BODY_LIMIT
    if request.mimetype != "application/json":
        raise ApiError(415, "E-CONTENT-TYPE", _("Send the body as application/json."))
    period, counts = _parse_body(_json_body())
    try:
        result = frames.import_api(db.session(), client, period, counts, now=now)
    except frames.FramesRefused as refused:
        db.session.rollback()
        rows = [{"row": e.line, "code": e.code, "message": e.message} for e in refused.errors]
        raise ApiError(422, "E-VALUE", _("%(n)d counts were refused; nothing was changed.", n=len(rows)),
                       errors=rows) from None
    warnings = upload_warnings(db.session(), result.upload_id,
                               min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    db.session.commit()
    return jsonify(upload_id=result.upload_id, rows=result.rows, units=result.units, replaced=result.replaced,
                   warnings=[{"unit_code": w.unit_code, "period_start": w.period_start.isoformat(),
                              "period_end": w.period_end.isoformat(), "code": w.code, "message": w.message}
                             for w in warnings]), 201


LINK_KEYS = {"counter", "receipt"}


@bp.post("/receipt-links")
def post_receipt_link() -> tuple[WerkzeugResponse, int]:
    """Mint the single-use survey link of one dossier (see docs/api.md): its URL, expiry and QR code."""
    now = current_time()
    client = _client(now)
    request.max_content_length = 4096
    if request.mimetype != "application/json":
        raise ApiError(415, "E-CONTENT-TYPE", _("Send the body as application/json."))
    body = _json_body()
    if not isinstance(body, dict) or set(body) != LINK_KEYS or not all(
            isinstance(body[key], str) for key in LINK_KEYS):
        raise _schema(_("The body must be an object with the strings 'counter' (UNIT/COUNTER) and "
                        "'receipt'."))
    session = db.session()
    counter = _counter_in_scope(client, body["counter"])
    try:
        token, expires = receipt_links.mint_link(session, counter, body["receipt"], now=now,
                                                 config=current_app.config)
    except receipt_links.ReceiptLinkRefused as refused:
        db.session.rollback()
        raise ApiError(refused.status, refused.code, str(refused.message)) from None
    db.session.commit()
    url = public_base_url(current_app.config, request.host_url) + receipt_links.LINK_PATH + token
    return jsonify(url=url, expires_at=expires.isoformat(), counter=body["counter"],
                   qr_svg=str(qr_svg(url)), qr_png=base64.b64encode(qr_png(url)).decode("ascii")), 201


def _counter_in_scope(client: ApiClient, key: str) -> Counter:
    """The counter "UNIT/COUNTER" in the client's unit subtree; 404 E-NOT-FOUND otherwise (the same
    answer for a counter that does not exist and one outside the subtree)."""
    unit_code, _sep, counter_code = key.partition("/")
    counter = db.session.scalar(sa.select(Counter).join(Unit, Counter.unit_id == Unit.id)
                                .where(Unit.code == unit_code, Counter.code == counter_code))
    if counter is None or counter.unit_id not in access.subtree_ids(db.session(), [client.unit_id]):
        raise ApiError(404, "E-NOT-FOUND", _("No counter %(key)s in this client's units.", key=key[:90]))
    return counter


def _client(now: Any) -> ApiClient:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    client = api_clients.client_for_token(db.session(), token.strip(), now=now) \
        if scheme.lower() == "bearer" else None
    if client is None:
        raise ApiError(401, "E-AUTH", _("A valid API token is required (Authorization: Bearer …)."))
    return client


def _json_body() -> Any:
    raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "E-ENCODING", _("The body is not valid UTF-8.")) from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(400, "E-SCHEMA", _("The body is not valid JSON (line %(line)d, column %(col)d).",
                                          line=error.lineno, col=error.colno)) from None
    if _has_lone_surrogate(body):  # "\ud800" is valid JSON but no Unicode text: refuse, never store it
        raise ApiError(400, "E-ENCODING", _("The body contains an unpaired surrogate escape."))
    return body


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _schema(message: str) -> ApiError:
    return ApiError(400, "E-SCHEMA", message)


def _parse_body(body: Any) -> tuple[tuple[date, date] | None, list[dict[str, Any]]]:
    """Shape checks only (E-SCHEMA); values are checked row by row by the service (E-VALUE)."""
    if not isinstance(body, dict):
        raise _schema(_("The body must be a JSON object."))
    unknown = sorted(set(body) - TOP_KEYS)
    if unknown:
        raise _schema(_("Unknown field(s): %(names)s.", names=", ".join(unknown)[:200]))
    counts = body.get("counts")
    if not isinstance(counts, list) or not counts:
        raise _schema(_("'counts' must be a non-empty list."))
    if len(counts) > frames.MAX_ROWS:
        raise _schema(_("At most %(n)d counts per request.", n=frames.MAX_ROWS))
    for index, count in enumerate(counts, start=1):
        if not isinstance(count, dict):
            raise _schema(_("counts[%(i)d] must be an object.", i=index))
        extra = sorted(set(count) - COUNT_KEYS)
        if extra:
            raise _schema(_("counts[%(i)d]: unknown field(s) %(names)s.", i=index,
                            names=", ".join(extra)[:200]))
        for key in ("unit_code", "procedure_field", "channel"):
            if count.get(key) is not None and not isinstance(count[key], str):
                raise _schema(_("counts[%(i)d].%(key)s must be a string.", i=index, key=key))
    return _period(body), counts


def _period(body: dict[str, Any]) -> tuple[date, date]:
    for key in ("period_start", "period_end", "period"):
        if key in body and not isinstance(body[key], str):
            raise _schema(_("'%(key)s' must be a string.", key=key))
    if "period" in body:
        if "period_start" in body or "period_end" in body:
            raise _schema(_("Give either 'period' or 'period_start' and 'period_end', not both."))
        period = parse_period(body["period"])
        if period is None:
            raise _schema(_("'period' must be a month (2026-03) or a quarter (2026-Q1)."))
        return period
    try:
        start, end = date.fromisoformat(body["period_start"]), date.fromisoformat(body["period_end"])
    except KeyError:
        raise _schema(_("'period_start' and 'period_end' are required.")) from None
    except ValueError:
        raise _schema(_("'period_start' and 'period_end' must be dates (YYYY-MM-DD).")) from None
    if end < start or len(body["period_start"]) != 10 or len(body["period_end"]) != 10:
        raise _schema(_("'period_start' and 'period_end' must be dates (YYYY-MM-DD), start ≤ end."))
    return start, end
