"""The unit of work that holds every context's repositories, and the dependencies a process
assembles once.

Each context declares the unit of work it needs beside its model (``CatalogueUnit``,
``OrdersUnit``, ``AccountsUnit``...); :class:`UnitOfWork` is all of them at once, which is what
PostgreSQL's unit of work (``orderly_db``) and the in-memory one (``orderly_core.testing``)
implement, and :class:`Dependencies` satisfies every context's services. This module sits above
the contexts: it may know them all, and no context imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from orderly_core.accounts.ports import AccountsUnit, PasswordHasher
from orderly_core.jobs.ports import JobsUnit
from orderly_core.mail.model import MailPolicy
from orderly_core.payments.ports import PaymentProvider
from orderly_core.payments.unconfigured import UnconfiguredProvider
from orderly_core.platform.ports import Clock, IdGenerator
from orderly_core.returns.ports import ReturnsUnit
from orderly_core.sales.ports import SalesUnit
from orderly_core.shipments.ports import ShipmentsUnit
from orderly_core.webhooks.policy import WebhookPolicy
from orderly_core.webhooks.ports import WebhooksUnit


class UnitOfWork(
    ShipmentsUnit, ReturnsUnit, AccountsUnit, WebhooksUnit, JobsUnit, SalesUnit, Protocol
):
    """One database transaction, opened on entry, with every repository.

    Leaving the block without :meth:`commit` rolls back, whether by return or by exception.
    Repositories hang off the unit of work and never commit on their own.
    """


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything a use case may reach outside itself, assembled once per process."""

    unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    ids: IdGenerator
    passwords: PasswordHasher
    refresh_token_ttl: timedelta = timedelta(days=30)
    order_ttl: timedelta = timedelta(minutes=30)  # how long an unpaid order holds its stock
    max_open_unpaid_orders: int = 3  # unpaid orders one customer may hold at once
    idempotency_ttl: timedelta = timedelta(hours=24)  # how long a key's outcome is kept
    job_record_ttl: timedelta = timedelta(days=30)  # how long a succeeded job's record is kept
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    # Which events send which email, the retry schedule, mailed links' lifetimes (MAIL_*).
    mail: MailPolicy = field(default_factory=MailPolicy)
    # The shop's payment provider: each process sets it from its settings (PAYMENT_PROVIDER).
    payment_provider: PaymentProvider = field(default_factory=UnconfiguredProvider)
    # How long after an order's delivery its units may be returned (RETURN_WINDOW_DAYS).
    return_window: timedelta = timedelta(days=30)
