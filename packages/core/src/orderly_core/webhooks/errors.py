"""The webhooks' domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class EndpointNotFound:
    endpoint_id: str
    code: ClassVar[str] = "endpoint_not_found"

    @property
    def detail(self) -> str:
        return f"No webhook endpoint is known as '{self.endpoint_id}'."


@dataclass(frozen=True, slots=True)
class DeliveryNotFound:
    delivery_id: str
    code: ClassVar[str] = "delivery_not_found"

    @property
    def detail(self) -> str:
        return f"No webhook delivery is known as '{self.delivery_id}'."


@dataclass(frozen=True, slots=True)
class EndpointDisabled:
    """Events cannot be sent again to an endpoint that is not active."""

    endpoint_id: str
    code: ClassVar[str] = "endpoint_disabled"

    @property
    def detail(self) -> str:
        return (
            f"Webhook endpoint {self.endpoint_id} is disabled: enable it before sending it "
            "events again."
        )
