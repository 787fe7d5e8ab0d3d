"""structlog set-up shared by every Orderly process.

Development gets readable console lines, production one JSON object per line. Whatever the
adapter binds with ``structlog.contextvars`` (request id, job id, command, actor) is merged
into every line; values under secret-looking keys are masked before rendering.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

LogFormat = Literal["console", "json"]
_SECRET_MARKERS = ("password", "secret", "token", "authorization", "cookie", "api_key")


def _mask_secrets(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event:
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event[key] = "***"
    return event


def configure_logging(log_format: LogFormat = "console", level: str = "INFO") -> None:
    """Configure structlog (and the stdlib root logger it writes through) for this process."""
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: structlog.typing.Processor
    if log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries (uvicorn, arq, alembic) log through the stdlib: route them to the same stream.
    logging.basicConfig(level=numeric_level, stream=sys.stderr, format="%(message)s", force=True)
