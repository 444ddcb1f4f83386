"""Where composed messages go: an SMTP server, a Maildir folder, or memory (unit tests).

A sender delivers one message to one envelope recipient and either returns (the
server accepted it) or raises :class:`TransientSendError` (try again later: 4xx,
connection trouble, timeouts) or :class:`PermanentSendError` (5xx: retrying the same
message will not help). The dispatcher decides what each outcome means for the row.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import aiosmtplib

from config import Settings
from config.settings import SmtpSettings
from notifications.compose import POLICY as COMPOSED

log = logging.getLogger(__name__)
#: How a message is written on the wire: CRLF, headers folded and encoded as 7-bit.
WIRE = policy.SMTP


def wire_bytes(message: EmailMessage) -> bytes:
    """``message`` as written on the wire (:data:`WIRE`).

    A message made by :func:`notifications.compose.compose` carries a policy that writes
    the same bytes and reads its pre-encoded headers as they are: it is flattened with
    its own. Flattening it with WIRE would parse every header again (the generator puts
    its policy on the message while writing), ten times the cost of the writing itself.
    """
    return message.as_bytes(policy=None if message.policy is COMPOSED else WIRE)


class SendError(Exception):
    """Delivery of one message to one recipient failed."""


class TransientSendError(SendError):
    """The server or the connection failed for now; the same message may succeed later."""


class PermanentSendError(SendError):
    """The server refused the message for good (5xx); an operator has to look at it."""


class SenderDown(TransientSendError):
    """Nothing can be delivered now, whatever the message: the Maildir folder cannot be
    written, the SMTP server cannot be reached or refuses the login. The text says what
    is wrong and how to fix it.

    ``counts_attempt`` False (the Maildir): the message is put back as pending without
    using up one of its attempts, so it goes out as soon as the folder is fixed. SMTP
    outages keep counting attempts, with the usual backoff.
    """

    def __init__(self, message: str, *, counts_attempt: bool = True) -> None:
        super().__init__(message)
        self.counts_attempt = counts_attempt


class Sender(Protocol):
    """Delivers composed messages; use as ``async with sender: await sender.send(...)``."""

    @property
    def concurrency(self) -> int:
        """How many sends may usefully run at once (the SMTP pool size)."""
        ...

    @property
    def wire(self) -> bool:
        """True when the sender is given each message as the bytes it sends
        (:func:`notifications.compose.compose_wire`), False for the message object."""
        ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def send(self, message: EmailMessage | bytes, recipient: str) -> None: ...
    async def __aenter__(self) -> Sender: ...
    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class _Lifecycle:
    concurrency = 1
    wire = False

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def classify(exc: BaseException) -> SendError:
    """The dispatcher's view of an aiosmtplib or network error."""
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if codes and all(c >= 500 for c in codes):
            return PermanentSendError(f"recipient refused: {text}")
        return TransientSendError(f"recipient deferred: {text}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # A wrong password is the operator's to fix; the messages themselves are fine.
        return TransientSendError(f"SMTP login failed ({exc.code} {exc.message}); check smtp.*")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
        if 500 <= exc.code < 600:
            return PermanentSendError(f"server refused: {text}")
        return TransientSendError(f"server deferred: {text}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return TransientSendError(f"{type(exc).__name__}: {exc}".rstrip(": "))
    return TransientSendError(f"unexpected {type(exc).__name__}: {exc}")


class SmtpSender(_Lifecycle):
    """SMTP over a small pool of reused aiosmtplib connections.

    Connections are opened on first use and kept; one that broke (or failed a send) is
    dropped and a fresh one opened for the next message, so a restarted server is picked
    up again without restarting the dispatcher.
    """

    wire = True  # composed straight to bytes: the connections wait for no flattening

    def __init__(self, smtp: SmtpSettings, envelope_from: str, pool_size: int | None = None):
        self.smtp = smtp
        self.envelope_from = envelope_from
        self.pool_size = pool_size or smtp.pool_size
        self.concurrency = self.pool_size
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP | None] | None = None
        self._clients: set[aiosmtplib.SMTP] = set()

    async def open(self) -> None:
        self._idle = asyncio.LifoQueue()
        for _ in range(self.pool_size):
            self._idle.put_nowait(None)

    async def close(self) -> None:
        clients, self._clients = list(self._clients), set()
        # All at once: each QUIT waits for the server's answer.
        await asyncio.gather(*(self._drop(client, polite=True) for client in clients))
        self._idle = None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.smtp
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=True if s.security == "starttls" else False if s.security == "none" else None,
            username=s.username or None,
            password=(s.password.get_secret_value() or None) if s.username else None,
            timeout=s.timeout_seconds,
        )
        try:
            await client.connect()
        except BaseException as exc:
            client.close()
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
            raise SenderDown(self._unreachable(exc)) from exc
        self._clients.add(client)
        return client

    async def check(self) -> str:
        """Connect, greet (and sign in, when configured), quit: what ``gnlc doctor``
        checks. Returns the server's greeting; raises :class:`SenderDown`."""
        client = await self._connect()
        self._clients.discard(client)
        try:
            greeting = client.last_ehlo_response or await client.ehlo()
            await client.quit(timeout=min(self.smtp.timeout_seconds, 5.0))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SenderDown(self._unreachable(exc)) from exc
        finally:
            client.close()
        return f"{greeting.code} {greeting.message.splitlines()[0]}"

    def _unreachable(self, exc: BaseException) -> str:
        s = self.smtp
        where = f"{s.host}:{s.port}"
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return (
                f"the SMTP server {where} refused the login of {s.username!r} "
                f"({exc.code} {exc.message}): check [smtp] username and password"
            )
        return (
            f"the SMTP server {where} cannot be reached ({type(exc).__name__}: {exc}): "
            "start it, or check [smtp] host, port and security"
        )

    async def _drop(self, client: aiosmtplib.SMTP, *, polite: bool = False) -> None:
        self._clients.discard(client)
        try:
            if polite and client.is_connected:
                await client.quit(timeout=min(self.smtp.timeout_seconds, 5.0))
        except Exception as exc:  # a connection on its way out: nothing left to save
            log.debug("closing an SMTP connection: %s", exc)
        finally:
            client.close()

    async def send(self, message: EmailMessage | bytes, recipient: str) -> None:
        if self._idle is None:
            raise RuntimeError("SmtpSender used before open(); use 'async with sender:'")
        idle = self._idle
        # Flattened before taking a connection: the connection then only waits for the server.
        data = message if isinstance(message, bytes) else wire_bytes(message)
        client = await idle.get()
        try:
            if client is None or not client.is_connected:
                if client is not None:
                    await self._drop(client)
                client = None
                client = await self._connect()
            errors, _ = await client.sendmail(self.envelope_from, [recipient], data)
            if errors:  # not reached with one recipient: a refusal raises; kept for safety
                code, text = errors[recipient]
                raise aiosmtplib.SMTPResponseException(code, text)
        except BaseException as exc:
            if client is not None:
                await self._drop(client)
                client = None
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise classify(exc) from exc
        finally:
            idle.put_nowait(client)


class MaildirSender(_Lifecycle):
    """Writes each copy into a Maildir folder (the embedded default; no server needed).

    A ``Delivered-To`` header tells whose copy a file is, since the To and Cc headers
    show everyone.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._box: mailbox.Maildir | None = None

    async def open(self) -> None:
        try:
            self._open()
        except SenderDown as exc:
            # Said by each send (and recorded on its message); the pass goes on.
            log.debug("%s", exc)

    def _open(self) -> mailbox.Maildir:
        try:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.path, create=True)
        except OSError as exc:
            raise self._down(exc) from exc
        return self._box

    def _down(self, exc: OSError) -> SenderDown:
        detail = exc.strerror or str(exc)
        if exc.filename:
            detail = f"{detail}: {exc.filename}"
        return SenderDown(
            f"Maildir {self.path} is not writable ({detail}): make the folder writable, "
            "or point [mail] maildir (GNLC_MAIL__MAILDIR) at one that is",
            counts_attempt=False,
        )

    async def send(self, message: EmailMessage | bytes, recipient: str) -> None:
        box = self._box if self._box is not None else self._open()
        own = mailbox.MaildirMessage(message)  # a copy: the caller's message stays as it was
        own["Delivered-To"] = recipient
        try:
            # In this thread: Maildir names its files with a per-process counter.
            box.add(own)
        except OSError as exc:
            # The folder may have gone since it was opened: open it again next time.
            self._box = None
            raise self._down(exc) from exc


class MemorySender(_Lifecycle):
    """Keeps what it was given; for pure unit tests only. ``fail`` maps a recipient to the
    error its sends raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, EmailMessage]] = []
        self.fail: dict[str, SendError] = {}

    async def send(self, message: EmailMessage | bytes, recipient: str) -> None:
        error = self.fail.get(recipient)
        if error is not None:
            raise error
        if isinstance(message, bytes):
            parsed = BytesParser(policy=policy.default).parsebytes(message)
            assert isinstance(parsed, EmailMessage)
            message = parsed
        self.sent.append((recipient, message))


def build_sender(settings: Settings) -> Sender:
    """The sender named by ``mail.sender``."""
    if settings.mail.sender == "smtp":
        return SmtpSender(settings.smtp, settings.mail.from_address)
    return MaildirSender(settings.mail.maildir)
