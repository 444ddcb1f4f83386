"""Calendar feeds: each user's secret address, and the iCalendar (RFC 5545) it serves.

The address is ``<public_url>/calendar/<token>.ics``; anyone holding it reads the feed
without signing in, so the token is long and random, and only its SHA-256 is stored
(:class:`web.models.CalendarFeed`). It is the HMAC of a random nonce under the portal's
secret key: the owner's pages, the API and ``gnlc calendar url`` can say it again, while
the database alone gives no address away. Renewing draws a new nonce, so the old address
stops working at once (changing the secret key ends every address too, as it ends every
sign-in; the owner's page then shows the new one).

What a feed shows is the domain's (:mod:`workflow.feeds`); this module says it in the
owner's language: timed events carry the ``TZID`` of the call's timezone with its
``VTIMEZONE``, report due dates are all-day events, every event has a stable ``UID``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from web.i18n import translator
from web.models import CalendarFeed
from web.sessions import resolve_secret_key
from workflow import feeds
from workflow.db import dialect_insert
from workflow.models import User
from workflow.services.users import actor_for

#: The feed's path under the portal, and how often a calendar should read it again.
PATH = "/calendar/{token}.ics"
REFRESH = timedelta(hours=6)
MEDIA_TYPE = "text/calendar; charset=utf-8"


def _token(settings: Settings, user_id: int, nonce: str) -> str:
    key = resolve_secret_key(settings).encode()
    digest = hmac.new(key, f"calendar-feed:{user_id}:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Address:
    """A feed's secret address, and when it was made (first, or on its last renewal)."""

    url: str
    renewed_at: datetime


def _address(settings: Settings, token: str, feed: CalendarFeed) -> Address:
    return Address(settings.web.public_url.rstrip("/") + PATH.format(token=token), feed.renewed_at)


def existing(session: Session, settings: Settings, user_id: int) -> Address | None:
    """The user's feed address if it was made and still matches the secret key; only
    reads (a page view), else None: then :func:`address` makes it."""
    feed = session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == user_id)).first()
    if feed is None:
        return None
    token = _token(settings, user_id, feed.nonce)
    return _address(settings, token, feed) if feed.token_hash == _hash(token) else None


def address(session: Session, settings: Settings, user_id: int, now: datetime) -> Address:
    """The user's feed address, made on first use (idempotent, safe in parallel)."""
    session.execute(
        dialect_insert(session)(CalendarFeed)
        .values(
            user_id=user_id,
            nonce=secrets.token_urlsafe(32),
            token_hash=secrets.token_hex(32),  # set below, once the row is ours
            created_at=now,
            renewed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    feed = session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == user_id)).one()
    token = _token(settings, user_id, feed.nonce)
    if feed.token_hash != _hash(token):  # new, or the secret key changed
        feed.token_hash = _hash(token)
        session.flush()
    return _address(settings, token, feed)


def renew(session: Session, settings: Settings, user_id: int, now: datetime) -> Address:
    """A new address for the user's feed; the old one answers 404 from now on."""
    address(session, settings, user_id, now)
    feed = session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user_id).with_for_update()
    ).one()
    feed.nonce = secrets.token_urlsafe(32)
    feed.renewed_at = now
    token = _token(settings, user_id, feed.nonce)
    feed.token_hash = _hash(token)
    session.flush()
    return _address(settings, token, feed)


def owner(session: Session, token: str) -> User | None:
    """The active user whose feed ``token`` opens (None: no such feed)."""
    if not 20 <= len(token) <= 100:
        return None
    user = session.scalars(
        select(User)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token_hash == _hash(token))
    ).first()
    return user if user is not None and user.active else None


# --- iCalendar ---------------------------------------------------------------------------


def _link(settings: Settings, entry: feeds.Entry) -> str:
    base = settings.web.public_url.rstrip("/")
    if entry.membership is not None:
        return f"{base}/members/{entry.membership.id}"
    if entry.kind is feeds.EntryKind.COMMISSION_DEADLINE and entry.call is not None:
        return f"{base}/applications?call={quote(entry.call.name)}"
    if entry.kind is feeds.EntryKind.REVIEW_DEADLINE:
        return f"{base}/jury"
    return f"{base}/"


def words(lang: str, entry: feeds.Entry) -> tuple[str, str]:
    """The entry's summary and description in ``lang``."""
    t = translator(lang)
    values = {
        "call": entry.call.name if entry.call is not None else "",
        "city": entry.city.name if entry.city is not None else "",
        "zone": entry.timezone,
    }
    return (
        t(f"calendar.{entry.kind.value}.summary", **values),
        t(f"calendar.{entry.kind.value}.description", **values),
    )


def _event(settings: Settings, entry: feeds.Entry, lang: str, stamp: datetime) -> icalendar.Event:
    event = icalendar.Event()
    host = urlsplit(settings.web.public_url).hostname or "gnlc"
    event.add("uid", f"{entry.uid}@{host}")
    event.add("dtstamp", stamp)
    summary, description = words(lang, entry)
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", _link(settings, entry))
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    if entry.day is not None:
        event.add("dtstart", entry.day)  # VALUE=DATE: the domain says a date
        event.add("dtend", entry.day + timedelta(days=1))
    else:
        assert entry.starts is not None and entry.ends is not None
        zone = ZoneInfo(entry.timezone)
        event.add("dtstart", entry.starts.astimezone(zone))
        event.add("dtend", entry.ends.astimezone(zone))
    return event


def calendar(session: Session, settings: Settings, user: User, now: datetime) -> bytes:
    """The feed of ``user`` at ``now``, in the user's language."""
    lang = user.language
    found = feeds.entries(session, settings, actor_for(user), now)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//UNESCO GNLC//membership calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    network = settings.network.name_in(lang)
    t = translator(lang)
    name = t("calendar.feed_name", network=network, name=user.name)
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for entry in found:
        cal.add_component(_event(settings, entry, lang, stamp))
    cal.add_missing_timezones()
    body: bytes = cal.to_ical()
    return body
