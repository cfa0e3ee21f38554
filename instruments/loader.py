"""Read instrument files: YAML → structure (pydantic) → cross-references (`instruments.checks`).

Every error is collected and reported with its path (``sections[2].items[3].scale``) so that a
person editing a questionnaire fixes the whole file in one pass. Nothing here touches a database
or a web framework; the registry and the web app build on these functions.

References
----------
.. [1] PyYAML documentation, "Loading YAML" (``yaml.SafeLoader``),
   https://pyyaml.org/wiki/PyYAMLDocumentation
.. [2] Pydantic documentation, "Validation errors" and "Discriminated unions" (error ``loc``),
   https://docs.pydantic.dev/latest/errors/validation_errors/,
   https://docs.pydantic.dev/latest/concepts/unions/#discriminated-unions
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from instruments.checks import semantic_errors
from instruments.errors import InstrumentError, InvalidInstrument, format_path
from instruments.model import Instrument, ItemType

__all__ = [
    "DuplicateKeys",
    "InstrumentError",
    "InvalidInstrument",
    "UniqueKeyLoader",
    "check_mapping",
    "load_instrument",
    "parse_instrument",
    "read_instrument",
    "read_yaml",
    "validate_file",
]

_ITEM_TAGS = frozenset(get_args(ItemType))
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})


class DuplicateKeys(yaml.YAMLError):
    """Raised by `UniqueKeyLoader` with every duplicated mapping key in the document."""

    def __init__(self, errors: Sequence[InstrumentError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(error) for error in self.errors))


class UniqueKeyLoader(yaml.SafeLoader):
    """A `yaml.SafeLoader` that refuses duplicate mapping keys.

    PyYAML silently keeps the last of two equal keys, so a copy-pasted ``text:`` would replace
    wording without a trace. The check runs on the composed node tree, before construction, so
    that it can report every duplicate with its path rather than stop at the first.
    """

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        duplicates = list(_duplicate_keys(node, [], set()))
        if duplicates:
            raise DuplicateKeys(duplicates)
        return self.construct_document(node)


def _duplicate_keys(node: yaml.Node, path: list[str | int], visited: set[int]) -> Iterator[InstrumentError]:
    # Aliases make the node tree a graph (possibly cyclic): visit every node once.
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                yield InstrumentError(
                    format_path([*path, key]),
                    f"duplicate key {key!r} on line {line} (first on line {first_line[key]})",
                    "duplicate_key",
                )
            else:
                first_line[key] = line
            yield from _duplicate_keys(value_node, [*path, key], visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            yield from _duplicate_keys(child, [*path, index], visited)


def read_yaml(text: str) -> tuple[object, list[InstrumentError]]:
    """Parse YAML `text` safely; return the data, or ``None`` and the errors (syntax, duplicate keys)."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader), []  # a SafeLoader subclass: safe
    except DuplicateKeys as exc:
        return None, list(exc.errors)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return None, [InstrumentError("", f"YAML syntax error{where}: {exc.problem}", "yaml_syntax")]
    except yaml.YAMLError as exc:
        return None, [InstrumentError("", f"YAML error: {exc}", "yaml_syntax")]


def _strip_tags(loc: tuple[int | str, ...], data: object) -> list[int | str]:
    """Drop the discriminator tag pydantic inserts after each item of a tagged union.

    pydantic reports an error in the ``scale`` field of a scale item at
    ``(..., 'items', 3, 'scale', 'scale')``: the first ``'scale'`` is the union tag, not a key of
    the file. The tag is present exactly when the item's input ``type`` is a known tag, so the
    input decides, not guesswork about names.
    """
    out: list[int | str] = []
    node: object = data
    index = 0
    while index < len(loc):
        part = loc[index]
        out.append(part)
        node = _child(node, part)
        is_item = len(out) >= 2 and out[-2] == "items" and isinstance(part, int)
        if is_item and isinstance(node, dict):
            tag = node.get("type")
            if isinstance(tag, str) and tag in _ITEM_TAGS and index + 1 < len(loc) and loc[index + 1] == tag:
                index += 1
        index += 1
    return out


def _child(node: object, part: int | str) -> object:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _is_follow_on(error: ErrorDetails) -> bool:
    # When items of a tuple fail, pydantic also says the tuple is "too short after validation";
    # the input was long enough, and the real errors are reported at the items themselves.
    value = error.get("input")
    minimum = (error.get("ctx") or {}).get("min_length")
    return (
        error["type"] == "too_short"
        and isinstance(value, list | tuple)
        and isinstance(minimum, int)
        and len(value) >= minimum
    )


def structural_errors(exc: ValidationError, data: object) -> list[InstrumentError]:
    """Translate a pydantic `ValidationError` into `InstrumentError`s with file paths."""
    errors: list[InstrumentError] = []
    for error in exc.errors(include_url=False):
        if _is_follow_on(error):
            continue
        parts = _strip_tags(error["loc"], data)
        message = error["msg"]
        if error["type"] in _TAG_ERRORS:
            parts.append("type")
        if parts and parts[-1] == "[key]":
            parts.pop()
            message = f"invalid key: {message}"
        errors.append(InstrumentError(format_path(parts), message, error["type"]))
    return errors


def check_mapping(data: object) -> tuple[Instrument | None, list[InstrumentError]]:
    """Validate a decoded document: structure first, then, if it is sound, every cross-reference.

    Returns the instrument (``None`` if there is any error) and the list of errors.
    """
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as exc:
        return None, structural_errors(exc, data)
    errors = semantic_errors(instrument)
    return (None if errors else instrument), errors


def parse_instrument(mapping: object, source: str = "<mapping>") -> Instrument:
    """Validate a decoded document (e.g. from ``yaml.safe_load``) into an `Instrument`.

    Raises
    ------
    InvalidInstrument
        With every structural error, or else every cross-reference error.
    """
    instrument, errors = check_mapping(mapping)
    if instrument is None:
        raise InvalidInstrument(errors, source)
    return instrument


def _read(path: Path) -> tuple[object, list[InstrumentError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [InstrumentError("", f"not UTF-8: {exc.reason} at byte {exc.start}", "not_utf8")]
    except OSError as exc:
        return None, [InstrumentError("", f"cannot read file: {exc.strerror or exc}", "unreadable")]
    return read_yaml(text)


def read_instrument(path: str | Path) -> tuple[Instrument | None, list[InstrumentError]]:
    """Read and validate the file at `path`: the instrument (``None`` on any error) and the errors."""
    data, errors = _read(Path(path))
    if errors:
        return None, errors
    return check_mapping(data)


def validate_file(path: str | Path) -> list[InstrumentError]:
    """Return every error in the instrument file at `path` (empty if it is valid)."""
    return read_instrument(path)[1]


def load_instrument(path: str | Path) -> Instrument:
    """Load and validate the instrument file at `path`.

    Raises
    ------
    InvalidInstrument
        If the file cannot be read or parsed, or does not validate; `errors` lists every problem.
    """
    instrument, errors = read_instrument(path)
    if instrument is None:
        raise InvalidInstrument(errors, str(path))
    return instrument
