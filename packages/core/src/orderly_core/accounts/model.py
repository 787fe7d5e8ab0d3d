"""Users and their refresh-token sessions, as frozen values."""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderly_core.accounts import emails
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.paging import PageQuery

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
PASSWORD_MIN = 10
PASSWORD_MAX = 256


def normalise_email(raw: str) -> str | None:
    """The one form of an email that accounts store and compare, or ``None`` if it is no
    email address Orderly accepts (see :mod:`orderly_core.accounts.emails`): trimmed, folded
    (NFKC, lower case), without invisible characters or mixed scripts, the domain in ASCII.
    An ASCII address keeps its lower-cased form."""
    text = emails.folded(raw.strip())
    if text is None or text.count("@") != 1:
        return None
    local, _, name = text.partition("@")
    local_part = emails.local_part(local)
    domain = emails.domain(name)
    if local_part is None or domain is None:
        return None
    email = f"{local_part}@{domain}"
    return email if len(email) <= EMAIL_MAX else None


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    password_hash: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime
    # Access tokens issued before this instant are refused: set by a deactivation, a password
    # change and a sign-out. ``None``: every unexpired token of the account is good.
    tokens_valid_after: datetime | None = None
    # When the owner proved they read mail at ``email`` (a verification link, or a password
    # reset link sent there); ``None``: unverified. A change of email unverifies.
    email_verified_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        return Actor.user(str(self.id), self.role)

    def accepts_token_issued(self, issued_at: datetime) -> bool:
        """Whether an access token issued at ``issued_at`` (to the microsecond) still holds:
        one issued before the account's last deactivation, password change or sign-out does
        not."""
        return self.tokens_valid_after is None or issued_at >= self.tokens_valid_after


def user_view(user: User) -> dict[str, Any]:
    """The public representation of a user: never the password hash."""
    return {
        "id": str(user.id),
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role.value,
        "active": user.active,
        "email_verified": user.email_verified_at is not None,
        "created_at": user.created_at.astimezone(UTC),
        "updated_at": user.updated_at.astimezone(UTC),
    }


@dataclass(frozen=True, slots=True)
class UserQuery(PageQuery):
    role: Role | None = None
    active: bool | None = None
    email_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A stored refresh token: only its hash is kept. Tokens issued from one login form a
    family; rotating marks the old token and issues the next one of the same family."""

    token_hash: str
    family_id: uuid.UUID
    user_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are long random strings: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
    EMAIL_VERIFICATION = "email_verification"


@dataclass(frozen=True, slots=True)
class AccountToken:
    """A single-use token mailed to an account's owner: only its hash is kept. A
    verification token names the address it verifies, so that it verifies nothing once the
    email has changed."""

    token_hash: str
    user_id: uuid.UUID
    purpose: TokenPurpose
    email: str  # the address it was mailed to
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def usable(self, purpose: TokenPurpose, now: datetime) -> bool:
        return self.purpose is purpose and self.used_at is None and now < self.expires_at


def hash_account_token(token: str) -> str:
    """Account tokens are long random strings, like refresh tokens: SHA-256 stores them."""
    return hashlib.sha256(b"account-token:" + token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """What a sign-in or a refresh hands out: the user and a new refresh token (shown once)."""

    user: User
    refresh_token: str
    refresh_expires_at: datetime
