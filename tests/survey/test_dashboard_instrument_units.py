"""The instrument switch leaves out of the table the units that use another instrument instead (they are
listed under it); a unit without any response keeps its row, with its target."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Answer, Response, Role, Unit
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import running, signed_in, staff_app


def _quick_ratings(app: Flask, unit_code: str, ratings: list[int]) -> None:
    registered = get_registered("quick-rating", "2025.1")
    with app.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == unit_code))
        assert unit is not None
        for i, rating in enumerate(ratings):
            response = Response(instrument_id="quick-rating", instrument_version="2025.1",
                                instrument_hash=registered.content_hash, unit_id=unit.id, channel="kiosk",
                                language="vi", submitted_at=datetime(2026, 10, 12, 3, i % 60, tzinfo=UTC),
                                idempotency_key=f"quick-{unit_code}-{i}")
            db.session.add(response)
            db.session.flush()
            db.session.add(Answer(response_id=response.id, item_id="rating", code=rating))
        db.session.commit()


def _stored(app: Flask) -> Flask:
    add_responses(app, "HL-AB-1", AB_CODES, day=10)  # the full SIPAS survey at An Bình only
    _quick_ratings(app, "HL-HL-1", [3, 2, 1, 3] * 5)  # the counter rating at Hòa Lạc only
    return app


@pytest.fixture
def iapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = _stored(staff_app(migrated_db, tmp_path))
    # The rows went in directly, as a bulk import's would: the aggregates are rebuilt, as it needs.
    assert app.test_cli_runner().invoke(args=["aggregates", "rebuild"]).exit_code == 0
    yield from running(app)


def _tabled(html: str) -> set[int]:
    table = html[html.index('<table class="units">'):html.index("</table>")]
    return {int(i) for i in re.findall(r'<th scope="row"[^>]*><a href="/manage/units/(\d+)\?', table)}


def test_each_instrument_tables_only_the_units_that_use_it(iapp: Flask) -> None:
    client = signed_in(iapp, "tinh", Role.MANAGER, ("HL",))
    province, ab, hl, centre = (unit_id(c, iapp) for c in ("HL", "HL-AB", "HL-HL", "HL-TTHCC"))
    sipas = client.get(f"/manage/?period={PERIOD}&weighted=0&lang=en").get_data(as_text=True)
    assert _tabled(sipas) == {province, ab, centre}  # the centre has no responses at all: it stays
    assert "0 / " not in sipas and f"/manage/units/{hl}?" in sipas  # Hòa Lạc only in the note
    quick = client.get(f"/manage/?period={PERIOD}&weighted=0&instrument=quick-rating@2025.1&lang=en"
                       ).get_data(as_text=True)
    assert _tabled(quick) == {province, hl, centre}
    note = quick[quick.index('class="hint without-data"'):]
    note = note[:note.index("</p>")]
    assert f"/manage/units/{ab}?" in note  # listed, one click away
    assert f"/manage/units/{hl}?" not in note and f"/manage/units/{centre}?" not in note
    csv_codes = [line.split(",")[0] for line in client.get(
        f"/manage/dashboard.csv?period={PERIOD}&weighted=0&instrument=quick-rating@2025.1"
    ).get_data(as_text=True).lstrip("\ufeff").splitlines()[1:]]
    assert csv_codes == ["HL", "HL-TTHCC", "HL-HL"]


def test_before_the_aggregates_are_rebuilt_an_imported_unit_keeps_its_row(migrated_db: Path,
                                                                          tmp_path: Path) -> None:
    # Which units use another instrument is read from the index aggregates: rows stored without the
    # submission service are seen there after `flask aggregates rebuild`; until then the unit is tabled
    # without data rather than moved to the note.
    for app in running(_stored(staff_app(migrated_db, tmp_path))):
        client = signed_in(app, "tinh", Role.MANAGER, ("HL",))
        hl = unit_id("HL-HL", app)
        sipas = client.get(f"/manage/?period={PERIOD}&weighted=0&lang=en").get_data(as_text=True)
        assert hl in _tabled(sipas)
