"""The payments' repositories: payments, refunds, and the provider events already handled."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.orders.model import OrderStatus
from orderly_core.payments.model import Payment, PaymentStatus, Refund, RefundStatus
from orderly_core.shared.money import Money
from orderly_db.tables import orders, payments, provider_events, refunds


def _to_payment(row: Row[Any]) -> Payment:
    return Payment(
        id=row.id,
        order_id=row.order_id,
        provider=row.provider,
        provider_reference=row.provider_reference,
        amount=Money(row.amount, row.currency),
        status=PaymentStatus(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        failure_reason=row.failure_reason,
        cancel_due=row.cancel_due,
        attempts=row.attempts,
        retry_at=row.retry_at,
    )


def _to_refund(row: Row[Any]) -> Refund:
    return Refund(
        id=row.id,
        payment_id=row.payment_id,
        order_id=row.order_id,
        amount=Money(row.amount, row.currency),
        reason=row.reason,
        status=RefundStatus(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        provider_reference=row.provider_reference,
        failure_reason=row.failure_reason,
        attempts=row.attempts,
        retry_at=row.retry_at,
        return_id=row.return_id,
    )


def _payment_changes(payment: Payment) -> dict[str, Any]:
    return {
        "provider_reference": payment.provider_reference,
        "status": payment.status.value,
        "failure_reason": payment.failure_reason,
        "updated_at": payment.updated_at,
        "version": payment.version,
        "cancel_due": payment.cancel_due,
        "attempts": payment.attempts,
        "retry_at": payment.retry_at,
    }


def _refund_changes(refund: Refund) -> dict[str, Any]:
    return {
        "status": refund.status.value,
        "provider_reference": refund.provider_reference,
        "failure_reason": refund.failure_reason,
        "updated_at": refund.updated_at,
        "version": refund.version,
        "attempts": refund.attempts,
        "retry_at": refund.retry_at,
    }


class SqlPayments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, payment: Payment) -> None:
        values = _payment_changes(payment) | {
            "id": payment.id,
            "order_id": payment.order_id,
            "provider": payment.provider,
            "amount": payment.amount.amount,
            "currency": payment.amount.currency,
            "created_by": payment.created_by,
            "created_at": payment.created_at,
        }
        await self._db.execute(insert(payments).values(values))

    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        query = select(payments).where(payments.c.id == payment_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else _to_payment(row)

    async def by_reference(
        self, provider: str, reference: str, *, for_update: bool = False
    ) -> Payment | None:
        query = (
            select(payments)
            .where(payments.c.provider == provider, payments.c.provider_reference == reference)
            .order_by(payments.c.created_at, payments.c.id)
            .limit(1)
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else _to_payment(row)

    async def of_order(self, order_id: uuid.UUID, *, for_update: bool = False) -> list[Payment]:
        query = (
            select(payments)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.created_at, payments.c.id)
        )
        if for_update:
            query = query.with_for_update()
        return [_to_payment(row) for row in (await self._db.execute(query)).all()]

    async def save(self, payment: Payment) -> None:
        await self._db.execute(
            update(payments).where(payments.c.id == payment.id).values(_payment_changes(payment))
        )

    async def cancels_due(self, now: datetime, limit: int) -> list[Payment]:
        query = (
            select(payments)
            .join(orders, orders.c.id == payments.c.order_id)
            .where(
                payments.c.status == PaymentStatus.PENDING.value,
                or_(payments.c.cancel_due, orders.c.status == OrderStatus.CANCELLED.value),
                or_(payments.c.retry_at.is_(None), payments.c.retry_at <= now),
            )
            .order_by(payments.c.created_at, payments.c.id)
            .limit(limit)
        )
        return [_to_payment(row) for row in (await self._db.execute(query)).all()]


class SqlRefunds:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, refund: Refund) -> None:
        values = _refund_changes(refund) | {
            "id": refund.id,
            "payment_id": refund.payment_id,
            "order_id": refund.order_id,
            "amount": refund.amount.amount,
            "currency": refund.amount.currency,
            "reason": refund.reason,
            "created_by": refund.created_by,
            "created_at": refund.created_at,
            "return_id": refund.return_id,
        }
        await self._db.execute(insert(refunds).values(values))

    async def get(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None:
        query = select(refunds).where(refunds.c.id == refund_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else _to_refund(row)

    async def of_order(self, order_id: uuid.UUID) -> list[Refund]:
        query = (
            select(refunds)
            .where(refunds.c.order_id == order_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        return [_to_refund(row) for row in (await self._db.execute(query)).all()]

    async def save(self, refund: Refund) -> None:
        await self._db.execute(
            update(refunds).where(refunds.c.id == refund.id).values(_refund_changes(refund))
        )

    async def due(self, now: datetime, limit: int) -> list[Refund]:
        query = (
            select(refunds)
            .where(
                and_(
                    refunds.c.status == RefundStatus.PENDING.value,
                    or_(refunds.c.retry_at.is_(None), refunds.c.retry_at <= now),
                )
            )
            .order_by(refunds.c.created_at, refunds.c.id)
            .limit(limit)
        )
        return [_to_refund(row) for row in (await self._db.execute(query)).all()]


class SqlProviderEvents:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(
        self, provider: str, event_id: str, type_: str, outcome: str, at: datetime
    ) -> bool:
        """A redelivery racing the first delivery waits for it here (the primary key), then
        finds the event recorded once the first commits."""
        statement = (
            pg_insert(provider_events)
            .values(
                provider=provider, event_id=event_id, type=type_, outcome=outcome, received_at=at
            )
            .on_conflict_do_nothing(
                index_elements=[provider_events.c.provider, provider_events.c.event_id]
            )
            .returning(provider_events.c.event_id)
        )
        return (await self._db.execute(statement)).first() is not None
