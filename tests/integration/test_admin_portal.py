"""Administration in the portal, over real HTTP on SQLite and PostgreSQL: users (search,
edit, role and scope, deactivation ending sessions), cities (create, edit, contact),
memberships (remove, reinstate, withdraw with a reason, through the machine and its
mail), the outbox (by status, one message, retry and discard, also in bulk).

Every form answers with a redirect (Post-Redirect-Get): a refusal is shown on the page
the form came from, in the reader's language, naming the field by its label, with the
input kept; who may not gets 403 from the service.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from notifications.models import OutboxMessage
from notifications.outbox import content
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from workflow.models import City, Membership, User

START = datetime(2027, 3, 10, 9, tzinfo=UTC)
ALERT = re.compile(r'role="alert">(.*?)</div>', re.S)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


@pytest.fixture
def people(live: Live) -> Iterator[dict[str, Visitor]]:
    found = {
        "admin": visitor(live.url, "admin@example.org"),
        "institute": visitor(live.url, "institute@example.org"),
        "commission": visitor(live.url, "commission.lv@example.org"),
        "city": visitor(live.url, "valmiera@example.org"),
    }
    yield found
    for person in found.values():
        person.close()


def refused_on(person: Visitor, response_path: str) -> str:
    """The alert of the page a refused form was sent back to."""
    page = person.pages.get(response_path)
    assert page.status_code == 200
    found = ALERT.search(page.text)
    assert found, page.text[:2000]
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def user_id(live: Live, email: str) -> int:
    with live.factory() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def test_users_search_edit_and_refusals_in_the_readers_words(
    live: Live, people: dict[str, Visitor]
) -> None:
    admin = people["admin"]
    listed = admin.pages.get("/admin/users", params={"q": "VALMIERA"})
    assert listed.status_code == 200
    assert "valmiera@example.org" in listed.text and "jelgava@example.org" not in listed.text
    assert "1 user" in listed.text
    by_role = admin.pages.get("/admin/users", params={"role": "commission"})
    assert "commission.fr@example.org" in by_role.text
    assert "institute@example.org" not in by_role.text

    uid = user_id(live, "jelgava@example.org")
    page = f"/admin/users/{uid}"
    form = {"email": "jelgava@example.org", "name": "Jelgava office", "language": "lv",
            "role": "city", "city_id": "", "country_code": "", "active": "1"}  # fmt: skip
    # A city user without a city: refused on the user's page, with the field's label and
    # the input kept.
    missing = admin.post_form(page, form)
    assert missing.status_code == 303 and missing.headers["location"] == page
    shown = admin.pages.get(page)
    assert "A city user needs a city: choose it in “City (city users)”." in shown.text
    assert 'value="Jelgava office"' in shown.text
    assert "--city" not in shown.text
    with live.factory() as session:
        jelgava = session.scalars(select(City).where(City.name == "Jelgava")).one()
    saved = admin.post_form(page, {**form, "city_id": str(jelgava.id)})
    assert saved.status_code == 303 and saved.headers["location"] == f"{page}?done=user_saved"
    with live.factory() as session:
        user = session.get(User, uid)
        assert user is not None and (user.name, user.language) == ("Jelgava office", "lv")

    # A bad email on a French page: French words, the label, never the key.
    admin.pages.post("/language", data={"csrf_token": admin.csrf, "lang": "fr", "next": "/"})
    bad = admin.post_form(page, {**form, "city_id": str(jelgava.id), "email": "not-an-address"})
    assert bad.status_code == 303
    said = refused_on(admin, page)
    assert "« E-mail »" in said or "Adresse" in said or "e-mail" in said.lower(), said
    assert "email:" not in said and "not an email" not in said
    taken = admin.post_form(
        "/admin/users", {"email": "lyon@example.org", "role": "institute", "language": "fr"}
    )
    assert taken.status_code == 303 and taken.headers["location"] == "/admin/users"
    said = refused_on(admin, "/admin/users")
    assert "lyon@example.org" in said and "exists already" not in said


def test_a_change_of_role_or_a_deactivation_ends_the_users_sessions(
    live: Live, people: dict[str, Visitor]
) -> None:
    admin, city = people["admin"], people["city"]
    assert city.pages.get("/members").status_code == 200
    uid = user_id(live, "valmiera@example.org")
    off = admin.post_form(f"/admin/users/{uid}/active", {"active": "", "from": "user"})
    assert off.headers["location"] == f"/admin/users/{uid}?done=user_deactivated"
    # Signed out at once: the next page asks to sign in.
    assert city.pages.get("/members").status_code == 303
    with live.factory() as session:
        assert session.get(User, uid).active is False  # type: ignore[union-attr]
    on = admin.post_form(f"/admin/users/{uid}/active", {"active": "1"})
    assert on.headers["location"] == "/admin/users?done=user_reactivated"
    again = visitor(live.url, "valmiera@example.org")
    try:
        # The Commission of Latvia's officer becomes an Institute officer: signed out.
        commission = people["commission"]
        cid = user_id(live, "commission.lv@example.org")
        form = {"email": "commission.lv@example.org", "name": "Laura", "language": "lv",
                "role": "institute", "active": "1"}  # fmt: skip
        assert admin.post_form(f"/admin/users/{cid}", form).status_code == 303
        assert commission.pages.get("/").status_code == 303
        assert again.pages.get("/members").status_code == 200
    finally:
        again.close()


def test_cities_create_edit_and_search(live: Live, people: dict[str, Visitor]) -> None:
    admin = people["admin"]
    form = {"name": "Ogre", "country_code": "LV", "contact_email": "dome@ogre.lv",
            "contact_name": "Dome", "language": "lv", "population": "23 000"}  # fmt: skip
    created = admin.post_form("/admin/cities", form)
    assert created.status_code == 303
    assert created.headers["location"].endswith("?done=city_created")
    page = created.headers["location"].split("?")[0]
    with live.factory() as session:
        ogre = session.scalars(select(City).where(City.name == "Ogre")).one()
        assert (ogre.population, ogre.language) == (23_000, "lv")
    assert page == f"/admin/cities/{ogre.id}"
    found = admin.pages.get("/admin/cities", params={"q": "ogr"})
    assert "Ogre" in found.text and "Jelgava" not in found.text and "1 city" in found.text

    # The same name twice in a country: refused on the list, the input kept.
    twice = admin.post_form("/admin/cities", {**form, "contact_email": "other@ogre.lv"})
    assert twice.headers["location"] == "/admin/cities"
    listed = admin.pages.get("/admin/cities")
    assert "has a city named Ogre already" in listed.text
    assert 'value="other@ogre.lv"' in listed.text
    # A wrong contact email names the field by its label.
    wrong = admin.post_form(page, {**form, "contact_email": "dome-at-ogre"})
    assert wrong.headers["location"] == page
    said = refused_on(admin, page)
    assert "“Contact email”: dome-at-ogre is not an email address" in said, said
    assert "contact_email" not in said
    # Setting the contact: a blank field is cleared.
    moved = admin.post_form(page, {**form, "contact_email": "info@ogre.lv", "population": ""})
    assert moved.headers["location"] == f"{page}?done=city_saved"
    with live.factory() as session:
        ogre = session.scalars(select(City).where(City.name == "Ogre")).one()
        assert (ogre.contact_email, ogre.population) == ("info@ogre.lv", None)


def _valmiera(live: Live) -> Membership:
    with live.factory() as session:
        return session.scalars(select(Membership).join(City).where(City.name == "Valmiera")).one()


def _mail(live: Live, occasion: str) -> list[OutboxMessage]:
    with live.factory() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.occasion == occasion))
        )


#: The demo's addresses (web/demo.py): demo ones, never a real office's.
VALMIERA, LV_COMMISSION = "valmiera.lv@demo.example.org", "office.lv@demo.example.org"
NEEDS_A_REASON = 'Say why: "{}" needs a comment for the city.'


def _owed_to_city_and_commission(live: Live, occasion: str, reason: str) -> None:
    """The mail of ``occasion``: to the city, Cc its Commission, with the reason."""
    mails = _mail(live, occasion)
    assert {m.recipient for m in mails} == {VALMIERA, LV_COMMISSION}, occasion
    assert all(m.to_addrs == [VALMIERA] and m.cc_addrs == [LV_COMMISSION] for m in mails)
    assert all(reason in content(m).text for m in mails), occasion


def test_remove_reinstate_and_withdraw_with_a_reason_and_their_mail(
    live: Live, people: dict[str, Visitor]
) -> None:
    institute, city = people["institute"], people["city"]
    member = _valmiera(live)
    detail = institute.pages.get(f"/members/{member.id}")
    assert f'href="/members/{member.id}/change/remove"' in detail.text
    confirm = institute.pages.get(f"/members/{member.id}/change/remove")
    assert confirm.status_code == 200 and "Yes, remove the member" in confirm.text
    path = f"/members/{member.id}/change/remove"
    # Without a reason: back on the confirmation page, nothing changed.
    blank = institute.post_form(path, {"reason": "  "})
    assert blank.status_code == 303 and blank.headers["location"] == path
    assert NEEDS_A_REASON.format("Remove from the network") in refused_on(institute, path)
    assert _valmiera(live).state == "active" and not _mail(live, "membership_removed")

    removed = institute.post_form(path, {"reason": "No report since 2020."})
    assert removed.headers["location"] == f"/members/{member.id}?done=member_remove"
    assert _valmiera(live).state == "removed"
    _owed_to_city_and_commission(live, "membership_removed", "No report since 2020.")
    shown = institute.pages.get(removed.headers["location"])
    assert "The member is removed from the network" in shown.text
    assert f"/members/{member.id}/change/reinstate" in shown.text

    back = institute.post_form(
        f"/members/{member.id}/change/reinstate", {"reason": "The reports came in."}
    )
    assert back.headers["location"] == f"/members/{member.id}?done=member_reinstate"
    assert _valmiera(live).state == "active" and _mail(live, "membership_reinstated")

    # The city leaves the network itself, a reason optional: the field is not required.
    assert "/change/withdraw" in city.pages.get(f"/members/{member.id}").text
    asked = city.pages.get(f"/members/{member.id}/change/withdraw")
    assert "Yes, leave the network" in asked.text and "required" not in asked.text
    left = city.post_form(f"/members/{member.id}/change/withdraw", {"reason": ""})
    assert left.headers["location"] == f"/members/{member.id}?done=member_withdraw"
    assert _valmiera(live).state == "withdrawn" and _mail(live, "membership_withdrawn")


def test_an_administrator_removes_reinstates_and_withdraws_on_the_citys_request(
    live: Live, people: dict[str, Visitor]
) -> None:
    admin = people["admin"]
    member = _valmiera(live)
    detail = admin.pages.get(f"/members/{member.id}")
    assert f'href="/members/{member.id}/change/remove"' in detail.text
    assert f'href="/members/{member.id}/change/withdraw"' in detail.text
    assert "Withdraw at the city&#39;s request" in detail.text
    assert f"/members/{member.id}/change/reinstate" not in detail.text  # it is active

    path = f"/members/{member.id}/change/remove"
    asked = admin.pages.get(path)
    assert asked.status_code == 200 and "Yes, remove the member" in asked.text
    assert 'required aria-required="true"' in asked.text
    assert admin.post_form(path, {"reason": ""}).headers["location"] == path
    assert NEEDS_A_REASON.format("Remove from the network") in refused_on(admin, path)
    assert _valmiera(live).state == "active" and not _mail(live, "membership_removed")
    removed = admin.post_form(path, {"reason": "No report for six years."})
    assert removed.headers["location"] == f"/members/{member.id}?done=member_remove"
    assert _valmiera(live).state == "removed"
    _owed_to_city_and_commission(live, "membership_removed", "No report for six years.")

    # The outbox says what kind of message each one is, beside its subject.
    listed = admin.pages.get("/admin/outbox")
    kinds = re.findall(r'data-label="Kind of message">([^<]*)</td>', listed.text)
    assert kinds.count("Membership removed") == 2, kinds
    one = admin.pages.get(f"/admin/outbox/{_mail(live, 'membership_removed')[0].id}")
    assert "<dt>Kind of message</dt><dd>Membership removed</dd>" in one.text

    reinstated = admin.post_form(
        f"/members/{member.id}/change/reinstate", {"reason": "The reports came in."}
    )
    assert reinstated.headers["location"] == f"/members/{member.id}?done=member_reinstate"
    assert _valmiera(live).state == "active"
    _owed_to_city_and_commission(live, "membership_reinstated", "The reports came in.")

    # Withdrawn on the city's written request: the request is the reason, and required.
    path = f"/members/{member.id}/change/withdraw"
    asked = admin.pages.get(path)
    assert "Yes, withdraw the member" in asked.text and "signed by" in asked.text
    assert 'required aria-required="true"' in asked.text
    assert admin.post_form(path, {"reason": " "}).headers["location"] == path
    assert NEEDS_A_REASON.format("Leave the network") in refused_on(admin, path)
    assert _valmiera(live).state == "active" and not _mail(live, "membership_withdrawn")
    request = "The mayor's letter of 2 March 2027."
    left = admin.post_form(path, {"reason": request})
    assert left.headers["location"] == f"/members/{member.id}?done=member_withdraw"
    assert _valmiera(live).state == "withdrawn"
    _owed_to_city_and_commission(live, "membership_withdrawn", request)


def test_only_those_who_may_change_a_membership_get_its_pages(
    live: Live, people: dict[str, Visitor]
) -> None:
    member = _valmiera(live)
    lyon = visitor(live.url, "lyon@example.org")
    try:
        for person, trigger in ((people["city"], "remove"), (people["city"], "reinstate"),
                                (people["commission"], "remove"),
                                (people["commission"], "reinstate"),
                                (people["commission"], "withdraw"),
                                (lyon, "withdraw")):  # fmt: skip
            path = f"/members/{member.id}/change/{trigger}"
            assert person.pages.get(path).status_code == 403, (person, trigger)
            assert person.post_form(path, {"reason": "x"}).status_code == 403, (person, trigger)
    finally:
        lyon.close()
    assert people["admin"].pages.get(f"/members/{member.id}/change/admit").status_code == 404
    assert _valmiera(live).state == "active"
    assert not _mail(live, "membership_removed") and not _mail(live, "membership_withdrawn")


def some_mail(live: Live, admin: Visitor) -> list[int]:
    """Four messages in the outbox (invitations sent by the administrator)."""
    for email in ("jelgava@example.org", "lyon@example.org", "valmiera@example.org",
                  "institute@example.org"):  # fmt: skip
        assert admin.post_form(f"/admin/users/{user_id(live, email)}/invite").status_code == 303
    with live.factory() as session:
        return list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))


PAGES = ["/admin/users", "/admin/users/{user}", "/admin/cities", "/admin/cities/{city}",
         "/admin/outbox", "/admin/outbox/{mail}", "/admin/outbox/discard?id={mail}",
         "/admin/countries"]  # fmt: skip


def test_administration_pages_are_the_administrators(
    live: Live, people: dict[str, Visitor]
) -> None:
    mail = some_mail(live, people["admin"])[0]
    with live.factory() as session:
        session.execute(update(OutboxMessage).values(status="dead"))
        session.commit()
        city = session.scalars(select(City.id)).first()
    for pattern in PAGES:
        path = pattern.format(user=user_id(live, "lyon@example.org"), city=city, mail=mail)
        for role in ("city", "commission", "institute"):
            assert people[role].pages.get(path).status_code == 403, (role, path)
        assert people["admin"].pages.get(path).status_code == 200, path


POSTS = [
    ("/admin/users", {"email": "x@example.org", "role": "institute"}),
    ("/admin/users/1", {"email": "admin@example.org", "role": "city"}),
    ("/admin/users/1/active", {"active": ""}),
    ("/admin/cities", {"name": "Ogre", "country_code": "LV", "contact_email": "a@ogre.lv"}),
    ("/admin/cities/1", {"name": "X", "country_code": "LV", "contact_email": "a@x.lv"}),
    ("/admin/countries", {"code": "DE", "name": "Germany", "commission_email": "a@b.de"}),
    ("/admin/outbox/retry", {"id": "1"}),
    ("/admin/outbox/discard", {"id": "1"}),
]


def test_administration_forms_refuse_everyone_else(live: Live, people: dict[str, Visitor]) -> None:
    some_mail(live, people["admin"])
    with live.factory() as session:
        session.execute(update(OutboxMessage).values(status="dead"))
        session.commit()
    for path, form in POSTS:
        for role in ("city", "commission", "institute"):
            got = people[role].post_form(path, form)
            assert got.status_code == 403, (role, path)
    with live.factory() as session:
        assert session.scalars(select(City).where(City.name == "Ogre")).first() is None
        assert {m.status for m in session.scalars(select(OutboxMessage))} == {"dead"}
        assert session.get(User, 1).active  # type: ignore[union-attr]


def test_outbox_by_status_show_retry_and_discard_in_bulk(
    live: Live, people: dict[str, Visitor]
) -> None:
    admin = people["admin"]
    ids = some_mail(live, admin)
    with live.factory() as session:
        dead, more, failed, sent = ids[0], ids[1], ids[2], ids[3]
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([dead, more]))
            .values(status="dead", attempts=5, last_error="550 no such mailbox")
        )
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == failed).values(status="failed")
        )
        session.execute(update(OutboxMessage).where(OutboxMessage.id == sent).values(status="sent"))
        session.commit()
    listed = admin.pages.get("/admin/outbox", params={"status": "dead"})
    assert listed.status_code == 200
    assert "550 no such mailbox" in listed.text and "Not delivered (2)" in listed.text
    assert f'name="id" value="{dead}"' in listed.text
    one = admin.pages.get(f"/admin/outbox/{dead}")
    assert one.status_code == 200 and "Message-ID" in one.text and "<pre" in one.text

    # Retry two at once.
    retried = admin.post_form(
        "/admin/outbox/retry", {"id": str(dead), "back": "/admin/outbox?status=dead"}
    )
    assert retried.headers["location"] == "/admin/outbox?status=dead&done=outbox_retried"
    # A bulk action with a message that cannot take it changes none of them.
    with_sent = admin.pages.post(
        "/admin/outbox/retry",
        data={"csrf_token": admin.csrf, "id": [str(more), str(sent)]},
    )
    assert with_sent.headers["location"] == "/admin/outbox"
    assert f"Message {sent} cannot be sent again" in refused_on(admin, "/admin/outbox")
    with live.factory() as session:
        status = {m.id: m.status for m in session.scalars(select(OutboxMessage))}
    assert (status[dead], status[more], status[sent]) == ("pending", "dead", "sent")

    # Discard asks first: the list's button leads to a confirmation of the chosen ones.
    asked = admin.pages.post(
        "/admin/outbox/discard/confirm",
        data={"csrf_token": admin.csrf, "id": [str(more), str(failed)]},
    )
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/admin/outbox/discard?id={more}&id={failed}"
    confirm = admin.pages.get(asked.headers["location"])
    assert "These 2 messages will not be sent" in confirm.text
    with live.factory() as session:
        assert session.get(OutboxMessage, more).status == "dead"  # type: ignore[union-attr]
    done = admin.pages.post(
        "/admin/outbox/discard", data={"csrf_token": admin.csrf, "id": [str(more), str(failed)]}
    )
    assert done.headers["location"] == "/admin/outbox?status=discarded&done=outbox_discarded"
    with live.factory() as session:
        status = {m.id: m.status for m in session.scalars(select(OutboxMessage))}
    assert (status[more], status[failed]) == ("discarded", "discarded")
    # None chosen: said so on the list.
    none = admin.post_form("/admin/outbox/discard/confirm", {"back": "/admin/outbox"})
    assert none.headers["location"] == "/admin/outbox"
    assert "Choose at least one message first." in refused_on(admin, "/admin/outbox")
