"""Options that mean the same on every command: ``--json``, ``--dry-run``,
``--idempotency-key``, ``--if-version``, and the ``--limit`` and ``--cursor`` of listings;
and the settings of every command group.

Declared once so that their names, checks and help read the same everywhere in ``orderly``;
a listing's ``--limit`` defaults to the core's ``PAGE_SIZE_DEFAULT``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from orderly_cli.boundary import EXIT_CODES_HELP
from orderly_core.shared.context import IDEMPOTENCY_KEY_RULE, is_idempotency_key
from orderly_core.shared.paging import PAGE_SIZE_MAX


def _idempotency_key(key: str | None) -> str | None:
    if key is not None and not is_idempotency_key(key):
        raise typer.BadParameter(IDEMPOTENCY_KEY_RULE)
    return key


AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Run every check and show the result, but change nothing."),
]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        metavar="KEY",
        callback=_idempotency_key,
        help="Names this operation so that a retry is recognised (1-255 printable ASCII).",
    ),
]


def if_version_option(subject: str) -> Any:
    """The ``--if-version N`` of a command that changes a ``subject`` (a product, an order...):
    the change applies only to that version of it, and is refused once it has changed."""
    return typer.Option(
        "--if-version",
        min=1,
        metavar="N",
        help=f"Apply only if the {subject} is still at version N; refused if it has changed.",
    )


IfVersion = Annotated[int | None, if_version_option("product")]
Wide = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every column, times in full; lines may be wider than the terminal.",
    ),
]
Limit = Annotated[
    int,
    typer.Option(
        min=1, max=PAGE_SIZE_MAX, metavar="N", help=f"Items per page (1-{PAGE_SIZE_MAX})."
    ),
]
Cursor = Annotated[
    str | None,
    typer.Option(metavar="CURSOR", help="Start after this cursor, printed with the previous page."),
]


def command_group(about: str, *, exit_codes: str = EXIT_CODES_HELP) -> typer.Typer:
    """A group of ``orderly`` commands: its help is ``about`` followed by what its exit codes
    mean, and it shows that help when it is called without a command."""
    return typer.Typer(help=f"{about}\n\n{exit_codes}", no_args_is_help=True, rich_markup_mode=None)


def moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time given to ``option``; one without an offset is read as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2031-04-01T09:00:00Z)",
            param_hint=f"'{option}'",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
