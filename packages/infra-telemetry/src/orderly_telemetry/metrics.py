"""Every Prometheus metric Orderly exposes, named once, here (docs/observability.md lists them).

Each is a metric of the process's default registry, with the ``orderly_`` prefix. Labels take
a small, fixed set of values (a route's template, never its path; an event's type; a job's
name), so that no request can add a time series. Under several API processes the values live
in files shared by the processes (:mod:`orderly_telemetry.exposition`): a gauge says there how
its processes' values add up.

The business facts are counted where they become true without touching the core: orders and
events when the transaction that published them commits (:func:`events_committed`, called by
the unit of work), replays and refused reservations where the HTTP API answers them.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from orderly_core.platform.outbox import Event, EventType

# -- HTTP ------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "orderly_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
HTTP_REQUEST_DURATION = Histogram(
    "orderly_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ("route", "method"),
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNMATCHED_ROUTE = "unmatched"  # the route label of a request no route matched (404, 405)

# -- database --------------------------------------------------------------------------------

DB_POOL_IN_USE = Gauge(
    "orderly_db_pool_connections_in_use",
    "Database connections held by units of work.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "orderly_db_pool_waiting",
    "Units of work waiting for a database connection.",
    multiprocess_mode="livesum",
)

# -- business facts --------------------------------------------------------------------------

IDEMPOTENT_REPLAYS = Counter(
    "orderly_idempotent_replays",
    "Requests and jobs answered with the stored outcome of an earlier one with the same key.",
)
ORDERS = Counter(
    "orderly_orders",
    "Orders placed, paid, cancelled and expired (committed changes only).",
    ("event",),
)
STOCK_RESERVATIONS_REFUSED = Counter(
    "orderly_stock_reservations_refused",
    "Placements refused because a line asked for more than the stock available.",
)
OUTBOX_EVENTS = Counter(
    "orderly_outbox_events",
    "Domain events committed to the outbox, by type.",
    ("type",),
)

# -- outbox and webhooks ---------------------------------------------------------------------

OUTBOX_PENDING = Gauge(
    "orderly_outbox_pending_events",
    "Outbox events not yet relayed, as last sampled by a worker.",
    multiprocess_mode="livemax",
)
OUTBOX_OLDEST_PENDING_AGE = Gauge(
    "orderly_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox event not yet relayed (0 when none), as last sampled.",
    multiprocess_mode="livemax",
)
WEBHOOK_DELIVERIES = Counter(
    "orderly_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retry, dead).",
    ("outcome",),
)
WEBHOOK_DELIVERY_LATENCY = Histogram(
    "orderly_webhook_delivery_latency_seconds",
    "Time from the commit of an event to the end of a delivery attempt, by outcome.",
    ("outcome",),
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)

# -- jobs and mail ---------------------------------------------------------------------------

JOB_RUNS = Counter(
    "orderly_job_runs",
    "Runs of background jobs, by job and outcome (succeeded, failed, retry, dead).",
    ("job", "outcome"),
)
JOB_DURATION = Histogram(
    "orderly_job_duration_seconds",
    "Time a job's run took, by job.",
    ("job",),
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0),
)
DEAD_LETTERS = Counter(
    "orderly_dead_letters",
    "Jobs, webhook deliveries and emails Orderly gave up on, by job (webhook_delivery for a "
    "delivery, email for an email) "
    "and reason (invalid_payload, unavailable, internal_error, retries_exhausted).",
    ("job", "reason"),
)
EMAILS_SENT = Counter(
    "orderly_emails_sent",
    "Email attempts recorded, by kind of message (its template) and outcome (sent, retry, dead).",
    ("kind", "outcome"),
)

# The order events that count as orders placed, paid and cancelled; a cancellation whose
# reason is "expired" counts as expired instead.
_ORDER_EVENTS = {
    EventType.ORDER_PLACED: "placed",
    EventType.ORDER_PAID: "paid",
    EventType.ORDER_CANCELLED: "cancelled",
}


def events_committed(events: Iterable[Event]) -> None:
    """Count the events a transaction published, once it has committed."""
    for event in events:
        OUTBOX_EVENTS.labels(event.type.value).inc()
        label = _ORDER_EVENTS.get(event.type)
        if label is None:
            continue
        if label == "cancelled" and event.data.get("cancel_reason") == "expired":
            label = "expired"
        ORDERS.labels(label).inc()
