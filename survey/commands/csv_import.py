"""What `flask frames import` and `flask units import` share: a refused file lists every error and exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from survey.extensions import db
from survey.services.weighting.frames import FramesRefused

# No request here to choose a language: the messages are in the site's default one unless asked.
LANG_OPTION = click.option("--lang", type=click.Choice(["vi", "en"]), default=None,
                           help="Language of the error messages (default: the site's, BABEL_DEFAULT_LOCALE).")


@contextmanager
def all_or_nothing(refusal: type[FramesRefused], path: Path, lang: str | None = None) -> Iterator[None]:
    """Run an import of `path` in `lang`; if it raises `refusal`, undo it, echo each error to stderr
    after the file's name (row and value are in the error) and exit non-zero. Only `refusal` is
    caught: another exception is a bug and must stay loud."""
    with force_locale(lang or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            yield
        except refusal as refused:
            db.session.rollback()
            for error in refused.errors:
                click.echo(f"{path}: {error.describe()}", err=True)
            raise click.ClickException(_("%(file)s: %(n)d error(s); nothing was imported.", file=str(path),
                                         n=len(refused.errors))) from None
