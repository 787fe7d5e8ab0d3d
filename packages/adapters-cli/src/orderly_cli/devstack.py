"""``orderly dev``: the whole of Orderly on one machine, with nothing to install or configure.

Servers not named by ``DATABASE_URL`` / ``REDIS_URL`` (environment or ``.env``) are embedded,
with their data under ``./.orderly/`` (both start at once). Unless ``SMTP_HOST`` is set, a
local mail catcher (an SMTP server on 127.0.0.1) takes every email the worker sends and keeps
it under ``.orderly/mail`` for ``orderly mail inbox``: nothing leaves the machine. The
database is migrated, the stack's URLs are published in ``.orderly/dev.json`` (read by every
other ``orderly`` command run in this directory or below it, see
``config.running_dev_stack``) and in ``.orderly/dev.env`` (for scripts and other tools), and
the API and the worker run as children until Ctrl-C, SIGTERM or SIGHUP, every line they write
labelled with its process. Each step prints one line saying how long it took. Then
everything started here is stopped again: children first, then the embedded servers, so that
nothing is left running.

Access tokens are signed with a key kept in ``.orderly/jwt-secret`` (made once, readable by
its owner only), unless ``JWT_SECRET`` is set: tokens outlast restarts of the stack.

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
import secrets
import shlex
import signal
import socket
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import structlog
import typer
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderly_cli import bytecode, embedded
from orderly_cli.boundary import (
    EXIT_INTERNAL,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    run_async,
)
from orderly_cli.config import DEV_STATE_FILE, STATE_DIR, find_dev_stack
from orderly_cli.processes import (
    Child,
    answers_health,
    api_argv,
    first_exited,
    say,
    stop_children,
    worker_argv,
)
from orderly_db.log import quiet_migration_logs
from orderly_db.settings import InfraSettings, load_settings
from orderly_mail.catcher import HOST as CATCHER_HOST
from orderly_mail.catcher import ThreadedCatcher

DATABASE_NAME = "orderly"
HEALTH_TIMEOUT_S = 30.0
CHILD_GRACE_S = 8.0
CRASH_LIMIT = 5  # crashes of one process ...
CRASH_WINDOW_S = 60.0  # ... within this many seconds stop the stack
RESTART_FIRST_S = 0.5  # the wait before the first restart; it doubles with each crash
RESTART_MAX_S = 8.0
SERVER_CHECK_S = 1.0  # how often the embedded servers are looked at
DEV_ENV_FILE = STATE_DIR / "dev.env"
SIGNING_KEY_FILE = STATE_DIR / "jwt-secret"
SIGNING_KEY_MIN = 32  # as JWT_SECRET
WORKER_READY = "worker_started"  # the worker's log line once it takes jobs
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

log = structlog.get_logger(__name__)


class StopRequested(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP arrived. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it."""


class _Given(BaseSettings):
    """The server URLs and the signing key the developer set, if any (environment, then
    ``.env``)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
    database_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str | None = None
    smtp_host: str | None = None


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
    ready: set[str] = field(default_factory=set)  # children whose start-up was reported
    published: bool = False
    catcher: ThreadedCatcher | None = None

    def stop(self) -> None:
        if self.published:
            _unpublish()
        stop_children(self.children, CHILD_GRACE_S)
        if self.catcher is not None:
            self.catcher.stop()
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
        other = find_dev_stack()
        if not locked or other is not None:
            where, state = other if other is not None else (Path.cwd(), {})
            here = "here" if where == Path.cwd().resolve() else f"in {where}"
            pid = state.get("pid", "unknown")
            return _fail(EXIT_USAGE, f"`orderly dev` is already running {here} (pid {pid})")
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
    given = _Given()
    database_url, redis_url = _servers(stack, given)
    bytecode.wait_until_migrations_compiled()
    settings = _migrated(database_url, redis_url)
    api_url = f"http://{_connect_host(host)}:{port}"
    env = _child_environment(settings, _signing_key(given))
    if not given.smtp_host:
        stack.catcher = _mail_catcher()
        env |= _catcher_environment(stack.catcher)
    _publish(settings, api_url, stack.catcher)
    stack.published = True

    if (compiling := bytecode.wait_until_compiled()) is not None:
        _say(f"{'bytecode':<11} ready in {compiling:4.1f} s  (what the API and worker import)")
    started = time.monotonic()
    stack.children.append(
        Child.start("API", api_argv(host, port, production=False), env, label="api")
    )
    deadline = started + HEALTH_TIMEOUT_S
    while not answers_health(f"{api_url}/health"):
        if failed := _start_up_failed(stack, deadline, "the API did not answer GET /health"):
            return failed
        time.sleep(0.05)
    _progress("API", started, f"{api_url}, pid {stack.children[0].pid}", "answering")
    # The worker starts once the API answers: the two would otherwise share the processor
    # while both import, and the API would answer later.
    if with_worker:
        stack.children.append(Child.start("worker", worker_argv(), env, ready_when=WORKER_READY))
        worker, worker_started = stack.children[-1], time.monotonic()
        worker_deadline = worker_started + HEALTH_TIMEOUT_S
        while not worker.ready.is_set():
            if failed := _start_up_failed(stack, worker_deadline, "the worker did not start"):
                return failed
            time.sleep(0.05)
        _note_ready(stack, worker_started)
    _announce(settings, api_url, stack, with_worker=with_worker)
    argvs = {child.name: child.process.args for child in stack.children}
    try:
        _supervise(stack, env, argvs, started)
    except TooManyCrashesError as error:
        return _fail(EXIT_REFUSED, str(error))
    raise AssertionError("unreachable: supervision ends only by a signal or by giving up")


def _start_up_failed(stack: _Stack, deadline: float, late: str) -> int | None:
    """The exit code once a child stopped during the start-up, or it took too long."""
    if dead := first_exited(stack.children):
        dead.drain()
        return _child_failed(dead, "during start-up")
    if time.monotonic() > deadline:
        return _fail(EXIT_REFUSED, f"{late} within {HEALTH_TIMEOUT_S:.0f} s (its output is above)")
    return None


def _progress(step: str, since: float, detail: str, done: str = "ready") -> None:
    """One line of the start-up: the step, how long it took, and what it gave."""
    _say(f"{step:<11} {done} in {time.monotonic() - since:4.1f} s  ({detail})")


def _note_ready(stack: _Stack, since: float) -> None:
    """Say once that the worker takes jobs (it says so in its log)."""
    for child in stack.children:
        if child.ready_when is not None and child.ready.is_set() and child.name not in stack.ready:
            stack.ready.add(child.name)
            _progress(child.name, since, f"pid {child.pid}")


def _servers(stack: _Stack, given: _Given) -> tuple[str, str]:
    """The URLs of PostgreSQL and Redis: given, or of embedded servers started side by side."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="embedded") as pool:
        database = _server_url(pool, "PostgreSQL", given.database_url, lambda: _postgres(stack))
        cache = _server_url(pool, "Redis", given.redis_url, lambda: _redis(stack))
        # Both are waited for, even when one fails, so that Stack.stop finds what they started.
        for future in (database, cache):
            future.exception()
    return database.result(), cache.result()


def _server_url(
    pool: ThreadPoolExecutor, name: str, url: str | None, start: Callable[[], str]
) -> Future[str]:
    if url:
        _say(f"{name:<11} given by {'DATABASE_URL' if name == 'PostgreSQL' else 'REDIS_URL'}")
        done: Future[str] = Future()
        done.set_result(url)
        return done
    return pool.submit(start)


def _postgres(stack: _Stack) -> str:
    started = time.monotonic()
    stack.postgres_dir = (STATE_DIR / "pg").resolve()
    fresh = not (stack.postgres_dir / "PG_VERSION").exists()
    postgres = embedded.start_postgres(stack.postgres_dir)
    stack.servers.append(postgres)
    embedded.create_database(postgres, DATABASE_NAME)
    what = "new database cluster" if fresh else "data"
    _progress("PostgreSQL", started, f"embedded, {what} in {STATE_DIR}/pg")
    return postgres.url(DATABASE_NAME)


def _redis(stack: _Stack) -> str:
    started = time.monotonic()
    stack.redis_dir = (STATE_DIR / "redis").resolve()
    redis = embedded.start_redis(stack.redis_dir)
    stack.servers.append(redis)
    _progress("Redis", started, f"embedded, port {redis.port}, data in {STATE_DIR}/redis")
    return redis.url


def _mail_catcher() -> ThreadedCatcher:
    """The local SMTP server the worker sends every email to, keeping each under
    ``.orderly/mail`` (``orderly mail inbox`` reads them)."""
    started = time.monotonic()
    catcher = ThreadedCatcher((STATE_DIR / "mail").resolve())
    catcher.start()
    where = f"smtp://{CATCHER_HOST}:{catcher.port}, kept in {STATE_DIR}/mail"
    _progress("mail", started, where)
    return catcher


def _catcher_environment(catcher: ThreadedCatcher) -> dict[str, str]:
    """What points the worker at the catcher (plain SMTP on loopback)."""
    return {
        "SMTP_HOST": CATCHER_HOST,
        "SMTP_PORT": str(catcher.port),
        "SMTP_STARTTLS": "false",
        "SMTP_TLS": "false",
        "MAIL_CATCHER_DIR": str(catcher.folder),
    }


def _migrated(database_url: str, redis_url: str) -> InfraSettings:
    started = time.monotonic()
    settings, before, after = run_async(_validated(database_url, redis_url))
    if before == after:
        _progress("migrations", started, f"the schema was up to date, at {after}", "checked")
    else:
        change = f"from {before or 'an empty schema'} to {after}"
        _progress("migrations", started, change, "applied")
    return settings


def _signing_key(given: _Given) -> str | None:
    """The key the API signs access tokens with: ``None`` when ``JWT_SECRET`` is set (the
    API reads it), else the one kept in ``.orderly/jwt-secret``, made on first use."""
    if given.jwt_secret:
        return None
    path = SIGNING_KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)  # it signs every token of the stack: its owner's eyes only
        key = path.read_text().strip()
        if len(key) >= SIGNING_KEY_MIN and key.isprintable():
            return key
        _say(f"{path} does not hold a usable key: making a new one (earlier tokens stop working)")
        path.unlink()
    key = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def _supervise(stack: _Stack, env: dict[str, str], argvs: dict[str, Any], started: float) -> None:
    """Keep the stack up until a stop signal (see the module's description)."""
    policies: dict[str, CrashPolicy] = {}
    due: dict[str, float] = {}  # a crashed child's name: when to start it again
    labels = {child.name: (child.label, child.ready_when) for child in stack.children}
    next_check = time.monotonic() + SERVER_CHECK_S
    while True:
        _note_ready(stack, started)
        now = time.monotonic()
        for child in [c for c in stack.children if c.exited()]:
            stack.children.remove(child)
            child.drain()
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
                label, ready_when = labels[name]
                child = Child.start(name, argvs[name], env, label=label, ready_when=ready_when)
                stack.ready.add(name)  # its start-up was reported; its restart is, below
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
    say("dev", line)


async def _validated(
    database_url: str, redis_url: str
) -> tuple[InfraSettings, str | None, str | None]:
    """Settings for the stack (bad variables exit 2), with the database migrated to head;
    and its revisions before and after."""
    settings = load_settings(InfraSettings, database_url=database_url, redis_url=redis_url)
    quiet_migration_logs()
    # Imported once the servers are starting: see orderly_cli.bytecode.
    from orderly_db import migrate
    from orderly_db.engine import create_engine

    engine = create_engine(settings, application_name="orderly-dev")
    try:
        before = await migrate.current(engine)
        await migrate.upgrade(engine)
        after = await migrate.current(engine)
    finally:
        await engine.dispose()
    return settings, before, after


# Webhook receivers on the developer's own machine (http://127.0.0.1:...) are allowed in
# development unless the environment says otherwise; production settings refuse both.
DEVELOPMENT_WEBHOOKS = {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"}


def _child_environment(settings: InfraSettings, signing_key: str | None = None) -> dict[str, str]:
    """What the API and the worker run with: the stack's servers, its signing key, development
    behaviour. They write the bytecode of what they import, whatever PYTHONDONTWRITEBYTECODE
    says: the next start is faster, and only what the stack runs is compiled."""
    environment = {
        **DEVELOPMENT_WEBHOOKS,
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ENVIRONMENT": "development",
        "LOG_FORMAT": "console",
        "PYTHONUNBUFFERED": "1",
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    if signing_key is not None:
        environment["JWT_SECRET"] = signing_key
    return environment


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
        f"  Mail       {_mail_line(stack.catcher)}",
        f"  Variables  {DEV_ENV_FILE} (for scripts: set -a; . {DEV_ENV_FILE}; set +a)",
        f"  Tokens     {_tokens_line()}",
        "",
        "Other orderly commands run in this directory, or below it, use this stack, for example:",
        "  orderly products create --sku MUG-1 --name 'Mug' --price 12.50 --currency EUR",
        "Press Ctrl-C to stop.",
    ]
    typer.echo("\n".join(lines))


def _mail_line(catcher: ThreadedCatcher | None) -> str:
    if catcher is None:
        return "sent to SMTP_HOST (given by the environment)"
    return (
        f"caught at smtp://{CATCHER_HOST}:{catcher.port}, nothing leaves this machine "
        "(read it: orderly mail inbox)"
    )


def _tokens_line() -> str:
    if SIGNING_KEY_FILE.exists() and not _Given().jwt_secret:
        return f"signed with the key in {SIGNING_KEY_FILE}: they outlast restarts"
    return "signed with JWT_SECRET"


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


def _publish(settings: InfraSettings, api_url: str, catcher: ThreadedCatcher | None = None) -> None:
    """Write ``dev.json`` (for ``orderly`` commands) and ``dev.env`` (for other tools)
    atomically: readers never see half a file."""
    children = _child_environment(settings)
    mail = (
        {}
        if catcher is None
        else {"mail_dir": str(catcher.folder), "smtp_host": CATCHER_HOST, "smtp_port": catcher.port}
    )
    state = {
        "pid": os.getpid(),
        "database_url": settings.database_url,
        "redis_url": settings.redis_url,
        "api_url": api_url,
        # CLI commands register webhook endpoints by the rules the stack's worker delivers by
        **{name.lower(): children[name] for name in DEVELOPMENT_WEBHOOKS},
        **mail,
    }
    _write_atomically(DEV_STATE_FILE, json.dumps(state, indent=2) + "\n")
    variables = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ORDERLY_API_URL": api_url,
        **{name: children[name] for name in DEVELOPMENT_WEBHOOKS},
        **({} if catcher is None else _catcher_environment(catcher)),
    }
    lines = [f"# The servers of `orderly dev` (pid {os.getpid()}), removed when it stops."]
    lines += [f"{name}={shlex.quote(value)}" for name, value in variables.items()]
    _write_atomically(DEV_ENV_FILE, "\n".join(lines) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f"{path.name}.tmp")
    partial.write_text(text)
    partial.replace(path)


def _unpublish() -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(DEV_STATE_FILE.read_text()).get("pid") == os.getpid():
            DEV_STATE_FILE.unlink()
            DEV_ENV_FILE.unlink(missing_ok=True)


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
