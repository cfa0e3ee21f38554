"""`flask users` commands: create and manage staff accounts from the server's shell.

Each command is audited with actor None (the system) and commits once at the end. Passwords never
appear on the command line (shell history, `ps`): they are prompted for, read from stdin, or
generated and printed once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from survey.auth import current_time
from survey.extensions import db
from survey.models import Role, User
from survey.services.staff import accounts, audit, staff_sessions

group = AppGroup("users", help="Create and manage staff accounts.")

ROLE = click.Choice([r.value for r in Role])


@contextmanager
def _refusal_exits() -> Iterator[None]:
    """An AccountError undoes the command's changes and exits non-zero with its message."""
    try:
        yield
    except accounts.AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error


def _user_or_fail(username: str) -> User:
    user = accounts.find_user(db.session(), username)
    if user is None:
        raise click.ClickException(f"no such user: {username}")
    return user


@group.command("create")
@click.argument("username")
@click.option("--role", type=ROLE, required=True)
@click.option("--unit", "units", multiple=True, help="Unit code of a scope (repeatable); not for admins.")
@click.option("--name", "display_name", default="", help="Full name shown in the interface.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_command(username: str, role: str, units: tuple[str, ...], display_name: str,
                   password_stdin: bool) -> None:
    """Create a staff account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _refusal_exits():
        unit_ids = [u.id for u in accounts.units_by_code(db.session(), units)]
        created = accounts.create_user(db.session(), current_app.config, actor=None, username=username,
                                       role=Role(role), unit_ids=unit_ids, display_name=display_name,
                                       password=password, now=current_time())
    db.session.commit()
    click.echo(f"Created {created.user.username} ({created.user.role.value}).")


@group.command("list")
def list_command() -> None:
    """List accounts with role, scopes and state."""
    for user in accounts.list_users(db.session()):
        codes = ",".join(sorted(s.unit.code for s in user.scopes))
        scopes = codes or ("*" if user.role == Role.ADMIN else "-")
        state = "active" if user.active else "inactive"
        totp = "2fa" if user.totp_enabled else "no-2fa"
        click.echo(f"{user.username}\t{user.role.value}\t{scopes}\t{state}\t{totp}")


@group.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE)
@click.option("--unit", "units", multiple=True,
              help="Unit code of a scope (repeatable); replaces the old ones.")
def set_role_command(username: str, role: str, units: tuple[str, ...]) -> None:
    """Change an account's role and unit scopes (its open sessions end)."""
    user = _user_or_fail(username)
    with _refusal_exits():
        unit_ids = [u.id for u in accounts.units_by_code(db.session(), units)]
        accounts.set_role(db.session(), actor=None, user=user, role=Role(role), unit_ids=unit_ids,
                          now=current_time())
    db.session.commit()
    click.echo(f"{user.username} is now {role}.")


@group.command("reset-password")
@click.argument("username")
def reset_password_command(username: str) -> None:
    """Give an account a generated password, printed once; its open sessions end."""
    user = _user_or_fail(username)
    password = accounts.reset_password(db.session(), current_app.config, actor=None, user=user,
                                       now=current_time())
    db.session.commit()
    click.echo(f"New password for {user.username} (shown once): {password}")


@group.command("prune-sessions")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Delete sessions revoked or unused for longer than this.")
def prune_sessions_command(days: int) -> None:
    """Delete long-dead staff sessions (the database otherwise keeps one row per sign-in)."""
    count = staff_sessions.prune(db.session(), now=current_time(), keep=timedelta(days=days))
    audit.record(db.session(), actor=None, action="session.prune", object_type="staff_session",
                 detail={"deleted": count, "days": days}, now=current_time())
    db.session.commit()
    click.echo(f"Deleted {count} staff session(s).")
