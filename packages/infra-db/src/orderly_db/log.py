"""structlog set-up shared by every Orderly process.

Development gets readable console lines, production one JSON object per line. Whatever the
adapter binds with ``structlog.contextvars`` (request id, job id, command, actor) is merged
into every line; values under secret-looking keys are masked before rendering. Lines that
libraries write through the standard library (uvicorn, arq, alembic) are rendered the same way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["console", "json"]
# uvicorn.access is left alone: Orderly logs each request itself, and `--no-access-log`
# silences uvicorn's copy by leaving that logger without handlers.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "arq")
_SECRET_MARKERS = ("password", "secret", "token", "authorization", "cookie", "api_key")


def _mask_secrets(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event:
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event[key] = "***"
    return event


def _stderr_logger(*_args: object) -> structlog.WriteLogger:
    # Looked up at each call, not bound once: test runners and tools swap sys.stderr.
    return structlog.WriteLogger(sys.stderr)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A stdlib handler that always writes to the current ``sys.stderr``."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(log_format: LogFormat = "console", level: str = "INFO") -> None:
    """Configure structlog and the stdlib root logger for this process."""
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
        # Plain tracebacks: rich ones render local variables, which is slow and may show secrets.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # Servers and queues install handlers of their own before Orderly starts; from here on
    # their lines go through the root handler, rendered like Orderly's own.
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
