"""The retry policy: backoff, which failures are retried, and giving up, on a real worker."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from typing import Any

import pytest
from arq import ArqRedis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orderly_core.jobs import payloads as jobs
from orderly_db.engine import transaction
from orderly_worker.boundary import guarded, succeeded
from orderly_worker.retry import RetryPolicy, is_infrastructure_fault
from orderly_worker.runtime import JobContext, JobResult
from tests.worker.helpers import (
    REQUEST_ID,
    RETRY_BASE_S,
    UNREACHABLE_POSTGRES,
    import_payload,
    outcome,
    run_worker,
    stored_job,
    stored_jobs,
    stored_products,
)

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


@given(
    job_try=st.integers(min_value=1, max_value=40),
    base=st.floats(min_value=0.01, max_value=60),
    ceiling=st.floats(min_value=0.01, max_value=3600),
)
def test_backoff_doubles_up_to_its_ceiling_with_jitter_in_the_upper_half(
    job_try: int, base: float, ceiling: float
) -> None:
    policy = RetryPolicy(max_tries=50, base_delay_s=base, max_delay_s=ceiling)
    bound = min(ceiling, base * 2 ** (job_try - 1))
    assert bound / 2 <= policy.backoff(job_try) <= bound


def test_backoff_schedule_and_jitter() -> None:
    top = RetryPolicy(base_delay_s=10, max_delay_s=300, uniform=lambda _low, high: high)
    assert [top.backoff(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
    draws = {RetryPolicy(base_delay_s=10).backoff(3) for _ in range(20)}
    assert len(draws) > 1, "every worker would come back at the same instant"


def test_the_last_try_is_the_one_numbered_max_tries() -> None:
    policy = RetryPolicy(max_tries=3)
    assert [policy.gives_up_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


async def _raised(engine: AsyncEngine, sql: str) -> Exception:
    """The error running ``sql`` raises (statements time out after 100 ms)."""
    try:
        async with transaction(engine) as connection:
            await connection.execute(text("SET LOCAL statement_timeout = 100"))
            await connection.execute(text(sql))
    except Exception as error:
        return error
    raise AssertionError(f"{sql!r} succeeded")


@pytest.mark.postgres
async def test_database_errors_are_retried_only_when_the_server_is_unavailable(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    cancelled = await _raised(clean_engine, "SELECT pg_sleep(5)")  # statement timeout
    assert isinstance(cancelled, DBAPIError)
    assert is_infrastructure_fault(cancelled)
    bad_sql = await _raised(clean_engine, "SELEC 1")
    broken_rule = await _raised(clean_engine, "INSERT INTO products (sku) VALUES ('X')")
    bad_data = await _raised(clean_engine, "SELECT 1 / 0")
    assert not any(map(is_infrastructure_fault, (bad_sql, broken_rule, bad_data)))

    for url in (
        make_url(database_url)
        .set(database="no_such_database")
        .render_as_string(hide_password=False),
        UNREACHABLE_POSTGRES,
    ):
        engine = create_async_engine(url)
        try:
            unavailable = await _raised(engine, "SELECT 1")
        finally:
            await engine.dispose()
        assert is_infrastructure_fault(unavailable), repr(unavailable)


async def test_redis_being_down_is_retried_and_a_bug_is_not() -> None:
    client = Redis(host="127.0.0.1", port=1)
    with pytest.raises(RedisConnectionError) as caught:
        await client.ping()
    await client.aclose()
    assert is_infrastructure_fault(caught.value)
    assert not is_infrastructure_fault(ValueError("bad"))
    assert not is_infrastructure_fault(KeyError("sku"))


# Jobs standing in for ones that meet a fault; each registered under its own name.


async def _flaky(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    if ctx["job_try"] == 1:
        raise ConnectionResetError("connection reset by peer")
    return succeeded(seen=dict(payload))


async def _slow_first(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    if ctx["job_try"] == 1:
        await asyncio.sleep(30)
    return succeeded()


async def _buggy(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    return succeeded(first=payload["lines"][0])


@pytest.mark.usefixtures("worker_env")
async def test_an_infrastructure_fault_is_retried_after_a_backoff(
    queue: ArqRedis, clean_engine: AsyncEngine, job_logs: list[MutableMapping[str, Any]]
) -> None:
    job = await queue.enqueue_job("flaky", {"request_id": REQUEST_ID}, _job_id="flaky-1")

    worker = await run_worker([guarded("flaky", _flaky)])

    info = await outcome(job)
    assert info.job_try == 2
    assert worker.jobs_retried == 1
    assert info.result == {"status": "succeeded", "seen": {"request_id": REQUEST_ID}}
    [retry] = [entry for entry in job_logs if entry["event"] == "job_retry"]
    assert RETRY_BASE_S / 2 <= retry["retry_in_s"] <= RETRY_BASE_S
    assert (retry["log_level"], retry["job_try"], retry["request_id"]) == (
        "warning",
        1,
        REQUEST_ID,
    )
    assert "ConnectionResetError" in retry["error"]
    record = await stored_job(clean_engine, "flaky-1")
    assert (record["name"], record["status"], record["attempts"]) == ("flaky", "succeeded", 2)
    assert record["last_error"] == "ConnectionResetError: connection reset by peer"
    assert record["result"] == info.result
    assert record["request_id"] == REQUEST_ID
    assert record["payload"] == {"request_id": REQUEST_ID}
    assert record["created_at"] <= record["started_at"] <= record["finished_at"]
    assert await stored_jobs(clean_engine, status="dead") == []


async def test_a_job_past_its_deadline_is_stopped_and_retried(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, queue: ArqRedis
) -> None:
    monkeypatch.setenv("WORKER_JOB_TIMEOUT_S", "0.2")
    job = await queue.enqueue_job("slow", {"request_id": REQUEST_ID})

    worker = await run_worker([guarded("slow", _slow_first)])

    info = await outcome(job)
    assert info.result == {"status": "succeeded"}
    assert info.job_try == 2
    assert worker.jobs_retried == 1


@pytest.mark.usefixtures("worker_env")
async def test_a_bug_is_logged_with_its_traceback_and_dead_lettered_at_once(
    queue: ArqRedis, clean_engine: AsyncEngine, job_logs: list[MutableMapping[str, Any]]
) -> None:
    job = await queue.enqueue_job("buggy", {"request_id": REQUEST_ID}, _job_id="bug-1")

    worker = await run_worker([guarded("buggy", _buggy)])

    info = await outcome(job)
    assert info.job_try == 1
    assert worker.jobs_retried == 0
    assert info.result["status"] == "dead"
    assert info.result["error"]["code"] == "internal_error"
    assert "lines" not in info.result["error"]["detail"]  # internals stay in the log
    [dead] = [entry for entry in job_logs if entry["event"] == "job_dead"]
    assert dead["reason"] == "internal_error"
    assert isinstance(dead["exc_info"], KeyError)
    [letter] = await stored_jobs(clean_engine, status="dead")
    assert (letter["id"], letter["name"], letter["attempts"], letter["request_id"]) == (
        "bug-1",
        "buggy",
        1,
        REQUEST_ID,
    )
    assert letter["last_error"] == f"internal_error: {info.result['error']['detail']}"
    assert letter["result"] == info.result
    assert letter["finished_at"] is not None


@pytest.mark.postgres
@pytest.mark.usefixtures("worker_env")
async def test_an_import_gives_up_when_postgres_stays_unreachable(
    monkeypatch: pytest.MonkeyPatch,
    queue: ArqRedis,
    clean_engine: AsyncEngine,
    job_logs: list[MutableMapping[str, Any]],
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_POSTGRES)
    monkeypatch.setenv("WORKER_MAX_TRIES", "2")
    payload = import_payload("sku,name,description,price,currency,on_hand\nA,A,,1,EUR,1\n")
    job = await queue.enqueue_job(jobs.IMPORT_PRODUCTS, payload, _job_id="no-db")

    worker = await run_worker()

    info = await outcome(job)
    assert info.job_try == 2
    assert worker.jobs_retried == 1
    assert info.result["status"] == "dead"
    assert info.result["error"]["code"] == "unavailable"
    assert info.result["error"]["detail"].startswith("gave up after 2 tries")
    events = [(e["event"], e["job_try"]) for e in job_logs if e.get("job_id") == "no-db"]
    assert ("job_retry", 1) in events
    assert ("job_dead", 2) in events
    # Each of the four writes of its record met the same outage: logged, never fatal.
    assert [e["job_try"] for e in job_logs if e["event"] == "job_not_recorded"] == [1, 1, 2, 2]
    assert await stored_jobs(clean_engine) == []
    assert await stored_products(clean_engine) == {}
