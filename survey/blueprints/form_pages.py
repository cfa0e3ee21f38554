"""The empty survey form, rendered once per variant and filled in per request.

Rendering the form is most of a citizen's GET (a SIPAS page has ~170 options written by Jinja
macros), yet an empty form differs between two requests only in a few values: the form's nonce,
the CSRF token, the counter's names and the URLs that carry the QR token or the tablet's token.
So the page is rendered once with a marker in place of each of those values ("slots"), kept split
at the markers, and each request joins the pieces with its own values, escaped exactly as the
template escapes them (`markupsafe.escape`: every slot sits in `{{ }}` or a WTForms attribute).

What decides the rest of the page is the cache key, `FormPageKey`: the instrument version and its
content hash, the language, kiosk mode, whether the tablet is registered (offline scripts), whether
the counter asks for a receipt number, and the script root of the static URLs. Invalidation: none
is needed. A published instrument version is immutable (instruments/published.json); a draft that
changes gets a new content hash, hence a new key. The cache lives in the app (`app.extensions`), so
configuration read by the template (kiosk timings) is the app's own; it is bounded by `MAX_PAGES`.

Only the empty form is cached: a form given back with errors or kept answers is rendered in full.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from threading import Lock
from typing import Any

from flask import Flask
from markupsafe import escape

EXTENSION = "survey_form_pages"
MAX_PAGES = 256  # variants: instruments in use x 2 languages x 2-4 modes; a bound, not a tuning knob
_SLOT_NAME = re.compile(r"[a-z0-9_]+")
# The form page's context entries that differ between two requests for the same page (the QR token,
# and the URLs that carry it or the tablet's token): each string in them is a slot.
PER_REQUEST_CONTEXT = ("token", "action", "language_actions", "kiosk_fresh_url", "kiosk_offline")


@dataclass(frozen=True)
class FormPageKey:
    """Everything but the slots that decides an empty form's page."""

    instrument_key: str
    content_hash: str
    language: str
    kiosk: bool
    registered_tablet: bool
    receipt_required: bool
    script_root: str


class Slots:
    """Markers that stand for per-request values in the page rendered for the cache.

    The marker is letters, digits and hyphens, so escaping leaves it unchanged, and carries a
    random part, so no instrument wording can contain it by chance.
    """

    def __init__(self) -> None:
        self.prefix = f"slot{secrets.token_hex(8)}"
        self.pattern = re.compile(re.escape(self.prefix) + r"-([a-z0-9_]+)-")

    def mark(self, name: str) -> str:
        if not _SLOT_NAME.fullmatch(name):
            raise ValueError(f"slot name {name!r}: lower-case letters, digits and _ only")
        return f"{self.prefix}-{name}-"


@dataclass(frozen=True)
class FormPage:
    """A rendered page split at its slots: text, slot name, text, slot name, ..., text."""

    pieces: tuple[str, ...]
    slot_names: frozenset[str]

    @classmethod
    def split(cls, rendered: str, slots: Slots) -> FormPage:
        pieces = tuple(slots.pattern.split(rendered))  # odd positions hold the captured slot names
        return cls(pieces, frozenset(pieces[1::2]))

    def fill(self, values: Mapping[str, Callable[[], str]]) -> str:
        """The page with each slot's value (computed once, only for slots the page has), escaped."""
        missing = self.slot_names - values.keys()
        if missing:
            raise KeyError(f"no value for the form page's slots {sorted(missing)}")
        filled = {name: str(escape(values[name]())) for name in self.slot_names}
        return "".join(filled[piece] if index % 2 else piece for index, piece in enumerate(self.pieces))


class FormPages:
    """The app's empty-form pages by `FormPageKey`, least recently used dropped beyond `MAX_PAGES`."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[FormPageKey, FormPage] = OrderedDict()
        self._lock = Lock()

    def get(self, key: FormPageKey, render: Callable[[Slots], str]) -> FormPage:
        """The page for `key`, rendering it with `render` (given the markers to use) the first time."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        slots = Slots()
        page = FormPage.split(render(slots), slots)  # outside the lock: a twin render is harmless
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
        return page

    def __len__(self) -> int:
        return len(self._pages)


def _slot_names(context: Mapping[str, Any]) -> dict[str, Any]:
    """The slot name of each string in the per-request entries of `context`, in the same shape."""
    names: dict[str, Any] = {}
    for name in PER_REQUEST_CONTEXT:
        value = context.get(name)
        if isinstance(value, dict):
            names[name] = {inner: f"{name}_{index}" for index, inner in enumerate(value)}
        elif value is not None:
            names[name] = name
    return names


def marked_context(context: Mapping[str, Any], slots: Slots) -> dict[str, Any]:
    """`context` with a marker in place of each per-request string."""
    marked = {name: ({inner: slots.mark(slot) for inner, slot in shape.items()}
                     if isinstance(shape, dict) else slots.mark(shape))
              for name, shape in _slot_names(context).items()}
    return {**context, **marked}


def context_slot_values(context: Mapping[str, Any]) -> dict[str, Callable[[], str]]:
    """The value of each slot `marked_context` makes, from this request's `context`."""
    values: dict[str, Callable[[], str]] = {}
    for name, shape in _slot_names(context).items():
        if isinstance(shape, dict):
            values.update({slot: _constant(context[name][inner]) for inner, slot in shape.items()})
        else:
            values[shape] = _constant(context[name])
    return values


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


class CounterSlots:
    """The counter as the cached page is rendered with: its unit's name and its own are slots."""

    def __init__(self, slots: Slots) -> None:
        self.unit = _NamedSlot(slots.mark("unit_name"))
        self._name = slots.mark("counter_name")

    def name(self, lang: str) -> str:
        return self._name


class _NamedSlot:
    def __init__(self, marker: str) -> None:
        self._marker = marker

    def name(self, lang: str) -> str:
        return self._marker


def form_pages(app: Flask) -> FormPages:
    """The one cache of empty-form pages of `app`."""
    pages = app.extensions.get(EXTENSION)
    if pages is None:
        pages = app.extensions[EXTENSION] = FormPages()
    assert isinstance(pages, FormPages)
    return pages
