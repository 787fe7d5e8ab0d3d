"""Who a request is and which request it is: the one place an HTTP request becomes a Context.

The actor comes from the bearer access token, checked by :func:`request_actor` against the
account on every request; without ``Authorization`` the caller is anonymous. Writes also
read the request's :class:`Mode` from ``?mode=dry_run|execute``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Annotated

import structlog
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from returns.pipeline import is_successful
from starlette.types import Scope

from orderly_core.accounts.sessions import current_user
from orderly_core.shared.context import (
    IDEMPOTENCY_KEY_RULE,
    Actor,
    Context,
    Mode,
    is_idempotency_key,
)
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
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return Actor.anonymous()
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send the access token as 'Authorization: Bearer <token>'.")
    claims = resources.tokens.verify(token.strip())
    claimed = Context(Actor.user(claims.user_id, claims.role), request_id_of(request.scope))
    user = await current_user(resources.dependencies, claimed, token_issued_at=claims.issued_at)
    if not is_successful(user):
        raise InvalidToken(
            "The access token is no longer valid: its account is deactivated or gone, or it "
            "was issued before a sign-out, a password change or a deactivation."
        )
    return user.unwrap().actor


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


async def write_context(
    context: RequestContext,
    mode: Annotated[
        Mode,
        Query(
            description="`dry_run`: run every check and answer what would happen, changing "
            "nothing (the answer carries `Orderly-Mode: dry_run`); `execute`: apply the change"
        ),
    ] = Mode.EXECUTE,
) -> Context:
    """The context of a write: the request's, in the mode the client asked for."""
    return replace(context, mode=mode)


WriteContext = Annotated[Context, Depends(write_context)]
