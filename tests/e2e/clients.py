"""HTTP clients signed in as the demo users: by page (cookie + CSRF) and by API (token)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from web.demo import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

#: The roles of the authorisation matrix and the demo account each signs in as.
ACCOUNTS: dict[str, str | None] = {
    "anonymous": None,
    "city_a": "jelgava@example.org",  # Jelgava, Latvia
    "city_b": "lyon@example.org",  # Lyon, France
    "commission_lv": "commission.lv@example.org",
    "commission_fr": "commission.fr@example.org",
    "institute": "institute@example.org",
    "admin": "admin@example.org",
}


@dataclass
class Visitor:
    """One person: a browser-like client for pages and a token client for the API."""

    pages: httpx.Client
    api: httpx.Client
    csrf: str

    def post_form(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.pages.post(path, data={"csrf_token": self.csrf, **(data or {})})

    def close(self) -> None:
        self.pages.close()
        self.api.close()


def csrf_of(client: httpx.Client, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def visitor(base_url: str, email: str | None) -> Visitor:
    pages = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    api = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    csrf = csrf_of(pages)
    if email is not None:
        signed = pages.post(
            "/login",
            data={"csrf_token": csrf, "email": email, "password": PASSWORD, "next": "/"},
        )
        assert signed.status_code == 303, signed.text[:500]
        csrf = csrf_of(pages, "/")
        token = api.post("/api/v1/session", json={"email": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return Visitor(pages, api, csrf)
