"""``import_products``: a product CSV imported in the background, as Orderly's system actor.

The same use case as ``orderly products import``; the queue's job id is the operation's
idempotency key, so every run of one job is one operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from orderly_core.catalogue.imports import ImportAction, ImportReport, import_product_csv
from orderly_core.jobs.payloads import ImportProductsJob
from orderly_core.shared.context import Context
from orderly_worker.boundary import settled, succeeded
from orderly_worker.runtime import WORKER_ACTOR, JobContext, JobResult, resources

log = structlog.get_logger("orderly_worker")


def _report(report: ImportReport) -> JobResult:
    return succeeded(
        applied=report.applied,
        created=report.count(ImportAction.CREATED),
        updated=report.count(ImportAction.UPDATED),
        unchanged=report.count(ImportAction.UNCHANGED),
        rows=[
            {"line": row.line, "sku": row.sku, "action": row.action.value, "changed": row.changed}
            for row in report.rows
        ],
    )


async def import_products_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Import a product CSV: every row validated, one bad row rejects the whole file."""
    job = ImportProductsJob.from_payload(payload)
    context = Context(
        actor=WORKER_ACTOR,
        request_id=job.request_id,
        idempotency_key=str(ctx["job_id"]),
        mode=job.mode,
    )
    log.info("import_products", requested_by=job.requested_by, mode=job.mode.value)
    outcome = await import_product_csv(resources(ctx).deps, context, job.csv_text)
    return settled(outcome, _report)
