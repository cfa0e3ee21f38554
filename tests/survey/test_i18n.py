"""Vietnamese is the default language: every UI string must have a Vietnamese translation, and the
catalog must not keep entries the code no longer uses."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHOD_MAP = [("survey/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _extracted() -> set[str]:
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with open(ROOT / "survey" / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def test_every_ui_string_has_a_vietnamese_translation() -> None:
    catalog = _catalog("vi")

    def translated(msgid: object) -> bool:
        message = catalog.get(msgid)
        if message is None:
            return False
        # Plural entries carry a tuple of forms; the first must be filled.
        text = message.string[0] if isinstance(message.string, tuple) else message.string
        return bool(text)

    untranslated = sorted(msgid for msgid in _extracted() if not translated(msgid))
    assert untranslated == [], "run `make messages` and translate:\n" + "\n".join(untranslated)


def test_catalog_has_no_fuzzy_entries() -> None:
    fuzzy = [m.id for m in _catalog("vi") if m.id and m.fuzzy]
    assert fuzzy == []
