"""Load and validate the settings once, at start-up.

Order of precedence (later wins): ``config/defaults.toml`` shipped with the product,
the operator's TOML file named by ``GNLC_CONFIG``, then single values from environment
variables ``GNLC_<SECTION>__<KEY>``. Nothing is read at import time: callers pass the
environment mapping (``os.environ`` by default) to :func:`load_settings`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
ENV_PREFIX = "GNLC_"
CONFIG_FILE_VARIABLE = "GNLC_CONFIG"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the key and what was expected."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("expected an IANA timezone name such as 'Europe/Berlin'") from exc
    return value


class DatabaseSettings(_Section):
    url: str


class NetworkSettings(_Section):
    name: str
    address: str
    institute_address: str
    language: str
    languages: list[str]


class CallSettings(_Section):
    open_month: int = Field(ge=1, le=12)
    open_day: int = Field(ge=1, le=31)
    close_month: int = Field(ge=1, le=12)
    close_day: int = Field(ge=1, le=31)
    commission_deadline_days: int = Field(ge=0, le=366)
    quota: int = Field(ge=1)
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)


class ReportSettings(_Section):
    interval_years: int = Field(ge=1, le=10)
    first_after_years: int = Field(ge=0, le=10)
    due_month: int = Field(ge=1, le=12)
    due_day: int = Field(ge=1, le=31)
    open_days_before: int = Field(ge=0, le=3650)
    grace_days: int = Field(ge=0, le=3650)
    reminder_days_before: list[int]
    overdue_every_days: int = Field(ge=1)
    escalate_after_days: int = Field(ge=0)


class ApplicationSettings(_Section):
    max_words: int = Field(ge=1)
    draft_reminder_days_before_close: list[int]
    commission_reminder_days_before_deadline: list[int]


class MailSettings(_Section):
    sender: Literal["maildir", "smtp"]
    maildir: str
    from_address: str
    from_name: str


class SmtpSettings(_Section):
    host: str
    port: int = Field(ge=1, le=65535)
    security: Literal["none", "starttls", "tls"]
    username: str
    password: SecretStr
    timeout_seconds: float = Field(gt=0)
    pool_size: int = Field(ge=1, le=64)


class DispatcherSettings(_Section):
    batch_size: int = Field(ge=1)
    max_attempts: int = Field(ge=1)
    backoff_base_seconds: float = Field(ge=0)
    backoff_max_seconds: float = Field(ge=0)
    claim_timeout_seconds: float = Field(gt=0)


class SchedulerSettings(_Section):
    sweep_interval_seconds: int = Field(ge=1)
    dispatch_interval_seconds: int = Field(ge=1)


class WebSettings(_Section):
    host: str
    port: int = Field(ge=1, le=65535)
    public_url: str
    secret_key: SecretStr
    demo_data: bool
    upload_max_bytes: int = Field(ge=1024)
    #: Earlier versions of a replaced upload kept on disk (0: only the current one).
    upload_versions_kept: int = Field(ge=0, le=20)
    #: All the files of one city together, current and kept versions.
    upload_city_quota_bytes: int = Field(ge=1024)
    workers: int = Field(ge=1, le=64)


class SessionSettings(_Section):
    """How long a sign-in lasts: a browser session idle (no request) and absolute; an API
    token ``api_token_days``, both idle and absolute."""

    idle_minutes: int = Field(ge=1, le=100_000)
    absolute_hours: int = Field(ge=1, le=100_000)
    api_token_days: int = Field(ge=1, le=3650)


class SignInSettings(_Section):
    """The sign-in throttle: per account (short lock) and per client address (longer)."""

    window_minutes: int = Field(ge=1, le=1440)
    account_max_failures: int = Field(ge=1, le=1000)
    account_lock_seconds: int = Field(ge=1, le=86_400)
    client_max_failures: int = Field(ge=1, le=100_000)
    client_lock_minutes: int = Field(ge=1, le=1440)


class Settings(_Section):
    """All settings, validated. Secrets are ``SecretStr`` and never print."""

    database: DatabaseSettings
    network: NetworkSettings
    calls: CallSettings
    reports: ReportSettings
    applications: ApplicationSettings
    mail: MailSettings
    smtp: SmtpSettings
    dispatcher: DispatcherSettings
    scheduler: SchedulerSettings
    web: WebSettings
    sessions: SessionSettings
    signin: SignInSettings

    def with_overrides(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some values replaced (tests and benchmarks), validated again."""
        data = self.model_dump()
        for name, values in sections.items():
            data[name] = {**data[name], **values}
        for section in ("smtp", "web"):
            for key, value in data[section].items():
                if isinstance(value, SecretStr):
                    data[section][key] = value.get_secret_value()
        return _validate(data)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"{CONFIG_FILE_VARIABLE}: no such file {str(path)!r}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from exc


def _env_value(raw: str) -> Any:
    # Lists and numbers may be written as JSON ("[60, 30]"); anything else stays a string
    # and pydantic casts it strictly.
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_FILE_VARIABLE:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if len(path) != 2:
            continue
        values.setdefault(path[0], {})[path[1]] = _env_value(raw)
    return values


def _validate(data: Mapping[str, Any]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            given = error.get("input")
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting"
            elif error["type"] == "missing":
                message = "missing"
            elif key.endswith(("password", "secret_key")):
                message = f"{message} (value hidden)"
            else:
                message = f"{message} (got {given!r})"
            problems.append(f"{key}: {message}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the defaults, the operator file and the environment; validate; return."""
    env = os.environ if environ is None else environ
    data = _read_toml(DEFAULTS_FILE)
    operator_file = env.get(CONFIG_FILE_VARIABLE)
    if operator_file:
        data = _merge(data, _read_toml(Path(operator_file)))
    data = _merge(data, _from_environment(env))
    return _validate(data)
