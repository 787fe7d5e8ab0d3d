"""Database errors that are expected outcomes become domain errors, by constraint name.

Only violations a correct core can still meet belong here (a unique key claimed by a
concurrent transaction). A check-constraint violation means the core let bad data through: it
stays an exception, is logged with its traceback and answered as an internal error.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

# The constraints whose violation is an expected outcome, and the domain error each becomes.
SKU_TAKEN = "pk_products"  # -> DuplicateSku
EMAIL_TAKEN = "uq_users_email"  # -> EmailTaken
SHIPPING_RATE_TAKEN = "pk_shipping_rates"  # -> DuplicateShippingRate
MAIL_OF_EVENT_EXISTS = "uq_mail_messages_event_id_recipient"  # -> no second message


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the violated constraint, from the asyncpg exception SQLAlchemy wraps
    (directly for the statements of :mod:`orderly_db.statements`, else under SQLAlchemy's
    DBAPI adapter)."""
    for driver_error in (error.orig, getattr(error.orig, "__cause__", None)):
        name = getattr(driver_error, "constraint_name", None)
        if isinstance(name, str):
            return name
    return None


def violates(error: IntegrityError, constraint: str) -> bool:
    return constraint_name(error) == constraint
