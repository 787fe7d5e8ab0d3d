"""The CLI's outer boundary: exit codes, and where exceptions stop.

0 success; 1 the operation was refused by a business rule (the reason is printed);
2 usage or configuration error; 3 a server (PostgreSQL, Redis) could not be reached;
4 an internal error (a bug: the traceback is logged).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

import structlog
import typer

from orderly_core.shared.errors import DomainError, error_members
from orderly_db.settings import ConfigurationError

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERNAL = 4
EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 refused by a business rule (the reason is printed), "
    "2 usage or configuration error, 3 a server could not be reached, 4 internal error."
)
"""What a command group's help says of the exit codes, unless its commands add a meaning."""

log = structlog.get_logger(__name__)


def refuse(error: DomainError, *, as_json: bool = False) -> NoReturn:
    """Report a domain failure (one line, or a JSON object on stdout) and exit 1."""
    if as_json:
        payload = {"error": {"code": error.code, "detail": error.detail, **error_members(error)}}
        typer.echo(json.dumps(payload, default=str))
    else:
        typer.echo(f"error: {error.detail}", err=True)
    raise typer.Exit(EXIT_REFUSED)


def run_async[T](command: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning infrastructure faults into one line and an exit code."""
    # Imported here: `orderly dev` starts its servers before it needs the database drivers.
    from redis.exceptions import RedisError
    from sqlalchemy.exc import DBAPIError, InterfaceError

    from orderly_db.faults import is_transient

    try:
        return asyncio.run(command)
    except ConfigurationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except (OSError, DBAPIError, InterfaceError, RedisError, TimeoutError) as error:
        if isinstance(error, DBAPIError) and not is_transient(error):
            # PostgreSQL answered, and refused the statement: Orderly's bug, not an outage.
            log.exception("internal_error", argv=sys.argv[1:])
            typer.echo("error: internal error (details above)", err=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        typer.echo(f"error: a server could not be reached: {reason}", err=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception:
        log.exception("internal_error", argv=sys.argv[1:])
        typer.echo("error: internal error (details above)", err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
