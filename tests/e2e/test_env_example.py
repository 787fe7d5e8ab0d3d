"""`.env.example` documents every setting any Orderly process reads, with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from orderly_cli.config import CliSettings
from orderly_http.settings import HttpSettings
from orderly_worker.settings import WorkerEnv

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _documented() -> dict[str, str]:
    lines = EXAMPLE.read_text().splitlines()
    matches = (re.fullmatch(r"([A-Z0-9_]+)=(.*)", line) for line in lines)
    return {match[1]: match[2] for match in matches if match}


@pytest.mark.parametrize("settings", [CliSettings, HttpSettings, WorkerEnv])
def test_every_setting_is_in_env_example(settings: type[BaseSettings]) -> None:
    documented = _documented()
    for name, field in settings.model_fields.items():
        variable = name.upper()
        assert variable in documented, f"{variable} is missing from .env.example"
        if not field.is_required():
            assert _same(documented[variable], field.default), f"{variable}: default differs"


def _same(text: str, default: object) -> bool:
    if default is None:  # an optional value with no default, such as a secret
        return text == ""
    if isinstance(default, int | float) and not isinstance(default, bool):
        return float(text) == float(default)
    return text.lower() == str(default).lower()
