"""The API against its own OpenAPI document: schemathesis over every operation, all phases
(examples, coverage, fuzzing, stateful), strings allowed to hold NUL bytes, against the real
app served by uvicorn on 127.0.0.1 over the test PostgreSQL and Redis, as a signed-in admin
(so the operations behind authentication are exercised too) and then as a customer.

It requires no server error, no answer that breaks its declared schema, no refusal of data
the schema allows (``positive_data_acceptance``, see ``schemathesis.toml`` beside this file for
the operations whose 4xx on schema-valid data is a documented business rule) and no
acceptance of data it forbids (``negative_data_rejection``).

Marked ``fuzz`` and left out of the plain ``pytest`` run: ``.ci/run`` runs it as its own step
(``pytest -m fuzz tests/fuzz``). The seed is printed first; ``FUZZ_SEED=<seed>`` replays a
run, ``FUZZ_MAX_EXAMPLES`` sets how many cases each operation gets (see
docs/development.md).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shipping.use_cases import NewShippingRate, create_shipping_rate
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import fresh
from tests.fuzz.hooks import ON_SALE, SHIPPING_METHOD
from tests.http.accounts import JWT_SECRET, PASSWORD, bearer, forget_login_failures, make_user
from tests.http.helpers import seed

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(900)]

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CONFIG = HERE / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
# A run as the customer covers what only customers do (their own orders and account).
CUSTOMER_PATHS = r"^/api/v1/(orders|users/me)"
# The account the fuzzer signs in with at /api/v1/auth/token (see hooks.py).
SIGN_IN = "sign-in@example.com"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def fuzz_seed() -> int:
    chosen = os.environ.get("FUZZ_SEED")
    value = int(chosen) if chosen else random.SystemRandom().randrange(2**31)
    print(f"\nschemathesis seed: {value} (replay with FUZZ_SEED={value})", flush=True)  # noqa: T201
    return value


@asynccontextmanager
async def serving(database_url: str, redis_url: str, log: Path) -> AsyncIterator[str]:
    """The app served by uvicorn in its own process, as in production; its base URL."""
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": "10",
        # The fuzzer signs in and up thousands of times: no lock-out, cheap hashes.
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
        "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "8192",
        # The fuzzer's customer places hundreds of orders and pays few: holds are tested
        # elsewhere (tests/core/orders/test_holds.py, tests/http/test_checkout.py).
        "MAX_OPEN_UNPAID_ORDERS": "1000",
    }
    command = [
        sys.executable, "-m", "uvicorn", "orderly_http.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                for _ in range(300):
                    assert server.poll() is None, f"the API did not start: see {log}"
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)


async def _token(base: str, email: str) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        answer = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


def _schemathesis(
    base: str, token: str, seed: int, *options: str
) -> subprocess.CompletedProcess[str]:
    """Schemathesis against the app at ``base`` with ``token``; the hooks read the address,
    the caller and the account to sign in with from the environment (see hooks.py)."""
    authorization = bearer(token)["Authorization"]
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{base}/openapi.json",
        "--seed", str(seed), "--max-examples", str(MAX_EXAMPLES),
        "--header", f"Authorization: {authorization}",
        "--generation-allow-x00", "true", "--generation-database", "none",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--workers", "2", "--no-color",
        "--request-timeout", "30", "--suppress-health-check", "all",
        *options,
    ]  # fmt: skip
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "FUZZ_BASE_URL": base,
        "FUZZ_AUTHORIZATION": authorization,
        "FUZZ_USERNAME": SIGN_IN,
        "FUZZ_PASSWORD": PASSWORD,
    }
    return subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=600, cwd=ROOT, env=env
    )


def _show(who: str, run: subprocess.CompletedProcess[str], server_log: Path) -> None:
    """Print the run's report (the end of it: the failures and the summary) and keep it whole
    beside the server's log."""
    server_log.with_name(f"schemathesis-{who}.txt").write_text(run.stdout + run.stderr)
    print(f"\n--- schemathesis as the {who} ---\n{run.stdout[-30000:]}{run.stderr}")  # noqa: T201


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "api.log"
    yield log
    if log.exists():
        errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
        print("\n".join(errors[:20]))  # noqa: T201


async def test_the_api_keeps_to_its_openapi_document(
    *,
    clean_engine: AsyncEngine,
    pg_deps: Dependencies,
    database_url: str,
    redis_url: str,
    fuzz_seed: int,
    server_log: Path,
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "admin@example.com", Role.ADMIN)
    await make_user(pg_deps, "ann@example.com", Role.CUSTOMER)
    await make_user(pg_deps, SIGN_IN, Role.CUSTOMER)
    await seed(pg_deps, "MUG-1", on_hand=1000)
    for sku in ON_SALE:
        await seed(pg_deps, sku, on_hand=10_000_000)
    everywhere = NewShippingRate(SHIPPING_METHOD, "Fuzzed", 100, "EUR")
    fresh(await create_shipping_rate(pg_deps, Context(Actor.operator("fuzz"), "seed"), everywhere))
    async with serving(database_url, redis_url, server_log) as base:
        admin = await _token(base, "admin@example.com")
        customer = await _token(base, "ann@example.com")
        # The customer first: the admin's run may deactivate the customer (ending its tokens).
        as_customer = await asyncio.to_thread(
            _schemathesis,
            base,
            customer,
            fuzz_seed,
            "--include-path-regex",
            CUSTOMER_PATHS,
        )
        _show("customer", as_customer, server_log)
        as_admin = await asyncio.to_thread(_schemathesis, base, admin, fuzz_seed)
        _show("admin", as_admin, server_log)

    assert as_admin.returncode == 0, f"seed {fuzz_seed}: see the admin run above"
    assert as_customer.returncode == 0, f"seed {fuzz_seed}: see the customer run above"
