"""An Orderly API running its real lifespan over the test database, driven through httpx."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.helpers import serving, settings_for


@pytest.fixture
def http_settings(database_url: str, redis_url: str, clean_engine: AsyncEngine) -> HttpSettings:
    """Settings of an API over the migrated test database, emptied for this test."""
    return settings_for(database_url, redis_url)


@pytest.fixture
def app(http_settings: HttpSettings) -> FastAPI:
    return create_app(http_settings)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with nothing listening on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
