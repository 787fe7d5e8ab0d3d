"""Who a request is and which request it is: the one place an HTTP request becomes a Context.

The actor comes from the bearer access token, checked against the account on every request;
without ``Authorization`` the caller is anonymous. Most routes check the account in a
transaction of its own before the use case (:func:`request_actor`); the busiest ones
(:func:`run_signed_in`) hand the token's claims to the use case,
whose own unit of work checks the account as its first statement. Writes also read the
request's :class:`Mode` from ``?mode=dry_run|execute``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

import structlog
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from returns.pipeline import is_successful
from returns.result import Result
from starlette.types import Scope

from orderly_core.accounts.sessions import current_user
from orderly_core.platform.transaction import AccountChanged, AccountRefused
from orderly_core.shared.context import (
    IDEMPOTENCY_KEY_RULE,
    Actor,
    Claims,
    Context,
    Mode,
    is_idempotency_key,
)
from orderly_core.unit_of_work import Dependencies
from orderly_http.auth import InvalidToken
from orderly_http.container import AppResources, app_resources

REQUEST_ID_HEADER = "X-Request-ID"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MODE_HEADER = "Orderly-Mode"  # on the answers to dry runs
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def accepted_request_id(offered: str | None) -> str:
    """The client's request id when it is well-formed, else a new one.

    Well-formed ids (1-128 characters of ``A-Z a-z 0-9 . _ : -``) let a caller follow one call
    through its own logs and ours; anything else is replaced, so no header can inject text
    into a log line.
    """
    if offered is not None and _WELL_FORMED_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def remember_request_id(scope: Scope, request_id: str) -> None:
    scope.setdefault("state", {})["request_id"] = request_id


def request_id_of(scope: Scope) -> str:
    """The id the request-id middleware gave this request (a fresh one if it never ran)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = state["request_id"] = uuid.uuid4().hex
    return request_id


async def request_actor(request: Request, resources: AppResources) -> Actor:
    """Who is calling: where every route's actor comes from (through :func:`request_context`).

    No ``Authorization`` header: the anonymous actor. Otherwise it must be a valid bearer
    access token of an account that still exists, is active and accepts tokens issued when
    this one was; its role is read from the account (one primary-key read), not from the
    token, so changes apply at once.
    """
    claims = request_claims(request, resources)
    if claims is None:
        return Actor.anonymous()
    claimed = Context(claims.actor, request_id_of(request.scope))
    user = await current_user(resources.dependencies, claimed, token_issued_at=claims.issued_at)
    if not is_successful(user):
        raise InvalidToken(NO_LONGER_VALID)
    return user.unwrap().actor


NO_LONGER_VALID = (
    "The access token is no longer valid: its account is deactivated or gone, or it was "
    "issued before a sign-out, a password change or a deactivation."
)


def request_claims(request: Request, resources: AppResources) -> Claims | None:
    """The claims of the request's bearer token, checked for form, signature and expiry but
    not against the account (:func:`run_signed_in` has the use case do that); ``None``
    without ``Authorization``."""
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send the access token as 'Authorization: Bearer <token>'.")
    verified = resources.tokens.verify(token.strip())
    return Claims(verified.user_id, verified.role, verified.issued_at)


_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, held to the same rule as keys from the CLI and jobs.

    The IETF draft sends the key as a Structured Field string (``"8e03978e..."``, RFC 8941):
    a quoted value is unquoted, so ``"abc"`` and ``abc`` name the same key.
    """
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is not None and (quoted := _SF_STRING.fullmatch(key)):
        key = re.sub(r"\\(.)", r"\1", quoted[1])
    if key is not None and not is_idempotency_key(key):
        raise RequestValidationError(
            [{"loc": ("header", IDEMPOTENCY_KEY_HEADER), "msg": IDEMPOTENCY_KEY_RULE}]
        )
    return key


async def request_context(request: Request) -> Context:
    """The use-case context of this request: the one FastAPI dependency every route's
    context comes from.

    It does all of its work itself rather than through sub-dependencies: FastAPI spends tens
    of microseconds resolving each dependency, and every request needs this one.
    """
    return context_of(request, await request_actor(request, app_resources(request.app)))


def context_of(request: Request, actor: Actor) -> Context:
    """The context of ``request`` made by ``actor``; binds the actor into its log lines."""
    context = Context(
        actor=actor,
        request_id=request_id_of(request.scope),
        idempotency_key=idempotency_key(request),
        mode=Mode.EXECUTE,
    )
    structlog.contextvars.bind_contextvars(actor=context.actor.id)
    return context


RequestContext = Annotated[Context, Depends(request_context)]


def claims_context(request: Request, mode: Mode = Mode.EXECUTE) -> Context:
    """The context of a route that runs its use case with :func:`run_signed_in`: the actor
    is the token's, and the account is checked by the first statement of the use case's own
    unit of work, in the same transaction as the work (one transaction less per request)."""
    claims = request_claims(request, app_resources(request.app))
    actor = Actor.anonymous() if claims is None else claims.actor
    return replace(context_of(request, actor), claims=claims, mode=mode)


_RUNS = 3  # a role that changes between every run is refused after this many


async def run_signed_in[T, E](
    request: Request,
    ctx: Context,
    use_case: Callable[[Dependencies, Context], Awaitable[Result[T, E]]],
) -> tuple[Context, Result[T, E]]:
    """The outcome of ``use_case`` run with the app's dependencies and ``ctx`` from
    :func:`claims_context`, and the context it ran with in the end. (The route takes the
    request rather than :data:`~orderly_http.container.Resources`: one dependency less to
    resolve.)

    The routes that use it call :func:`claims_context` in their body rather than declaring
    the context as a FastAPI dependency: it declares no parameter of its own, so the OpenAPI
    document is the same, and resolving a dependency cost FastAPI about a tenth of a
    catalogue read.

    Its units of work check the account first (see
    :func:`orderly_core.platform.transaction.checked_claims`): a deactivated account, or one
    that refuses the token, is 401 ``invalid_token``, as on every route; an account whose
    role changed runs the use case again with the account's role, as if it had been read
    first. A refusal may come before any unit of work (a rule decided by the actor alone, an
    invalid input): the account is then read as :func:`request_actor` reads it, so that the
    answer is the one the account's current rights give.
    """
    deps = app_resources(request.app).dependencies
    claims = ctx.claims
    if claims is None:
        return ctx, await use_case(deps, ctx)
    for _ in range(_RUNS):
        try:
            result = await use_case(deps, ctx)
        except AccountRefused:
            raise InvalidToken(NO_LONGER_VALID) from None
        except AccountChanged as changed:
            role = changed.actor.role or claims.role
            ctx = replace(ctx, actor=changed.actor, claims=replace(claims, role=role))
            continue
        if is_successful(result):
            return ctx, result
        checked = replace(ctx, claims=None)
        user = await current_user(deps, checked, token_issued_at=claims.issued_at)
        if not is_successful(user):
            raise InvalidToken(NO_LONGER_VALID)
        if (actor := user.unwrap().actor) == ctx.actor:
            return ctx, result
        ctx = replace(checked, actor=actor)
        return ctx, await use_case(deps, ctx)
    raise InvalidToken(NO_LONGER_VALID)


ModeQuery = Annotated[
    Mode,
    Query(
        description="`dry_run`: run every check and answer what would happen, changing "
        "nothing (the answer carries `Orderly-Mode: dry_run`); `execute`: apply the change"
    ),
]


async def write_context(
    context: RequestContext,
    mode: ModeQuery = Mode.EXECUTE,
) -> Context:
    """The context of a write: the request's, in the mode the client asked for."""
    return replace(context, mode=mode)


WriteContext = Annotated[Context, Depends(write_context)]
