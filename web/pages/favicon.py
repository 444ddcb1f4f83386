"""``/favicon.ico``: browsers and crawlers ask for it whatever the page says; the answer is
the portal's SVG icon (the pages name it with ``<link rel="icon">``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

router = APIRouter(include_in_schema=False)

ICON = Path(__file__).resolve().parents[1] / "static" / "favicon.svg"


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(
        ICON.read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
