"""Every template rendered for every email a real story makes, both parts: the facts each
email must tell, the shop's details, autoescaped HTML, money per currency, and customised
templates."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from orderly_core.mail.model import MailMessage, MailTemplate, OutgoingMail
from orderly_core.mail.sending import outgoing
from orderly_mail.rendering import TemplateRenderer, money, with_token
from orderly_mail.settings import MailSettings
from tests.mail.lifecycle import DISPLAY_NAME, TRACKING, story

SHOP = MailSettings(
    shop_name="Mugs & Co",
    shop_address="1 Quay Street, Dublin",
    support_email="help@mugs.example",
    password_reset_url="https://shop.example/reset?from=mail",
    email_verification_url="https://shop.example/verify",
)
TOKEN = "tok_" + "A" * 39


@pytest.fixture(scope="module")
def messages() -> list[MailMessage]:
    import asyncio

    _, found = asyncio.run(story())
    return [
        _with_token(message) if message.template.carries_token else message for message in found
    ]


def _with_token(message: MailMessage) -> MailMessage:
    from dataclasses import replace

    return replace(message, secret=TOKEN)


def test_the_story_makes_every_email_orderly_sends(messages: list[MailMessage]) -> None:
    assert {m.template for m in messages} == set(MailTemplate)


@pytest.mark.parametrize("template", list(MailTemplate))
def test_every_template_renders_both_parts_with_the_shop(
    messages: list[MailMessage], template: MailTemplate
) -> None:
    renderer = TemplateRenderer(SHOP)
    for message in (m for m in messages if m.template is template):
        mail = renderer.render(outgoing(message))

        assert mail.subject
        assert "\n" not in mail.subject
        assert mail.recipient == message.recipient
        for part in (mail.text, html.unescape(mail.html)):
            assert "Mugs & Co" in part
            assert "1 Quay Street, Dublin" in part
            assert "help@mugs.example" in part
        assert "<script" not in mail.html
        assert mail.html.lstrip().startswith("<!DOCTYPE html>")
        _tells_its_facts(message, mail.subject, mail.text)
        _tells_its_facts(message, mail.subject, html.unescape(mail.html))


def _tells_its_facts(message: MailMessage, subject: str, body: str) -> None:
    data = message.data
    order = data.get("order")
    if order is not None:
        assert order["id"] in body
        assert order["id"][:8] in subject
    match message.template:
        case MailTemplate.ORDER_PLACED:
            assert "€45.50" in body  # 3 x 12.50 + 2 x 4.00
            assert "€37.50" in body  # the mugs' line
            assert "Berlin" in body
        case MailTemplate.ORDER_PAID:
            assert "€45.50" in body
        case MailTemplate.SHIPMENT_CREATED:
            assert TRACKING.carrier in body
            assert TRACKING.tracking_number in body
            assert str(TRACKING.tracking_url) in body
        case MailTemplate.REFUND_SUCCEEDED:
            assert "€12.50" in subject
            assert "€12.50" in body
        case MailTemplate.RETURN_APPROVED | MailTemplate.RETURN_RECEIVED:
            assert "MUG-1" in body
        case MailTemplate.PASSWORD_RESET:
            assert f"https://shop.example/reset?from=mail&token={TOKEN}" in body
            assert "30 minutes" in body
        case MailTemplate.VERIFY_EMAIL:
            assert f"https://shop.example/verify?token={TOKEN}" in body
            assert data["email"] in body
        case MailTemplate.EMAIL_CHANGED:
            assert data["old_email"] in body
            assert data["new_email"] in body


def test_html_is_escaped_and_text_is_not(messages: list[MailMessage]) -> None:
    [changed] = [m for m in messages if m.template is MailTemplate.EMAIL_CHANGED]

    mail = TemplateRenderer(SHOP).render(outgoing(changed))

    assert DISPLAY_NAME in mail.text
    assert "Ann &lt;b&gt;O&#39;Hara&lt;/b&gt; &amp; Co" in mail.html
    assert "<b>O'Hara</b>" not in mail.html
    assert "Mugs &amp; Co" in mail.html


def test_an_email_whose_token_is_gone_is_not_rendered(messages: list[MailMessage]) -> None:
    from dataclasses import replace

    [reset] = [m for m in messages if m.template is MailTemplate.PASSWORD_RESET]

    with pytest.raises(ValueError, match="token is gone"):
        TemplateRenderer(SHOP).render(outgoing(replace(reset, secret=None)))


def test_a_variable_the_message_lacks_is_an_error_not_a_blank() -> None:
    lacking = OutgoingMail(
        __import__("uuid").uuid4(), "a@example.com", MailTemplate.ORDER_PAID, {}, None
    )
    with pytest.raises(ValueError, match="order"):
        TemplateRenderer(SHOP).render(lacking)


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        (1250, "EUR", "€12.50"),
        (5, "USD", "$0.05"),
        (99_999, "GBP", "£999.99"),
        (1250, "JPY", "¥1250"),
        (12_500, "KWD", "12.500 KWD"),
        (0, "SEK", "0.00 SEK"),
    ],
)
def test_money_is_written_per_currency(amount: int, currency: str, written: str) -> None:
    assert money(amount, currency) == written


@pytest.mark.parametrize(("amount", "currency"), [(1, "XXX"), ("12", "EUR"), (1.5, "EUR")])
def test_what_is_not_money_is_refused(amount: object, currency: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        money(amount, currency)  # type: ignore[arg-type]


def test_a_link_keeps_the_query_it_had() -> None:
    assert with_token("https://s.example/r?a=1", "t") == "https://s.example/r?a=1&token=t"
    assert with_token("https://s.example/r", "a b") == "https://s.example/r?token=a+b"


def test_a_shop_replaces_templates_with_its_own_files(
    messages: list[MailMessage], tmp_path: Path
) -> None:
    (tmp_path / "order_paid.txt").write_text(
        '{% extends "base.txt" %}{% block subject %}Paid: {{ order.id[:8] }}{% endblock %}'
        "{% block body %}Merci! {{ money(order.total, order.currency) }}{% endblock %}"
    )
    (tmp_path / "base.html").write_text(
        "<!DOCTYPE html><p>{{ shop.name }}</p>{% block body %}{% endblock %}"
    )
    custom = TemplateRenderer(SHOP.model_copy(update={"mail_templates_dir": tmp_path}))
    [paid] = [m for m in messages if m.template is MailTemplate.ORDER_PAID]

    mail = custom.render(outgoing(paid))

    assert mail.subject == f"Paid: {paid.data['order']['id'][:8]}"
    assert "Merci! €45.50" in mail.text
    assert mail.html.startswith("<!DOCTYPE html><p>Mugs &amp; Co</p>")
    assert "We received your payment" in mail.html  # order_paid.html: the built-in one


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMTP_STARTTLS", None),
        ("MAIL_FROM", "not an address"),
        ("MAIL_FROM", "a@b.example, c@d.example"),
        ("PASSWORD_RESET_URL", "javascript:alert(1)"),
        ("PASSWORD_RESET_URL", "https://shop.example/reset#frag"),
        ("SMTP_HOST", "mail.example.com\r\nRCPT TO:<x@y>"),
        ("SUPPORT_EMAIL", "Help <help@x.example>"),
    ],
)
def test_settings_refuse_what_cannot_work(variable: str, value: str | None) -> None:
    from pydantic import ValidationError

    fields = (
        {"smtp_starttls": True, "smtp_tls": True} if value is None else {variable.lower(): value}
    )
    with pytest.raises(ValidationError):
        MailSettings(**fields)
