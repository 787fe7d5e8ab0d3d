"""Queueing a product import, on the fakes and on PostgreSQL: a sound file is recorded in the
step that queues it, once per key, a dry run is queued to run as one, and a refused file or a
queue out of reach leaves no record."""

from __future__ import annotations

import pytest

from orderly_core.catalogue.errors import ImportRejected
from orderly_core.jobs.imports import import_job_id, submit_product_import
from orderly_core.jobs.model import JobNotFound, JobQuery, JobStatus
from orderly_core.jobs.payloads import IMPORT_PRODUCTS
from orderly_core.jobs.use_cases import get_job, list_jobs
from orderly_core.shared.context import Context, Mode
from orderly_core.shared.errors import Forbidden
from orderly_core.testing import InMemoryJobQueue
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, OPERATOR, ctx, err, ok

HEADER = "sku,name,description,price,currency,on_hand\n"
CSV = HEADER + "MUG-1,Mug,,12.50,EUR,3\n"


async def test_an_import_is_recorded_queued_with_its_request_in_the_step_that_queues_it(
    deps: Dependencies,
) -> None:
    queue = InMemoryJobQueue()
    submitter = Context(OPERATOR, "req-upload", idempotency_key="spring-1")

    submitted = ok(await submit_product_import(deps, submitter, CSV, queue))

    assert (submitted.id, submitted.enqueued) == (import_job_id(OPERATOR, "spring-1"), True)
    [queued] = queue.jobs
    record = ok(await get_job(deps, ctx(), import_job_id(OPERATOR, "spring-1")))
    assert (record.name, record.status, record.attempts) == (IMPORT_PRODUCTS, JobStatus.QUEUED, 0)
    assert record.payload == queued.payload
    assert record.payload["csv_text"] == CSV
    assert (record.request_id, record.retry_of, record.last_error) == ("req-upload", None, None)
    assert (record.result, record.started_at, record.finished_at) == (None, None, None)
    assert record.created_at == record.updated_at


async def test_the_same_key_queues_and_records_one_job(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    keyed = Context(OPERATOR, "req-1", idempotency_key="spring-1")
    ok(await submit_product_import(deps, keyed, CSV, queue))

    again = ok(await submit_product_import(deps, keyed, HEADER + "TEA-1,Tea,,1,EUR,\n", queue))

    assert again.enqueued is False
    assert len(queue.jobs) == 1
    record = ok(await get_job(deps, ctx(), import_job_id(OPERATOR, "spring-1")))
    assert (record.payload["csv_text"], record.request_id) == (CSV, "req-1")


async def test_a_queue_out_of_reach_leaves_no_record(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    queue.down = True

    with pytest.raises(ConnectionError):
        await submit_product_import(deps, Context(OPERATOR, "r", idempotency_key="k-1"), CSV, queue)

    assert isinstance(err(await get_job(deps, ctx(), import_job_id(OPERATOR, "k-1"))), JobNotFound)


async def test_a_dry_run_import_is_queued_and_recorded_to_run_as_a_dry_run(
    deps: Dependencies,
) -> None:
    queue = InMemoryJobQueue()
    dry = Context(OPERATOR, "req-dry", idempotency_key="dry-1", mode=Mode.DRY_RUN)

    ok(await submit_product_import(deps, dry, CSV, queue))

    [queued] = queue.jobs
    assert queued.payload["mode"] == "dry_run"
    assert (
        ok(await get_job(deps, ctx(), import_job_id(OPERATOR, "dry-1"))).payload["mode"]
        == "dry_run"
    )


async def test_a_malformed_file_or_a_customer_is_refused_before_anything_is_recorded(
    deps: Dependencies,
) -> None:
    queue = InMemoryJobQueue()

    bad = await submit_product_import(deps, ctx(), "sku,name\nA,B\n", queue)
    refused = await submit_product_import(deps, ctx(CUSTOMER), CSV, queue)

    assert isinstance(err(bad), ImportRejected)
    assert isinstance(err(refused), Forbidden)
    assert queue.jobs == []
    assert ok(await list_jobs(deps, ctx(), JobQuery())).items == ()
