"""The stock ledger and the audit trail, both append-only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("on_hand_delta", sa.BigInteger(), nullable=False),
        sa.Column("reserved_delta", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("actor_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stock_movements"),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name="fk_stock_movements_sku_products"),
    )
    op.create_index("ix_stock_movements_sku_at", "stock_movements", ["sku", "at"])
    # Products that existed before the ledger open it with their current levels.
    op.execute(
        "insert into stock_movements (id, sku, at, kind, on_hand_delta, reserved_delta, note,"
        " reference, actor_id, request_id)"
        " select gen_random_uuid(), sku, now(), 'opening', on_hand, reserved,"
        " 'levels when the ledger began', null, 'orderly', 'migration-0003' from products"
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(255), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("changes", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index(
        "ix_audit_entries_target_type_target_id_at",
        "audit_entries",
        ["target_type", "target_id", "at"],
    )
    op.create_index("ix_audit_entries_actor_id_at", "audit_entries", ["actor_id", "at"])


def downgrade() -> None:
    op.drop_table("audit_entries")
    op.drop_table("stock_movements")
