"""Background jobs as explicit, JSON-safe payloads (never pickled objects).

Whoever enqueues a job and the worker that runs it agree on its name and payload here. What
becomes of each job is recorded in PostgreSQL (:mod:`orderly_core.jobs.model`), not read
back from the queue.

A job's id is unique in the queue: a job queued under the id of one still queued (or whose
result is still kept) is not queued. So every id is made by Orderly, each kind of job in a
namespace of its own that no other kind can produce, and never from a client's text alone:

- ``import:<hex>``: a product import, the SHA-256 of its submitter and idempotency key, or
  a new random id (:mod:`orderly_core.jobs.imports`);
- ``<scheduled job name>:<unix ms>``: a run of a scheduled job, named by the queue;
- ``<id>:retry-<n>``: a retry of the job ``<id>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from orderly_core.shared.context import Mode

IMPORT_PRODUCTS = "import_products"


class PayloadError(ValueError):
    """A job payload that does not have the expected shape."""


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"job payload field '{key}' must be a string")
    return value


@dataclass(frozen=True, slots=True)
class ImportProductsJob:
    """Import a product CSV in the background, as Orderly's system actor."""

    csv_text: str
    request_id: str
    requested_by: str  # who asked for it, for the logs
    mode: Mode = Mode.EXECUTE

    def to_payload(self) -> dict[str, str]:
        return {
            "csv_text": self.csv_text,
            "request_id": self.request_id,
            "requested_by": self.requested_by,
            "mode": self.mode.value,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, object]) -> ImportProductsJob:
        try:
            mode = Mode(_text(data, "mode"))
        except ValueError as error:
            raise PayloadError(str(error)) from error
        return cls(
            csv_text=_text(data, "csv_text"),
            request_id=_text(data, "request_id"),
            requested_by=_text(data, "requested_by"),
            mode=mode,
        )


def serialize(message: Mapping[str, object]) -> bytes:
    """The queue's wire format: JSON, so a job can be read by anyone and unpickles nothing."""
    return json.dumps(message, separators=(",", ":")).encode()


def deserialize(data: bytes) -> dict[str, object]:
    message = json.loads(data)
    if not isinstance(message, dict):
        raise PayloadError("a queued job must be a JSON object")
    return message
