"""``/api/v1/users``: signing up, one's own account, and user administration (admins).

Each route decodes the request, calls one use case with the request's context, and answers
the resource or the problem for its failure. Who may do what is the core's decision.
"""

from __future__ import annotations

import inspect
from typing import Annotated

from fastapi import APIRouter, Query
from returns.pipeline import is_successful
from returns.result import Result
from starlette.responses import Response

from orderly_core.accounts.model import User, UserQuery
from orderly_core.accounts.use_cases import (
    PasswordChange,
    ProfileChanges,
    Registration,
    UserChanges,
    change_password,
    current_user,
    get_user,
    list_users,
    register,
    update_profile,
    update_user,
)
from orderly_core.shared.context import Context, Role
from orderly_core.shared.errors import DomainError
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http.account_schemas import (
    PasswordChangeBody,
    ProfileChangesBody,
    RegistrationBody,
    UserChangesBody,
    UserPageResource,
    UserResource,
)
from orderly_http.auth import SIGNED_IN
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import domain_problem, problem_responses
from orderly_http.schemas import json_response

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _user_answer(
    result: Result[User, DomainError], ctx: Context, *, status_code: int = 200
) -> Response:
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    user = result.unwrap()
    headers = {"Location": f"{router.prefix}/{user.id}"} if status_code == 201 else None
    return json_response(UserResource.from_domain(user), status_code=status_code, headers=headers)


@router.post(
    "",
    summary="Sign up",
    description=f"{inspect.getdoc(register)}\n\nAnswers 201 with the new account and its "
    "`Location`; sign in at `/api/v1/auth/token` next. Any member other than `email`, "
    "`password` and `display_name` is refused (422).",
    status_code=201,
    response_model=UserResource,
    responses=problem_responses(409, 422),
)
async def register_route(
    body: RegistrationBody, resources: Resources, ctx: RequestContext
) -> Response:
    registration = Registration(body.email, body.password, body.display_name)
    result = await register(resources.dependencies, ctx, registration)
    return _user_answer(result, ctx, status_code=201)


@router.get(
    "/me",
    summary="Get my account",
    description=inspect.getdoc(current_user),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401),
)
async def get_me(resources: Resources, ctx: RequestContext) -> Response:
    return _user_answer(await current_user(resources.dependencies, ctx), ctx)


@router.patch(
    "/me",
    summary="Change my account",
    description=inspect.getdoc(update_profile),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 409, 422),
)
async def patch_me(body: ProfileChangesBody, resources: Resources, ctx: RequestContext) -> Response:
    changes = ProfileChanges(display_name=body.display_name, email=body.email)
    return _user_answer(await update_profile(resources.dependencies, ctx, changes), ctx)


@router.post(
    "/me/password",
    summary="Change my password",
    description=f"{inspect.getdoc(change_password)}\n\nA wrong `current_password` is 403 "
    "`wrong_password`. Access tokens already issued stay valid until they expire.",
    status_code=204,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 403, 422),
)
async def change_my_password(
    body: PasswordChangeBody, resources: Resources, ctx: RequestContext
) -> Response:
    change = PasswordChange(body.current_password, body.new_password)
    result = await change_password(resources.dependencies, ctx, change)
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    return Response(status_code=204)


@router.get(
    "",
    summary="List users (admins)",
    description=inspect.getdoc(list_users),
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
        str | None, Query(max_length=254, description="Only emails starting with this")
    ] = None,
) -> Response:
    query = UserQuery(
        limit=limit, cursor=cursor, role=role, active=active, email_prefix=email_prefix
    )
    result = await list_users(resources.dependencies, ctx, query)
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    return json_response(UserPageResource.from_domain(result.unwrap()))


@router.get(
    "/{user_id}",
    summary="Get a user",
    description=inspect.getdoc(get_user),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 404, 422),
)
async def get_user_route(user_id: str, resources: Resources, ctx: RequestContext) -> Response:
    return _user_answer(await get_user(resources.dependencies, ctx, user_id), ctx)


@router.patch(
    "/{user_id}",
    summary="Change a user's role or active flag (admins)",
    description=inspect.getdoc(update_user),
    response_model=UserResource,
    dependencies=SIGNED_IN,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def patch_user(
    user_id: str, body: UserChangesBody, resources: Resources, ctx: RequestContext
) -> Response:
    changes = UserChanges(user_id, role=body.role, active=body.active)
    return _user_answer(await update_user(resources.dependencies, ctx, changes), ctx)
