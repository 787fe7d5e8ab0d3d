"""Checkout and payments: an order's contact email, shipping address, method and price; the
shop's shipping rates; a product's most units per order; payments, refunds, and the provider
events already handled.

Existing orders keep no address and no shipping (``shipping`` 0: their total is their
subtotal).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money_columns(table: str) -> list[sa.Column[int] | sa.Column[str] | sa.CheckConstraint]:
    return [
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.CheckConstraint("amount > 0", name=f"ck_{table}_amount_positive"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=f"ck_{table}_currency_format"),
    ]


def upgrade() -> None:
    op.add_column("products", sa.Column("max_per_order", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_products_max_per_order_range"), "products", "max_per_order between 1 and 1000"
    )
    op.add_column("orders", sa.Column("email", sa.String(320), nullable=True))
    op.add_column("orders", sa.Column("shipping_address", postgresql.JSONB(), nullable=True))
    op.add_column("orders", sa.Column("shipping_method", sa.String(32), nullable=True))
    op.add_column(
        "orders", sa.Column("shipping", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.create_check_constraint(
        op.f("ck_orders_shipping_within_total"), "orders", "shipping >= 0 and shipping <= total"
    )
    op.create_table(
        "shipping_rates",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("countries", postgresql.JSONB(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("free_above", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_shipping_rates"),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9][a-z0-9_.-]{0,31}$'", name="ck_shipping_rates_code_format"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_shipping_rates_currency_format"),
        sa.CheckConstraint("price >= 0", name="ck_shipping_rates_price_not_negative"),
        sa.CheckConstraint("free_above >= 0", name="ck_shipping_rates_free_above_not_negative"),
        sa.CheckConstraint("version >= 1", name="ck_shipping_rates_version_positive"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("provider_reference", sa.String(255), nullable=True),
        *_money_columns("payments"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(255), nullable=True),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cancel_due", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_payments_order_id_orders"),
        sa.CheckConstraint(
            "status in ('pending', 'succeeded', 'failed', 'cancelled')",
            name="ck_payments_status_known",
        ),
    )
    op.create_index("ix_payments_order_id_created_at", "payments", ["order_id", "created_at"])
    op.create_index(
        "ix_payments_provider_provider_reference", "payments", ["provider", "provider_reference"]
    )
    op.create_index("ix_payments_cancel_due_retry_at", "payments", ["cancel_due", "retry_at"])
    op.create_index("ix_payments_created_at", "payments", ["created_at"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        *_money_columns("refunds"),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_reference", sa.String(255), nullable=True),
        sa.Column("failure_reason", sa.String(255), nullable=True),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name="fk_refunds_payment_id_payments"
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_refunds_order_id_orders"),
        sa.CheckConstraint(
            "status in ('pending', 'succeeded', 'failed')", name="ck_refunds_status_known"
        ),
    )
    op.create_index("ix_refunds_order_id_created_at", "refunds", ["order_id", "created_at"])
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])
    op.create_index("ix_refunds_status_retry_at", "refunds", ["status", "retry_at"])
    op.create_table(
        "provider_events",
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name="pk_provider_events"),
    )
    op.create_index("ix_provider_events_received_at", "provider_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("provider_events")
    op.drop_table("refunds")
    op.drop_table("payments")
    op.drop_table("shipping_rates")
    op.drop_constraint(op.f("ck_orders_shipping_within_total"), "orders", type_="check")
    for column in ("shipping", "shipping_method", "shipping_address", "email"):
        op.drop_column("orders", column)
    op.drop_constraint(op.f("ck_products_max_per_order_range"), "products", type_="check")
    op.drop_column("products", "max_per_order")
