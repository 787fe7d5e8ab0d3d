"""``orderly products import``: a CSV file of products, applied at once or by the worker.

The file is read here; its shape and every rule about its rows belong to the core's import
use case, which the worker runs too. With ``--background`` the import is queued as a
JSON job whose id is the idempotency key, so the queue itself refuses a second job with it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from returns.pipeline import is_successful
from returns.result import Result

from orderly_cli import output
from orderly_cli.boundary import EXIT_REFUSED, refuse, run_async
from orderly_cli.config import cli_settings
from orderly_cli.options import AsJson, DryRun, IdempotencyKey
from orderly_cli.session import noting_replays, operator_context, with_dependencies
from orderly_core.catalogue.errors import ImportRejected
from orderly_core.catalogue.imports import import_product_csv
from orderly_core.jobs.imports import SubmitImportError, SubmittedJob, submit_product_import
from orderly_core.shared.context import Context
from orderly_core.shared.errors import DomainError
from orderly_db.job_queue import ArqJobQueue

MAX_IMPORT_BYTES = 20 * 1024 * 1024


def import_command(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.csv", show_default=False, help="UTF-8 CSV file, or - to read stdin."
        ),
    ],
    *,
    background: Annotated[
        bool, typer.Option("--background", help="Queue the import for the worker and return.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="List every row, the unchanged ones too."),
    ] = False,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Create or update products from a CSV file, matched by SKU, all or nothing.

    The file (UTF-8, at most 20 MiB) has the header row
    sku,name,description,price,currency,on_hand; price is in major units (12.50);
    description and on_hand may be empty. An empty on_hand keeps an existing product's stock
    (a new product starts at 0); a number sets stock on hand. Every row is checked first: one
    bad row rejects the whole import and every bad row is listed as `line N (SKU): field:
    message`. The rows created or updated are listed with their changed fields (every row with
    --verbose), then the summary: how many were created, updated and left unchanged; with
    --dry-run, what would be. With --json: every row, and the counts.

    With --background the worker runs the import and the command prints the job's id, to
    follow with `orderly jobs show ID`. With --idempotency-key the job id is made from you
    and the key (import:<SHA-256>), so the same key never queues a second job while the
    first is queued or its result is kept (a day).

    \b
    Examples:
      orderly products import catalogue.csv --dry-run
      orderly products import catalogue.csv --background --idempotency-key spring-2031
    """
    text = _read_csv(file)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    if background:
        _enqueue_import(text, ctx, as_json=as_json)
        return
    with output.progress_bar(not as_json, "Importing") as progress:
        result = noting_replays(
            run_async(with_dependencies(lambda deps: import_product_csv(deps, ctx, text, progress)))
        )
    if not is_successful(result):
        _refuse_import(result.failure(), as_json=as_json)
    report = result.unwrap()
    if as_json:
        output.print_json(output.import_json(report))
    else:
        output.show_import(report, verbose=verbose)


def _read_csv(source: str) -> str:
    hint = "'FILE.csv'"
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(MAX_IMPORT_BYTES + 1)
    except OSError as error:
        raise typer.BadParameter(
            f"cannot read {source}: {error.strerror}", param_hint=hint
        ) from None
    if len(data) > MAX_IMPORT_BYTES:
        limit = f"{MAX_IMPORT_BYTES // 2**20} MiB"
        raise typer.BadParameter(f"is larger than {limit}: split it", param_hint=hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise typer.BadParameter(f"is not UTF-8 (byte {error.start})", param_hint=hint) from None


def _refuse_import(error: DomainError, *, as_json: bool) -> NoReturn:
    """Refuses an import, or its submission, with its reason; a rejected file is told one line
    per bad row, so that every fix can be made in one pass over the file."""
    if as_json or not isinstance(error, ImportRejected):
        refuse(error, as_json=as_json)
    typer.echo(
        f"error: the import was rejected, nothing was imported: {len(error.rows)} bad row(s)",
        err=True,
    )
    for row in error.rows:
        typer.echo(row.describe(), err=True)
    raise typer.Exit(EXIT_REFUSED)


def _enqueue_import(csv_text: str, ctx: Context, *, as_json: bool) -> None:
    result = run_async(_submit(csv_text, ctx))
    if not is_successful(result):
        _refuse_import(result.failure(), as_json=as_json)
    job = result.unwrap()
    if as_json:
        output.print_json({"job_id": job.id, "enqueued": job.enqueued, "mode": job.mode.value})
        return
    if not job.enqueued:
        typer.echo(f"Job {job.id} is already enqueued, or ran recently: not enqueued again.")
        return
    if ctx.applies_changes:
        typer.echo(f"Import enqueued as job {job.id}.")
    else:
        typer.echo(
            f"Import enqueued as job {job.id}, as a dry run: the worker checks every row "
            "and changes nothing."
        )
    typer.echo(f"Follow it with: orderly jobs show {job.id}")


async def _submit(csv_text: str, ctx: Context) -> Result[SubmittedJob, SubmitImportError]:
    queue = ArqJobQueue.from_url(cli_settings().redis_url)
    try:
        return await with_dependencies(
            lambda deps: submit_product_import(deps, ctx, csv_text, queue)
        )
    finally:
        await queue.close()
