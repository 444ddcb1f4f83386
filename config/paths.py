"""Where the product keeps its files: one data folder.

The data folder is ``GNLC_HOME`` when it is set; otherwise the checkout's ``var/`` when
the code runs from a source checkout (``pyproject.toml`` beside the packages, as with
``make run``), else the user's data directory (``platformdirs``: for example
``~/.local/share/gnlc`` on Linux). It never depends on the directory a command is run in.

Unless the settings say otherwise, the SQLite database is ``<data folder>/gnlc.db`` and
the Maildir ``<data folder>/mail``. The uploads (``uploads/``), the demo's own secret key
(``secret_key``) and the portal workers' metric files (``metrics/``) live beside the
Maildir, so with the defaults everything is in the data folder; an operator who moves
the Maildir moves them with it. Backup, restore, the portal and ``gnlc doctor`` all ask
here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings

HOME_VARIABLE = "GNLC_HOME"
APP_NAME = "gnlc"
CHECKOUT = Path(__file__).resolve().parent.parent


def data_home(environ: Mapping[str, str]) -> Path:
    """The data folder: ``GNLC_HOME``, the checkout's ``var/``, or the user's data dir."""
    given = environ.get(HOME_VARIABLE)
    if given:
        return Path(given).expanduser().resolve()
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "config").is_dir():
        return CHECKOUT / "var"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def data_folder(settings: Settings) -> Path:
    """The folder holding the Maildir: uploads, the demo key and metrics live here too."""
    return Path(settings.mail.maildir).resolve().parent


def uploads_folder(settings: Settings) -> Path:
    return data_folder(settings) / "uploads"


def demo_key_file(settings: Settings) -> Path:
    """The random secret key the demo makes for itself on its first run."""
    return data_folder(settings) / "secret_key"


def metrics_folder(settings: Settings) -> Path:
    """The portal workers' metric files (prometheus_client's multiprocess mode)."""
    return data_folder(settings) / "metrics"
