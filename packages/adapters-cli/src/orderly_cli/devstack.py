"""``orderly dev``: the whole of Orderly on one machine, with nothing to install or configure.

Servers not named by ``DATABASE_URL`` / ``REDIS_URL`` (environment or ``.env``) are embedded,
with their data under ``./.orderly/``. The database is migrated, the stack's URLs are published
in ``.orderly/dev.json`` (read by every other ``orderly`` command run in this directory, see
``config.running_dev_stack``), and the API and the worker run as children until Ctrl-C, SIGTERM
or SIGHUP. Then everything started here is stopped again: children first, then the embedded
servers, so that nothing is left running.

Meanwhile everything is supervised: an API or a worker that stops on its own is started again
after a backoff (:class:`CrashPolicy`), and an embedded PostgreSQL or Redis found down is
started again on the same data, each with a line saying so. One that keeps failing
(:data:`CRASH_LIMIT` times within :data:`CRASH_WINDOW_S` seconds) stops the whole stack, with
an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import structlog
import typer
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderly_cli import embedded
from orderly_cli.boundary import (
    EXIT_INTERNAL,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    run_async,
)
from orderly_cli.commands.db import quiet_migration_logs
from orderly_cli.config import DEV_STATE_FILE, STATE_DIR, running_dev_stack
from orderly_cli.processes import (
    Child,
    answers_health,
    api_argv,
    first_exited,
    stop_children,
    worker_argv,
)
from orderly_db import migrate
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings, load_settings

DATABASE_NAME = "orderly"
HEALTH_TIMEOUT_S = 30.0
CHILD_GRACE_S = 8.0
CRASH_LIMIT = 5  # crashes of one process ...
CRASH_WINDOW_S = 60.0  # ... within this many seconds stop the stack
RESTART_FIRST_S = 0.5  # the wait before the first restart; it doubles with each crash
RESTART_MAX_S = 8.0
SERVER_CHECK_S = 1.0  # how often the embedded servers are looked at
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

log = structlog.get_logger(__name__)


class StopRequested(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP arrived. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it."""


class _GivenServers(BaseSettings):
    """The server URLs the developer set, if any (environment, then ``.env``)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
    database_url: str | None = None
    redis_url: str | None = None


@dataclass
class CrashPolicy:
    """When a process that stopped on its own is started again, and when to give up: the
    wait doubles with each crash counted in the last ``window_s`` seconds, and the
    ``limit``-th crash within that window gives up."""

    limit: int = CRASH_LIMIT
    window_s: float = CRASH_WINDOW_S
    first_s: float = RESTART_FIRST_S
    max_s: float = RESTART_MAX_S
    crashes: list[float] = field(default_factory=list)

    def crashed(self, now: float) -> float | None:
        """Note a crash at ``now`` (monotonic seconds); the wait before the restart, or
        ``None``: too many crashes, give up."""
        self.crashes = [*(at for at in self.crashes if now - at < self.window_s), now]
        if len(self.crashes) >= self.limit:
            return None
        return min(self.first_s * 2.0 ** (len(self.crashes) - 1), self.max_s)


class TooManyCrashesError(Exception):
    """A supervised process crashed too often: the stack stops."""


@dataclass
class _Stack:
    """Everything this ``orderly dev`` started, so that exactly that is stopped again (and
    not, say, other servers this process happens to know)."""

    postgres_dir: Path | None = None
    redis_dir: Path | None = None
    servers: list[embedded.EmbeddedPostgres | embedded.EmbeddedRedis] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    published: bool = False

    def stop(self) -> None:
        if self.published:
            _unpublish()
        stop_children(self.children, CHILD_GRACE_S)
        for server in self.servers:
            server.stop()
        # A start interrupted half-way leaves a server without a handle: stop it by directory.
        if self.redis_dir is not None:
            embedded.EmbeddedRedis(self.redis_dir, 0, None).stop()
        if self.postgres_dir is not None:
            embedded.EmbeddedPostgres(self.postgres_dir, self.postgres_dir, 0).stop()


def run(host: str, port: int, *, with_worker: bool) -> int:
    """Run the development stack until asked to stop; returns the exit code."""
    with _exclusive_lock() as locked:
        other = running_dev_stack()
        if not locked or other is not None:
            pid = other.get("pid") if other else "unknown"
            return _fail(EXIT_USAGE, f"`orderly dev` is already running here (pid {pid})")
        if reason := _cannot_listen(host, port):
            return _fail(EXIT_USAGE, reason)
        stack = _Stack()
        with _stop_on_signals():
            try:
                return _serve(stack, host, port, with_worker=with_worker)
            except StopRequested:
                return 0
            except embedded.EmbeddedServerError as error:
                return _fail(EXIT_UNAVAILABLE, f"an embedded server could not start: {error}")
            except typer.Exit:
                raise
            except Exception:
                log.exception("dev_stack_failed")
                return _fail(EXIT_INTERNAL, "internal error (details above)")
            finally:
                _ignore_stop_signals()
                typer.echo("Stopping Orderly...", err=True)
                stack.stop()


def _serve(stack: _Stack, host: str, port: int, *, with_worker: bool) -> int:
    given = _GivenServers()
    database_url, redis_url = given.database_url, given.redis_url
    if not database_url:
        stack.postgres_dir = (STATE_DIR / "pg").resolve()
        postgres = embedded.start_postgres(stack.postgres_dir)
        stack.servers.append(postgres)
        embedded.create_database(postgres, DATABASE_NAME)
        database_url = postgres.url(DATABASE_NAME)
    if not redis_url:
        stack.redis_dir = (STATE_DIR / "redis").resolve()
        redis = embedded.start_redis(stack.redis_dir)
        stack.servers.append(redis)
        redis_url = redis.url
    settings = run_async(_validated(database_url, redis_url))
    api_url = f"http://{_connect_host(host)}:{port}"
    _publish(settings, api_url)
    stack.published = True

    env = _child_environment(settings)
    stack.children.append(Child.start("API", api_argv(host, port, production=False), env))
    if with_worker:
        stack.children.append(Child.start("worker", worker_argv(), env))
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not answers_health(f"{api_url}/health"):
        if dead := first_exited(stack.children):
            return _child_failed(dead, "during start-up")
        if time.monotonic() > deadline:
            reason = f"the API did not answer GET /health within {HEALTH_TIMEOUT_S:.0f} s"
            return _fail(EXIT_REFUSED, f"{reason} (its output is above)")
        time.sleep(0.1)
    _announce(settings, api_url, stack, with_worker=with_worker)
    argvs = {child.name: child.process.args for child in stack.children}
    try:
        _supervise(stack, env, argvs)
    except TooManyCrashesError as error:
        return _fail(EXIT_REFUSED, str(error))
    raise AssertionError("unreachable: supervision ends only by a signal or by giving up")


def _supervise(stack: _Stack, env: dict[str, str], argvs: dict[str, Any]) -> None:
    """Keep the stack up until a stop signal (see the module's description)."""
    policies: dict[str, CrashPolicy] = {}
    due: dict[str, float] = {}  # a crashed child's name: when to start it again
    next_check = time.monotonic() + SERVER_CHECK_S
    while True:
        now = time.monotonic()
        for child in [c for c in stack.children if c.exited()]:
            stack.children.remove(child)
            child.signal_group(signal.SIGKILL)  # whatever it left behind
            wait = policies.setdefault(child.name, CrashPolicy()).crashed(now)
            if wait is None:
                raise TooManyCrashesError(_gave_up(child.name, f"last exit code {child.exit_code}"))
            _say(
                f"The {child.name} stopped unexpectedly (exit code {child.exit_code}); "
                f"restarting it in {wait:g} s."
            )
            due[child.name] = now + wait
        for name, at in list(due.items()):
            if now >= at:
                del due[name]
                child = Child.start(name, argvs[name], env)
                stack.children.append(child)
                _say(f"The {name} is running again (pid {child.pid}).")
        if now >= next_check:
            _revive_servers(stack, policies)
            next_check = now + SERVER_CHECK_S
        time.sleep(0.2)


def _revive_servers(stack: _Stack, policies: dict[str, CrashPolicy]) -> None:
    """Start again, on the same data (and Redis on the same port), an embedded server found
    down."""
    for index, server in enumerate(stack.servers):
        if server.running():
            continue
        name = "PostgreSQL" if isinstance(server, embedded.EmbeddedPostgres) else "Redis"
        if policies.setdefault(name, CrashPolicy()).crashed(time.monotonic()) is None:
            raise TooManyCrashesError(_gave_up(f"embedded {name}", "it does not stay up"))
        _say(f"The embedded {name} stopped unexpectedly; starting it again.")
        try:
            if isinstance(server, embedded.EmbeddedPostgres):
                stack.servers[index] = embedded.start_postgres(server.data_dir)
            else:
                stack.servers[index] = embedded.start_redis(server.data_dir, port=server.port)
        except embedded.EmbeddedServerError as error:
            _say(f"The embedded {name} did not start ({error}); trying again.")
            continue
        _say(f"The embedded {name} is running again.")


def _gave_up(what: str, why: str) -> str:
    return (
        f"the {what} stopped {CRASH_LIMIT} times within {CRASH_WINDOW_S:.0f} s ({why}); "
        "stopping Orderly"
    )


def _say(line: str) -> None:
    typer.echo(f"orderly dev: {line}", err=True)


async def _validated(database_url: str, redis_url: str) -> InfraSettings:
    """Settings for the stack (bad variables exit 2), with the database migrated to head."""
    settings = load_settings(InfraSettings, database_url=database_url, redis_url=redis_url)
    quiet_migration_logs()
    engine = create_engine(settings, application_name="orderly-dev")
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return settings


# Webhook receivers on the developer's own machine (http://127.0.0.1:...) are allowed in
# development unless the environment says otherwise; production settings refuse both.
DEVELOPMENT_WEBHOOKS = {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"}


def _child_environment(settings: InfraSettings) -> dict[str, str]:
    """What the API and the worker run with: the stack's servers, development behaviour."""
    return {
        **DEVELOPMENT_WEBHOOKS,
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ENVIRONMENT": "development",
        "LOG_FORMAT": "console",
        "PYTHONUNBUFFERED": "1",
    }


def _webhooks_line(environment: dict[str, str]) -> str:
    allowed = [
        what
        for what, name in (
            ("http://", "WEBHOOK_ALLOW_HTTP"),
            ("local addresses", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES"),
        )
        if environment.get(name, "").lower() in ("true", "1", "yes", "on")
    ]
    if not allowed:
        return "https:// to public addresses only"
    return f"receivers on {' and '.join(allowed)} allowed (development only)"


def _announce(settings: InfraSettings, api_url: str, stack: _Stack, *, with_worker: bool) -> None:
    data = f"embedded, data in {STATE_DIR}/" if stack.servers else "given by the environment"
    lines = [
        "",
        f"Orderly is running ({data}).",
        f"  API        {api_url}",
        f"  API docs   {api_url}/docs",
        f"  Database   {_without_password(settings.database_url)}",
        f"  Redis      {_without_password(settings.redis_url)}",
        f"  Worker     {'running' if with_worker else 'not started (--no-worker)'}",
        f"  Webhooks   {_webhooks_line(_child_environment(settings))}",
        "",
        "Other orderly commands run in this directory use this stack, for example:",
        "  orderly products create --sku MUG-1 --name 'Mug' --price 12.50 --currency EUR",
        "Press Ctrl-C to stop.",
    ]
    typer.echo("\n".join(lines))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _child_failed(child: Child, when: str) -> int:
    return _fail(EXIT_REFUSED, f"the {child.name} stopped {when} (exit code {child.exit_code})")


def _fail(code: int, reason: str) -> int:
    typer.echo(f"error: {reason}", err=True)
    return code


def _publish(settings: InfraSettings, api_url: str) -> None:
    """Write ``dev.json`` atomically: readers never see half a file."""
    children = _child_environment(settings)
    state = {
        "pid": os.getpid(),
        "database_url": settings.database_url,
        "redis_url": settings.redis_url,
        "api_url": api_url,
        # CLI commands register webhook endpoints by the rules the stack's worker delivers by
        **{name.lower(): children[name] for name in DEVELOPMENT_WEBHOOKS},
    }
    partial = DEV_STATE_FILE.with_suffix(".tmp")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(DEV_STATE_FILE)


def _unpublish() -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(DEV_STATE_FILE.read_text()).get("pid") == os.getpid():
            DEV_STATE_FILE.unlink()


@contextlib.contextmanager
def _exclusive_lock() -> Iterator[bool]:
    """One ``orderly dev`` per directory. The kernel drops the lock when the holder dies,
    however it dies, so a crashed run never blocks the next one."""
    STATE_DIR.mkdir(exist_ok=True)
    handle: IO[str] = (STATE_DIR / "dev.lock").open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the API could not listen on ``host:port``, checked before anything is started."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return f"cannot listen on host {host!r}: {error.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as error:
            return f"port {port} on {host} is not available ({error.strerror}); use --port"
    return None


def _connect_host(host: str) -> str:
    """Where a client on this machine reaches an API listening on ``host``."""
    loopback = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"[{loopback}]" if ":" in loopback else loopback


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    _ignore_stop_signals()  # a second Ctrl-C must not interrupt the clean-up
    raise StopRequested(signal.Signals(signum).name)


def _ignore_stop_signals() -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _raise_stop) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
