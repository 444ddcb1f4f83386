"""Load and validate the settings once, at start-up (pydantic-settings).

Order of precedence (later wins): the values that follow from the data folder
(``GNLC_HOME``, see ``config.paths``: the SQLite file and the Maildir),
``config/defaults.toml`` shipped with the product, the operator's TOML file named by
``GNLC_CONFIG``, then single values from environment variables
``GNLC_<SECTION>__<KEY>`` (a list as JSON: ``GNLC_REPORTS__REMINDER_DAYS_BEFORE="[60, 30]"``).
Unknown keys, in a file or the environment, are refused by name. Nothing is read at
import time: callers pass the environment mapping (``os.environ`` by default) to
:func:`load_settings`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.paths import HOME_VARIABLE, data_home

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

    @field_validator("url")
    @classmethod
    def _a_database_url(cls, value: str) -> str:
        # Imported here: settings load before anything needs SQLAlchemy's engine parts.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
            raise ValueError(
                "expected a database URL such as sqlite:///var/gnlc.db or "
                "postgresql+psycopg://user@host/gnlc"
            ) from exc
        return value


#: The network's name in the other languages of the portal and the mail (``name``, in
#: ``[network]``, is the English one and the default of any language not listed).
NETWORK_NAMES: dict[str, str] = {
    "fr": "Réseau mondial UNESCO des villes apprenantes",
    "lv": "UNESCO Izglītības pilsētu tīkls",
    "ru": "Глобальная сеть обучающихся городов ЮНЕСКО",
}


class NetworkSettings(_Section):
    name: str
    address: str
    institute_address: str
    language: str
    languages: list[str]
    #: The name by language (``[network.names] fr = "..."``); a language not listed says
    #: ``name``. The defaults are :data:`NETWORK_NAMES`.
    names: dict[str, str] = Field(default_factory=lambda: dict(NETWORK_NAMES))

    def name_in(self, language: str) -> str:
        """The network's name in ``language`` (``name`` when none is set for it)."""
        return self.names.get(language) or self.name


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


class JurySettings(_Section):
    """The expert jury (``workflow.services.jury``): the criteria each juror scores 1-5
    (ids; their words are ``jury.criterion.<id>`` in the catalogues), how many jurors
    ``spread`` gives each application, and the reminder days before a call's review
    deadline."""

    criteria: list[str] = Field(min_length=1)
    jurors_per_application: int = Field(ge=1)
    reminder_days_before_deadline: list[int]

    @field_validator("criteria")
    @classmethod
    def _distinct_ids(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value) or not all(
            re.fullmatch(r"[a-z][a-z0-9_]{0,59}", c) for c in value
        ):
            raise ValueError("expected distinct ids of lower-case letters, digits and _")
        return value


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
    #: Memory each worker keeps drawn pages in (web/page_cache.py); 0 turns it off.
    page_cache_mb: int = Field(ge=0, le=4096)


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
    #: "Forgot your password?": how long the emailed link works, and how many links one
    #: email address (and one client address) may ask for within ``window_minutes``.
    reset_link_minutes: int = Field(default=60, ge=5, le=10_080)
    reset_max_requests: int = Field(default=3, ge=1, le=100)
    reset_client_max_requests: int = Field(default=20, ge=1, le=100_000)


class Settings(BaseSettings):
    """All settings, validated. Secrets are ``SecretStr`` and never print.

    The layers, later wins: the values derived from the data home (``config.paths``),
    ``config/defaults.toml``, the operator's file named by ``GNLC_CONFIG``, then
    ``GNLC_<SECTION>__<KEY>`` variables; :func:`load_settings` builds them from the
    mapping it is given.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )
    database: DatabaseSettings
    network: NetworkSettings
    calls: CallSettings
    reports: ReportSettings
    applications: ApplicationSettings
    jury: JurySettings
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


class _Environment(EnvSettingsSource):
    """``GNLC_<SECTION>__<KEY>`` from the mapping given to :func:`load_settings` (not
    ``os.environ`` behind the caller's back). A value written as JSON (``"[60, 30]"``) is
    decoded for any key; one that does not parse stays a string, so that validation names
    its key instead of the whole section."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            name.lower(): value
            for name, value in self._environ.items()
            if name != CONFIG_FILE_VARIABLE and name != HOME_VARIABLE
        }

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        return _json_or_text(value)

    def __call__(self) -> dict[str, Any]:
        data = _decode_leaves(super().__call__())
        # A misspelt section (GNLC_CALL__QUOTA) is refused by name, as a misspelt key is.
        prefix = ENV_PREFIX.lower()
        for name, raw in self._load_env_vars().items():
            section, _, key = name.removeprefix(prefix).partition("__")
            if name.startswith(prefix) and key and section not in Settings.model_fields:
                data.setdefault(section, {})[key] = raw
        return data


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _decode_leaves(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _decode_leaves(value) if isinstance(value, dict) else _json_or_text(value)
        for key, value in data.items()
    }


class _TomlFile(TomlConfigSettingsSource):
    """One TOML file, which must exist and parse; the message names it."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, named_by: str) -> None:
        if not path.is_file():
            raise SettingsError(f"{named_by}: no such file {str(path)!r}")
        try:
            super().__init__(settings_cls, toml_file=path)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML ({exc})") from exc


class _Derived(PydanticBaseSettingsSource):
    """The lowest layer: the values that follow from the data home (see ``config.paths``),
    used where neither file nor environment gives one."""

    def __init__(self, settings_cls: type[BaseSettings], home: Path) -> None:
        super().__init__(settings_cls)
        self._home = home

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover (not used: __call__ gives all)

    def __call__(self) -> dict[str, Any]:
        return {
            "database": {"url": f"sqlite:///{self._home / 'gnlc.db'}"},
            "mail": {"maildir": str(self._home / "mail")},
        }


def _validate(data: Mapping[str, Any]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _named(exc) from None


def _named(exc: ValidationError) -> SettingsError:
    """One line naming each bad key and what was expected; secrets are never shown."""
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
    return SettingsError("invalid settings: " + "; ".join(problems))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the defaults, the operator file and the environment; validate; return."""
    env = os.environ if environ is None else environ
    home = data_home(env)
    try:
        layers: list[PydanticBaseSettingsSource] = [_Environment(Settings, env)]
        operator_file = env.get(CONFIG_FILE_VARIABLE)
        if operator_file:
            layers.append(_TomlFile(Settings, Path(operator_file), CONFIG_FILE_VARIABLE))
        layers.append(_TomlFile(Settings, DEFAULTS_FILE, "defaults"))
        layers.append(_Derived(Settings, home))
        return Settings(_build_sources=(tuple(layers), {}))
    except ValidationError as exc:
        raise _named(exc) from None
