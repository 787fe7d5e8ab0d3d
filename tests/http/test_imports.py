"""Background imports over HTTP: upload, 202, the real worker runs it, the job shows the result."""

from __future__ import annotations

import httpx
import pytest

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import signed_in
from tests.http.helpers import upload
from tests.worker.helpers import run_worker


@pytest.mark.usefixtures("worker_env")
async def test_an_upload_is_queued_run_by_the_worker_and_followed_to_its_result(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)

    submitted = await queue_client.post("/api/v1/products/imports", files=upload(), headers=staff)
    assert submitted.status_code == 202, submitted.text
    job_url = submitted.headers["Location"]
    assert submitted.json() | {"job_id": "x"} == {
        "job_id": "x",
        "enqueued": True,
        "mode": "execute",
        "status_url": job_url,
    }
    queued = await queue_client.get(job_url, headers=staff)
    assert (queued.status_code, queued.json()["status"]) == (200, "queued")

    await run_worker()

    done = (await queue_client.get(job_url, headers=staff)).json()
    assert done["status"] == "succeeded"
    assert (done["result"]["created"], done["result"]["applied"]) == (2, True)
    mug = (await queue_client.get("/api/v1/products/MUG-1")).json()
    assert (mug["unit_price"], mug["on_hand"]) == (1250, 4)


async def test_the_idempotency_key_names_the_job_so_a_retry_queues_nothing(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)
    headers = staff | {"Idempotency-Key": "spring-import-1"}

    first = await queue_client.post("/api/v1/products/imports", files=upload(), headers=headers)
    again = await queue_client.post("/api/v1/products/imports", files=upload(), headers=headers)

    assert first.json()["job_id"] == again.json()["job_id"]
    assert first.json()["job_id"].startswith("import:")
    assert (first.json()["enqueued"], again.json()["enqueued"]) == (True, False)


async def test_a_malformed_file_is_refused_before_it_is_queued(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)

    bad_header = await queue_client.post(
        "/api/v1/products/imports", files=upload(b"sku,name\nA,B\n"), headers=staff
    )
    not_utf8 = await queue_client.post(
        "/api/v1/products/imports", files=upload("sku,é".encode("latin-1")), headers=staff
    )

    assert (bad_header.status_code, bad_header.json()["code"]) == (422, "import_rejected")
    assert (not_utf8.status_code, not_utf8.json()["code"]) == (422, "invalid_input")


async def test_only_catalogue_managers_import_and_read_jobs(
    queue_client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, customer = await signed_in(queue_client, pg_deps, "ann@example.com", Role.CUSTOMER)
    _, staff = await signed_in(queue_client, pg_deps, "staff@example.com", Role.STAFF)

    anonymous = await queue_client.post("/api/v1/products/imports", files=upload())
    refused = await queue_client.post("/api/v1/products/imports", files=upload(), headers=customer)
    unknown = await queue_client.get("/api/v1/jobs/no-such-job", headers=staff)
    peeking = await queue_client.get("/api/v1/jobs/no-such-job", headers=customer)

    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert refused.status_code == 403
    assert (unknown.status_code, unknown.json()["code"]) == (404, "job_not_found")
    assert peeking.status_code == 403
