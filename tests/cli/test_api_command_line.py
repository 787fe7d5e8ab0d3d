"""The API's command line: uvicorn never reads forwarded headers itself (the app reads them,
from TRUSTED_PROXIES only), in development and in production alike."""

from __future__ import annotations

import pytest

from orderly_cli.processes import api_argv


@pytest.mark.parametrize("production", [False, True], ids=["dev", "serve"])
def test_uvicorn_believes_no_forwarded_header(production: bool) -> None:
    argv = api_argv("127.0.0.1", 8000, production=production)

    assert "--no-proxy-headers" in argv
    assert "--proxy-headers" not in argv
    assert not any(arg.startswith("--forwarded-allow-ips") for arg in argv)


@pytest.mark.parametrize("production", [False, True], ids=["dev", "serve"])
def test_uvicorn_imports_no_websocket_implementation(production: bool) -> None:
    argv = api_argv("127.0.0.1", 8000, production=production)

    assert argv[argv.index("--ws") + 1] == "none"
