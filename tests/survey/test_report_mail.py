"""Scheduled reports by e-mail: subscribing on the page (scoped), and `flask reports send` against a real
SMTP server on 127.0.0.1 (tests/survey/smtp_helpers.py): message, recipient, PDF attachment, one
send per period, a clear non-zero exit when mail fails and a retry on the next run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import ReportDelivery, ReportFrequency, ReportSubscription, Role, UserScope
from survey.services.reporting.report_mail import due_period
from survey.services.reporting.subscriptions import valid_email
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import seed_responses
from tests.survey.smtp_helpers import Mailbox, closed_port, smtp_server
from tests.survey.staff_helpers import Clock, Staff, add_staff, running, sign_in, staff_app

# 08:00 on 1 November 2026 in Vietnam (UTC+7): October has just ended, the third quarter long ago.
NOW = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
ADDRESS = "ab.manager@anbinh.gov.vn"


@pytest.fixture
def mapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path, CLOCK=Clock(NOW),
                                 MAIL_FROM="Hài Lòng <baocao@hailong.test>", MAIL_SMTP_HOST="127.0.0.1",
                                 MAIL_SMTP_SECURITY="none", PUBLIC_BASE_URL="https://hailong.test"))


def _manager(app: Flask, name: str = "ab", units: tuple[str, ...] = ("HL-AB",)) -> tuple[Staff, FlaskClient]:
    staff = add_staff(app, name, Role.MANAGER, units)
    client = app.test_client()
    sign_in(client, app, staff)
    return staff, client


def _subscribe(client: FlaskClient, unit: int, **fields: str) -> Any:
    data = {"unit": str(unit), "frequency": "monthly", "email": ADDRESS, "language": "vi", **fields}
    return client.post("/manage/reports/subscriptions", data=data)


def _send(app: Flask, port: int) -> Any:
    app.config["MAIL_SMTP_PORT"] = port
    return app.test_cli_runner().invoke(args=["reports", "send"])


def _deliveries(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(d.period, d.recipient) for d in db.session.scalars(sa.select(ReportDelivery))]


def test_due_period_is_the_month_or_quarter_that_ended() -> None:
    assert due_period(ReportFrequency.MONTHLY, date(2026, 11, 1)).label == "2026-10"
    assert due_period(ReportFrequency.MONTHLY, date(2026, 1, 31)).label == "2025-12"
    assert due_period(ReportFrequency.QUARTERLY, date(2026, 11, 15)).label == "2026Q3"
    assert due_period(ReportFrequency.QUARTERLY, date(2026, 10, 1)).label == "2026Q3"
    assert due_period(ReportFrequency.QUARTERLY, date(2027, 1, 1)).label == "2026Q4"
    assert due_period(ReportFrequency.QUARTERLY, date(2026, 9, 30)).label == "2026Q2"


def test_a_subscribed_report_is_mailed_once_with_its_pdf(mapp: Flask, tmp_path: Path) -> None:
    seed_responses(mapp)
    manager, client = _manager(mapp)
    page = client.get("/manage/reports/subscriptions")
    assert page.status_code == 200
    assert "Phường An Bình (HL-AB)" in page.get_data(as_text=True)
    assert "Xã Hòa Lạc" not in page.get_data(as_text=True)  # only the units the account may see
    response = _subscribe(client, unit_id("HL-AB", mapp))
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    mapp.config.update(MAIL_SMTP_USER="hailong", MAIL_SMTP_PASSWORD="s3cret")

    with smtp_server(Mailbox(credentials=("hailong", "s3cret"))) as (port, box):
        first = _send(mapp, port)
        assert first.exit_code == 0, first.output
        assert "reports send: 1 due, 1 sent, 0 skipped, 0 not sent" in first.output
        second = _send(mapp, port)  # the same period: nothing again
        assert second.exit_code == 0, second.output
        assert "reports send: 0 due, 0 sent, 0 skipped, 0 not sent" in second.output

    assert box.logins == [("hailong", "s3cret")]  # logged in once: the second run had nothing to send
    assert len(box.received) == 1
    received = box.received[0]
    assert received.sender == "baocao@hailong.test" and received.recipients == (ADDRESS,)
    message = received.message()
    assert message["To"] == ADDRESS
    assert message["Subject"] == "Báo cáo chỉ số hài lòng: Phường An Bình, 2026-10"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Kính gửi ab," in text
    assert "https://hailong.test/manage/reports/subscriptions" in text  # where to cancel
    attachments = list(message.iter_attachments())
    assert [(a.get_content_type(), a.get_filename()) for a in attachments] == [
        ("application/pdf", "hailong_HL-AB_2026-10_sipas-counter-2025.1.pdf")]
    pdf = attachments[0].get_content()
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "mailed.pdf").write_bytes(pdf)
    pdf_text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "mailed.pdf"), "-"], check=True,
                              capture_output=True, text=True, timeout=60).stdout
    assert "Phường An Bình" in pdf_text and "2026-10" in pdf_text and "Trang 1/" in pdf_text

    assert _deliveries(mapp) == [("2026-10", ADDRESS)]
    subscribed = audit_events("report.subscribe", mapp)
    assert [(e.actor_id, json.loads(e.detail)) for e in subscribed] == [
        (manager.id, {"frequency": "monthly", "language": "vi", "again": False, "domain": "anbinh.gov.vn"})]
    emailed = audit_events("report.email", mapp)
    assert [(e.actor_id, e.unit_id, json.loads(e.detail)["period"]) for e in emailed] == [
        (None, unit_id("HL-AB", mapp), "2026-10")]
    runs = [json.loads(e.detail) for e in audit_events("reports.send", mapp)]
    assert [(r["due"], r["sent"]) for r in runs] == [(1, 1), (0, 0)]


def test_an_unreachable_server_exits_non_zero_and_the_next_run_sends(mapp: Flask) -> None:
    _staff, client = _manager(mapp)
    assert _subscribe(client, unit_id("HL-AB", mapp), frequency="quarterly", language="en").status_code == 302
    port = closed_port()
    failed = _send(mapp, port)
    assert failed.exit_code == 1
    assert f"SMTP server 127.0.0.1:{port} unreachable" in failed.output
    assert "1 due, 0 sent, 0 skipped, 1 not sent" in failed.output and "the next run retries" in failed.output
    assert _deliveries(mapp) == []
    assert json.loads(audit_events("reports.send", mapp)[-1].detail)["smtp_unavailable"] is True

    with smtp_server() as (port, box):
        retried = _send(mapp, port)
    assert retried.exit_code == 0, retried.output
    assert _deliveries(mapp) == [("2026Q3", ADDRESS)]
    assert len(box.received) == 1
    message = box.received[0].message()
    assert message["Subject"] == "Satisfaction report: An Binh Ward, 2026-Q3"  # the subscriber's language
    assert [a.get_filename() for a in message.iter_attachments()] == [
        "hailong_HL-AB_2026-Q3_sipas-counter-2025.1.pdf"]


def test_a_refused_recipient_is_reported_not_recorded_and_retried(mapp: Flask) -> None:
    _staff, client = _manager(mapp)
    assert _subscribe(client, unit_id("HL-AB", mapp)).status_code == 302
    with smtp_server(Mailbox(refuse=frozenset({ADDRESS}))) as (port, box):
        refused = _send(mapp, port)
    assert refused.exit_code == 1
    assert f"recipient refused ({ADDRESS}: 550 5.1.1 no such mailbox)" in refused.output
    assert box.received == [] and _deliveries(mapp) == []
    with smtp_server() as (port, box):
        assert _send(mapp, port).exit_code == 0
    assert len(box.received) == 1 and _deliveries(mapp) == [("2026-10", ADDRESS)]


def test_no_smtp_host_is_a_clear_error(mapp: Flask) -> None:
    mapp.config["MAIL_SMTP_HOST"] = ""
    result = mapp.test_cli_runner().invoke(args=["reports", "send"])
    assert result.exit_code == 1
    assert "MAIL_SMTP_HOST is not set" in result.output


def test_a_password_is_never_sent_in_clear_to_a_remote_server(mapp: Flask) -> None:
    mapp.config.update(MAIL_SMTP_HOST="smtp.example.gov.vn", MAIL_SMTP_USER="u", MAIL_SMTP_PASSWORD="p")
    result = mapp.test_cli_runner().invoke(args=["reports", "send"])
    assert result.exit_code == 1
    assert "would send the password in clear to smtp.example.gov.vn" in result.output


def test_a_manager_cannot_subscribe_to_a_unit_outside_their_subtree(mapp: Flask) -> None:
    manager, client = _manager(mapp)
    outside = unit_id("HL-HL", mapp)
    response = _subscribe(client, outside)
    assert response.status_code == 404
    with mapp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportSubscription)) == 0
    denied = audit_events("access.denied", mapp)
    assert [(e.actor_id, e.object_type, e.object_id, json.loads(e.detail)) for e in denied] == [
        (manager.id, "unit", str(outside), {"attempted": "report.subscribe"})]
    # Inside the subtree, a service point below the commune is fine.
    assert _subscribe(client, unit_id("HL-AB-1", mapp)).status_code == 302


def test_a_researcher_may_not_subscribe(mapp: Flask) -> None:
    researcher = add_staff(mapp, "nc", Role.RESEARCHER, ("HL-AB",))
    client = mapp.test_client()
    sign_in(client, mapp, researcher)
    assert _subscribe(client, unit_id("HL-AB", mapp)).status_code == 403


@pytest.mark.parametrize("address", ["ab@anbinh.gov.vn\r\nBcc: x@evil.example",
                                     "ab@anbinh.gov.vn, x@evil.example", "An Bình <ab@anbinh.gov.vn>",
                                     "bình@anbinh.gov.vn", "ab@localhost",
                                     "ab..c@anbinh.gov.vn", "a" * 65 + "@anbinh.gov.vn", "ab@-anbinh.gov.vn"])
def test_anything_but_one_plain_address_is_a_422_in_vietnamese(mapp: Flask, address: str) -> None:
    """docs/bad-input.md row 36: nothing but one plain address reaches the To header."""
    _staff, client = _manager(mapp)
    response = _subscribe(client, unit_id("HL-AB", mapp), email=address)
    assert response.status_code == 422
    assert "Hãy ghi một địa chỉ thư điện tử" in response.get_data(as_text=True)
    with mapp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportSubscription)) == 0


def test_plain_addresses_are_accepted() -> None:
    for address in ("ab@anbinh.gov.vn", "nguyen.van-a+baocao@so-noivu.hanoi.gov.vn", "a" * 64 + "@x.vn"):
        assert valid_email(address), address


def test_cancelling_is_audited_others_cannot_and_nothing_is_sent_after(mapp: Flask) -> None:
    manager, client = _manager(mapp)
    assert _subscribe(client, unit_id("HL-AB", mapp)).status_code == 302
    with mapp.app_context():
        subscription_id = db.session.scalar(sa.select(ReportSubscription.id))
    other, other_client = _manager(mapp, "hl", ("HL",))  # sees An Bình too, but it is not their subscription
    assert other_client.post(f"/manage/reports/subscriptions/{subscription_id}/cancel").status_code == 404
    assert [json.loads(e.detail) for e in audit_events("access.denied", mapp) if e.actor_id == other.id] == [
        {"attempted": "report.unsubscribe"}]
    page = client.get("/manage/reports/subscriptions").get_data(as_text=True)
    assert ADDRESS in page
    assert client.post(f"/manage/reports/subscriptions/{subscription_id}/cancel").status_code == 302
    assert ADDRESS not in client.get("/manage/reports/subscriptions").get_data(as_text=True)
    assert [(e.actor_id, e.object_id) for e in audit_events("report.unsubscribe", mapp)] == [
        (manager.id, str(subscription_id))]
    with smtp_server() as (port, box):
        result = _send(mapp, port)
    assert result.exit_code == 0 and "0 due" in result.output and box.received == []
    # Subscribing again reopens the same row (and its log).
    assert _subscribe(client, unit_id("HL-AB", mapp)).status_code == 302
    with mapp.app_context():
        assert db.session.scalars(sa.select(ReportSubscription.id)).all() == [subscription_id]
    assert json.loads(audit_events("report.subscribe", mapp)[-1].detail)["again"] is True


def test_a_subscriber_who_lost_the_unit_gets_nothing(mapp: Flask) -> None:
    manager, client = _manager(mapp)
    assert _subscribe(client, unit_id("HL-AB", mapp)).status_code == 302
    with mapp.app_context():
        scope = db.session.scalar(sa.select(UserScope).where(UserScope.user_id == manager.id))
        assert scope is not None
        scope.unit_id = unit_id("HL-HL")
        db.session.commit()
    with smtp_server() as (port, box):
        result = _send(mapp, port)
    assert result.exit_code == 0, result.output
    assert "skipped, the unit is no longer among the account's units" in result.output
    assert "1 due, 0 sent, 1 skipped" in result.output
    assert box.received == [] and _deliveries(mapp) == []
