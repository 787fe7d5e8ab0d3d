"""What identifies a request under an idempotency key: the SHA-256 of its payload's canonical
JSON (sorted keys, no spaces), so that a record stored by one version of Orderly is matched by
the next; and how a replayed answer is told from a fresh one."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from orderly_core.platform.idempotency import Replayed, fingerprint, without_replay


@dataclass(frozen=True, slots=True)
class Payload:
    name: str
    order_id: uuid.UUID
    lines: tuple[int, ...]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_fingerprint_is_the_sha256_of_the_canonical_json() -> None:
    payload = Payload("Mug", uuid.UUID(int=1), (2, 3))

    assert fingerprint(payload) == sha256(
        '{"lines":[2,3],"name":"Mug","order_id":"00000000-0000-0000-0000-000000000001"}'
    )


def test_the_order_of_keys_does_not_change_a_fingerprint() -> None:
    assert fingerprint({"b": 1, "a": {"d": None, "c": "é"}}) == fingerprint(
        {"a": {"c": "é", "d": None}, "b": 1}
    )
    assert fingerprint({"b": 1, "a": 2}) == sha256('{"a":2,"b":1}')


def test_values_json_does_not_know_are_written_as_text() -> None:
    assert fingerprint({"amount": complex(1, 2)}) == sha256('{"amount":"(1+2j)"}')


def test_a_replay_is_told_from_a_fresh_answer() -> None:
    replayed: str | Replayed[str] = Replayed("order", request_id="req-1")
    fresh_answer: str | Replayed[str] = "order"

    assert without_replay(replayed) == ("order", True)
    assert without_replay(fresh_answer) == ("order", False)
