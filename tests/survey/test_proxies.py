"""TRUSTED_PROXIES (survey/proxies.py): only a listed proxy may set the client's address and scheme,
and a CSRF problem on submit gives the citizen the form back with the answers and a fresh token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from survey import create_app
from survey.proxies import forwarded_allow_ips, is_trusted, trusted_networks
from tests.survey.conftest import RELAXED_RULES, _config
from tests.survey.survey_helpers import (
    FRESH_FORM,
    VALID,
    Served,
    checked,
    error_code_in,
    hidden_fields,
    serve_kitchen_sink,
)

PROXY = "10.0.0.5"
PUBLIC = "https://hailong.example.gov.vn"


def _served(migrated_db: Path, tmp_path: Path, **config: Any) -> Served:
    return serve_kitchen_sink(migrated_db, tmp_path, WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True,
                              SUBMISSION_RULES={**RELAXED_RULES, "address_limit": "1 per hour"}, **config)


def _via_proxy(served: Served, method: str, url: str, client_address: str, **kwargs: Any) -> TestResponse:
    """A request as nginx forwards it: the browser spoke HTTPS to the proxy, the proxy plain HTTP to us."""
    return served.client.open(url, method=method, base_url=PUBLIC,
                              environ_overrides={"wsgi.url_scheme": "http", "REMOTE_ADDR": PROXY},
                              headers={"X-Forwarded-For": client_address, "X-Forwarded-Proto": "https",
                                       "Referer": PUBLIC + url}, **kwargs)


def _answer_via_proxy(served: Served, client_address: str) -> TestResponse:
    url = served.url()
    # one test client stands for many browsers here: ask for a fresh form, not the thank-you page
    page = _via_proxy(served, "GET", url, client_address, query_string=FRESH_FORM)
    form = hidden_fields(page.get_data(as_text=True))
    return _via_proxy(served, "POST", url, client_address, data={**form, **VALID})


def test_configured_a_forwarded_https_post_succeeds_and_each_client_keeps_its_address(
        migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, TRUSTED_PROXIES=[f"{PROXY}/32"])
    first = _answer_via_proxy(served, "203.0.113.7")
    assert first.status_code == 303
    # One per hour per address: a second citizen behind the proxy is a different address.
    assert _answer_via_proxy(served, "203.0.113.8").status_code == 303
    assert served.counts()[0] == 2


def test_not_configured_forwarded_headers_are_ignored(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    assert _answer_via_proxy(served, "203.0.113.7").status_code == 303
    refused = _answer_via_proxy(served, "203.0.113.8")  # seen as the proxy's address: over the limit
    assert refused.status_code == 429 and checked(refused.get_data(as_text=True), "q_access", "4")


def test_a_client_cannot_choose_its_address(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, TRUSTED_PROXIES="10.0.0.0/29")
    url = served.url()
    for forged in ("203.0.113.1", "203.0.113.2"):
        page = served.client.get(url, query_string=FRESH_FORM, headers={"X-Forwarded-For": forged})
        form = hidden_fields(page.get_data(as_text=True))
        last = served.client.post(url, data={**form, **VALID}, headers={"X-Forwarded-For": forged})
    assert last.status_code == 429  # both counted as 127.0.0.1, the real peer


def test_a_csrf_failure_gives_the_form_back_and_a_resend_works(migrated_db: Path, tmp_path: Path) -> None:
    """The session cookie is gone (a phone browser restored the tab after closing): the token no longer
    matches. The answers come back with a fresh token, and sending again stores them once."""
    served = _served(migrated_db, tmp_path)
    url = served.url()
    form = served.open_form(url)
    served.client.delete_cookie("session")
    refused = served.client.post(url, data={**form, **VALID, "comment": "Giữ lại"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and error_code_in(html) == {"E-CSRF"}
    assert "Câu trả lời của Ông/Bà vẫn còn nguyên ở đây" in html
    assert checked(html, "q_access", "4") and "Giữ lại" in html and served.counts()[0] == 0
    fresh = dict(re.findall(r'name="(csrf_token|nonce)" type="hidden" value="([^"]*)"', html))
    assert fresh["csrf_token"] != form["csrf_token"] and fresh["nonce"] == form["nonce"]
    again = served.client.post(url, data={**fresh, **VALID})
    assert again.status_code == 303 and served.counts()[0] == 1


@pytest.mark.parametrize(("value", "expected"), [
    (None, ()), ("", ()), ("10.0.0.5", ("10.0.0.5/32",)),
    (" 10.0.0.5 , 10.1.0.0/16", ("10.0.0.5/32", "10.1.0.0/16")),
    (["::1", "192.168.1.7/24"], ("::1/128", "192.168.1.0/24")),
])
def test_trusted_proxies_setting(value: Any, expected: tuple[str, ...]) -> None:
    assert tuple(str(n) for n in trusted_networks(value)) == expected


def test_a_wrong_trusted_proxy_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nginx\.local"):
        create_app(_config(tmp_path / "x.db", TRUSTED_PROXIES=["nginx.local"]))


def test_membership_and_gunicorn_value() -> None:
    networks = trusted_networks("10.0.0.0/29")
    assert is_trusted("10.0.0.7", networks) and not is_trusted("10.0.0.8", networks)
    assert is_trusted("::ffff:10.0.0.1", networks) and not is_trusted("garbage", networks)
    assert forwarded_allow_ips({"TRUSTED_PROXIES": ["10.0.0.5", "10.1.0.0/16"]}) == "10.0.0.5/32,10.1.0.0/16"
    assert forwarded_allow_ips({}) == "127.0.0.1,::1"  # gunicorn's own default


def _seen(config: dict[str, Any], peer: str) -> tuple[str, str]:
    """(scheme, client address) an app wrapped for `config` sees for a forwarded request from `peer`."""
    from werkzeug.test import EnvironBuilder

    from survey.proxies import wrap

    seen: list[tuple[str, str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append((environ["wsgi.url_scheme"], environ["REMOTE_ADDR"]))
        start_response("204 No Content", [])
        return []

    headers = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7", "X-Forwarded-Proto": "https"}
    environ = EnvironBuilder(headers=headers, environ_overrides={"REMOTE_ADDR": peer}).get_environ()
    wrap(app, config)(environ, lambda *args: None)
    return seen[0]


def test_only_the_trusted_proxys_last_hop_is_believed() -> None:
    trusted = {"TRUSTED_PROXIES": [PROXY]}
    assert _seen(trusted, PROXY) == ("https", "203.0.113.7")  # 1.2.3.4 was written by the client
    assert _seen(trusted, "10.0.0.6") == ("http", "10.0.0.6")
    assert _seen({}, PROXY) == ("http", PROXY)
    assert _seen({"TRUSTED_PROXIES": [PROXY], "PROXY_HOPS": 2}, PROXY)[1] == "1.2.3.4"  # two proxies


def test_proxy_hops_alone_keeps_its_old_meaning(migrated_db: Path, tmp_path: Path) -> None:
    """Configurations written before TRUSTED_PROXIES keep working (every peer's last hop trusted)."""
    served = _served(migrated_db, tmp_path, PROXY_HOPS=1)
    assert _answer_via_proxy(served, "203.0.113.7").status_code == 303
    assert _answer_via_proxy(served, "203.0.113.8").status_code == 303
