"""Database errors that are expected outcomes become domain errors here, by constraint name.

Only violations a correct core can still meet belong in this table (a unique key claimed by a
concurrent transaction). A check-constraint violation means the core let bad data through: it
stays an exception, is logged with its traceback and answered as an internal error.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from orderly_core.catalogue.errors import DuplicateSku

DomainErrorFactory = Callable[[str], DuplicateSku]

CONSTRAINT_ERRORS: dict[str, DomainErrorFactory] = {
    "pk_products": DuplicateSku,
}


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the violated constraint, from the asyncpg exception SQLAlchemy wraps."""
    driver_error = getattr(error.orig, "__cause__", None)
    name = getattr(driver_error, "constraint_name", None)
    return name if isinstance(name, str) else None


def domain_error(error: IntegrityError, key: str) -> DuplicateSku | None:
    """The domain error for this violation, or ``None`` if it is not an expected one."""
    factory = CONSTRAINT_ERRORS.get(constraint_name(error) or "")
    return factory(key) if factory else None
