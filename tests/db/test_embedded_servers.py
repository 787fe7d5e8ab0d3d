"""The embedded servers behind `orderly dev` and the test fixtures really serve and really stop."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aredis
from sqlalchemy.engine import make_url

from orderly_cli.embedded import (
    EmbeddedPostgres,
    EmbeddedServerError,
    create_database,
    start_postgres,
    start_redis,
)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) of every process visible in /proc."""
    found: dict[int, tuple[int, str, str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rpartition(")")[2].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(proc.name)] = (int(stat[1]), stat[0], cmdline)
    return found


def _running(pids: set[int]) -> set[int]:
    """The pids that still run; zombies waiting to be reaped by PID 1 do not count."""
    return {pid for pid, (_, state, _) in _processes().items() if pid in pids and state != "Z"}


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its 0700 base would need loosening for the postgres system user.
    path = Path(tempfile.mkdtemp(prefix="orderly-embedded-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.postgres
async def test_database_url_serves_a_fresh_database(database_url: str) -> None:
    assert database_url.startswith("postgresql+asyncpg://")
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        assert await conn.fetchval("select 1") == 1
        assert await conn.fetchval("select current_database()") == "orderly_test"
        await conn.execute("create temp table scratch (id int primary key, label text not null)")
        await conn.executemany("insert into scratch values ($1, $2)", [(1, "a"), (2, "b")])
        labels = await conn.fetchval("select string_agg(label, ',' order by id) from scratch")
        assert labels == "a,b"
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("insert into scratch values (1, 'dup')")
    finally:
        await conn.close()


@pytest.mark.redis
async def test_redis_url_stores_and_expires_keys(redis_url: str) -> None:
    client = aredis.Redis.from_url(redis_url)
    try:
        assert await client.set("orderly:test:key", "value", ex=60)
        assert await client.get("orderly:test:key") == b"value"
        assert 0 < await client.ttl("orderly:test:key") <= 60
        assert await client.delete("orderly:test:key") == 1
        assert await client.get("orderly:test:key") is None
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_second_redis_stops_for_real(scratch_dir: Path) -> None:
    server = start_redis(scratch_dir / "redis")
    try:
        assert server.pid is not None
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert start_redis(scratch_dir / "redis") == server  # attaches instead of starting twice
        client = aredis.Redis.from_url(server.url)
        try:
            await client.set("k", "v")
            assert await client.get("k") == b"v"
        finally:
            await client.aclose()
    finally:
        server.stop()
    assert not _accepts_tcp(server.port)
    assert not _running({server.pid})
    server.stop()  # idempotent


@pytest.mark.redis
def test_redis_on_a_taken_port_fails_with_the_log(scratch_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmbeddedServerError, match="Address already in use"):
            start_redis(scratch_dir / "redis", port)
    assert not any("redis-server" in cmd for _, _, cmd in _processes().values() if str(port) in cmd)


@pytest.mark.postgres
async def test_second_postgres_stops_for_real(scratch_dir: Path) -> None:
    # Deep enough that the socket cannot live in the data dir (unix socket paths are short).
    data_dir = scratch_dir / ("d" * 60) / "pg"
    server = start_postgres(data_dir)
    try:
        assert len(str(server.socket_dir / ".s.PGSQL.5432")) < 100
        assert start_postgres(data_dir) == server  # attaches to the running server
        create_database(server, "scratch")
        conn = await asyncpg.connect(server.dsn("scratch"))
        try:
            await conn.execute("create table kept (id int)")
        finally:
            await conn.close()
        create_database(server, "scratch")  # exists: left alone
        create_database(server, "scratch", drop_existing=True)
        conn = await asyncpg.connect(server.dsn("scratch"))
        try:
            assert await conn.fetchval("select to_regclass('kept')") is None
        finally:
            await conn.close()
        tree = _processes()
        postmasters = {pid for pid, (_, _, cmd) in tree.items() if str(data_dir) in cmd}
        assert len(postmasters) == 1
        children = {pid for pid, (ppid, _, _) in tree.items() if ppid in postmasters}
        assert children  # checkpointer, walwriter, ... must go too
    finally:
        server.stop()
    assert not _running(postmasters | children)
    assert not any(str(data_dir) in cmd for _, state, cmd in _processes().values() if state != "Z")
    assert not server.socket_dir.exists()  # the short socket dir is cleaned up
    server.stop()  # idempotent


def test_create_database_rejects_unsafe_names(scratch_dir: Path) -> None:
    fake = EmbeddedPostgres(data_dir=scratch_dir, socket_dir=scratch_dir, port=5432)
    with pytest.raises(ValueError, match="unsafe database name"):
        create_database(fake, 'x"; drop database postgres; --')
