"""Queuing a product import for the worker instead of running it in the caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.authorization import catalogue_write_denied
from orderly_core.catalogue.errors import ImportRejected
from orderly_core.catalogue.imports import parse_product_csv
from orderly_core.context import Context, Mode
from orderly_core.errors import Forbidden
from orderly_core.jobs import IMPORT_PRODUCTS, ImportProductsJob, JobQueue


@dataclass(frozen=True, slots=True)
class SubmittedJob:
    id: str
    enqueued: bool  # False: a job with this id was already queued or finished recently
    mode: Mode


async def submit_product_import(
    queue: JobQueue, ctx: Context, csv_text: str
) -> Result[SubmittedJob, Forbidden | ImportRejected]:
    """Queue a CSV import for the worker, which runs the same import as the foreground one.

    Rules: only catalogue managers; the file's shape (header, row lengths, size) is checked at
    once so that a malformed file is refused before it is queued, while the cells are checked
    by the import itself. The job id is the idempotency key when one is given, so a retried
    submission does not queue a second job.
    """
    if denied := catalogue_write_denied(ctx.actor, "import products"):
        return Failure(denied)
    parsed = parse_product_csv(csv_text)
    if not is_successful(parsed):
        return Failure(parsed.failure())
    job_id = ctx.idempotency_key or uuid.uuid4().hex
    job = ImportProductsJob(csv_text, ctx.request_id, ctx.actor.id, ctx.mode)
    enqueued = await queue.enqueue(IMPORT_PRODUCTS, job.to_payload(), job_id)
    return Success(SubmittedJob(job_id, enqueued, ctx.mode))
