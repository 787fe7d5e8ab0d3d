"""Sign-in brute-force protection: failed attempts counted in Redis, in fixed windows.

Three counts, each in a window that starts with its first failure and lasts
``LOGIN_WINDOW_S``:

- per account *and* client address (``LOGIN_MAX_FAILURES_PER_ACCOUNT``): at the limit, that
  address's attempts on that account are refused with 429 and ``Retry-After`` *before* the
  password is checked. Only the guesser's own address is refused: the owner, from anywhere
  else, still signs in;
- per client address, across accounts (``LOGIN_MAX_FAILURES_PER_ADDRESS``): at the limit,
  every attempt from the address is refused with 429 before the password is checked;
- per account, from every address (``LOGIN_SLOWDOWN_AFTER_FAILURES``): past it, every
  attempt on the account waits a step-up delay (doubling from half a second up to
  ``LOGIN_MAX_DELAY_S``) before the password is checked, and a correct password still signs
  in. Guessing spread over many addresses is slowed, and nobody can lock the owner out.

Accounts appear in keys only as a SHA-256 digest of the normalised email. A successful
sign-in clears its own (account, address) count, not the address's (one good password must
not unlock guessing at other accounts from the same address) nor the account's (the owner's
sign-in must not lift the slow-down on someone guessing from elsewhere).

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
FIRST_DELAY_S = 0.5  # the step-up delay just past LOGIN_SLOWDOWN_AFTER_FAILURES

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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalised_subject(email: str) -> str:
    """An email as a rate limit counts it: the account's form when it is one, so that
    ``ANN@example.com`` and ``ann@example.com`` share a count."""
    return normalise_email(email) or email.strip().lower()


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    email: str
    address: str

    @property
    def _account(self) -> str:
        return _digest(normalise_email(self.email) or self.email.strip().lower())

    @property
    def account_key(self) -> str:
        return KEY_PREFIX + "account:" + self._account

    @property
    def address_key(self) -> str:
        return KEY_PREFIX + "address:" + self.address

    @property
    def pair_key(self) -> str:
        return KEY_PREFIX + "pair:" + _digest(self._account + " " + self.address)


@dataclass(frozen=True, slots=True)
class LoginGate:
    """What an attempt must wait before its password is checked: refused for
    ``retry_after_s`` seconds, or checked after ``delay_s`` seconds (0: at once)."""

    retry_after_s: int | None = None
    delay_s: float = 0.0


class LoginLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        per_pair: int,
        per_address: int,
        slowdown_after: int,
        max_delay_s: float,
        window_s: int,
    ) -> None:
        self._redis = redis
        self._limits = {"pair": per_pair, "address": per_address}
        self._slowdown_after = slowdown_after
        self._max_delay_s = max_delay_s
        self._window_s = window_s
        self._count_failure = redis.register_script(_COUNT_FAILURE)

    def delay_after(self, account_failures: int) -> float:
        """The step-up delay of an account with this many failures in its window."""
        excess = account_failures - self._slowdown_after
        if excess < 0:
            return 0.0
        return min(self._max_delay_s, FIRST_DELAY_S * float(2 ** min(excess, 16)))

    async def gate(self, attempt: LoginAttempt) -> LoginGate:
        """Whether this attempt is refused, and else how long it waits."""
        limited = {"pair": attempt.pair_key, "address": attempt.address_key}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in limited.values():
                    pipe.get(key)
                    pipe.ttl(key)
                pipe.get(attempt.account_key)
                found = await pipe.execute()
        except RedisError as error:
            log.warning("login_limiter_unavailable", error=type(error).__name__)
            return LoginGate()
        counts, account = found[:-1], found[-1]
        waits = [
            max(int(ttl), 1)
            for scope, count, ttl in zip(limited, counts[::2], counts[1::2], strict=True)
            if count is not None and int(count) >= self._limits[scope]
        ]
        if waits:
            return LoginGate(retry_after_s=max(waits))
        return LoginGate(delay_s=self.delay_after(int(account or 0)))

    async def failed(self, attempt: LoginAttempt) -> None:
        keys = [attempt.pair_key, attempt.address_key, attempt.account_key]
        try:
            await self._count_failure(keys=keys, args=[self._window_s])
        except RedisError as error:
            log.warning("login_limiter_unavailable", error=type(error).__name__)

    async def succeeded(self, attempt: LoginAttempt) -> None:
        try:
            await self._redis.delete(attempt.pair_key)
        except RedisError as error:
            log.warning("login_limiter_unavailable", error=type(error).__name__)


# One attempt taken: the count after it, and the seconds left in its window.
_TAKE = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


class AttemptLimit:
    """Attempts of one kind counted per subject in Redis, in fixed windows starting at the
    first. Each attempt is counted *before* it runs (so that a burst of parallel attempts
    cannot all slip in under the limit); past ``limit`` in a window it is refused until the
    window ends. Fails open, like the sign-in limits."""

    def __init__(self, redis: Redis, *, kind: str, limit: int, window_s: int) -> None:
        self._redis = redis
        self._prefix = f"orderly:{kind}:"
        self._limit = limit
        self._window_s = window_s
        self._take = redis.register_script(_TAKE)

    def key(self, subject: str) -> str:
        return self._prefix + _digest(subject)

    async def take(self, subject: str) -> int | None:
        """Count one attempt of ``subject``: ``None`` if it may go ahead, else the seconds
        until the window ends."""
        try:
            count, ttl = await self._take(keys=[self.key(subject)], args=[self._window_s])
        except RedisError as error:
            log.warning("rate_limiter_unavailable", error=type(error).__name__)
            return None
        return max(int(ttl), 1) if int(count) > self._limit else None

    async def clear(self, subject: str) -> None:
        try:
            await self._redis.delete(self.key(subject))
        except RedisError as error:
            log.warning("rate_limiter_unavailable", error=type(error).__name__)
