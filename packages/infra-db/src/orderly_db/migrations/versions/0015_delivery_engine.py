"""Webhook deliveries are claimed from PostgreSQL by the workers: the column that noted when a
delivery's attempt was handed to the job queue goes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("webhook_deliveries", "queued_at")


def downgrade() -> None:
    op.add_column(
        "webhook_deliveries",
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
    )
