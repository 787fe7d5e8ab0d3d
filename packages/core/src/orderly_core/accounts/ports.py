"""What accounts need from storage and from a password hashing scheme."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from returns.result import Result

from orderly_core.accounts.errors import EmailTaken
from orderly_core.accounts.model import AccountToken, RefreshToken, TokenPurpose, User
from orderly_core.mail.model import MailPolicy
from orderly_core.mail.ports import MailUnit
from orderly_core.platform.ports import Services
from orderly_core.shared.context import Role


class UserRepository(Protocol):
    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def add(self, user: User) -> Result[None, EmailTaken]: ...

    async def save(self, user: User) -> Result[None, EmailTaken]:
        """Write every mutable field of a user whose row the caller has locked."""
        ...

    async def list(
        self,
        *,
        after: str | None,
        limit: int,
        role: Role | None,
        active: bool | None,
        email_prefix: str | None,
    ) -> list[User]:
        """Up to ``limit`` users ordered by email, starting after the email ``after``."""
        ...

    async def lock_active_admins(self) -> tuple[uuid.UUID, ...]:
        """The active admins, their rows locked: two admins cannot demote each other at once."""
        ...


class RefreshTokenStore(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None: ...

    async def mark_rotated(self, token_hash: str, at: datetime) -> None: ...

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> None: ...

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> None: ...


class AccountTokenStore(Protocol):
    async def add(self, token: AccountToken) -> None: ...

    async def get(self, token_hash: str, *, for_update: bool = False) -> AccountToken | None: ...

    async def mark_used(self, token_hash: str, at: datetime) -> None: ...

    async def void(self, user_id: uuid.UUID, purpose: TokenPurpose, at: datetime) -> None:
        """Use up every unused token of the user for ``purpose``: a newer link replaces
        them, a reset password or a verified address ends them."""
        ...


class PasswordHasher(Protocol):
    """A slow, salted password hash (Argon2id in production). Async: hashing takes CPU time
    that must not stall other requests."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""
        ...

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for unknown emails (no timing oracle)."""
        ...


class AccountsUnit(MailUnit, Protocol):
    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenStore: ...

    @property
    def account_tokens(self) -> AccountTokenStore: ...


class AccountsServices(Services[AccountsUnit], Protocol):
    @property
    def mail(self) -> MailPolicy:
        """How long mailed links last, and whether unverified customers may order."""
        ...

    @property
    def passwords(self) -> PasswordHasher: ...

    @property
    def refresh_token_ttl(self) -> timedelta: ...
