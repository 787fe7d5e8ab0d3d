"""Background jobs over HTTP: a job followed from queued to its result, listings by status and
name in keyset pages, and retries of failed jobs, with the real worker, Redis and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from returns.pipeline import is_successful

from orderly_core.jobs.imports import import_job_id
from orderly_core.jobs.model import JobStatus
from orderly_core.jobs.use_cases import JobOutcome, JobRun, record_run_ended, record_run_started
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import signed_in
from tests.http.helpers import CSV_HEADER, upload
from tests.worker.helpers import run_worker

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")

BIG_CSV = CSV_HEADER + b"".join(b"SKU-%d,Item %d,,1.00,EUR,1\n" % (n, n) for n in range(60))
WORKER = Context(Actor.system("worker"), "req-worker")


async def recorded(deps: Dependencies, job_id: str, name: str, status: JobStatus) -> None:
    """A job that ran once and ended ``status``, as the worker records it."""
    run = JobRun(job_id, name, {"request_id": f"req-{job_id}"}, 1, datetime.now(UTC))
    assert is_successful(await record_run_started(deps, WORKER, run))
    error = None if status is JobStatus.SUCCEEDED else "internal_error: boom"
    outcome = JobOutcome(status, {"status": status.value}, error)
    assert is_successful(await record_run_ended(deps, WORKER, run, outcome))


@pytest.mark.usefixtures("worker_env")
async def test_a_job_is_followed_from_queued_to_its_result_without_its_csv(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    user, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)
    headers = staff | {"Idempotency-Key": "spring-7", "X-Request-ID": "req-upload-7"}
    submitted = await queue_client.post(
        "/api/v1/products/imports", files=upload(BIG_CSV), headers=headers
    )
    assert submitted.status_code == 202, submitted.text
    job_id = import_job_id(user.actor, "spring-7")
    assert submitted.headers["Location"] == f"/api/v1/jobs/{job_id}"

    queued = await queue_client.get(f"/api/v1/jobs/{job_id}", headers=staff)

    assert queued.status_code == 200, queued.text
    body = queued.json()
    assert body | {"created_at": "t", "updated_at": "t"} == {
        "id": job_id,
        "name": "import_products",
        "status": "queued",
        "attempts": 0,
        "last_error": None,
        "request_id": "req-upload-7",
        "retry_of": None,
        "created_at": "t",
        "started_at": None,
        "finished_at": None,
        "updated_at": "t",
        "payload": {"request_id": "req-upload-7", "requested_by": body["payload"]["requested_by"],
                    "mode": "execute"},
        "payload_omitted": ["csv_text"],
        "result": None,
    }  # fmt: skip
    assert body["created_at"].endswith("Z")

    await run_worker()

    done = (await queue_client.get(f"/api/v1/jobs/{job_id}", headers=staff)).json()
    assert (done["status"], done["attempts"], done["last_error"]) == ("succeeded", 1, None)
    assert (done["result"]["status"], done["result"]["created"]) == ("succeeded", 60)
    assert done["started_at"] is not None
    assert done["finished_at"] is not None


async def test_jobs_are_listed_newest_first_by_status_and_name_in_pages(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(queue_client, pg_deps, "admin@example.com", Role.ADMIN)
    await recorded(pg_deps, "job-a", "import_products", JobStatus.SUCCEEDED)
    await recorded(pg_deps, "job-b", "deliver_webhook", JobStatus.DEAD)
    await recorded(pg_deps, "job-c", "import_products", JobStatus.DEAD)

    first = await queue_client.get("/api/v1/jobs", params={"limit": 2}, headers=admin)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    second = await queue_client.get(
        "/api/v1/jobs", params={"limit": 2, "cursor": cursor}, headers=admin
    )
    dead = await queue_client.get("/api/v1/jobs", params={"status": "dead"}, headers=admin)
    dead_imports = await queue_client.get(
        "/api/v1/jobs", params={"status": "dead", "name": "import_products"}, headers=admin
    )

    assert [j["id"] for j in first.json()["items"]] == ["job-c", "job-b"]
    assert [j["id"] for j in second.json()["items"]] == ["job-a"]
    assert second.json()["next_cursor"] is None
    assert [j["id"] for j in dead.json()["items"]] == ["job-c", "job-b"]
    assert [j["id"] for j in dead_imports.json()["items"]] == ["job-c"]
    item = dead_imports.json()["items"][0]
    assert "payload" not in item
    assert "result" not in item
    assert (item["status"], item["last_error"], item["request_id"]) == (
        "dead",
        "internal_error: boom",
        "req-job-c",
    )


async def test_a_listing_refuses_what_it_cannot_read_and_whom_it_does_not_serve(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)
    _, customer = await signed_in(queue_client, pg_deps, "ann@example.com", Role.CUSTOMER)

    unknown_status = await queue_client.get("/api/v1/jobs?status=lost", headers=staff)
    bad_cursor = await queue_client.get("/api/v1/jobs?cursor=nonsense", headers=staff)
    anonymous = await queue_client.get("/api/v1/jobs")
    peeking = await queue_client.get("/api/v1/jobs", headers=customer)
    retrying = await queue_client.post("/api/v1/jobs/x/retry", headers=customer)

    assert (unknown_status.status_code, unknown_status.json()["code"]) == (422, "invalid_input")
    assert unknown_status.json()["errors"][0]["field"] == "status"
    assert (bad_cursor.status_code, bad_cursor.json()["errors"][0]["field"]) == (422, "cursor")
    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert (peeking.status_code, retrying.status_code) == (403, 403)


@pytest.mark.usefixtures("worker_env")
async def test_a_failed_job_is_retried_as_a_new_job_that_the_worker_runs(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)
    bad = CSV_HEADER + b"BAD-1,Bad,,12.345,EUR,1\n"
    keyed = staff | {"Idempotency-Key": "bad-7"}
    submitted = await queue_client.post(
        "/api/v1/products/imports", files=upload(bad), headers=keyed
    )
    bad_7 = submitted.json()["job_id"]
    await run_worker()
    failed = (await queue_client.get(f"/api/v1/jobs/{bad_7}", headers=staff)).json()
    assert (failed["status"], failed["result"]["error"]["code"]) == ("failed", "import_rejected")

    dry = await queue_client.post(f"/api/v1/jobs/{bad_7}/retry?mode=dry_run", headers=staff)
    assert dry.status_code == 200, dry.text
    assert dry.headers["Orderly-Mode"] == "dry_run"
    assert "Location" not in dry.headers
    assert (dry.json()["id"], dry.json()["retry_of"]) == (f"{bad_7}:retry-1", bad_7)
    assert (
        await queue_client.get(f"/api/v1/jobs/{bad_7}:retry-1", headers=staff)
    ).status_code == 404

    retried = await queue_client.post(f"/api/v1/jobs/{bad_7}/retry", headers=staff)

    assert retried.status_code == 202, retried.text
    assert retried.headers["Location"] == f"/api/v1/jobs/{bad_7}:retry-1"
    assert retried.json() | {"created_at": "t", "updated_at": "t"} == {
        "id": f"{bad_7}:retry-1",
        "name": "import_products",
        "status": "queued",
        "attempts": 0,
        "last_error": None,
        "request_id": failed["request_id"],
        "retry_of": bad_7,
        "created_at": "t",
        "started_at": None,
        "finished_at": None,
        "updated_at": "t",
    }
    await run_worker()
    again = (await queue_client.get(retried.headers["Location"], headers=staff)).json()
    assert (again["status"], again["attempts"]) == ("failed", 1)  # the same file, refused again
    assert again["payload"] == failed["payload"]
    assert (await queue_client.get(f"/api/v1/jobs/{bad_7}", headers=staff)).json() == failed


async def test_only_failed_and_dead_jobs_can_be_retried(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)
    await recorded(pg_deps, "fine-1", "import_products", JobStatus.SUCCEEDED)

    refused = await queue_client.post("/api/v1/jobs/fine-1/retry", headers=staff)
    refused_dry = await queue_client.post("/api/v1/jobs/fine-1/retry?mode=dry_run", headers=staff)
    unknown = await queue_client.post("/api/v1/jobs/nope/retry", headers=staff)

    assert (refused.status_code, refused.json()["code"]) == (409, "job_not_retryable")
    assert (refused.json()["job_id"], refused.json()["current"]) == ("fine-1", "succeeded")
    assert refused_dry.headers["Orderly-Mode"] == "dry_run"
    assert (unknown.status_code, unknown.json()["code"]) == (404, "job_not_found")


async def test_a_retry_sent_again_with_its_key_queues_one_job(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)
    await recorded(pg_deps, "dead-1", "deliver_webhook", JobStatus.DEAD)
    keyed = staff | {"Idempotency-Key": "retry-dead-1"}

    first = await queue_client.post("/api/v1/jobs/dead-1/retry", headers=keyed)
    again = await queue_client.post("/api/v1/jobs/dead-1/retry", headers=keyed)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    listed = (await queue_client.get("/api/v1/jobs", headers=staff)).json()["items"]
    assert [j["id"] for j in listed] == ["dead-1:retry-1", "dead-1"]


async def test_the_job_routes_are_documented_signed_in_with_their_problems(
    queue_client: httpx.AsyncClient,
) -> None:
    document = (await queue_client.get("/openapi.json")).json()
    paths = document["paths"]
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

    routes = {
        ("/api/v1/jobs", "get"): {"status", "name", "limit", "cursor"},
        ("/api/v1/jobs/{job_id}", "get"): {"job_id"},
        ("/api/v1/jobs/{job_id}/retry", "post"): {"job_id", "mode"},
    }
    for (path, method), parameters in routes.items():
        route = paths[path][method]
        assert route["security"], path
        assert {p["name"] for p in route["parameters"]} == parameters, path
        for status in ("401", "403", "422", "500"):
            assert route["responses"][status]["content"] == problem, (path, status)
    assert paths["/api/v1/jobs/{job_id}/retry"]["post"]["responses"]["409"]["content"] == problem
    assert "HTTPValidationError" not in str(document)
