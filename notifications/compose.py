"""Turn one outbox row into the email that goes on the wire.

The headers show the occasion's whole To and Cc, but the envelope goes only to the
row's own recipient: each recipient gets their own copy, in their language. Nothing
from the row reaches a header unchecked: CR and LF are removed from every value, and an
address that is malformed (or tries to smuggle a line break) is refused with
:class:`MalformedMessage`, which the dispatcher parks as dead instead of retrying.
"""

from __future__ import annotations

import binascii
import re
import sys
import uuid
from datetime import datetime
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


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
#: An ASCII dot-atom address (RFC 5322) whose domain has two labels or more.
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


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
    if PLAIN_ADDRESS.fullmatch(address):
        # What nearly every address is; the parser gives such an address back unchanged
        # (a property test checks), and parsing one took most of composing a message.
        return address
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


def _payload(text: str) -> str:
    """A UTF-8 body as quoted-printable (lines within 76): it passes any server and stays
    readable. The standard library's C encoder (``binascii``): ``email.quoprimime`` encodes
    in Python, three times as slowly, and made a lone CR a line break where this keeps it."""
    return binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True).decode("ascii")


#: The headers of each body part, by its subtype.
_PART_HEADERS = {
    subtype: (
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    )
    for subtype in ("plain", "html")
}


def _part(text: str, subtype: str) -> EmailMessage:
    """One body part (:func:`_payload`)."""
    part = EmailMessage(policy=POLICY)
    for name, value in _PART_HEADERS[subtype]:
        part.set_raw(name, value)
    part.set_payload(_payload(text))
    return part


def new_boundary() -> str:
    """A fresh MIME boundary: random, so no body can contain it."""
    return f"=_{uuid.uuid4().hex}"


def _headers(row: Mail, settings: Settings, now: datetime, boundary: str) -> list[tuple[str, str]]:
    """The message's headers, checked and pre-encoded, in the order they are written."""
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
    headers = [
        ("From", formataddr((header_value(settings.mail.from_name), sender))),
        ("To", ", ".join(to) if to else check_address(row.recipient, "recipient")),
    ]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    headers += [
        ("Subject", _encoded(header_value(row.subject), "Subject")),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        ("Content-Language", _encoded(header_value(row.language) or "en", "X")),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative;\n boundary="{boundary}"'),
    ]
    return headers


def compose(row: Mail, settings: Settings, now: datetime, *, boundary: str = "") -> EmailMessage:
    """The complete message for ``row``: headers, plain text and an HTML alternative."""
    # Headers go in pre-encoded with set_raw: the values are checked by _headers, and
    # parsing each one again through the header registry costs more than sending it.
    message = EmailMessage(policy=POLICY)
    for name, value in _headers(row, settings, now, boundary or new_boundary()):
        message.set_raw(name, value)
    message.set_payload([_part(row.body_text, "plain"), _part(row.body_html, "html")])
    return message


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the generator's own (email.generator.NLCRE)


def _plain_header(name: str, value: str) -> str | None:
    """``name: value`` as :data:`POLICY` writes a pre-encoded value that it keeps as it is
    (ASCII, each line within 78 columns), or None when the policy would fold it again."""
    if not value.isascii():
        return None
    lines = value.splitlines()
    most = POLICY.max_line_length or sys.maxsize
    if lines and (len(lines[0]) + len(name) + 2 > most or max(map(len, lines)) > most):
        return None
    return f"{name}: " + "\r\n".join(lines) + "\r\n"


def compose_wire(row: Mail, settings: Settings, now: datetime, *, boundary: str = "") -> bytes:
    """:func:`compose`'s message as it goes on the wire, byte for byte what
    ``compose(...).as_bytes()`` gives (a property test compares them on arbitrary rows).

    The standard generator walks the message object and folds every header again: for a
    small reminder that took more of the dispatcher's time than the SMTP exchange, and
    every millisecond the dispatcher's event loop is busy, each connection waits for
    its next command. The message here has a fixed shape (pre-encoded headers, two
    quoted-printable parts), so it is written directly; a header the policy would fold
    again (a long Cc list, a long sender name) goes through the generator.
    """
    boundary = boundary or new_boundary()
    headers = _headers(row, settings, now, boundary)
    out = []
    for name, value in headers:
        line = _plain_header(name, value)
        if line is None:
            return compose(row, settings, now, boundary=boundary).as_bytes()
        out.append(line)
    out.append("\r\n")
    for number, (subtype, text) in enumerate((("plain", row.body_text), ("html", row.body_html))):
        out.append(("\r\n" if number else "") + f"--{boundary}\r\n")
        out += [f"{name}: {value}\r\n" for name, value in _PART_HEADERS[subtype]]
        out.append("\r\n")
        out.append("\r\n".join(_LINE_BREAK.split(_payload(text))))
    out.append(f"\r\n--{boundary}--\r\n")
    return "".join(out).encode("ascii")
