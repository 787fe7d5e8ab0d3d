"""Signing webhook deliveries the Standard Webhooks way (standardwebhooks.com), and checking
them as a receiver does.

A delivery carries three headers:

- ``webhook-id``: the event's id, the same on every attempt (a receiver's key to drop
  duplicates);
- ``webhook-timestamp``: when this attempt was sent, in integer Unix seconds;
- ``webhook-signature``: ``v1,`` + base64 of HMAC-SHA256 over ``{id}.{timestamp}.{body}``,
  keyed with the base64-decoded part of the endpoint's ``whsec_...`` secret. While a rotated
  secret is still in its overlap, each secret signs and the signatures are separated by
  spaces; a receiver accepts the delivery when any one of them matches its secret.

:func:`verify` is what a receiver runs. It uses only the standard library, so it can be copied
into any Python receiver as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format, not a secret
SECRET_BYTES = 32
TOLERANCE_SECONDS = 300  # how far a timestamp may be from the receiver's clock


class InvalidSignature(Exception):  # noqa: N818 - what a receiver tells its sender
    """The delivery is not signed with the secret, or is too old or too new."""


def new_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of a delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_in_use: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """The ``webhook-signature`` value: one signature per secret, separated by spaces."""
    return " ".join(signature(s, message_id, timestamp, body) for s in secrets_in_use)


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check a delivery as its receiver: raise :class:`InvalidSignature` unless one of its
    signatures is ``secret``'s over exactly this body, and its timestamp is within
    ``tolerance`` seconds of ``now``. Header names are matched without regard to case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split()
    except (KeyError, ValueError) as error:
        raise InvalidSignature(f"missing or malformed header: {error}") from None
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("the timestamp is too far from now")
    expected = signature(secret, message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise InvalidSignature("no signature matches")
