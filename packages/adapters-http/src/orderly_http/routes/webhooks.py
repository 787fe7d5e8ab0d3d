"""``/api/v1/webhooks``: webhook endpoints, their signing secrets and their deliveries.

Who may do what is the core's decision (admins; operators at the CLI); each route decodes
the request, calls one use case with the request's context and mode, and answers the
resource or the problem for its failure. Every write takes ``?mode=dry_run``: the answer is
then what would happen, marked ``Orderly-Mode: dry_run``, without ``ETag`` or ``Location``
since nothing was stored, and with a ``null`` secret since none was made.

The signing secret is in the answers of a registration and of a rotation only. Every write
accepts ``Idempotency-Key``: a retry with the same key and body gets the first answer again,
marked ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.webhooks.deliveries import DeliveryQuery, get_delivery, list_deliveries, redeliver
from orderly_core.webhooks.endpoints import (
    EndpointRemoval,
    RegisteredEndpoint,
    get_endpoint,
    list_endpoints,
    register_endpoint,
    remove_endpoint,
    rotate_secret,
    update_endpoint,
)
from orderly_core.webhooks.model import Delivery
from orderly_core.webhooks.replay import replay_events
from orderly_http import limits
from orderly_http.answers import answer, answer_change, described, optional_version, version_of
from orderly_http.container import Resources
from orderly_http.context import RequestContext, WriteContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import problem_responses
from orderly_http.routing import Router
from orderly_http.webhook_schemas import (
    DeliveryDetailResource,
    DeliveryPageResource,
    DeliveryResource,
    EndpointChangesBody,
    EndpointListResource,
    EndpointResource,
    EndpointWithSecretResource,
    NewEndpointBody,
    ReplayBody,
    ReplayResource,
)

router = Router(prefix="/api/v1/webhooks", tags=["webhooks"])

_KEY_NOTE = (
    "`Idempotency-Key` is optional: a retry with the same key and body within 24 hours gets "
    "the first answer again with `Idempotent-Replayed: true`."
)
_IF_MATCH_NOTE = "With `If-Match`, only that version of the endpoint is changed (412 otherwise)."
_DRY_RUN_NOTE = "A dry run answers 200 with what would be made and stores nothing."

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The endpoint\'s `ETag` (such as `"3"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]

# The signing secret is in these answers: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}


def _registered_version(registered: RegisteredEndpoint) -> int:
    return registered.endpoint.version


def _registered_location(registered: RegisteredEndpoint) -> str:
    return f"{router.prefix}/{registered.endpoint.id}"


def _delivery_location(delivery: Delivery) -> str:
    return f"{router.prefix}/deliveries/{delivery.id}"


# --- deliveries (declared first: /deliveries/... is not an endpoint id) --------------------


@router.get(
    "/deliveries/{delivery_id}",
    operation_id="webhooks.get_delivery",
    summary="Get a delivery with its attempts",
    description=described(get_delivery, "`attempt_log` lists every try, first first."),
    response_model=DeliveryDetailResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_delivery_route(
    *, delivery_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_delivery(resources.dependencies, ctx, delivery_id)
    return answer(result, ctx, DeliveryDetailResource.from_detail)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    operation_id="webhooks.redeliver",
    status_code=202,
    summary="Send a delivery's event again",
    description=described(
        redeliver,
        "Answers 202 with the new delivery and its `Location`; Orderly's worker sends it. "
        f"{_DRY_RUN_NOTE} {_KEY_NOTE}",
    ),
    response_model=DeliveryResource,
    responses={
        200: {"model": DeliveryResource, "description": "Dry run: the delivery it would make"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def redeliver_route(*, delivery_id: str, resources: Resources, ctx: WriteContext) -> Response:
    result = await redeliver(resources.dependencies, ctx, delivery_id)
    return answer(
        result, ctx, DeliveryResource.from_domain, status=202, location=_delivery_location
    )


# --- endpoints -----------------------------------------------------------------------------


@router.post(
    "",
    operation_id="webhooks.register",
    status_code=201,
    summary="Register a webhook endpoint",
    description=described(
        register_endpoint,
        "Answers 201 with the endpoint, its `Location` and `ETag`, and its signing `secret`: "
        f"the only time the secret is shown. {_DRY_RUN_NOTE} {_KEY_NOTE}",
    ),
    response_model=EndpointWithSecretResource,
    responses={
        200: {"model": EndpointWithSecretResource, "description": "Dry run: what would be made"},
        **problem_responses(401, 403, 409, 413, 422),
    },
)
async def register_endpoint_route(
    *, body: NewEndpointBody, resources: Resources, ctx: WriteContext
) -> Response:
    result = await register_endpoint(resources.dependencies, ctx, body.to_domain())
    return answer(
        result,
        ctx,
        EndpointWithSecretResource.from_registered,
        status=201,
        version=_registered_version,
        location=_registered_location,
        headers=_NO_STORE,
    )


@router.get(
    "",
    operation_id="webhooks.list",
    summary="List webhook endpoints",
    description=described(list_endpoints, "Secrets are never listed."),
    response_model=EndpointListResource,
    responses=problem_responses(401, 403, 422),
)
async def list_endpoints_route(*, resources: Resources, ctx: RequestContext) -> Response:
    result = await list_endpoints(resources.dependencies, ctx)
    return answer(result, ctx, EndpointListResource.from_domain)


@router.get(
    "/{endpoint_id}",
    operation_id="webhooks.get",
    summary="Get a webhook endpoint",
    description=described(get_endpoint, "Answers the endpoint with its `ETag`, never its secret."),
    response_model=EndpointResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_endpoint_route(
    *, endpoint_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_endpoint(resources.dependencies, ctx, endpoint_id)
    return answer(result, ctx, EndpointResource.from_domain, version=version_of)


@router.patch(
    "/{endpoint_id}",
    operation_id="webhooks.update",
    summary="Change a webhook endpoint",
    description=described(
        update_endpoint,
        f"Answers the endpoint and its new `ETag`. {_IF_MATCH_NOTE} A dry run answers what "
        f"the endpoint would become. {_KEY_NOTE}",
    ),
    response_model=EndpointResource,
    responses=problem_responses(401, 403, 404, 409, 412, 413, 422),
)
async def update_endpoint_route(
    *,
    endpoint_id: str,
    body: EndpointChangesBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    changes = body.to_domain(endpoint_id, optional_version(if_match))
    result = await update_endpoint(resources.dependencies, ctx, changes)
    return answer_change(result, ctx, EndpointResource.from_domain, if_match=if_match)


@router.delete(
    "/{endpoint_id}",
    operation_id="webhooks.remove",
    status_code=204,
    summary="Remove a webhook endpoint",
    description=described(
        remove_endpoint,
        f"Answers 204. {_IF_MATCH_NOTE} A dry run answers 204 and removes nothing. {_KEY_NOTE}",
    ),
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def remove_endpoint_route(
    *, endpoint_id: str, resources: Resources, ctx: WriteContext, if_match: IfMatch = None
) -> Response:
    removal = EndpointRemoval(endpoint_id, optional_version(if_match))
    result = await remove_endpoint(resources.dependencies, ctx, removal)
    return answer(result, ctx, lambda _: None, status=204, conditional=if_match is not None)


@router.post(
    "/{endpoint_id}/rotate-secret",
    operation_id="webhooks.rotate_secret",
    summary="Rotate a webhook endpoint's signing secret",
    description=described(
        rotate_secret,
        "Answers the endpoint with its new `secret`, the only time it is shown, and its new "
        f"`ETag`; `secret_rotating_until` says until when the previous secret also signs. "
        f"{_KEY_NOTE}",
    ),
    response_model=EndpointWithSecretResource,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def rotate_secret_route(
    *, endpoint_id: str, resources: Resources, ctx: WriteContext
) -> Response:
    result = await rotate_secret(resources.dependencies, ctx, endpoint_id)
    return answer(
        result,
        ctx,
        EndpointWithSecretResource.from_registered,
        version=_registered_version,
        headers=_NO_STORE,
    )


@router.get(
    "/{endpoint_id}/deliveries",
    operation_id="webhooks.list_deliveries",
    summary="List a webhook endpoint's deliveries",
    description=described(list_deliveries, "Follow `next_cursor` until it is null."),
    response_model=DeliveryPageResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def list_deliveries_route(
    *,
    endpoint_id: str,
    resources: Resources,
    ctx: RequestContext,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Response:
    query = DeliveryQuery(limit=limit, cursor=cursor)
    result = await list_deliveries(resources.dependencies, ctx, endpoint_id, query)
    return answer(result, ctx, DeliveryPageResource.from_domain)


@router.post(
    "/{endpoint_id}/replay",
    operation_id="webhooks.replay",
    status_code=202,
    summary="Send a webhook endpoint past events again",
    description=described(
        replay_events,
        "Answers 202 with the number of events sent again and the new deliveries' ids; "
        f"Orderly's worker sends them. {_DRY_RUN_NOTE} {_KEY_NOTE}",
    ),
    response_model=ReplayResource,
    responses={
        200: {"model": ReplayResource, "description": "Dry run: how many would be sent"},
        **problem_responses(401, 403, 404, 409, 413, 422),
    },
)
async def replay_route(
    *, endpoint_id: str, body: ReplayBody, resources: Resources, ctx: WriteContext
) -> Response:
    result = await replay_events(resources.dependencies, ctx, endpoint_id, body.to_domain())
    return answer(result, ctx, ReplayResource.from_domain, status=202)
