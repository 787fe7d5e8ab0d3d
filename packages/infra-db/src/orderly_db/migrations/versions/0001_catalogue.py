"""The catalogue: products and their stock levels.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_products"),
        sa.CheckConstraint("sku ~ '^[A-Z0-9_.-]{1,64}$'", name="ck_products_sku_format"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_products_currency_format"),
        sa.CheckConstraint("unit_price >= 0", name="ck_products_unit_price_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_products_reserved_not_negative"),
        sa.CheckConstraint("on_hand >= reserved", name="ck_products_on_hand_covers_reserved"),
        sa.CheckConstraint("version >= 1", name="ck_products_version_positive"),
    )


def downgrade() -> None:
    op.drop_table("products")
