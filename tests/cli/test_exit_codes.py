"""Exit codes as docs/cli.md's table gives them, and errors as ``--json`` promises them: one
JSON object on stdout, whatever went wrong; the core's field paths phrased for people
otherwise."""

from __future__ import annotations

import json
import socket

import pytest

from orderly_cli.boundary import people_detail
from orderly_core.shared.errors import FieldError, InvalidInput
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json

pytestmark = [pytest.mark.postgres]


def _one_json_error(stdout: str) -> dict[str, str]:
    [line] = stdout.splitlines()
    error: dict[str, str] = json.loads(line)["error"]
    return error


@pytest.mark.parametrize(
    "args",
    [
        ("products", "list", "--limit", "abc"),
        ("products", "list", "--limit", "0"),
        ("products", "list", "--bogus"),
        ("products", "show"),  # a missing argument
        ("orders", "place", "--line", "MUG-1:two"),
        ("orders", "list", "--since", "yesterday"),
        ("jobs", "list", "--status", "lost"),
        ("nothing-of-the-kind",),
    ],
    ids=["not a number", "out of range", "unknown option", "no argument", "bad line",
         "bad time", "bad choice", "unknown command"],
)  # fmt: skip
def test_a_usage_error_exits_2_and_honours_json(cli: Cli, args: tuple[str, ...]) -> None:
    told = cli(*args)
    assert told.exit_code == 2, told.output
    assert told.stdout == ""
    assert "Usage: orderly" in told.stderr

    as_json = cli(*args, "--json")
    assert as_json.exit_code == 2, as_json.output
    error = _one_json_error(as_json.stdout)
    assert error["code"] == "usage_error"
    assert error["detail"]
    assert "Usage:" not in as_json.output


def test_json_given_as_an_option_value_is_no_request_for_json(cli: Cli) -> None:
    result = cli("products", "list", "--search", "x", "--limit", "abc", "--", "--json")

    assert result.exit_code == 2
    assert result.stdout == ""


def test_a_refusal_exits_1_and_invalid_input_2(cli: Cli) -> None:
    refused = ok_json(cli("products", "show", "NOPE-1", "--json"), exit_code=1)
    assert refused["error"]["code"] == "product_not_found"
    invalid = ok_json(cli("audit", "list", "--cursor", "nonsense", "--json"), exit_code=2)
    assert invalid["error"]["code"] == "invalid_input"


def test_configuration_errors_exit_2_and_honour_json(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")

    told = cli("products", "list")
    assert told.exit_code == 2, told.output
    assert told.stderr.startswith("error: invalid configuration: DATABASE_URL")
    as_json = cli("products", "list", "--json")
    assert as_json.exit_code == 2
    error = _one_json_error(as_json.stdout)
    assert error["code"] == "configuration_error"
    assert "DATABASE_URL" in error["detail"]


def test_an_unreachable_server_exits_3_and_honours_json(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens on it once closed
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://x@127.0.0.1:{closed_port}/x")

    as_json = cli("products", "list", "--json")

    assert as_json.exit_code == 3, as_json.output
    error = _one_json_error(as_json.stdout)
    assert error["code"] == "unavailable"
    assert error["detail"].startswith("a server could not be reached")


@pytest.mark.parametrize(
    ("field", "message", "told"),
    [
        ("lines.0.quantity", "must be 1-1000", "line 1: quantity must be 1-1000"),
        ("lines.2", "its subtotal exceeds", "line 3: its subtotal exceeds"),
        ("lines.1.sku", "is not a SKU", "line 2: sku is not a SKU"),
        (
            "shipping_address.postal_code",
            "is required",
            "shipping address: postal code is required",
        ),
        ("event_types.0", "is not an event type", "event type 1: is not an event type"),
        ("countries.4", "is not a country", "country 5: is not a country"),
        ("email", "must be an email address", "email: must be an email address"),
        ("lines", "must hold 1-100 lines", "lines: must hold 1-100 lines"),
    ],
)
def test_field_paths_are_phrased_for_people(field: str, message: str, told: str) -> None:
    assert people_detail(InvalidInput.single(field, message)) == told


def test_every_invalid_field_is_told() -> None:
    errors = (FieldError("lines.0.quantity", "must be 1-1000"), FieldError("email", "is bad"))

    assert people_detail(InvalidInput(errors)) == "line 1: quantity must be 1-1000; email: is bad"
