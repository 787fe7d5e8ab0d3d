"""Every error the API answers, as an RFC 9457 problem document (``application/problem+json``).

A problem carries ``type``, ``title``, ``status``, ``detail``, a stable machine ``code``, the
``request_id``, and the domain error's own members (``errors``, ``sku``...). Which status a
domain error gets is decided here, in :data:`PROBLEM_KINDS`, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from orderly_core.accounts.errors import (
    AccountDeactivated,
    EmailTaken,
    InvalidCredentials,
    LastAdmin,
    NotSignedIn,
    RefreshRejected,
    RefreshReused,
    TokenRejected,
    UserNotFound,
    WrongPassword,
)
from orderly_core.catalogue.errors import (
    DuplicateSku,
    ImportRejected,
    ProductNotFound,
    StockBelowReserved,
)
from orderly_core.jobs.model import JobNotFound, JobNotRetryable
from orderly_core.mail.errors import MailNotFound, MailNotResendable
from orderly_core.orders.errors import (
    CustomerNotFound,
    EmailNotVerified,
    IllegalTransition,
    MaxPerOrderExceeded,
    MixedCurrencies,
    OrderNotChangeable,
    OrderNotFound,
    OutOfStock,
    ProductsUnavailable,
    ShippingMethodUnavailable,
    TooManyOpenOrders,
)
from orderly_core.payments.errors import (
    ManualPaymentRefused,
    OrderNotPayable,
    PaymentExceedsDue,
    ProviderNotInUse,
    RefundExceedsRefundable,
)
from orderly_core.payments.ports import NotificationRefused, ProviderRefused, ProviderUnavailable
from orderly_core.platform.idempotency import KeyReused, Replayed, RequestInFlight
from orderly_core.returns.errors import (
    IllegalReturnTransition,
    NothingDelivered,
    ReceiptExceedsReturn,
    ReturnExceedsDelivered,
    ReturnNotFound,
    ReturnWindowClosed,
)
from orderly_core.shared.context import ActorKind, Context
from orderly_core.shared.errors import (
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    VersionConflict,
    error_members,
)
from orderly_core.shipments.errors import (
    ExceedsRemaining,
    OrderNotFulfillable,
    ShipmentAlreadyDelivered,
    ShipmentNotFound,
)
from orderly_core.shipping.errors import DuplicateShippingRate, ShippingRateNotFound
from orderly_core.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    EndpointNotFound,
)
from orderly_db.faults import is_transient
from orderly_http.auth import InvalidToken
from orderly_http.context import REQUEST_ID_HEADER, request_id_of
from orderly_telemetry.metrics import IDEMPOTENT_REPLAYS, STOCK_RESERVATIONS_REFUSED

PROBLEM_MEDIA_TYPE = "application/problem+json"
REPLAYED_HEADER = "Idempotent-Replayed"  # on the stored answer to a retried request
PROVIDER_RETRY_AFTER_S = 5  # how soon to retry a request the payment provider could not take
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "request_id"})

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProblemKind:
    status: int
    title: str
    # The status when the request carried If-Match: a stale version is then a failed
    # precondition (412), not a conflict discovered by the server (409).
    conditional_status: int | None = None


# Every 401 names the scheme to authenticate with (RFC 9110 section 11.6.1).
BEARER_CHALLENGE = "Bearer"
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'  # noqa: S105 - not a secret

PROBLEM_KINDS: Mapping[type[DomainError], ProblemKind] = {
    InvalidInput: ProblemKind(422, "Invalid input"),
    Forbidden: ProblemKind(403, "Forbidden"),
    ProductNotFound: ProblemKind(404, "Product not found"),
    DuplicateSku: ProblemKind(409, "Duplicate SKU"),
    VersionConflict: ProblemKind(409, "Version conflict", conditional_status=412),
    StockBelowReserved: ProblemKind(409, "Stock below reserved"),
    ImportRejected: ProblemKind(422, "Import rejected"),
    EmailTaken: ProblemKind(409, "Email taken"),
    UserNotFound: ProblemKind(404, "User not found"),
    InvalidCredentials: ProblemKind(401, "Invalid credentials"),
    AccountDeactivated: ProblemKind(401, "Account deactivated"),
    NotSignedIn: ProblemKind(401, "Not signed in"),
    # The caller is signed in but failed to prove the current password again: refused (403),
    # not a malformed request (422), and not a bad token (401, which clients answer by
    # signing in again).
    WrongPassword: ProblemKind(403, "Wrong password"),
    LastAdmin: ProblemKind(409, "Last admin"),
    RefreshRejected: ProblemKind(401, "Refresh token rejected"),
    RefreshReused: ProblemKind(401, "Refresh token reused"),
    # A mailed link's token that is unknown, used or expired: the link it names is not
    # found (no sign-in would help, so not 401).
    TokenRejected: ProblemKind(404, "Link not valid"),
    EmailNotVerified: ProblemKind(403, "Email not verified"),
    MailNotFound: ProblemKind(404, "Mail message not found"),
    MailNotResendable: ProblemKind(409, "Mail message not resendable"),
    JobNotFound: ProblemKind(404, "Job not found"),
    JobNotRetryable: ProblemKind(409, "Job not retryable"),
    OrderNotFound: ProblemKind(404, "Order not found"),
    OutOfStock: ProblemKind(409, "Out of stock"),
    # The holds rules: one customer's unpaid orders, one product's units per order.
    TooManyOpenOrders: ProblemKind(409, "Too many open orders"),
    MaxPerOrderExceeded: ProblemKind(409, "Max per order exceeded"),
    # Invalid input for the field that named the method, told apart by its code.
    ShippingMethodUnavailable: ProblemKind(422, "Shipping method unavailable"),
    OrderNotChangeable: ProblemKind(409, "Order not changeable"),
    ShippingRateNotFound: ProblemKind(404, "Shipping rate not found"),
    DuplicateShippingRate: ProblemKind(409, "Duplicate shipping rate"),
    ProductsUnavailable: ProblemKind(422, "Products unavailable"),
    # Invalid input for the field that named the customer, told apart by its code.
    CustomerNotFound: ProblemKind(422, "Customer not found"),
    MixedCurrencies: ProblemKind(422, "Mixed currencies"),
    IllegalTransition: ProblemKind(409, "Illegal transition"),
    KeyReused: ProblemKind(422, "Idempotency key reused"),
    RequestInFlight: ProblemKind(409, "Request in flight"),
    EndpointNotFound: ProblemKind(404, "Webhook endpoint not found"),
    DeliveryNotFound: ProblemKind(404, "Webhook delivery not found"),
    EndpointDisabled: ProblemKind(409, "Webhook endpoint disabled"),
    OrderNotPayable: ProblemKind(409, "Order not payable"),
    PaymentExceedsDue: ProblemKind(409, "Payment exceeds what is due"),
    ManualPaymentRefused: ProblemKind(409, "Manual payment refused"),
    RefundExceedsRefundable: ProblemKind(409, "Refund exceeds what may be refunded"),
    # The provider, a server Orderly depends on, is unreachable for now: retry shortly.
    ProviderUnavailable: ProblemKind(503, "Payment provider unavailable"),
    # The provider refused for good what Orderly asked of it: an upstream refusal.
    ProviderRefused: ProblemKind(502, "Payment provider refused"),
    NotificationRefused: ProblemKind(400, "Notification refused"),
    ProviderNotInUse: ProblemKind(404, "Payment provider not in use"),
    ReturnNotFound: ProblemKind(404, "Return not found"),
    NothingDelivered: ProblemKind(409, "Nothing delivered"),
    ReturnWindowClosed: ProblemKind(409, "Return window closed"),
    ReturnExceedsDelivered: ProblemKind(409, "Return exceeds what was delivered"),
    ReceiptExceedsReturn: ProblemKind(409, "Receipt exceeds the return"),
    IllegalReturnTransition: ProblemKind(409, "Illegal return transition"),
    ShipmentNotFound: ProblemKind(404, "Shipment not found"),
    # Shipping or cancelling more units than an order has left to ship (two staff racing).
    ExceedsRemaining: ProblemKind(409, "Exceeds what remains to ship"),
    OrderNotFulfillable: ProblemKind(409, "Order not fulfillable"),
    ShipmentAlreadyDelivered: ProblemKind(409, "Shipment already delivered"),
}


class ProblemResponse(Response):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_response(
    request_id: str,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    type_uri: str | None = None,
    members: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """A problem document. Orderly's own problems are typed ``/problems/<code>``.

    Extension members never replace a standard member of the same name.
    """
    body: dict[str, Any] = {
        "type": type_uri or f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    body |= {name: value for name, value in (members or {}).items() if name not in STANDARD_MEMBERS}
    return ProblemResponse(
        body, status_code=status, headers={**(headers or {}), REQUEST_ID_HEADER: request_id}
    )


def domain_problem(
    error: DomainError | Replayed[DomainError],
    ctx: Context | str,
    *,
    conditional: bool = False,
    field_names: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """The problem for a use case's failure, given the request's context (or its id alone).

    The core's ``Forbidden`` is 403 for a known actor, but 401 ``not_signed_in`` (with a
    ``WWW-Authenticate`` challenge) for an anonymous one, who may yet sign in: routes that can
    meet ``Forbidden`` pass their context so that this rule can be applied here, once.
    A replayed failure is answered as it was the first time, body and status, with
    ``Idempotent-Replayed: true``; a request in flight tells when to retry (``Retry-After``).
    ``conditional``: the request carried ``If-Match``. ``field_names`` renames the core's
    field names to the request's own (the core's ``search`` is the ``q`` parameter).
    """
    request_id = ctx if isinstance(ctx, str) else ctx.request_id
    headers: dict[str, str] = {}
    if isinstance(error, Replayed):  # the first answer again, naming the first request
        request_id = error.request_id or request_id
        error = error.original
        headers[REPLAYED_HEADER] = "true"
        IDEMPOTENT_REPLAYS.inc()
    elif isinstance(error, OutOfStock) and not isinstance(ctx, str) and ctx.applies_changes:
        STOCK_RESERVATIONS_REFUSED.inc()
    if isinstance(error, RequestInFlight):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, ProviderUnavailable):
        headers["Retry-After"] = str(PROVIDER_RETRY_AFTER_S)
    anonymous = not isinstance(ctx, str) and ctx.actor.kind is ActorKind.ANONYMOUS
    if isinstance(error, Forbidden) and anonymous:
        error = NotSignedIn()
    kind = PROBLEM_KINDS.get(type(error))
    if kind is None:  # a new error type without a row above is a bug, not a client error
        raise LookupError(f"no problem type for {type(error).__name__}")
    if field_names and isinstance(error, InvalidInput):
        error = InvalidInput(
            tuple(FieldError(field_names.get(e.field, e.field), e.message) for e in error.errors)
        )
    status = kind.conditional_status if conditional and kind.conditional_status else kind.status
    return problem_response(
        request_id,
        status=status,
        code=error.code,
        title=kind.title,
        detail=error.detail,
        members=error_members(error),
        headers=headers | ({"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else {}),
    )


def idempotency_key_required(request_id: str) -> ProblemResponse:
    """An operation that is only safe to retry with a key, called without one."""
    return problem_response(
        request_id,
        status=400,
        code="idempotency_key_required",
        title="Idempotency key required",
        detail="Send an Idempotency-Key header (1-255 printable ASCII characters), unique to "
        "this request and sent again with every retry of it.",
        members={"header": "Idempotency-Key"},
    )


def internal_error(request_id: str) -> ProblemResponse:
    """What a client sees of a bug or an infrastructure fault: nothing but the request id."""
    return problem_response(
        request_id,
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="The request could not be completed. Quote the request id when reporting this.",
    )


def payload_too_large(request_id: str, max_bytes: int) -> ProblemResponse:
    """A request body over the size this endpoint accepts; the body is not read any further."""
    return problem_response(
        request_id,
        status=413,
        code="payload_too_large",
        title="Payload too large",
        detail=f"The request body is larger than the {max_bytes} bytes this endpoint accepts.",
        members={"max_bytes": max_bytes},
        headers={"Connection": "close"},
    )


def precondition_required(request_id: str, header: str = "If-Match") -> ProblemResponse:
    """A change that must name the version it was made against (RFC 6585, status 428)."""
    return problem_response(
        request_id,
        status=428,
        code="precondition_required",
        title="Precondition required",
        detail=f"Send {header} with the ETag of the version you are changing; "
        "read the resource first to get it.",
        members={"header": header},
    )


def invalid_request(error: RequestValidationError) -> InvalidInput:
    """FastAPI's validation errors in the core's shape: one field error per broken rule.

    Fields are named as the client wrote them (``limit``, ``lines.2.quantity``), without the
    part of the request they came from.
    """
    fields = []
    for issue in error.errors():
        location = [str(part) for part in issue.get("loc", ())]
        name = ".".join(location[1:]) or ".".join(location) or "request"
        fields.append(FieldError(name, str(issue.get("msg", "is invalid"))))
    return InvalidInput(tuple(fields))


def _http_problem(request: Request, error: HTTPException) -> ProblemResponse:
    """A generic HTTP error (no route, method not allowed...): ``about:blank`` typed, coded
    by the status's name (``not_found``, ``method_not_allowed``)."""
    try:
        status = HTTPStatus(error.status_code)
        code, title = status.name.lower(), status.phrase
    except ValueError:
        code, title = "http_error", "HTTP error"
    detail = str(error.detail)
    if error.status_code == 404 and detail == title:
        detail = f"Nothing is served at {request.url.path}."
    elif error.status_code == 405 and detail == title:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(
        request_id_of(request.scope),
        status=error.status_code,
        code=code,
        title=title,
        detail=detail,
        type_uri="about:blank",
        headers=error.headers,
    )


async def _on_http_exception(request: Request, error: Exception) -> Response:
    if not isinstance(error, HTTPException):  # registered for HTTPException only
        raise error
    return _http_problem(request, error)


async def _on_validation_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, RequestValidationError):  # registered for it only
        raise error
    return domain_problem(invalid_request(error), request_id_of(request.scope))


UNAVAILABLE_RETRY_AFTER_S = 2


def unexpected(error: BaseException, request_id: str, *, method: str, path: str) -> Response:
    """The answer to an exception no layer handled, logged once here.

    PostgreSQL or Redis unavailable for now (refused or dropped connections, a pool with no
    free connection, a server shutting down): ``503 service_unavailable`` with
    ``Retry-After``, and a warning. Anything else is a bug: ``500 internal_error``, with the
    traceback in the log and nothing of it in the answer.
    """
    if is_transient(error) or isinstance(error, RedisError):
        log.warning("service_unavailable", method=method, path=path, error=repr(error)[:500])
        return problem_response(
            request_id,
            status=503,
            code="service_unavailable",
            title="Service unavailable",
            detail="A server Orderly depends on is unavailable for now; retry shortly.",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
        )
    log.error("unhandled_exception", method=method, path=path, exc_info=error)
    return internal_error(request_id)


async def _on_unhandled(request: Request, error: Exception) -> Response:
    """Starlette's ServerErrorMiddleware calls this for an exception that escaped every
    other layer, inside its ``except`` block."""
    return unexpected(
        error, request_id_of(request.scope), method=request.method, path=request.url.path
    )


async def _on_invalid_token(request: Request, error: Exception) -> Response:
    if not isinstance(error, InvalidToken):  # registered for it only
        raise error
    return problem_response(
        request_id_of(request.scope),
        status=401,
        code=error.code,
        title="Invalid token",
        detail=error.detail,
        headers={"WWW-Authenticate": INVALID_TOKEN_CHALLENGE},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvalidToken, _on_invalid_token)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unhandled)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` declaring problem documents for these statuses (and 500)."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        status: {"description": HTTPStatus(status).phrase, "content": content}
        for status in sorted({*statuses, 500})
    }
