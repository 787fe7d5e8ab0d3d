"""Table metadata for queries. The schema itself comes only from the Alembic migrations;
``tests/db`` checks that the two agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

# Constraint names are part of the contract: errors.py maps them to domain errors.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("unit_price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("low_stock_threshold", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("sku ~ '^[A-Z0-9_.-]{1,64}$'", name="sku_format"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
    CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("on_hand >= reserved", name="on_hand_covers_reserved"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("low_stock_threshold >= 0", name="low_stock_threshold_not_negative"),
    Column("max_per_order", Integer, nullable=True),
    CheckConstraint("max_per_order between 1 and 1000", name="max_per_order_range"),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("tokens_valid_after", DateTime(timezone=True), nullable=True),
    Column("email_verified_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("email"),
    CheckConstraint("email = lower(email)", name="email_lower_case"),
    CheckConstraint("role in ('customer', 'staff', 'admin')", name="role_known"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", Uuid, nullable=False),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index(None, "family_id"),
    Index(None, "user_id"),
)

stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("on_hand_delta", BigInteger, nullable=False),
    Column("reserved_delta", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("reference", String(255), nullable=True),
    Column("actor_id", String(255), nullable=False),
    Column("request_id", String(128), nullable=False),
    Index(None, "sku", "at"),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(255), nullable=False),
    Column("actor_role", String(16), nullable=True),
    Column("operation", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(255), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("mode", String(16), nullable=False),
    Column("changes", JSONB, nullable=False),
    Index(None, "at"),
    Index(None, "target_type", "target_id", "at"),
    Index(None, "actor_id", "at"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("cancel_reason", String(255), nullable=True),
    Column("email", String(320), nullable=True),
    Column("shipping_address", JSONB, nullable=True),
    Column("shipping_method", String(32), nullable=True),
    Column("shipping", BigInteger, nullable=False, server_default="0"),
    Column("delivered_at", DateTime(timezone=True), nullable=True),  # its last delivery
    CheckConstraint(
        "status in ('placed', 'paid', 'partially_shipped', 'shipped', 'delivered', 'cancelled')",
        name="status_known",
    ),
    CheckConstraint("total >= 0", name="total_not_negative"),
    CheckConstraint("shipping >= 0 and shipping <= total", name="shipping_within_total"),
    Index(None, "customer_id", "placed_at"),
    Index(None, "placed_at"),
    Index(None, "status", "expires_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # What became of the line's units: shipped + cancelled <= quantity (the rest is still to
    # ship), delivered <= shipped, returned <= delivered.
    Column("shipped", Integer, nullable=False, server_default="0"),
    Column("delivered", Integer, nullable=False, server_default="0"),
    Column("returned", Integer, nullable=False, server_default="0"),
    Column("cancelled", Integer, nullable=False, server_default="0"),
    CheckConstraint("quantity between 1 and 1000", name="quantity_range"),
    CheckConstraint(
        "shipped >= 0 and cancelled >= 0 and shipped + cancelled <= quantity",
        name="shipped_and_cancelled_within_quantity",
    ),
    CheckConstraint("delivered between 0 and shipped", name="delivered_within_shipped"),
    CheckConstraint("returned between 0 and delivered", name="returned_within_delivered"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("actor", String(300), primary_key=True),
    Column("operation", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("document", JSONB, nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index(None, "expires_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("position", BigInteger, Identity(), primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("dispatched_at", DateTime(timezone=True), nullable=True),
    Column("done_at", DateTime(timezone=True), nullable=True),
    # The W3C traceparent of the transaction that published the event, when tracing is on.
    Column("trace_context", Text, nullable=True),
    CheckConstraint("state in ('pending', 'dispatched', 'done')", name="state_known"),
    Index(None, "state", "position"),
    Index(None, "created_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("event_types", JSONB, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("previous_secret", String(128), nullable=True),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("disabled_reason", String(255), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "endpoint_id",
        Uuid,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Uuid, ForeignKey("outbox.id"), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("state in ('pending', 'delivered', 'dead')", name="state_known"),
    Index(None, "endpoint_id", "created_at"),
    # A claim reads each endpoint's soonest due deliveries (migration 0018).
    Index(
        "ix_webhook_deliveries_due",
        "endpoint_id",
        "next_attempt_at",
        postgresql_where=text("state = 'pending'"),
    ),
    Index(None, "event_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("result", JSONB, nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("retry_of", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "status in ('queued', 'running', 'succeeded', 'failed', 'dead')", name="status_known"
    ),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    Index(None, "created_at", "id"),
    Index(None, "status", "created_at"),
    Index(None, "name", "created_at"),
)

sales_summaries = Table(
    "sales_summaries",
    metadata,
    Column("day", Date, primary_key=True),
    Column("orders", Integer, nullable=False),
    Column("revenue", JSONB, nullable=False),
    Column("top_skus", JSONB, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

shipping_rates = Table(
    "shipping_rates",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("countries", JSONB, nullable=False),  # ISO 3166-1 alpha-2 codes; [] serves everywhere
    Column("price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("free_above", BigInteger, nullable=True),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("code ~ '^[a-z0-9][a-z0-9_.-]{0,31}$'", name="code_format"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
    CheckConstraint("price >= 0", name="price_not_negative"),
    CheckConstraint("free_above >= 0", name="free_above_not_negative"),
    CheckConstraint("version >= 1", name="version_positive"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id"), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("provider_reference", String(255), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failure_reason", String(255), nullable=True),
    Column("created_by", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # A pending payment whose order ended: it is still to be cancelled at the provider.
    Column("cancel_due", Boolean, nullable=False, server_default="false"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(
        "status in ('pending', 'succeeded', 'failed', 'cancelled')", name="status_known"
    ),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
    Index(None, "order_id", "created_at"),
    Index(None, "provider", "provider_reference"),
    Index(None, "cancel_due", "retry_at"),
    Index(None, "created_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payments.id"), nullable=False),
    Column("order_id", Uuid, ForeignKey("orders.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("provider_reference", String(255), nullable=True),
    Column("failure_reason", String(255), nullable=True),
    Column("created_by", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", DateTime(timezone=True), nullable=True),
    Column("return_id", Uuid, ForeignKey("returns.id"), nullable=True),
    CheckConstraint("status in ('pending', 'succeeded', 'failed')", name="status_known"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
    Index(None, "order_id", "created_at"),
    Index(None, "payment_id"),
    Index(None, "status", "retry_at"),
    Index(None, "return_id"),
)

# Each inbound provider event, kept in the transaction of its effect: a redelivery finds it.
provider_events = Table(
    "provider_events",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index(None, "received_at"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("carrier", String(64), nullable=False),
    Column("tracking_number", String(128), nullable=False),
    Column("tracking_url", String(2048), nullable=True),
    Column("created_by", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),  # when it was shipped
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("status in ('shipped', 'delivered')", name="status_known"),
    Index(None, "order_id", "created_at"),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column("shipment_id", Uuid, ForeignKey("shipments.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity between 1 and 1000", name="quantity_range"),
)

returns = Table(
    "returns",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", String(1000), nullable=True),  # staff's, when approving or rejecting
    Column("refund_shipping", Boolean, nullable=False, server_default="false"),
    Column("requested_by", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(
        "status in ('requested', 'approved', 'rejected', 'received')", name="status_known"
    ),
    Index(None, "order_id", "created_at"),
    Index(None, "status", "created_at"),
    Index(None, "created_at"),
)

return_lines = Table(
    "return_lines",
    metadata,
    Column("return_id", Uuid, ForeignKey("returns.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("reason", String(255), nullable=False),
    # Recorded when the return is received: how many went back on the shelf, how many not.
    Column("restocked", Integer, nullable=False, server_default="0"),
    Column("written_off", Integer, nullable=False, server_default="0"),
    CheckConstraint("quantity between 1 and 1000", name="quantity_range"),
    CheckConstraint(
        "restocked >= 0 and written_off >= 0 and restocked + written_off <= quantity",
        name="received_within_quantity",
    ),
)

account_tokens = Table(
    "account_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("email", String(254), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("purpose in ('password_reset', 'email_verification')", name="purpose_known"),
    Index(None, "user_id", "purpose"),
)

mail_messages = Table(
    "mail_messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("recipient", String(254), nullable=False),
    Column("template", String(32), nullable=False),
    Column("event_id", Uuid, nullable=True),  # no foreign key: mail outlives purged events
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("data", JSONB, nullable=False),
    Column("secret", String(128), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("provider_message_id", String(255), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("resend_of", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("event_id", "recipient"),
    CheckConstraint("status in ('pending', 'sent', 'dead')", name="status_known"),
    CheckConstraint("secret is null or status = 'pending'", name="secret_only_while_pending"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "created_at"),
    Index(None, "recipient"),
)

mail_attempts = Table(
    "mail_attempts",
    metadata,
    Column(
        "message_id",
        Uuid,
        ForeignKey("mail_messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
)
