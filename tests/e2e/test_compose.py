"""Static checks of the container deployment: compose.yaml, Dockerfile and .dockerignore.

No Docker engine is needed: compose.yaml is validated against the Compose Specification
JSON schema (``compose-spec.json``, vendored next to this file from the compose-spec/compose-spec
repository) and then checked for the properties the deployment relies on.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")

SERVICES = frozenset({"postgres", "redis", "migrate", "api", "worker"})
# Started by `docker compose --profile observability up` (docs/observability.md).
OBSERVABILITY = frozenset({"prometheus", "grafana"})
LONG_RUNNING = ("postgres", "redis", "api", "worker", "prometheus", "grafana")
APP_SERVICES = ("migrate", "api", "worker")

# The `orderly` command line: each subcommand path and the options it accepts.
ORDERLY_COMMANDS: dict[tuple[str, ...], frozenset[str]] = {
    ("serve",): frozenset({"--host", "--port", "--workers"}),
    ("worker",): frozenset(),
    ("db", "upgrade"): frozenset(),
}
ORDERLY_GROUPS = frozenset(path[0] for path in ORDERLY_COMMANDS if len(path) > 1)

type Service = dict[str, Any]


# -- helpers ---------------------------------------------------------------------------------


def _load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "compose.yaml must be a mapping at the top level"
    return cast("dict[str, Any]", data)


def _argv(command: object) -> list[str]:
    """A command (shell string or exec list) as an argument vector."""
    if isinstance(command, str):
        return shlex.split(command)
    assert isinstance(command, list), f"unexpected command form: {command!r}"
    assert all(isinstance(part, str) for part in command), f"non-string in {command!r}"
    return [str(part) for part in command]


def _healthcheck_argv(test: object) -> list[str]:
    """The argument vector of a healthcheck `test` (CMD / CMD-SHELL / plain string)."""
    argv = _argv(test)
    if argv and argv[0] == "CMD":
        return argv[1:]
    if argv and argv[0] == "CMD-SHELL":
        return shlex.split(" ".join(argv[1:]))
    return argv


def _is_orderly(argv: list[str]) -> bool:
    return bool(argv) and Path(argv[0]).name == "orderly"


def _orderly_subcommand(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Split `orderly ...` into its subcommand path and the remaining arguments."""
    assert _is_orderly(argv), f"not an orderly command: {argv!r}"
    rest = argv[1:]
    assert rest, "`orderly` run without a subcommand"
    depth = 2 if rest[0] in ORDERLY_GROUPS else 1
    return tuple(rest[:depth]), rest[depth:]


def _env(service: Service) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(str(item).split("=", 1) for item in env)
    assert isinstance(env, dict)
    return {str(key): str(value) for key, value in env.items()}


def _depends_on(service: Service) -> dict[str, str]:
    """depends_on as {service: condition}; the short list form means service_started."""
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys((str(dep) for dep in deps), "service_started")
    assert isinstance(deps, dict)
    return {str(name): str(spec["condition"]) for name, spec in deps.items()}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    pairs: list[tuple[str, str]] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        pairs.append((keyword.upper(), args.strip()))
    return pairs


def _exec_form(args: str) -> list[str]:
    """The argv of a Dockerfile CMD/ENTRYPOINT/HEALTHCHECK CMD (JSON or shell form)."""
    if args.startswith("["):
        parsed = json.loads(args)
        assert isinstance(parsed, list)
        return [str(part) for part in parsed]
    return shlex.split(args)


def _orderly_invocations(compose: Mapping[str, Any]) -> Iterator[tuple[str, list[str]]]:  # noqa: C901
    """Every `orderly` command line compose.yaml or the Dockerfile can run, with its origin."""
    services = cast("dict[str, Service]", compose["services"])
    for name, service in services.items():
        if service.get("command") is not None:
            argv = _argv(service["command"])
            if _is_orderly(argv):
                yield f"services.{name}.command", argv
        if service.get("entrypoint") is not None:
            argv = _argv(service["entrypoint"])
            if _is_orderly(argv):
                yield f"services.{name}.entrypoint", argv
        test = service.get("healthcheck", {}).get("test")
        if test is not None:
            argv = _healthcheck_argv(test)
            if _is_orderly(argv):
                yield f"services.{name}.healthcheck", argv
    for keyword, args in _dockerfile_instructions():
        if keyword in {"CMD", "ENTRYPOINT"}:
            argv = _exec_form(args)
            if _is_orderly(argv):
                yield f"Dockerfile {keyword}", argv


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    return cast("dict[str, Service]", compose["services"])


# -- compose.yaml ----------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda err: list(err.absolute_path))
    messages = [
        f"{'.'.join(str(part) for part in err.absolute_path) or '<root>'}: {err.message}"
        for err in errors
    ]
    assert not messages, "compose.yaml violates the Compose Specification:\n" + "\n".join(messages)


def test_schema_rejects_an_invalid_compose_file() -> None:
    """The vendored schema really constrains documents (guards against an empty/loose copy)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    bad = {
        "services": {"api": {"image": "x", "restart_policy": "always"}},
        "bogus": True,
    }
    assert not validator.is_valid(bad)
    bad_condition = {
        "services": {"api": {"image": "x", "depends_on": {"db": {"condition": "ready"}}}},
    }
    assert not validator.is_valid(bad_condition)


def test_compose_file_uses_the_current_format(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the top-level `version` key is obsolete"
    assert set(compose) <= {"name", "services", "volumes", "networks", "x-orderly"}
    assert "x-orderly" in compose, "the shared x-orderly extension is missing"


def test_all_services_exist(services: dict[str, Service]) -> None:
    assert set(services) == SERVICES | OBSERVABILITY
    for name in SERVICES:  # `docker compose up` starts the stack without the monitoring
        assert "profiles" not in services[name], name
    for name in OBSERVABILITY:
        assert services[name]["profiles"] == ["observability"], name


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck(services: dict[str, Service], name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False), f"{name} disables its healthcheck"
    assert healthcheck.get("test"), f"{name}'s healthcheck has no test"
    assert _healthcheck_argv(healthcheck["test"]), f"{name}'s healthcheck test is empty"


def test_postgres_service(compose: dict[str, Any], services: dict[str, Service]) -> None:
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:1[67](\.\d+)*-alpine", postgres["image"])
    assert _healthcheck_argv(postgres["healthcheck"]["test"])[0] == "pg_isready"
    env = _env(postgres)
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(env)
    named = set(compose.get("volumes") or {})
    mounts = [str(volume) for volume in postgres.get("volumes", [])]
    assert any(
        mount.split(":", 1)[0] in named and mount.endswith(":/var/lib/postgresql/data")
        for mount in mounts
    ), "postgres data must live on a named volume"


def test_redis_service(services: dict[str, Service]) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"redis:7(\.\d+)*-alpine", redis["image"])
    assert _healthcheck_argv(redis["healthcheck"]["test"]) == ["redis-cli", "ping"]


def test_migrate_runs_once_after_postgres(services: dict[str, Service]) -> None:
    migrate = services["migrate"]
    assert _argv(migrate["command"]) == ["orderly", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert _depends_on(migrate).get("postgres") == "service_healthy"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_services_wait_for_migrations_and_redis(
    services: dict[str, Service], name: str
) -> None:
    deps = _depends_on(services[name])
    assert deps.get("migrate") == "service_completed_successfully"
    assert deps.get("redis") == "service_healthy"


def test_api_service(services: dict[str, Service]) -> None:
    api = services["api"]
    path, args = _orderly_subcommand(_argv(api["command"]))
    assert path == ("serve",)
    assert args[args.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (container listens on all)
    assert args[args.index("--port") + 1] == "8000"
    ports = [str(port) for port in api["ports"]]
    assert any(port.endswith(":8000") for port in ports)
    assert "replicas" in api.get("deploy", {})
    check = " ".join(_healthcheck_argv(api["healthcheck"]["test"]))
    assert "urllib" in check
    assert "http://127.0.0.1:8000/health" in check


def test_worker_service(services: dict[str, Service]) -> None:
    worker = services["worker"]
    path, args = _orderly_subcommand(_argv(worker["command"]))
    assert path == ("worker",)
    assert args == []
    check = _healthcheck_argv(worker["healthcheck"]["test"])
    assert check == ["arq", "--check", "orderly_worker.settings.WorkerSettings"]
    replicas = worker["deploy"]["replicas"]
    default = re.fullmatch(r"\$\{\w+:-(\d+)\}", replicas) if isinstance(replicas, str) else None
    count = int(default.group(1)) if default else int(replicas)
    assert count >= 2


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_the_local_image_and_settings(
    compose: dict[str, Any], services: dict[str, Service], name: str
) -> None:
    shared = compose["x-orderly"]
    service = services[name]
    assert service["image"] == shared["image"]
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in {".", "./"}
    env = _env(service)
    assert env["LOG_FORMAT"] == "json"
    assert env["ENVIRONMENT"] == "production"
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert "LOG_LEVEL" in env


def test_every_orderly_command_exists(compose: dict[str, Any]) -> None:
    invocations = list(_orderly_invocations(compose))
    origins = {origin for origin, _ in invocations}
    assert {
        "services.migrate.command",
        "services.api.command",
        "services.worker.command",
        "Dockerfile CMD",
    } <= origins
    for origin, argv in invocations:
        path, args = _orderly_subcommand(argv)
        assert path in ORDERLY_COMMANDS, f"{origin}: unknown command `orderly {' '.join(path)}`"
        options = {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}
        unknown = options - ORDERLY_COMMANDS[path]
        assert not unknown, f"{origin}: unknown option(s) {sorted(unknown)} for {path}"


def test_app_services_run_orderly(services: dict[str, Service]) -> None:
    for name in APP_SERVICES:
        assert _is_orderly(_argv(services[name]["command"])), f"{name} does not run orderly"


# -- Dockerfile and .dockerignore ------------------------------------------------------------


def test_dockerfile_is_multi_stage() -> None:
    stages = [args for keyword, args in _dockerfile_instructions() if keyword == "FROM"]
    assert len(stages) >= 2
    python_stages = [args for args in stages if "python" in args.lower() or "PYTHON" in args]
    assert len(python_stages) >= 2, "builder and runtime should both be Python images"
    args = dict(
        arg.split("=", 1)
        for keyword, arg in _dockerfile_instructions()
        if keyword == "ARG" and "=" in arg
    )
    if "PYTHON_IMAGE" in args:
        assert args["PYTHON_IMAGE"].startswith("python:3.12")


def test_dockerfile_installs_the_locked_workspace() -> None:
    runs = " ".join(args for keyword, args in _dockerfile_instructions() if keyword == "RUN")
    assert "uv sync" in runs
    for flag in ("--frozen", "--all-packages", "--no-dev", "--no-editable"):
        assert flag in runs
    assert "--mount=type=cache" in runs


def test_dockerfile_runs_as_a_non_root_user() -> None:
    instructions = _dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image must switch to a non-root USER"
    final_user = users[-1].split(":", 1)[0]
    assert final_user not in {"root", "0"}
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert re.search(rf"useradd\b.*--uid 10001\b.*\b{re.escape(final_user)}\b", runs) or (
        final_user == "10001"
    )


def test_dockerfile_declares_a_healthcheck_and_the_api_port() -> None:
    instructions = _dockerfile_instructions()
    healthchecks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert healthchecks, "the image must declare a HEALTHCHECK"
    assert "/health" in healthchecks[-1]
    assert "8000" in [args for keyword, args in instructions if keyword == "EXPOSE"]
    cmd = [args for keyword, args in instructions if keyword == "CMD"]
    assert cmd
    path, _ = _orderly_subcommand(_exec_form(cmd[-1]))
    assert path == ("serve",)


def test_dockerignore_keeps_the_build_context_small() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".orderly", ".git", "tests", "bench/results"):
        assert required in patterns, f".dockerignore should exclude {required}"
    for needed in ("packages", "uv.lock", "pyproject.toml", ".python-version"):
        assert needed not in patterns, f".dockerignore must not exclude {needed}"
