"""The signed form on disk: bounded versions, a per-city quota, no orphan file after a
refusal, an error or a retried race, and a clear refusal when the folder is read-only.

Against the services and the real database (SQLite and PostgreSQL) and the real disk.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from config.paths import uploads_folder
from tests.conftest import World, utc
from tests.e2e.clients import visitor
from tests.e2e.live import live_portal
from workflow.db import retried, transaction
from workflow.models import Application, UploadedFile
from workflow.uploads import (
    UploadNotStored,
    UploadQuotaExceeded,
    UploadRefused,
    store_signed_form,
)

NOW = utc(2027, 3, 10, 9)
SIZE = 200_000  # 0.2 MB


def pdf(n: int, size: int = SIZE) -> bytes:
    """A distinct PDF of ``size`` bytes."""
    head = f"%PDF-1.4\n% version {n}\n".encode()
    return head + b"0" * (size - len(head))


def upload(world: World, app_id: int, data: bytes, folder: Path, city: str = "Jelgava") -> str:
    with transaction(world.factory) as session:
        record = store_signed_form(
            session,
            world.settings,
            world.city(city),
            app_id,
            filename="signed.pdf",
            data=data,
            folder=folder,
            now=NOW,
        )
        return record.stored_name


def rows(world: World) -> list[UploadedFile]:
    with transaction(world.factory) as session:
        found = session.scalars(select(UploadedFile).order_by(UploadedFile.id)).all()
        session.expunge_all()
        return list(found)


def on_disk(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


def test_replacing_keeps_the_configured_versions_and_deletes_older_files(
    world: World, folder: Path
) -> None:
    kept = world.settings.web.upload_versions_kept
    assert kept == 2  # the shipped default; the test reads it rather than assuming more
    app_id = world.draft("Jelgava", NOW, signed=False)
    names = [upload(world, app_id, pdf(n), folder) for n in range(6)]

    stored = rows(world)
    assert [r.stored_name for r in stored] == names[-(kept + 1) :]
    assert on_disk(folder) == set(names[-(kept + 1) :])  # older files are gone from disk
    current, *earlier = sorted(stored, key=lambda r: r.id, reverse=True)
    assert current.replaced_at is None
    assert all(r.replaced_at is not None for r in earlier)
    with transaction(world.factory) as session:
        app = session.get(Application, app_id)
        assert app is not None and app.signed_form == names[-1]
    assert (folder / names[-1]).read_bytes() == pdf(5)
    assert sum(p.stat().st_size for p in folder.iterdir()) == (kept + 1) * SIZE


def test_no_earlier_versions_kept_when_set_to_zero(world: World, folder: Path) -> None:
    world.settings = world.settings.with_overrides(web={"upload_versions_kept": 0})
    app_id = world.draft("Jelgava", NOW, signed=False)
    names = [upload(world, app_id, pdf(n), folder) for n in range(3)]
    assert [r.stored_name for r in rows(world)] == names[-1:]
    assert on_disk(folder) == {names[-1]}


def test_the_city_quota_counts_every_stored_file_and_refuses_in_megabytes(
    world: World, folder: Path
) -> None:
    # Room for five files of 0.2 MB per city; one earlier version kept per application.
    world.settings = world.settings.with_overrides(
        web={"upload_city_quota_bytes": 5 * SIZE, "upload_versions_kept": 1}
    )
    first = world.draft("Jelgava", NOW, signed=False)
    second = world.draft("Jelgava", utc(2028, 3, 10), signed=False)  # the same city, the next call
    for n, app_id in enumerate((first, first, second, second)):
        upload(world, app_id, pdf(n), folder)
    before_rows, before_disk = len(rows(world)), on_disk(folder)
    assert before_rows == 4  # 0.8 MB stored

    # Replacing frees the oldest version of ``first`` (0.2 MB): 0.6 + 0.41 > 1.0 MB.
    with pytest.raises(UploadQuotaExceeded) as refused:
        upload(world, first, pdf(9, size=410_000), folder)
    message = str(refused.value)
    assert "0.6 MB" in message and "0.4 MB" in message and "1.0 MB" in message
    assert "bytes" not in message and refused.value.status == 413
    assert len(rows(world)) == before_rows and on_disk(folder) == before_disk

    # A file that fits after the oldest version goes: 0.6 + 0.2 MB.
    upload(world, first, pdf(5), folder)
    assert len(rows(world)) == before_rows
    # Jelgava's files do not count against another city.
    lyon = world.draft("Lyon", NOW, signed=False)
    upload(world, lyon, pdf(7, size=4 * SIZE), folder, city="Lyon")


def test_a_refused_or_failed_transaction_leaves_no_file(world: World, folder: Path) -> None:
    app_id = world.draft("Jelgava", NOW, signed=False)
    kept = upload(world, app_id, pdf(1), folder)
    with pytest.raises(RuntimeError), transaction(world.factory) as session:
        store_signed_form(
            session,
            world.settings,
            world.city("Jelgava"),
            app_id,
            filename="signed.pdf",
            data=pdf(2),
            folder=folder,
            now=NOW,
        )
        raise RuntimeError("the handler failed after storing")
    assert on_disk(folder) == {kept}
    assert [r.stored_name for r in rows(world)] == [kept]
    with pytest.raises(UploadRefused):
        upload(world, app_id, b"not a pdf", folder)
    assert on_disk(folder) == {kept}


class LostRace(Exception):
    """What the database driver raises on a deadlock (SQLSTATE 40P01)."""

    sqlstate = "40P01"


def test_a_handler_run_again_after_a_deadlock_leaves_one_file(world: World, folder: Path) -> None:
    app_id = world.draft("Jelgava", NOW, signed=False)
    runs: list[str] = []

    @retried
    def handler() -> str:
        with transaction(world.factory) as session:
            record = store_signed_form(
                session,
                world.settings,
                world.city("Jelgava"),
                app_id,
                filename="signed.pdf",
                data=pdf(len(runs)),
                folder=folder,
                now=NOW,
            )
            runs.append(record.stored_name)
            if len(runs) == 1:  # the first run loses a race at commit time
                raise OperationalError("COMMIT", {}, LostRace("deadlock detected"))
            return record.stored_name

    stored = handler()
    assert len(runs) == 2 and stored == runs[1]
    assert on_disk(folder) == {stored}
    assert [r.stored_name for r in rows(world)] == [stored]


@pytest.fixture
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` that nobody can write to: without write permission, or for root (who
    ignores permissions) a read-only file system mounted there."""
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_folder_is_refused_clearly_and_named_in_the_log(
    world: World, read_only: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app_id = world.draft("Jelgava", NOW, signed=False)
    with (
        caplog.at_level(logging.ERROR, logger="workflow.uploads"),
        pytest.raises(UploadNotStored) as refused,
    ):
        upload(world, app_id, pdf(1), read_only)
    assert refused.value.status == 503
    assert str(refused.value) == (
        "The file could not be stored; nothing was saved. Try again later or tell the Institute."
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "workflow.uploads"]
    assert len(lines) == 1 and str(read_only) in lines[0]
    assert rows(world) == [] and on_disk(read_only) == set()
    with transaction(world.factory) as session:
        app = session.get(Application, app_id)
        assert app is not None and not app.signed_form


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_portal_answers_a_read_only_folder_with_a_page_and_a_503(
    db_url: str, tmp_path: Path, read_only: Path
) -> None:
    with live_portal(db_url, tmp_path, NOW) as live:
        assert uploads_folder(live.settings) == read_only
        city = visitor(live.url, "jelgava@example.org")
        try:
            created = city.post_form(
                "/applications", {"motivation": "Learning for all.", "signed_by": "The Mayor"}
            )
            assert created.status_code == 303
            path = created.headers["location"].split("?")[0]
            page = city.pages.post(
                f"{path}/signed-form",
                data={"csrf_token": city.csrf},
                files={"signed_form": ("signed.pdf", pdf(1), "application/pdf")},
            )
            # Post-Redirect-Get: back on the application's page, which says why.
            assert page.status_code == 303 and "done=" not in page.headers["location"]
            page = city.pages.get(page.headers["location"])
            assert "The file could not be stored; nothing was saved." in page.text
            assert "Traceback" not in page.text and str(read_only) not in page.text
            api = city.api.post(
                f"/api/v1{path}/signed-form",
                files={"file": ("signed.pdf", pdf(2), "application/pdf")},
            )
            assert api.status_code == 503
            assert api.json()["code"] == "upload_not_stored"
        finally:
            city.close()
        with transaction(live.factory) as session:
            assert session.scalars(select(UploadedFile)).all() == []
    assert on_disk(read_only) == set()
