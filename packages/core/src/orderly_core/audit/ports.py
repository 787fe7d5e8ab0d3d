"""What reading the audit trail needs: a unit of work with the trail."""

from __future__ import annotations

from typing import Protocol

from orderly_core.platform.audit import HasAuditLog
from orderly_core.platform.ports import Services, Transactional


class AuditUnit(Transactional, HasAuditLog, Protocol):
    pass


type AuditServices = Services[AuditUnit]
