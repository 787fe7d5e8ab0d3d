"""Reading the mail Orderly sent, and sending a message again.

Staff, admins, operators and Orderly itself read (:func:`~orderly_core.shared.authorization.
mail_read_denied`); admins and operators resend. A resend stores a new pending message, due
now, which the worker sends; the message it repeats stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from returns.result import Failure, Result, Success

from orderly_core.mail.composing import new_message
from orderly_core.mail.errors import MailNotFound, MailNotResendable
from orderly_core.mail.model import MailAttempt, MailMessage, MailQuery, message_view
from orderly_core.mail.ports import MailServices, MailUnit
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import mail_read_denied, mail_resend_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import NEWEST_FIRST, Page, checked_page
from orderly_core.shared.validation import FieldErrors, parse_id

MAIL_TARGET = "mail_message"  # the audit trail's target type of a message
RECIPIENT_MAX = 254


@dataclass(frozen=True, slots=True)
class MailDetail:
    message: MailMessage
    attempts: tuple[MailAttempt, ...]  # first first


async def list_mail(
    deps: MailServices, ctx: Context, query: MailQuery
) -> Result[Page[MailMessage], Forbidden | InvalidInput]:
    """Mail messages newest first (keyset pagination), at most 200 a page, filtered by
    status, template and recipient (the exact address, ignoring case). Staff, admins and
    operators only."""
    if denied := mail_read_denied(ctx.actor):
        return Failure(denied)
    fields = FieldErrors()
    page = checked_page(fields, query, NEWEST_FIRST)
    if query.recipient is not None and len(query.recipient) > RECIPIENT_MAX:
        fields.fail("recipient", f"must be at most {RECIPIENT_MAX} characters")
    if invalid := fields.invalid():
        return invalid
    recipient = query.recipient.strip().lower() if query.recipient else None
    wanted = MailQuery(status=query.status, template=query.template, recipient=recipient)

    async def work(uow: MailUnit) -> Result[Page[MailMessage], Forbidden | InvalidInput]:
        found = await uow.mail.find(after=page.after, limit=page.fetch_limit, query=wanted)
        return Success(page.cut(found, lambda m: (m.created_at, m.id)))

    return await in_transaction(deps, ctx, work)


async def get_mail(
    deps: MailServices, ctx: Context, message_id: str
) -> Result[MailDetail, Forbidden | MailNotFound]:
    """One mail message with every attempt made of it, first first. Staff, admins and
    operators only."""
    if denied := mail_read_denied(ctx.actor):
        return Failure(denied)

    async def work(uow: MailUnit) -> Result[MailDetail, Forbidden | MailNotFound]:
        wanted = parse_id(message_id)
        message = await uow.mail.get(wanted) if wanted else None
        if message is None:
            return Failure(MailNotFound(message_id))
        return Success(MailDetail(message, tuple(await uow.mail.attempts(message.id))))

    return await in_transaction(deps, ctx, work)


ResendError = Forbidden | MailNotFound | MailNotResendable


async def resend_mail(
    deps: MailServices, ctx: Context, message_id: str
) -> Idempotent[MailMessage, ResendError]:
    """Send a message again, whatever became of it (sent, dead or still pending).

    Rules: admins and operators only. A new pending message to the same recipient, with the
    same template and variables, is made, due now; the one it repeats stays as it is. An
    email that carried a single-use link (a password reset, a verification) is not resent:
    ask for a new link instead.
    """
    if denied := mail_resend_denied(ctx.actor):
        return Failure(denied)

    async def work(uow: MailUnit) -> Result[MailMessage, ResendError]:
        wanted = parse_id(message_id)
        original = await uow.mail.get(wanted) if wanted else None
        if original is None:
            return Failure(MailNotFound(message_id))
        if original.template.carries_token:
            return Failure(MailNotResendable(str(original.id)))
        fresh = new_message(deps, original.recipient, original.template, original.data)
        again = replace(fresh, resend_of=original.id)
        await uow.mail.add(again)
        await record(
            deps,
            uow,
            ctx,
            "mail.resend",
            target=(MAIL_TARGET, str(again.id)),
            before=None,
            after=message_view(again),
        )
        return Success(again)

    operation = Operation(
        "mail.resend", {"message_id": message_id}, MailMessage, (MailNotFound, MailNotResendable)
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)
