"""QR images and printable posters per counter, and a cut-out sheet per unit.

For admins and managers, within their unit scope: a poster carries a counter's live survey URL, and
a sheet lists every counter of a subtree, which nobody outside it needs to enumerate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey.auth import current_staff, current_time, staff_required
from survey.errors import SurveyError
from survey.extensions import db
from survey.models import Counter, Role
from survey.services.qr.counters import is_live, live_counters_under
from survey.services.qr.posters import (
    SHEET,
    SINGLE,
    UNREACHABLE,
    PaperSize,
    Poster,
    SheetDensity,
    build_poster,
    render_posters,
)
from survey.services.qr.qr_images import is_loopback, public_base_url, qr_png, qr_svg
from survey.services.qr.qr_tokens import token_secret
from survey.services.staff import access

bp = Blueprint("posters", __name__, url_prefix="/posters")
E = TypeVar("E", bound=StrEnum)


@bp.get("/counter/<int:counter_id>")
@staff_required(Role.ADMIN, Role.MANAGER)
def counter_poster(counter_id: int) -> Response:
    size = _choice(PaperSize, "size", PaperSize.A5)
    poster = _poster(_live_counter(counter_id))
    links = {
        "A5": url_for(".counter_poster", counter_id=counter_id, size="a5"),
        "A4": url_for(".counter_poster", counter_id=counter_id, size="a4"),
        _("Download SVG"): url_for(".counter_svg", counter_id=counter_id, download=1),
        _("Download PNG"): url_for(".counter_png", counter_id=counter_id, download=1),
    }
    html = render_posters([poster], SINGLE[size], title=f"{poster.counter_name.vi} · {poster.unit_name.vi}",
                          self_contained=False, links=links, unreachable=_unreachable(poster))
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/counter/<int:counter_id>.svg")
@staff_required(Role.ADMIN, Role.MANAGER)
def counter_svg(counter_id: int) -> Response:
    poster = _reachable(_poster(_live_counter(counter_id)))
    return _image(str(qr_svg(poster.url)), "image/svg+xml", poster.file_stem + ".svg")


@bp.get("/counter/<int:counter_id>.png")
@staff_required(Role.ADMIN, Role.MANAGER)
def counter_png(counter_id: int) -> Response:
    poster = _reachable(_poster(_live_counter(counter_id)))
    return _image(qr_png(poster.url), "image/png", poster.file_stem + ".png")


@bp.get("/unit/<int:unit_id>")
@staff_required(Role.ADMIN, Role.MANAGER)
def unit_sheet(unit_id: int) -> Response:
    per_page = _choice(SheetDensity, "per_page", SheetDensity.TWO)
    unit = access.unit_or_404(db.session(), current_staff(), unit_id, now=current_time(), action="print")
    posters = [_poster(counter) for counter in live_counters_under(db.session(), unit)]
    links = {_("2 per A4 page"): url_for(".unit_sheet", unit_id=unit_id, per_page="2"),
             _("4 per A4 page"): url_for(".unit_sheet", unit_id=unit_id, per_page="4")}
    html = render_posters(posters, SHEET[per_page], title=unit.name_vi, self_contained=False, links=links,
                          unreachable=any(_unreachable(p) for p in posters))
    return _no_store(Response(html, mimetype="text/html"))


def _live_counter(counter_id: int) -> Counter:
    counter = access.counter_or_404(db.session(), current_staff(), counter_id, now=current_time(),
                                    action="print")
    if not is_live(counter):
        # Printing a code that the survey would refuse helps nobody.
        raise SurveyError(410, "E-QR-EXPIRED", _l("This counter no longer takes part in the survey, so it "
                                                  "has no QR code to print."),
                          title=_l("QR code no longer in use"))
    return counter


def _poster(counter: Counter) -> Poster:
    base = public_base_url(current_app.config, request.host_url)
    return build_poster(counter, base, token_secret(current_app.config))


def _unreachable(poster: Poster) -> bool:
    """No PUBLIC_BASE_URL and a request to this machine: the code would lead phones to a loopback address."""
    return not current_app.config.get("PUBLIC_BASE_URL") and is_loopback(poster.url)


def _reachable(poster: Poster) -> Poster:
    """The poster, unless its code would point at a loopback address: then 409 E-PUBLIC-URL."""
    if _unreachable(poster):
        raise SurveyError(409, "E-PUBLIC-URL", UNREACHABLE)
    return poster


def _choice(enum: type[E], arg: str, default: E) -> E:
    value = request.args.get(arg, default.value)
    try:
        return enum(value)
    except ValueError:
        raise SurveyError(400, "E-BAD-REQUEST", _l("Unknown option %(name)s=%(value)s.", name=arg,
                                                   value=value[:20])) from None


def _image(data: str | bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    response.headers.set("Content-Disposition", disposition, filename=filename)
    return _no_store(response)


def _no_store(response: Response) -> Response:
    # After a rotation the old code must not linger in a browser cache and end up printed.
    response.headers["Cache-Control"] = "no-store"
    return response
