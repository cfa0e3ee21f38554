"""Weight of each citizen survey page, and the taps and phone screens it takes to complete.

For every shipped instrument, served at a demo counter from a throw-away database: the HTML of the
form and the CSS and JS it links, raw and gzip-compressed (level 6, what the app and nginx send),
their sum, the taps to complete it (one per question answered by a choice, plus Send) and, when
Chromium is installed, the number of 360 x 640 phone screens the page is tall (JavaScript on).

Usage: python bench/page_weight.py
Prints a table; asserts nothing.
"""

from __future__ import annotations

import gzip
import re
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from flask_migrate import upgrade

from instruments.model import MultipleChoiceItem, NoteItem, ScaleItem, SingleChoiceItem
from survey import create_app
from survey.demo.tree import seed_demo
from survey.extensions import db
from survey.models import Counter, InstrumentAssignment, Unit
from survey.services.citizens.surveys import find_instrument
from survey.services.qr.qr_tokens import issue_token, token_secret

PHONE = (360, 640)


def _gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="page-weight-"))
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'b.db'}",
                      "TESTING": True})
    urls: dict[str, str] = {}
    with app.app_context():
        upgrade()
        counters = seed_demo(db.session)
        # one unit per instrument, so that each is served at a counter of its own
        for instrument, unit_code in (("sipas-counter", "HL-TTHCC"), ("quick-rating", "HL-HL"),
                                      ("outpatient", "HL-AB")):
            unit = db.session.scalar(sa.select(Unit).where(Unit.code == unit_code))
            db.session.add(InstrumentAssignment(unit=unit, instrument_id=instrument,
                                                instrument_version="2025.1", opens_on=date(2025, 7, 1)))
            counter = next(c for c in counters if c.unit.code.startswith(unit_code + "-"))
            token = issue_token(db.session.get(Counter, counter.id), token_secret(app.config))
            urls[instrument] = f"/s/{token}"
        db.session.commit()
    client = app.test_client()
    rows = []
    pages: dict[str, str] = {}
    for instrument, url in urls.items():
        html = client.get(url).get_data()
        pages[instrument] = url
        assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
        bodies = [html] + [client.get(a.decode()).get_data() for a in assets]
        with app.app_context():
            model = find_instrument(instrument, "2025.1", ()).instrument
        choices = ScaleItem | SingleChoiceItem | MultipleChoiceItem
        taps = 1 + sum(1 for item in model.items() if isinstance(item, choices) and item.show_if is None)
        questions = sum(1 for item in model.items() if not isinstance(item, NoteItem))
        rows.append((instrument, len(html), _gz(html), sum(len(b) for b in bodies),
                     sum(_gz(b) for b in bodies), questions, taps))
    screens = _screens(app, pages)
    print(f"{'instrument':<15} {'HTML':>8} {'HTML gz':>8} {'all':>8} {'all gz':>8} {'questions':>9} "
          f"{'taps':>5} {'screens':>8}")
    for name, html_raw, html_gz, total_raw, total_gz, questions, taps in rows:
        shown = f"{screens[name]:.1f}" if name in screens else "n/a"
        print(f"{name:<15} {html_raw:>8,} {html_gz:>8,} {total_raw:>8,} {total_gz:>8,} {questions:>9} "
              f"{taps:>5} {shown:>8}")
    print("bytes; all = HTML + linked CSS + JS; gz = gzip level 6; screens = height / 640 px, 360 px wide")
    shutil.rmtree(folder, ignore_errors=True)


def _screens(app: object, pages: dict[str, str]) -> dict[str, float]:
    """Page height in 360 x 640 screens, through a real server and Debian's Chromium (if present)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return {}
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": PHONE[0], "height": PHONE[1]})
            for name, url in pages.items():
                page.goto(f"http://127.0.0.1:{server.server_port}{url}")
                found[name] = page.evaluate("document.documentElement.scrollHeight") / PHONE[1]
            browser.close()
    finally:
        server.shutdown()
    return found


if __name__ == "__main__":
    main()
