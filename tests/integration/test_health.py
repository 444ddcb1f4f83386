"""/healthz, /readyz and /metrics over real HTTP (uvicorn + httpx), on SQLite and
PostgreSQL: readiness follows the database, the schema and the sweep's heartbeat; the
metrics say what the database holds and time requests by route template."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select, text, update

from notifications.models import OutboxMessage
from tests.conftest import utc
from tests.e2e.live import Live, live_portal
from tests.integration.email.conftest import enqueue_many
from web.app import create_app
from workflow.db import session_factory, transaction
from workflow.models import Heartbeat
from workflow.scheduler import beat, heartbeat_limit, run_once

START = utc(2027, 3, 2, 9)


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def set_sweep(live: Live, at: datetime) -> None:
    beat(live.factory, "sweep", 0.25, {"enqueued": 0})
    with transaction(live.factory) as session:
        session.execute(update(Heartbeat).where(Heartbeat.name == "sweep").values(at=at))


def test_healthz_answers_without_sign_in_or_cookie(db_url: str, tmp_path: Path) -> None:
    with live_portal(db_url, tmp_path, START) as live:
        response = httpx.get(f"{live.url}/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "set-cookie" not in response.headers
        assert response.headers["cache-control"] == "no-store"
        # An ordinary page still gets its session cookie: the bypass is only for probes.
        assert "set-cookie" in httpx.get(f"{live.url}/login").headers
        schema = httpx.get(f"{live.url}/openapi.json").json()
        assert not {"/healthz", "/readyz", "/metrics"} & set(schema["paths"])


def test_readyz_follows_the_sweep_heartbeat_and_the_schema(db_url: str, tmp_path: Path) -> None:
    with live_portal(db_url, tmp_path, START) as live:
        missing = httpx.get(f"{live.url}/readyz")
        assert missing.status_code == 503
        assert missing.json()["failed"] == ["sweep"]
        assert "never run" in missing.json()["checks"]["sweep"]["message"]
        assert "set-cookie" not in missing.headers

        set_sweep(live, datetime.now(UTC) - timedelta(seconds=30))
        fresh = httpx.get(f"{live.url}/readyz")
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["status"] == "ready" and fresh.json()["failed"] == []

        limit = heartbeat_limit(live.settings, "sweep")
        set_sweep(live, datetime.now(UTC) - limit - timedelta(minutes=5))
        stale = httpx.get(f"{live.url}/readyz")
        assert stale.status_code == 503
        assert stale.json()["failed"] == ["sweep"]
        assert "is the scheduler running" in stale.json()["checks"]["sweep"]["message"]

        # A database behind the code: the schema check fails and says what to run.
        set_sweep(live, datetime.now(UTC))
        with transaction(live.factory) as session:
            (version,) = session.execute(text("SELECT version_num FROM alembic_version")).one()
            session.execute(text("UPDATE alembic_version SET version_num = '0004'"))
        try:
            behind = httpx.get(f"{live.url}/readyz")
        finally:
            with transaction(live.factory) as session:
                session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": version})
        assert behind.status_code == 503
        assert behind.json()["failed"] == ["schema"]
        assert "gnlc db upgrade" in behind.json()["checks"]["schema"]["message"]
        assert httpx.get(f"{live.url}/readyz").status_code == 200


def test_readyz_names_a_database_that_does_not_answer(tmp_path: Path) -> None:
    from config import load_settings

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    url = f"sqlite:///{blocker}/gnlc.db"
    settings = load_settings({}).with_overrides(
        database={"url": url}, mail={"maildir": str(tmp_path / "mail")}
    )
    engine = create_engine(url)
    app = create_app(settings, session_factory(engine))

    async def probe() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
            return await client.get("/readyz"), await client.get("/healthz")

    response, alive = asyncio.run(probe())
    engine.dispose()
    assert alive.status_code == 200  # alive, not ready
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert "cannot open the SQLite file" in response.json()["checks"]["database"]["message"]


def test_metrics_match_the_database_after_mail_is_enqueued_and_sent(
    db_url: str, tmp_path: Path
) -> None:
    with live_portal(db_url, tmp_path, START) as live:
        enqueue_many(live.factory, live.settings, 4, START - timedelta(minutes=20))
        live.clock.moment = START
        before = samples(httpx.get(f"{live.url}/metrics").text)
        with live.factory() as session:
            counts: dict[str, int] = {
                status: count
                for status, count in session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                )
            }
            oldest = session.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
            )
        assert counts.get("pending", 0) >= 4
        assert before[("gnlc_database_up", ())] == 1
        assert before[("gnlc_outbox_messages", (("status", "pending"),))] == counts["pending"]
        assert before[("gnlc_outbox_messages", (("status", "sent"),))] == counts.get("sent", 0)
        assert oldest is not None
        age = (START - oldest).total_seconds()
        assert before[("gnlc_outbox_oldest_pending_age_seconds", ())] == age >= 20 * 60
        assert before[("gnlc_sweep_last_run_timestamp_seconds", ())] == 0  # never ran

        _, result = run_once(live.factory, live.settings, now=START)
        assert result is not None and result.sent >= 4
        with transaction(live.factory) as session:
            first = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
            assert first is not None
            first.status = "dead"
        after = samples(httpx.get(f"{live.url}/metrics").text)
        with live.factory() as session:
            runs = {h.name: h for h in session.scalars(select(Heartbeat))}
            sent = session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
        assert after[("gnlc_outbox_messages", (("status", "pending"),))] == 0
        assert after[("gnlc_outbox_messages", (("status", "sent"),))] == sent
        assert after[("gnlc_outbox_dead_letters", ())] == 1
        assert after[("gnlc_outbox_oldest_pending_age_seconds", ())] == 0
        assert after[("gnlc_sweep_last_run_timestamp_seconds", ())] == runs["sweep"].at.timestamp()
        assert after[("gnlc_sweep_last_duration_seconds", ())] == runs["sweep"].duration_seconds
        dispatched = runs["dispatch"].at.timestamp()
        assert after[("gnlc_dispatch_last_run_timestamp_seconds", ())] == dispatched
        assert after[("gnlc_dispatch_sender_down", ())] == 0


def test_request_latency_is_labelled_by_route_template(db_url: str, tmp_path: Path) -> None:
    with live_portal(db_url, tmp_path, START) as live:
        httpx.get(f"{live.url}/applications/987654")
        httpx.get(f"{live.url}/no/such/page/4711")
        body = httpx.get(f"{live.url}/metrics").text
    routes = {
        dict(s.labels)["route"]
        for family in text_string_to_metric_families(body)
        if family.name == "gnlc_http_request_duration_seconds"
        for s in family.samples
    }
    assert "/applications/{app_id}" in routes
    assert "unmatched" in routes
    assert not any("987654" in r or "4711" in r for r in routes)
