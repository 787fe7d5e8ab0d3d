"""In-memory fakes of the accounts' ports: users, refresh tokens and the password hasher."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import EmailTaken
from orderly_core.accounts.model import RefreshToken, User
from orderly_core.shared.authorization import holds_admin_rights
from orderly_core.shared.context import Role


class InMemoryUsers:
    def __init__(self, rows: dict[uuid.UUID, User]) -> None:
        self._rows = rows

    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:  # noqa: ARG002
        return self._rows.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self._rows.values() if u.email == email), None)

    async def add(self, user: User) -> Result[None, EmailTaken]:
        if await self.get_by_email(user.email):
            return Failure(EmailTaken(user.email))
        self._rows[user.id] = user
        return Success(None)

    async def save(self, user: User) -> Result[None, EmailTaken]:
        if user.id not in self._rows:
            raise LookupError(f"save() of a user never added: {user.id}")
        clash = await self.get_by_email(user.email)
        if clash is not None and clash.id != user.id:
            return Failure(EmailTaken(user.email))
        self._rows[user.id] = user
        return Success(None)

    async def list(
        self,
        *,
        after: str | None,
        limit: int,
        role: Role | None,
        active: bool | None,
        email_prefix: str | None,
    ) -> list[User]:
        found = [
            u
            for u in sorted(self._rows.values(), key=lambda u: u.email)
            if (after is None or u.email > after)
            and (role is None or u.role is role)
            and (active is None or u.active is active)
            and u.email.startswith(email_prefix or "")
        ]
        return found[:limit]

    async def lock_active_admins(self) -> tuple[uuid.UUID, ...]:
        return tuple(u.id for u in self._rows.values() if holds_admin_rights(u.role, u.active))


class InMemoryRefreshTokens:
    def __init__(self, rows: dict[str, RefreshToken]) -> None:
        self._rows = rows

    async def add(self, token: RefreshToken) -> None:
        self._rows[token.token_hash] = token

    async def get(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None:  # noqa: ARG002
        return self._rows.get(token_hash)

    async def mark_rotated(self, token_hash: str, at: datetime) -> None:
        self._rows[token_hash] = replace(self._rows[token_hash], rotated_at=at)

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> None:
        self._revoke(lambda t: t.family_id == family_id, at)

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> None:
        self._revoke(lambda t: t.user_id == user_id, at)

    def _revoke(self, which: Callable[[RefreshToken], bool], at: datetime) -> None:
        for key, token in list(self._rows.items()):
            if which(token) and token.revoked_at is None:
                self._rows[key] = replace(token, revoked_at=at)


class FakePasswords:
    """A transparent stand-in for Argon2: fast, and it tells which parameters made a hash."""

    def __init__(self, parameters: str = "v1") -> None:
        self.parameters = parameters
        self.dummy_checks = 0

    async def hash(self, password: str) -> str:
        return f"fake${self.parameters}${hashlib.sha256(password.encode()).hexdigest()}"

    async def verify(self, password_hash: str, password: str) -> bool:
        return password_hash.split("$", 2)[2] == hashlib.sha256(password.encode()).hexdigest()

    def needs_rehash(self, password_hash: str) -> bool:
        return password_hash.split("$", 2)[1] != self.parameters

    async def verify_dummy(self, password: str) -> None:  # noqa: ARG002
        self.dummy_checks += 1
