"""Vietnamese is the default language: every UI string must have a Vietnamese translation, and the
catalogues must not keep entries the code no longer uses (read with Babel's own extractor and parser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ("vi", "en")


def _extracted() -> set[str]:
    """The message ids `make messages` extracts: Babel's own extractor, with the method map of
    babel.cfg and the keywords the Makefile passes (Babel's defaults plus `_l` and `lazy_gettext`)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog(lang: str) -> Catalog:
    with open(ROOT / "survey" / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def _template() -> Catalog:
    with open(ROOT / "survey" / "translations" / "messages.pot", "rb") as handle:
        return read_po(handle)


def _ids(catalog: Catalog) -> set[str]:
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


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


@pytest.mark.parametrize("lang", CATALOGS)
def test_catalog_keeps_no_entry_the_code_no_longer_uses(lang: str) -> None:
    catalog = _catalog(lang)
    assert list(catalog.obsolete) == [], f"{lang}: remove the #~ obsolete entries"
    stale = sorted(_ids(catalog) - _extracted())
    assert stale == [], f"{lang}: msgids no source extracts any more (remove them):\n" + "\n".join(stale)


def test_template_holds_exactly_the_extracted_messages() -> None:
    template = _template()
    assert sorted(_ids(template) ^ _extracted()) == [], "messages.pot is out of step with the sources"


def test_every_catalog_entry_has_a_vietnamese_translation() -> None:
    # Beyond the extracted strings: an entry kept in the catalogue must not show English in Vietnamese.
    empty = sorted(str(m.id) for m in _catalog("vi") if m.id and not
                   (m.string[0] if isinstance(m.string, tuple) else m.string))
    assert empty == []
