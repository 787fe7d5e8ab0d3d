"""`orderly users ...` through Typer's runner, against the real PostgreSQL.

Each command runs `asyncio.run` itself, so these tests are plain functions. What a command
claims to have done is read back through the core's use cases on an engine of the test's own.
Argon2id runs at its cheapest parameters, set through the environment as an operator would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from typer.testing import Result

from orderly_core.accounts.administration import list_users
from orderly_core.accounts.model import User, UserQuery
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.db_fixtures import FAST_PASSWORDS

pytestmark = [pytest.mark.postgres]

USER_KEYS = {
    "id", "email", "display_name", "role", "active", "email_verified", "created_at", "updated_at",
}  # fmt: skip
OPERATOR = Context(Actor.operator("test-users-cli"), "test-users-cli")
PASSWORD = "  correct horse battery staple "  # spaces at both ends belong to the password


class Orderly(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...


@pytest.fixture
def orderly(cli: Cli) -> Orderly:
    """`orderly users ...` (see the ``cli`` fixture)."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return cli("users", *args, input=input)

    return invoke


def _with_db[T](settings: InfraSettings, work: Callable[[Dependencies], Awaitable[T]]) -> T:
    """Run ``work`` on a loop and an engine of its own, away from the session's event loop."""

    async def run() -> T:
        engine = create_engine(settings, application_name="orderly-tests-cli")
        try:
            return await work(sql_dependencies(engine, passwords=FAST_PASSWORDS))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(run())).result()


def stored_users(settings: InfraSettings) -> dict[str, User]:
    """Every stored user by email, password hash included (the core's own view)."""
    page = _with_db(settings, lambda deps: list_users(deps, OPERATOR, UserQuery(limit=200)))
    return {user.email: user for user in page.unwrap().items}


def one_line_error(result: Result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def create_admin(orderly: Orderly, email: str, *extra: str) -> Result:
    return orderly(
        "create-admin", "--email", email, "--password-stdin", *extra, input=PASSWORD + "\n"
    )


def admin(orderly: Orderly, email: str) -> dict[str, Any]:
    user: dict[str, Any] = ok_json(create_admin(orderly, email, "--json"))["user"]
    return user


def verifies(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except VerificationError:
        return False


def assert_secret_free(result: Result, *secrets: str) -> None:
    for secret in (*secrets, "password_hash", "$argon2"):
        assert secret not in result.stdout, result.stdout
        assert secret not in result.stderr, result.stderr


# --- create-admin ----------------------------------------------------------------------------


def test_create_admin_reads_the_first_line_of_stdin(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    result = orderly(
        "create-admin", "--email", " Ada@Example.COM ", "--password-stdin", "--json",
        input=f"{PASSWORD}\nsecond line is not the password\n",
    )  # fmt: skip
    document = ok_json(result)
    assert set(document) == {"applied", "user"}
    assert document["applied"] is True
    shown = document["user"]
    assert set(shown) == USER_KEYS
    assert (shown["email"], shown["display_name"], shown["role"], shown["active"]) == (
        "ada@example.com",
        "Ada",
        "admin",
        True,
    )
    assert shown["created_at"].endswith("Z")
    assert_secret_free(result, PASSWORD, PASSWORD.strip())

    user = stored_users(infra_settings)["ada@example.com"]
    assert (str(user.id), user.role, user.active) == (shown["id"], Role.ADMIN, True)
    assert verifies(user.password_hash, PASSWORD)
    assert not verifies(user.password_hash, PASSWORD.strip())
    assert not verifies(user.password_hash, PASSWORD + "\n")
    # The hash was made with the parameters the environment set.
    assert user.password_hash.startswith("$argon2id$")
    assert "m=8192,t=1," in user.password_hash


def test_create_admin_prompts_twice_without_echo(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    result = orderly(
        "create-admin", "--email", "grace@example.com", "--display-name", "Grace Hopper",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Password" in result.stderr
    assert "Repeat for confirmation" in result.stderr
    assert "grace@example.com" in result.stdout
    assert "Grace Hopper" in result.stdout
    assert_secret_free(result, PASSWORD, PASSWORD.strip())
    user = stored_users(infra_settings)["grace@example.com"]
    assert (user.display_name, user.role, user.active) == ("Grace Hopper", Role.ADMIN, True)
    assert verifies(user.password_hash, PASSWORD)


def test_a_mismatched_confirmation_creates_nobody(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    first, second = "first password 111", "second password 222"
    result = orderly("create-admin", "--email", "ada@example.com", input=f"{first}\n{second}\n")
    assert result.exit_code == 1, result.output
    assert "do not match" in result.stderr
    assert_secret_free(result, first, second)
    assert stored_users(infra_settings) == {}


def test_an_empty_stdin_is_a_usage_error(orderly: Orderly, infra_settings: InfraSettings) -> None:
    result = orderly("create-admin", "--email", "ada@example.com", "--password-stdin", input="")
    assert result.exit_code == 2, result.output
    assert "'--password-stdin'" in result.stderr
    assert stored_users(infra_settings) == {}


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("too short", "password: must be 10-256 characters"),
        ("x" * 257, "password: must be 10-256 characters"),
        ("ADA@example.com", "password: must not be the email address"),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(
    orderly: Orderly, infra_settings: InfraSettings, password: str, reason: str
) -> None:
    result = orderly(
        "create-admin", "--email", "ada@example.com", "--password-stdin", input=password + "\n"
    )
    line = one_line_error(result, exit_code=2)  # invalid input: a bad option
    assert line == f"error: {reason}"
    assert_secret_free(result, password)
    assert stored_users(infra_settings) == {}


def test_a_taken_email_is_refused_in_any_case(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    first = admin(orderly, "ada@example.com")
    again = create_admin(orderly, "ADA@example.com")
    assert "already exists" in one_line_error(again)
    refused = create_admin(orderly, "Ada@Example.com", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["error"]["code"] == "email_taken"
    assert [str(u.id) for u in stored_users(infra_settings).values()] == [first["id"]]


def test_a_dry_run_create_admin_stores_nothing(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    document = ok_json(create_admin(orderly, "ada@example.com", "--dry-run", "--json"))
    assert document["applied"] is False
    assert document["user"]["role"] == "admin"
    human = create_admin(orderly, "ada@example.com", "--dry-run")
    assert human.exit_code == 0, human.output
    assert "dry run: nothing was changed" in human.stdout
    assert stored_users(infra_settings) == {}


# --- list ------------------------------------------------------------------------------------


def _three_users(orderly: Orderly) -> dict[str, dict[str, Any]]:
    """ada (admin), bob (staff), cyd (customer, deactivated)."""
    users = {name: admin(orderly, f"{name}@example.com") for name in ("cyd", "ada", "bob")}
    assert orderly("set-role", "bob@example.com", "staff").exit_code == 0
    assert orderly("set-role", "cyd@example.com", "customer").exit_code == 0
    assert orderly("deactivate", "cyd@example.com").exit_code == 0
    return users


def _emails(orderly: Orderly, *args: str) -> list[str]:
    return [u["email"] for u in ok_json(orderly("list", *args, "--json"))["items"]]


def test_list_filters_and_json_shape(orderly: Orderly) -> None:
    users = _three_users(orderly)
    result = orderly("list", "--json")
    assert "password" not in result.stdout
    assert "$argon2" not in result.stdout
    document = ok_json(result)
    assert set(document) == {"items", "next_cursor"}
    assert document["next_cursor"] is None
    assert all(set(item) == USER_KEYS for item in document["items"])
    by_email = {item["email"]: item for item in document["items"]}
    assert list(by_email) == ["ada@example.com", "bob@example.com", "cyd@example.com"]
    assert {e: (u["role"], u["active"]) for e, u in by_email.items()} == {
        "ada@example.com": ("admin", True),
        "bob@example.com": ("staff", True),
        "cyd@example.com": ("customer", False),
    }
    assert by_email["ada@example.com"]["id"] == users["ada"]["id"]

    assert _emails(orderly, "--role", "STAFF") == ["bob@example.com"]
    assert _emails(orderly, "--inactive") == ["cyd@example.com"]
    assert _emails(orderly, "--active") == ["ada@example.com", "bob@example.com"]
    assert _emails(orderly, "--active", "--role", "customer") == []
    assert _emails(orderly, "--email-prefix", "B") == ["bob@example.com"]

    first = ok_json(orderly("list", "--limit", "2", "--json"))
    assert [u["email"] for u in first["items"]] == ["ada@example.com", "bob@example.com"]
    cursor = first["next_cursor"]
    assert isinstance(cursor, str)
    assert _emails(orderly, "--limit", "2", "--cursor", cursor) == ["cyd@example.com"]

    human = orderly("list", "--limit", "2")
    assert human.exit_code == 0, human.output
    assert f"--cursor {cursor}" in human.stdout
    line = next(line for line in human.stdout.splitlines() if "bob@example.com" in line)
    assert line.split() == ["bob@example.com", "staff", "yes", users["bob"]["id"]]
    assert "$argon2" not in human.stdout


def test_list_refuses_a_limit_out_of_range(orderly: Orderly) -> None:
    result = orderly("list", "--limit", "201")
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--limit'" in result.stderr


# --- set-role, deactivate, reactivate --------------------------------------------------------


def test_set_role_by_email_and_by_id(orderly: Orderly, infra_settings: InfraSettings) -> None:
    admin(orderly, "ada@example.com")
    bob = admin(orderly, "bob@example.com")
    by_email = ok_json(orderly("set-role", "BOB@example.com", "staff", "--json"))
    assert (by_email["applied"], by_email["user"]["role"]) == (True, "staff")
    assert stored_users(infra_settings)["bob@example.com"].role is Role.STAFF

    by_id = orderly("set-role", bob["id"], "customer")
    assert by_id.exit_code == 0, by_id.output
    assert "bob@example.com" in by_id.stdout
    assert "customer" in by_id.stdout
    assert stored_users(infra_settings)["bob@example.com"].role is Role.CUSTOMER


def test_the_last_active_admin_stays(orderly: Orderly, infra_settings: InfraSettings) -> None:
    admin(orderly, "ada@example.com")
    for args in (
        ("set-role", "ada@example.com", "staff"),
        ("set-role", "ada@example.com", "customer", "--dry-run"),
        ("deactivate", "ada@example.com"),
        ("deactivate", "ada@example.com", "--dry-run"),
    ):
        assert "last active admin" in one_line_error(orderly(*args))
    refused = orderly("deactivate", "ada@example.com", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout) == {
        "error": {
            "code": "last_admin",
            "detail": "The last active admin cannot be demoted or deactivated.",
        }
    }
    ada = stored_users(infra_settings)["ada@example.com"]
    assert (ada.role, ada.active) == (Role.ADMIN, True)

    # With a second active admin, the first may step down.
    admin(orderly, "bob@example.com")
    assert orderly("set-role", "ada@example.com", "staff").exit_code == 0
    assert "last active admin" in one_line_error(orderly("deactivate", "bob@example.com"))


def test_deactivate_then_reactivate(orderly: Orderly, infra_settings: InfraSettings) -> None:
    admin(orderly, "ada@example.com")
    bob = admin(orderly, "bob@example.com")
    off = ok_json(orderly("deactivate", bob["id"], "--json"))
    assert (off["applied"], off["user"]["active"]) == (True, False)
    assert stored_users(infra_settings)["bob@example.com"].active is False
    again = orderly("deactivate", "bob@example.com")  # already inactive: nothing to do
    assert again.exit_code == 0, again.output

    on = orderly("reactivate", "bob@example.com")
    assert on.exit_code == 0, on.output
    assert "reactivated" in on.stdout
    bob_now = stored_users(infra_settings)["bob@example.com"]
    assert (bob_now.active, bob_now.role) == (True, Role.ADMIN)
    assert verifies(bob_now.password_hash, PASSWORD)


def test_dry_runs_change_nothing(orderly: Orderly, infra_settings: InfraSettings) -> None:
    admin(orderly, "ada@example.com")
    admin(orderly, "bob@example.com")
    before = stored_users(infra_settings)["bob@example.com"]

    rehearsed = ok_json(orderly("set-role", "bob@example.com", "staff", "--dry-run", "--json"))
    assert (rehearsed["applied"], rehearsed["user"]["role"]) == (False, "staff")
    rehearsed = ok_json(orderly("deactivate", "bob@example.com", "--dry-run", "--json"))
    assert (rehearsed["applied"], rehearsed["user"]["active"]) == (False, False)
    human = orderly("deactivate", "bob@example.com", "--dry-run")
    assert human.exit_code == 0, human.output
    assert "dry run: nothing was changed" in human.stdout

    assert stored_users(infra_settings)["bob@example.com"] == before


@pytest.mark.parametrize("command", ["set-role", "deactivate", "reactivate"])
def test_an_unknown_user_is_refused_in_one_line(orderly: Orderly, command: str) -> None:
    admin(orderly, "ada@example.com")
    args = (command, "nobody@example.com", *(["staff"] if command == "set-role" else []))
    line = one_line_error(orderly(*args))
    assert line.startswith("error: ")
    assert "nobody@example.com" in line


def test_every_command_documents_an_example(orderly: Orderly) -> None:
    for command in ("create-admin", "list", "set-role", "deactivate", "reactivate"):
        shown = orderly(command, "--help")
        assert shown.exit_code == 0, shown.output
        assert f"orderly users {command}" in shown.stdout.split("Example")[1]
        assert "--json" in shown.stdout
