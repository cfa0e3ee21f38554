"""What the pages read of the unit tree (subtrees, maps of parents, names), read once per process and
kept while the tree is unchanged.

A manager's page asks for its province's subtree and map of parents, and the names of a thousand
units, on every view: 10-20 ms of queries on PostgreSQL. They change only when a unit is written, which
moves the units' revision (`models.UnitRevision`, kept by triggers on `units`, whoever writes them), and
that revision is part of `index_cache.settings_version`: a tree is kept under it, as the frames are.
Within one session the answer is read once (`session_memo`), so a session that writes reads again.
Each kept value is immutable, or copied by the caller that hands it on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from survey.services.reporting.index_cache import VersionedCache, settings_version
from survey.session_memo import remembered

T = TypeVar("T")

# Process-local: a province's subtree, map of parents and names are tens of kilobytes each.
_TREES: VersionedCache[Any] = VersionedCache(256)


def kept_tree(session: Session, key: Hashable, read: Callable[[], T]) -> T:
    """`read()` (a reading of the unit tree named by `key`) once per process while the tree, the frames and
    the targets are unchanged, and once per session's read (`session_memo`)."""
    def kept() -> T:
        address = (str(session.get_bind().engine.url), key)
        version = settings_version(session)
        found = _TREES.get(address, version)
        if found is None:
            found = read()
            _TREES.put(address, version, found)
        return cast(T, found)

    return remembered(session, ("unit_trees", key), kept)
