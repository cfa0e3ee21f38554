"""The tablet allowance scenarios of the submission limits, run against each limit store (the database
and `memory://` in test_submission_limits.py, a real Redis server in test_limits_redis.py).

A registered tablet (`/k/<token>`) counts against `kiosk_limit`, keyed on the device; `?mode=kiosk`
alone, or the URL of a revoked tablet, is counted as a phone (`browser_limit`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import KioskDevice, SubmissionRefusal
from survey.services.organisation.kiosks import device_token
from survey.services.qr.qr_tokens import token_secret
from tests.survey.conftest import RELAXED_RULES
from tests.survey.staff_helpers import Clock
from tests.survey.survey_helpers import VALID, Served, hidden_fields, serve_kitchen_sink

# A phone may send 1 an hour at the counter, a registered tablet 3.
TABLET_RULES = {**RELAXED_RULES, "browser_limit": "1 per hour", "kiosk_limit": "3 per hour",
                "browser_flag_from": 2}


def served_with_store(migrated_db: Path, folder: Path, storage: str) -> Served:
    folder.mkdir(exist_ok=True)
    return serve_kitchen_sink(migrated_db, folder, SUBMISSION_LIMIT_STORAGE=storage,
                              SUBMISSION_RULES=TABLET_RULES, CLOCK=Clock())


def register_tablet(served: Served, counter: str = "HL-AB-1/Q1") -> tuple[int, str]:
    """A tablet registered for `counter` (as the manager's page does); its id and its /k/ path."""
    with served.app.app_context():
        device = KioskDevice(counter_id=served.counters[counter], label="Máy tính bảng")
        db.session.add(device)
        db.session.commit()
        return device.id, f"/k/{device_token(device, token_secret(served.app.config))}"


def revoke_tablet(served: Served, device_id: int) -> None:
    with served.app.app_context():
        device = db.session.get(KioskDevice, device_id)
        assert device is not None
        device.revoked_at = datetime.now(UTC)
        db.session.commit()


def citizen_at(served: Served, client: FlaskClient) -> int:
    """One citizen answering on `client` in kiosk mode (the form the thank-you page leads to)."""
    url = served.url() + "?mode=kiosk"
    form = hidden_fields(client.get(url + "&new=1").get_data(as_text=True))
    return int(client.post(url, data={**form, **VALID}).status_code)


def refusals(served: Served) -> dict[str, int]:
    with served.app.app_context():
        rows = db.session.execute(sa.select(SubmissionRefusal.limit_name, SubmissionRefusal.refused)).all()
        return {name: refused for name, refused in rows}


def a_registered_tablet_has_its_own_allowance_keyed_on_the_device(served: Served) -> None:
    _, path = register_tablet(served)
    tablet = served.app.test_client()
    assert tablet.get(path).status_code == 303
    assert [citizen_at(served, tablet) for _ in range(3)] == [303, 303, 303]
    # The device, not the browser: a second browser opened at the same tablet URL (the tablet's
    # browser data cleared) shares the tablet's allowance instead of getting a fresh one.
    cleared = served.app.test_client()
    assert cleared.get(path).status_code == 303
    assert citizen_at(served, cleared) == 429
    assert refusals(served) == {"kiosk": 1}
    assert {r.status.value for r in served.stored()} == {"valid"}  # no `device` flag on a tablet


def mode_kiosk_alone_gets_the_phone_allowance(served: Served) -> None:
    register_tablet(served)  # a tablet exists at the counter, but this browser never opened its URL
    claimed = served.app.test_client()
    assert [citizen_at(served, claimed) for _ in range(2)] == [303, 429]
    assert refusals(served) == {"browser": 1}


def a_revoked_tablet_gets_the_phone_allowance(served: Served) -> None:
    device_id, path = register_tablet(served)
    tablet = served.app.test_client()
    assert tablet.get(path).status_code == 303
    assert citizen_at(served, tablet) == 303  # counted as the tablet: its own allowance
    revoke_tablet(served, device_id)
    # The browser still holds the revoked tablet's token and sends ?mode=kiosk: a phone now, whose
    # own allowance (1) is still whole, then spent.
    assert [citizen_at(served, tablet) for _ in range(2)] == [303, 429]
    assert refusals(served) == {"browser": 1}


def another_counters_tablet_gets_the_phone_allowance(served: Served) -> None:
    _, path = register_tablet(served, "HL-AB-1/KIOSK")
    tablet = served.app.test_client()
    assert tablet.get(path).status_code == 303
    assert [citizen_at(served, tablet) for _ in range(2)] == [303, 429]  # at HL-AB-1/Q1: a phone
    assert refusals(served) == {"browser": 1}


SCENARIOS = (a_registered_tablet_has_its_own_allowance_keyed_on_the_device,
             mode_kiosk_alone_gets_the_phone_allowance, a_revoked_tablet_gets_the_phone_allowance,
             another_counters_tablet_gets_the_phone_allowance)
