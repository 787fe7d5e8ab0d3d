"""How a route answers: the one place where a use case's outcome becomes an HTTP response.

A route decodes the request, calls one use case with the request's context, and returns
``answer(result, ctx, render, ...)``. A failure becomes its problem document (see
:func:`orderly_http.problems.domain_problem`); a success becomes the rendered resource with
the headers HTTP gives it:

- ``ETag`` carries the resource's version (a strong tag, ``"3"``); a change names the version
  it was made against in ``If-Match`` (:func:`expected_version`), and a read sent with the
  current tag in ``If-None-Match`` answers ``304 Not Modified``.
- ``Location`` names what a write created or queued.
- ``Idempotent-Replayed: true`` marks the stored answer of an earlier request with the same
  ``Idempotency-Key``.
- A dry run stored nothing: its answer is marked ``Orderly-Mode: dry_run``, carries neither
  ``ETag`` nor ``Location`` nor the replay mark, and is ``200`` where the write would have
  answered ``201`` or ``202``.

The HTTP API's own policies on requests sit here too, each named once:
:func:`idempotency_key_missing` (placing an order needs an ``Idempotency-Key``), with the
header's declaration (:data:`IdempotencyKey`) and what the routes that require one say of it
(:data:`REQUIRED_KEY_NOTE`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Protocol

from fastapi import Header
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema
from returns.pipeline import is_successful
from returns.result import Result
from starlette.responses import Response

from orderly_core.platform.idempotency import Replayed, without_replay
from orderly_core.shared.context import ActorKind, Context, Mode
from orderly_http import limits
from orderly_http.context import IDEMPOTENCY_KEY_HEADER, MODE_HEADER
from orderly_http.limits import ETAG_DIGITS_MAX
from orderly_http.problems import (
    REPLAYED_HEADER,
    ProblemResponse,
    domain_problem,
    idempotency_key_required,
)
from orderly_http.schemas import document_response, json_response
from orderly_telemetry.metrics import IDEMPOTENT_REPLAYS

type Body = BaseModel | Mapping[str, Any] | None
"""What a route renders from a use case's value: a resource model (serialised by
pydantic-core), a resource's ``document()`` (rendered by orjson), or no body (``204``)."""

IF_MATCH_RULE = 'must be the resource\'s ETag (such as "3") or *'
_STRONG_ETAG = re.compile(rf'"([0-9]{{1,{ETAG_DIGITS_MAX}}})"')
# A dry run created and queued nothing, so it answers 200 where the write answers 201 or 202.
_DRY_RUN_STATUS = {201: 200, 202: 200}


def described(use_case: object, http_notes: str = "") -> str:
    """A route's OpenAPI description: the use case's rules, then what is particular to HTTP."""
    rules = inspect.getdoc(use_case) or ""
    return f"{rules}\n\n{http_notes}" if http_notes else rules


def strong_etag(version: int) -> str:
    """The ``ETag`` of a resource at ``version``."""
    return f'"{version}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks) or is
    ``*``: the client's copy is current."""
    if if_none_match is None:
        return False
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in offered or etag in offered


def expected_version(if_match: str) -> int | None:
    """The version ``If-Match`` names; ``None`` for ``*`` (any current version).

    One strong tag or ``*`` only: weak tags never match a change (RFC 9110 compares strongly)
    and the core checks one version, so anything else is refused as malformed.
    """
    value = if_match.strip()
    if value == "*":
        return None
    match = _STRONG_ETAG.fullmatch(value)
    if match is None:
        raise RequestValidationError([{"loc": ("header", "If-Match"), "msg": IF_MATCH_RULE}])
    return int(match[1])


class Versioned(Protocol):
    """A resource that changes by versions: its ``ETag`` carries its ``version``."""

    @property
    def version(self) -> int: ...


def version_of(resource: Versioned) -> int:
    """The version a resource's ``ETag`` carries (``answer``'s ``version`` for most)."""
    return resource.version


def optional_version(if_match: str | None) -> int | None:
    """The version an optional ``If-Match`` names; ``None`` without one (any version)."""
    return None if if_match is None else expected_version(if_match)


IdempotencyKey = Annotated[
    str | SkipJsonSchema[None],
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        description="A unique key for this request, reused for every retry of it",
        json_schema_extra=limits.IDEMPOTENCY_KEY,
    ),
]
"""A write's ``Idempotency-Key`` header, declared to document it: the context reads it."""

REQUIRED_KEY_NOTE = (
    "Requires `Idempotency-Key` (400 without it): a retry with the same key and body within "
    "24 hours gets the first answer again with `Idempotent-Replayed: true`; the same key "
    "with another body is 422 `idempotency_key_reused`; a retry while the first request is "
    "still running is 409 `request_in_flight`. A dry run (`?mode=dry_run`, no key needed) "
    "answers 200 and changes nothing."
)
"""What a route that requires an ``Idempotency-Key`` says of it in its description."""


def idempotency_key_missing(ctx: Context) -> ProblemResponse | None:
    """The HTTP API's policy: a write that must not happen twice needs an ``Idempotency-Key``.

    Placing an order is such a write. Over HTTP a dropped connection leaves the client not
    knowing whether its order was placed, and only a key makes the retry safe, so the request
    is refused (400 ``idempotency_key_required``) before the use case runs. It is a rule of
    this adapter, not of the core: the core honours a key from any caller, and the CLI's
    operator, who sees every outcome, may pass ``--idempotency-key`` or not. A dry run stores
    nothing and needs no key, and who is asking comes first: an anonymous caller gets the use
    case's 401, not this 400.
    """
    exempt = not ctx.applies_changes or ctx.actor.kind is ActorKind.ANONYMOUS
    if ctx.idempotency_key is None and not exempt:
        return idempotency_key_required(ctx.request_id)
    return None


def dry_run_marked[R: Response](response: R, ctx: Context) -> R:
    """``response`` marked ``Orderly-Mode: dry_run`` when ``ctx`` is a dry run."""
    if ctx.mode is Mode.DRY_RUN:
        response.headers[MODE_HEADER] = Mode.DRY_RUN.value
    return response


def answer[T](
    result: Result[T | Replayed[T], Any],
    ctx: Context,
    render: Callable[[T], Body],
    *,
    status: int = 200,
    version: Callable[[T], int] | None = None,
    location: Callable[[T], str] | None = None,
    headers: Mapping[str, str] | None = None,
    if_none_match: str | None = None,
    conditional: bool = False,
    field_names: Mapping[str, str] | None = None,
) -> Response:
    """The HTTP answer to a use case's outcome (see the module's docstring for the rules).

    ``render`` makes the body from the value; ``status`` is the answer of a write that was
    applied; ``version`` and ``location`` read the ``ETag``'s version and the ``Location``
    from the value; ``headers`` go on every successful answer. A read passes the client's
    ``If-None-Match``. ``conditional``: the request carried ``If-Match`` (a stale version is
    then 412, not 409). ``field_names`` renames the core's fields to the request's own.
    """
    if not is_successful(result):
        failure = domain_problem(
            result.failure(), ctx, conditional=conditional, field_names=field_names
        )
        return dry_run_marked(failure, ctx)
    value, replayed = without_replay(result.unwrap())
    if not ctx.applies_changes:
        dry_run = {MODE_HEADER: Mode.DRY_RUN.value, **(headers or {})}
        return _response(render(value), _DRY_RUN_STATUS.get(status, status), dry_run)
    written: dict[str, str] = {}
    if version is not None:
        written["ETag"] = etag = strong_etag(version(value))
        if none_match(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
    if location is not None:
        written["Location"] = location(value)
    if replayed:
        written[REPLAYED_HEADER] = "true"
        IDEMPOTENT_REPLAYS.inc()
    return _response(render(value), status, written | dict(headers or {}))


def answer_change[T: Versioned](
    result: Result[T | Replayed[T], Any],
    ctx: Context,
    render: Callable[[T], Body],
    *,
    if_match: str | None,
) -> Response:
    """The answer to a change made against the version an optional ``If-Match`` named: the
    resource with its new ``ETag``; a stale version is 412 when ``If-Match`` was sent."""
    conditional = if_match is not None
    return answer(result, ctx, render, version=version_of, conditional=conditional)


def _response(body: Body, status: int, headers: Mapping[str, str]) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers or None)
    if isinstance(body, BaseModel):
        return json_response(body, status_code=status, headers=headers or None)
    return document_response(body, status_code=status, headers=headers or None)
