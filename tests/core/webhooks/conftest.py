"""Fixtures of the webhook tests: a clock that moves only when told to."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.webhooks.helpers import START


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def timed(deps: Dependencies, clock: FixedClock) -> Dependencies:
    """The backend under test on a clock that moves only when told to."""
    return replace(deps, clock=clock)
