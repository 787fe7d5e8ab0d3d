"""``orderly dev`` keeps the stack up: a crashed worker or API, or a dead embedded Redis, is
started again with a line saying so, and only a stop signal or repeated crashes stop it all
(item 21)."""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx
import pytest

from orderly_cli.devstack import CrashPolicy
from tests.cli.processes import health_ok, wait_until
from tests.e2e.test_dev import (  # noqa: F401 - fixtures
    STOP_DEADLINE_S,
    DevRun,
    _assert_nothing_left,
    _stack_pids,
    project_dir,
    start_dev,
)


def test_a_crash_is_restarted_after_a_wait_that_doubles_until_too_many_crashes() -> None:
    policy = CrashPolicy(limit=5, window_s=60, first_s=0.5, max_s=8)
    waits = [policy.crashed(now) for now in (0.0, 1.0, 2.0, 3.0)]
    assert waits == [0.5, 1.0, 2.0, 4.0]
    assert policy.crashed(4.0) is None  # the fifth within a minute


def test_crashes_older_than_the_window_are_forgotten() -> None:
    policy = CrashPolicy(limit=3, window_s=60, first_s=0.5, max_s=1)
    assert [policy.crashed(now) for now in (0.0, 10.0)] == [0.5, 1.0]
    assert policy.crashed(100.0) == 0.5  # the two before are a minute gone
    assert policy.crashed(101.0) == 1.0
    assert policy.crashed(102.0) is None


def _ready(run: DevRun) -> bool:
    answer = httpx.get(f"{run.url}/ready", timeout=5, trust_env=False)
    return answer.status_code == 200


def _worker_pids(run: DevRun) -> set[int]:
    return {p.pid for p in _stack_pids(run).values() if "-m orderly_worker" in p.cmdline}


@pytest.mark.postgres
@pytest.mark.redis
def test_dev_restarts_a_crashed_worker_and_a_dead_redis(start_dev: Any) -> None:  # noqa: F811
    run: DevRun = start_dev()
    [worker] = _worker_pids(run)

    os.kill(worker, signal.SIGKILL)

    assert wait_until(lambda: len(_worker_pids(run) - {worker}) == 1, 15), run.output()
    assert "The worker stopped unexpectedly (exit code -9); restarting it in 0.5 s." in run.output()
    assert "The worker is running again" in run.output()
    assert run.process.poll() is None
    assert health_ok(run.url)

    redis_url = run.state()["redis_url"]
    redis_pid = int((run.cwd / ".orderly" / "redis" / "redis.pid").read_text())
    os.kill(redis_pid, signal.SIGKILL)
    assert wait_until(lambda: "The embedded Redis is running again." in run.output(), 15), (
        run.output()
    )
    assert run.state()["redis_url"] == redis_url  # the same port: the children reconnect
    assert wait_until(lambda: _ready(run), 10), run.output()  # the API reaches it again

    stack = _stack_pids(run)
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=STOP_DEADLINE_S) == 0, run.output()
    _assert_nothing_left(run, stack)
