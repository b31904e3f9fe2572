"""Settings come from KICKOFF_* environment variables, read when a Settings object is constructed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from kickoff.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KICKOFF_* variable from the surrounding shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("KICKOFF_"):
            monkeypatch.delenv(name)


def test_defaults_run_on_one_developer_machine() -> None:
    """Without environment variables the documented local defaults apply."""
    settings = Settings()
    assert settings.task_queue == "kickoff"
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert (settings.smtp_host, settings.smtp_port) == ("localhost", 1025)
    assert settings.webhook_tolerance_seconds == 300
    assert [key.get_secret_value() for key in settings.api_keys] == ["dev-api-key"]
    assert settings.pipelines_file == Path("pipelines.yaml")
    assert settings.database_url == "sqlite+aiosqlite:///.data/kickoff.sqlite3"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """KICKOFF_<FIELD> sets the field, converted to its type."""
    monkeypatch.setenv("KICKOFF_TASK_QUEUE", "onboarding-prod")
    monkeypatch.setenv("KICKOFF_TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("KICKOFF_SMTP_PORT", "2525")
    monkeypatch.setenv("KICKOFF_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("KICKOFF_DATA_DIR", "/var/lib/kickoff")
    monkeypatch.setenv("KICKOFF_LOG_JSON", "false")
    settings = get_settings()
    assert settings.task_queue == "onboarding-prod"
    assert settings.temporal_address == "temporal.internal:7233"
    assert settings.smtp_port == 2525
    assert settings.webhook_secret.get_secret_value() == "s3cret"
    assert settings.database_url == "sqlite+aiosqlite:////var/lib/kickoff/kickoff.sqlite3"
    assert settings.log_json is False


def test_the_database_url_setting_wins_over_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """KICKOFF_DATABASE_URL points Kickoff at PostgreSQL; the data folder no longer matters."""
    monkeypatch.setenv("KICKOFF_DATA_DIR", "/var/lib/kickoff")
    monkeypatch.setenv("KICKOFF_DATABASE_URL", "postgresql+asyncpg://kickoff:pw@db:5432/kickoff")
    assert get_settings().database_url == "postgresql+asyncpg://kickoff:pw@db:5432/kickoff"


@pytest.mark.parametrize(
    ("value", "keys"),
    [("a, b", ["a", "b"]), ("only", ["only"]), (" a ,b,, c ", ["a", "b", "c"])],
    ids=["two-with-space", "one", "extra-commas-and-spaces"],
)
def test_api_keys_are_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str, keys: list[str]
) -> None:
    """KICKOFF_API_KEYS is split on commas and trimmed, not parsed as JSON."""
    monkeypatch.setenv("KICKOFF_API_KEYS", value)
    assert [key.get_secret_value() for key in Settings().api_keys] == keys


@pytest.mark.parametrize("value", ["", " ", ",", " , "], ids=["empty", "space", "comma", "comma-spaces"])
def test_api_keys_without_a_key_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """A KICKOFF_API_KEYS naming no key is refused rather than locking everyone out (or in)."""
    monkeypatch.setenv("KICKOFF_API_KEYS", value)
    with pytest.raises(ValidationError, match="at least one key"):
        Settings()


def test_api_keys_are_secret_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    """API keys and the webhook secret do not appear when settings are printed or logged."""
    monkeypatch.setenv("KICKOFF_API_KEYS", "key-one,key-two")
    monkeypatch.setenv("KICKOFF_WEBHOOK_SECRET", "hook-secret")
    text = repr(Settings())
    assert "key-one" not in text
    assert "hook-secret" not in text


def test_environment_is_read_at_construction_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable set after kickoff.settings was imported is seen by the next Settings()."""
    assert Settings().task_queue == "kickoff"
    monkeypatch.setenv("KICKOFF_TASK_QUEUE", "set-after-import")
    assert Settings().task_queue == "set-after-import"


def test_importing_the_package_reads_no_environment() -> None:
    """With invalid KICKOFF_* values, importing settings, API and worker succeeds; only constructing fails."""
    script = textwrap.dedent(
        """
        import kickoff.settings, kickoff.api, kickoff.worker
        print("imported")
        from pydantic import ValidationError
        try:
            kickoff.settings.Settings()
        except ValidationError as exc:
            print("refused", sorted(str(error["loc"][0]) for error in exc.errors()))
        """
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("KICKOFF_")}
    env.update({"KICKOFF_SMTP_PORT": "not-a-port", "KICKOFF_API_KEYS": ""})
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["imported", "refused ['api_keys', 'smtp_port']"]
