"""The JSON API fuzzed from its own OpenAPI document (schemathesis + Hypothesis) against a
live portal, anonymous and signed in as several roles: no request makes a server error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.result import Ok

from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal

EXAMPLES = 6  # per operation and role: bounded so the whole run stays well under a minute
ROLES = {
    "anonymous": None,
    "city": "jelgava@example.org",
    "commission": "commission.lv@example.org",
    "institute": "institute@example.org",
    "admin": "admin@example.org",
}


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(sqlite_url, tmp_path, datetime(2027, 3, 10, 9, tzinfo=UTC)) as portal:
        yield portal


def tokens(live: Live) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    for role, email in ROLES.items():
        person = visitor(live.url, email)
        auth = person.api.headers.get("Authorization")
        headers[role] = {"Authorization": auth} if auth else {}
        person.close()
    return headers


@pytest.mark.slow
def test_no_request_from_the_openapi_document_gets_a_server_error(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document is invalid: {result}"
        operations.append(result.ok())
    assert len(operations) >= 20, "the OpenAPI document lost operations"
    failures: list[str] = []
    for role, headers in tokens(live).items():
        for operation in operations:
            call_as(live, role, headers, operation, failures)
    assert not failures, "\n".join(failures[:20])


def call_as(
    live: Live,
    role: str,
    headers: dict[str, str],
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    failures: list[str],
) -> None:
    """Up to EXAMPLES generated requests to one operation as one role."""

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
        response = case.call(base_url=live.url, headers=headers, timeout=30)
        if response.status_code >= 500:
            failures.append(
                f"{role}: {case.method} {case.formatted_path} -> "
                f"{response.status_code}: {response.text[:200]}"
            )

    call()
