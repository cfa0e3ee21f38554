"""Logs without client addresses: a logging filter that removes every IP address from a record.

Gunicorn's error log writes the peer's address ("Invalid request from ip=…"), and any library may log
one. The survey promises that no address is recorded with a response, so none may sit in a log either
(docs/integrity.md, "Logs"). The filter formats the message, replaces each IPv4 or IPv6 address with
`[address]`, and installs the result as the record's message; deploy/gunicorn.conf.py puts it on every
gunicorn and application handler. Candidates are checked with `ipaddress`, so times such as 12:30:45
and version numbers are left alone.
"""

from __future__ import annotations

import ipaddress
import logging
import re

REDACTED = "[address]"
_TRACEBACKS = logging.Formatter()
# Loose candidates, each confirmed by ipaddress: dotted quads, and runs of hex groups and colons
# (with an optional embedded dotted quad, ::ffff:192.0.2.1) that may be IPv6.
_CANDIDATE = re.compile(r"(?<![\w.:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
                        r"(?:%\w+)?(?![\w:]|\.\d)|(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")


def _redact(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    return REDACTED


def scrub_addresses(text: str) -> str:
    """`text` with every IP address replaced by `[address]`."""
    return _CANDIDATE.sub(_redact, text)


class AddressScrubber(logging.Filter):
    """Replace IP addresses in a record's message (and its arguments, once formatted)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler's own error path
            return True
        record.msg = scrub_addresses(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatted here, not by the handler's formatter, so that the traceback is scrubbed too
            # (formatters reuse exc_text once it is set).
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_addresses(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_addresses(record.stack_info)
        return True
