"""Job records that nothing runs any more are closed with the truth the queue holds, on the
fakes and on PostgreSQL (item 20)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from orderly_core.jobs.model import JobRecord, JobStatus, new_record, running
from orderly_core.jobs.reconcile import LOST, QueuedJob, QueueState, reconcile_jobs
from orderly_core.jobs.use_cases import get_job
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, ctx, err, ok

GRACE = timedelta(minutes=1)


@dataclass
class QueueSays:
    """The queue's answer for each job id; a job it was not told of is absent."""

    jobs: dict[str, QueuedJob] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def state(self, job_id: str) -> QueuedJob:
        self.asked.append(job_id)
        return self.jobs.get(job_id, QueuedJob(QueueState.ABSENT))


async def _stored(deps: Dependencies, job_id: str, *, started: bool, ago: timedelta) -> JobRecord:
    at = deps.clock.now() - ago
    record = new_record(job_id, "deliver_webhook", {"request_id": "req-1"}, at=at)
    if started:
        record = running(record, 1, at)
    async with deps.unit_of_work() as uow:
        assert await uow.jobs.add(record)
        await uow.commit()
    return record


async def _job(deps: Dependencies, job_id: str) -> JobRecord:
    return ok(await get_job(deps, ctx(), job_id))


async def test_a_job_that_finished_unrecorded_is_closed_with_the_result_the_queue_kept(
    deps: Dependencies,
) -> None:
    await _stored(deps, "done-ok", started=True, ago=GRACE * 2)
    await _stored(deps, "done-refused", started=True, ago=GRACE * 2)
    refusal = {"status": "failed", "error": {"code": "out_of_stock", "detail": "No stock."}}
    queue = QueueSays(
        {
            "done-ok": QueuedJob(QueueState.DONE, {"status": "succeeded", "sent": True}),
            "done-refused": QueuedJob(QueueState.DONE, refusal),
        }
    )

    report = ok(await reconcile_jobs(deps, ctx(), queue, grace=GRACE))

    assert sorted(job.id for job in report.closed) == ["done-ok", "done-refused"]
    succeeded = await _job(deps, "done-ok")
    assert (succeeded.status, succeeded.result) == (
        JobStatus.SUCCEEDED,
        {"status": "succeeded", "sent": True},
    )
    assert succeeded.finished_at is not None
    assert succeeded.attempts == 1
    refused = await _job(deps, "done-refused")
    assert (refused.status, refused.result) == (JobStatus.FAILED, refusal)
    assert refused.last_error == "out_of_stock: No stock."


async def test_a_job_the_queue_no_longer_holds_is_dead_as_lost(deps: Dependencies) -> None:
    await _stored(deps, "worker-died", started=True, ago=GRACE * 2)
    await _stored(deps, "redis-emptied", started=False, ago=GRACE * 2)

    ok(await reconcile_jobs(deps, ctx(), QueueSays(), grace=GRACE))

    for job_id in ("worker-died", "redis-emptied"):
        job = await _job(deps, job_id)
        assert job.status is JobStatus.DEAD
        assert job.result is not None
        assert job.result["error"]["code"] == LOST
        assert job.last_error is not None
        assert job.last_error.startswith(f"{LOST}: the queue no longer holds the job")
        assert job.finished_at is not None


async def test_a_run_that_ended_without_a_result_is_dead_with_the_queues_reason(
    deps: Dependencies,
) -> None:
    await _stored(deps, "timed-out", started=True, ago=GRACE * 2)
    queue = QueueSays({"timed-out": QueuedJob(QueueState.DONE, None, "TimeoutError")})

    ok(await reconcile_jobs(deps, ctx(), queue, grace=GRACE))

    job = await _job(deps, "timed-out")
    assert job.status is JobStatus.DEAD
    assert job.last_error == "internal_error: the run ended without a result: TimeoutError"


async def test_jobs_the_queue_still_holds_or_changed_lately_are_left_alone(
    deps: Dependencies,
) -> None:
    waiting = await _stored(deps, "waiting", started=False, ago=GRACE * 2)
    busy = await _stored(deps, "busy", started=True, ago=GRACE * 2)
    recent = await _stored(deps, "recent", started=True, ago=GRACE / 2)
    queue = QueueSays(
        {"waiting": QueuedJob(QueueState.WAITING), "busy": QueuedJob(QueueState.RUNNING)}
    )

    report = ok(await reconcile_jobs(deps, ctx(), queue, grace=GRACE))

    assert report.closed == ()
    assert sorted(queue.asked) == ["busy", "waiting"]  # the recent one is not even asked about
    for record in (waiting, busy, recent):
        assert (await _job(deps, record.id)).status is record.status


async def test_ended_jobs_are_never_reopened(deps: Dependencies) -> None:
    await _stored(deps, "done-ok", started=True, ago=GRACE * 2)
    queue = QueueSays({"done-ok": QueuedJob(QueueState.DONE, {"status": "succeeded"})})
    ok(await reconcile_jobs(deps, ctx(), queue, grace=GRACE))
    closed = await _job(deps, "done-ok")

    again = ok(await reconcile_jobs(deps, ctx(), QueueSays(), grace=timedelta(0)))

    assert again.closed == ()
    assert await _job(deps, "done-ok") == closed


async def test_only_orderly_and_operators_reconcile(deps: Dependencies) -> None:
    refused = err(await reconcile_jobs(deps, ctx(CUSTOMER), QueueSays(), grace=GRACE))
    assert isinstance(refused, Forbidden)
