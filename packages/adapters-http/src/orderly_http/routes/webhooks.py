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

from typing import Annotated, Any

from fastapi import APIRouter, Header
from returns.pipeline import is_successful
from starlette.responses import Response

from orderly_core.platform.idempotency import Idempotent, without_replay
from orderly_core.shared.context import Context, Mode
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.webhooks.model import Endpoint
from orderly_core.webhooks.use_cases import (
    DeliveryQuery,
    EndpointRemoval,
    RegisteredEndpoint,
    get_delivery,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    redeliver,
    register_endpoint,
    remove_endpoint,
    replay_events,
    rotate_secret,
    update_endpoint,
)
from orderly_http.container import Resources
from orderly_http.context import MODE_HEADER, RequestContext, WriteContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import REPLAYED_HEADER, domain_problem, problem_responses
from orderly_http.routes.product_writes import expected_version
from orderly_http.routes.products import described, strong_etag
from orderly_http.schemas import json_response
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

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

_KEY_NOTE = (
    "`Idempotency-Key` is optional: a retry with the same key and body within 24 hours gets "
    "the first answer again with `Idempotent-Replayed: true`."
)
_IF_MATCH_NOTE = "With `If-Match`, only that version of the endpoint is changed (412 otherwise)."
_DRY_RUN_NOTE = "A dry run answers 200 with what would be made and stores nothing."

IfMatch = Annotated[
    str | None,
    Header(description='The endpoint\'s `ETag` (such as `"3"`): change only that version'),
]


def _headers(ctx: Context, *, replayed: bool = False) -> dict[str, str]:
    if not ctx.applies_changes:
        return {MODE_HEADER: Mode.DRY_RUN.value}
    return {REPLAYED_HEADER: "true"} if replayed else {}


def _problem(ctx: Context, error: Any, *, conditional: bool = False) -> Response:
    response = domain_problem(error, ctx, conditional=conditional)
    response.headers.update(_headers(ctx))
    return response


def _endpoint_response(ctx: Context, endpoint: Endpoint, *, replayed: bool = False) -> Response:
    headers = _headers(ctx, replayed=replayed)
    if ctx.applies_changes:
        headers["ETag"] = strong_etag(endpoint.version)
    return json_response(EndpointResource.from_domain(endpoint), headers=headers)


def _with_secret(
    ctx: Context, result: Idempotent[RegisteredEndpoint, Any], *, created: bool
) -> Response:
    """The endpoint with its new secret (201 with ``Location`` when it was just registered);
    ``Cache-Control: no-store`` keeps the secret out of every cache."""
    if not is_successful(result):
        return _problem(ctx, result.failure())
    registered, replayed = without_replay(result.unwrap())
    headers = _headers(ctx, replayed=replayed) | {"Cache-Control": "no-store"}
    status = 200
    if ctx.applies_changes:
        headers["ETag"] = strong_etag(registered.endpoint.version)
        if created:
            status = 201
            headers["Location"] = f"{router.prefix}/{registered.endpoint.id}"
    resource = EndpointWithSecretResource.from_registered(registered)
    return json_response(resource, status_code=status, headers=headers)


# --- deliveries (declared first: /deliveries/... is not an endpoint id) --------------------


@router.get(
    "/deliveries/{delivery_id}",
    summary="Get a delivery with its attempts",
    description=described(get_delivery, "`attempt_log` lists every try, first first."),
    response_model=DeliveryDetailResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_delivery_route(
    *, delivery_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_delivery(resources.dependencies, ctx, delivery_id)
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    return json_response(DeliveryDetailResource.from_detail(result.unwrap()))


@router.post(
    "/deliveries/{delivery_id}/redeliver",
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
    if not is_successful(result):
        return _problem(ctx, result.failure())
    delivery, replayed = without_replay(result.unwrap())
    headers = _headers(ctx, replayed=replayed)
    if not ctx.applies_changes:
        return json_response(DeliveryResource.from_domain(delivery), headers=headers)
    headers["Location"] = f"{router.prefix}/deliveries/{delivery.id}"
    return json_response(DeliveryResource.from_domain(delivery), status_code=202, headers=headers)


# --- endpoints -----------------------------------------------------------------------------


@router.post(
    "",
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
    return _with_secret(ctx, result, created=True)


@router.get(
    "",
    summary="List webhook endpoints",
    description=described(list_endpoints, "Secrets are never listed."),
    response_model=EndpointListResource,
    responses=problem_responses(401, 403, 422),
)
async def list_endpoints_route(*, resources: Resources, ctx: RequestContext) -> Response:
    result = await list_endpoints(resources.dependencies, ctx)
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    return json_response(EndpointListResource.from_domain(result.unwrap()))


@router.get(
    "/{endpoint_id}",
    summary="Get a webhook endpoint",
    description=described(get_endpoint, "Answers the endpoint with its `ETag`, never its secret."),
    response_model=EndpointResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_endpoint_route(
    *, endpoint_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_endpoint(resources.dependencies, ctx, endpoint_id)
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    return _endpoint_response(ctx, result.unwrap())


@router.patch(
    "/{endpoint_id}",
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
    version = None if if_match is None else expected_version(if_match)
    result = await update_endpoint(
        resources.dependencies, ctx, body.to_domain(endpoint_id, version)
    )
    if not is_successful(result):
        return _problem(ctx, result.failure(), conditional=if_match is not None)
    endpoint, replayed = without_replay(result.unwrap())
    return _endpoint_response(ctx, endpoint, replayed=replayed)


@router.delete(
    "/{endpoint_id}",
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
    version = None if if_match is None else expected_version(if_match)
    result = await remove_endpoint(
        resources.dependencies, ctx, EndpointRemoval(endpoint_id, version)
    )
    if not is_successful(result):
        return _problem(ctx, result.failure(), conditional=if_match is not None)
    _, replayed = without_replay(result.unwrap())
    return Response(status_code=204, headers=_headers(ctx, replayed=replayed))


@router.post(
    "/{endpoint_id}/rotate-secret",
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
    return _with_secret(ctx, result, created=False)


@router.get(
    "/{endpoint_id}/deliveries",
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
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    return json_response(DeliveryPageResource.from_domain(result.unwrap()))


@router.post(
    "/{endpoint_id}/replay",
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
    if not is_successful(result):
        return _problem(ctx, result.failure())
    report, replayed = without_replay(result.unwrap())
    status = 202 if ctx.applies_changes else 200
    headers = _headers(ctx, replayed=replayed)
    return json_response(ReplayResource.from_domain(report), status_code=status, headers=headers)
