"""``gnlc secret``: print a new random secret key for ``[web] secret_key``."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=False)


@app.command("secret")
def secret() -> None:
    """Print a new random key for GNLC_WEB__SECRET_KEY (secret_key in the web settings)."""
    from web.sessions import new_secret_key

    print(new_secret_key())
