"""``orderly audit``: the audit trail, for operators.

``list`` reads the trail newest first, filtered like the HTTP API's ``GET /api/v1/audit``;
``tail`` prints the newest entries and, with ``--follow``, keeps printing new ones as they
are written. Both read through the one ``list_audit`` use case, which decides who may read
the trail and what a valid filter is.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from returns.pipeline import is_successful
from returns.result import Result, Success
from rich.text import Text

from orderly_cli import output
from orderly_cli.options import AsJson, Cursor, Limit, Wide, command_group, moment
from orderly_cli.session import operator_context, run_use_case
from orderly_core.audit.use_cases import entry_view, list_audit
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from orderly_core.unit_of_work import Dependencies

app = command_group(
    (
        "The audit trail: who changed what, when, under which request, key and mode.\n\n"
        "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
        "in the current directory, and read as the operator (your OS user). Every command "
        "takes --json for scripts."
    ),
    exit_codes=(
        "Exit codes: 0 success (also when `tail -f` is stopped with Ctrl-C), 1 refused by a "
        "business rule (the reason is printed), 2 usage or configuration error, 3 a server "
        "could not be reached, 4 internal error."
    ),
)

# An entry is stamped when it is written and becomes visible when its transaction commits,
# so a later commit can show an earlier time: a follow looks back this far, every poll.
FOLLOW_LOOKBACK = timedelta(seconds=30)

AuditError = Forbidden | InvalidInput


# --- presentation --------------------------------------------------------------------------


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the HTTP API shows one."""
    view = entry_view(entry)
    return {**view, "at": output.rfc3339(entry.at)}


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def changes_text(entry: AuditEntry) -> str:
    """``field: before → after`` for every changed field, in one line."""
    return "; ".join(
        f"{name}: {_value(change.get('before'))} → {_value(change.get('after'))}"
        for name, change in entry.changes.items()
    )


def _actor(entry: AuditEntry) -> str:
    role = f" ({entry.actor_role})" if entry.actor_role else ""
    return f"{entry.actor_kind}:{entry.actor_id}{role}"


def entry_line(entry: AuditEntry) -> str:
    """One entry on one line, for ``tail``."""
    parts = (
        output.rfc3339(entry.at),
        entry.operation,
        f"{entry.target_type}:{entry.target_id}",
        _actor(entry),
        entry.mode,
        f"request={entry.request_id}",
        *((f"key={entry.idempotency_key}",) if entry.idempotency_key else ()),
        changes_text(entry),
    )
    return "  ".join(part for part in parts if part)


def _show_page(
    items: tuple[AuditEntry, ...], next_cursor: str | None, *, wide: bool = False
) -> None:
    """Entries with their target whole; ``wide`` adds the mode, request, key and changes
    (``orderly audit show`` has them too), and times in full."""
    out = output.console(wide=wide)
    if not items:
        out.print("No audit entries.")
    else:
        table = output.list_table(
            f"{len(items)} audit entr{'y' if len(items) == 1 else 'ies'}, newest first"
        )
        table.add_column("At", no_wrap=True)
        table.add_column("Operation", overflow="fold")
        output.add_id_column(table, "Target")
        table.add_column("Actor", overflow="fold")
        if wide:
            for heading in ("Mode", "Request", "Key"):
                table.add_column(heading, no_wrap=True)
            table.add_column("Changes", overflow="fold", min_width=20)
        for e in items:
            cells: list[str | Text] = [
                output.table_time(e.at, wide=wide),
                e.operation,
                Text(f"{e.target_type}:{e.target_id}"),
                Text(_actor(e)),
            ]
            if wide:
                cells += [
                    e.mode,
                    Text(e.request_id),
                    Text(e.idempotency_key or "-"),
                    Text(changes_text(e)),  # recorded values: never read as markup
                ]
            table.add_row(*cells)
        out.print(table)
    if next_cursor:
        out.print(f"Older entries follow: --cursor {next_cursor}")


# --- list ----------------------------------------------------------------------------------


@app.command("list")
def list_command(
    *,
    target_type: Annotated[
        str | None, typer.Option(metavar="TYPE", help="Only entries about this kind of target.")
    ] = None,
    target_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Only entries about this target (a SKU...).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(metavar="ACTOR", help="Only entries by this actor id.")
    ] = None,
    operation: Annotated[
        str | None, typer.Option(metavar="OP", help="Only this operation (product.create...).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only entries at or after this time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only entries before this time.")
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    wide: Wide = False,
    as_json: AsJson = False,
) -> None:
    """List audit entries, newest first, a page at a time.

    Each entry says when, who (actor kind, id and role) and which operation on which target;
    --wide (and --json) add under which request id, idempotency key and mode, and the fields
    it changed (before and after). Filters combine; times are ISO 8601 (2031-04-01,
    2031-04-01T09:00:00+02:00), read as UTC without an offset. When older entries follow,
    the next page's cursor is printed; pass it back with --cursor. With --json:
    {"items": [...], "next_cursor": ...}.

    \b
    Examples:
      orderly audit list --target-type product --target-id MUG-01
      orderly audit list --operation stock.repair --since 2031-04-01 --json
    """
    query = AuditQuery(
        limit=limit,
        cursor=cursor,
        target_type=target_type,
        target_id=target_id,
        actor_id=actor,
        operation=operation,
        since=moment(since, "--since"),
        until=moment(until, "--until"),
    )
    ctx = operator_context()
    page = run_use_case(lambda deps: list_audit(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, entry_json))
    else:
        _show_page(page.items, page.next_cursor, wide=wide)


# --- tail ----------------------------------------------------------------------------------


def _position(entry: AuditEntry) -> tuple[datetime, uuid.UUID]:
    return entry.at, entry.id


@dataclass
class Followed:
    """Which entries a follow has already accounted for.

    ``floor`` is the oldest entry printed at the start when that page was full: anything
    older is history the operator did not ask for, not news. Entries are remembered for
    :data:`FOLLOW_LOOKBACK`, the window every poll reads again.
    """

    floor: tuple[datetime, uuid.UUID] | None
    seen: dict[uuid.UUID, datetime] = field(default_factory=dict)
    newest: datetime | None = None

    def since(self) -> datetime | None:
        return None if self.newest is None else self.newest - FOLLOW_LOOKBACK

    def news(self, entries: Iterable[AuditEntry]) -> list[AuditEntry]:
        """The entries not accounted for yet and newer than the floor, oldest first."""
        unseen = sorted((e for e in entries if e.id not in self.seen), key=_position)
        for entry in unseen:
            self.seen[entry.id] = entry.at
            self.newest = entry.at if self.newest is None else max(self.newest, entry.at)
        if (horizon := self.since()) is not None:
            self.seen = {key: at for key, at in self.seen.items() if at >= horizon}
        floor = self.floor
        return [e for e in unseen if floor is None or _position(e) >= floor]


async def _entries_since(
    deps: Dependencies, ctx: Context, since: datetime | None
) -> Result[list[AuditEntry], AuditError]:
    """Every entry at or after ``since``, all pages."""
    found: list[AuditEntry] = []
    cursor: str | None = None
    while True:
        query = AuditQuery(limit=PAGE_SIZE_MAX, cursor=cursor, since=since)
        result = await list_audit(deps, ctx, query)
        if not is_successful(result):
            return result.map(lambda _: found)
        page = result.unwrap()
        found.extend(page.items)
        if (cursor := page.next_cursor) is None:
            return Success(found)


async def tail_audit(
    deps: Dependencies,
    ctx: Context,
    *,
    count: int,
    emit: Callable[[AuditEntry], None],
    interval: float | None = None,
    polls: int | None = None,
) -> Result[None, AuditError]:
    """Emit the newest ``count`` entries oldest first; then, every ``interval`` seconds (when
    given), the entries written since, oldest first, each once. Stops after ``polls`` polls,
    or never (until cancelled) when ``polls`` is None."""
    first = await list_audit(deps, ctx, AuditQuery(limit=count))
    if not is_successful(first):
        return first.map(lambda _: None)
    page = first.unwrap()
    full = page.next_cursor is not None
    followed = Followed(floor=_position(page.items[-1]) if full else None)
    for entry in followed.news(page.items):
        emit(entry)
    done = 0
    while interval is not None and (polls is None or done < polls):
        await asyncio.sleep(interval)
        done += 1
        found = await _entries_since(deps, ctx, followed.since())
        if not is_successful(found):
            return found.map(lambda _: None)
        for entry in followed.news(found.unwrap()):
            emit(entry)
    return Success(None)


@app.command("tail")
def tail_command(
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new entries until Ctrl-C."),
    ] = False,
    interval: Annotated[
        float,
        typer.Option(metavar="S", min=0.05, help="With --follow, seconds between two looks."),
    ] = 1.0,
    limit: Annotated[
        int,
        typer.Option(
            metavar="N", help=f"How many of the newest entries to print (1-{PAGE_SIZE_MAX})."
        ),
    ] = 10,
    as_json: AsJson = False,
) -> None:
    """Print the newest audit entries, oldest first, one per line.

    With --follow (-f), keep watching and print each new entry once, oldest first, as it is
    written, until Ctrl-C (which exits 0). An entry whose transaction commits more than 30
    seconds after it was written (a very large import) can be missed while following;
    `orderly audit list` always shows it. With --json: one JSON object per line.

    \b
    Examples:
      orderly audit tail
      orderly audit tail -f --interval 0.5
    """
    ctx = operator_context()

    def emit(entry: AuditEntry) -> None:
        try:
            typer.echo(json.dumps(entry_json(entry), default=str) if as_json else entry_line(entry))
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as tail does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None

    every = interval if follow else None
    try:
        run_use_case(
            lambda deps: tail_audit(deps, ctx, count=limit, emit=emit, interval=every),
            as_json=as_json,
        )
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
