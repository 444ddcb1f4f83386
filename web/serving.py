"""Serving the portal with uvicorn in ``settings.web.workers`` processes.

uvicorn starts each worker process afresh (spawn) and builds the app there from an
import string, so the settings travel to the workers in an environment variable of
this process (secrets included: only our own children read it). The caller (``gnlc
serve``) keeps the scheduler in its own process, so it runs once whatever the number of
workers.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import logging
import os
import re
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess, multiprocess
from uvicorn.supervisors.multiprocess import Process

from config import Settings
from config.paths import metrics_folder
from web.app import create_app
from web.metrics import prepare_multiprocess

#: The environment variable that carries the settings to the worker processes.
SETTINGS_VARIABLE = "GNLC_PORTAL_SETTINGS"


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

    With several workers uvicorn binds the listening socket itself, without naming the
    TCP protocol, so asyncio does not set TCP_NODELAY on the connections it accepts;
    the response body then waits for the client's delayed ACK, about 40 ms per request.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


#: Path segments that are secrets, after these route names: the invitation link's token
#: and any other credential carried in a URL (a password reset, a calendar feed).
SECRET_ROUTES = ("invitation", "invite", "reset", "calendar", "unsubscribe")
#: Query parameters that carry a credential.
SECRET_PARAMETERS = ("token", "key", "secret", "password", "code")
HIDDEN = "…"
_SECRET_SEGMENT = re.compile(f"(/(?:{'|'.join(SECRET_ROUTES)})/)" + r'[^/?#\s"]+')
_SECRET_PARAMETER = re.compile(
    f"([?&](?:{'|'.join(SECRET_PARAMETERS)})=)" + r'[^&#\s"]+', re.IGNORECASE
)


def hide_secrets(text: str) -> str:
    """``text`` (a request line or path) with every token in it replaced by "…"."""
    return _SECRET_PARAMETER.sub(r"\1" + HIDDEN, _SECRET_SEGMENT.sub(r"\1" + HIDDEN, text))


class SecretPathFilter(logging.Filter):
    """Keeps tokens out of the access log: ``GET /invitation/<token>`` is logged as
    ``GET /invitation/…``. uvicorn logs the path as an argument of the record, so the
    arguments are rewritten (and the message, in case a path was put there whole)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(hide_secrets(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = hide_secrets(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`SecretPathFilter` on its access
    log. Every server of the portal is started with it (``serve`` below, and the test
    server), so each worker process installs the filter when uvicorn configures it."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["hide_secrets"] = {"()": SecretPathFilter}
    config["loggers"]["uvicorn.access"]["filters"] = ["hide_secrets"]
    return config


def dump_settings(settings: Settings) -> str:
    """The settings as JSON, secrets in clear (``model_dump_json`` would mask them)."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        return str(value)

    return json.dumps(settings.model_dump(), default=plain)


def settings_from_environment() -> Settings:
    """The settings a worker was started with (see :func:`serve`)."""
    text = os.environ.get(SETTINGS_VARIABLE)
    if not text:
        raise RuntimeError(
            f"{SETTINGS_VARIABLE} is not set: start the portal with `gnlc serve`, "
            "which passes the settings to its worker processes."
        )
    return Settings.model_validate(json.loads(text))


def settled(app: FastAPI) -> FastAPI:
    """``app`` in a worker process, with everything made so far set aside from the garbage
    collector (:func:`gc.freeze`).

    A worker holds a few hundred thousand long-lived objects (the app, the ORM's mappers,
    templates, translations). Each full collection walked all of them: about 110 ms, once
    every few hundred requests, the p99 of a 3 ms page at one connection (benchmark 4).
    Frozen, they are never walked again; a full collection then takes about 5 ms."""
    gc.collect()
    gc.freeze()
    return app


def app_from_environment() -> FastAPI:
    """The app factory each worker process calls (``web.serving:app_from_environment``)."""
    return settled(create_app(settings_from_environment()))


def serve(
    settings: Settings,
    factory: str = "web.serving:app_from_environment",
    *,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Run ``factory`` (an import string of an app factory) on the configured host and
    port in ``settings.web.workers`` processes, until interrupted."""
    os.environ[SETTINGS_VARIABLE] = dump_settings(settings)
    if settings.web.workers > 1:
        # Before the workers start: each writes its request timings there (web.metrics).
        try:
            prepare_multiprocess(settings)
        except OSError as exc:
            raise SystemExit(
                f"error: cannot prepare the folder for the portal's metrics, "
                f"{metrics_folder(settings)} ({exc.strerror or exc}): make var/ writable, "
                "or point [mail] maildir (GNLC_MAIL__MAILDIR) at a writable data folder"
            ) from None
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.web.host,
        "port": settings.web.port,
        "workers": settings.web.workers,
        "http": "web.serving:NoDelayH11Protocol",
        "log_level": log_level,
        "access_log": access_log,
        "log_config": log_config(),
    }
    if settings.web.workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(factory, **options)
        return
    config = uvicorn.Config(factory, **options)
    try:
        reserved = _port_of(config, listen=False)
    except OSError as exc:
        raise SystemExit(
            f"error: cannot listen on {config.host}:{config.port} ({exc.strerror or exc}): "
            "another program holds the port; stop it or set [web] port (GNLC_WEB__PORT)"
        ) from None
    # uvicorn's supervisor (restarts, signals, health checks) with workers that each
    # listen on a socket of their own (OwnSocketWorker); it makes them by this name.
    multiprocess.Process = OwnSocketWorker  # type: ignore[misc]
    try:
        Multiprocess(config, sockets=[reserved]).run()
    finally:
        reserved.close()


def _port_of(config: uvicorn.Config, *, listen: bool) -> socket.socket:
    """A socket on the configured address with SO_REUSEPORT: the parent's reserves the
    port (bound, never listening, so it is given no connection); each worker's listens."""
    family, kind, proto, _, address = socket.getaddrinfo(
        config.host, config.port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    if listen:
        sock.listen(config.backlog)
    sock.set_inheritable(True)
    return sock


class OwnSocketWorker(Process):
    """A portal worker that listens on a socket of its own (SO_REUSEPORT), so that the
    kernel spreads new connections evenly over the workers. On one shared socket, the
    worker that wakes first accepts every waiting connection (asyncio accepts up to the
    backlog at once): 20 connections opened together could all land on one worker and
    leave the other core idle (benchmark 4 in docs/benchmarks.md)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        for shared in sockets or []:
            shared.close()
        super().target([_port_of(self.config, listen=True)])
