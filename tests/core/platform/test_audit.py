"""The audit trail's entries: each write leaves one naming its actor, request, key and changes,
and none holds a secret; on the fakes and on PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace

from orderly_core.accounts.profile import PasswordChange, change_password
from orderly_core.accounts.registration import Registration, register
from orderly_core.audit.use_cases import list_audit
from orderly_core.catalogue.use_cases import (
    ArchiveRequest,
    ProductChanges,
    archive_product,
    update_product,
)
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, fresh, make_product, ok

PASSWORD = "correct horse battery"


def keyed(key: str, mode: Mode = Mode.EXECUTE) -> Context:
    return replace(ctx(mode=mode), request_id=f"req-{key}", idempotency_key=key)


async def test_each_write_leaves_one_entry_naming_actor_request_key_and_changes(
    deps: Dependencies,
) -> None:
    await make_product(deps, on_hand=5)
    fresh(await update_product(deps, keyed("k-up"), ProductChanges("MUG-1", name="Big mug")))
    fresh(await archive_product(deps, ctx(STAFF), ArchiveRequest("MUG-1")))

    entries = ok(await list_audit(deps, ctx(), AuditQuery(target_id="MUG-1"))).items

    assert [e.operation for e in entries] == ["product.archive", "product.update", "product.create"]
    archive, update, create = entries
    assert (archive.actor_kind, archive.actor_id, archive.actor_role) == ("user", "u-2", "staff")
    assert dict(archive.changes) == {
        "active": {"before": True, "after": False},
        "version": {"before": 2, "after": 3},
    }
    assert (update.request_id, update.idempotency_key, update.mode) == (
        "req-k-up",
        "k-up",
        "execute",
    )
    assert dict(update.changes)["name"] == {"before": "Mug", "after": "Big mug"}
    assert create.changes["on_hand"] == {"before": None, "after": 5}
    assert "created_at" not in create.changes


async def test_account_entries_never_hold_a_password_or_its_hash(deps: Dependencies) -> None:
    anonymous = Context(Actor.anonymous(), "req-signup")
    user = ok(await register(deps, anonymous, Registration("ann@example.com", PASSWORD, "Ann")))
    change = PasswordChange(PASSWORD, "another long secret")
    ok(await change_password(deps, ctx(user.actor), change))

    entries = ok(await list_audit(deps, ctx(), AuditQuery(target_type="user"))).items

    assert [e.operation for e in entries] == ["user.change_password", "user.register"]
    text = repr(entries)
    assert PASSWORD not in text
    assert "another long secret" not in text
    assert user.password_hash not in text
    assert dict(entries[0].changes) == {"password": {"before": "(previous)", "after": "(changed)"}}
