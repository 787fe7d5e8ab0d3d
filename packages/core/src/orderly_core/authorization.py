"""Who may do what. Every rule about permissions is written here, once."""

from __future__ import annotations

from orderly_core.context import Actor, ActorKind, Role
from orderly_core.errors import Forbidden


def may_manage_catalogue(actor: Actor) -> bool:
    """Catalogue writes: staff and admins, operators at the CLI, and Orderly's own jobs.

    Catalogue reads are public and need no check.
    """
    if actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        return True
    return actor.kind is ActorKind.USER and actor.role in (Role.STAFF, Role.ADMIN)


def catalogue_write_denied(actor: Actor, action: str) -> Forbidden | None:
    """The error to return when ``actor`` may not ``action``, else ``None``."""
    return None if may_manage_catalogue(actor) else Forbidden(action)


def may_manage_users(actor: Actor) -> bool:
    """Listing users, changing roles, (de)activating, creating admins: admins and operators."""
    if actor.kind is ActorKind.OPERATOR:
        return True
    return actor.kind is ActorKind.USER and actor.role is Role.ADMIN


def user_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    return None if may_manage_users(actor) else Forbidden(action)


def may_manage_webhooks(actor: Actor) -> bool:
    """Webhook endpoints, their deliveries, redeliveries and replays: admins and operators.

    They decide where Orderly sends its events (orders with customers' data) and hold the
    signing secrets, so neither staff nor Orderly's own jobs manage them.
    """
    if actor.kind is ActorKind.OPERATOR:
        return True
    return actor.kind is ActorKind.USER and actor.role is Role.ADMIN


def webhook_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    return None if may_manage_webhooks(actor) else Forbidden(action)


def may_handle_any_order(actor: Actor) -> bool:
    """Staff and admins, operators and Orderly itself may pay, ship, deliver and cancel any
    order; customers act on their own orders only."""
    if actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        return True
    return actor.kind is ActorKind.USER and actor.role in (Role.STAFF, Role.ADMIN)


def may_manage_jobs(actor: Actor) -> bool:
    """Reading background jobs and retrying failed or dead ones: staff and admins, operators
    at the CLI, and Orderly itself. A job's payload and result hold imported rows and who
    asked for the work, so customers may not."""
    if actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM):
        return True
    return actor.kind is ActorKind.USER and actor.role in (Role.STAFF, Role.ADMIN)


def job_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    return None if may_manage_jobs(actor) else Forbidden(action)


def may_record_jobs(actor: Actor) -> bool:
    """Recording a job's runs and outcome: Orderly itself (its worker), nobody else."""
    return actor.kind is ActorKind.SYSTEM


def job_recording_denied(actor: Actor) -> Forbidden | None:
    return None if may_record_jobs(actor) else Forbidden("record the progress of jobs")
