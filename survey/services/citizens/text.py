"""Free text as citizens type it on phones: one canonical form before it is checked and stored.

Invisible format characters (zero-width, bidi controls, BOM) are removed: they carry no meaning in a
comment and are a known way to smuggle text past filters. The rest is NFC-normalised, so that a
Vietnamese word typed with combining marks (NFD, as some keyboards send it) is stored, counted and
searched like the same word typed precomposed (docs/bad-input.md rows 16-18).
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

# U+200B-U+200F zero-width and directional marks, U+202A-U+202E bidi embeddings/overrides,
# U+2060 word joiner, U+2066-U+2069 bidi isolates, U+FEFF byte-order mark / zero-width no-break space.
INVISIBLE = frozenset(
    [*map(chr, range(0x200B, 0x2010)), *map(chr, range(0x202A, 0x202F)), "\u2060",
     *map(chr, range(0x2066, 0x206A)), "\ufeff"]
)
_REMOVE_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE))
# Tab and line breaks belong in a comment; every other C0 control, DEL and the C1 controls do not.
_ALLOWED_CONTROLS = frozenset("\t\n")


class TextProblem(StrEnum):
    """Why a typed text is refused, as the stable error code the citizen's page and the API show."""

    CONTROL_CHAR = "E-CONTROL-CHAR"
    TOO_LONG = "E-TOO-LONG"


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 0x20 or 0x7F <= code < 0xA0) and char not in _ALLOWED_CONTROLS


def clean_text(raw: str, max_length: int) -> str | TextProblem:
    """Canonicalise `raw`: drop invisible characters, NFC, CRLF -> LF, strip; then check it.

    Returns the canonical text, or the problem that makes it unacceptable.

    Invisible characters go first so that a zero-width space between a letter and its combining
    mark cannot stop NFC from composing them. Length is counted in code points after NFC.
    """
    text = raw.translate(_REMOVE_INVISIBLE)
    text = unicodedata.normalize("NFC", text)
    # Browsers send textarea line breaks as CRLF (HTML standard); a lone CR is an old Mac line break.
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(_is_control(char) for char in text):
        return TextProblem.CONTROL_CHAR
    if len(text) > max_length:
        return TextProblem.TOO_LONG
    return text
