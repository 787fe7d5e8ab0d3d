"""When a failed job is tried again, and how long it waits first.

Only infrastructure faults are retried: a database or Redis that cannot serve the job right
now, or a job that ran past its deadline. The queue itself retries nothing on its own, so the
policy lives here: exponential backoff with jitter, up to a fixed number of tries.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orderly_db.faults import is_transient as database_unavailable

Uniform = Callable[[float, float], float]
"""Draws a number between its two bounds; the jitter's source of randomness."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_tries`` counts every run of a job, the first included."""

    max_tries: int = 5
    base_delay_s: float = 10.0
    max_delay_s: float = 600.0
    uniform: Uniform = field(default=random.SystemRandom().uniform, compare=False, repr=False)

    def gives_up_after(self, job_try: int) -> bool:
        """Whether the run numbered ``job_try`` (from 1) is the last one allowed."""
        return job_try >= self.max_tries

    def backoff(self, job_try: int) -> float:
        """Seconds to wait after the run numbered ``job_try`` failed.

        The ceiling doubles with each try (``base``, ``2 * base``, ...) up to ``max_delay_s``;
        the wait is drawn between half the ceiling and the ceiling, so workers that failed
        together (a database restart) do not all come back at the same instant.
        """
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(job_try - 1, 0))
        return self.uniform(ceiling / 2, ceiling)


def is_infrastructure_fault(error: BaseException) -> bool:
    """Whether ``error`` is a server being unavailable for now (worth a retry), not a bug."""
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return True
    return database_unavailable(error)
