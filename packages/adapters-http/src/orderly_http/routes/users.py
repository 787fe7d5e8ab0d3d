"""``/api/v1/users``: signing up, one's own account, and user administration (admins).

Each route decodes the request, calls one use case with the request's context, and answers
the resource or the problem for its failure. Who may do what is the core's decision.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from returns.pipeline import is_successful
from starlette.responses import Response

from orderly_core.accounts.administration import UserChanges, get_user, list_users, update_user
from orderly_core.accounts.mailed_links import resend_verification
from orderly_core.accounts.model import User, UserQuery
from orderly_core.accounts.profile import (
    PasswordChange,
    ProfileChanges,
    change_password,
    update_profile,
)
from orderly_core.accounts.registration import Registration, register
from orderly_core.accounts.sessions import current_user
from orderly_core.shared.context import Context, Role
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.account_schemas import (
    PasswordChangeBody,
    ProfileChangesBody,
    RegistrationBody,
    UserChangesBody,
    UserPageResource,
    UserResource,
    VerificationSent,
)
from orderly_http.addresses import client_address
from orderly_http.answers import answer, described
from orderly_http.auth import SIGNED_IN
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import ProblemResponse, problem_response, problem_responses
from orderly_http.routing import Router

router = Router(prefix="/api/v1/users", tags=["users"])


_TOO_MANY = {
    "sign_ups": ("Too many sign-ups", "Too many sign-ups from this address"),
    "attempts": ("Too many attempts", "Too many attempts to change the password"),
    "verification_links": ("Too many verification links", "Too many verification links"),
}


def too_many(ctx: Context, what: str, retry_after_s: int) -> ProblemResponse:
    """429: the rate limit of ``what`` is reached; retry after ``retry_after_s`` seconds."""
    title, detail = _TOO_MANY[what]
    return problem_response(
        ctx.request_id,
        status=429,
        code=f"too_many_{what}",
        title=title,
        detail=f"{detail}: try again in {retry_after_s} seconds.",
        members={"retry_after_s": retry_after_s},
        headers={"Retry-After": str(retry_after_s)},
    )


def _location(user: User) -> str:
    return f"{router.prefix}/{user.id}"


@router.post(
    "",
    operation_id="users.register",
    summary="Sign up",
    description=described(
        register,
        "Answers 201 with the new account and its `Location`; sign in at `/api/v1/auth/token` "
        "next. Any member other than `email`, `password` and `display_name` is refused (422). "
        "Each address may sign up `SIGNUP_MAX_PER_ADDRESS` times per `SIGNUP_WINDOW_S` "
        "seconds; then 429 `too_many_sign_ups` with `Retry-After`.",
    ),
    status_code=201,
    response_model=UserResource,
    responses=problem_responses(409, 422, 429),
)
async def register_route(
    body: RegistrationBody, request: Request, resources: Resources, ctx: RequestContext
) -> Response:
    address = client_address(request, resources.settings.trusted_proxies)
    if (wait := await resources.signup_limit.take(address)) is not None:
        return too_many(ctx, "sign_ups", wait)
    registration = Registration(body.email, body.password, body.display_name)
    result = await register(resources.dependencies, ctx, registration)
    return answer(result, ctx, UserResource.from_domain, status=201, location=_location)


@router.get(
    "/me",
    operation_id="users.get_me",
    summary="Get my account",
    description=described(current_user),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401),
)
async def get_me(resources: Resources, ctx: RequestContext) -> Response:
    return answer(await current_user(resources.dependencies, ctx), ctx, UserResource.from_domain)


@router.patch(
    "/me",
    operation_id="users.update_me",
    summary="Change my account",
    description=described(update_profile),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 409, 422),
)
async def patch_me(body: ProfileChangesBody, resources: Resources, ctx: RequestContext) -> Response:
    changes = ProfileChanges(display_name=body.display_name, email=body.email)
    result = await update_profile(resources.dependencies, ctx, changes)
    return answer(result, ctx, UserResource.from_domain)


@router.post(
    "/me/password",
    operation_id="users.change_password",
    summary="Change my password",
    description=described(
        change_password,
        "A wrong `current_password` is 403 `wrong_password`. Every session ends, and every "
        "access token issued before the change (this one too) answers 401 `invalid_token` "
        "from then on. After `PASSWORD_CHANGE_MAX_FAILURES` attempts without a "
        "change within `LOGIN_WINDOW_S` seconds, 429 `too_many_attempts` with `Retry-After`; "
        "a successful change clears the count.",
    ),
    status_code=204,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 403, 422, 429),
)
async def change_my_password(
    body: PasswordChangeBody, resources: Resources, ctx: RequestContext
) -> Response:
    limit = resources.password_change_limit
    if (wait := await limit.take(ctx.actor.id)) is not None:
        return too_many(ctx, "attempts", wait)
    change = PasswordChange(body.current_password, body.new_password)
    result = await change_password(resources.dependencies, ctx, change)
    if is_successful(result):
        await limit.clear(ctx.actor.id)
    return answer(result, ctx, lambda _: None, status=204)


@router.post(
    "/me/email-verification",
    operation_id="users.resend_verification",
    summary="Mail me a new verification link",
    description=described(
        resend_verification,
        'Answers 202 with `{"sent": true}` when a link was mailed to the account\'s email '
        '(earlier links stop working), `{"sent": false}` when the email is verified '
        "already. Each account may ask `VERIFICATION_MAX_PER_ACCOUNT` times per "
        "`PASSWORD_RESET_WINDOW_S` seconds; then 429 `too_many_verification_links` with "
        "`Retry-After`.",
    ),
    status_code=202,
    response_model=VerificationSent,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 429),
)
async def resend_my_verification(resources: Resources, ctx: RequestContext) -> Response:
    if (wait := await resources.verification_limit.take(ctx.actor.id)) is not None:
        return too_many(ctx, "verification_links", wait)
    result = await resend_verification(resources.dependencies, ctx)
    return answer(result, ctx, lambda sent: VerificationSent(sent=sent), status=202)


@router.get(
    "",
    operation_id="users.list",
    summary="List users (admins)",
    description=described(list_users),
    response_model=UserPageResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 403, 422),
)
async def list_users_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    role: Annotated[Role | None, Query(description="Only users with this role")] = None,
    active: Annotated[bool | None, Query(description="Only active or deactivated users")] = None,
    email_prefix: Annotated[
        str | None,
        Query(
            max_length=254,
            description="Only emails starting with this",
            json_schema_extra=limits.FILTER,
        ),
    ] = None,
) -> Response:
    query = UserQuery(
        limit=limit, cursor=cursor, role=role, active=active, email_prefix=email_prefix
    )
    result = await list_users(resources.dependencies, ctx, query)
    return answer(result, ctx, UserPageResource.from_domain)


@router.get(
    "/{user_id}",
    operation_id="users.get",
    summary="Get a user",
    description=described(get_user),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 404, 422),
)
async def get_user_route(
    user_id: limits.UserPath, resources: Resources, ctx: RequestContext
) -> Response:
    return answer(
        await get_user(resources.dependencies, ctx, user_id), ctx, UserResource.from_domain
    )


@router.patch(
    "/{user_id}",
    operation_id="users.update",
    summary="Change a user's role or active flag (admins)",
    description=described(update_user),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def patch_user(
    user_id: limits.UserPath, body: UserChangesBody, resources: Resources, ctx: RequestContext
) -> Response:
    changes = UserChanges(user_id, role=body.role, active=body.active)
    result = await update_user(resources.dependencies, ctx, changes)
    return answer(result, ctx, UserResource.from_domain)
