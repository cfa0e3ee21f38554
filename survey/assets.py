"""Static files under content-hashed names, cached for a year.

`url_for("static", filename="app.css")` gives `/static/app.<hash>.css`, the hash being the first 12
hex digits of the file's SHA-256: a changed file gets a new name, so browsers and proxies may keep
every name forever (`Cache-Control: public, max-age=31536000, immutable`). A plain or stale name is
still served, without the long lifetime, so that an old page open in a browser keeps its styles.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from flask import Flask, Response, send_from_directory

YEAR = 365 * 24 * 3600
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")


def init_app(app: Flask) -> None:
    folder = Path(app.static_folder or "")
    digests: dict[str, tuple[float, str]] = {}

    def digest(filename: str) -> str | None:
        path = folder / filename
        if not path.is_file() or not path.resolve().is_relative_to(folder.resolve()):
            return None
        mtime = path.stat().st_mtime
        cached = digests.get(filename)
        if cached is None or cached[0] != mtime:  # recomputed when the file changes (development)
            cached = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            digests[filename] = cached
        return cached[1]

    @app.url_defaults
    def _hashed_name(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and isinstance(values.get("filename"), str):
            name = values["filename"]
            found = digest(name)
            if found is not None:
                stem, dot, ext = name.rpartition(".")
                values["filename"] = f"{stem}.{found}.{ext}" if dot else f"{name}.{found}"

    def static(filename: str) -> Response:
        match = _HASHED.match(filename)
        plain = match["stem"] + match["ext"] if match else filename
        response = send_from_directory(folder, plain)
        if response.status_code == 200:
            # Buffered, not streamed: these files are small, and a whole body is what the compressor
            # (Flask-Compress) gzips; it leaves a streamed file unclosed.
            body = (folder / plain).read_bytes()
            response.close()
            response.direct_passthrough = False
            response.set_data(body)
        if match and digest(plain) == match["digest"]:
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
        return response

    app.view_functions["static"] = static
