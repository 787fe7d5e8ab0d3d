"""Queuing a product import for the worker instead of running it in the caller."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.catalogue.errors import ImportRejected
from orderly_core.catalogue.imports import parse_product_csv
from orderly_core.jobs.model import new_record
from orderly_core.jobs.payloads import IMPORT_PRODUCTS, ImportProductsJob
from orderly_core.jobs.ports import JobQueue, JobsServices, JobsUnit
from orderly_core.jobs.use_cases import queue_recorded
from orderly_core.platform.idempotency import KeyScope
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import catalogue_write_denied
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.shared.errors import Forbidden

SubmitImportError = Forbidden | ImportRejected
IMPORT_JOB_PREFIX = "import:"


def import_job_id(actor: Actor, key: str) -> str:
    """The job id of an import ``actor`` submits with idempotency key ``key``:
    ``import:<SHA-256 of the actor and the key>``.

    The same actor with the same key always gets the same job, so a retried submission queues
    nothing more; another actor's key, or the id of any other kind of job (a scheduled run's,
    a webhook delivery's), names a different job, so a client's key can never take the id of a
    job it does not own.
    """
    scope = KeyScope.of(actor, IMPORT_PRODUCTS, key)
    digest = hashlib.sha256(json.dumps([scope.actor, scope.key]).encode()).hexdigest()
    return IMPORT_JOB_PREFIX + digest


@dataclass(frozen=True, slots=True)
class SubmittedJob:
    id: str
    enqueued: bool  # False: a job with this id was already queued or finished recently
    mode: Mode


async def submit_product_import(
    deps: JobsServices, ctx: Context, csv_text: str, queue: JobQueue
) -> Result[SubmittedJob, SubmitImportError]:
    """Queue a CSV import for the worker, which runs the same import as the foreground one.

    Rules: only catalogue managers; the file's shape (header, row lengths, size) is checked at
    once so that a malformed file is refused before it is queued, while the cells are checked
    by the import itself. The job id is derived from the submitter and the idempotency key
    when one is given (:func:`import_job_id`), so a retried submission does not queue a
    second job; without a key it is ``import:`` and a new id. The job is recorded as queued,
    with its payload and the request id, in the step that queues it: a queue that cannot be
    reached leaves no record. A dry run is queued and recorded too: the mode travels in the
    payload, and the worker checks every row and changes nothing.
    """
    if denied := catalogue_write_denied(ctx.actor, "import products"):
        return Failure(denied)
    parsed = parse_product_csv(csv_text)
    if not is_successful(parsed):
        return Failure(parsed.failure())
    key = ctx.idempotency_key
    job_id = import_job_id(ctx.actor, key) if key else IMPORT_JOB_PREFIX + deps.ids.new_id().hex
    payload = ImportProductsJob(csv_text, ctx.request_id, ctx.actor.id, ctx.mode).to_payload()

    async def work(uow: JobsUnit) -> Result[SubmittedJob, SubmitImportError]:
        job = new_record(job_id, IMPORT_PRODUCTS, payload, at=deps.clock.now())
        enqueued = await queue_recorded(uow, queue, job)
        return Success(SubmittedJob(job_id, enqueued, ctx.mode))

    return await in_transaction(deps, replace(ctx, mode=Mode.EXECUTE), work)
