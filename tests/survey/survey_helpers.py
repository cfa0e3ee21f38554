"""Shared set-up for the public survey tests: the kitchen-sink instrument served at a demo counter."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.demo.tree import seed_demo
from survey.extensions import db
from survey.models import Answer, InstrumentAssignment, Response, TextAnswer, Unit
from survey.services.qr.qr_tokens import issue_token, token_secret
from tests.survey.conftest import make_app

KITCHEN_SINK = Path(__file__).parents[1] / "instruments" / "fixtures" / "kitchen-sink.yaml"
KITCHEN_COUNTER = "HL-AB-1/Q1"  # its commune HL-AB is assigned the kitchen-sink instrument below
# Query string of a fresh empty form: a browser that has just answered at a counter is otherwise sent
# to its thank-you page (the "another answer" link on that page asks for this).
FRESH_FORM = {"new": "1"}


@dataclass
class Served:
    app: Flask
    client: FlaskClient
    counters: dict[str, int]

    def token(self, counter: str = KITCHEN_COUNTER) -> str:
        with self.app.app_context():
            from survey.models import Counter
            return issue_token(db.session.get(Counter, self.counters[counter]), token_secret(self.app.config))

    def url(self, counter: str = KITCHEN_COUNTER) -> str:
        return f"/s/{self.token(counter)}"

    def open_form(self, url: str | None = None) -> dict[str, str]:
        """GET a fresh form; return its hidden fields (nonce, and csrf_token when CSRF is on)."""
        url = url or self.url()
        response = self.client.get(url + ("&" if "?" in url else "?") + "new=1")  # FRESH_FORM
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return hidden_fields(response.get_data(as_text=True))

    def counts(self) -> tuple[int, int, int]:
        with self.app.app_context():
            return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))  # type: ignore[return-value]
                         for model in (Response, Answer, TextAnswer))

    def stored(self) -> list[Response]:
        with self.app.app_context():
            responses = db.session.scalars(sa.select(Response).order_by(Response.id)).all()
            for response in responses:  # load while the session is open
                _ = response.answers, response.texts
            db.session.expunge_all()
            return list(responses)


def hidden_fields(html: str) -> dict[str, str]:
    pattern = r'<input id="[^"]*" name="(nonce|csrf_token)" type="hidden" value="([^"]*)"'
    return dict(re.findall(pattern, html))


def kitchen_sink_paths(tmp_path: Path) -> list[str]:
    """An INSTRUMENT_PATHS value holding the kitchen-sink fixture."""
    extra = tmp_path / "instruments"
    extra.mkdir()
    shutil.copy(KITCHEN_SINK, extra)
    return [str(extra)]


def serve_kitchen_sink(migrated_db: Path, tmp_path: Path, **overrides: Any) -> Served:
    """An app whose INSTRUMENT_PATHS holds the kitchen-sink fixture, assigned to commune HL-AB."""
    app = make_app(migrated_db, tmp_path, INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path), **overrides)
    return serve_kitchen_sink_on(app)


def serve_kitchen_sink_on(app: Flask) -> Served:
    """Seed the demo units into `app`'s (migrated) database and assign the kitchen sink to HL-AB."""
    with app.app_context():
        counters = seed_demo(db.session)
        commune = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB"))
        db.session.add(InstrumentAssignment(unit=commune, instrument_id="kitchen-sink",
                                            instrument_version="2025.1", opens_on=date(2025, 7, 1)))
        db.session.commit()
        ids = {f"{c.unit.code}/{c.code}": c.id for c in counters}
    return Served(app, app.test_client(), ids)


VALID = {"q_access": "4", "q_wait": "0", "q_staff": "5", "overall": "5", "paid_extra": "1", "visits": "2",
         "comment": "Cán bộ nhiệt tình."}


def error_code_in(html: str) -> set[str]:
    return set(re.findall(r'data-error-code="([A-Z-]+)"', html))


def summary_heading(html: str) -> str | None:
    """The heading of the form's error summary, or None when the page has no summary."""
    match = re.search(r'<div class="error-summary"[^>]*>\s*<h2>([^<]*)</h2>', html)
    return match.group(1) if match else None


def checked(html: str, name: str, value: str | None = None) -> bool:
    """Whether an input `name` (with `value`, if given) is rendered checked, whatever the attribute order
    and quoting (options are written with unquoted values: `name=q_access value=4`)."""
    for tag in re.findall(r"<input [^>]*>", html):
        attributes = {key: quoted or bare
                      for key, quoted, bare in re.findall(r'\s([a-z-]+)=(?:"([^"]*)"|([^\s>]*))', tag)}
        if (attributes.get("name") == name and re.search(r"\schecked[\s>]", tag)
                and (value is None or attributes.get("value") == value)):
            return True
    return False
