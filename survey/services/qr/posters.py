"""Printable QR posters: one per counter (A5 or A4) or a sheet of a unit's counters (2 or 4 per A4).

The web pages, the self-contained HTML files and the PDFs come from the same templates, so what a
manager previews in the browser is what the print shop gets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from survey.models import Counter
from survey.services.qr.qr_images import counter_survey_url, qr_svg

POSTER_CSS = Path(__file__).resolve().parents[2] / "static" / "poster.css"


class PaperSize(StrEnum):
    A5 = "a5"
    A4 = "a4"


class SheetDensity(StrEnum):
    """Posters per A4 sheet: two A5 side by side (landscape) or four A6 (portrait), cut apart."""

    TWO = "2"
    FOUR = "4"


@dataclass(frozen=True)
class Layout:
    """`page` names a CSS named page (@page a4-landscape {...}); `cell` sizes each poster."""

    page: str
    cell: str
    per_page: int


SINGLE = {PaperSize.A5: Layout("a5", "a5", 1), PaperSize.A4: Layout("a4", "a4", 1)}
SHEET = {SheetDensity.TWO: Layout("a4-landscape", "a5", 2), SheetDensity.FOUR: Layout("a4", "a6", 4)}


class Bilingual(NamedTuple):
    """A name in Vietnamese and in English (empty when the unit has none)."""

    vi: str
    en: str


@dataclass(frozen=True)
class Poster:
    """One counter's poster: whose it is, the survey address it opens and that address as a QR code."""

    counter_id: int
    unit_code: str
    counter_code: str
    unit_name: Bilingual
    counter_name: Bilingual
    url: str
    svg: Markup

    @property
    def file_stem(self) -> str:
        return file_stem(self.unit_code, self.counter_code)


# Printed on every poster in both languages, whatever language the page around it is in.
INVITATION = _l("Scan to tell us how you were served — anonymous, under a minute")
OR_OPEN = _l("Can’t scan the code? Open this address:")
ANONYMOUS = _l("Anonymous: we do not ask for your name, phone number or ID.")
# Shown instead of the code and address when they would point at this machine (see README, PUBLIC_BASE_URL).
UNREACHABLE = _l("Do not print: the public address (PUBLIC_BASE_URL) is not set, so this code would lead "
                 "to this computer (127.0.0.1), which citizens' phones cannot open.")


def bilingual(message: Any) -> Bilingual:
    """A lazy message in Vietnamese and in English (needs an app context)."""
    with force_locale("vi"):
        vi = str(message)
    with force_locale("en"):
        en = str(message)
    return Bilingual(vi, en)


def file_stem(unit_code: str, counter_code: str) -> str:
    """`<unit>_<counter>`, safe as a file name and a Content-Disposition value on any system."""
    return f"{_safe(unit_code)}_{_safe(counter_code)}"


def _safe(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", code).strip(".-") or "x"


def build_poster(counter: Counter, base_url: str, secret: str) -> Poster:
    url = counter_survey_url(counter, base_url, secret)
    unit = counter.unit
    return Poster(
        counter_id=counter.id, unit_code=unit.code, counter_code=counter.code,
        unit_name=Bilingual(unit.name_vi, unit.name_en),
        counter_name=Bilingual(counter.name_vi, counter.name_en),
        url=url, svg=qr_svg(url),
    )


def render_posters(posters: Sequence[Poster], layout: Layout, *, title: str, self_contained: bool,
                   links: dict[str, str] | None = None, unreachable: bool = False) -> str:
    """The HTML document. `self_contained` inlines the CSS (for files and PDFs); otherwise the page
    links /static/poster.css, as the Content-Security-Policy forbids inline styles. `unreachable`:
    the survey address is a loopback one; each poster shows a warning instead of code and address."""
    pages = [posters[i:i + layout.per_page] for i in range(0, len(posters), layout.per_page)]
    return render_template(
        "posters/document.html", pages=pages, layout=layout, title=title,
        # Our own stylesheet, inlined verbatim: Markup keeps Jinja from escaping its quotes and `>`.
        css=Markup(POSTER_CSS.read_text(encoding="utf-8")) if self_contained else None,
        links=links or {},
        text={"invitation": bilingual(INVITATION), "or_open": bilingual(OR_OPEN),
              "anonymous": bilingual(ANONYMOUS), "unreachable": bilingual(UNREACHABLE)},
        unreachable=unreachable,
    )


def poster_pdf(html: str) -> bytes:
    """Render a self-contained poster document to PDF with WeasyPrint."""
    from weasyprint import HTML  # imported late: loading Pango costs ~0.5 s and only this needs it

    pdf = HTML(string=html).write_pdf()
    if pdf is None:  # write_pdf returns None only when given a target
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)
