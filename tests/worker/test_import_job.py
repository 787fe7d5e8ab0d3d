"""``import_products`` run by a real worker: results, dry runs, refusals and bad payloads."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from arq import ArqRedis
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.jobs import payloads as jobs
from orderly_core.shared.context import Mode
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import make_product
from tests.worker.helpers import (
    REQUEST_ID,
    import_payload,
    outcome,
    run_worker,
    stored_job,
    stored_jobs,
    stored_products,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    # arq's own shutdown still calls a redis-py method deprecated in favour of aclose().
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

HEADER = "sku,name,description,price,currency,on_hand\n"


async def test_import_creates_the_products_and_returns_what_it_did(
    worker_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    csv_text = HEADER + "mug-1,Mug,Stoneware,12.50,EUR,10\nTEA-2,Tea,,4.05,EUR,\n"
    job = await queue.enqueue_job(
        jobs.IMPORT_PRODUCTS, import_payload(csv_text), _job_id="import-1"
    )

    worker = await run_worker()

    info = await outcome(job)
    assert info.success
    assert info.job_try == 1
    assert info.result == {
        "status": "succeeded",
        "applied": True,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rows": [
            {"line": 2, "sku": "MUG-1", "action": "created", "changed": []},
            {"line": 3, "sku": "TEA-2", "action": "created", "changed": []},
        ],
    }
    saved = await stored_products(clean_engine)
    assert sorted(saved) == ["MUG-1", "TEA-2"]
    assert (saved["MUG-1"]["unit_price"], saved["MUG-1"]["currency"]) == (1250, "EUR")
    assert (saved["MUG-1"]["on_hand"], saved["TEA-2"]["on_hand"]) == (10, 0)
    assert saved["MUG-1"]["description"] == "Stoneware"
    assert worker.jobs_complete == 1
    assert worker.jobs_retried == 0


async def test_a_dry_run_changes_nothing_and_reports_what_it_would_do(
    worker_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    deps = sql_dependencies(clean_engine)
    assert (await make_product(deps, on_hand=10)).version == 1
    before = await stored_products(clean_engine)
    csv_text = HEADER + "MUG-1,Mug,,13.00,EUR,\nNEW-1,New,,1.00,EUR,5\n"
    job = await queue.enqueue_job(
        jobs.IMPORT_PRODUCTS, import_payload(csv_text, Mode.DRY_RUN), _job_id="dry-1"
    )

    await run_worker()

    result = (await outcome(job)).result
    assert result["status"] == "succeeded"
    assert result["applied"] is False
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 0)
    assert result["rows"] == [
        {"line": 2, "sku": "MUG-1", "action": "updated", "changed": ["price"]},
        {"line": 3, "sku": "NEW-1", "action": "created", "changed": []},
    ]
    assert await stored_products(clean_engine) == before


async def test_one_bad_row_fails_the_whole_import_for_good(
    worker_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    csv_text = HEADER + "GOOD-1,Good,,1.00,EUR,1\nBAD-1,Bad,,12.345,EUR,1\nb@d,Worse,,1,EUR,x\n"
    job = await queue.enqueue_job(jobs.IMPORT_PRODUCTS, import_payload(csv_text), _job_id="bad-1")

    worker = await run_worker()

    info = await outcome(job)
    assert info.job_try == 1
    assert worker.jobs_retried == 0
    assert info.result["status"] == "failed"
    error = info.result["error"]
    assert error["code"] == "import_rejected"
    assert [(row["line"], row["sku"]) for row in error["rows"]] == [(3, "BAD-1"), (4, "b@d")]
    assert {e["field"] for e in error["rows"][1]["errors"]} == {"sku", "on_hand"}
    assert "line 3 (BAD-1)" in error["detail"]
    assert await stored_products(clean_engine) == {}
    record = await stored_job(clean_engine, "bad-1")
    assert (record["status"], record["attempts"], record["result"]) == ("failed", 1, info.result)
    assert record["last_error"].startswith("import_rejected: ")
    assert await stored_jobs(clean_engine, status="dead") == []  # a refusal is no dead letter


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (({"request_id": REQUEST_ID, "requested_by": "a", "mode": "execute"},), "csv_text"),
        ((import_payload(HEADER) | {"mode": "sometimes"},), "sometimes"),
        (("sku,name\n",), "exactly one JSON object"),
        ((import_payload(HEADER), import_payload(HEADER)), "exactly one JSON object"),
    ],
    ids=["missing-field", "unknown-mode", "not-an-object", "two-payloads"],
)
@pytest.mark.usefixtures("worker_env")
async def test_a_malformed_payload_is_dead_lettered_without_a_retry(
    queue: ArqRedis, clean_engine: AsyncEngine, args: tuple[Any, ...], problem: str
) -> None:
    job = await queue.enqueue_job(jobs.IMPORT_PRODUCTS, *args, _job_id="bad-payload")

    worker = await run_worker()

    info = await outcome(job)
    assert info.job_try == 1
    assert worker.jobs_retried == 0
    assert info.result["status"] == "dead"
    assert info.result["error"]["code"] == "invalid_payload"
    assert problem in info.result["error"]["detail"]
    [letter] = await stored_jobs(clean_engine, status="dead")
    assert (letter["id"], letter["name"], letter["attempts"]) == (
        "bad-payload",
        jobs.IMPORT_PRODUCTS,
        1,
    )
    assert letter["last_error"].startswith("invalid_payload: ")
    assert problem in letter["last_error"]
    assert letter["payload"] == (args[0] if len(args) == 1 and isinstance(args[0], dict) else {})
    assert await stored_products(clean_engine) == {}


async def test_jobs_and_results_cross_redis_as_json(
    worker_env: dict[str, str], queue: ArqRedis, redis: Redis
) -> None:
    payload = import_payload(HEADER + "MUG-1,Mug,,1.00,EUR,1\n")
    await queue.enqueue_job(jobs.IMPORT_PRODUCTS, payload, _job_id="wire-1")

    queued = json.loads(await redis.get("arq:job:wire-1"))  # fails on a pickle
    assert (queued["f"], queued["a"], queued["k"]) == (jobs.IMPORT_PRODUCTS, [payload], {})

    await run_worker()

    stored = json.loads(await redis.get("arq:result:wire-1"))
    assert stored["s"] is True
    assert stored["r"]["status"] == "succeeded"
    assert stored["a"] == [payload]


async def test_every_log_line_of_a_job_carries_its_request_and_job(
    worker_env: dict[str, str], queue: ArqRedis, job_logs: list[MutableMapping[str, Any]]
) -> None:
    bad = HEADER + "BAD-1,Bad,,oops,EUR,1\n"
    await queue.enqueue_job(jobs.IMPORT_PRODUCTS, import_payload(bad), _job_id="logged-1")

    await run_worker()

    lines = [entry for entry in job_logs if entry.get("job_id") == "logged-1"]
    assert [entry["event"] for entry in lines] == ["job_started", "import_products", "job_finished"]
    for entry in lines:
        assert entry["request_id"] == REQUEST_ID
        assert (entry["actor"], entry["job_name"], entry["job_try"]) == (
            "worker",
            "import_products",
            1,
        )
    assert lines[-1]["status"] == "failed"
    assert lines[-1]["code"] == "import_rejected"
    assert lines[1]["requested_by"] == "alice"


async def test_a_job_run_again_gets_its_first_outcome_and_imports_once(
    worker_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    """As when a worker dies after the import committed but before arq recorded the result:
    arq runs the job again under the same id, which is the import's idempotency key."""
    csv_text = HEADER + "MUG-1,Mug,,12.50,EUR,10\n"
    first = await queue.enqueue_job(jobs.IMPORT_PRODUCTS, import_payload(csv_text), _job_id="j-2")
    await run_worker()
    first_result = (await outcome(first)).result
    await queue.delete("arq:result:j-2")  # arq forgets the run; Orderly does not

    again = await queue.enqueue_job(jobs.IMPORT_PRODUCTS, import_payload(csv_text), _job_id="j-2")
    assert again is not None
    await run_worker()

    assert first_result["created"] == 1
    assert (await outcome(again)).result == {**first_result, "replayed": True}
    async with clean_engine.connect() as connection:
        audited = await connection.scalar(
            text("select count(*) from audit_entries where operation = 'product.import'")
        )
    assert audited == 1
