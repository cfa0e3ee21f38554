"""Counter tablets: a manager registers one for a counter, sees its URL, revokes it; all audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import KioskDevice, Response, Role
from tests.survey.conftest import audit_events, counter_id
from tests.survey.staff_helpers import running, signed_in, staff_app


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path, MIN_FILL_SECONDS=0))



def test_register_open_and_revoke_a_tablet(sapp: Flask) -> None:
    manager = signed_in(sapp, "mai", Role.MANAGER, ("HL-AB",))
    counter = counter_id("HL-AB-1/KIOSK", sapp)
    registered = manager.post(f"/manage/counters/{counter}/kiosks",
                              data={"label": "  Máy tính bảng  quầy 1 "})
    assert registered.status_code == 302 and registered.headers["Location"].endswith("#kiosks")
    page = manager.get(f"/manage/counters/{counter}").get_data(as_text=True)
    url = re.search(r'<code class="kiosk-url">http://localhost(/k/[^<]+)</code>', page)
    assert url is not None and "Máy tính bảng quầy 1" in page
    [register] = audit_events("kiosk.register", sapp)
    assert register.actor_id is not None and register.object_type == "kiosk_device"

    tablet = sapp.test_client()
    opened = tablet.get(url.group(1))
    assert opened.status_code == 303
    form_url = opened.headers["Location"]
    assert "mode=kiosk" in form_url and "new=1" in form_url
    form = tablet.get(form_url).get_data(as_text=True)
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', form)
    assert nonce is not None and f'data-return-url="{url.group(1)}"' in form  # next citizen: via /k/ again
    sent = tablet.post(form_url.split("?")[0] + "?mode=kiosk", data={"nonce": nonce.group(1), "overall": "4"})
    assert sent.status_code == 303
    with sapp.app_context():
        [response] = db.session.scalars(sa.select(Response)).all()
        assert response.channel.value == "kiosk" and response.counter_id == counter

    with sapp.app_context():
        device_id = db.session.scalar(sa.select(KioskDevice.id))
    revoked = manager.post(f"/manage/kiosks/{device_id}/revoke")
    assert revoked.status_code == 302
    assert [e.object_id for e in audit_events("kiosk.revoke", sapp)] == [str(device_id)]
    gone = tablet.get(url.group(1))
    assert gone.status_code == 410 and "E-KIOSK-REVOKED" in gone.get_data(as_text=True)
    assert "<del>" in manager.get(f"/manage/counters/{counter}").get_data(as_text=True)


def test_forged_or_foreign_tablets_are_refused(sapp: Flask) -> None:
    assert sapp.test_client().get("/k/WzEsNF0.forged").status_code == 404
    outsider = signed_in(sapp, "lan", Role.MANAGER, ("HL-HL",))
    counter = counter_id("HL-AB-1/KIOSK", sapp)
    assert outsider.post(f"/manage/counters/{counter}/kiosks", data={"label": "x"}).status_code == 404
    with sapp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskDevice)) == 0
    researcher = signed_in(sapp, "rita", Role.RESEARCHER, ("HL",))
    assert researcher.post(f"/manage/counters/{counter}/kiosks", data={"label": "x"}).status_code == 403


def test_revoking_asks_first_on_a_page_that_needs_no_javascript(sapp: Flask) -> None:
    manager = signed_in(sapp, "mai", Role.MANAGER, ("HL-AB",))
    counter = counter_id("HL-AB-1/KIOSK", sapp)
    manager.post(f"/manage/counters/{counter}/kiosks", data={"label": "Máy quầy 1"})
    with sapp.app_context():
        device_id = db.session.scalar(sa.select(KioskDevice.id))
    counter_page = manager.get(f"/manage/counters/{counter}").get_data(as_text=True)
    # The counter page offers a link to the confirmation, no button that revokes at once.
    assert f'href="/manage/kiosks/{device_id}/revoke"' in counter_page
    assert f'action="/manage/kiosks/{device_id}/revoke"' not in counter_page
    asked = manager.get(f"/manage/kiosks/{device_id}/revoke")
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Thu hồi máy tính bảng" in page and "Máy quầy 1" in page
    assert "chưa gửi sẽ không gửi được nữa" in page and "<script" not in page
    assert re.search(r'<form method="post">.*Đồng ý, thu hồi', page, re.S)
    with sapp.app_context():
        assert db.session.get(KioskDevice, device_id).revoked_at is None  # type: ignore[union-attr]
    assert audit_events("kiosk.revoke", sapp) == []
    done = manager.post(f"/manage/kiosks/{device_id}/revoke")
    assert done.status_code == 302 and done.headers["Location"].endswith("#kiosks")
    assert [e.object_id for e in audit_events("kiosk.revoke", sapp)] == [str(device_id)]
    # Asking again for a revoked tablet leads back to the counter page; nothing is audited twice.
    assert manager.get(f"/manage/kiosks/{device_id}/revoke").status_code == 302
    assert len(audit_events("kiosk.revoke", sapp)) == 1
