"""Production refuses development-only switches: every process's settings (the API's, the
worker's, the CLI's and those every process shares), read from the environment with
``ENVIRONMENT=production``, refuse each switch that is on, naming it in one line. In
development the same switches are accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from orderly_cli.config import CliSettings
from orderly_db.settings import DEVELOPMENT_ONLY, ConfigurationError, InfraSettings, load_settings
from orderly_http.settings import HttpSettings
from orderly_worker.settings import WorkerEnv

SETTINGS = [InfraSettings, HttpSettings, WorkerEnv, CliSettings]
SWITCHES = [name.upper() for name in DEVELOPMENT_ONLY]


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A production environment, complete but for the switches; no `.env` in reach."""
    monkeypatch.chdir(tmp_path)
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://orderly@db/orderly")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("JWT_SECRET", "s" * 32)


def test_the_development_only_switches_are_the_webhook_guards_exceptions() -> None:
    assert SWITCHES == ["WEBHOOK_ALLOW_HTTP", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("switch", SWITCHES)
def test_production_refuses_each_switch_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings], switch: str
) -> None:
    monkeypatch.setenv(switch, "true")

    with pytest.raises(ConfigurationError) as refused:
        load_settings(settings)

    message = str(refused.value)
    assert "\n" not in message
    assert f"{switch}: " in message
    assert "development only" in message
    assert [name for name in SWITCHES if name in message] == [switch]


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_production_names_every_switch_that_is_on(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings]
) -> None:
    for switch in SWITCHES:
        monkeypatch.setenv(switch, "1")

    with pytest.raises(ConfigurationError) as refused:
        load_settings(settings)

    assert all(f"{switch}: " in str(refused.value) for switch in SWITCHES)


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_production_starts_with_every_switch_off(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings]
) -> None:
    for switch in SWITCHES:
        monkeypatch.setenv(switch, "false")

    loaded = load_settings(settings)

    assert [getattr(loaded, name) for name in DEVELOPMENT_ONLY] == [False, False]


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: cls.__name__)
def test_development_accepts_the_switches(
    monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    for switch in SWITCHES:
        monkeypatch.setenv(switch, "true")

    loaded = load_settings(settings)

    assert [getattr(loaded, name) for name in DEVELOPMENT_ONLY] == [True, True]
