"""No client address in any log: the scrubbing filter, and a real gunicorn run with the shipped config."""

from __future__ import annotations

import io
import logging
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from survey.log_privacy import AddressScrubber, scrub_addresses

ROOT = Path(__file__).parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"


@pytest.mark.parametrize(("text", "expected"), [
    ("Invalid request from ip=203.0.113.9: Invalid HTTP", "Invalid request from ip=[address]: Invalid HTTP"),
    ("peer 2001:db8::1 via ::ffff:10.0.0.1.", "peer [address] via [address]."),
    ("fe80::1%eth0 and [2001:db8::2]:443 and 203.0.113.9:5555",
     "[address] and [[address]]:443 and [address]:5555"),
    ("at 12:30:45, v1.2.3.4.5, 1.2.3, ab::cd::ef, 999.1.1.1",
     "at 12:30:45, v1.2.3.4.5, 1.2.3, ab::cd::ef, 999.1.1.1"),
])
def test_scrub_addresses(text: str, expected: str) -> None:
    assert scrub_addresses(text) == expected


def test_the_filter_rewrites_formatted_records() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(AddressScrubber())
    logger = logging.getLogger("test.log_privacy")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("client %s sent %d bytes", "198.51.100.23", 12)
        try:
            raise ValueError("bad peer 198.51.100.24")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert "198.51.100" not in stream.getvalue()
    assert "client [address] sent 12 bytes" in stream.getvalue() and "bad peer [address]" in stream.getvalue()


def test_the_gunicorn_config_reads_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_TRUSTED_PROXIES", '["10.0.0.5", "10.1.0.0/16"]')
    settings = runpy.run_path(str(CONF))
    assert settings["forwarded_allow_ips"] == "10.0.0.5/32,10.1.0.0/16"
    assert "%(h)s" not in settings["access_log_format"] and "%({" not in settings["access_log_format"]
    handlers = settings["logconfig_dict"]["handlers"]
    assert all(handler["filters"] == ["no_address"] for handler in handlers.values())
    monkeypatch.delenv("FLASK_TRUSTED_PROXIES")
    assert runpy.run_path(str(CONF))["forwarded_allow_ips"] == "127.0.0.1,::1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorn_with_the_shipped_config_writes_no_address(tmp_path: Path) -> None:
    """Bad (400) and too long (414) requests make gunicorn log the peer; the config must hide it."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.fail("gunicorn is missing: it is in the `test` extra (pip install -e '.[web,test]')")
    port = _free_port()
    env = {**os.environ, "FLASK_SECRET_KEY": "log-test-secret", "GUNICORN_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "1", "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'log.db'}"}
    out, err = tmp_path / "access.log", tmp_path / "error.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        server = subprocess.Popen([str(gunicorn), "-c", str(CONF)], cwd=ROOT, env=env, stdout=stdout,
                                  stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.3)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(b"GARBAGE\r\n\r\n")
                assert raw.recv(100).startswith(b"HTTP/1.1 400")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                raw.recv(100)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    logs = out.read_text() + err.read_text()
    assert '"GET / HTTP/1.1" 200' in logs  # the access log works...
    assert logs.count("Invalid request from ip=[address]") == 2  # ...and so do the error lines
    assert "127.0.0.1" not in logs
