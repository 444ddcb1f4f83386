"""What the SMTP sender writes on the wire: a composed message, flattened the cheap way
with its own policy, gives exactly the bytes the standard SMTP policy gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from config import load_settings
from notifications.compose import compose
from notifications.senders import WIRE, wire_bytes

SETTINGS = load_settings({})
NOW = datetime(2027, 3, 2, 9, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    recipient: str = "office@unesco.lv"
    to_addrs: list[str] = field(default_factory=lambda: ["office@unesco.lv"])
    cc_addrs: list[str] = field(default_factory=list)
    subject: str = "Report due"
    language: str = "en"
    message_id: str = "<0123abcd@unesco.org>"
    body_text: str = "Dear colleagues,\n\nThe report is due today.\n"
    body_html: str = "<p>Dear colleagues,</p>\n"


ROWS = [
    Row(),
    Row(
        cc_addrs=["learningcities@unesco.org", "focal@jelgava.lv"],
        subject="Pieteikums dalībai tīklā: Jelgava (Latvia) lūdz jūsu atbalstu " * 3,
        language="lv",
        body_text="Godātie kolēģi!\r\n\r\n" + "Pilsēta Jelgava ir iesniegusi pieteikumu. " * 20,
        body_html="<p>Godātie kolēģi!</p>\n" + "<p>.leading dot and = sign</p>\n" * 30,
    ),
    Row(subject="Приглашение: отчёт города Рига", language="ru", body_text="Коллеги,\n\n.\n"),
    Row(to_addrs=[], subject="x" * 200, body_text="a" * 500, body_html=""),
]


@pytest.mark.parametrize("row", ROWS)
def test_a_composed_message_goes_out_as_the_smtp_policy_writes_it(row: Row) -> None:
    message = compose(row, SETTINGS, NOW)
    assert wire_bytes(message) == message.as_bytes(policy=policy.SMTP)


def test_a_message_made_elsewhere_is_written_with_the_wire_policy() -> None:
    message = EmailMessage()  # the default policy: LF line ends of its own
    message["Subject"] = "Grüße"
    message.set_content("line one\nline two\n")
    data = wire_bytes(message)
    assert data == message.as_bytes(policy=WIRE)
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
