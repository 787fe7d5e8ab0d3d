"""The accounts' repositories: users and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from returns.result import Failure, Result, Success
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.accounts.errors import EmailTaken
from orderly_core.accounts.model import RefreshToken, User
from orderly_core.shared.context import Role
from orderly_db.errors import EMAIL_TAKEN, violates
from orderly_db.statements import Columns, DriverConnection, Statement
from orderly_db.tables import refresh_tokens, users


def _to_user(row: Columns) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        active=row["active"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        tokens_valid_after=row["tokens_valid_after"],
        email_verified_at=row["email_verified_at"],
    )


def _user_row(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "password_hash": user.password_hash,
        "role": user.role.value,
        "active": user.active,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "tokens_valid_after": user.tokens_valid_after,
        "email_verified_at": user.email_verified_at,
    }


def _to_token(row: Row[Any]) -> RefreshToken:
    return RefreshToken(
        token_hash=row.token_hash,
        family_id=row.family_id,
        user_id=row.user_id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )


_BY_ID = select(users).where(users.c.id == bindparam("id"))
_GET = Statement.compiled(_BY_ID)
_GET_FOR_UPDATE = Statement.compiled(_BY_ID.with_for_update())


class SqlUsers:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver
        # The email of each account read or saved in this unit of work: the account check
        # reads the signed-in customer first, and an order placed for them takes its email
        # from here instead of reading the row again.
        self.emails: dict[uuid.UUID, str] = {}

    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
        statement = _GET_FOR_UPDATE if for_update else _GET
        row = await statement.fetch_one(self._driver, {"id": user_id})
        if row is None:
            return None
        self.emails[user_id] = row["email"]
        return _to_user(row)

    async def get_by_email(self, email: str) -> User | None:
        row = (await self._db.execute(select(users).where(users.c.email == email))).one_or_none()
        return _to_user(row._mapping) if row else None

    async def add(self, user: User) -> Result[None, EmailTaken]:
        try:
            await self._db.execute(insert(users).values(_user_row(user)))
        except IntegrityError as error:
            if violates(error, EMAIL_TAKEN):
                return Failure(EmailTaken(user.email))
            raise
        return Success(None)

    async def save(self, user: User) -> Result[None, EmailTaken]:
        values = _user_row(user)
        del values["id"], values["created_at"]
        try:
            result = await self._db.execute(
                update(users).where(users.c.id == user.id).values(values)
            )
        except IntegrityError as error:
            if violates(error, EMAIL_TAKEN):
                return Failure(EmailTaken(user.email))
            raise
        if result.rowcount != 1:
            raise LookupError(f"save() of a user that does not exist: {user.id}")
        self.emails[user.id] = user.email
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
        query = select(users).order_by(users.c.email).limit(limit)
        if after is not None:
            query = query.where(users.c.email > after)
        if role is not None:
            query = query.where(users.c.role == role.value)
        if active is not None:
            query = query.where(users.c.active.is_(active))
        if email_prefix:
            query = query.where(users.c.email.startswith(email_prefix, autoescape=True))
        return [_to_user(row._mapping) for row in (await self._db.execute(query)).all()]

    async def lock_active_admins(self) -> tuple[uuid.UUID, ...]:
        query = (
            select(users.c.id)
            .where(users.c.role == Role.ADMIN.value, users.c.active.is_(True))
            .order_by(users.c.id)
            .with_for_update()
        )
        return tuple(row.id for row in (await self._db.execute(query)).all())


class SqlRefreshTokens:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, token: RefreshToken) -> None:
        await self._db.execute(
            insert(refresh_tokens).values(
                token_hash=token.token_hash,
                family_id=token.family_id,
                user_id=token.user_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                rotated_at=token.rotated_at,
                revoked_at=token.revoked_at,
            )
        )

    async def get(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None:
        query = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return _to_token(row) if row else None

    async def mark_rotated(self, token_hash: str, at: datetime) -> None:
        await self._db.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash)
            .values(rotated_at=at)
        )

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> None:
        await self._db.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> None:
        await self._db.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
