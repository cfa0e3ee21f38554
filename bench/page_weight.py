"""Weight of each citizen survey page, and the taps and phone screens it takes to complete.

For every shipped instrument (its latest version), served at its demo counter (`flask seed demo`) from
a throw-away database: the HTML of the
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

from flask_migrate import upgrade

from instruments.model import MultipleChoiceItem, NoteItem, ScaleItem, SingleChoiceItem
from instruments.registry import RegisteredInstrument
from survey import create_app
from survey.demo.tree import seed_demo, seed_demo_sectors
from survey.extensions import db
from survey.services.citizens.surveys import find_instrument
from survey.services.organisation.assignments import assignment_for
from survey.services.qr.qr_tokens import issue_token, token_secret

PHONE = (360, 640)


def _gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="page-weight-"))
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'b.db'}",
                      "TESTING": True})
    urls: dict[str, str] = {}
    served: dict[str, RegisteredInstrument] = {}
    today = date.today()
    with app.app_context():
        upgrade()
        # Every shipped instrument at the demo counter that serves it (`flask seed demo`), latest version.
        for counter in seed_demo(db.session) + seed_demo_sectors(db.session):
            assignment = assignment_for(db.session, counter.unit, today)
            if assignment is None or assignment.instrument_id in urls:
                continue
            served[assignment.instrument_id] = find_instrument(assignment.instrument_id,
                                                               assignment.instrument_version, ())
            urls[assignment.instrument_id] = f"/s/{issue_token(counter, token_secret(app.config))}"
        db.session.commit()
    client = app.test_client()
    rows = []
    pages: dict[str, str] = {}
    for instrument, url in urls.items():
        html = client.get(url).get_data()
        pages[instrument] = url
        assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
        bodies = [html] + [client.get(a.decode()).get_data() for a in assets]
        model = served[instrument].instrument
        choices = ScaleItem | SingleChoiceItem | MultipleChoiceItem
        taps = 1 + sum(1 for item in model.items() if isinstance(item, choices) and item.show_if is None)
        questions = sum(1 for item in model.items() if not isinstance(item, NoteItem))
        rows.append((served[instrument].key, len(html), _gz(html), sum(len(b) for b in bodies),
                     sum(_gz(b) for b in bodies), questions, taps))
    screens = _screens(app, pages)
    print(f"{'instrument':<22} {'HTML':>8} {'HTML gz':>8} {'all':>8} {'all gz':>8} {'questions':>9} "
          f"{'taps':>5} {'screens':>8}")
    for name, html_raw, html_gz, total_raw, total_gz, questions, taps in rows:
        shown = f"{screens[name.split('@')[0]]:.1f}" if name.split("@")[0] in screens else "n/a"
        print(f"{name:<22} {html_raw:>8,} {html_gz:>8,} {total_raw:>8,} {total_gz:>8,} {questions:>9} "
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
