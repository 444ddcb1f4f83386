"""Where the product keeps its files, all in one data folder beside the Maildir.

With the defaults the Maildir is ``var/mail``, so the data folder is ``var/``: the
uploads (``var/uploads``), the demo's own secret key (``var/secret_key``) and the portal
workers' metric files (``var/metrics``) live there. Backup, restore, the portal and
``gnlc doctor`` all ask here.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings


def data_folder(settings: Settings) -> Path:
    return Path(settings.mail.maildir).resolve().parent


def uploads_folder(settings: Settings) -> Path:
    return data_folder(settings) / "uploads"


def demo_key_file(settings: Settings) -> Path:
    """The random secret key the demo makes for itself on its first run."""
    return data_folder(settings) / "secret_key"


def metrics_folder(settings: Settings) -> Path:
    """The portal workers' metric files (prometheus_client's multiprocess mode)."""
    return data_folder(settings) / "metrics"
