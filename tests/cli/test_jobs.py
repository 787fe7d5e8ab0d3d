"""`orderly jobs ...` through Typer's runner, against the real PostgreSQL and Redis: listings,
the dead letters, one job, and retries (queued for real, or only shown with --dry-run)."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from returns.pipeline import is_successful
from typer.testing import Result

from orderly_core.jobs.imports import import_job_id
from orderly_core.jobs.model import JobStatus
from orderly_core.jobs.payloads import IMPORT_PRODUCTS
from orderly_core.jobs.use_cases import JobOutcome, JobRun, record_run_ended, record_run_started
from orderly_core.shared.context import Actor, Context
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from tests.cli.conftest import Cli
from tests.cli.helpers import in_thread, ok_json, queued_job

pytestmark = [pytest.mark.postgres]

WORKER = Context(Actor.system("worker"), "req-worker")
CSV = "sku,name,description,price,currency,on_hand\n" + "".join(
    f"SKU-{n},Item {n},,1.00,EUR,1\n" for n in range(60)
)
T0 = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


def ran(
    settings: InfraSettings,
    job_id: str,
    status: JobStatus,
    *,
    minute: int,
    name: str = IMPORT_PRODUCTS,
) -> None:
    """A job queued at T0 + ``minute`` that ran once and ended ``status``, as the worker
    records it."""
    payload = {"csv_text": CSV, "request_id": f"req-{job_id}", "requested_by": "alice"}
    payload |= {"mode": "execute"}
    run = JobRun(job_id, name, payload, 1, T0 + timedelta(minutes=minute))
    error = None if status is JobStatus.SUCCEEDED else "unavailable: gave up after 5 tries"
    outcome = JobOutcome(status, {"status": status.value}, error)

    async def record() -> None:
        engine = create_engine(settings, application_name="orderly-tests-cli")
        try:
            deps = sql_dependencies(engine)
            assert is_successful(await record_run_started(deps, WORKER, run))
            assert is_successful(await record_run_ended(deps, WORKER, run, outcome))
        finally:
            await engine.dispose()

    in_thread(record)


@pytest.fixture
def jobs(cli: Cli, infra_settings: InfraSettings) -> Cli:
    """`orderly jobs ...` over three recorded jobs: an import that succeeded (queued at T0),
    one that died (T0 + 1 min) and a delivery that died (T0 + 2 min)."""
    ran(infra_settings, "import-ok", JobStatus.SUCCEEDED, minute=0)
    ran(infra_settings, "import-dead", JobStatus.DEAD, minute=1)
    ran(infra_settings, "webhook:1", JobStatus.DEAD, minute=2, name="deliver_webhook")

    def invoke(*args: str, input: str | None = None) -> Result:
        return cli("jobs", *args, input=input)

    return invoke


def test_list_shows_every_job_newest_first_and_filters_them(jobs: Cli) -> None:
    table = jobs("list")
    everything = ok_json(jobs("list", "--json"))
    failed_imports = ok_json(jobs("list", "--status", "dead", "--name", IMPORT_PRODUCTS, "--json"))

    assert table.exit_code == 0, table.output
    assert "3 job(s), newest first" in table.stdout
    for text in ("webhook:1", "import-dead", "import-ok", "deliver_webhook", "gave up after 5"):
        assert text in table.stdout
    assert [j["id"] for j in everything["items"]] == ["webhook:1", "import-dead", "import-ok"]
    assert everything["next_cursor"] is None
    assert [j["id"] for j in failed_imports["items"]] == ["import-dead"]
    item = failed_imports["items"][0]
    assert "payload" not in item
    assert (item["status"], item["attempts"], item["request_id"]) == (
        "dead",
        1,
        "req-import-dead",
    )
    assert item["created_at"] == "2031-04-01T09:01:00Z"


def test_scheduled_jobs_are_listed_only_when_asked_for(
    jobs: Cli, infra_settings: InfraSettings
) -> None:
    ran(
        infra_settings,
        "expire_orders:1922518800000",
        JobStatus.SUCCEEDED,
        minute=3,
        name="expire_orders",
    )

    def ids(*args: str) -> list[str]:
        return [job["id"] for job in ok_json(jobs("list", *args, "--json"))["items"]]

    assert ids() == ["webhook:1", "import-dead", "import-ok"]
    assert ids("--all")[0] == "expire_orders:1922518800000"
    assert ids("--type", "expire_orders") == ["expire_orders:1922518800000"]
    assert ids("--name", "expire_orders") == ["expire_orders:1922518800000"]
    table = jobs("list")
    assert "expire_orders" not in table.stdout.split("Scheduled jobs")[0]
    assert "--all or --type NAME lists them" in table.stdout
    assert "expire_orders:1922518800000" in jobs("list", "--all").stdout


def test_pages_follow_the_printed_cursor(jobs: Cli) -> None:
    first = ok_json(jobs("list", "--limit", "2", "--json"))
    second = ok_json(jobs("list", "--limit", "2", "--cursor", first["next_cursor"], "--json"))
    shown = jobs("list", "--limit", "2")

    assert [j["id"] for j in first["items"]] == ["webhook:1", "import-dead"]
    assert [j["id"] for j in second["items"]] == ["import-ok"]
    assert f"Older jobs follow: --cursor {first['next_cursor']}" in shown.stdout


def test_dead_lists_the_dead_letters_only(jobs: Cli) -> None:
    dead = ok_json(jobs("dead", "--json"))
    table = jobs("dead", "--name", "deliver_webhook")

    assert [j["id"] for j in dead["items"]] == ["webhook:1", "import-dead"]
    assert {j["status"] for j in dead["items"]} == {"dead"}
    assert "1 dead job(s), newest first" in table.stdout
    assert "webhook:1" in table.stdout
    assert "import-dead" not in table.stdout


def test_show_prints_one_job_without_its_csv(jobs: Cli) -> None:
    document = ok_json(jobs("show", "import-dead", "--json"))
    table = jobs("show", "import-dead")

    assert document["payload"] == {
        "request_id": "req-import-dead",
        "requested_by": "alice",
        "mode": "execute",
    }
    assert document["payload_omitted"] == ["csv_text"]
    assert document["result"] == {"status": "dead"}
    assert document["last_error"] == "unavailable: gave up after 5 tries"
    assert table.exit_code == 0, table.output
    assert "Job import-dead" in table.stdout
    assert "csv_text" in table.stdout  # named among the fields left out
    assert "SKU-1" not in table.stdout


def test_retry_queues_a_dead_job_again_as_a_new_job(jobs: Cli, queue: redis.Redis) -> None:
    dry = ok_json(jobs("retry", "import-dead", "--dry-run", "--json"))
    assert (dry["applied"], dry["job"]["id"]) == (False, "import-dead:retry-1")
    assert queued_job(queue, "import-dead:retry-1") is None
    assert jobs("show", "import-dead:retry-1").exit_code == 1

    done = ok_json(jobs("retry", "import-dead", "--json"))

    assert done["applied"] is True
    assert (done["job"]["id"], done["job"]["status"], done["job"]["retry_of"]) == (
        "import-dead:retry-1",
        "queued",
        "import-dead",
    )
    job = queued_job(queue, "import-dead:retry-1")
    assert job is not None
    assert job["f"] == IMPORT_PRODUCTS
    assert job["a"][0]["csv_text"] == CSV
    shown = ok_json(jobs("show", "import-dead:retry-1", "--json"))
    assert (shown["status"], shown["retry_of"]) == ("queued", "import-dead")
    again = jobs("retry", "import-dead")
    assert again.exit_code == 0, again.output
    assert "Job import-dead will run again as job import-dead:retry-2" in again.stdout


def test_a_job_that_did_not_fail_or_die_is_not_retried(jobs: Cli, queue: redis.Redis) -> None:
    refused = jobs("retry", "import-ok")
    refused_json = jobs("retry", "import-ok", "--json")
    unknown = jobs("show", "no-such-job")

    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: Job 'import-ok' is succeeded: only failed and dead jobs can be retried."
    )
    assert json.loads(refused_json.stdout)["error"]["code"] == "job_not_retryable"
    assert unknown.exit_code == 1
    assert "No job is known as 'no-such-job'." in unknown.stderr
    assert queued_job(queue, "import-ok:retry-1") is None


def test_every_command_explains_itself_with_an_example(cli: Cli) -> None:
    overview = cli("jobs", "--help")
    assert overview.exit_code == 0
    for command in ("list", "show", "retry", "dead"):
        assert command in overview.stdout
        helped = cli("jobs", command, "--help")
        assert helped.exit_code == 0, helped.output
        assert f"orderly jobs {command}" in helped.stdout


def test_a_background_import_is_followed_as_a_job(
    cli: Cli, queue: redis.Redis, tmp_path: Path
) -> None:
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(CSV, encoding="utf-8")

    submitted = cli(
        "products", "import", str(catalogue), "--background", "--idempotency-key", "k-9"
    )
    job_id = import_job_id(Actor.operator(getpass.getuser()), "k-9")
    shown = ok_json(cli("jobs", "show", job_id, "--json"))

    assert submitted.exit_code == 0, submitted.output
    assert f"Follow it with: orderly jobs show {job_id}" in submitted.stdout
    assert (shown["name"], shown["status"], shown["attempts"]) == (IMPORT_PRODUCTS, "queued", 0)
    assert shown["request_id"].startswith("cli-")
    assert shown["payload"]["request_id"] == shown["request_id"]
    assert shown["payload_omitted"] == ["csv_text"]
    assert queued_job(queue, job_id) is not None
