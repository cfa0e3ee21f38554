"""A real SMTP server on 127.0.0.1 for the mail tests, built on the standard library's socketserver.

It speaks the part of RFC 5321 that smtplib uses (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA with
dot-unstuffing, RSET, NOOP, QUIT) and keeps what it accepted, so a test reads the message exactly as a
mail server received it. (`smtpd` left the standard library in Python 3.12; aiosmtpd would be a new
dependency for a test only.)
"""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    data: bytes

    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=policy.default))


@dataclass
class Mailbox:
    """What the server accepted, and how it behaves."""

    refuse: frozenset[str] = frozenset()  # recipients answered 550
    credentials: tuple[str, str] | None = None  # when set: AUTH PLAIN required, with these
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _address(argument: str) -> str:
    """`FROM:<a@b> SIZE=12` -> `a@b`."""
    return argument.partition("<")[2].partition(">")[0]


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        box = self.server.mailbox
        sender, recipients, authenticated = "", [], box.credentials is None
        self.reply("220 localhost test SMTP")
        while line := self.rfile.readline():
            verb, _, argument = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                if box.credentials is not None:
                    self.reply("250-AUTH PLAIN")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "AUTH":
                mechanism, _, initial = argument.partition(" ")
                _authzid, user, password = base64.b64decode(initial).decode("utf-8").split("\0")
                box.logins.append((user, password))
                authenticated = mechanism.upper() == "PLAIN" and (user, password) == box.credentials
                self.reply("235 2.7.0 accepted" if authenticated else "535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if not authenticated:
                    self.reply("530 5.7.0 authentication required")
                    continue
                sender, recipients = _address(argument), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = _address(argument)
                if address in box.refuse:
                    self.reply("550 5.1.1 no such mailbox")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                with box.lock:
                    box.received.append(Received(sender, tuple(recipients), b"".join(lines)))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                sender, recipients = ("", []) if verb == "RSET" else (sender, recipients)
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.mailbox = mailbox


@contextmanager
def smtp_server(mailbox: Mailbox | None = None) -> Iterator[tuple[int, Mailbox]]:
    """Serve SMTP on a free port of 127.0.0.1 while the block runs: yields (port, mailbox)."""
    box = mailbox or Mailbox()
    server = _Server(box)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
