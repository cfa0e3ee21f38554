"""Validation errors of instrument files, each with the path of the offending value.

Kept apart from the loader so that the structural (`instruments.loader`) and cross-reference
(`instruments.checks`) halves of validation report in one shape without importing each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class InstrumentError:
    """One problem in an instrument file.

    Attributes
    ----------
    path : str
        Where the problem is, e.g. ``sections[2].items[3].scale``; empty for the whole document.
    message : str
        What is wrong, for a person editing the file.
    code : str
        A stable snake_case code for tests and tools: pydantic's error type for structural errors
        (``missing``, ``extra_forbidden``...), this package's own codes for the rest (see
        ``docs/instruments.md``).
    """

    path: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.message} [{self.code}]"


class InvalidInstrument(ValueError):
    """An instrument file or mapping that does not validate; `errors` lists every problem found."""

    def __init__(self, errors: Sequence[InstrumentError], source: str = "<mapping>") -> None:
        self.errors: tuple[InstrumentError, ...] = tuple(errors)
        self.source = source
        count = len(self.errors)
        first = f": {self.errors[0]}" if self.errors else ""
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{source}: invalid instrument{first}{more}")


def format_path(parts: Iterable[str | int]) -> str:
    """Join location parts into ``sections[2].items[3].scale``.

    Integers become indices; keys that are not plain words are quoted, e.g. ``scales["my scale"]``.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out
