"""Every job the worker schedules is known to the core as scheduled, so that `orderly jobs
list` leaves it out unless asked for it."""

from __future__ import annotations

from orderly_core.jobs.payloads import SCHEDULED_JOBS
from orderly_worker.jobs.scheduled import SCHEDULE


def test_the_core_names_every_scheduled_job() -> None:
    assert {job.name for job in SCHEDULE} == SCHEDULED_JOBS
