"""Helpers for tests that run `orderly` as a real process and check what it leaves behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

ORDERLY = str(Path(sys.executable).with_name("orderly"))
SERVER_VARIABLES = ("DATABASE_URL", "REDIS_URL")


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    pid: int
    ppid: int
    session: int
    state: str
    cmdline: str
    cwd: str


def processes() -> list[ProcessInfo]:
    """Every process visible in /proc (zombies included: check `state`)."""
    found: list[ProcessInfo] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            try:
                cwd = os.readlink(proc / "cwd")
            except OSError:
                cwd = ""
        except (OSError, IndexError):
            continue
        found.append(
            ProcessInfo(int(proc.name), int(fields[1]), int(fields[3]), fields[0], cmdline, cwd)
        )
    return found


def running(matches: Callable[[ProcessInfo], bool]) -> list[ProcessInfo]:
    """Live (not zombie) processes that `matches` selects."""
    return [p for p in processes() if p.state not in {"Z", "X"} and matches(p)]


def descendants(root: int) -> set[int]:
    tree = processes()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p.pid for p in tree if p.ppid in frontier} - found
        found |= frontier
    return found


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_gone(pids: Iterable[int], timeout: float = 10.0) -> list[ProcessInfo]:
    """Wait for `pids` to stop running (zombies awaiting PID 1 do not count); the survivors."""
    wanted = set(pids)
    wait_until(lambda: not running(lambda p: p.pid in wanted), timeout)
    return running(lambda p: p.pid in wanted)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def env_without_servers(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env.update(extra)
    return env


def health_ok(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def kill_session(process: subprocess.Popen[bytes]) -> None:
    """Last-resort clean-up of a process started with `start_new_session=True`."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for leftover in running(lambda p: p.session == process.pid):
        os.kill(leftover.pid, signal.SIGKILL)
