"""One account per mailbox, however its address is written, and no account whose address is
made to look like another's: on the fakes and on PostgreSQL."""

from __future__ import annotations

import pytest
from returns.result import Result

from orderly_core.accounts.errors import EmailTaken, InvalidCredentials
from orderly_core.accounts.model import User, normalise_email
from orderly_core.accounts.registration import Registration, register
from orderly_core.accounts.sessions import Credentials, log_in
from orderly_core.shared.context import Actor
from orderly_core.shared.errors import InvalidInput
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, err, ok

pytestmark = pytest.mark.postgres

PASSWORD = "a long passphrase"
ANONYMOUS = ctx(Actor.anonymous())


async def _sign_up(deps: Dependencies, email: str) -> Result[User, InvalidInput | EmailTaken]:
    return await register(deps, ANONYMOUS, Registration(email, PASSWORD, "Someone"))


@pytest.mark.parametrize(
    "email",
    [
        "\u0430dmin@example.com",  # a Cyrillic a among Latin letters
        "admin@ex\u0430mple.com",  # ... in the domain
        "ADM\u0130N@example.com",  # a Turkish dotted capital I: i and a combining dot
        "ad\u00admin@example.com",  # a soft hyphen
        "ad\u200bmin@example.com",  # a zero-width space
        "admin\u200d@example.com",  # a zero-width joiner
        "\u202eadmin@example.com",  # a right-to-left override
        "ad\u0007min@example.com",  # a control character
        "admin@xn--dmin-5cd.com",  # a look-alike written as its A-label
    ],
)
async def test_look_alike_addresses_are_refused(deps: Dependencies, email: str) -> None:
    ok(await _sign_up(deps, "admin@example.com"))

    refused = await _sign_up(deps, email)
    signed_in = await log_in(deps, ANONYMOUS, Credentials(email, PASSWORD))

    invalid = err(refused)
    assert isinstance(invalid, InvalidInput)
    assert [error.field for error in invalid.errors] == ["email"]
    assert err(signed_in) == InvalidCredentials()


@pytest.mark.parametrize(
    "written",
    [
        "ADMIN@EXAMPLE.COM",
        "\uff41\uff44\uff4d\uff49\uff4e@example.com",  # fullwidth letters
        " admin@Example.com ",
        "admin@example\u2024com",  # a one-dot leader is a compatibility form of '.'
    ],
)
async def test_one_mailbox_written_differently_is_one_account(
    deps: Dependencies, written: str
) -> None:
    ok(await _sign_up(deps, "admin@example.com"))

    assert err(await _sign_up(deps, written)) == EmailTaken("admin@example.com")
    assert ok(await log_in(deps, ANONYMOUS, Credentials(written, PASSWORD))).user.email == (
        "admin@example.com"
    )


async def test_an_internationalised_domain_is_kept_in_ascii_and_matches_either_spelling(
    deps: Dependencies,
) -> None:
    user = ok(await _sign_up(deps, "Jos\u00e9@B\u00fccher.de"))

    assert user.email == "jos\u00e9@xn--bcher-kva.de"
    assert err(await _sign_up(deps, "jos\u00e9@xn--bcher-kva.de")) == EmailTaken(user.email)
    ok(await log_in(deps, ANONYMOUS, Credentials("jose\u0301@b\u00fccher.de", PASSWORD)))


@pytest.mark.parametrize(
    "email",
    [
        "\u03c0\u03ad\u03c4\u03c1\u03bf\u03c2@\u03c0\u03b1\u03c1\u03ac\u03b4\u03b5\u03b9\u03b3\u03bc\u03b1.gr",
        "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a",
        "\u30e6\u30fc\u30b6\u30fc\u540d@example.jp",  # Katakana and Han
        "first.last+tag@sub.example.co.uk",
        "o'brien_99@exa_mple.com",  # ASCII stays as lenient as it was
    ],
)
async def test_addresses_in_one_script_are_accepted(deps: Dependencies, email: str) -> None:
    user = ok(await _sign_up(deps, email))

    assert user.email == normalise_email(email)
    ok(await log_in(deps, ANONYMOUS, Credentials(email, PASSWORD)))
