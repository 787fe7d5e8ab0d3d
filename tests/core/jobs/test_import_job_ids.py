"""An import's job id is Orderly's, not the client's: the same submitter with the same key
gets the same job, another submitter gets another job, and no key names a job of another kind
(a scheduled run, a webhook delivery)."""

from __future__ import annotations

from orderly_core.jobs.imports import IMPORT_JOB_PREFIX, import_job_id, submit_product_import
from orderly_core.jobs.use_cases import get_job
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.testing import InMemoryJobQueue
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import OPERATOR, STAFF, ctx, ok

CSV = "sku,name,description,price,currency,on_hand\nMUG-1,Mug,,12.50,EUR,3\n"
OTHER_STAFF = Actor.user("u-9", Role.STAFF)
SCHEDULED_RUN = "expire_orders:1924992000000123"  # what the queue names a scheduled run


async def test_the_same_key_from_the_same_submitter_is_the_same_job(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    keyed = Context(STAFF, "req-1", idempotency_key="spring-1")

    first = ok(await submit_product_import(deps, keyed, CSV, queue))
    again = ok(await submit_product_import(deps, keyed, CSV, queue))

    assert first.id == again.id == import_job_id(STAFF, "spring-1")
    assert (first.enqueued, again.enqueued) == (True, False)
    assert [job.job_id for job in queue.jobs] == [first.id]


async def test_the_same_key_from_two_submitters_is_two_jobs(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()

    ann = ok(
        await submit_product_import(deps, Context(STAFF, "r-1", idempotency_key="k"), CSV, queue)
    )
    bob = ok(
        await submit_product_import(
            deps, Context(OTHER_STAFF, "r-2", idempotency_key="k"), CSV, queue
        )
    )

    assert ann.id != bob.id
    assert (ann.enqueued, bob.enqueued) == (True, True)
    assert ok(await get_job(deps, ctx(), ann.id)).request_id == "r-1"
    assert ok(await get_job(deps, ctx(), bob.id)).request_id == "r-2"


async def test_a_key_never_becomes_the_id_of_another_kind_of_job(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    for key in (SCHEDULED_RUN, "webhook:e:d:1:0", "import:" + "0" * 64):
        keyed = Context(STAFF, "req-1", idempotency_key=key)

        submitted = ok(await submit_product_import(deps, keyed, CSV, queue))

        assert submitted.id != key
        assert submitted.id.startswith(IMPORT_JOB_PREFIX)
        assert len(submitted.id) == len(IMPORT_JOB_PREFIX) + 64


async def test_an_import_without_a_key_gets_a_new_id_in_the_import_namespace(
    deps: Dependencies,
) -> None:
    queue = InMemoryJobQueue()

    first = ok(await submit_product_import(deps, ctx(OPERATOR), CSV, queue))
    second = ok(await submit_product_import(deps, ctx(OPERATOR), CSV, queue))

    assert first.id != second.id
    assert all(job.id.startswith(IMPORT_JOB_PREFIX) for job in (first, second))
    assert (first.enqueued, second.enqueued) == (True, True)
