"""The shipped instruments (`instruments/data/*.yaml`), their content hashes and the published lock.

Responses store the instrument's `id@version` and `content_hash`, so that anyone can prove later
that the wording a respondent saw is the wording now on file. Published versions are therefore
immutable: `published.json` maps each published `id@version` to its hash and `check_published`
reports any drift. Instruments are read on every survey request, so loading is cached per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from instruments.errors import InstrumentError, InvalidInstrument
from instruments.loader import read_instrument
from instruments.model import Instrument, Text

DATA_DIR = Path(__file__).with_name("data")
LOCK_PATH = Path(__file__).with_name("published.json")


class UnknownInstrument(KeyError):
    """No shipped instrument has the requested id (and version)."""


@dataclass(frozen=True)
class RegisteredInstrument:
    """A validated instrument file in the data directory, with its content hash."""

    instrument: Instrument
    path: Path
    content_hash: str

    @property
    def key(self) -> str:
        """`id@version`."""
        return self.instrument.key

    @property
    def title(self) -> Text:
        """The instrument's title."""
        return self.instrument.title


@dataclass(frozen=True)
class LockUpdate:
    """What `update_lock` did: the keys it added, or the errors that stopped it (then nothing is written)."""

    added: tuple[str, ...]
    errors: tuple[InstrumentError, ...]


def content_hash(instrument: Instrument) -> str:
    """SHA-256 (hex) of the instrument's canonical JSON.

    Canonical = the validated model dumped with aliases (``show_if.in``) and defaults filled in,
    keys sorted, no insignificant white space, UTF-8. Comments, key order, quoting and YAML anchors
    do not change the hash; any change of wording, codes, structure or status does. A new model
    field with a default also changes every hash, as it should: the effective instrument changed.

    References
    ----------
    .. [1] NIST FIPS 180-4, Secure Hash Standard (SHA-256), 2015.
    .. [2] RFC 8785, JSON Canonicalization Scheme. The form here is simpler (sorted keys, compact
       separators, no float re-serialisation), which suffices because the same code always writes it.
    """
    canonical = json.dumps(
        instrument.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a `YYYY.N` version, so that 2025.10 comes after 2025.9."""
    return tuple(int(part) for part in version.split("."))


def _scan(data_dir: Path) -> tuple[dict[str, RegisteredInstrument], list[InstrumentError]]:
    """Validate every `*.yaml` in `data_dir`; errors carry the file name in front of their path."""
    found: dict[str, RegisteredInstrument] = {}
    errors: list[InstrumentError] = []
    for path in sorted(data_dir.glob("*.yaml")):
        instrument, file_errors = read_instrument(path)
        if instrument is None:
            errors.extend(
                InstrumentError(
                    f"{path.name}:{error.path}" if error.path else path.name, error.message, error.code
                )
                for error in file_errors
            )
            continue
        if instrument.key in found:
            errors.append(
                InstrumentError(
                    path.name,
                    f"{instrument.key} is also defined in {found[instrument.key].path.name}",
                    "duplicate_instrument",
                )
            )
            continue
        found[instrument.key] = RegisteredInstrument(instrument, path, content_hash(instrument))
    return found, errors


@functools.cache
def _catalogue(data_dir: Path) -> Mapping[str, RegisteredInstrument]:
    found, errors = _scan(data_dir)
    if errors:
        raise InvalidInstrument(errors, str(data_dir))
    return MappingProxyType(found)


def clear_cache() -> None:
    """Forget loaded instruments (after files changed, e.g. in tests or a long-running shell)."""
    _catalogue.cache_clear()


def list_instruments(data_dir: Path = DATA_DIR) -> tuple[RegisteredInstrument, ...]:
    """Every instrument in `data_dir`, by id then version.

    Raises
    ------
    InvalidInstrument
        If any file does not validate: shipped data must all be valid.
    """
    entries = _catalogue(data_dir).values()
    return tuple(sorted(entries, key=lambda e: (e.instrument.id, version_key(e.instrument.version))))


def get_registered(
    instrument_id: str, version: str | None = None, *, data_dir: Path = DATA_DIR
) -> RegisteredInstrument:
    """The instrument `instrument_id` at `version`, or else its latest published version.

    Without a version, drafts are chosen only when the id has no published version at all, so a
    draft dropped into the data directory never replaces the wording being served.

    Raises
    ------
    UnknownInstrument
        If there is no such instrument or version.
    """
    catalogue = _catalogue(data_dir)
    if version is not None:
        try:
            return catalogue[f"{instrument_id}@{version}"]
        except KeyError:
            raise UnknownInstrument(f"{instrument_id}@{version}") from None
    candidates = [entry for entry in catalogue.values() if entry.instrument.id == instrument_id]
    if not candidates:
        raise UnknownInstrument(instrument_id)
    published = [entry for entry in candidates if entry.instrument.status == "published"]
    return max(published or candidates, key=lambda e: version_key(e.instrument.version))


def get_instrument(
    instrument_id: str, version: str | None = None, *, data_dir: Path = DATA_DIR
) -> Instrument:
    """The validated instrument `instrument_id` (see `get_registered` for how a version is chosen)."""
    return get_registered(instrument_id, version, data_dir=data_dir).instrument


def read_lock(lock_path: Path = LOCK_PATH) -> tuple[dict[str, str], list[InstrumentError]]:
    """Read `published.json`; a missing file is an empty lock."""
    if not lock_path.exists():
        return {}, []
    try:
        data = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, [InstrumentError(lock_path.name, f"unreadable lock file: {exc}", "bad_lock")]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return {}, [InstrumentError(lock_path.name, "the lock must map 'id@version' to a hash", "bad_lock")]
    return data, []


def check_published(data_dir: Path = DATA_DIR, lock_path: Path = LOCK_PATH) -> list[InstrumentError]:
    """Every violation of published-version immutability, read fresh from disk (never from the cache).

    Reported: files that do not validate (``invalid_file`` and their errors), locked versions whose
    hash changed (``hash_changed``, a status change included) or whose file is gone
    (``missing_published``), and published files absent from the lock (``not_locked``).
    """
    found, errors = _scan(data_dir)
    lock, lock_errors = read_lock(lock_path)
    errors.extend(lock_errors)
    invalid_files = {error.path.split(":")[0] for error in errors}
    for key, locked_hash in sorted(lock.items()):
        entry = found.get(key)
        if entry is None:
            if not invalid_files:  # an invalid file may be the one that holds this version
                errors.append(
                    InstrumentError(key, "published version has no file any more", "missing_published")
                )
        elif entry.content_hash != locked_hash:
            errors.append(
                InstrumentError(
                    key,
                    f"{entry.path.name} changed after publication; copy it to a new version instead",
                    "hash_changed",
                )
            )
    for key, entry in sorted(found.items()):
        if entry.instrument.status == "published" and key not in lock:
            errors.append(
                InstrumentError(
                    key, f"{entry.path.name} is published but not in {lock_path.name}", "not_locked"
                )
            )
    return errors


def update_lock(data_dir: Path = DATA_DIR, lock_path: Path = LOCK_PATH) -> LockUpdate:
    """Add every published, not yet locked version to the lock; never change or drop an entry.

    Refuses (writes nothing) if any other violation exists: a lock that could be rewritten on demand
    would prove nothing.
    """
    violations = check_published(data_dir, lock_path)
    blocking = tuple(error for error in violations if error.code != "not_locked")
    if blocking:
        return LockUpdate((), blocking)
    found, _ = _scan(data_dir)
    lock, _ = read_lock(lock_path)
    added = tuple(error.path for error in violations)
    for key in added:
        lock[key] = found[key].content_hash
    if added:
        lock_path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return LockUpdate(added, ())


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``ID[@VERSION]``."""
    instrument_id, _, version = spec.partition("@")
    return instrument_id, version or None


__all__ = [
    "DATA_DIR",
    "LOCK_PATH",
    "LockUpdate",
    "RegisteredInstrument",
    "UnknownInstrument",
    "check_published",
    "clear_cache",
    "content_hash",
    "get_instrument",
    "get_registered",
    "list_instruments",
    "parse_spec",
    "read_lock",
    "update_lock",
    "version_key",
]
