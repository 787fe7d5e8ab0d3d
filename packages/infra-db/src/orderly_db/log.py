"""structlog set-up shared by every Orderly process.

Development gets readable console lines, production one JSON object per line. Whatever the
adapter binds with ``structlog.contextvars`` (request id, job id, command, actor) is merged
into every line, with the trace and span ids of the active span when tracing is on. No line
carries a secret: values under secret-looking keys are masked, and
every rendered text, tracebacks included, has password hashes, tokens, webhook secrets,
statement parameters and the rows PostgreSQL quotes in its error details masked before it is
written. Lines that libraries write through the standard library (uvicorn, arq, alembic) are
rendered the same way.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from io import StringIO
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

from orderly_telemetry.tracing import add_trace_ids

LogFormat = Literal["console", "json"]
# uvicorn's ``--log-config``: its first lines (written before the application starts and
# configures logging) are rendered like every later one, not in uvicorn's own format.
UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn_logging.json")
# uvicorn.access is left alone: Orderly logs each request itself, and `--no-access-log`
# silences uvicorn's copy by leaving that logger without handlers.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "arq")
_SECRET_MARKERS = ("password", "secret", "token", "authorization", "cookie", "api_key")
MASK = "***"
# What a secret looks like wherever it appears in a text, and what it is replaced with.
_SECRET_TEXT: tuple[tuple[re.Pattern[str], str], ...] = (
    # Argon2 hashes: $argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>
    (re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=,$]*"), MASK),
    # JSON Web Tokens: base64url header (always '{"...', so 'eyJ'), payload and signature.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\b((?i:bearer)\s+)[A-Za-z0-9._~+/=-]+"), r"\g<1>" + MASK),
    # Webhook signing secrets: whsec_ + base64.
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]*"), MASK),
    # Stripe's secret and restricted keys, and the client secrets of its PaymentIntents.
    (re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]+"), MASK),
    (re.compile(r"\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), MASK),
    # SQLAlchemy's statement parameters, should an engine not hide them.
    (re.compile(r"\[parameters: .*"), "[parameters hidden]"),
    # PostgreSQL's error details quote the offending row or key values.
    (re.compile(r"(DETAIL:\s+).*"), r"\g<1>(values hidden)"),
)
# One search tells whether a text needs masking at all (most log lines do not).
_ANY_SECRET_TEXT = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _SECRET_TEXT))


def _mask_secrets(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event:
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event[key] = MASK
    return event


def mask_secret_text(text: str) -> str:
    """``text`` with every secret-looking part of it masked."""
    if _ANY_SECRET_TEXT.search(text) is None:
        return text
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secret_text(value)
    if type(value) in (list, tuple):
        return type(value)(_masked(item) for item in value)
    if type(value) is dict:
        return {key: _masked(item) for key, item in value.items()}
    return value


def _mask_secret_text(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event.items():
        event[key] = _masked(value)
    return event


def _masked_traceback(sio: TextIO, exc_info: structlog.typing.ExcInfo) -> None:
    """Development's plain traceback, masked like every other text of the line."""
    rendered = StringIO()
    structlog.dev.plain_traceback(rendered, exc_info)
    sio.write(mask_secret_text(rendered.getvalue()))


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
        add_trace_ids,
        _mask_secrets,
    ]
    renderer: structlog.typing.Processor
    if log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: rich ones render local variables, which is slow and may show secrets.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=_masked_traceback
        )
    shared.append(_mask_secret_text)
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


def handler_from_environment() -> logging.Handler:
    """The handler :func:`configure_logging` installs, configured from ``LOG_FORMAT`` and
    ``LOG_LEVEL`` (environment, then ``.env``; a bad value falls back on the default here:
    the process names it when it reads all its settings). For ``logging.config.dictConfig``
    (see :data:`UVICORN_LOG_CONFIG`)."""
    from orderly_db.settings import ConfigurationError, LogSettings, load_settings

    try:
        settings = load_settings(LogSettings)
    except ConfigurationError:
        settings = LogSettings.model_construct()
    configure_logging(settings.log_format, settings.log_level)
    return logging.getLogger().handlers[0]


def logs_at(level: int) -> bool:
    """Whether this process writes lines at ``level`` (a ``logging`` level), as
    :func:`configure_logging` set it. Far cheaper than a call that the level then filters
    out: a module's structlog logger binds a new logger on every call, about 10 us."""
    return logging.getLogger().isEnabledFor(level)


def quiet_migration_logs() -> None:
    """Alembic narrates each step at INFO; the commands print one summary line instead. Its
    lines (even those it writes as it is imported) still show with LOG_LEVEL=DEBUG."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
