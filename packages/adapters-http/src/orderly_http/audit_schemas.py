"""The JSON shapes of what Orderly records about its writes: the stock ledger and the audit trail.

Both are read-only over HTTP. Responses are built from the core's public views with
``model_construct`` (the values come from Orderly's own records, already valid) and
serialised straight to bytes; the audit trail's pages are rendered from the views by orjson,
as the catalogue's are (see :func:`orderly_http.schemas.document_response`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orderly_core.audit.use_cases import entry_view
from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.stock import movement_view
from orderly_core.platform.audit import AuditEntry
from orderly_core.shared.paging import Page

_NEXT_CURSOR = "Pass as `cursor` to get the next page; null on the last page"


class StockMovementResource(BaseModel):
    """One movement of a product's stock. A product's levels are the sums of its movements."""

    model_config = ConfigDict(title="StockMovement")

    id: str
    sku: str = Field(examples=["MUG-1"])
    at: datetime = Field(description="When the stock moved (RFC 3339, UTC)")
    kind: str = Field(
        description="opening, adjustment, import, reservation, release, shipment, restock "
        "(a returned unit back on the shelf) or write_off (a returned unit written off: no "
        "stock change)",
        examples=["adjustment"],
    )
    on_hand_delta: int = Field(description="Change of on-hand units", examples=[-2])
    reserved_delta: int = Field(description="Change of reserved units", examples=[0])
    note: str = Field(
        description="The reason given, or what moved the stock", examples=["breakage"]
    )
    reference: str | None = Field(description="An order id, an import job id... or null")
    actor_id: str = Field(description="Who moved the stock: a user id, an operator, the system")
    request_id: str = Field(description="The X-Request-ID (or CLI/job id) of the write")

    @classmethod
    def from_domain(cls, movement: StockMovement) -> StockMovementResource:
        return cls.model_construct(**movement_view(movement))


class StockMovementPageResource(BaseModel):
    """One page of a product's stock movements, newest first."""

    model_config = ConfigDict(title="StockMovementPage")

    items: list[StockMovementResource]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)

    @classmethod
    def from_domain(cls, page: Page[StockMovement]) -> StockMovementPageResource:
        items = [StockMovementResource.from_domain(movement) for movement in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)


class AuditActor(BaseModel):
    kind: str = Field(description="user, operator, system or anonymous", examples=["user"])
    id: str = Field(description="A user id, an operator's name, a component of Orderly")
    role: str | None = Field(description="The user's role when they acted; null otherwise")


class AuditTarget(BaseModel):
    type: str = Field(examples=["product"])
    id: str = Field(description="A SKU, a user id...", examples=["MUG-1"])


class FieldChange(BaseModel):
    before: Any = Field(description="null when the write created the target")
    after: Any


class AuditEntryResource(BaseModel):
    """One write: who made it, to what, under which request, and the fields it changed."""

    model_config = ConfigDict(title="AuditEntry")

    id: str
    at: datetime = Field(description="When the write was made (RFC 3339, UTC)")
    actor: AuditActor
    operation: str = Field(examples=["product.adjust_stock"])
    target: AuditTarget
    request_id: str = Field(description="The X-Request-ID (or CLI/job id) of the write")
    idempotency_key: str | None = Field(description="The Idempotency-Key sent, if any")
    mode: str = Field(description="execute: dry runs change nothing and leave no entry")
    changes: dict[str, FieldChange] = Field(
        description="The fields that changed, each with its value before and after; never a "
        "secret (a password change says only that the password changed)",
        examples=[{"on_hand": {"before": 5, "after": 8}}],
    )

    @classmethod
    def from_domain(cls, entry: AuditEntry) -> AuditEntryResource:
        view = entry_view(entry)
        return cls.model_construct(
            **view
            | {
                "actor": AuditActor.model_construct(**view["actor"]),
                "target": AuditTarget.model_construct(**view["target"]),
                "changes": {
                    field: FieldChange.model_construct(**change)
                    for field, change in view["changes"].items()
                },
            }
        )

    @staticmethod
    def document(entry: AuditEntry) -> dict[str, Any]:
        """The resource as plain values, for :func:`~orderly_http.schemas.document_response`:
        each change as :class:`FieldChange` renders it (``before``, then ``after``, each when
        recorded)."""
        view = entry_view(entry)
        view["changes"] = {
            field: {key: change[key] for key in _CHANGE_KEYS if key in change}
            for field, change in view["changes"].items()
        }
        return view


_CHANGE_KEYS = ("before", "after")


class AuditPageResource(BaseModel):
    """One page of the audit trail, newest first."""

    model_config = ConfigDict(title="AuditPage")

    items: list[AuditEntryResource]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)

    @classmethod
    def from_domain(cls, page: Page[AuditEntry]) -> AuditPageResource:
        items = [AuditEntryResource.from_domain(entry) for entry in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)

    @staticmethod
    def document(page: Page[AuditEntry]) -> dict[str, Any]:
        """The resource as plain values, for :func:`~orderly_http.schemas.document_response`:
        building 50 entries' models cost five times the rest of the page."""
        return {
            "items": [AuditEntryResource.document(entry) for entry in page.items],
            "next_cursor": page.next_cursor,
        }
