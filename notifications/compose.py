"""Turn one outbox row into the email that goes on the wire.

The headers show the occasion's whole To and Cc, but the envelope goes only to the
row's own recipient: each recipient gets their own copy, in their language. Nothing
from the row reaches a header unchecked: CR and LF are removed from every value, and an
address that is malformed (or tries to smuggle a line break) is refused with
:class:`MalformedMessage`, which the dispatcher parks as dead instead of retrying.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from email import quoprimime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any, Protocol

from config import Settings


class MalformedMessage(ValueError):
    """The row cannot become a valid email; retrying will not help."""

    def __init__(self, what: str, value: str, why: str) -> None:
        self.what = what
        self.value = value
        super().__init__(
            f"{what} {value!r} is not a valid email address ({why}); "
            "fix the address in the directory, then retry the message"
        )


class _RawHeaders(EmailPolicy):
    """The default policy, except that headers stored pre-encoded (``set_raw``) are read
    back as the plain strings they are. The standard policy parses every header again
    each time it is read, even when flattening, which made writing a message cost more
    than sending it."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        return value


#: The policy of composed messages: CRLF, 7-bit headers (RFC 2047), lines within 78.
POLICY = _RawHeaders(linesep="\r\n")


class Mail(Protocol):
    """What compose needs from an outbox row (``OutboxMessage`` has all of it)."""

    @property
    def recipient(self) -> str: ...
    @property
    def to_addrs(self) -> list[str]: ...
    @property
    def cc_addrs(self) -> list[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...


def header_value(value: str) -> str:
    """``value`` with every CR and LF (and other line breaks) folded into one space."""
    return " ".join(value.splitlines()).strip()


def check_address(value: str, what: str = "address") -> str:
    """A bare ``local@domain`` address, or :class:`MalformedMessage`."""
    try:
        return _addr_spec(value)
    except ValueError as exc:
        raise MalformedMessage(what, value, str(exc)) from exc


@lru_cache(maxsize=4096)
def _addr_spec(value: str) -> str:
    """The checked address, or ValueError saying why not. Cached: the sender and the
    To and Cc of an occasion come back with every copy, and parsing an address is most
    of what composing a message costs (a refusal is not cached: it raises)."""
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("it contains a line break")
    address = value.strip()
    if not address or any(ch.isspace() for ch in address) or any(c in address for c in ",;<>"):
        raise ValueError("expected one address such as name@example.org")
    try:
        parsed = Address(addr_spec=address)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise ValueError(str(exc) or "unparseable") from exc
    if not parsed.username or not parsed.domain:
        raise ValueError("expected name@domain")
    return parsed.addr_spec


@lru_cache(maxsize=1024)
def _encoded(value: str, name: str) -> str:
    """``value`` folded within 78 columns; RFC 2047 encoded words when not ASCII.
    Cached: the copies of an occasion share their subject and language."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, maxlinelen=78, header_name=name).encode()


def _part(text: str, subtype: str) -> EmailMessage:
    """One UTF-8 body part, quoted-printable: it passes any server and stays readable."""
    part = EmailMessage(policy=POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", "quoted-printable")
    raw = text.replace("\r\n", "\n").encode("utf-8").decode("latin-1")  # bytes as code points
    part.set_payload(quoprimime.body_encode(raw, 76))
    return part


def compose(row: Mail, settings: Settings, now: datetime) -> EmailMessage:
    """The complete message for ``row``: headers, plain text and an HTML alternative."""
    check_address(row.recipient, "recipient")
    to = [check_address(a, "To address") for a in row.to_addrs]
    cc = [check_address(a, "Cc address") for a in row.cc_addrs]
    sender = check_address(settings.mail.from_address, "mail.from_address")
    message_id = header_value(row.message_id)
    if not (
        message_id.startswith("<")
        and message_id.endswith(">")
        and "@" in message_id
        and message_id.isascii()
        and " " not in message_id
    ):
        raise MalformedMessage("Message-ID", row.message_id, "expected <unique@domain>")

    # Headers go in pre-encoded with set_raw: the values are checked above, and parsing
    # each one again through the header registry costs more than sending the message.
    message = EmailMessage(policy=POLICY)
    message.set_raw("From", formataddr((header_value(settings.mail.from_name), sender)))
    message.set_raw("To", ", ".join(to) if to else check_address(row.recipient, "recipient"))
    if cc:
        message.set_raw("Cc", ", ".join(cc))
    message.set_raw("Subject", _encoded(header_value(row.subject), "Subject"))
    message.set_raw("Date", format_datetime(now))
    message.set_raw("Message-ID", message_id)
    message.set_raw("Content-Language", _encoded(header_value(row.language) or "en", "X"))
    message.set_raw("Auto-Submitted", "auto-generated")
    message.set_raw("MIME-Version", "1.0")
    message.set_raw("Content-Type", f'multipart/alternative;\n boundary="=_{uuid.uuid4().hex}"')
    message.set_payload([_part(row.body_text, "plain"), _part(row.body_html, "html")])
    return message
