"""``/docs`` in a real browser: headless Chromium, offline but for the API, signs in through
Swagger UI's "Authorize" (``scripts/check_docs_page.py``, which starts its own `orderly dev`).
Skipped where Chromium is not installed (``.ci/run`` installs it when it can)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_docs_page.py"
NO_BROWSER = 2  # the script's exit code when it finds no Chromium


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(90)
def test_docs_render_offline_and_authorize_signs_in(tmp_path: Path) -> None:
    screenshot = tmp_path / "docs.png"

    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--screenshot", str(screenshot)],
        capture_output=True, text=True, timeout=80, check=False,
    )  # fmt: skip

    if checked.returncode == NO_BROWSER:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["passed"], report
    assert set(report["checks"]) == {
        "/docs renders",
        "/docs Authorize signs in",
        "/redoc renders",
        "same-origin only",
        "no policy violation or script error",
    }
    assert report["problems"] == []
    assert screenshot.read_bytes().startswith(b"\x89PNG")
