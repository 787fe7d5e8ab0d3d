"""Password reset and email verification links, on the fakes and on PostgreSQL: a link works
once, expires, names the address it was mailed to, and its token is stored only hashed (and
in the pending message, until it is sent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from orderly_core.accounts.errors import (
    AccountDeactivated,
    InvalidCredentials,
    NotSignedIn,
    RefreshRejected,
    TokenRejected,
)
from orderly_core.accounts.mailed_links import (
    PasswordReset,
    request_password_reset,
    resend_verification,
    reset_password,
    send_password_reset,
    verify_email,
)
from orderly_core.accounts.profile import ProfileChanges, update_profile
from orderly_core.accounts.sessions import Credentials, log_in, refresh_session
from orderly_core.audit.use_cases import list_audit
from orderly_core.mail.model import MailMessage, MailStatus, MailTemplate
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor
from orderly_core.shared.errors import Forbidden
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.accounts.helpers import PASSWORD, as_user, registered
from tests.core.helpers import CUSTOMER, ctx, err, fresh, ok
from tests.core.mail.helpers import messages

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def shop(deps: Dependencies, clock: FixedClock) -> Dependencies:
    return replace(deps, clock=clock)


async def mailed(deps: Dependencies, template: MailTemplate) -> list[MailMessage]:
    return [m for m in await messages(deps) if m.template is template]


async def last_token(deps: Dependencies, template: MailTemplate) -> str:
    found = await mailed(deps, template)
    assert found, f"no {template} was mailed"
    assert found[-1].secret is not None
    return found[-1].secret


async def test_signing_up_mails_a_verification_link_that_works_once(shop: Dependencies) -> None:
    ann = await registered(shop)
    token = await last_token(shop, MailTemplate.VERIFY_EMAIL)

    ok(await verify_email(shop, ctx(Actor.anonymous()), token))
    again = await verify_email(shop, ctx(Actor.anonymous()), token)

    assert err(again) == TokenRejected()
    async with shop.unit_of_work() as uow:
        verified = await uow.users.get(ann.id)
    assert verified is not None
    assert verified.email_verified_at is not None
    [message] = await mailed(shop, MailTemplate.VERIFY_EMAIL)
    assert message.recipient == "ann@example.com"
    assert token not in str(message.data)  # the variables never hold the token


async def test_a_reset_link_sets_the_password_once_and_ends_every_session(
    shop: Dependencies,
) -> None:
    await registered(shop)
    session = ok(await log_in(shop, ctx(), Credentials("ann@example.com", PASSWORD)))
    ok(await request_password_reset(shop, ctx(Actor.anonymous()), " ANN@example.com "))
    token = await last_token(shop, MailTemplate.PASSWORD_RESET)

    ok(await reset_password(shop, ctx(Actor.anonymous()), PasswordReset(token, NEW_PASSWORD)))
    replayed = await reset_password(shop, ctx(), PasswordReset(token, "yet another passphrase"))

    assert err(replayed) == TokenRejected()
    assert err(await refresh_session(shop, ctx(), session.refresh_token)) == RefreshRejected()
    assert err(await log_in(shop, ctx(), Credentials("ann@example.com", PASSWORD))) == (
        InvalidCredentials()
    )
    signed_in = ok(await log_in(shop, ctx(), Credentials("ann@example.com", NEW_PASSWORD)))
    assert signed_in.user.email_verified_at is not None  # the link proved the mailbox


async def test_an_expired_reset_link_is_refused(shop: Dependencies, clock: FixedClock) -> None:
    await registered(shop)
    ok(await request_password_reset(shop, ctx(Actor.anonymous()), "ann@example.com"))
    token = await last_token(shop, MailTemplate.PASSWORD_RESET)

    clock.advance(timedelta(minutes=30, seconds=1))

    refused = await reset_password(shop, ctx(), PasswordReset(token, NEW_PASSWORD))
    assert err(refused) == TokenRejected()
    ok(await log_in(shop, ctx(), Credentials("ann@example.com", PASSWORD)))


async def test_a_refused_new_password_leaves_the_link_usable(shop: Dependencies) -> None:
    await registered(shop)
    ok(await request_password_reset(shop, ctx(Actor.anonymous()), "ann@example.com"))
    token = await last_token(shop, MailTemplate.PASSWORD_RESET)

    short = await reset_password(shop, ctx(), PasswordReset(token, "short"))

    assert err(short).code == "invalid_input"
    ok(await reset_password(shop, ctx(), PasswordReset(token, NEW_PASSWORD)))


async def test_a_newer_reset_link_replaces_the_older_one(
    shop: Dependencies, clock: FixedClock
) -> None:
    await registered(shop)
    for _ in range(2):
        clock.advance(timedelta(seconds=1))
        ok(await request_password_reset(shop, ctx(Actor.anonymous()), "ann@example.com"))
    first, second = [m.secret for m in await mailed(shop, MailTemplate.PASSWORD_RESET)]
    assert first is not None
    assert second is not None

    assert err(await reset_password(shop, ctx(), PasswordReset(first, NEW_PASSWORD))) == (
        TokenRejected()
    )
    ok(await reset_password(shop, ctx(), PasswordReset(second, NEW_PASSWORD)))


@pytest.mark.parametrize(
    "email", ["nobody@example.com", "not an email", "\x00@example.com", "x" * 5000]
)
async def test_asking_for_a_reset_of_an_unknown_email_answers_the_same_and_mails_nobody(
    shop: Dependencies, email: str
) -> None:
    await registered(shop)
    before = len(await messages(shop))

    assert ok(await request_password_reset(shop, ctx(Actor.anonymous()), email)) is None
    assert len(await messages(shop)) == before


@pytest.mark.parametrize("token", ["", "x" * 10_000, "\x00", "not-a-token", "é" * 43])
async def test_tokens_that_were_never_issued_are_refused(shop: Dependencies, token: str) -> None:
    await registered(shop)
    assert err(await reset_password(shop, ctx(), PasswordReset(token, NEW_PASSWORD))) == (
        TokenRejected()
    )
    assert err(await verify_email(shop, ctx(), token)) == TokenRejected()


async def test_a_reset_token_does_not_verify_and_a_verification_token_does_not_reset(
    shop: Dependencies, clock: FixedClock
) -> None:
    await registered(shop)
    clock.advance(timedelta(seconds=1))
    ok(await request_password_reset(shop, ctx(Actor.anonymous()), "ann@example.com"))
    reset = await last_token(shop, MailTemplate.PASSWORD_RESET)
    verify = await last_token(shop, MailTemplate.VERIFY_EMAIL)

    assert err(await verify_email(shop, ctx(), reset)) == TokenRejected()
    assert err(await reset_password(shop, ctx(), PasswordReset(verify, NEW_PASSWORD))) == (
        TokenRejected()
    )


async def test_a_changed_email_is_unverified_and_the_old_address_is_told(
    shop: Dependencies, clock: FixedClock
) -> None:
    ann = await registered(shop)
    ok(await verify_email(shop, ctx(), await last_token(shop, MailTemplate.VERIFY_EMAIL)))
    old_link = await last_token(shop, MailTemplate.VERIFY_EMAIL)
    clock.advance(timedelta(seconds=1))

    changed = ok(await update_profile(shop, as_user(ann), ProfileChanges(email="ann@new.example")))

    assert changed.email_verified_at is None
    [told] = await mailed(shop, MailTemplate.EMAIL_CHANGED)
    assert told.recipient == "ann@example.com"
    assert told.data["new_email"] == "ann@new.example"
    new_link = await last_token(shop, MailTemplate.VERIFY_EMAIL)
    assert (await mailed(shop, MailTemplate.VERIFY_EMAIL))[-1].recipient == "ann@new.example"
    assert err(await verify_email(shop, ctx(), old_link)) == TokenRejected()
    ok(await verify_email(shop, ctx(), new_link))


async def test_a_reset_link_mailed_before_an_email_change_no_longer_works(
    shop: Dependencies,
) -> None:
    ann = await registered(shop)
    ok(await request_password_reset(shop, ctx(Actor.anonymous()), "ann@example.com"))
    token = await last_token(shop, MailTemplate.PASSWORD_RESET)
    ok(await update_profile(shop, as_user(ann), ProfileChanges(email="ann@new.example")))

    assert err(await reset_password(shop, ctx(), PasswordReset(token, NEW_PASSWORD))) == (
        TokenRejected()
    )


async def test_asking_again_for_a_verification_link(shop: Dependencies, clock: FixedClock) -> None:
    ann = await registered(shop)
    clock.advance(timedelta(seconds=1))

    sent = ok(await resend_verification(shop, as_user(ann)))
    ok(await verify_email(shop, ctx(), await last_token(shop, MailTemplate.VERIFY_EMAIL)))
    not_again = ok(await resend_verification(shop, as_user(ann)))

    assert (sent, not_again) == (True, False)
    assert len(await mailed(shop, MailTemplate.VERIFY_EMAIL)) == 2
    assert err(await resend_verification(shop, ctx(Actor.anonymous()))) == NotSignedIn()


async def test_support_sends_a_reset_link_audited_without_the_token(
    shop: Dependencies, clock: FixedClock
) -> None:
    ann = await registered(shop)
    clock.advance(timedelta(seconds=1))

    sent = fresh(await send_password_reset(shop, ctx(), "ANN@example.com"))
    refused = await send_password_reset(shop, ctx(CUSTOMER), "ann@example.com")

    assert isinstance(err(refused), Forbidden)
    assert (sent.user_id, sent.email) == (ann.id, "ann@example.com")
    token = await last_token(shop, MailTemplate.PASSWORD_RESET)
    page = ok(await list_audit(shop, ctx(), AuditQuery(target_id=str(ann.id))))
    operations = [entry.operation for entry in page.items]
    assert "user.send_password_reset" in operations
    assert token not in str(page.items)


async def test_no_reset_link_for_a_deactivated_account(shop: Dependencies) -> None:
    from orderly_core.accounts.administration import ActiveChange, set_active

    await registered(shop)
    ok(await set_active(shop, ctx(), ActiveChange("ann@example.com", active=False)))

    ok(await request_password_reset(shop, ctx(Actor.anonymous()), "ann@example.com"))

    assert await mailed(shop, MailTemplate.PASSWORD_RESET) == []
    assert err(await send_password_reset(shop, ctx(), "ann@example.com")) == AccountDeactivated()


async def test_a_dry_run_mails_nothing(shop: Dependencies) -> None:
    from orderly_core.shared.context import Mode

    await registered(shop)
    before = len(await messages(shop))
    fresh(await send_password_reset(shop, ctx(mode=Mode.DRY_RUN), "ann@example.com"))
    assert len(await messages(shop)) == before
    assert all(m.status is MailStatus.PENDING for m in await messages(shop))


async def test_a_shop_may_keep_unverified_customers_from_ordering(shop: Dependencies) -> None:
    from orderly_core.mail.model import MailPolicy
    from orderly_core.orders.errors import EmailNotVerified
    from orderly_core.orders.placement import LineRequest, NewOrder, place_order
    from tests.core.helpers import make_product

    strict = replace(shop, mail=MailPolicy(unverified_may_order=False))
    await make_product(strict, "MUG-1", on_hand=5)
    ann = await registered(strict)
    new = NewOrder((LineRequest("MUG-1", 1),))

    refused = await place_order(strict, as_user(ann), new)
    by_staff = await place_order(strict, ctx(), replace(new, customer_id=str(ann.id)))
    ok(await verify_email(strict, ctx(), await last_token(strict, MailTemplate.VERIFY_EMAIL)))
    placed = await place_order(strict, as_user(ann), new)

    assert err(refused) == EmailNotVerified()
    fresh(by_staff)  # staff and operators order for anyone
    fresh(placed)
    fresh(await place_order(shop, as_user(ann), new))  # by default, unverified customers order
