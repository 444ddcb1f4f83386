"""Settings: the seed's rules by default, an operator file, single environment values,
validation that names the key, and secrets that never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, load_settings
from config.settings import SettingsError

SECRET = "s3cret-Pa55word-never-shown"


def test_defaults_are_the_seeds_rules() -> None:
    s = load_settings({})
    assert (s.calls.open_month, s.calls.open_day) == (3, 1)
    assert (s.calls.close_month, s.calls.close_day) == (4, 30)
    assert s.calls.quota == 3
    assert s.calls.commission_deadline_days == 30
    assert s.calls.timezone == "Europe/Berlin"
    assert s.reports.interval_years == 2
    assert s.reports.first_after_years == 2
    assert (s.reports.due_month, s.reports.due_day) == (3, 31)
    assert s.network.address == "learningcities@unesco.org"
    assert s.applications.max_words == 200


def test_environment_is_not_read_unless_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNLC_CALLS__QUOTA", "9")
    assert load_settings({}).calls.quota == 3
    assert load_settings().calls.quota == 9


def test_operator_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "gnlc.toml"
    path.write_text(
        '[calls]\nquota = 5\ntimezone = "Europe/Riga"\n\n[network]\naddress = "gnlc@example.org"\n'
    )
    s = load_settings({"GNLC_CONFIG": str(path)})
    assert s.calls.quota == 5
    assert s.calls.timezone == "Europe/Riga"
    assert s.network.address == "gnlc@example.org"
    assert s.calls.close_day == 30  # untouched values keep their defaults


def test_environment_overrides_one_value(tmp_path: Path) -> None:
    path = tmp_path / "gnlc.toml"
    path.write_text("[calls]\nquota = 5\n")
    assert load_settings({"GNLC_CALLS__QUOTA": "4"}).calls.quota == 4
    # the environment wins over the operator file
    s = load_settings({"GNLC_CONFIG": str(path), "GNLC_CALLS__QUOTA": "4"})
    assert s.calls.quota == 4
    listed = load_settings({"GNLC_REPORTS__REMINDER_DAYS_BEFORE": "[90, 10]"})
    assert listed.reports.reminder_days_before == [90, 10]


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"GNLC_CALLS__QUOTA": "three"}, "calls.quota"),
        ({"GNLC_CALLS__QUOTA": "0"}, "calls.quota"),
        ({"GNLC_CALLS__TIMEZONE": "Europe/Atlantis"}, "calls.timezone"),
        ({"GNLC_REPORTS__DUE_MONTH": "13"}, "reports.due_month"),
        ({"GNLC_SMTP__SECURITY": "ssl"}, "smtp.security"),
        ({"GNLC_CALLS__QUOTE": "3"}, "calls.quote"),
    ],
)
def test_bad_value_names_its_key(environ: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ)
    assert f"{key}:" in str(error.value)


def test_bad_value_says_what_was_given_and_expected() -> None:
    with pytest.raises(SettingsError, match=r"calls\.quota: .*greater than or equal to 1.*'0'"):
        load_settings({"GNLC_CALLS__QUOTA": "0"})
    with pytest.raises(SettingsError, match="IANA timezone"):
        load_settings({"GNLC_CALLS__TIMEZONE": "Mars/Olympus"})


def test_missing_or_broken_operator_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GNLC_CONFIG: no such file"):
        load_settings({"GNLC_CONFIG": str(tmp_path / "absent.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[calls\nquota = ")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({"GNLC_CONFIG": str(broken)})


def _with_secret() -> Settings:
    return load_settings({"GNLC_SMTP__PASSWORD": SECRET, "GNLC_WEB__SECRET_KEY": SECRET + "k"})


def test_secrets_are_never_printed() -> None:
    s = _with_secret()
    assert s.smtp.password.get_secret_value() == SECRET
    for text in (repr(s), str(s), repr(s.smtp), str(s.smtp), str(s.model_dump()), f"{s}"):
        assert SECRET not in text
    assert SECRET not in s.model_dump_json()
    again = s.with_overrides(calls={"quota": 4})
    assert again.smtp.password.get_secret_value() == SECRET
    assert SECRET not in repr(again)


def test_error_message_hides_the_secret() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"GNLC_SMTP__PASSWORD": SECRET, "GNLC_SMTP__PORT": "not-a-port"})
    assert "smtp.port" in str(error.value)
    assert SECRET not in str(error.value)
    # a malformed secret is named, its value is not shown
    with pytest.raises(SettingsError) as bad_secret:
        load_settings({"GNLC_SMTP__PASSWORD": f'["{SECRET}"]'})
    assert "smtp.password" in str(bad_secret.value)
    assert SECRET not in str(bad_secret.value)
    assert "hidden" in str(bad_secret.value)


def test_with_overrides_validates_again() -> None:
    with pytest.raises(SettingsError, match=r"calls\.quota"):
        load_settings({}).with_overrides(calls={"quota": -1})


def test_nested_environment_lists_are_json() -> None:
    s = load_settings({"GNLC_REPORTS__REMINDER_DAYS_BEFORE": "[60, 30]"})
    assert s.reports.reminder_days_before == [60, 30]
    assert load_settings({"GNLC_APPLICATIONS__DRAFT_REMINDER_DAYS_BEFORE_CLOSE": "[]"}) \
        .applications.draft_reminder_days_before_close == []  # fmt: skip
    # a list that is not JSON is named by its key, not by its section
    with pytest.raises(SettingsError, match=r"reports\.reminder_days_before: .*'60,30'"):
        load_settings({"GNLC_REPORTS__REMINDER_DAYS_BEFORE": "60,30"})


def test_unknown_keys_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "gnlc.toml"
    path.write_text("[calls]\nquot = 5\n\n[bogus]\nx = 1\n")
    with pytest.raises(SettingsError) as in_file:
        load_settings({"GNLC_CONFIG": str(path)})
    assert "calls.quot: unknown setting" in str(in_file.value)
    assert "bogus: unknown setting" in str(in_file.value)
    with pytest.raises(SettingsError, match="call: unknown setting"):
        load_settings({"GNLC_CALL__QUOTA": "4"})  # a misspelt section
    # other GNLC_ variables without a section are not settings and are left alone
    assert load_settings({"GNLC_CONFIGURED": "yes"}).calls.quota == 3


def test_the_database_and_maildir_follow_the_data_folder(tmp_path: Path) -> None:
    s = load_settings({"GNLC_HOME": str(tmp_path)})
    assert s.database.url == f"sqlite:///{tmp_path / 'gnlc.db'}"
    assert Path(s.mail.maildir) == tmp_path / "mail"
    from config.paths import data_folder, uploads_folder

    assert data_folder(s) == tmp_path and uploads_folder(s) == tmp_path / "uploads"
    # explicit values win over the derived ones, from a file or the environment
    path = tmp_path / "gnlc.toml"
    path.write_text('[database]\nurl = "sqlite:///elsewhere.db"\n')
    assert load_settings({"GNLC_HOME": str(tmp_path), "GNLC_CONFIG": str(path)}) \
        .database.url == "sqlite:///elsewhere.db"  # fmt: skip
    # without GNLC_HOME, a source checkout keeps its data in its own var/
    checkout = Path(__file__).resolve().parents[2]
    assert Path(load_settings({}).mail.maildir) == checkout / "var" / "mail"


@pytest.mark.parametrize(
    "url", ["postgres://nope::", "postgresql+psycopg://u@db:port/gnlc", "gnlc"]
)
def test_a_database_url_that_does_not_parse_is_named_at_start_up(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"GNLC_DATABASE__URL": url})
    message = str(caught.value)
    assert "database.url" in message and "expected a database URL" in message
    assert "\n" not in message
