"""Who a request is and which request it is: the one place an HTTP request becomes a Context.

Until accounts exist every caller is the anonymous actor; authentication will replace
:func:`request_actor` and nothing else.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import Scope

from orderly_core.context import IDEMPOTENCY_KEY_RULE, Actor, Context, Mode, is_idempotency_key

REQUEST_ID_HEADER = "X-Request-ID"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
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


def request_actor(request: Request) -> Actor:  # noqa: ARG001 - accounts will read the token here
    return Actor.anonymous()


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, held to the same rule as keys from the CLI and jobs."""
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is not None and not is_idempotency_key(key):
        raise RequestValidationError(
            [{"loc": ("header", IDEMPOTENCY_KEY_HEADER), "msg": IDEMPOTENCY_KEY_RULE}]
        )
    return key


async def request_context(request: Request) -> Context:
    """The use-case context of this request; binds the actor into its log lines."""
    context = Context(
        actor=request_actor(request),
        request_id=request_id_of(request.scope),
        idempotency_key=idempotency_key(request),
        mode=Mode.EXECUTE,
    )
    structlog.contextvars.bind_contextvars(actor=context.actor.id)
    return context


RequestContext = Annotated[Context, Depends(request_context)]
