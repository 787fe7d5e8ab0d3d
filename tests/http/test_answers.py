"""How a route answers a use case's outcome: the rules of :mod:`orderly_http.answers`."""

from __future__ import annotations

import orjson
from returns.result import Failure, Success

from orderly_core.catalogue.errors import ProductNotFound
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_http.answers import answer, idempotency_key_missing, none_match, strong_etag

CUSTOMER = Actor.user("5f0c1d2e-customer", Role.CUSTOMER)
WRITE = Context(CUSTOMER, "req-1", idempotency_key="k-1")
DRY_RUN = Context(CUSTOMER, "req-2", mode=Mode.DRY_RUN)
THING = {"id": "T-1", "version": 3}


def _version(thing: dict[str, object]) -> int:
    return int(str(thing["version"]))


def _location(thing: dict[str, object]) -> str:
    return f"/things/{thing['id']}"


def test_an_applied_write_answers_its_status_etag_location_and_replay_mark() -> None:
    first = answer(Success(THING), WRITE, dict, status=201, version=_version, location=_location)
    again = answer(
        Success(Replayed(THING)), WRITE, dict, status=201, version=_version, location=_location
    )

    assert (first.status_code, orjson.loads(first.body)) == (201, THING)
    assert first.headers["ETag"] == '"3"'
    assert first.headers["Location"] == "/things/T-1"
    assert "Idempotent-Replayed" not in first.headers
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_dry_run_answers_200_marked_without_etag_location_or_replay_mark() -> None:
    created = answer(
        Success(THING), DRY_RUN, dict, status=201, version=_version, location=_location
    )
    removed = answer(Success(THING), DRY_RUN, lambda _: None, status=204)

    assert (created.status_code, orjson.loads(created.body)) == (200, THING)
    assert created.headers["Orderly-Mode"] == "dry_run"
    assert not {"ETag", "Location", "Idempotent-Replayed"} & set(created.headers)
    assert (removed.status_code, removed.body) == (204, b"")  # nothing to answer either way
    assert removed.headers["Orderly-Mode"] == "dry_run"


def test_a_read_with_the_current_etag_in_if_none_match_answers_304_with_no_body() -> None:
    read = Context(CUSTOMER, "req-3")

    fresh = answer(Success(THING), read, dict, version=_version, if_none_match='W/"3"')
    stale = answer(Success(THING), read, dict, version=_version, if_none_match='"2"')

    assert (fresh.status_code, fresh.body, fresh.headers["ETag"]) == (304, b"", '"3"')
    assert (stale.status_code, stale.headers["ETag"]) == (200, '"3"')
    assert none_match("*", strong_etag(9))
    assert not none_match(None, strong_etag(9))


def test_a_failure_is_its_problem_marked_in_a_dry_run() -> None:
    missing = Failure(ProductNotFound("T-1"))

    applied = answer(missing, WRITE, dict)
    dry = answer(missing, DRY_RUN, dict)

    assert (applied.status_code, orjson.loads(applied.body)["code"]) == (404, "product_not_found")
    assert applied.headers["content-type"] == "application/problem+json"
    assert "Orderly-Mode" not in applied.headers
    assert (dry.status_code, dry.headers["Orderly-Mode"]) == (404, "dry_run")


def test_placing_an_order_over_http_needs_a_key_from_a_known_caller_unless_dry_run() -> None:
    keyless = Context(CUSTOMER, "req-4")

    refused = idempotency_key_missing(keyless)

    assert refused is not None
    assert (refused.status_code, orjson.loads(refused.body)["header"]) == (400, "Idempotency-Key")
    assert idempotency_key_missing(WRITE) is None
    assert idempotency_key_missing(DRY_RUN) is None
    # who is asking comes first: an anonymous caller is answered 401 by the use case
    assert idempotency_key_missing(Context(Actor.anonymous(), "req-5")) is None
