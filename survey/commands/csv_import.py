"""What `flask frames import` and `flask units import` share: a refused file lists every error and exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask_babel import force_locale

from survey.extensions import db
from survey.services.weighting.frames import FramesRefused


@contextmanager
def all_or_nothing(refusal: type[FramesRefused]) -> Iterator[None]:
    """Run an import in the default locale; if it raises `refusal`, undo it, echo each error to stderr
    and exit non-zero. Only `refusal` is caught: another exception is a bug and must stay loud."""
    # No request here to choose a language: the row errors are worded in the site's default one.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            yield
        except refusal as refused:
            db.session.rollback()
            for error in refused.errors:
                click.echo(error.describe(), err=True)
            raise click.ClickException(f"{len(refused.errors)} error(s); nothing was imported") from None
