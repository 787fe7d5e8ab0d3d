"""Running Orderly: ``orderly dev`` for development, ``orderly serve`` and ``orderly worker``
for production (they are what the container image and ``compose.yaml`` run)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from orderly_cli.boundary import EXIT_USAGE
from orderly_cli.processes import api_argv, exec_process, worker_argv
from orderly_db.settings import ConfigurationError, InfraSettings, load_settings

Port = Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the API.")]


def dev(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Port = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also run the background worker.")
    ] = True,
) -> None:
    """Run the whole stack locally: API, worker, PostgreSQL and Redis.

    Servers not given by DATABASE_URL / REDIS_URL (environment or .env) are embedded, with
    their data under ./.orderly/ (delete it to start afresh). The database is migrated first.
    Other orderly commands run in this directory find the stack by themselves. Ctrl-C stops
    everything that was started.
    """
    from orderly_cli import devstack  # what only `orderly dev` needs (see orderly_cli.launcher)

    code = devstack.run(host, port, with_worker=worker)
    if code:
        raise typer.Exit(code)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
    port: Port = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, envvar="WEB_CONCURRENCY", help="Number of API processes."),
    ] = 1,
) -> None:
    """Serve the HTTP API in production (uvicorn with uvloop and httptools).

    Needs DATABASE_URL and REDIS_URL. Believes X-Forwarded-For only from the proxies in
    TRUSTED_PROXIES (default: none). Run `orderly db upgrade` first. With several processes,
    their metrics are shared through files in PROMETHEUS_MULTIPROC_DIR (a fresh temporary
    directory unless set), so that /metrics counts them all.
    """
    settings = _settings()
    if workers > 1:
        from orderly_telemetry.exposition import MULTIPROC_DIR_ENV, fresh_multiprocess_dir

        given = os.environ.get(MULTIPROC_DIR_ENV)
        os.environ[MULTIPROC_DIR_ENV] = fresh_multiprocess_dir(given)
    exec_process(
        api_argv(host, port, production=True, workers=workers, log_level=settings.log_level.lower())
    )


def worker() -> None:
    """Run a background worker (arq); start as many as the load needs.

    Needs DATABASE_URL and REDIS_URL. Stops gracefully on SIGTERM.
    """
    _settings()
    exec_process(worker_argv())


def _settings() -> InfraSettings:
    """Check the environment before starting a server, naming any bad or missing variable.
    Production processes read the environment (and .env) only, never a running `orderly dev`."""
    try:
        return load_settings(InfraSettings)
    except ConfigurationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    """Add ``dev``, ``serve`` and ``worker`` to the root command."""
    app.command("dev")(dev)
    app.command("serve")(serve)
    app.command("worker")(worker)
