"""Sending rendered emails over SMTP with aiosmtplib.

Each email is one connection: connect (implicit TLS or STARTTLS as configured), log in if
configured, send, quit, all within ``SMTP_TIMEOUT_S`` per step. The Message-ID is made from
the message's id, so an email sent again after a crash carries the same Message-ID and a
mail client shows it once. A 5xx answer refuses the email for good (no retry would help);
a 4xx answer, a refused connection or a timeout is tried again on Orderly's schedule.
Nothing of the body is logged.
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from orderly_core.mail.model import RenderedMail
from orderly_core.mail.ports import MailOutcome
from orderly_mail.settings import MailSettings

ERROR_MAX = 300


def message_id(mail: RenderedMail, domain: str) -> str:
    return f"<{mail.id}@{domain or 'orderly.invalid'}>"


class SmtpSender:
    """The :class:`~orderly_core.mail.ports.MailSender` of production and development."""

    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings

    def compose(self, mail: RenderedMail) -> EmailMessage:
        sender = self._settings.sender
        message = EmailMessage()
        message["From"] = sender
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(mail, sender.domain)
        message["Reply-To"] = self._settings.support_address
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        return message

    async def send(self, mail: RenderedMail) -> MailOutcome:
        settings = self._settings
        message = self.compose(mail)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        started = time.monotonic()
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=password if settings.smtp_username else None,
                use_tls=settings.smtp_tls,
                start_tls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            return self._failed(started, f"recipient refused: {codes}", permanent=permanent)
        except aiosmtplib.SMTPResponseException as error:
            permanent = 500 <= error.code < 600
            reason = f"SMTP {error.code}: {error.message}"
            return self._failed(started, reason, permanent=permanent)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return self._failed(started, f"{type(error).__name__}: {error}", permanent=False)
        return MailOutcome(
            accepted=True,
            latency_ms=_elapsed_ms(started),
            provider_message_id=message["Message-ID"],
        )

    @staticmethod
    def _failed(started: float, reason: str, *, permanent: bool) -> MailOutcome:
        return MailOutcome(
            accepted=False,
            latency_ms=_elapsed_ms(started),
            error=" ".join(reason.split())[:ERROR_MAX],
            permanent=permanent,
        )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
