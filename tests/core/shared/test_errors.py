"""One version conflict for every versioned record: the check, its words and its members."""

from __future__ import annotations

import pytest

from orderly_core.shared.errors import VersionConflict, error_members, version_conflict


def test_a_change_meets_a_conflict_only_when_it_names_another_version() -> None:
    assert version_conflict(("order", "o-1"), None, 3) is None  # names no version
    assert version_conflict(("order", "o-1"), 3, 3) is None
    assert version_conflict(("order", "o-1"), 2, 3) == VersionConflict("order", "o-1", 2, 3)


@pytest.mark.parametrize(
    ("target", "detail", "id_member"),
    [
        (
            ("product", "MUG-1"),
            "Product 'MUG-1' is at version 3, not 2: reload it and apply the change again.",
            "sku",
        ),
        (
            ("order", "o-1"),
            "Order o-1 is at version 3, not 2: reload it and try again.",
            "order_id",
        ),
        (
            ("webhook", "e-1"),
            "Webhook endpoint e-1 is at version 3, not 2: reload it and apply the change again.",
            "endpoint_id",
        ),
    ],
    ids=["product", "order", "webhook"],
)
def test_each_record_is_named_as_clients_have_always_read_it(
    target: tuple[str, str], detail: str, id_member: str
) -> None:
    conflict = version_conflict(target, 2, 3)
    assert conflict is not None

    assert conflict.detail == detail
    assert error_members(conflict) == {
        id_member: target[1],
        "target_type": target[0],
        "target_id": target[1],
        "expected": 2,
        "current": 3,
    }


def test_a_record_of_another_type_is_named_by_its_type() -> None:
    conflict = VersionConflict("shipment", "s-1", 1, 2)

    assert conflict.detail == (
        "Shipment s-1 is at version 2, not 1: reload it and apply the change again."
    )
    assert error_members(conflict) == {
        "target_type": "shipment",
        "target_id": "s-1",
        "expected": 1,
        "current": 2,
    }
