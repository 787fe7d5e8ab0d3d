"""Emails from Jinja2 templates in files.

Each email is two templates named after it, ``<name>.txt`` (the plain-text part, which
also holds the subject in a ``subject`` block) and ``<name>.html`` (the HTML part,
autoescaped). Both extend ``base.txt`` / ``base.html``, which carry the shop's name, postal
address and support email. A folder named by ``MAIL_TEMPLATES_DIR`` is searched first, so a
shop replaces any template (or only the bases) by a file of the same name.

Every template sees ``shop`` (name, address, support_email), the message's own variables
(``order``, ``shipment``, ``refund``, ``return``, ``display_name``...), and, for the emails
that carry a link, ``link``: the storefront's page with ``?token=...`` appended. A variable
a template names but the message lacks is an error (the message is dead, not sent half
written). Money is written with :func:`money`: ``{{ money(order.total, order.currency) }}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jinja2

from orderly_core.mail.model import MailTemplate, OutgoingMail, RenderedMail
from orderly_core.shared.money import MINOR_UNIT_EXPONENTS, Money
from orderly_mail.settings import MailSettings

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}
SUBJECT_MAX = 200


def money(amount: int, currency: str) -> str:
    """``amount`` minor units of ``currency`` as people read it: ``€12.50``, ``¥1250``,
    ``12.500 KWD`` (the currency's own number of decimals)."""
    code = str(currency).upper()
    if code not in MINOR_UNIT_EXPONENTS or not isinstance(amount, int):
        raise ValueError(f"not an amount of money: {amount!r} {currency!r}")
    major = Money(amount, code).format_major()
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{major}" if symbol else f"{major} {code}"


def _date(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%d %B %Y, %H:%M UTC")


def with_token(base: str, token: str) -> str:
    """``base`` with ``token=...`` added to its query."""
    parts = urlsplit(base)
    query = "&".join(filter(None, [parts.query, urlencode({"token": token})]))
    return urlunsplit(parts._replace(query=query))


class TemplateRenderer:
    """Renders Orderly's emails (see the module's description)."""

    def __init__(self, settings: MailSettings) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if settings.mail_templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(settings.mail_templates_dir))
        loaders.append(jinja2.PackageLoader("orderly_mail", "templates"))
        self._environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._environment.globals["money"] = money
        self._environment.filters["date"] = _date
        self._shop = {
            "name": settings.shop_name,
            "address": settings.shop_address,
            "support_email": settings.support_address,
        }
        self._links = {
            MailTemplate.PASSWORD_RESET: settings.password_reset_url,
            MailTemplate.VERIFY_EMAIL: settings.email_verification_url,
        }

    def variables(self, mail: OutgoingMail) -> dict[str, Any]:
        found: dict[str, Any] = {**mail.data, "shop": self._shop, "recipient": mail.recipient}
        if mail.template.carries_token:
            if not mail.secret:
                raise ValueError(f"{mail.template.value} carries a link, and its token is gone")
            found["link"] = with_token(self._links[mail.template], mail.secret)
        return found

    def render(self, mail: OutgoingMail) -> RenderedMail:
        variables = self.variables(mail)
        try:
            text_template = self._environment.get_template(f"{mail.template.value}.txt")
            html_template = self._environment.get_template(f"{mail.template.value}.html")
            context = text_template.new_context(variables)
            subject = "".join(text_template.blocks["subject"](context))
            text = text_template.render(variables)
            html = html_template.render(variables)
        except (jinja2.TemplateError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{mail.template.value}: {type(error).__name__}: {error}") from None
        subject = " ".join(subject.split())[:SUBJECT_MAX]
        return RenderedMail(mail.id, mail.recipient, subject, text, html)
