"""``orderly mail``: the emails Orderly sent, and the development mail catcher's inbox.

``list``, ``show`` and ``resend`` read and act on the messages recorded in PostgreSQL, as the
operator; who may, and what a resend makes, live in the core. ``inbox`` reads the files the
catcher of ``orderly dev`` keeps (no database needed): what a developer's customers would
have received, links included.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from orderly_cli import output
from orderly_cli.config import running_dev_stack
from orderly_cli.options import AsJson, Cursor, DryRun, IdempotencyKey, Limit, command_group
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.mail.model import MailMessage, MailQuery, MailStatus, MailTemplate, message_view
from orderly_core.mail.reading import MailDetail, get_mail, list_mail, resend_mail
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT, Page
from orderly_mail.catcher import CaughtMail, inbox
from orderly_mail.settings import MailSettings

app = command_group(
    "Mail: the emails Orderly sent (each with its attempts), sending one again, and the "
    "inbox of the local mail catcher that `orderly dev` runs.\n\n"
    "list, show and resend connect with DATABASE_URL and REDIS_URL, or find a running "
    "`orderly dev` in the current directory; they act as the operator (your OS user). "
    "resend takes --dry-run and --idempotency-key; every command takes --json. A link's "
    "token is never shown, except in the catcher's inbox (development only)."
)

MessageId = Annotated[str, typer.Argument(metavar="ID", help="The mail message's id.")]


# --- presentation --------------------------------------------------------------------------


def message_json(message: MailMessage) -> dict[str, Any]:
    """A message as ``GET /api/v1/mail`` shows one: never its token."""
    return output.json_view(message_view(message))


def detail_json(detail: MailDetail) -> dict[str, Any]:
    return message_json(detail.message) | {
        "data": output.json_view(detail.message.data),
        "attempt_log": [
            {
                "number": a.number,
                "at": output.rfc3339(a.at),
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in detail.attempts
        ],
    }


def _show_page(page: Page[MailMessage]) -> None:
    out = output.console()
    if not page.items:
        out.print("No mail messages.")
    else:
        table = output.list_table(f"{len(page.items)} message(s), newest first")
        table.add_column("Created", no_wrap=True)
        table.add_column("Recipient", overflow="fold")
        table.add_column("Template", no_wrap=True)
        table.add_column("Status", no_wrap=True)
        table.add_column("Tries", justify="right", no_wrap=True)
        table.add_column("ID", no_wrap=True)
        for message in page.items:
            table.add_row(
                output.rfc3339(message.created_at),
                Text(message.recipient),
                message.template.value,
                message.status.value,
                str(message.attempts),
                str(message.id),
            )
        out.print(table)
    if page.next_cursor:
        out.print(f"Older messages follow: --cursor {page.next_cursor}")


def _show_detail(detail: MailDetail) -> None:
    message = detail.message
    out = output.console()
    rows = (
        ("ID", str(message.id)),
        ("Recipient", Text(message.recipient)),
        ("Template", message.template.value),
        ("Event", str(message.event_id) if message.event_id else "-"),
        ("Status", message.status.value),
        ("Attempts", str(message.attempts)),
        ("Next attempt", output.time_text(message.next_attempt_at)),
        ("Last error", Text(message.last_error or "-")),
        ("Message-ID", Text(message.provider_message_id or "-")),
        ("Sent", output.time_text(message.sent_at)),
        ("Resend of", str(message.resend_of) if message.resend_of else "-"),
        ("Created", output.rfc3339(message.created_at)),
    )
    out.print(output.fields_table(f"Mail message {message.id}", rows))
    if not detail.attempts:
        out.print("No attempts yet.")
        return
    attempts = output.list_table("Attempts, first first")
    attempts.add_column("#", justify="right", no_wrap=True)
    attempts.add_column("At", no_wrap=True)
    attempts.add_column("Latency", justify="right", no_wrap=True)
    attempts.add_column("Error", overflow="fold")
    for attempt in detail.attempts:
        attempts.add_row(
            str(attempt.number),
            output.rfc3339(attempt.at),
            f"{attempt.latency_ms} ms",
            Text(attempt.error or "-"),
        )
    out.print(attempts)


# --- messages ------------------------------------------------------------------------------


@app.command("list")
def list_command(
    *,
    status: Annotated[
        MailStatus | None, typer.Option(case_sensitive=False, help="Only messages in this state.")
    ] = None,
    template: Annotated[
        MailTemplate | None, typer.Option(case_sensitive=False, help="Only this email.")
    ] = None,
    recipient: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Only messages to this address.")
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """List the emails Orderly sent or is sending, newest first, a page at a time.

    A message is pending (waiting for its next attempt), sent (the SMTP server accepted it)
    or dead (every attempt failed, or the server refused it for good). When older messages
    follow, the next page's cursor is printed; pass it back with --cursor. With --json:
    {"items": [...], "next_cursor": ...}.

    \b
    Examples:
      orderly mail list --status dead
      orderly mail list --recipient ann@example.com --template order_placed
    """
    query = MailQuery(
        limit=limit, cursor=cursor, status=status, template=template, recipient=recipient
    )
    ctx = operator_context()
    page = run_use_case(lambda deps: list_mail(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, message_json))
    else:
        _show_page(page)


@app.command("show")
def show_command(message_id: MessageId, as_json: AsJson = False) -> None:
    """Show one message with every attempt made of it: time, latency, error.

    With --json: the message with "data" (its template's variables) and "attempt_log".

    \b
    Example:
      orderly mail show 7c1d9e2a-4b3f-4e8a-9a61-5d2c0b7e3f18
    """
    ctx = operator_context()
    detail = run_use_case(lambda deps: get_mail(deps, ctx, message_id), as_json=as_json)
    if as_json:
        output.print_json(detail_json(detail))
    else:
        _show_detail(detail)


@app.command("resend")
def resend_command(
    message_id: MessageId,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Send a message again, whether it was sent, is dead or still pending.

    A new pending message to the same recipient, with the same content, is made; Orderly's
    worker sends it, and the old one stays as it was. An email that carried a single-use
    link (a password reset, a verification) is not sent again: send a new link instead
    (`orderly users send-reset`). With --json: {"applied": ..., "message": {...}}.

    \b
    Example:
      orderly mail resend 7c1d9e2a-4b3f-4e8a-9a61-5d2c0b7e3f18
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    again = run_idempotent_use_case(
        lambda deps: resend_mail(deps, ctx, message_id), as_json=as_json
    )
    if as_json:
        output.print_json({"applied": ctx.applies_changes, "message": message_json(again)})
    elif ctx.applies_changes:
        output.console().print(
            f"The email will be sent again to {again.recipient} as message {again.id}; "
            "Orderly's worker sends it."
        )
    else:
        output.not_applied(f"The email would be sent again to {again.recipient}.")


# --- the development catcher's inbox -------------------------------------------------------


def catcher_folder(given: Path | None) -> Path:
    """Where the catcher keeps mail: ``--dir``, else the running ``orderly dev``'s, else
    MAIL_CATCHER_DIR (``.orderly/mail``)."""
    if given is not None:
        return given
    stack = running_dev_stack()
    if stack is not None and isinstance(stack.get("mail_dir"), str):
        return Path(stack["mail_dir"])
    return MailSettings().mail_catcher_dir


def _caught_json(number: int, mail: CaughtMail, *, full: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "number": number,
        "file": str(mail.path),
        "received_at": output.rfc3339(mail.received_at),
        "from": mail.sender,
        "to": mail.recipient,
        "subject": mail.subject,
        "message_id": mail.message_id,
    }
    if full:
        document |= {"text": mail.text, "html": mail.html}
    return document


@app.command("inbox")
def inbox_command(
    number: Annotated[
        int | None,
        typer.Argument(metavar="[N]", min=1, help="Show email number N in full (1: oldest)."),
    ] = None,
    *,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", metavar="DIR", help="Read this folder instead of the catcher's."),
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="With N: print the HTML part.")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Delete every caught email.")] = False,
    as_json: AsJson = False,
) -> None:
    """The emails the local mail catcher of `orderly dev` caught: nothing leaves your
    machine, and a reset link in one works against your local stack.

    Without N: one line per email, oldest first. With N: that email in full, its plain-text
    part (or --html). --clear empties the inbox. With --json: {"folder": ..., "items":
    [...]}, or the one email with its "text" and "html".

    \b
    Examples:
      orderly mail inbox
      orderly mail inbox 3
    """
    folder = catcher_folder(directory)
    if clear:
        count = len(inbox(folder))
        if folder.is_dir():
            shutil.rmtree(folder)
            folder.mkdir(parents=True)
        if as_json:
            output.print_json({"folder": str(folder), "deleted": count})
        else:
            output.console().print(f"Deleted {count} email(s) from {folder}.")
        return
    caught = inbox(folder)
    if number is not None:
        if number > len(caught):
            typer.echo(f"error: the inbox holds {len(caught)} email(s), not {number}", err=True)
            raise typer.Exit(1)
        mail = caught[number - 1]
        if as_json:
            output.print_json(_caught_json(number, mail, full=True))
            return
        header = f"From: {mail.sender}\nTo: {mail.recipient}\nSubject: {mail.subject}\n"
        typer.echo(header + f"Date: {output.rfc3339(mail.received_at)}\n")
        typer.echo(mail.html if html else mail.text)
        return
    if as_json:
        items = [_caught_json(n, mail, full=False) for n, mail in enumerate(caught, 1)]
        output.print_json({"folder": str(folder), "items": items})
        return
    out = output.console()
    if not caught:
        out.print(f"No email caught yet (in {folder}).")
        return
    table = output.list_table(f"{len(caught)} email(s) in {folder}, oldest first")
    table.add_column("N", justify="right", no_wrap=True)
    table.add_column("Received", no_wrap=True)
    table.add_column("To", overflow="fold")
    table.add_column("Subject", overflow="fold")
    for n, mail in enumerate(caught, 1):
        table.add_row(
            str(n), output.rfc3339(mail.received_at), Text(mail.recipient), Text(mail.subject)
        )
    out.print(table)
    out.print("Show one in full: orderly mail inbox N")
