"""Settings for CLI commands, and finding the servers of a running ``orderly dev``.

A command run where ``orderly dev`` is up, or in any folder below it, needs no URL:
``orderly dev`` writes ``.orderly/dev.json`` with its servers' URLs and removes it when it
stops, and commands look for that file in the current directory and then in each one above
it, as git looks for ``.git``. Variables set in the environment (or ``.env``) always win.
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


def running_dev_stack(state_file: Path | None = None) -> dict[str, Any] | None:
    """The URLs published by an ``orderly dev`` still running in this directory or the
    nearest one above it that has one (or by the one that wrote ``state_file``), if any."""
    if state_file is None:
        found = find_dev_stack()
        return found[1] if found is not None else None
    return _published(state_file)


def find_dev_stack(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The directory of the nearest running ``orderly dev`` (``start``, by default the current
    directory, or one above it) and what it published."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        state = _published(directory / DEV_STATE_FILE)
        if state is not None:
            return directory, state
    return None


def _published(state_file: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    try:
        pid = int(state.get("pid", 0))
    except (TypeError, ValueError):
        return None
    if pid <= 0 or not _process_alive(pid):
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
                "directory or one above it first)"
            ) from None
        raise
