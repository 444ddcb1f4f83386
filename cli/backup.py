"""``gnlc backup DEST`` and ``gnlc restore SRC``: the command line over ``workflow.backup``
and ``workflow.restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.context import JsonOption, cli_state, console, emit_json, err_console, fail
from cli.output import count
from workflow import archive
from workflow.backup import backup as write_backup
from workflow.restore import restore as restore_backup

app = typer.Typer()


@app.command("backup")
def backup(
    dest: Annotated[
        Path,
        typer.Argument(
            help="The archive to write (backup.tar.gz), or a folder to write a dated one in.",
            show_default=False,
        ),
    ],
    include_secrets: Annotated[
        bool,
        typer.Option(
            "--include-secrets",
            help="Keep the secret key and passwords in the archive's configuration copies "
            "(then a restore keeps everyone signed in; guard the archive like the key).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write one archive: the database, the uploads, the configuration and a manifest.

    Safe while the portal and the scheduler run: the database copy is of one moment.
    """
    state = cli_state()
    try:
        result = write_backup(state.settings, dest, include_secrets=include_secrets)
    except archive.BackupError as exc:
        fail(str(exc))
    manifest = result.manifest
    if state.wants_json(as_json):
        emit_json(result.as_dict())
    else:
        database = manifest["database"]
        uploads = manifest["uploads"]
        console.print(f"Backup written: {result.archive}", highlight=False, soft_wrap=True)
        console.print(
            f"  database: {database['url']}, schema {database['revision']}, "
            f"{archive.describe_tables(database['tables'])}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  uploads: {count(uploads['files'], 'file', 'files')}, {uploads['bytes']:,} bytes, "
            f"from {uploads['folder']}",
            highlight=False,
            soft_wrap=True,
        )
        files = manifest["files"]
        config = [
            name for name in (archive.OPERATOR_MEMBER, archive.SETTINGS_MEMBER) if name in files
        ]
        secrets = "secrets included" if manifest["secrets_included"] else "secrets masked"
        console.print(f"  configuration: {', '.join(config)} ({secrets})", highlight=False)
        if archive.KEY_MEMBER in files:
            console.print("  demo secret key file: included", highlight=False)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)


@app.command("restore")
def restore(
    src: Annotated[
        Path, typer.Argument(help="The archive `gnlc backup` wrote.", show_default=False)
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a database that already holds data."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Restore the database, the uploads and the demo key file from a backup.

    Stop the portal and the scheduler first. The configuration is not changed: the
    archive's copies are there to compare with yours.
    """
    state = cli_state()
    try:
        result = restore_backup(state.settings, src, force=force)
    except archive.BackupError as exc:
        fail(str(exc))
    if state.wants_json(as_json):
        emit_json(result.as_dict())
    else:
        made = result.manifest["created_at"]
        console.print(
            f"Restored {src} (made {made} by gnlc {result.manifest.get('gnlc_version')}):",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  database: {result.database}, schema {result.revision}, "
            f"{archive.describe_tables(result.tables)}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  uploads: {count(result.uploads, 'file', 'files')}, {result.uploads_bytes:,} bytes, "
            f"in {result.uploads_folder}",
            highlight=False,
            soft_wrap=True,
        )
        if result.uploads_set_aside:
            console.print(
                f"  the files that were there are kept in {result.uploads_set_aside}; "
                "delete that folder once you are satisfied",
                highlight=False,
                soft_wrap=True,
            )
        if result.key_file:
            console.print(f"  demo secret key file: {result.key_file}", highlight=False)
        if result.configuration:
            console.print(
                "  configuration: not changed; the archive holds "
                f"{', '.join(result.configuration)} to compare with yours "
                f"(tar -xzf {src} config)",
                highlight=False,
                soft_wrap=True,
            )
        nxt = "gnlc db status" if result.schema_current else "gnlc db upgrade"
        console.print(
            f"Next: {nxt}, then start the portal and the scheduler.",
            highlight=False,
        )
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
