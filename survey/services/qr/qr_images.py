"""QR codes for a counter's survey URL, as SVG (posters, print shops) and PNG (messages, slides).

Error correction M (15 % of the code may be dirty or torn: posters get scratched and taped over) and the
standard quiet zone of 4 modules, without which phone scanners miss codes printed near a frame.
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import qrcode
import qrcode.constants
from markupsafe import Markup
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage

from survey.models import Counter
from survey.services.qr.qr_tokens import issue_token

if TYPE_CHECKING:
    from qrcode.image.pure import PyPNGImage  # half of QRCode's default image type; callers pass theirs

# Served by the `public` blueprint (endpoint `public.start`); spelled out here because printed codes
# must keep this exact shape for years, whatever the routing does.
SURVEY_PATH = "/s/"
QUIET_ZONE_MODULES = 4
PNG_PIXELS_PER_MODULE = 20  # ≈ 0.85 mm per module at 600 dpi, 1.7 mm at 300 dpi: crisp when enlarged


def public_base_url(config: Mapping[str, Any], request_host_url: str | None) -> str:
    """The base printed under codes: PUBLIC_BASE_URL, else the host the request came in on.

    `request_host_url` is `request.host_url`, which reads the Host header only: X-Forwarded-* headers
    are client-controlled unless a trusted proxy rewrites them, so they never choose what gets printed.
    """
    base = str(config.get("PUBLIC_BASE_URL") or request_host_url or "")
    if not is_http_url(base):
        raise ValueError("no public base URL: set PUBLIC_BASE_URL or pass --base-url")
    return base.rstrip("/")


def is_loopback(base_url: str) -> bool:
    """True when the URL's host is this machine (localhost, 127.0.0.0/8, ::1): no phone reaches it."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.query and not parts.fragment


def survey_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + SURVEY_PATH + token


def counter_survey_url(counter: Counter, base_url: str, secret: str) -> str:
    """The URL a counter's QR code carries for its current key version."""
    return survey_url(base_url, issue_token(counter, secret))


def _code(data: str, box_size: int = 10) -> qrcode.QRCode[PilImage | PyPNGImage]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE_MODULES,
                         box_size=box_size)
    code.add_data(data)
    code.make(fit=True)  # the smallest version that holds the URL: larger modules, easier scans
    return code


def qr_svg(data: str) -> Markup:
    """An `<svg>` element (usable inline in HTML and as a standalone .svg file): a white background
    (codes get printed on coloured paper) and one `<path>` of the dark modules."""
    image = _code(data).make_image(image_factory=SvgPathFillImage)
    if image.path is not None:
        # qrcode names the path id="qr-path": a sheet of several codes would repeat the id.
        image.path.attrib.pop("id", None)
    svg = image.to_string(encoding="unicode")
    return Markup(svg)  # serialised by ElementTree, which escapes everything it writes


def qr_png(data: str, pixels_per_module: int = PNG_PIXELS_PER_MODULE) -> bytes:
    """A black-on-white PNG of the code."""
    image = _code(data, box_size=pixels_per_module).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_matrix(data: str) -> list[list[bool]]:
    """The module matrix including the quiet zone (True = dark), for checks and tests."""
    return [list(row) for row in _code(data).get_matrix()]
