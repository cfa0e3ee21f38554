"""The latest comments of a few units, read unit by unit and merged, are those one query over all of
them gives: newest first, the later stored first at the same instant, at most `limit`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from survey.extensions import db
from survey.models import Response, ResponseStatus, TextAnswer
from survey.services.disclosure import scrubber
from tests.survey.conftest import unit_id
from tests.survey.staff_helpers import running, staff_app

WINDOW = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def _comment(code: str, day: int, hour: int, text: str,
             status: ResponseStatus = ResponseStatus.VALID) -> None:
    response = Response(instrument_id="sipas-counter", instrument_version="2025.1", instrument_hash="h",
                        unit_id=unit_id(code), channel="qr", language="vi", status=status,
                        submitted_at=datetime(2026, 10, day, hour, tzinfo=UTC),
                        idempotency_key=f"comment-{code}-{day}-{hour}-{text}")
    db.session.add(response)
    db.session.flush()
    db.session.add(TextAnswer(response_id=response.id, item_id="comment", text=text))


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_unit_by_unit_equals_one_query(capp: Flask, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    with capp.app_context():
        for code, day, hour, text in [("HL-AB-1", 3, 2, "a1"), ("HL-HL-1", 3, 5, "h1"),
                                      ("HL-AB-1", 9, 1, "a2"), ("HL-HL-1", 9, 1, "h2"),
                                      ("HL-AB-1", 12, 8, "a3"), ("HL-HL-1", 20, 4, "h3")]:
            _comment(code, day, hour, text)
        _comment("HL-AB-1", 25, 1, "flagged, never shown", ResponseStatus.FLAGGED)
        db.session.commit()
        units = [unit_id("HL-AB-1"), unit_id("HL-HL-1")]

        def read() -> list[tuple[str, datetime, str]]:
            found = scrubber.scrubbed_comments(db.session(), units, "sipas-counter", "2025.1", *WINDOW,
                                               limit=limit)
            return [(c.unit_code, c.submitted, c.text) for c in found]

        one_by_one = read()
        monkeypatch.setattr(scrubber, "_ONE_BY_ONE", 0)
        assert read() == one_by_one
    expected = ["h3", "a3", "h2", "a2", "h1", "a1"]  # day 9, 01:00 twice: the later stored (h2) first
    assert [text for _, _, text in one_by_one] == expected[:limit]
