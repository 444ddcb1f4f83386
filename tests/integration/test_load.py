"""The concurrent-write load of issue 8, on SQLite and on PostgreSQL: a real portal
(``gnlc serve``: uvicorn, two worker processes), 20 clients for about 15 seconds doing
ordinary city and Commission work through the JSON API.

The world: 4 countries with 4 cities each, a city user per city and a Commission user
per country, signed in once at the start (sign-in is Argon2-slow and throttled by design).
Each city cycles applications (create, edit, upload the signed form, submit, withdraw,
list); each Commission endorses what its cities submitted, up to the quota, which the
cities free again by withdrawing.

It asserts:

- no response 5xx and no connection error (every request has a timeout);
- every refusal (4xx) is a domain refusal with its code;
- the database equals the acknowledged writes: for every application a client touched,
  its state follows from the actions acknowledged with a 2xx, its version counts them
  (one step per acknowledged write), and its form holds the last acknowledged edit;
- the quota: never more endorsed applications per country and call than the quota,
  neither at the end nor at any point of the audit log.

Bounded: at most ``DURATION`` seconds or ``MAX_REQUESTS`` requests. ``pytest -s`` shows
a one-line summary per database. ``-m 'not load'`` skips it.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from tests.conftest import ADMIN
from tests.e2e.live import free_port
from web.security import hash_password
from workflow.calendar import local_date
from workflow.db import make_engine, session_factory, transaction
from workflow.models import Application, AuditEvent, Call
from workflow.services import applications as apps
from workflow.services import calls as call_service
from workflow.services import directory, users

pytestmark = [pytest.mark.load, pytest.mark.slow]

DURATION = 15.0  # seconds of load
MAX_REQUESTS = 20_000  # whichever comes first
REQUEST_TIMEOUT = 30.0  # seconds; a request that takes longer counts as a failure
START_TIMEOUT = 60.0  # for the server to answer
PASSWORD = "load-test-password-4711"
COUNTRIES = ("DE", "PL", "LT", "FI")
CITIES_PER_COUNTRY = 4
#: The refusals a client may meet when others got there first (stale version, state
#: moved on, quota full). Anything else means the clients or the server went wrong.
DOMAIN_REFUSALS = {"conflict", "transition_not_allowed", "quota_exceeded"}
PDF = b"%PDF-1.4\n% the signed form\n" + b"0" * 2000 + b"\n%%EOF\n"
FORM: dict[str, Any] = {
    "motivation": "Learning for all ages in every district.",
    "implementation_plan": "Map providers; open learning festivals; monitor yearly.",
    "challenges": dict.fromkeys(apps.CHALLENGES, 3),
    "signed_by": "The Mayor",
}


# --- the world ------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    role: str  # "city" or "commission"
    country: str


def open_call(session: Session, settings: Settings, now: datetime) -> Call:
    """The call open now; one is made (a week ago for two months) when none is."""
    call = call_service.current_or_next(session, settings, now)
    if call is not None and call_service.window(call).contains(now):
        return call
    today = local_date(now, settings.calls.timezone)
    return call_service.create_call(
        session,
        settings,
        ADMIN,
        name=f"load-{today:%Y-%m-%d}",
        opens_on=today - timedelta(days=7),
        closes_on=today + timedelta(days=60),
        now=now,
    )


def build_world(factory: sessionmaker[Session], settings: Settings) -> tuple[list[Person], str]:
    """Countries, cities and users; returns the people and the open call's name."""
    now = datetime.now(UTC)
    password_hash = hash_password(PASSWORD)
    people: list[Person] = []
    with transaction(factory) as session:
        call = open_call(session, settings, now)
        for code in COUNTRIES:
            directory.upsert_country(
                session,
                ADMIN,
                code=code,
                name=f"Country {code}",
                commission_name=f"National Commission {code}",
                commission_email=f"commission@{code.lower()}.example",
                now=now,
            )
            email = f"commission.{code.lower()}@load.example"
            users.create_user(
                session,
                ADMIN,
                email=email,
                name=f"Commission {code}",
                role="commission",
                country_code=code,
                password_hash=password_hash,
                now=now,
            )
            people.append(Person(email, "commission", code))
            for number in range(CITIES_PER_COUNTRY):
                name = f"City {code}{number}"
                city = directory.upsert_city(
                    session,
                    ADMIN,
                    country_code=code,
                    name=name,
                    contact_email=f"city{number}@{code.lower()}.example",
                    mayor_name=f"Mayor of {name}",
                    mayor_title="Mayor",
                    contact_name=f"{name} focal point",
                    now=now,
                )
                email = f"city{number}.{code.lower()}@load.example"
                users.create_user(
                    session,
                    ADMIN,
                    email=email,
                    name=f"{name} focal point",
                    role="city",
                    city_id=city.id,
                    password_hash=password_hash,
                    now=now,
                )
                people.append(Person(email, "city", code))
        return people, call.name


# --- the server -----------------------------------------------------------------------


@contextmanager
def served(db_url: str, folder: Path) -> Iterator[tuple[str, Path]]:
    """``gnlc serve`` in a process of its own (two uvicorn workers, no scheduler) on a
    free port; yields its address and its log file. Stopped when the block ends."""
    port = free_port()
    log = folder / "serve.log"
    env = {
        **os.environ,
        "GNLC_DATABASE__URL": db_url,
        "GNLC_MAIL__MAILDIR": str(folder / "mail"),
        "GNLC_WEB__HOST": "127.0.0.1",
        "GNLC_WEB__PORT": str(port),
        "GNLC_WEB__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GNLC_WEB__SECRET_KEY": secrets.token_urlsafe(48),
        "GNLC_WEB__DEMO_DATA": "false",
        "GNLC_WEB__WORKERS": "2",
    }
    env.pop("GNLC_CONFIG", None)
    command = [str(Path(sys.executable).with_name("gnlc")), "serve", "--no-scheduler"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, "gnlc serve stopped: " + log.read_text()[-3000:]
            try:
                httpx.get(f"{url}/api/v1/me", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gnlc serve did not answer in time"
                time.sleep(0.2)
        yield url, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
            process.wait(timeout=30)


# --- the clients ----------------------------------------------------------------------


@dataclass
class Touched:
    """What the clients were told about one application (2xx answers only)."""

    actions: list[str] = field(default_factory=list)
    motivation: str = FORM["motivation"]


@dataclass
class Record:
    """Everything the clients saw, shared by their threads (guarded by ``lock``)."""

    stop_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    bad_refusals: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    write_times: list[float] = field(default_factory=list)
    ledger: dict[int, Touched] = field(default_factory=lambda: defaultdict(Touched))

    def running(self) -> bool:
        with self.lock:
            more = self.requests < MAX_REQUESTS and time.monotonic() < self.stop_at
            return more and not self.failures

    def acknowledged(self, app_id: int, action: str, motivation: str | None = None) -> None:
        with self.lock:
            touched = self.ledger[app_id]
            touched.actions.append(action)
            if motivation is not None:
                touched.motivation = motivation


class Client:
    """One signed-in user talking to the API; every answer is recorded."""

    def __init__(self, url: str, person: Person, record: Record) -> None:
        self.person = person
        self.record = record
        self.random = random.Random(person.email)
        self.http = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT)
        answer = self.http.post(
            "/api/v1/session", json={"email": person.email, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        self.http.headers["Authorization"] = f"Bearer {answer.json()['token']}"

    def call(self, method: str, path: str, **options: Any) -> httpx.Response | None:
        """The answer, or ``None`` when the server did not answer or answered 5xx (both
        recorded as failures, which stop the run)."""
        started = time.perf_counter()
        try:
            answer = self.http.request(method, path, **options)
        except httpx.HTTPError as exc:
            with self.record.lock:
                self.record.requests += 1
                self.record.failures.append(f"{method} {path}: {type(exc).__name__} {exc}")
            return None
        took = time.perf_counter() - started
        with self.record.lock:
            self.record.requests += 1
            self.record.statuses[answer.status_code] += 1
            self.record.times.append(took)
            if method != "GET":
                self.record.write_times.append(took)
            if answer.status_code >= 500:
                self.record.failures.append(f"{method} {path}: {answer.status_code} {answer.text}")
                return None
            if answer.status_code >= 400:
                code = _code_of(answer)
                self.record.refusals[code] += 1
                if code not in DOMAIN_REFUSALS:
                    self.record.bad_refusals.append(
                        f"{method} {path}: {answer.status_code} {answer.text[:300]}"
                    )
        return answer

    def close(self) -> None:
        self.http.close()


def _code_of(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"(not JSON: {answer.text[:80]!r})"
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(code, str) or not isinstance(message, str) or not message:
        return f"(no code and message: {answer.text[:80]!r})"
    return code


class City(Client):
    """Cycles its applications: create, edit, upload, submit, withdraw, list."""

    def run(self) -> None:
        app: dict[str, Any] | None = None
        edits = 0
        while self.record.running():
            if app is None or app["state"] == "withdrawn":
                app = self.create()
            elif app["state"] == "draft":
                app = self.work_on_draft(app, edits)
                edits += 1
            elif app["state"] == "submitted":
                # Waiting for the Commission: look again, or change one's mind.
                app = self.withdraw(app) if self.random.random() < 0.1 else self.look(app)
            elif app["state"] == "forwarded":
                # Forwarded: withdrawing frees a place in the country's quota.
                app = self.withdraw(app) if self.random.random() < 0.5 else self.look(app)
            else:
                raise AssertionError(f"a city's application in state {app['state']}")

    def create(self) -> dict[str, Any] | None:
        answer = self.call("POST", "/api/v1/applications", json=FORM)
        if answer is None or answer.status_code != 201:
            return None
        body: dict[str, Any] = answer.json()
        self.record.acknowledged(body["id"], "create")
        return body

    def look(self, app: dict[str, Any]) -> dict[str, Any]:
        """The application as it is now (the one known when the server did not say)."""
        if self.random.random() < 0.5:
            self.call("GET", "/api/v1/applications", params={"limit": 20})
        answer = self.call("GET", f"/api/v1/applications/{app['id']}")
        return dict(answer.json()) if answer is not None and answer.status_code == 200 else app

    def work_on_draft(self, app: dict[str, Any], edits: int) -> dict[str, Any] | None:
        choice = self.random.random()
        if choice < 0.4:
            motivation = f"{self.person.email} edit {edits}: learning in every district."
            body: dict[str, Any] = {"motivation": motivation, "version": app["version"]}
            if edits % 3 == 0:
                body["contact_phone"] = f"+49 30 {edits:06d}"  # Part 1 lives on the city
            answer = self.call("PATCH", f"/api/v1/applications/{app['id']}", json=body)
            if answer is not None and answer.status_code == 200:
                self.record.acknowledged(app["id"], "edit", motivation)
                return dict(answer.json())
            return self.look(app)
        if choice < 0.85:
            if not app["signed_form"]:
                answer = self.call(
                    "POST",
                    f"/api/v1/applications/{app['id']}/signed-form",
                    files={"file": ("signed.pdf", PDF, "application/pdf")},
                )
                if answer is None or answer.status_code != 200:
                    return self.look(app)
                self.record.acknowledged(app["id"], "upload")
                app = self.look(app)
            return self.act(app, "submit")
        if choice < 0.95:
            return self.withdraw(app)
        return self.look(app)

    def withdraw(self, app: dict[str, Any]) -> dict[str, Any] | None:
        return self.act(app, "withdraw")

    def act(self, app: dict[str, Any], trigger: str) -> dict[str, Any] | None:
        answer = self.call(
            "POST",
            f"/api/v1/applications/{app['id']}/actions/{trigger}",
            json={"version": app["version"]},
        )
        if answer is not None and answer.status_code == 200:
            self.record.acknowledged(app["id"], trigger)
            return dict(answer.json())
        return self.look(app)


class Commission(Client):
    """Endorses what its cities submitted, oldest deadline first, as long as it may."""

    def run(self) -> None:
        while self.record.running():
            answer = self.call("GET", "/api/v1/applications", params={"state": "submitted"})
            waiting = answer.json() if answer is not None and answer.status_code == 200 else []
            if not waiting:
                self.call("GET", "/api/v1/applications", params={"limit": 20})
                time.sleep(0.02)  # nothing to do yet: let the cities work
                continue
            app = self.random.choice(waiting)
            endorsed = self.call(
                "POST",
                f"/api/v1/applications/{app['id']}/actions/endorse",
                json={"version": app["version"], "comment": "Endorsed under load."},
            )
            if endorsed is not None and endorsed.status_code == 200:
                self.record.acknowledged(app["id"], "endorse")


# --- the checks -----------------------------------------------------------------------


def expected_state(actions: list[str]) -> str:
    """The state the acknowledged actions lead to (each happens at most once)."""
    for action, state in (
        ("withdraw", "withdrawn"),
        ("endorse", "forwarded"),
        ("submit", "submitted"),
    ):
        if action in actions:
            return state
    return "draft"


def check_database(factory: sessionmaker[Session], record: Record, call_name: str) -> None:
    with factory() as session:
        found = {a.id: a for a in session.scalars(select(Application))}
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_type == "application")
                .order_by(AuditEvent.id)
            )
        )
        quota = call_service.by_name(session, call_name).quota
    # Only acknowledged writes exist: no application the clients were not told about.
    assert set(found) == set(record.ledger), "applications created but never acknowledged"
    wrong = []
    for app_id, touched in record.ledger.items():
        app = found[app_id]
        writes = len([a for a in touched.actions if a != "create"])
        want = (expected_state(touched.actions), 1 + writes, touched.motivation)
        have = (app.state, app.version, app.motivation)
        if have != want or bool(app.signed_form) != ("upload" in touched.actions):
            wrong.append(f"application {app_id}: acknowledged {touched.actions}, stored {have}")
    assert wrong == [], "\n".join(wrong[:20])

    # The quota, at the end and at every step of the audit log (in the order written:
    # endorsements of one country are serialised by the country's lock).
    country_of = {a.id: a.country_code for a in found.values()}
    held: Counter[str] = Counter()
    for event in events:
        country = country_of[event.subject_id]
        if event.action == "endorse":
            held[country] += 1
            assert held[country] <= quota, f"{country} held {held[country]} endorsements"
        elif event.from_state == "forwarded":
            held[country] -= 1
    endorsed = Counter(a.country_code for a in found.values() if a.state in apps.ENDORSED)
    assert all(n <= quota for n in endorsed.values()), endorsed
    assert {c: n for c, n in held.items() if n} == dict(endorsed)


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def test_twenty_clients_for_fifteen_seconds(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    factory = session_factory(engine)
    settings = load_settings({}).with_overrides(database={"url": db_url})
    people, call_name = build_world(factory, settings)
    try:
        with served(db_url, tmp_path) as (url, log):
            record = Record(stop_at=float("inf"))

            def sign_in(person: Person) -> City | Commission:
                kind = City if person.role == "city" else Commission
                return kind(url, person, record)

            # Once each, a few at a time (Argon2 is slow on purpose); then only tokens.
            with ThreadPoolExecutor(max_workers=4) as pool:
                clients = list(pool.map(sign_in, people))
            record.stop_at = time.monotonic() + DURATION
            threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(DURATION + 2 * REQUEST_TIMEOUT)
                assert not thread.is_alive(), "a client hung"
            took = time.monotonic() - started
            for client in clients:
                client.close()
        server_log = log.read_text(errors="replace")
    except BaseException:
        engine.dispose()
        raise
    statuses = " ".join(f"{code}:{n}" for code, n in sorted(record.statuses.items()))
    print(
        f"\nload on {engine.dialect.name}: {len(clients)} clients, {record.requests} requests in "
        f"{took:.1f} s ({record.requests / took:.0f}/s), by status {statuses}, "
        f"connection errors and 5xx {len(record.failures)}, "
        f"p50 {percentile(record.times, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(record.times, 0.95) * 1000:.0f} ms, "
        f"write p95 {percentile(record.write_times, 0.95) * 1000:.0f} ms, "
        f"refusals {dict(record.refusals)}, applications {len(record.ledger)}"
    )
    try:
        assert record.failures == [], "\n".join(record.failures[:10])
        assert record.bad_refusals == [], "\n".join(record.bad_refusals[:10])
        assert "Traceback" not in server_log, server_log[-5000:]
        assert record.statuses[200] > 0 and record.statuses[201] > 0
        check_database(factory, record, call_name)
    finally:
        engine.dispose()
