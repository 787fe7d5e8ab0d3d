"""Reading the audit trail, on the fakes and on PostgreSQL alike."""

from __future__ import annotations

from orderly_core.audit.use_cases import list_audit
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, err, make_product, ok


async def test_only_admins_and_operators_read_the_audit_trail(deps: Dependencies) -> None:
    await make_product(deps)

    assert ok(await list_audit(deps, ctx(), AuditQuery())).items
    assert isinstance(err(await list_audit(deps, ctx(STAFF), AuditQuery())), Forbidden)
