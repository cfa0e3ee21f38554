"""Outgoing e-mail over SMTP with the standard library (`smtplib`, `email`): a few lines need no
dependency.

Settings (`MAIL_*` in survey/config.py) are checked before anything is rendered, so a job with a
missing host fails at once with the setting's name. One connection serves a whole job run.
Failures come in two kinds, because a job treats them differently:

- `MailUnavailable`: the server cannot be reached, refuses TLS or the login, or drops the connection.
  Nothing more can be sent in this run.
- `MailRefused`: the server refused one message (a recipient, the sender, the data), with its reply.
  The next message may still go through.

TLS is never silently dropped: with "starttls" a server that does not offer STARTTLS is a
`MailUnavailable`, and a password is only ever sent in clear to a relay on a loopback address.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

SECURITY_MODES = ("starttls", "ssl", "none")


class MailConfigError(ValueError):
    """A `MAIL_*` setting is missing or wrong; the message names it."""


class MailUnavailable(RuntimeError):
    """The SMTP server cannot take messages now; the message names the server and the cause."""


class MailRefused(RuntimeError):
    """The server refused one message; the message gives its reply."""


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    security: str
    user: str
    password: str
    timeout: float
    sender: str

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        """The settings, checked; raises MailConfigError naming the first wrong one."""
        host = str(config.get("MAIL_SMTP_HOST") or "").strip()
        if not host:
            raise MailConfigError("MAIL_SMTP_HOST is not set: configure the SMTP server to send reports")
        sender = str(config.get("MAIL_FROM") or "").strip()
        if "@" not in sender or any(ch in sender for ch in "\r\n"):
            raise MailConfigError("MAIL_FROM must be a sender address, "
                                  "e.g. 'Hài Lòng <baocao@example.gov.vn>'")
        security = str(config.get("MAIL_SMTP_SECURITY") or "").strip().lower()
        if security not in SECURITY_MODES:
            raise MailConfigError(f"MAIL_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, "
                                  f"not {security!r}")
        try:
            port = int(config.get("MAIL_SMTP_PORT") or 0)
            timeout = float(config.get("MAIL_SMTP_TIMEOUT") or 30)
        except (TypeError, ValueError):
            raise MailConfigError("MAIL_SMTP_PORT and MAIL_SMTP_TIMEOUT must be numbers") from None
        if not 0 < port < 65536:
            raise MailConfigError(f"MAIL_SMTP_PORT must lie between 1 and 65535, not {port}")
        user = str(config.get("MAIL_SMTP_USER") or "")
        if user and security == "none" and not _loopback(host):
            raise MailConfigError("MAIL_SMTP_USER with MAIL_SMTP_SECURITY 'none' would send the password "
                                  f"in clear to {host}: use 'starttls' or 'ssl'")
        return cls(host, port, security, user, str(config.get("MAIL_SMTP_PASSWORD") or ""), timeout, sender)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def smtp_connection(settings: MailSettings) -> Iterator[smtplib.SMTP]:
    """An open, secured and (if a user is set) logged-in connection; closed politely at the end."""
    try:
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    except (OSError, smtplib.SMTPException) as error:
        raise MailUnavailable(f"SMTP server {settings.server} unreachable: {error}") from error
    try:
        try:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password)
        except (OSError, smtplib.SMTPException) as error:
            raise MailUnavailable(f"SMTP server {settings.server} refused the session: {error}") from error
        yield smtp
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def send(smtp: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message; raises MailRefused (this message) or MailUnavailable (the connection)."""
    try:
        refused = smtp.send_message(message)
    except smtplib.SMTPServerDisconnected as error:
        raise MailUnavailable(f"SMTP server closed the connection: {error}") from error
    except smtplib.SMTPRecipientsRefused as error:
        replies = "; ".join(f"{address}: {code} {_text(reply)}"
                            for address, (code, reply) in error.recipients.items())
        raise MailRefused(f"recipient refused ({replies})") from error
    except smtplib.SMTPResponseException as error:
        raise MailRefused(f"message refused: {error.smtp_code} {_text(error.smtp_error)}") from error
    except (OSError, smtplib.SMTPException) as error:
        raise MailUnavailable(f"SMTP connection failed: {error}") from error
    if refused:  # some recipients of several refused: a report has one, so this is a refusal
        raise MailRefused(f"recipient refused ({', '.join(refused)})")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
