"""The CLI's outer boundary: exit codes, and where exceptions stop.

0 success; 1 the operation was refused by a business rule (the reason is printed);
2 usage or configuration error (a bad option, including one the core finds invalid:
``invalid_input``); 3 a server (PostgreSQL, Redis) could not be reached; 4 an internal error
(a bug: the traceback is logged).

With ``--json`` every error is one JSON object on stdout, ``{"error": {"code", "detail",
...}}``, whatever its exit code: a refusal's own code, ``usage_error``,
``configuration_error``, ``unavailable`` or ``internal_error``. Without it, one line on stderr
(usage errors: click's usage, hint and reason), with the core's field paths phrased for people
(``lines.0.quantity`` is "line 1: quantity").
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

import structlog
import typer

# Typer carries its own copy of click: its exceptions and contexts are these, not click's.
from typer._click.core import Context as ClickContext
from typer._click.exceptions import UsageError
from typer._click.globals import get_current_context
from typer.core import TyperGroup

from orderly_core.shared.errors import DomainError, InvalidInput, error_members
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


_JSON_ASKED = "orderly.json"  # the root context's meta: whether --json was given


def refuse(error: DomainError, *, as_json: bool = False) -> NoReturn:
    """Report a domain failure (one line, or a JSON object on stdout) and exit 1; or 2 for
    invalid input, which is a bad option or argument of the command."""
    if as_json:
        payload = {"error": {"code": error.code, "detail": error.detail, **error_members(error)}}
        typer.echo(json.dumps(payload, default=str))
    else:
        detail = people_detail(error) if isinstance(error, InvalidInput) else error.detail
        typer.echo(f"error: {detail}", err=True)
    raise typer.Exit(EXIT_USAGE if isinstance(error, InvalidInput) else EXIT_REFUSED)


def stop(exit_code: int, code: str, detail: str) -> NoReturn:
    """Report a failure that is no refusal (configuration, unreachable server, bug) as
    :func:`refuse` does, with ``code`` in its JSON, and exit ``exit_code``."""
    if json_asked():
        typer.echo(json.dumps({"error": {"code": code, "detail": detail}}))
    else:
        typer.echo(f"error: {detail}", err=True)
    raise typer.Exit(exit_code)


def json_asked() -> bool:
    """Whether the command running was given ``--json``."""
    ctx = get_current_context(silent=True)
    return ctx is not None and bool(ctx.find_root().meta.get(_JSON_ASKED))


def people_detail(error: InvalidInput) -> str:
    """The invalid fields for people: ``lines.0.quantity: must be 1-1000`` reads "line 1:
    quantity must be 1-1000", ``shipping_address.country: ...`` "shipping address: country
    ..."."""
    return "; ".join(_people_field(e.field, e.message) for e in error.errors)


def _people_field(path: str, message: str) -> str:
    words: list[str] = []
    for part in path.split("."):
        if part.isdigit() and words:
            words[-1] = f"{_singular(words[-1])} {int(part) + 1}"
        else:
            words.append(part.replace("_", " "))
    *where, field = words or [path]
    if not where:
        return f"{field}: {message}"
    if field[-1].isdigit():  # the path ends with an item: "line 2: ..."
        return f"{', '.join([*where, field])}: {message}"
    return f"{', '.join(where)}: {field} {message}"


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


class _JsonUsageError(UsageError):
    """A usage error of a command given ``--json``: shown as Orderly's JSON error object."""

    def show(self, file: Any = None) -> None:  # noqa: ARG002 (stdout, as every --json output)
        payload = {"error": {"code": "usage_error", "detail": self.format_message()}}
        typer.echo(json.dumps(payload))


class OrderlyGroup(TyperGroup):
    """The root ``orderly`` command: a usage error of any command given ``--json`` (a bad
    option, a missing argument, an unknown command) is a JSON error object on stdout; it
    still exits 2."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: ClickContext | None = None,
        **extra: Any,
    ) -> ClickContext:
        options = args[: args.index("--")] if "--" in args else args
        ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta[_JSON_ASKED] = "--json" in options
        return ctx

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as error:
            if not ctx.meta.get(_JSON_ASKED) or isinstance(error, _JsonUsageError):
                raise
            raise _JsonUsageError(error.format_message(), error.ctx) from None


def run_async[T](command: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning infrastructure faults into one line and an exit code."""
    # Imported here: `orderly dev` starts its servers before it needs the database drivers.
    from redis.exceptions import RedisError
    from sqlalchemy.exc import DBAPIError, InterfaceError

    from orderly_db.faults import is_transient

    try:
        return asyncio.run(command)
    except ConfigurationError as error:
        stop(EXIT_USAGE, "configuration_error", str(error))
    except (OSError, DBAPIError, InterfaceError, RedisError, TimeoutError) as error:
        if isinstance(error, DBAPIError) and not is_transient(error):
            # PostgreSQL answered, and refused the statement: Orderly's bug, not an outage.
            log.exception("internal_error", argv=sys.argv[1:])
            stop(EXIT_INTERNAL, "internal_error", "internal error (details above)")
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        stop(EXIT_UNAVAILABLE, "unavailable", f"a server could not be reached: {reason}")
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception:
        log.exception("internal_error", argv=sys.argv[1:])
        stop(EXIT_INTERNAL, "internal_error", "internal error (details above)")
