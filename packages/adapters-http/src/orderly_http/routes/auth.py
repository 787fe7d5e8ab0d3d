"""``/api/v1/auth``: signing in (OAuth2 password flow), refreshing and signing out.

Sign-in answers a short-lived access token (a JWT) and an opaque refresh token. Token answers
are never cached (``Cache-Control: no-store``, RFC 6749 section 5.1).
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from returns.pipeline import is_successful
from starlette.responses import Response

from orderly_core.accounts.errors import InvalidCredentials
from orderly_core.accounts.mailed_links import (
    PasswordReset,
    request_password_reset,
    reset_password,
    verify_email,
)
from orderly_core.accounts.model import Session
from orderly_core.accounts.sessions import Credentials, log_in, log_out, refresh_session
from orderly_core.shared.context import Actor, Context
from orderly_http.account_schemas import (
    EmailVerificationBody,
    PasswordResetBody,
    PasswordResetRequestBody,
    RefreshBody,
    TokenPair,
)
from orderly_http.addresses import client_address
from orderly_http.answers import answer, described
from orderly_http.container import AppResources, Resources
from orderly_http.context import request_id_of
from orderly_http.problems import ProblemResponse, problem_response, problem_responses
from orderly_http.ratelimit import LoginAttempt, normalised_subject
from orderly_http.routing import Router

router = Router(prefix="/api/v1/auth", tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _credential_context(request: Request) -> Context:
    """These routes authenticate by the credentials in their body. An ``Authorization``
    header is ignored: clients often still send their expired access token when refreshing."""
    return Context(Actor.anonymous(), request_id_of(request.scope))


CredentialContext = Annotated[Context, Depends(_credential_context)]


def _token_pair(resources: AppResources, session: Session) -> TokenPair:
    access = resources.tokens.issue(session.user)
    return TokenPair.model_construct(
        access_token=access.token,
        token_type="bearer",  # noqa: S106 - the OAuth2 token type, not a secret
        expires_in=access.expires_in,
        refresh_token=session.refresh_token,
        refresh_expires_at=session.refresh_expires_at.astimezone(UTC),
    )


def too_many_attempts(request_id: str, retry_after_s: int) -> ProblemResponse:
    return problem_response(
        request_id,
        status=429,
        code="too_many_attempts",
        title="Too many sign-in attempts",
        detail=f"Too many failed sign-ins: try again in {retry_after_s} seconds.",
        members={"retry_after_s": retry_after_s},
        headers={"Retry-After": str(retry_after_s), **NO_STORE},
    )


@router.post(
    "/token",
    operation_id="auth.sign_in",
    summary="Sign in",
    description=described(
        log_in,
        "OAuth2 password flow: form fields `username` (your email) and `password`. Unknown "
        "email and wrong password get the same 401. After too many failures for one account "
        "from one address (`LOGIN_MAX_FAILURES_PER_ACCOUNT`), or from one address at all "
        "(`LOGIN_MAX_FAILURES_PER_ADDRESS`), within `LOGIN_WINDOW_S` seconds, that address's "
        "attempts get 429 with `Retry-After` until the window ends; a successful sign-in "
        "clears its own count. Past `LOGIN_SLOWDOWN_AFTER_FAILURES` failures for an account "
        "from all addresses, its sign-ins are slowed down (up to `LOGIN_MAX_DELAY_S`), never "
        "refused.",
    ),
    response_model=TokenPair,
    responses=problem_responses(401, 422, 429),
)
async def issue_tokens(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    resources: Resources,
    ctx: CredentialContext,
) -> Response:
    address = client_address(request, resources.settings.trusted_proxies)
    attempt = LoginAttempt(email=form.username, address=address)
    limiter = resources.login_limiter
    gate = await limiter.gate(attempt)
    if gate.retry_after_s is not None:
        return too_many_attempts(ctx.request_id, gate.retry_after_s)
    if gate.delay_s:
        await asyncio.sleep(gate.delay_s)
    result = await log_in(resources.dependencies, ctx, Credentials(form.username, form.password))
    if is_successful(result):
        await limiter.succeeded(attempt)
    elif isinstance(result.failure(), InvalidCredentials):
        await limiter.failed(attempt)
    return answer(result, ctx, lambda session: _token_pair(resources, session), headers=NO_STORE)


@router.post(
    "/refresh",
    operation_id="auth.refresh",
    summary="Refresh the tokens",
    description=described(
        refresh_session,
        "Answers a new access token and a new refresh token; the one sent is used up. Sending "
        "a used-up refresh token again answers 401 `refresh_reused` and ends that session.",
    ),
    response_model=TokenPair,
    responses=problem_responses(401, 422),
)
async def refresh_tokens(
    body: RefreshBody, resources: Resources, ctx: CredentialContext
) -> Response:
    result = await refresh_session(resources.dependencies, ctx, body.refresh_token)
    return answer(result, ctx, lambda session: _token_pair(resources, session), headers=NO_STORE)


@router.post(
    "/logout",
    operation_id="auth.sign_out",
    summary="Sign out",
    description=described(
        log_out,
        "Answers 204 whatever the token: an unknown one has nothing left to end. Ends the "
        "session of the refresh token and every access token of the account issued until "
        "now; the account's other sessions get new access tokens with their refresh tokens.",
    ),
    status_code=204,
    responses=problem_responses(422),
)
async def sign_out(body: RefreshBody, resources: Resources, ctx: CredentialContext) -> Response:
    await log_out(resources.dependencies, ctx, body.refresh_token)
    return Response(status_code=204, headers=NO_STORE)


def too_many_resets(request_id: str, retry_after_s: int) -> ProblemResponse:
    return problem_response(
        request_id,
        status=429,
        code="too_many_password_resets",
        title="Too many password resets",
        detail=f"Too many password reset requests: try again in {retry_after_s} seconds.",
        members={"retry_after_s": retry_after_s},
        headers={"Retry-After": str(retry_after_s), **NO_STORE},
    )


@router.post(
    "/password-reset",
    operation_id="auth.request_password_reset",
    summary="Ask for a password reset link",
    description=described(
        request_password_reset,
        "Always answers 202, whether the email names an account or not. If it names an "
        "active one, a link to `PASSWORD_RESET_URL` with `?token=...` appended is mailed to "
        "it; the link works once, for `PASSWORD_RESET_TTL_MINUTES` (30) minutes, and a newer "
        "link replaces it. Each email may ask `PASSWORD_RESET_MAX_PER_EMAIL` times, and each "
        "client address `PASSWORD_RESET_MAX_PER_ADDRESS` times, per `PASSWORD_RESET_WINDOW_S` "
        "seconds; then 429 `too_many_password_resets` with `Retry-After`.",
    ),
    status_code=202,
    response_class=Response,
    responses={
        202: {"description": "Accepted: a link is mailed if the email has an active account"},
        **problem_responses(422, 429),
    },
)
async def ask_for_password_reset(
    body: PasswordResetRequestBody, request: Request, resources: Resources, ctx: CredentialContext
) -> Response:
    address = client_address(request, resources.settings.trusted_proxies)
    for limit, subject in (
        (resources.reset_address_limit, address),
        (resources.reset_email_limit, normalised_subject(body.email)),
    ):
        if (wait := await limit.take(subject)) is not None:
            return too_many_resets(ctx.request_id, wait)
    result = await request_password_reset(resources.dependencies, ctx, body.email)
    return answer(result, ctx, lambda _: None, status=202, headers=NO_STORE)


@router.post(
    "/password-reset/confirm",
    operation_id="auth.reset_password",
    summary="Set a new password with a reset link",
    description=described(
        reset_password,
        "Answers 204. A token that is unknown, used, expired, or was mailed to an address the "
        "account no longer has answers 404 `token_rejected`; a password that breaks the rules "
        "answers 422 and leaves the link usable. Every session of the account ends, and every "
        "access token issued before now answers 401 from then on.",
    ),
    status_code=204,
    responses=problem_responses(404, 422),
)
async def confirm_password_reset(
    body: PasswordResetBody, resources: Resources, ctx: CredentialContext
) -> Response:
    reset = PasswordReset(body.token, body.password)
    result = await reset_password(resources.dependencies, ctx, reset)
    return answer(result, ctx, lambda _: None, status=204, headers=NO_STORE)


@router.post(
    "/verify-email",
    operation_id="auth.verify_email",
    summary="Verify an email address with its link",
    description=described(
        verify_email,
        "Answers 204; needs no sign-in. A token that is unknown, used, expired, or for an "
        "address the account no longer has answers 404 `token_rejected`.",
    ),
    status_code=204,
    responses=problem_responses(404, 422),
)
async def verify_email_route(
    body: EmailVerificationBody, resources: Resources, ctx: CredentialContext
) -> Response:
    result = await verify_email(resources.dependencies, ctx, body.token)
    return answer(result, ctx, lambda _: None, status=204, headers=NO_STORE)
