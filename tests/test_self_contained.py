"""The repository stands on its own: nothing tracked points at a document or path outside it.

Background notes once lived beside the repository; code, comments, docs and tests cited them, and a
fresh clone could not follow a single one of those references. What the project needs from them is in
docs/ (sipas-method.md, bad-input.md); this test keeps it that way, and also checks that every relative
link in the Markdown files reaches a file that exists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

OUTSIDE = re.compile(
    r"\.\./shared"  # the sibling folder of background notes
    r"|/work/"  # the machine the project was written on
    r"|/home/[a-z_]|/Users/[A-Za-z]"  # anyone's home directory
    r"|\breliability\.md\b|(?<![\w-])sipas\.md\b|\bdomain/sipas\b|\bdesign/architecture\.md\b"
)
MARKDOWN_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")
SKIPPED_DIRS = {".git", ".venv", ".venv-core", "build", "dist", "instance", "node_modules"}


def tracked_files() -> list[str]:
    try:
        # Tracked files and new ones not yet added, so a reference is caught before it is committed.
        listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                 cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (an unpacked sdist): every file below the root that is not a build product.
        return sorted(path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*")
                      if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
                      and ".egg-info" not in path.as_posix())
    return sorted(name for name in listing.stdout.decode().split("\0") if name)


def text_of(name: str) -> str | None:
    try:
        return (ROOT / name).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None  # binary (screenshots, fonts) or deleted in the work tree


def test_the_file_list_is_the_repository() -> None:
    names = tracked_files()
    # Guards the two tests below against passing on an empty or wrong list.
    assert {"README.md", "setup.cfg", "docs/sipas-method.md", "docs/bad-input.md", THIS_FILE} <= set(names)


def test_nothing_tracked_refers_outside_the_repository() -> None:
    found = []
    for name in tracked_files():
        if name == THIS_FILE:
            continue
        text = text_of(name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == [], "references outside the repository (write into docs/ instead):\n" + "\n".join(found)


# The old references, assembled from parts so that no tracked line names them, this file included.
OLD_NOTES, OLD_MACHINE = "../" + "shared", "/" + "work"
OLD_RELIABILITY, OLD_SIPAS = "reliability" + ".md", "sipas" + ".md"


@pytest.mark.parametrize("line", [
    f"see {OLD_NOTES}/design/{OLD_RELIABILITY} row 3",
    f"{OLD_MACHINE}/shared/domain/{OLD_SIPAS}, sections 3-4",
    f"({OLD_SIPAS} §6)",
    f"({OLD_RELIABILITY}, pitfalls)",
    "open /home/dev/notes.txt",
])
def test_the_pattern_catches_the_old_references(line: str) -> None:
    assert OUTSIDE.search(line)


@pytest.mark.parametrize("line", [
    "docs/sipas-method.md §6", "docs/bad-input.md row 22", "docs/architecture.md", "https://example.org/work"])
def test_the_pattern_lets_the_repository_own_documents_through(line: str) -> None:
    assert not OUTSIDE.search(line)


def test_every_relative_markdown_link_reaches_a_file() -> None:
    broken = []
    for name in tracked_files():
        if not name.endswith(".md"):
            continue
        text = text_of(name)
        if text is None:
            continue
        for target in MARKDOWN_LINK.findall(text):
            path = target.split("#", 1)[0]
            if path and not (ROOT / name).parent.joinpath(path).exists():
                broken.append(f"{name}: {target}")
    assert broken == []
