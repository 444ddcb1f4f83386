"""Composing a message from a row: headers, safety, parts; backoff and error classes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import load_settings
from notifications.compose import (
    PLAIN_ADDRESS,
    MalformedMessage,
    check_address,
    compose,
    compose_wire,
)
from notifications.dispatcher import backoff_seconds
from notifications.senders import (
    MemorySender,
    PermanentSendError,
    TransientSendError,
    classify,
)

SETTINGS = load_settings({})
NOW = datetime(2027, 3, 2, 9, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    recipient: str = "office@unesco.lv"
    to_addrs: list[str] = field(default_factory=lambda: ["office@unesco.lv"])
    cc_addrs: list[str] = field(default_factory=lambda: ["learningcities@unesco.org"])
    subject: str = "Pieteikums dalībai tīklā: Jelgava (Latvia) lūdz jūsu atbalstu"
    language: str = "lv"
    message_id: str = "<0123abcd@unesco.org>"
    body_text: str = "Godātie kolēģi!\n\nPilsēta Jelgava ir iesniegusi pieteikumu.\n"
    body_html: str = "<p>Godātie kolēģi!</p>\n"


def wire(message: EmailMessage) -> EmailMessage:
    """The message as a receiving server parses it."""
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes(policy=policy.SMTP))
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_headers_parts_and_encoding() -> None:
    row = Row()
    got = wire(compose(row, SETTINGS, NOW))
    assert got["From"].addresses[0].addr_spec == SETTINGS.mail.from_address
    assert got["From"].addresses[0].display_name == SETTINGS.mail.from_name
    assert (str(got["To"]), str(got["Cc"])) == ("office@unesco.lv", "learningcities@unesco.org")
    assert got["Subject"] == row.subject
    assert got["Message-ID"] == row.message_id
    assert got["Content-Language"] == "lv"
    assert got["Date"].datetime == NOW
    assert got.get_content_type() == "multipart/alternative"
    plain, html = got.get_body(("plain",)), got.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == row.body_text
    assert html.get_content().replace("\r\n", "\n") == row.body_html
    raw = compose(row, SETTINGS, NOW).as_bytes(policy=policy.SMTP)
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_no_cc_header_when_there_is_no_copy() -> None:
    got = wire(compose(Row(cc_addrs=[]), SETTINGS, NOW))
    assert got["Cc"] is None


def test_a_subject_with_line_breaks_cannot_add_headers() -> None:
    row = Row(subject="Hello\r\nBcc: victim@example.org\nX-Evil: 1")
    got = wire(compose(row, SETTINGS, NOW))
    assert got["Bcc"] is None and got["X-Evil"] is None
    assert got["Subject"] == "Hello Bcc: victim@example.org X-Evil: 1"


@pytest.mark.parametrize(
    "address",
    [
        "office@unesco.lv\r\nBcc: victim@example.org",
        "office@unesco.lv\nX: 1",
        "not an address",
        "two@a.lv, three@b.lv",
        "Name <x@y.lv>",
        "@unesco.lv",
        "office@",
        "",
    ],
)
def test_a_malformed_or_injecting_address_is_refused(address: str) -> None:
    for row in (Row(recipient=address), Row(to_addrs=[address]), Row(cc_addrs=[address])):
        with pytest.raises(MalformedMessage) as caught:
            compose(row, SETTINGS, NOW)
        assert "not a valid email address" in str(caught.value)


def test_a_good_address_passes_unchanged() -> None:
    assert check_address("pasts@jelgava.lv") == "pasts@jelgava.lv"


@settings(max_examples=400, deadline=None)
@given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_a_plain_address_is_what_the_parser_makes_of_it(address: str) -> None:
    """check_address accepts a PLAIN_ADDRESS without parsing it: the parser agrees."""
    assert Address(addr_spec=address).addr_spec == address
    assert check_address(address) == address


_ADDRESSES = st.sampled_from(
    ["office@unesco.lv", "pasts@jelgava.lv", "a.b+c@sub.example.org", "x@y.fr", "o'neil@city.ie"]
)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    to=st.lists(_ADDRESSES, max_size=4),
    cc=st.lists(_ADDRESSES, max_size=6),
    subject=_TEXT,
    language=st.sampled_from(["en", "fr", "lv", "ru", "", "de-CH\n"]),
    body_text=_TEXT,
    body_html=_TEXT,
    from_name=st.sampled_from(["UNESCO GNLC", "Réseau mondial UNESCO des villes apprenantes" * 2]),
)
def test_the_wire_bytes_are_the_generators_byte_for_byte(
    to: list[str],
    cc: list[str],
    subject: str,
    language: str,
    body_text: str,
    body_html: str,
    from_name: str,
) -> None:
    """compose_wire writes the message itself; the standard generator is the reference,
    down to every header's folding, the parts' line ends and the boundaries."""
    row = Row(
        to_addrs=to, cc_addrs=cc, subject=subject, language=language,
        body_text=body_text, body_html=body_html,
    )  # fmt: skip
    chosen = SETTINGS.with_overrides(mail={"from_name": from_name})
    expected = compose(row, chosen, NOW, boundary="=_b0undary").as_bytes()
    assert compose_wire(row, chosen, NOW, boundary="=_b0undary") == expected
    assert expected == compose(row, chosen, NOW, boundary="=_b0undary").as_bytes(policy=policy.SMTP)


def test_the_wire_bytes_refuse_what_compose_refuses() -> None:
    with pytest.raises(MalformedMessage):
        compose_wire(Row(cc_addrs=["two@a.lv, three@b.lv"]), SETTINGS, NOW)


def test_the_memory_sender_keeps_each_copy_with_its_envelope_recipient() -> None:
    sender = MemorySender()

    async def run() -> None:
        async with sender:
            await sender.send(compose(Row(), SETTINGS, NOW), "office@unesco.lv")
            await sender.send(compose(Row(), SETTINGS, NOW), "learningcities@unesco.org")

    asyncio.run(run())
    assert [r for r, _ in sender.sent] == ["office@unesco.lv", "learningcities@unesco.org"]


def test_backoff_doubles_up_to_the_cap_with_a_little_jitter() -> None:
    s = SETTINGS.with_overrides(dispatcher={"backoff_base_seconds": 30, "backoff_max_seconds": 600})
    assert [backoff_seconds(a, s) for a in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert backoff_seconds(3, s, jitter=1.0) == pytest.approx(132.0)
    assert 120 <= backoff_seconds(3, s, jitter=0.5) <= 132
    zero = s.with_overrides(dispatcher={"backoff_base_seconds": 0})
    assert backoff_seconds(1, zero) >= 1.0  # never retried within the same pass


def test_error_classes() -> None:
    assert isinstance(classify(aiosmtplib.SMTPResponseException(550, "no")), PermanentSendError)
    assert isinstance(classify(aiosmtplib.SMTPResponseException(451, "later")), TransientSendError)
    assert isinstance(classify(aiosmtplib.SMTPResponseException(421, "bye")), TransientSendError)
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "unknown user", "x@y.lv")]
    )
    assert isinstance(classify(refused), PermanentSendError)
    assert "550 unknown user" in str(classify(refused))
    assert isinstance(classify(aiosmtplib.SMTPConnectError("refused")), TransientSendError)
    assert isinstance(classify(aiosmtplib.SMTPServerDisconnected("gone")), TransientSendError)
    assert isinstance(classify(TimeoutError()), TransientSendError)
    assert isinstance(classify(ConnectionResetError()), TransientSendError)
    login = aiosmtplib.SMTPAuthenticationError(535, "bad credentials")
    assert isinstance(classify(login), TransientSendError)  # the operator fixes smtp.*
