"""Sign-in brute-force protection: failed attempts counted in Redis, in fixed windows.

Failures are counted per account (the normalised email, stored only as a SHA-256 digest) and
per client address (the ASGI client host: behind a proxy, run uvicorn with
``--proxy-headers`` so that it is the forwarded address). A window starts with the first
failure and lasts ``LOGIN_WINDOW_S``; at the limit every attempt is refused with 429 and
``Retry-After`` *before* the password is checked, so a guesser learns nothing more. A
successful sign-in clears the account's count (not the address's: one good password must not
unlock guessing at other accounts from the same address).

If Redis cannot be reached the attempt is allowed and a warning is logged (fail open): the
limiter is a speed bump in front of Argon2id, which already makes each guess costly, and an
outage of the queue's server must not lock every user out of the shop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from orderly_core.accounts.model import normalise_email

KEY_PREFIX = "orderly:login-failures:"

log = structlog.get_logger(__name__)

# INCR keeps a key's expiry; a key without one (its first failure) gets the window. One
# script, so a crash can never leave a counter without an expiry (a permanent lock-out).
_COUNT_FAILURE = """
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    email: str
    address: str

    @property
    def account_key(self) -> str:
        email = normalise_email(self.email) or self.email.strip().lower()
        return KEY_PREFIX + "account:" + hashlib.sha256(email.encode()).hexdigest()

    @property
    def address_key(self) -> str:
        return KEY_PREFIX + "address:" + self.address


class LoginLimiter:
    def __init__(self, redis: Redis, *, per_account: int, per_address: int, window_s: int) -> None:
        self._redis = redis
        self._limits = {"account": per_account, "address": per_address}
        self._window_s = window_s
        self._count_failure = redis.register_script(_COUNT_FAILURE)

    async def retry_after(self, attempt: LoginAttempt) -> int | None:
        """Seconds until this attempt may be made, or ``None`` if it may be made now."""
        keys = {"account": attempt.account_key, "address": attempt.address_key}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys.values():
                    pipe.get(key)
                    pipe.ttl(key)
                found = await pipe.execute()
        except RedisError as error:
            log.warning("login_limiter_unavailable", error=type(error).__name__)
            return None
        waits = [
            max(int(ttl), 1)
            for (scope, _key), count, ttl in zip(keys.items(), found[::2], found[1::2], strict=True)
            if count is not None and int(count) >= self._limits[scope]
        ]
        return max(waits) if waits else None

    async def failed(self, attempt: LoginAttempt) -> None:
        try:
            await self._count_failure(
                keys=[attempt.account_key, attempt.address_key], args=[self._window_s]
            )
        except RedisError as error:
            log.warning("login_limiter_unavailable", error=type(error).__name__)

    async def succeeded(self, attempt: LoginAttempt) -> None:
        try:
            await self._redis.delete(attempt.account_key)
        except RedisError as error:
            log.warning("login_limiter_unavailable", error=type(error).__name__)
