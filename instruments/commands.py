"""The instrument commands as plain functions returning lines: `python -m instruments` prints them,
and the web app wraps the same functions as `flask instruments ...`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from instruments.errors import InstrumentError, InvalidInstrument
from instruments.loader import validate_file
from instruments.model import Instrument, Item, ScaleItem
from instruments.registry import (
    DATA_DIR,
    LOCK_PATH,
    UnknownInstrument,
    check_published,
    content_hash,
    get_registered,
    list_instruments,
    parse_spec,
    update_lock,
)


@dataclass(frozen=True)
class CommandResult:
    """Lines to show and whether the command succeeded (exit status 0) or not (1)."""

    lines: tuple[str, ...]
    ok: bool = True

    @property
    def exit_code(self) -> int:
        """0 on success, 1 on any error."""
        return 0 if self.ok else 1


def _error_lines(errors: Sequence[InstrumentError], prefix: str = "") -> tuple[str, ...]:
    return tuple(f"{prefix}{error}" for error in errors)


def list_command(data_dir: Path = DATA_DIR) -> CommandResult:
    """One line per shipped instrument: key, status, sector, hash prefix, Vietnamese title."""
    try:
        entries = list_instruments(data_dir)
    except InvalidInstrument as exc:
        return CommandResult(_error_lines(exc.errors), ok=False)
    return CommandResult(
        tuple(
            f"{entry.key}\t{entry.instrument.status}\t{entry.instrument.sector}\t"
            f"{entry.content_hash[:12]}\t{entry.title.vi}"
            for entry in entries
        )
    )


def _item_line(item: Item, lang: str) -> str:
    kind = f"scale:{item.scale}" if isinstance(item, ScaleItem) else item.type
    flags = "".join(
        [
            " *" if item.required else "",
            f" (if {item.show_if.item} in {list(item.show_if.in_)})" if item.show_if else "",
        ]
    )
    return f"    {item.id}  [{kind}]{flags}  {item.text.get(lang)}"


def describe(instrument: Instrument, lang: str = "vi") -> tuple[str, ...]:
    """A readable summary: sections and items (``*`` = required), then the index definition."""
    lines = [
        f"{instrument.key}  {instrument.status}  {instrument.sector}",
        f"hash: {content_hash(instrument)}",
        f"title: {instrument.title.get(lang)}",
        "scales: "
        + ", ".join(
            f"{scale_id} {[level.code for level in scale.levels]} satisfied {list(scale.satisfied)}"
            + (f" n/a {scale.not_applicable.code}" if scale.not_applicable else "")
            for scale_id, scale in instrument.scales.items()
        ),
    ]
    for section in instrument.sections:
        lines.append(f"  {section.id}" + (f" — {section.title.get(lang)}" if section.title else ""))
        lines.extend(_item_line(item, lang) for item in section.items)
    criteria = sum(len(element.criteria) for element in instrument.index.elements)
    lines.append(
        f"index {instrument.index.formula}: {len(instrument.index.elements)} elements, {criteria} criteria"
    )
    for element in instrument.index.elements:
        lines.append(f"  {element.id} (weight {element.weight:g}): {', '.join(element.criteria)}")
    for entry in instrument.index.separate:
        favourable = f" favourable {list(entry.favourable)}" if entry.favourable else ""
        lines.append(f"  separate {entry.item} [{entry.group}]{favourable}")
    return tuple(lines)


def show_command(
    spec: str, data_dir: Path = DATA_DIR, *, as_json: bool = False, lang: str = "vi"
) -> CommandResult:
    """Describe ``ID[@VERSION]`` (latest published version without one), or dump its canonical JSON."""
    instrument_id, version = parse_spec(spec)
    try:
        instrument = get_registered(instrument_id, version, data_dir=data_dir).instrument
    except UnknownInstrument:
        return CommandResult((f"{spec}: no such instrument [unknown_instrument]",), ok=False)
    except InvalidInstrument as exc:
        return CommandResult(_error_lines(exc.errors), ok=False)
    if as_json:
        dump = instrument.model_dump(mode="json", by_alias=True)
        return CommandResult((json.dumps(dump, ensure_ascii=False, indent=2, sort_keys=True),))
    return CommandResult(describe(instrument, lang))


def validate_command(
    paths: Sequence[Path] = (), data_dir: Path = DATA_DIR, lock_path: Path = LOCK_PATH
) -> CommandResult:
    """Validate the given files; without files, every shipped file and the published lock."""
    if not paths:
        errors = check_published(data_dir, lock_path)
        if errors:
            return CommandResult(_error_lines(errors), ok=False)
        count = len(list(data_dir.glob("*.yaml")))
        return CommandResult((f"{count} instrument files valid; {lock_path.name} matches",))
    lines: list[str] = []
    ok = True
    for path in paths:
        errors = validate_file(path)
        ok = ok and not errors
        lines.extend(_error_lines(errors, prefix=f"{path}: ") if errors else (f"{path}: ok",))
    return CommandResult(tuple(lines), ok)


def lock_command(data_dir: Path = DATA_DIR, lock_path: Path = LOCK_PATH) -> CommandResult:
    """Add newly published versions to the lock; refuse if a published version changed."""
    update = update_lock(data_dir, lock_path)
    if update.errors:
        return CommandResult((*_error_lines(update.errors), f"{lock_path.name} not changed"), ok=False)
    if not update.added:
        return CommandResult((f"{lock_path.name} already up to date",))
    return CommandResult(tuple(f"locked {key}" for key in update.added))
