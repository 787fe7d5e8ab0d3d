"""Shipments and returns: what each order line shipped, delivered, returned and cancelled; the
shipments that carry the lines, with tracking; the returns customers ask for and staff
receive; the refund a return gave rise to; and ``partially_shipped`` orders.

Existing orders get their counters from their status: a shipped order shipped every unit, a
delivered one delivered them too, at its last change (``delivered_at``: when its last units
were delivered, from which the return window runs).

The check constraints created with their table by earlier migrations were named twice over
(``ck_orders_ck_orders_status_known``: the table's prefix given by hand, then again by the
naming convention); they take the names the query metadata gives them
(``ck_orders_status_known``), which is what an error names.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = "status in ('placed', 'paid', 'shipped', 'delivered', 'cancelled')"
_NEW_STATUSES = (
    "status in ('placed', 'paid', 'partially_shipped', 'shipped', 'delivered', 'cancelled')"
)
_LINE_CHECKS = {
    "shipped_and_cancelled_within_quantity": (
        "shipped >= 0 and cancelled >= 0 and shipped + cancelled <= quantity"
    ),
    "delivered_within_shipped": "delivered between 0 and shipped",
    "returned_within_delivered": "returned between 0 and delivered",
}


# Check constraints earlier migrations named by hand, without the doubled prefix.
_NAMED_ONCE = (
    "ck_orders_shipping_within_total",
    "ck_products_low_stock_threshold_not_negative",
    "ck_products_max_per_order_range",
)
_RENAME = """
do $$
declare found record;
begin
    for found in
        select conrelid::regclass::text as tab, conname from pg_constraint
        where contype = 'c' and conrelid::regclass::text not like '%.%' and {condition}
    loop
        execute format('alter table %I rename constraint %I to %I', found.tab, found.conname,
                       {new_name});
    end loop;
end $$;
"""


def _name_check_constraints_once() -> None:
    op.execute(
        _RENAME.format(
            condition="conname like 'ck\\_' || conrelid::regclass::text || '\\_ck\\_%'",
            new_name="substr(found.conname, length(found.tab) + 5)",
        )
    )


def _name_check_constraints_twice() -> None:
    named_once = ", ".join(f"'{name}'" for name in _NAMED_ONCE)
    op.execute(
        _RENAME.format(
            condition=(
                "conname like 'ck\\_' || conrelid::regclass::text || '\\_%' "
                f"and conname not in ({named_once})"
            ),
            new_name="'ck_' || found.tab || '_' || found.conname",
        )
    )


def upgrade() -> None:
    _name_check_constraints_once()
    op.drop_constraint(op.f("ck_orders_status_known"), "orders", type_="check")
    op.create_check_constraint(op.f("ck_orders_status_known"), "orders", _NEW_STATUSES)
    for column in ("shipped", "delivered", "returned", "cancelled"):
        op.add_column(
            "order_lines",
            sa.Column(column, sa.Integer(), nullable=False, server_default="0"),
        )
    op.execute(
        "update order_lines set shipped = quantity from orders "
        "where orders.id = order_lines.order_id and orders.status in ('shipped', 'delivered')"
    )
    op.execute(
        "update order_lines set delivered = quantity from orders "
        "where orders.id = order_lines.order_id and orders.status = 'delivered'"
    )
    op.add_column("orders", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("update orders set delivered_at = updated_at where status = 'delivered'")
    for name, condition in _LINE_CHECKS.items():
        op.create_check_constraint(op.f(f"ck_order_lines_{name}"), "order_lines", condition)
    op.create_table(
        "shipments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(128), nullable=False),
        sa.Column("tracking_url", sa.String(2048), nullable=True),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shipments"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_shipments_order_id_orders"),
        sa.CheckConstraint(
            "status in ('shipped', 'delivered')",
            name=op.f("ck_shipments_status_known"),
        ),
    )
    op.create_index("ix_shipments_order_id_created_at", "shipments", ["order_id", "created_at"])
    op.create_table(
        "shipment_lines",
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("shipment_id", "sku", name="pk_shipment_lines"),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name="fk_shipment_lines_shipment_id_shipments"
        ),
        sa.CheckConstraint(
            "quantity between 1 and 1000",
            name=op.f("ck_shipment_lines_quantity_range"),
        ),
    )
    op.create_table(
        "returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("refund_shipping", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("requested_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_returns"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_returns_order_id_orders"),
        sa.CheckConstraint(
            "status in ('requested', 'approved', 'rejected', 'received')",
            name=op.f("ck_returns_status_known"),
        ),
    )
    op.create_index("ix_returns_order_id_created_at", "returns", ["order_id", "created_at"])
    op.create_index("ix_returns_status_created_at", "returns", ["status", "created_at"])
    op.create_index("ix_returns_created_at", "returns", ["created_at"])
    op.create_table(
        "return_lines",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("restocked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("written_off", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("return_id", "sku", name="pk_return_lines"),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name="fk_return_lines_return_id_returns"
        ),
        sa.CheckConstraint(
            "quantity between 1 and 1000",
            name=op.f("ck_return_lines_quantity_range"),
        ),
        sa.CheckConstraint(
            "restocked >= 0 and written_off >= 0 and restocked + written_off <= quantity",
            name=op.f("ck_return_lines_received_within_quantity"),
        ),
    )
    op.add_column("refunds", sa.Column("return_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_refunds_return_id_returns", "refunds", "returns", ["return_id"], ["id"]
    )
    op.create_index("ix_refunds_return_id", "refunds", ["return_id"])


def downgrade() -> None:
    op.drop_index("ix_refunds_return_id", "refunds")
    op.drop_constraint("fk_refunds_return_id_returns", "refunds", type_="foreignkey")
    op.drop_column("refunds", "return_id")
    op.drop_table("return_lines")
    op.drop_table("returns")
    op.drop_table("shipment_lines")
    op.drop_table("shipments")
    for name in _LINE_CHECKS:
        op.drop_constraint(op.f(f"ck_order_lines_{name}"), "order_lines", type_="check")
    for column in ("cancelled", "returned", "delivered", "shipped"):
        op.drop_column("order_lines", column)
    op.drop_column("orders", "delivered_at")
    op.execute("update orders set status = 'paid' where status = 'partially_shipped'")
    op.drop_constraint(op.f("ck_orders_status_known"), "orders", type_="check")
    op.create_check_constraint(op.f("ck_orders_status_known"), "orders", _OLD_STATUSES)
    _name_check_constraints_twice()
