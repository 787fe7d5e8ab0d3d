"""Settings for CLI commands, and finding the servers of a running ``orderly dev``.

A command run in a directory where ``orderly dev`` is up needs no URL: ``orderly dev``
writes ``.orderly/dev.json`` with its servers' URLs and removes it when it stops. Variables
set in the environment (or ``.env``) always win.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from orderly_db.settings import ConfigurationError, InfraSettings, load_settings
from orderly_payments.settings import PaymentSettings

STATE_DIR = Path(".orderly")
# What a running `orderly dev` tells other commands: its servers, and its webhook rules.
STACK_SETTINGS = (
    "database_url",
    "redis_url",
    "webhook_allow_http",
    "webhook_allow_private_addresses",
)
DEV_STATE_FILE = STATE_DIR / "dev.json"


class CliSettings(InfraSettings, PaymentSettings):
    pass


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_dev_stack(state_file: Path = DEV_STATE_FILE) -> dict[str, Any] | None:
    """The URLs published by an ``orderly dev`` still running here, if any."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _process_alive(int(state.get("pid", 0))):
        return None
    return state


def cli_settings() -> CliSettings:
    """Settings from the environment, falling back on a running ``orderly dev``."""
    overrides: dict[str, Any] = {}
    stack = running_dev_stack()
    if stack is not None:
        for key in STACK_SETTINGS:
            if not os.environ.get(key.upper()) and key in stack:
                overrides[key] = stack[key]
    try:
        return load_settings(CliSettings, **overrides)
    except ConfigurationError as error:
        if stack is None and not os.environ.get("DATABASE_URL"):
            raise ConfigurationError(
                f"{error} (set DATABASE_URL and REDIS_URL, or start `orderly dev` in this "
                "directory first)"
            ) from None
        raise
