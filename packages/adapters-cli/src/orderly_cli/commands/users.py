"""``orderly users``: accounts, for operators.

The first admin of a shop is created here, and an operator can always repair the accounts
from the command line: list them, change a role, deactivate or reactivate someone. Each
command builds the operator's context, runs one account use case and prints the outcome.
Who may do what, password rules and the last-admin rule all live in the core.

A password is taken from a hidden prompt (asked twice) or from the first line of stdin; it
is never printed, and neither is its hash: users are shown through ``user_view``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from orderly_cli import output
from orderly_cli.options import (
    AsJson,
    Cursor,
    DryRun,
    IdempotencyKey,
    Limit,
    Wide,
    command_group,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.accounts.administration import (
    ActiveChange,
    RoleChange,
    list_users,
    set_active,
    set_role,
)
from orderly_core.accounts.mailed_links import send_password_reset
from orderly_core.accounts.model import DISPLAY_NAME_MAX, User, UserQuery, user_view
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.shared.context import Role
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT, Page

app = command_group(
    "Accounts: create the first admin, list users, change roles, deactivate and "
    "reactivate, mail a password reset link.\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. They act as the operator (your OS user), who may manage "
    "every account. Writes take --dry-run (check everything, show the result, change "
    "nothing); every command takes --json for scripts. Passwords and password hashes are "
    "never shown."
)

UserRef = Annotated[
    str, typer.Argument(metavar="USER", help="The user's id, or their email (any case).")
]


# --- presentation --------------------------------------------------------------------------


def user_json(user: User) -> dict[str, Any]:
    """A user as the HTTP API shows one; built from ``user_view``, so never the hash."""
    return output.json_view(user_view(user))


def _show_user(user: User, *, title: str) -> None:
    view = user_json(user)
    rows = (
        ("ID", view["id"]),
        ("Email", view["email"]),
        ("Display name", view["display_name"]),
        ("Role", view["role"]),
        ("Active", "yes" if user.active else "no"),
        ("Created", view["created_at"]),
        ("Updated", view["updated_at"]),
    )
    output.console().print(output.fields_table(title, ((f, str(v)) for f, v in rows)))


_show_written: output.WriteOutcome[User] = output.WriteOutcome(
    "user", lambda user: f"User {user.email}", user_json, _show_user
)
"""The user a write produced."""


def _show_page(page: Page[User], *, wide: bool = False) -> None:
    """Users by email, with their id whole; ``wide`` adds their display names."""
    out = output.console(wide=wide)
    if not page.items:
        out.print("No users.")
    else:
        table = output.list_table(f"{len(page.items)} user(s)")
        table.add_column("Email", overflow="fold")
        table.add_column("Role", no_wrap=True)
        table.add_column("Active", no_wrap=True)
        output.add_id_column(table)
        if wide:
            table.add_column("Display name", overflow="fold")
        for user in page.items:
            active = "yes" if user.active else "no"
            cells = [Text(user.email), user.role.value, active, str(user.id)]
            table.add_row(*cells, *((Text(user.display_name),) if wide else ()))
        out.print(table)
    if page.next_cursor:
        out.print(f"More users follow: --cursor {page.next_cursor}")


# --- reading a password ----------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin (without its line break), or a hidden
    prompt asked twice. Prompts go to stderr so that ``--json`` output stays one document."""
    if not from_stdin:
        password: str = typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True
        )
        return password
    line = typer.get_text_stream("stdin").readline()
    if not line:
        raise typer.BadParameter(
            "stdin is empty: give the password on its first line", param_hint="'--password-stdin'"
        )
    return line.removesuffix("\n").removesuffix("\r")


# --- commands ------------------------------------------------------------------------------


@app.command("create-admin")
def create_admin_command(
    *,
    email: Annotated[
        str, typer.Option(metavar="EMAIL", help="The admin's email (unique, any case).")
    ],
    display_name: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=f"1-{DISPLAY_NAME_MAX} characters; defaults to the part of the email before @.",
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of stdin instead of prompting.",
        ),
    ] = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Create an active admin account, for instance the shop's first one.

    Without --password-stdin the password is asked twice at a hidden prompt; with it, the
    first line of stdin is the password (its line break removed). A password has 10-256
    characters and is not the email. An email already in use (in any case) is refused.
    Neither the password nor its hash is ever printed.

    \b
    Examples:
      orderly users create-admin --email ada@example.com --display-name "Ada Lovelace"
      printf '%s\\n' "$ADMIN_PASSWORD" | orderly users create-admin --email ada@example.com --password-stdin
    """  # noqa: E501
    password = _read_password(password_stdin)
    name = display_name if display_name is not None else email.strip().partition("@")[0]
    new = NewUser(email, password, name[:DISPLAY_NAME_MAX], Role.ADMIN)
    ctx = operator_context(dry_run=dry_run)
    user = run_use_case(lambda deps: create_user(deps, ctx, new), as_json=as_json)
    _show_written(user, applied=ctx.applies_changes, done="created", as_json=as_json)


@app.command("list")
def list_command(
    *,
    role: Annotated[
        Role | None, typer.Option(case_sensitive=False, help="Only users with this role.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Only active, or only deactivated, users."),
    ] = None,
    email_prefix: Annotated[
        str | None,
        typer.Option(metavar="PREFIX", help="Only users whose email starts with PREFIX."),
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    wide: Wide = False,
    as_json: AsJson = False,
) -> None:
    """List users in email order, a page at a time.

    Shows each user's email, role, active flag and id (--wide adds the display name). When
    more users follow, the next page's cursor is printed; pass it back with --cursor. With
    --json: {"items": [...], "next_cursor": ...}.

    \b
    Example:
      orderly users list --role admin --active --email-prefix ada
    """
    query = UserQuery(
        limit=limit, cursor=cursor, role=role, active=active, email_prefix=email_prefix
    )
    ctx = operator_context()
    page = run_use_case(lambda deps: list_users(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, user_json))
    else:
        _show_page(page, wide=wide)


@app.command("set-role")
def set_role_command(
    user: UserRef,
    role: Annotated[
        Role,
        typer.Argument(case_sensitive=False, metavar="ROLE", help="customer, staff or admin."),
    ],
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Give a user another role: customer, staff or admin.

    Staff and admins manage the catalogue; admins also manage accounts. The last active
    admin cannot be demoted: make another admin first. Giving a user the role they have
    changes nothing.

    \b
    Examples:
      orderly users set-role grace@example.com staff
      orderly users set-role 0b5e4c1e-8d2a-4f57-9c61-3f1f3b2a7d10 admin --dry-run
    """
    change = RoleChange(user, role)
    ctx = operator_context(dry_run=dry_run)
    changed = run_use_case(lambda deps: set_role(deps, ctx, change), as_json=as_json)
    done = f"given the role {changed.role.value}"
    _show_written(changed, applied=ctx.applies_changes, done=done, as_json=as_json)


def _set_active(user: str, *, active: bool, dry_run: bool, as_json: bool) -> None:
    change = ActiveChange(user, active)
    ctx = operator_context(dry_run=dry_run)
    changed = run_use_case(lambda deps: set_active(deps, ctx, change), as_json=as_json)
    done = "reactivated" if active else "deactivated"
    _show_written(changed, applied=ctx.applies_changes, done=done, as_json=as_json)


@app.command("deactivate")
def deactivate_command(user: UserRef, dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Deactivate a user: they can no longer sign in, and every session of theirs ends at once.

    The account and its history stay; `reactivate` lets them sign in again. The last active
    admin cannot be deactivated. Deactivating an inactive user changes nothing.

    \b
    Example:
      orderly users deactivate grace@example.com
    """
    _set_active(user, active=False, dry_run=dry_run, as_json=as_json)


@app.command("reactivate")
def reactivate_command(user: UserRef, dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Reactivate a deactivated user: they can sign in again (with their old password).

    Reactivating an active user changes nothing.

    \b
    Example:
      orderly users reactivate grace@example.com
    """
    _set_active(user, active=True, dry_run=dry_run, as_json=as_json)


@app.command("send-reset")
def send_reset_command(
    user: UserRef,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Mail a user a password reset link, for support: the customer who cannot sign in.

    The link goes to the account's own email (never to you), works once, for
    PASSWORD_RESET_TTL_MINUTES (30) minutes, and replaces any earlier link. Orderly's worker
    sends it; `orderly mail list --template password_reset` shows it. The account must be
    active. Audited as you. The token is never printed. With --json: {"applied": ...,
    "user_id": ..., "email": ..., "message_id": ..., "expires_at": ...}.

    \b
    Example:
      orderly users send-reset ann@example.com
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    sent = run_idempotent_use_case(
        lambda deps: send_password_reset(deps, ctx, user), as_json=as_json
    )
    document = {
        "user_id": str(sent.user_id),
        "email": sent.email,
        "message_id": str(sent.message_id),
        "expires_at": output.rfc3339(sent.expires_at),
    }
    if as_json:
        output.print_json({"applied": ctx.applies_changes} | document)
    elif ctx.applies_changes:
        output.console().print(
            f"A password reset link for {sent.email} is on its way (mail message "
            f"{sent.message_id}); it works until {document['expires_at']}."
        )
    else:
        output.not_applied(f"A password reset link would be mailed to {sent.email}.")
