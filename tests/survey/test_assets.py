"""Static files under content-hashed names with a year's cache; compressed responses."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from flask.testing import FlaskClient

STATIC = Path(__file__).parents[2] / "survey" / "static"


def test_static_urls_carry_the_content_hash_and_are_cached_for_a_year(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    expected = hashlib.sha256((STATIC / "app.css").read_bytes()).hexdigest()[:12]  # independent of the app
    assert f"/static/app.{expected}.css" in html
    hashed = client.get(f"/static/app.{expected}.css")
    assert hashed.status_code == 200 and hashed.get_data() == (STATIC / "app.css").read_bytes()
    hashed.close()
    assert {"public", "immutable", "max-age=31536000"} <= {p.strip() for p in
                                                            hashed.headers["Cache-Control"].split(",")}
    for name in ("app.css", "app.000000000000.css"):  # a plain or stale name: served, not kept long
        response = client.get(f"/static/{name}")
        response.close()
        assert response.status_code == 200 and "immutable" not in response.headers.get("Cache-Control", "")
    assert client.get("/static/nothing.abcdefabcdef.css").status_code == 404


def test_pages_are_compressed_when_the_browser_accepts_gzip(client: FlaskClient) -> None:
    plain = client.get("/")
    squeezed = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert squeezed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in squeezed.headers["Vary"]
    assert gzip.decompress(squeezed.get_data()) == plain.get_data()
    assert "Content-Encoding" not in plain.headers
    css = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', plain.get_data(as_text=True))
    assert css is not None
    static = client.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert static.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(static.get_data()) == (STATIC / "app.css").read_bytes()
