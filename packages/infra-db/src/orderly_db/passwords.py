"""Argon2id password hashing (argon2-cffi), run off the event loop.

Hashing costs tens of milliseconds of CPU by design; it runs in a worker thread so that other
requests keep moving. Parameters come from settings; :meth:`needs_rehash` lets sign-in replace
hashes made with older parameters.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from orderly_db.settings import InfraSettings


class Argon2Passwords:
    def __init__(
        self, *, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 1
    ) -> None:
        self._argon2 = Argon2(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        self._dummy_hash: str | None = None

    @classmethod
    def from_settings(cls, settings: InfraSettings) -> Argon2Passwords:
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_cost_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def verify_dummy(self, password: str) -> None:
        # Verified against when the email is unknown, so both answers take the same time.
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("orderly dummy password")
        await self.verify(self._dummy_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
