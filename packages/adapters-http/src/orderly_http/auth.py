"""Access tokens: short-lived JWTs (HS256) naming the signed-in user.

A token carries ``sub`` (the user id), ``role``, ``iat``, ``exp`` and a unique ``jti``. It is
only a claim: every request still reads the user (see :func:`orderly_http.context.request_actor`),
so a deactivated account or a changed role takes effect at once, whatever its tokens say, and a
token issued before the account's last deactivation, password change or sign-out is refused.

``iat`` is written to the microsecond (a JSON number with a fraction, as RFC 7519 allows for
a NumericDate), the precision of the account's "valid after" time: a token issued in the same
second as a sign-out, before it, is refused, and one issued after it is accepted. ``exp``
stays whole seconds.

Time comes from the core's :class:`~orderly_core.platform.ports.Clock`, not from PyJWT's own
clock, so issuing and expiry follow the same clock as the rest of Orderly (and tests can move it).
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import structlog
from fastapi import Depends
from fastapi.params import Depends as DependsParam
from fastapi.security import OAuth2PasswordBearer

from orderly_core.accounts.model import User
from orderly_core.platform.ports import Clock
from orderly_core.shared.context import Role

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ("sub", "role", "exp", "iat", "jti")

# What a refused token's 401 says.
MALFORMED = "The access token is malformed: it is not an access token issued by this API."
EXPIRED = "The access token has expired: refresh it or sign in again."
OTHER_KEY = (
    "The access token was signed with another key than this API's (a token from before its "
    "signing key changed, or from another deployment): sign in again."
)
EXPIRED_OTHER_KEY = (
    "The access token has expired, and was signed with another key than this API's: sign in again."
)

log = structlog.get_logger(__name__)

# The OpenAPI security scheme: Swagger UI's "Authorize" signs in at TOKEN_URL with the
# password flow and sends the token as "Authorization: Bearer ...". It only documents the
# scheme; the header is read and checked once, by request_actor.
bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Sign in with your email as the username; the API answers a bearer token.",
)
# Route or router ``dependencies=`` of the operations that need a signed-in user.
SIGNED_IN: list[DependsParam] = [Depends(bearer_scheme)]


class InvalidToken(Exception):  # noqa: N818 - named as the problem code it becomes
    """The request's bearer token is malformed, badly signed or expired, or its account is
    gone or deactivated. Answered 401 ``invalid_token``."""

    code = "invalid_token"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    role: Role
    issued_at: datetime  # to the microsecond


_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def numeric_date(at: datetime) -> float:
    """``at`` as a JWT NumericDate to the microsecond (seconds since the epoch)."""
    return ((at - _EPOCH) // _MICROSECOND) / 1_000_000


def from_numeric_date(value: float) -> datetime:
    """The instant of a NumericDate written by :func:`numeric_date`, to the microsecond."""
    return _EPOCH + round(value * 1_000_000) * _MICROSECOND


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int  # seconds


VERIFIED_TOKENS_KEPT = 4096


class AccessTokens:
    """Issues and verifies access tokens with one key and one clock.

    What a token's signature and form say never changes, so it is worked out once per token
    and kept (for the last :data:`VERIFIED_TOKENS_KEPT` tokens that were signed with this
    key): checking an HS256 signature and decoding the token took PyJWT about 100 us, a
    tenth of a catalogue read. Only that is kept: the expiry is checked against the clock on
    every request, and the account on every request too (see :mod:`orderly_http.context`),
    so nothing kept outlives a deactivation, a sign-out or a role change.
    """

    def __init__(self, secret: str, ttl: timedelta, clock: Clock) -> None:
        self._secret = secret
        self._ttl = ttl
        self._clock = clock
        self._decoded = functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)(self._decode)

    @classmethod
    def from_secret(cls, secret: str | None, ttl: timedelta, clock: Clock) -> AccessTokens:
        """Without a configured key (development only: settings refuse that in production)
        a random one is made, so tokens last as long as this process. ``orderly dev`` gives
        its API a key kept under ``.orderly/``, so its tokens outlast restarts."""
        if secret is None:
            log.warning(
                "signing_key_generated",
                reason="JWT_SECRET is not set: access tokens stop working when the API restarts",
            )
            secret = secrets.token_urlsafe(48)
        return cls(secret, ttl, clock)

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def issue(self, user: User) -> IssuedToken:
        issued_at = self._clock.now()
        now = int(issued_at.timestamp())
        claims = {
            "sub": str(user.id),
            "role": user.role.value,
            "iat": numeric_date(issued_at),
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), self.ttl_seconds)

    def verify(self, token: str) -> AccessClaims:
        """The token's claims; :class:`InvalidToken` unless it is well-formed, signed with
        this key by HS256 (never ``none``), and not expired by the clock."""
        expires, claims = self._decoded(token)
        if not isinstance(expires, int) or expires <= self._clock.now().timestamp():
            raise InvalidToken(EXPIRED)
        if claims is None:
            raise InvalidToken(MALFORMED)
        return claims

    def _decode(self, token: str) -> tuple[Any, AccessClaims | None]:
        """What the token says, if this key signed it: its ``exp`` as written, and its
        claims (``None`` when they are malformed). Raises :class:`InvalidToken` for a token
        this key did not sign or that is not a JWT (never kept)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "verify_exp": False,  # checked by verify() against the core's clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise self._signed_by_another_key(token) from None
        except jwt.InvalidTokenError:
            raise InvalidToken(MALFORMED) from None
        expires, issued = claims["exp"], claims["iat"]
        if isinstance(issued, bool) or not isinstance(issued, int | float):
            return expires, None
        try:
            return expires, AccessClaims(
                str(uuid.UUID(str(claims["sub"]))),
                Role(claims["role"]),
                from_numeric_date(issued),
            )
        except (ValueError, OverflowError):
            return expires, None

    def _signed_by_another_key(self, token: str) -> InvalidToken:
        """A well-formed HS256 token whose signature this key does not make: issued with
        another key (a key since replaced, another deployment's) or forged. Its claims are
        not to be believed, but an expiry already past is the likelier story for the client,
        and the cure is the same: sign in again."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return InvalidToken(OTHER_KEY)
        expires = unverified.get("exp")
        past = isinstance(expires, int) and expires <= self._clock.now().timestamp()
        return InvalidToken(EXPIRED_OTHER_KEY if past else OTHER_KEY)
