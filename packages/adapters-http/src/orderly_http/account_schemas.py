"""The JSON shapes of accounts and sign-in.

Request bodies forbid unknown members: a client cannot slip in ``role``, ``active``, ``id`` or
timestamps it does not own (mass assignment); the 422 names the member. They take JSON types
strictly (``active`` is ``true`` or ``false``, never ``0`` or ``"yes"``), and a change refuses
``null`` rather than reading it as "keep" (see :class:`~orderly_http.schemas.ChangesBody`).
Responses never carry a password or its hash: a user is served from the core's public view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict
from pydantic.json_schema import SkipJsonSchema

from orderly_core.accounts.model import User, user_view
from orderly_core.shared.context import Role
from orderly_core.shared.paging import Page
from orderly_http import limits
from orderly_http.schemas import ChangesBody, RequestBody

_CHANGES = ConfigDict(json_schema_extra={"minProperties": 1})


class UserResource(BaseModel):
    """An account, as its owner and admins see it."""

    model_config = ConfigDict(title="User")

    id: str = Field(examples=["6f1c2b9e-7d4a-4a53-9a57-0c3b5f0f3e21"])
    email: str = Field(description="Unique, lower-case", examples=["ann@example.com"])
    display_name: str = Field(examples=["Ann"])
    role: Role
    active: bool = Field(description="False once deactivated: the account cannot sign in")
    email_verified: bool = Field(
        description="Whether the owner followed a link mailed to this address (a verification "
        "or a password reset); a changed email is unverified again"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, user: User) -> UserResource:
        return cls.model_construct(**(user_view(user) | {"role": user.role}))


class UserPageResource(BaseModel):
    """One page of users in email order."""

    model_config = ConfigDict(title="UserPage")

    items: list[UserResource]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )

    @classmethod
    def from_domain(cls, page: Page[User]) -> UserPageResource:
        items = [UserResource.from_domain(user) for user in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)


class RegistrationBody(RequestBody):
    email: str = Field(examples=["ann@example.com"], json_schema_extra=limits.EMAIL)
    password: str = Field(
        description="10-256 characters, not the email",
        examples=["a long passphrase"],
        json_schema_extra=limits.PASSWORD,
    )
    display_name: str = Field(examples=["Ann"], json_schema_extra=limits.DISPLAY_NAME)


class ProfileChangesBody(ChangesBody):
    model_config = _CHANGES

    display_name: str | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=limits.DISPLAY_NAME
    )
    email: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=limits.EMAIL)


class PasswordChangeBody(RequestBody):
    current_password: str
    new_password: str = Field(
        description="10-256 characters, not the email", json_schema_extra=limits.PASSWORD
    )


class UserChangesBody(ChangesBody):
    model_config = _CHANGES

    role: Annotated[Role, Strict(strict=False)] | SkipJsonSchema[None] = None  # its JSON value
    active: bool | SkipJsonSchema[None] = Field(
        default=None, description="false deactivates the account and ends its sessions"
    )


class RefreshBody(RequestBody):
    refresh_token: str = Field(description="The refresh token of the latest sign-in or refresh")


class TokenPair(BaseModel):
    """What a sign-in or a refresh hands out. Keep the refresh token secret: it is shown once,
    and using it again after a refresh ends the session."""

    model_config = ConfigDict(title="Tokens")

    access_token: str = Field(description="Send as 'Authorization: Bearer <access_token>'")
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds the access token stays valid", examples=[900])
    refresh_token: str = Field(description="Trade at /api/v1/auth/refresh for a new pair")
    refresh_expires_at: datetime


class PasswordResetRequestBody(RequestBody):
    email: str = Field(
        description="The account's email; the answer is the same whether it has one or not",
        examples=["ann@example.com"],
        min_length=1,
        max_length=limits.EMAIL_MAX_INPUT,
    )


class PasswordResetBody(RequestBody):
    token: str = Field(
        description="The `token` of the link mailed to the account",
        json_schema_extra=limits.MAILED_TOKEN,
    )
    password: str = Field(
        description="The new password: 10-256 characters, not the email",
        examples=["a long passphrase"],
        json_schema_extra=limits.PASSWORD,
    )


class EmailVerificationBody(RequestBody):
    token: str = Field(
        description="The `token` of the verification link mailed to the address",
        json_schema_extra=limits.MAILED_TOKEN,
    )


class VerificationSent(BaseModel):
    """Whether a verification link was mailed."""

    model_config = ConfigDict(title="VerificationSent")

    sent: bool = Field(description="False when the email is verified already: nothing sent")
