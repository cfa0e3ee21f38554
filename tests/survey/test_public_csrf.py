"""CSRF with the real configuration (Flask-WTF on): refused without the token, accepted with the one
from the rendered form, and an expired token gives the citizen's answers back (docs/bad-input.md row 6)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.survey.survey_helpers import VALID, Served, checked, error_code_in, serve_kitchen_sink


@pytest.fixture
def served(migrated_db: Path, tmp_path: Path) -> Served:
    return serve_kitchen_sink(migrated_db, tmp_path, WTF_CSRF_ENABLED=True)


def test_post_without_csrf_token_is_refused(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    assert "csrf_token" in fields
    response = served.client.post(url, data={"nonce": fields["nonce"], **VALID})
    assert response.status_code == 400 and "E-CSRF" in error_code_in(response.get_data(as_text=True))
    tampered = fields["csrf_token"][:-3] + "abc"
    forged = served.client.post(url, data={**fields, **VALID, "csrf_token": tampered})
    assert forged.status_code == 400 and "E-CSRF" in error_code_in(forged.get_data(as_text=True))
    assert served.counts() == (0, 0, 0)


def test_post_with_the_rendered_token_succeeds(served: Served) -> None:
    url = served.url()
    response = served.client.post(url, data={**served.open_form(url), **VALID})
    assert response.status_code == 303
    assert served.counts()[0] == 1


def test_token_from_another_session_is_refused(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    stranger = served.app.test_client()  # no session cookie: the token belongs to someone else
    response = stranger.post(url, data={**fields, **VALID})
    assert response.status_code == 400 and "E-CSRF" in error_code_in(response.get_data(as_text=True))
    assert served.counts() == (0, 0, 0)


def test_expired_token_re_renders_with_answers_kept(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    served.app.config["WTF_CSRF_TIME_LIMIT"] = -1  # every token issued so far is now expired
    response = served.client.post(url, data={**fields, **VALID, "comment": "Giữ lại nhé"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "E-CSRF" in error_code_in(html)
    assert checked(html, "q_access", "4")
    assert "Giữ lại nhé" in html and served.counts() == (0, 0, 0)
    served.app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    fresh = dict(re.findall(r'name="(csrf_token|nonce)" type="hidden" value="([^"]*)"', html))
    assert fresh["nonce"] == fields["nonce"]
    again = served.client.post(url, data={**fresh, **VALID})
    assert again.status_code == 303 and served.counts()[0] == 1


def test_cleared_cookies_give_the_answers_back(served: Served) -> None:
    url = served.url()
    fields = served.open_form(url)
    served.client.delete_cookie("session")  # the citizen's browser forgot the session mid-survey
    response = served.client.post(url, data={**fields, **VALID, "comment": "Vẫn còn"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "E-CSRF" in error_code_in(html)
    assert checked(html, "q_access", "4") and "Vẫn còn" in html and served.counts() == (0, 0, 0)
    fresh = dict(re.findall(r'name="(csrf_token|nonce)" type="hidden" value="([^"]*)"', html))
    again = served.client.post(url, data={**fresh, **VALID})
    assert again.status_code == 303 and served.counts()[0] == 1
