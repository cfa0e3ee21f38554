"""Where the app's own files are: inside the installed package, or at the top of a checkout.

`templates/` and `migrations/` are edited at the top of the repository; building a wheel copies them into
the `survey` package (setup.py), since an installed package has no checkout around it.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def app_dir(name: str) -> Path:
    """The copy shipped in the package if there is one, else the checkout's top-level directory."""
    bundled = PACKAGE_DIR / name
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / name
