"""A live Hài Lòng server on 127.0.0.1 for the browser tests, and what they read back from its database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from survey.demo.tree import REFORM_DAY, seed_demo, seed_demo_sectors
from survey.extensions import db
from survey.models import Counter, InstrumentAssignment, Response, Unit
from survey.services.qr.qr_tokens import issue_token, token_secret
from tests.survey.conftest import make_app


@dataclass(frozen=True)
class StoredResponse:
    """A stored response as plain data: answers as item id -> sorted codes, texts by item id."""

    id: int
    channel: str
    language: str
    answers: dict[str, tuple[int, ...]]
    texts: dict[str, str]


@dataclass
class Live:
    app: Flask
    base: str
    counters: dict[str, int]

    def url(self, counter: str, **query: str) -> str:
        with self.app.app_context():
            counter_row = db.session.get(Counter, self.counters[counter])
            token = issue_token(counter_row, token_secret(self.app.config))
        return f"{self.base}/s/{token}" + (f"?{urlencode(query)}" if query else "")

    def assign(self, unit_code: str, instrument_id: str, version: str = "2025.1") -> None:
        """Give unit `unit_code` its own instrument (it then takes precedence over the province's)."""
        with self.app.app_context():
            unit = db.session.scalar(sa.select(Unit).where(Unit.code == unit_code))
            db.session.add(InstrumentAssignment(unit=unit, instrument_id=instrument_id,
                                                instrument_version=version, opens_on=REFORM_DAY))
            db.session.commit()

    def responses(self) -> list[StoredResponse]:
        with self.app.app_context():
            rows = db.session.scalars(sa.select(Response).order_by(Response.id)).all()
            stored = []
            for row in rows:
                answers: dict[str, list[int]] = {}
                for answer in row.answers:
                    answers.setdefault(answer.item_id, []).append(answer.code)
                stored.append(StoredResponse(row.id, row.channel.value, row.language,
                                             {k: tuple(sorted(v)) for k, v in answers.items()},
                                             {t.item_id: t.text for t in row.texts}))
            db.session.remove()
            return stored


@contextmanager
def serve(migrated_db: Path, tmp_path: Path, **overrides: Any) -> Iterator[Live]:
    """The app on a fresh copy of the migrated database, seeded with the demo province, served by a
    real threaded WSGI server on a free loopback port until the block ends."""
    # A long kiosk return: a page under test must not leave by itself unless the test asks for it.
    config = {"WTF_CSRF_ENABLED": True, "MIN_FILL_SECONDS": 0, "KIOSK_RETURN_SECONDS": 600, **overrides}
    app = make_app(migrated_db, tmp_path, **config)
    with app.app_context():
        # the demo province with its hospital and school: every shipped instrument at a demo counter
        seeded = seed_demo(db.session) + seed_demo_sectors(db.session)
        counters = {f"{c.unit.code}/{c.code}": c.id for c in seeded}
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield Live(app, f"http://127.0.0.1:{server.server_port}", counters)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()
