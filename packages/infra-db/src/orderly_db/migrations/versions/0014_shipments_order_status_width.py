"""Shipments: an order's status holds ``partially_shipped`` (17 characters), wider than the
16 characters the column held.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "orders", "status", type_=sa.String(32), existing_type=sa.String(16), nullable=False
    )


def downgrade() -> None:
    op.execute("update orders set status = 'paid' where status = 'partially_shipped'")
    op.alter_column(
        "orders", "status", type_=sa.String(16), existing_type=sa.String(32), nullable=False
    )
