"""No template a browser is served carries what the Content-Security-Policy refuses.

The policy (survey/security.py) allows styles and scripts from the app's own files only: a `style`
attribute, a `<style>` or inline `<script>` element, or an `on...` event attribute is silently dropped
by the browser (the dashboard's unit tree was shown flat for a season by indents written as style
attributes). The PDF report's template is printed by WeasyPrint, never served to a browser; the QR
posters' stylesheet is inlined only into their files and PDFs (survey/services/qr/posters.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from survey.security import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).parents[2] / "templates"
PRINTED_ONLY = {"reports/unit_report.html", "reports/_style.html"}  # WeasyPrint's, not a browser's
# `{% if css %}<style>`: the posters' stylesheet inlined only for a file or a PDF, never when served
GUARDED_STYLE = {"posters/document.html": "{% if css %}<style>{{ css }}</style>"}

REFUSED = {
    "style attribute": re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.S),
    "style element": re.compile(r"<style\b", re.I),
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I),
    "event attribute": re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S),
}


def _served_templates() -> list[Path]:
    paths = sorted(TEMPLATES.rglob("*.html"))
    assert len(paths) > 40  # the walk found the templates at all
    return [path for path in paths if path.relative_to(TEMPLATES).as_posix() not in PRINTED_ONLY]


def test_the_policy_refuses_inline_styles_and_scripts() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["style-src"] == "'self'" and directives["script-src"] == "'self'"


@pytest.mark.parametrize("what", list(REFUSED))
def test_no_served_template_carries_what_the_policy_refuses(what: str) -> None:
    found = []
    for path in _served_templates():
        name = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text(encoding="utf-8").replace(GUARDED_STYLE.get(name, "\0"), "")
        found += [f"{name}: {match.group(0)[:80]!r}" for match in REFUSED[what].finditer(text)]
    assert found == []


@pytest.mark.parametrize("html, what", [
    ('<th scope="row" style="padding-left: 1em">', "style attribute"),
    ("<td\n  style='color: red'>", "style attribute"),
    ("<style>p { color: red }</style>", "style element"),
    ("<script>alert(1)</script>", "inline script"),
    ('<button onclick="go()">', "event attribute"),
])
def test_the_patterns_find_each_refused_form(html: str, what: str) -> None:
    assert REFUSED[what].search(html)


@pytest.mark.parametrize("html", ['<script src="/static/survey.js" defer></script>', '<a class="onward">',
                                  '<th scope="row" class="tree-level-2">', "<p>style = plain text</p>"])
def test_the_patterns_leave_what_the_policy_allows(html: str) -> None:
    assert not any(pattern.search(html) for pattern in REFUSED.values())
