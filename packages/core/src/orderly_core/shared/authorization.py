"""Who may do what. Every rule about permissions is written here, once."""

from __future__ import annotations

from orderly_core.shared.context import Actor, ActorKind, Role
from orderly_core.shared.errors import Forbidden


def _operations(actor: Actor) -> bool:
    """Operators at the CLI and Orderly itself (its jobs and schedules)."""
    return actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM)


def _staff_or_operations(actor: Actor) -> bool:
    return _operations(actor) or (
        actor.kind is ActorKind.USER and actor.role in (Role.STAFF, Role.ADMIN)
    )


def _admin_or_operator(actor: Actor) -> bool:
    return actor.kind is ActorKind.OPERATOR or (
        actor.kind is ActorKind.USER and actor.role is Role.ADMIN
    )


def operations_denied(actor: Actor, action: str) -> Forbidden | None:
    """Work Orderly does on its own schedule, which operators may also run by hand: expiring
    orders, purging keys and job records, summarising sales, relaying and sending events."""
    return None if _operations(actor) else Forbidden(action)


def may_manage_catalogue(actor: Actor) -> bool:
    """Catalogue writes: staff and admins, operators at the CLI, and Orderly's own jobs.

    Catalogue reads are public and need no check.
    """
    return _staff_or_operations(actor)


def catalogue_write_denied(actor: Actor, action: str) -> Forbidden | None:
    """The error to return when ``actor`` may not ``action``, else ``None``."""
    return None if may_manage_catalogue(actor) else Forbidden(action)


def may_manage_users(actor: Actor) -> bool:
    """Listing users, changing roles, (de)activating, creating admins: admins and operators."""
    return _admin_or_operator(actor)


def user_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    return None if may_manage_users(actor) else Forbidden(action)


def may_manage_webhooks(actor: Actor) -> bool:
    """Webhook endpoints, their deliveries, redeliveries and replays: admins and operators.

    They decide where Orderly sends its events (orders with customers' data) and hold the
    signing secrets, so neither staff nor Orderly's own jobs manage them.
    """
    return _admin_or_operator(actor)


def webhook_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    return None if may_manage_webhooks(actor) else Forbidden(action)


def may_handle_any_order(actor: Actor) -> bool:
    """Staff and admins, operators and Orderly itself may pay, ship, deliver and cancel any
    order; customers act on their own orders only."""
    return _staff_or_operations(actor)


def may_manage_jobs(actor: Actor) -> bool:
    """Reading background jobs and retrying failed or dead ones: staff and admins, operators
    at the CLI, and Orderly itself. A job's payload and result hold imported rows and who
    asked for the work, so customers may not."""
    return _staff_or_operations(actor)


def job_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    return None if may_manage_jobs(actor) else Forbidden(action)


def may_record_jobs(actor: Actor) -> bool:
    """Recording a job's runs and outcome: Orderly itself (its worker), nobody else."""
    return actor.kind is ActorKind.SYSTEM


def job_recording_denied(actor: Actor) -> Forbidden | None:
    return None if may_record_jobs(actor) else Forbidden("record the progress of jobs")
