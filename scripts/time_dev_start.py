"""How long a fresh clone takes to answer ``GET /health`` under ``uv run orderly dev``.

    uv run python scripts/time_dev_start.py                  # this repository's HEAD
    uv run python scripts/time_dev_start.py --rev main --runs 3
    uv run python scripts/time_dev_start.py --no-sync      # as the README: no `uv sync` first

Clones the repository (``--repo``, by default this one) at ``--rev`` into a new temporary
directory, runs ``uv sync --all-packages --frozen`` there (timed: it is what a newcomer runs
first), then starts ``uv run orderly dev`` ``--runs`` times in a row on the same clone (the
first start is the one that makes the database cluster and compiles what it imports) and times
each from the command to the first 200 of ``GET /health``. With ``--no-sync`` the first
``uv run`` makes the virtual environment itself, as for a newcomer who follows the README.
Each run is stopped with Ctrl-C (SIGINT) before the next. The lines ``orderly dev`` printed
while starting are kept in ``--keep-logs`` if given. The figures of docs/development.md come
from this script.

The clone is removed at the end, its embedded servers stopped with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEALTH_DEADLINE_S = 90.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT), help="repository to clone")
    parser.add_argument("--rev", default="HEAD", help="revision to check out")
    parser.add_argument("--runs", type=int, default=2, help="starts of `orderly dev`")
    parser.add_argument(
        "--no-sync", action="store_true", help="no `uv sync` first: `uv run` makes the .venv"
    )
    parser.add_argument("--keep-logs", type=Path, help="directory to keep each run's output in")
    args = parser.parse_args()

    clone = Path(tempfile.mkdtemp(prefix="orderly-dev-start-"))
    try:
        _run(["git", "clone", "--quiet", args.repo, str(clone)])
        _run(["git", "-C", str(clone), "checkout", "--quiet", args.rev])
        env = _clean_environment()
        if not args.no_sync:
            started = time.monotonic()
            _run(["uv", "sync", "--all-packages", "--frozen", "--quiet"], cwd=clone, env=env)
            _report(f"uv sync --all-packages --frozen: {time.monotonic() - started:5.1f} s")
        for number in range(1, args.runs + 1):
            seconds, output = _time_one_start(clone, env)
            _report(f"run {number}: uv run orderly dev -> GET /health 200: {seconds:5.1f} s")
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                (args.keep_logs / f"run-{number}.log").write_text(output)
    finally:
        _stop_leftovers(clone)
        shutil.rmtree(clone, ignore_errors=True)
    return 0


def _clean_environment() -> dict[str, str]:
    """This shell's environment without the servers it may name, and without this
    repository's virtual environment."""
    drop = {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    drop |= {"UV_COMPILE_BYTECODE"}
    return {name: value for name, value in os.environ.items() if name not in drop}


def _time_one_start(clone: Path, env: dict[str, str]) -> tuple[float, str]:
    port = _free_port()
    log = clone.parent / f"{clone.name}-dev.log"
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            ["uv", "run", "orderly", "dev", "--port", str(port)],  # noqa: S607
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while not _healthy(f"http://127.0.0.1:{port}/health"):
                if process.poll() is not None:
                    raise SystemExit(f"orderly dev stopped:\n{log.read_text()}")
                if time.monotonic() - started > HEALTH_DEADLINE_S:
                    raise SystemExit(f"no answer within {HEALTH_DEADLINE_S} s:\n{log.read_text()}")
                time.sleep(0.02)
            seconds = time.monotonic() - started
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    output = log.read_text(errors="replace")
    log.unlink()
    return seconds, output


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_leftovers(clone: Path) -> None:
    """The embedded servers of a run that did not stop cleanly."""
    venv_python = clone / ".venv" / "bin" / "python"
    if not venv_python.exists() or not (clone / ".orderly").exists():
        return
    stop = (
        "import sys; from pathlib import Path; from orderly_cli import embedded; "
        "d = Path(sys.argv[1]); embedded.EmbeddedRedis(d / 'redis', 0, None).stop(); "
        "embedded.EmbeddedPostgres(d / 'pg', d / 'pg', 0).stop()"
    )
    subprocess.run(  # noqa: S603
        [str(venv_python), "-c", stop, str(clone / ".orderly")], check=False, cwd=clone
    )


def _report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True)  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
