"""Who may do what. Every rule about permissions is written here, once.

Each rule is one function, named by what it decides:

- ``<work>_denied(actor, ...) -> Forbidden | None``: the refusal when ``actor`` may not do
  the work, else ``None`` (``if denied := catalogue_write_denied(ctx.actor, "..."): ...``);
- ``may_see_<record>(actor, ...) -> bool``: whether the record exists for ``actor`` at all;
  one that may not see it gets "not found", so that its existence does not leak;
- the rest answer who a request acts for (the customer an order is placed for, the customer
  a listing is limited to, the account a user changes as their own), whether a caller must
  sign in first, and whether an account holds an admin's rights.

A test keeps it so: no other module of the core but ``shared/context`` (which defines the
kinds and roles) compares an actor's kind or an account's role.
"""

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


def _denied_unless(allowed: bool, action: str) -> Forbidden | None:
    return None if allowed else Forbidden(action)


def must_sign_in(actor: Actor) -> bool:
    """Whether the caller is anonymous, and must sign in before anything but a public read."""
    return actor.kind is ActorKind.ANONYMOUS


def operations_denied(actor: Actor, action: str) -> Forbidden | None:
    """Work Orderly does on its own schedule, which operators may also run by hand: expiring
    orders, purging keys and job records, summarising sales, relaying and sending events."""
    return _denied_unless(_operations(actor), action)


def catalogue_write_denied(actor: Actor, action: str) -> Forbidden | None:
    """Catalogue writes (and the stock history): staff and admins, operators at the CLI, and
    Orderly's own jobs. Catalogue reads are public and need no check."""
    return _denied_unless(_staff_or_operations(actor), action)


def user_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    """Listing users, changing roles, (de)activating, creating admins, reading the audit
    trail and verifying stock levels: admins and operators."""
    return _denied_unless(_admin_or_operator(actor), action)


def may_see_account(actor: Actor, user_id: str) -> bool:
    """Admins and operators see every account; a user sees their own only."""
    return _admin_or_operator(actor) or (actor.kind is ActorKind.USER and actor.id == user_id)


def own_account(actor: Actor) -> str | None:
    """The id of the account a user changes as their own (profile, password); ``None`` for
    every other kind of actor, who has no account to change."""
    return actor.id if actor.kind is ActorKind.USER else None


def holds_admin_rights(role: Role, active: bool) -> bool:
    """Whether an account may administer Orderly: an active admin. The last such account may
    be neither demoted nor deactivated, so that somebody always can."""
    return role is Role.ADMIN and active


def webhook_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    """Webhook endpoints, their deliveries, redeliveries and replays: admins and operators.

    They decide where Orderly sends its events (orders with customers' data) and hold the
    signing secrets, so neither staff nor Orderly's own jobs manage them.
    """
    return _denied_unless(_admin_or_operator(actor), action)


def shipping_rates_write_denied(actor: Actor, action: str) -> Forbidden | None:
    """Creating, changing and retiring shipping rates (what every order pays to ship):
    admins and operators."""
    return _denied_unless(_admin_or_operator(actor), action)


def shipping_rates_read_denied(actor: Actor) -> Forbidden | None:
    """Reading shipping rates: anyone signed in (a storefront shows them at checkout)."""
    return _denied_unless(not must_sign_in(actor), "read shipping rates")


def may_see_retired_rates(actor: Actor) -> bool:
    """Staff and admins, operators and Orderly itself see retired shipping rates too;
    customers see the active ones only (a retired one is, for them, not found)."""
    return _staff_or_operations(actor)


def order_details_change_denied(actor: Actor) -> Forbidden | None:
    """Changing an order's contact email or shipping address: its customer (for an order
    they may see, their own) and staff, admins, operators and Orderly itself."""
    return _denied_unless(not must_sign_in(actor), "change orders")


def customer_for_placement(actor: Actor, requested: str | None) -> str | Forbidden:
    """The customer an order is placed for. A user orders for themself, whatever customer
    they name; operators and Orderly's jobs must name the customer; nobody else may order."""
    if actor.kind is ActorKind.USER:
        return actor.id
    if _operations(actor) and requested:
        return requested
    return Forbidden("place orders")


def may_see_order(actor: Actor, customer_id: str) -> bool:
    """Staff and admins, operators and Orderly itself see every order (and may cancel it,
    start a payment of it and read its payments); a customer sees, cancels and starts paying
    their own orders only."""
    return _staff_or_operations(actor) or (actor.kind is ActorKind.USER and actor.id == customer_id)


def customer_filter_for_listing(actor: Actor, requested: str | None) -> str | Forbidden | None:
    """The customer a listing of orders is limited to: the one staff ask for (``None``, every
    customer), a customer's own id whatever they ask for. Anonymous callers list nothing."""
    if must_sign_in(actor):
        return Forbidden("list orders")
    return requested if _staff_or_operations(actor) else actor.id


_WAREHOUSE_STATUSES = frozenset({"shipped", "delivered"})  # of orderly_core.orders.model


def order_move_denied(actor: Actor, target: str) -> Forbidden | None:
    """Moving an order one may see to the status ``target``: shipping and delivering are
    warehouse work, for staff and admins, operators and Orderly itself; cancelling is open
    to the order's customer too. Nobody moves an order to paid by hand: its payments do."""
    return _denied_unless(
        target not in _WAREHOUSE_STATUSES or _staff_or_operations(actor), f"mark orders {target}"
    )


def fulfilment_denied(actor: Actor, action: str) -> Forbidden | None:
    """Shipping an order's units, delivering its shipments and cancelling what remains of a
    paid order: staff and admins, operators and Orderly itself (warehouse work, as shipping
    and delivering whole orders are)."""
    return _denied_unless(_staff_or_operations(actor), action)


def money_handling_denied(actor: Actor, action: str) -> Forbidden | None:
    """Recording that money arrived by hand (a bank transfer, cash on delivery) and refunding
    an order: staff and admins, operators at the CLI, and Orderly itself (its follow-ups).
    Customers may start paying their own orders, never mark one paid or refund it."""
    return _denied_unless(_staff_or_operations(actor), action)


def sales_report_denied(actor: Actor) -> Forbidden | None:
    """Sales reports: staff and admins, operators and Orderly itself."""
    return _denied_unless(_staff_or_operations(actor), "read sales reports")


def job_admin_denied(actor: Actor, action: str) -> Forbidden | None:
    """Reading background jobs and retrying failed or dead ones: staff and admins, operators
    at the CLI, and Orderly itself. A job's payload and result hold imported rows and who
    asked for the work, so customers may not."""
    return _denied_unless(_staff_or_operations(actor), action)


def job_recording_denied(actor: Actor) -> Forbidden | None:
    """Recording a job's runs and outcome: Orderly itself (its worker), nobody else."""
    return _denied_unless(actor.kind is ActorKind.SYSTEM, "record the progress of jobs")


def return_request_denied(actor: Actor) -> Forbidden | None:
    """Asking to return delivered units: anyone signed in, for an order they may see (a
    customer their own, staff, admins, operators and Orderly itself any)."""
    return _denied_unless(not must_sign_in(actor), "request returns")


def returns_handling_denied(actor: Actor, action: str) -> Forbidden | None:
    """Approving, rejecting and receiving returns, and listing every order's returns:
    warehouse work, for staff and admins, operators and Orderly itself."""
    return _denied_unless(_staff_or_operations(actor), action)


def mail_read_denied(actor: Actor) -> Forbidden | None:
    """Reading the emails Orderly sent and their attempts: staff and admins (who answer
    customers asking where their email went), operators and Orderly itself."""
    return _denied_unless(_staff_or_operations(actor), "read mail messages")


def mail_resend_denied(actor: Actor) -> Forbidden | None:
    """Sending an email again: admins and operators (support staff at the CLI)."""
    return _denied_unless(_admin_or_operator(actor), "resend mail messages")


def password_reset_for_others_denied(actor: Actor) -> Forbidden | None:
    """Sending a password reset link to someone else's account: admins and operators
    (support staff, ``orderly users send-reset``). Anyone may ask for one for an email."""
    return _denied_unless(_admin_or_operator(actor), "send password reset links")
