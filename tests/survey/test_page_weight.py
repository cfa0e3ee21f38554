"""The SIPAS survey page stays light for a cheap phone on a slow line (issue 9, docs/bench.md):
<= 30 KB raw and <= 8 KB gzipped, HTML plus the CSS and JS it links. bench/page_weight.py prints the
figures for every instrument; this test holds the line for the heaviest one."""

from __future__ import annotations

import gzip
import re
from typing import Any

from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import Counter
from survey.services.qr.qr_tokens import issue_token, token_secret

RAW_LIMIT, GZIP_LIMIT = 30_000, 8_000


def _page_and_assets(client: FlaskClient, demo: dict[str, Any], counter: str) -> list[bytes]:
    app = client.application
    with app.app_context():
        token = issue_token(db.session.get(Counter, demo[counter]), token_secret(app.config))
    html = client.get(f"/s/{token}").get_data()
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    assert {a.rsplit(b".", 1)[-1] for a in assets} == {b"css", b"js"}  # the page links both kinds
    return [html] + [client.get(a.decode()).get_data() for a in assets]


def test_sipas_page_is_at_most_30_kb_raw_and_8_kb_gzipped(client: FlaskClient, demo: dict[str, Any]) -> None:
    bodies = _page_and_assets(client, demo, "HL-TTHCC-1/Q1")  # the demo counter serving sipas-counter
    html = bodies[0].decode()
    assert "Nhìn chung, Ông/Bà hài lòng thế nào" in html and html.count("type=radio") > 100  # the whole form
    raw = sum(len(body) for body in bodies)
    zipped = sum(len(gzip.compress(body, compresslevel=6)) for body in bodies)  # what the app sends
    assert raw <= RAW_LIMIT, raw
    assert zipped <= GZIP_LIMIT, zipped
