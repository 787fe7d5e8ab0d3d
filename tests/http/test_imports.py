"""Background imports over HTTP: upload, 202, the real worker runs it, the job shows the result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from tests.http.accounts import auth_settings, forget_login_failures, signed_in
from tests.http.helpers import serving
from tests.worker.helpers import run_worker

IMPORTS_DB = 8  # a Redis database of their own: the queue is emptied before each test
CSV = b"sku,name,description,price,currency,on_hand\nmug-1,Mug,,12.50,EUR,4\nTEE-1,Shirt,,20,EUR,\n"


@pytest.fixture
def queue_url(redis_url: str) -> str:
    return urlsplit(redis_url)._replace(path=f"/{IMPORTS_DB}").geturl()


@pytest_asyncio.fixture(loop_scope="session")
async def client(
    database_url: str, queue_url: str, pg_deps: Dependencies
) -> AsyncIterator[httpx.AsyncClient]:
    async with Redis.from_url(queue_url) as redis:
        await redis.flushdb()
    forget_login_failures(queue_url)
    async with serving(create_app(auth_settings(database_url, queue_url))) as client:
        yield client


def upload(content: bytes = CSV) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("products.csv", content, "text/csv")}


async def test_an_upload_is_queued_run_by_the_worker_and_followed_to_its_result(
    client: httpx.AsyncClient,
    pg_deps: Dependencies,
    database_url: str,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)

    submitted = await client.post("/api/v1/products/imports", files=upload(), headers=staff)
    assert submitted.status_code == 202, submitted.text
    job_url = submitted.headers["Location"]
    assert submitted.json() | {"job_id": "x"} == {
        "job_id": "x",
        "enqueued": True,
        "mode": "execute",
        "status_url": job_url,
    }
    queued = await client.get(job_url, headers=staff)
    assert (queued.status_code, queued.json()["status"]) == (200, "queued")

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", queue_url)
    await run_worker()

    done = (await client.get(job_url, headers=staff)).json()
    assert done["status"] == "succeeded"
    assert (done["result"]["created"], done["result"]["applied"]) == (2, True)
    mug = (await client.get("/api/v1/products/MUG-1")).json()
    assert (mug["unit_price"], mug["on_hand"]) == (1250, 4)


async def test_the_idempotency_key_names_the_job_so_a_retry_queues_nothing(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)
    headers = staff | {"Idempotency-Key": "spring-import-1"}

    first = await client.post("/api/v1/products/imports", files=upload(), headers=headers)
    again = await client.post("/api/v1/products/imports", files=upload(), headers=headers)

    assert first.json()["job_id"] == again.json()["job_id"]
    assert first.json()["job_id"].startswith("import:")
    assert (first.json()["enqueued"], again.json()["enqueued"]) == (True, False)


async def test_a_malformed_file_is_refused_before_it_is_queued(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)

    bad_header = await client.post(
        "/api/v1/products/imports", files=upload(b"sku,name\nA,B\n"), headers=staff
    )
    not_utf8 = await client.post(
        "/api/v1/products/imports", files=upload("sku,é".encode("latin-1")), headers=staff
    )

    assert (bad_header.status_code, bad_header.json()["code"]) == (422, "import_rejected")
    assert (not_utf8.status_code, not_utf8.json()["code"]) == (422, "invalid_input")


async def test_only_catalogue_managers_import_and_read_jobs(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, customer = await signed_in(client, pg_deps, "ann@example.com", Role.CUSTOMER)
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)

    anonymous = await client.post("/api/v1/products/imports", files=upload())
    refused = await client.post("/api/v1/products/imports", files=upload(), headers=customer)
    unknown = await client.get("/api/v1/jobs/no-such-job", headers=staff)
    peeking = await client.get("/api/v1/jobs/no-such-job", headers=customer)

    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert refused.status_code == 403
    assert (unknown.status_code, unknown.json()["code"]) == (404, "job_not_found")
    assert peeking.status_code == 403
