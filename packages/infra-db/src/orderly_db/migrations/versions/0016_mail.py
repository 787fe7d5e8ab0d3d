"""Mail: the emails Orderly sends and their attempts, single-use tokens mailed to account
owners (password reset, email verification, stored hashed), and when each account's email
was verified.

Accounts that exist before this migration are unverified: nobody proved they read mail at
their address. Unverified customers may still place orders unless the shop says otherwise
(``UNVERIFIED_CUSTOMERS_MAY_ORDER``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "account_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_account_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_account_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "purpose in ('password_reset', 'email_verification')",
            name=op.f("ck_account_tokens_purpose_known"),
        ),
    )
    op.create_index("ix_account_tokens_user_id_purpose", "account_tokens", ["user_id", "purpose"])
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("template", sa.String(32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resend_of", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mail_messages"),
        sa.UniqueConstraint("event_id", "recipient", name="uq_mail_messages_event_id_recipient"),
        sa.CheckConstraint(
            "status in ('pending', 'sent', 'dead')", name=op.f("ck_mail_messages_status_known")
        ),
        sa.CheckConstraint(
            "secret is null or status = 'pending'",
            name=op.f("ck_mail_messages_secret_only_while_pending"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_mail_messages_attempts_not_negative")),
    )
    op.create_index(
        "ix_mail_messages_status_next_attempt_at", "mail_messages", ["status", "next_attempt_at"]
    )
    op.create_index("ix_mail_messages_created_at", "mail_messages", ["created_at"])
    op.create_index("ix_mail_messages_recipient", "mail_messages", ["recipient"])
    op.create_table(
        "mail_attempts",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_id", "number", name="pk_mail_attempts"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["mail_messages.id"],
            name="fk_mail_attempts_message_id_mail_messages",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("mail_attempts")
    op.drop_table("mail_messages")
    op.drop_table("account_tokens")
    op.drop_column("users", "email_verified_at")
