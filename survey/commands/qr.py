"""`flask qr`: export a unit's QR codes and posters for the print shop; rotate or revoke a counter's code."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from survey.errors import SurveyError
from survey.extensions import db
from survey.models import Counter, Unit, utcnow
from survey.services.qr.counters import live_counters_under, revoke, rotate_key
from survey.services.qr.posters import SINGLE, PaperSize, build_poster, poster_pdf, render_posters
from survey.services.qr.qr_images import counter_survey_url, is_http_url, public_base_url, qr_png
from survey.services.qr.qr_tokens import token_secret

group = AppGroup("qr", help="QR codes and posters for counters.")

BASE_URL_HELP = "Base of the survey URL printed on the codes (default: PUBLIC_BASE_URL)."


@group.command("export")
@click.option("--unit", "unit_code", required=True, help="Code of the unit; its sub-units are included.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if missing).")
@click.option("--base-url", default=None, help=BASE_URL_HELP)
@click.option("--size", type=click.Choice([s.value for s in PaperSize]), default=PaperSize.A5.value,
              show_default=True, help="Paper size of the posters.")
@click.option("--pdf", "with_pdf", is_flag=True, help="Also render each poster to PDF (WeasyPrint).")
def export_command(unit_code: str, out_dir: Path, base_url: str | None, size: str, with_pdf: bool) -> None:
    """Write <unit>_<counter>.svg, .png and a self-contained poster .html (and .pdf) for every counter
    in use under the unit."""
    unit = db.session.scalar(sa.select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise click.BadParameter(f"no unit has the code {unit_code!r}", param_hint="--unit")
    base = _base_url(base_url)
    secret = token_secret(current_app.config)
    counters = live_counters_under(db.session(), unit)
    out_dir.mkdir(parents=True, exist_ok=True)
    for counter in counters:
        # The export happens outside any request: print the posters' own interface text in Vietnamese.
        with force_locale("vi"):
            poster = build_poster(counter, base, secret)
            html = render_posters([poster], SINGLE[PaperSize(size)], title=poster.counter_name.vi,
                                  self_contained=True)
        stem = out_dir / poster.file_stem
        stem.with_suffix(".svg").write_text(str(poster.svg), encoding="utf-8")
        stem.with_suffix(".png").write_bytes(qr_png(poster.url))
        stem.with_suffix(".html").write_text(html, encoding="utf-8")
        if with_pdf:
            stem.with_suffix(".pdf").write_bytes(poster_pdf(html))
        click.echo(f"{poster.file_stem}  {poster.url}")
    kinds = ".svg, .png, .html" + (", .pdf" if with_pdf else "")
    click.echo(f"{len(counters)} counter(s) of {unit.code} written to {out_dir} ({kinds}).")


@group.command("rotate")
@click.argument("counter_id", type=int)
@click.option("--base-url", default=None, help=BASE_URL_HELP)
def rotate_command(counter_id: int, base_url: str | None) -> None:
    """Give a counter a new code: every poster printed before stops working."""
    counter = _counter(counter_id)
    base = _base_url(base_url) if base_url or current_app.config["PUBLIC_BASE_URL"] else ""
    try:
        change = rotate_key(counter, utcnow())
    except SurveyError as error:
        with force_locale("en"):  # a lazy message needs a locale, and there is no request here
            message = str(error.message)
        raise click.UsageError(f"counter {counter_id}: {message}") from None
    db.session.commit()
    url = counter_survey_url(counter, base, token_secret(current_app.config))
    click.echo(f"Counter {counter_id} ({counter.unit.code}/{counter.code}): key version "
               f"{change.old_key_version} → {change.key_version}. Old posters no longer work.")
    # `qr export` needs the public address too, unless it is configured; without one the URL is a path.
    configured = bool(current_app.config["PUBLIC_BASE_URL"]) and not base_url
    where = "" if configured else f" --base-url {base or 'https://YOUR-PUBLIC-ADDRESS'}"
    unknown = "" if base else " (a path: give --base-url or set PUBLIC_BASE_URL)"
    click.echo(f"New survey URL: {url}{unknown}")
    click.echo(f"Print new posters: flask qr export --unit {counter.unit.code} --out DIR{where}")


@group.command("revoke")
@click.argument("counter_id", type=int)
def revoke_command(counter_id: int) -> None:
    """Stop a counter's code for good (the counter closed, or its poster was misused)."""
    counter = _counter(counter_id)
    already = counter.revoked_at is not None
    change = revoke(counter, utcnow())
    db.session.commit()
    when = change.revoked_at.isoformat(timespec="seconds") if change.revoked_at else "?"
    state = "was already revoked" if already else "revoked"
    click.echo(f"Counter {counter_id} ({counter.unit.code}/{counter.code}) {state} at {when}; "
               "its QR codes no longer work.")


def _counter(counter_id: int) -> Counter:
    counter = db.session.get(Counter, counter_id)
    if counter is None:
        raise click.BadParameter(f"no counter has the id {counter_id}", param_hint="COUNTER_ID")
    return counter


def _base_url(option: str | None) -> str:
    # No request here, and a default such as 127.0.0.1 would end up printed on real posters: insist.
    if option is not None and not is_http_url(option):
        raise click.BadParameter("must be an http(s) URL such as https://hailong.example.gov.vn",
                                 param_hint="--base-url")
    try:
        return public_base_url({"PUBLIC_BASE_URL": option or current_app.config["PUBLIC_BASE_URL"]}, None)
    except ValueError:
        raise click.UsageError("set PUBLIC_BASE_URL or pass --base-url: the survey URL goes on the "
                               "posters") from None
