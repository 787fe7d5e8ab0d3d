"""The JSON shapes of webhook endpoints and deliveries (see :mod:`orderly_http.schemas` for
the conventions).

An endpoint's resource never holds its signing secret; only the answers of a registration
and of a rotation add ``secret``, the one time it is shown.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from orderly_core.platform.outbox import EventType
from orderly_core.shared.paging import Page
from orderly_core.webhooks.deliveries import DeliveryDetail
from orderly_core.webhooks.endpoints import EndpointChanges, NewEndpoint, RegisteredEndpoint
from orderly_core.webhooks.model import Attempt, Delivery, Endpoint, delivery_view, endpoint_view
from orderly_core.webhooks.replay import ReplayReport, ReplayRequest
from orderly_http import limits
from orderly_http.paging import Instant
from orderly_http.schemas import ChangesBody, RequestBody

_NEXT_CURSOR = "Pass as `cursor` to get the next page; null on the last page"
_TYPES = ", ".join(f"`{t.value}`" for t in EventType)
_EVENT_TYPES = f"Event types, each once: {_TYPES}"


class EndpointResource(BaseModel):
    """A webhook endpoint: where Orderly sends the events of the types it asked for."""

    model_config = ConfigDict(title="WebhookEndpoint")

    id: str
    url: str = Field(examples=["https://hooks.example.com/orderly"])
    event_types: list[str] = Field(description=_EVENT_TYPES, examples=[["order.placed"]])
    active: bool = Field(description="False: no event is sent to it")
    disabled_reason: str | None = Field(
        description="Why Orderly disabled the endpoint (it kept failing), or null"
    )
    failing_since: datetime | None = Field(
        description="The first failed delivery since the last success, or null"
    )
    secret_rotating_until: datetime | None = Field(
        description="After a rotation, the previous secret also signs deliveries until then"
    )
    version: int = Field(description="Increases with every change; the ETag carries it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, endpoint: Endpoint) -> EndpointResource:
        return cls.model_construct(**endpoint_view(endpoint))


class EndpointWithSecretResource(EndpointResource):
    """An endpoint with the signing secret just made for it. The secret is shown here only:
    keep it now, Orderly never shows it again."""

    model_config = ConfigDict(title="WebhookEndpointWithSecret")

    secret: str | None = Field(
        description="`whsec_` + base64 of 32 random bytes; null in a dry run, which makes none",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )

    @classmethod
    def from_registered(cls, registered: RegisteredEndpoint) -> EndpointWithSecretResource:
        view = endpoint_view(registered.endpoint)
        return cls.model_construct(**view, secret=registered.secret)


class EndpointListResource(BaseModel):
    """Every webhook endpoint, oldest first."""

    model_config = ConfigDict(title="WebhookEndpointList")

    items: list[EndpointResource]

    @classmethod
    def from_domain(cls, endpoints: tuple[Endpoint, ...]) -> EndpointListResource:
        return cls.model_construct(items=[EndpointResource.from_domain(e) for e in endpoints])


class DeliveryResource(BaseModel):
    """One event sent to one endpoint, tried until it answers 2xx or the retries run out."""

    model_config = ConfigDict(title="WebhookDelivery")

    id: str
    endpoint_id: str
    event_id: str = Field(description="The event's id: the `webhook-id` header of every try")
    event_type: str = Field(examples=["order.placed"])
    state: str = Field(
        description="`pending` (waiting for its next attempt), `delivered` or `dead` (every "
        "attempt failed: a dead letter)",
        examples=["pending"],
    )
    attempts: int = Field(description="Tries made so far")
    next_attempt_at: datetime | None = Field(
        description="When it is tried next, if pending; while an attempt is under way, the end "
        "of the worker's lease on it (it is tried again then if that attempt goes unrecorded)"
    )
    last_status: int | None = Field(description="The status code of the last answer, if any")
    last_error: str | None = Field(description="Why the last attempt failed, if it did")
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, delivery: Delivery) -> DeliveryResource:
        return cls.model_construct(**delivery_view(delivery))


class AttemptResource(BaseModel):
    """One try of a delivery."""

    model_config = ConfigDict(title="WebhookAttempt")

    number: int = Field(description="1 for the first try")
    at: datetime
    latency_ms: int
    status: int | None = Field(description="The status code answered; null when none came")
    error: str | None = Field(description="Why it failed; null for a 2xx")
    succeeded: bool

    @classmethod
    def from_domain(cls, attempt: Attempt) -> AttemptResource:
        return cls.model_construct(
            number=attempt.number,
            at=attempt.at,
            latency_ms=attempt.latency_ms,
            status=attempt.status,
            error=attempt.error,
            succeeded=attempt.succeeded,
        )


class DeliveryDetailResource(DeliveryResource):
    """A delivery with every attempt made of it, first first."""

    model_config = ConfigDict(title="WebhookDeliveryDetail")

    attempt_log: list[AttemptResource]

    @classmethod
    def from_detail(cls, detail: DeliveryDetail) -> DeliveryDetailResource:
        log = [AttemptResource.from_domain(a) for a in detail.attempts]
        return cls.model_construct(**delivery_view(detail.delivery), attempt_log=log)


class DeliveryPageResource(BaseModel):
    """One page of an endpoint's deliveries, newest first."""

    model_config = ConfigDict(title="WebhookDeliveryPage")

    items: list[DeliveryResource]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)

    @classmethod
    def from_domain(cls, page: Page[Delivery]) -> DeliveryPageResource:
        items = [DeliveryResource.from_domain(d) for d in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)


class ReplayResource(BaseModel):
    """The deliveries a replay made: one per event, in the order the events happened."""

    model_config = ConfigDict(title="WebhookReplay")

    endpoint_id: str
    count: int = Field(description="How many events are sent again")
    delivery_ids: list[str]

    @classmethod
    def from_domain(cls, report: ReplayReport) -> ReplayResource:
        return cls.model_construct(
            endpoint_id=str(report.endpoint_id),
            count=report.count,
            delivery_ids=[str(i) for i in report.delivery_ids],
        )


class NewEndpointBody(RequestBody):
    """An endpoint to register; its signing secret is made by Orderly."""

    model_config = ConfigDict(title="NewWebhookEndpoint")

    url: str = Field(
        description="An absolute https:// URL of a public host",
        examples=["https://hooks.example.com/orderly"],
        json_schema_extra=limits.WEBHOOK_URL,
    )
    event_types: list[str] = Field(
        description=_EVENT_TYPES,
        examples=[["order.placed", "order.paid"]],
        json_schema_extra=limits.EVENT_TYPES,
    )

    def to_domain(self) -> NewEndpoint:
        return NewEndpoint(self.url, tuple(self.event_types))


class EndpointChangesBody(ChangesBody):
    """The fields to change; the others stay as they are."""

    model_config = ConfigDict(
        title="WebhookEndpointChanges", json_schema_extra={"minProperties": 1}
    )

    url: str | SkipJsonSchema[None] = Field(
        default=None,
        description="An absolute https:// URL of a public host",
        json_schema_extra=limits.WEBHOOK_URL,
    )
    event_types: list[str] | SkipJsonSchema[None] = Field(
        default=None, description=_EVENT_TYPES, json_schema_extra=limits.EVENT_TYPES
    )
    active: bool | SkipJsonSchema[None] = Field(
        default=None,
        description="False stops sending to it; true sends again and forgets why it was disabled",
    )

    def to_domain(self, endpoint_id: str, expected_version: int | None) -> EndpointChanges:
        return EndpointChanges(
            endpoint_id=endpoint_id,
            expected_version=expected_version,
            url=self.url,
            event_types=None if self.event_types is None else tuple(self.event_types),
            active=self.active,
        )


class ReplayBody(RequestBody):
    """Which events to send again: those of these types created in [since, until)."""

    model_config = ConfigDict(title="WebhookReplayRequest")

    event_types: list[str] = Field(
        description="Event types the endpoint subscribes to, each once",
        examples=[["order.placed"]],
        json_schema_extra=limits.EVENT_TYPES,
    )
    since: Instant = Field(
        strict=False,  # JSON carries times as strings
        description="Events created at or after this time (RFC 3339 with an offset)",
        examples=["2026-11-22T00:00:00Z"],
    )
    until: Instant = Field(
        strict=False,
        description="Events created before this time (RFC 3339 with an offset)",
        examples=["2026-11-23T00:00:00Z"],
    )

    def to_domain(self) -> ReplayRequest:
        return ReplayRequest(tuple(self.event_types), self.since, self.until)
