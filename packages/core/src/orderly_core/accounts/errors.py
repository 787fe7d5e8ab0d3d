"""The accounts' domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class EmailTaken:
    email: str
    code: ClassVar[str] = "email_taken"

    @property
    def detail(self) -> str:
        return f"An account with the email '{self.email}' already exists."


@dataclass(frozen=True, slots=True)
class UserNotFound:
    user_id: str  # the id or email asked for
    code: ClassVar[str] = "user_not_found"

    @property
    def detail(self) -> str:
        return f"No user is known as '{self.user_id}'."


@dataclass(frozen=True, slots=True)
class InvalidCredentials:
    """Unknown email or wrong password: deliberately the same answer for both."""

    code: ClassVar[str] = "invalid_credentials"

    @property
    def detail(self) -> str:
        return "The email or the password is wrong."


@dataclass(frozen=True, slots=True)
class AccountDeactivated:
    code: ClassVar[str] = "account_deactivated"

    @property
    def detail(self) -> str:
        return "This account has been deactivated."


@dataclass(frozen=True, slots=True)
class WrongPassword:
    code: ClassVar[str] = "wrong_password"

    @property
    def detail(self) -> str:
        return "The current password is wrong."


@dataclass(frozen=True, slots=True)
class LastAdmin:
    code: ClassVar[str] = "last_admin"

    @property
    def detail(self) -> str:
        return "The last active admin cannot be demoted or deactivated."


@dataclass(frozen=True, slots=True)
class RefreshRejected:
    """Unknown, expired or revoked refresh token."""

    code: ClassVar[str] = "refresh_rejected"

    @property
    def detail(self) -> str:
        return "The refresh token is not valid: sign in again."


@dataclass(frozen=True, slots=True)
class RefreshReused:
    """A refresh token was used again after it had been rotated: someone else may hold it,
    so every token of its family has been revoked."""

    code: ClassVar[str] = "refresh_reused"

    @property
    def detail(self) -> str:
        return "The refresh token was already used; every session it belongs to is revoked."


@dataclass(frozen=True, slots=True)
class NotSignedIn:
    """The operation needs a signed-in, active user."""

    code: ClassVar[str] = "not_signed_in"

    @property
    def detail(self) -> str:
        return "Sign in first."


@dataclass(frozen=True, slots=True)
class TokenRejected:
    """A mailed link's token is unknown, used, expired, or for an address the account no
    longer has: deliberately one answer for all."""

    code: ClassVar[str] = "token_rejected"

    @property
    def detail(self) -> str:
        return "The link is not valid (unknown, already used or expired): ask for a new one."
