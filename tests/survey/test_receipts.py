"""Receipts (survey/services/citizens/receipts.py): one response per dossier where a counter asks for
the receipt number; the number is kept only as an HMAC under the period's key, apart from responses."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from survey import create_app
from survey.extensions import db
from survey.models import SpentReceipt
from survey.services.citizens.receipts import canonical_receipt, receipt_digest
from tests.survey.conftest import _config
from tests.survey.survey_helpers import (
    VALID,
    Served,
    checked,
    error_code_in,
    hidden_fields,
    serve_kitchen_sink,
    summary_heading,
)

RECEIPT = "000.00.12.H12-241204-0001"
KEYS = {str(datetime.now(UTC).year): "k" * 64}


def _served(migrated_db: Path, tmp_path: Path, **config: Any) -> Served:
    return serve_kitchen_sink(migrated_db, tmp_path, RECEIPT_COUNTERS=["HL-AB"], RECEIPT_KEYS=KEYS, **config)


def _send(served: Served, receipt: str | None, **answers: str) -> Any:
    url = served.url()
    data = {**served.open_form(url), **VALID, **answers}
    if receipt is not None:
        data["receipt"] = receipt
    return served.client.post(url, data=data)


@pytest.mark.parametrize(("typed", "canonical"), [
    (RECEIPT, "0000012H122412040001"), ("00000 12h12 2412040001", "0000012H122412040001"),
    ("０００００１２Ｈ１２２４１２０４０００１", "0000012H122412040001"),  # full-width, from a phone keyboard
    ("hs/2026/00123", "HS202600123"), ("12345", None), ("", None), ("-- . --", None), ("A" * 41, None),
])
def test_canonical_receipt(typed: str, canonical: str | None) -> None:
    assert canonical_receipt(typed) == canonical


def test_the_form_asks_for_the_receipt_only_where_configured(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    assert 'name="receipt"' in served.client.get(served.url()).get_data(as_text=True)
    assert 'name="receipt"' not in served.client.get(served.url("HL-HL-1/Q1")).get_data(as_text=True)


def test_a_reused_receipt_is_refused_with_409_and_the_answers_kept(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    assert _send(served, RECEIPT).status_code == 303
    again = _send(served, "00000 12h12 2412040001", comment="Lần hai")  # the same number, typed otherwise
    html = again.get_data(as_text=True)
    assert again.status_code == 409 and error_code_in(html) == {"E-RECEIPT-USED"}
    assert "Số biên nhận này đã được dùng để trả lời khảo sát" in html
    assert summary_heading(html) == "Hồ sơ này đã được đánh giá"  # not "check your answers"
    assert checked(html, "q_access", "4") and "Lần hai" in html
    assert served.counts()[0] == 1
    assert _send(served, "000.00.12.H12-241204-0002").status_code == 303  # the next dossier
    with served.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpentReceipt)) == 2


def test_the_409_page_in_english_has_its_own_heading(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    url = served.url() + "?lang=en"
    first = served.client.post(url, data={**served.open_form(url), **VALID, "receipt": RECEIPT})
    assert first.status_code == 303
    again = served.client.post(url, data={**served.open_form(url), **VALID, "receipt": RECEIPT})
    html = again.get_data(as_text=True)
    assert again.status_code == 409 and summary_heading(html) == "This dossier has already been rated"
    assert "each dossier can be rated once" in html and "Please check your answers" not in html
    assert '<p class="error-code">Error code: <code>E-RECEIPT-USED</code></p>' in html


def test_a_missing_or_malformed_receipt_is_a_form_error(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    for typed in (None, "12-34"):
        response = _send(served, typed)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and error_code_in(html) == {"E-RECEIPT-FORMAT"}
    assert served.counts()[0] == 0


def test_the_digest_depends_on_the_period_key() -> None:
    config = {"SECRET_KEY": "s", "RECEIPT_KEYS": {"2026": "a" * 64, "2027": "b" * 64}}
    digests = {receipt_digest("HS202600123", period, config) for period in ("2026", "2027", "2028")}
    assert len(digests) == 3  # 2028 has no key of its own: derived from SECRET_KEY, still different


def test_neither_database_nor_wal_holds_a_receipt_number(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    numbers = ["000.00.12.H12-241204-0007", "HS-2026-778899", "QD7731-5542"]
    for number in numbers:
        assert _send(served, number, comment="ghi-chu-de-do-tim").status_code == 303
    files = [p for p in tmp_path.iterdir() if p.name.startswith("test.db")]
    assert {p.name for p in files} >= {"test.db", "test.db-wal"}  # the write-ahead log is scanned too
    content = b"".join(p.read_bytes() for p in files)
    assert b"ghi-chu-de-do-tim" in content  # the scan does see what is stored
    with served.app.app_context():
        stored = set(db.session.scalars(sa.select(SpentReceipt.digest)))
    for number in numbers:
        canonical = canonical_receipt(number)
        assert canonical is not None
        for form in {number, canonical, canonical.lower()}:
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert form.encode(encoding) not in content, (form, encoding)
        assert receipt_digest(canonical, next(iter(KEYS)), served.app.config) in stored


def test_ten_concurrent_sends_of_one_receipt_store_exactly_one(migrated_db: Path, tmp_path: Path) -> None:
    """Ten browsers send the same receipt number at once, through two app instances on one file."""
    served = _served(migrated_db, tmp_path)
    same_file = Path(served.app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    twin = create_app(_config(same_file, INSTRUMENT_PATHS=served.app.config["INSTRUMENT_PATHS"],
                              RECEIPT_COUNTERS=["HL-AB"], RECEIPT_KEYS=KEYS))
    clients = [(served.app if i % 2 else twin).test_client() for i in range(10)]
    assert _send_one_receipt_at_once(clients, served.url()) == [303] + [409] * 9
    assert served.counts()[0] == 1


def _send_one_receipt_at_once(clients: list[Any], url: str) -> list[int]:
    """Each client opens the form, then all send it with the same receipt number at one instant."""
    ready = [(client, {**hidden_fields(client.get(url).get_data(as_text=True)), **VALID, "receipt": RECEIPT})
             for client in clients]
    barrier = threading.Barrier(len(ready))

    def send(client: Any, data: dict[str, str]) -> int:
        barrier.wait()
        return int(client.post(url, data=data).status_code)

    with ThreadPoolExecutor(len(ready)) as pool:
        return sorted(pool.map(lambda pair: send(*pair), ready))


def test_ten_concurrent_sends_of_one_receipt_store_exactly_one_on_postgresql(tmp_path: Path) -> None:
    """PostgreSQL runs the ten side by side: the twins that lose the race meet the primary key."""
    from flask_migrate import upgrade

    from tests.survey.postgres import temporary_server
    from tests.survey.survey_helpers import kitchen_sink_paths, serve_kitchen_sink_on

    with temporary_server() as server:
        server.execute("CREATE DATABASE hailong_receipts")
        app = create_app({**_config(tmp_path / "unused.db", INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path),
                                    RECEIPT_COUNTERS=["HL-AB"], RECEIPT_KEYS=KEYS),
                          "SQLALCHEMY_DATABASE_URI": server.url("hailong_receipts")})
        with app.app_context():
            upgrade()
        served = serve_kitchen_sink_on(app)
        clients = [app.test_client() for _ in range(10)]
        assert _send_one_receipt_at_once(clients, served.url()) == [303] + [409] * 9
        assert served.counts()[0] == 1
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
