"""`flask seed demo`: what `make run` prints must work, and running it twice changes nothing."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from markupsafe import escape

from instruments.registry import get_registered, list_instruments
from survey.extensions import db
from survey.models import Counter, Unit, User


def _counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))  # type: ignore[return-value]
                     for model in (Unit, Counter, User))


def test_printed_survey_and_poster_urls_work(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["seed", "demo", "--base-url", "http://localhost"])
    assert result.exit_code == 0, result.output
    surveys = re.findall(r"survey: http://localhost(/s/\S+)", result.output)
    posters = re.findall(r"poster: http://localhost(/posters/counter/\d+)", result.output)
    assert len(surveys) == len(posters) == 7
    client = app.test_client()
    for path in surveys:
        assert client.get(path).status_code == 200, path
    manager = re.search(r"quanly\.tinh\s+(\S+)\s+manager of HL\b", result.output)
    assert manager, result.output
    client.post("/auth/login", data={"username": "quanly.tinh", "password": manager.group(1)})
    for path in posters:
        assert client.get(path).status_code == 200, path


def test_demo_accounts_can_sign_in_with_the_printed_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["seed", "demo"])
    match = re.search(r"quanly\.anbinh\s+(\S+)\s+manager of HL-AB", result.output)
    assert match, result.output
    client = app.test_client()
    response = client.post("/auth/login", data={"username": "quanly.anbinh", "password": match.group(1)})
    assert response.status_code == 303 or response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/manage/").status_code == 200


def test_seeding_twice_adds_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    first = _counts(app)
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert _counts(app) == first


def test_every_counter_of_the_province_is_printed_and_a_loopback_base_is_flagged(
        app: Flask, runner: FlaskCliRunner) -> None:
    from survey.demo.tree import seed_demo

    with app.app_context():
        seed_demo(db.session)
        point = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-HL-1"))
        assert point is not None
        # A counter the five-counter demo list does not know (as `--responses` adds dozens).
        db.session.add(Counter(unit=point, code="Q9", name_vi="Quầy 9", name_en="Counter 9"))
        db.session.commit()
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    assert "Demo counters (8)" in result.output and "HL-HL-1/Q9  Quầy 9" in result.output
    assert len(re.findall(r"survey: http://127\.0\.0\.1:5000/s/\S+", result.output)) == 8
    assert re.search(r"All posters on one page: http://127\.0\.0\.1:5000/posters/unit/\d+", result.output)
    assert "Set PUBLIC_BASE_URL" in result.output
    public = runner.invoke(args=["seed", "demo", "--base-url", "https://hailong.example.gov.vn"])
    assert "Set PUBLIC_BASE_URL" not in public.output


def test_every_shipped_instrument_is_served_at_a_printed_demo_counter(app: Flask,
                                                                    runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["seed", "demo", "--base-url", "http://localhost"])
    assert result.exit_code == 0, result.output
    # "  UNIT/COUNTER  name  — id@version" then "    survey: <url>"
    served = dict(re.findall(r"— (\S+@\S+)\n\s+survey: http://localhost(/s/\S+)", result.output))
    latest = {get_registered(entry.instrument.id).key for entry in list_instruments()}
    assert latest == {"sipas-counter@2025.1", "quick-rating@2025.1", "outpatient@2026.1",
                      "school-parents@2026.1"}
    assert latest <= set(served), result.output
    client = app.test_client()
    for key in latest:
        page = client.get(served[key])
        assert page.status_code == 200, key
        instrument_id, _, version = key.partition("@")
        title = get_registered(instrument_id, version).title.vi
        assert escape(title) in page.get_data(as_text=True), key
