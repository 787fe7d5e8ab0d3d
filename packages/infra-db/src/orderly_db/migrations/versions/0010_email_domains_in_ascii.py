"""Accounts' email domains in their ASCII (IDNA) form.

Emails are now compared with the domain in ASCII (``bücher.de`` is ``xn--bcher-kva.de``):
stored emails with a domain outside ASCII are rewritten so that their accounts still sign in.
An email whose rewritten form another account already holds is left as it is.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACE = "xn--"


def _to_ascii(label: str) -> str:
    return label if label.isascii() else _ACE + label.encode("punycode").decode("ascii")


def _to_unicode(label: str) -> str:
    if not label.startswith(_ACE):
        return label
    try:
        return label[len(_ACE) :].encode("ascii").decode("punycode")
    except UnicodeError:
        return label


def _rewrite_domains(convert: Callable[[str], str], where: str) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"select id, email from users where {where}")).all()  # noqa: S608 - a fixed condition
    taken = set(connection.execute(sa.text("select email from users")).scalars())
    for user_id, email in rows:
        local, _, domain = email.rpartition("@")
        rewritten = f"{local}@{'.'.join(convert(label) for label in domain.split('.'))}"
        if rewritten == email or rewritten in taken or len(rewritten) > 254:
            continue
        connection.execute(
            sa.text("update users set email = :email where id = :id"),
            {"email": rewritten, "id": user_id},
        )
        taken.add(rewritten)


def upgrade() -> None:
    _rewrite_domains(_to_ascii, r"split_part(email, '@', 2) ~ '[^\x01-\x7f]'")


def downgrade() -> None:
    _rewrite_domains(_to_unicode, "email like '%@%xn--%'")
