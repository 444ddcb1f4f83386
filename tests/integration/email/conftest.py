"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts.

The handler can be told to refuse (``reply`` for every message, ``refuse`` per
recipient at RCPT), to take its time before answering (``delay``), and the server can be
stopped and started again on the same port, so the dispatcher meets real outages.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from notifications.models import OutboxMessage
from notifications.outbox import Owed, insert_rows, rows_for
from notifications.recipients import Addressing, Recipient
from workflow.db import transaction


@dataclass(frozen=True)
class Delivery:
    """One message the server accepted: its envelope and the parsed message."""

    mail_from: str
    rcpt: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class RecordingHandler:
    delay: float = 0.0
    reply: str | None = None  # answer to DATA instead of 250, e.g. "451 4.3.0 try later"
    refuse: dict[str, str] = field(default_factory=dict)  # rcpt -> answer at RCPT
    delivered: list[Delivery] = field(default_factory=list)
    arrived: int = 0  # DATA commands seen, accepted or not
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answer = self.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.arrived += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply:
            return self.reply
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.delivered.append(Delivery(envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
        return "250 2.0.0 accepted"

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.delivered)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """An aiosmtpd Controller that can be stopped and started again on its port."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, condition: Callable[[], bool], seconds: float = 30.0) -> None:
        """Poll ``condition`` (bounded in time) and fail the test if it never holds."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"SMTP server: condition not met within {seconds} s")
            time.sleep(0.01)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    """The test settings, sending to the loopback server; a short SMTP timeout."""
    return settings.with_overrides(
        mail={"sender": "smtp"},
        smtp={"host": "127.0.0.1", "port": smtp_server.port, "timeout_seconds": 5.0},
    )


def enqueue_many(
    factory: sessionmaker[Session], settings: Settings, count: int, now: datetime
) -> list[OutboxMessage]:
    """``count`` single-recipient messages, each to its own address; returns the rows."""
    rows: list[dict[str, Any]] = []
    for i in range(count):
        to = Recipient(f"city{i}@example.org", f"City {i}", ("en", "fr", "lv", "ru")[i % 4])
        owed = Owed(
            "membership_removed",
            "membership",
            i + 1,
            Addressing(to=(to,)),
            {"city": f"City {i}", "country": "Latvia", "comment": "No reports.", "network": "N"},
        )
        rows.extend(rows_for(owed, now, settings.mail.from_address))
    with transaction(factory) as session:
        insert_rows(session, rows)
    return outbox(factory)


def outbox(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
