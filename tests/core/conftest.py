"""The core's use-case tests run twice: on the in-memory fakes and on real PostgreSQL.

Only the run on PostgreSQL is marked ``postgres``; a test that reaches the server another way
(``pg_deps``, ``clean_engine``) carries the mark itself."""

from __future__ import annotations

import pytest

from orderly_core.testing import in_memory_dependencies
from orderly_core.unit_of_work import Dependencies


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def deps(request: pytest.FixtureRequest) -> Dependencies:
    if request.param == "memory":
        return in_memory_dependencies()
    pg_deps: Dependencies = request.getfixturevalue("pg_deps")
    return pg_deps
