"""Build hook: the wheel carries everything the web app reads from disk.

Metadata and dependencies are declared in setup.cfg. In a checkout the app reads `templates/` and
`migrations/` at the top of the repository (where they are edited) and the catalogues compiled by
`make translations`. A wheel has no checkout around it, so building one copies both directories into
the `survey` package and compiles the translation catalogues (.po -> .mo; the .mo files are build
products and never committed). `survey.resources` finds the copies when they are there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED_DIRS = ("templates", "migrations")  # top-level directories copied into the survey package
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


class BuildWithAppFiles(build_py):
    """`build_py` plus templates, migrations and compiled catalogues under `survey/`."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install runs from the checkout, which has them all already
        package = Path(self.build_lib) / "survey"
        for name in BUNDLED_DIRS:
            target = package / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=IGNORED)
        compile_catalogues(ROOT / "survey" / "translations", package / "translations")


def compile_catalogues(source: Path, target: Path) -> None:
    """Compile every `<lang>/LC_MESSAGES/messages.po` to a .mo, leaving out fuzzy entries (as pybabel)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po.parts[-3])
        with mo.open("wb") as mo_file:
            write_mo(mo_file, catalogue)


setup(cmdclass={"build_py": BuildWithAppFiles})
