"""Sending rendered emails over SMTP with aiosmtplib.

A connection (implicit TLS or STARTTLS as configured, logged in if configured) carries one
email after another: after a successful send it waits, idle, for the next, up to
:data:`IDLE_S`, and at most :data:`MAX_IDLE` of them wait at once. One that fails in any way
is closed; one the server closed while it waited is replaced, and the email sent on a new
one. Every step has ``SMTP_TIMEOUT_S``. The Message-ID is made from
the message's id, so an email sent again after a crash carries the same Message-ID and a
mail client shows it once. A 5xx answer refuses the email for good (no retry would help);
a 4xx answer, a refused connection or a timeout is tried again on Orderly's schedule.
Nothing of the body is logged.

The message is built with the standard library's ``email.mime`` classes under the compat32
policy: a twentieth of the CPU of ``EmailMessage``'s header parsing, which a busy worker
pays on every email. That policy does not refuse a line break in a header, so every header
value is checked here first (a template's subject is folded onto one line; an address with a
line break is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from email.header import Header
from email.headerregistry import Address
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate

import aiosmtplib

from orderly_core.mail.model import RenderedMail
from orderly_core.mail.ports import MailOutcome
from orderly_mail.settings import MailSettings

ERROR_MAX = 300
IDLE_S = 20.0  # a connection unused this long is closed, well before servers drop one
MAX_IDLE = 8  # connections kept open between emails (the worker sends 8 at once)


def message_id(mail: RenderedMail, domain: str) -> str:
    return f"<{mail.id}@{domain or 'orderly.invalid'}>"


def _header(name: str, value: str) -> str:
    """A header's value on one line and without control characters (a NUL, say): ASCII as
    it is, anything else RFC 2047 encoded."""
    folded = "".join(char for char in " ".join(value.split()) if char.isprintable())
    return folded if folded.isascii() else Header(folded, "utf-8", header_name=name).encode()


def _address(address: Address) -> str:
    return formataddr((address.display_name, address.addr_spec), charset="utf-8")


def _one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a line break in an email header")
    if not value.isprintable():
        raise ValueError("a control character in an email header")
    return value


class SmtpSender:
    """The :class:`~orderly_core.mail.ports.MailSender` of production and development."""

    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings
        self._from = _one_line(_address(settings.sender))
        self._reply_to = _one_line(settings.support_address)
        self._local_hostname: str | None = None  # this host's name, said in EHLO
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # open, and since when unused

    def compose(self, mail: RenderedMail) -> MIMEMultipart:
        message = MIMEMultipart("alternative")
        message["From"] = self._from
        message["To"] = _one_line(mail.recipient)
        message["Subject"] = _header("Subject", mail.subject)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(mail, self._settings.sender.domain)
        message["Reply-To"] = self._reply_to
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.attach(MIMEText(mail.text, "plain", "utf-8"))
        message.attach(MIMEText(mail.html, "html", "utf-8"))
        return message

    async def _ehlo_name(self) -> str:
        """The host's fully qualified name, looked up once (aiosmtplib would look it up in a
        thread on every connection)."""
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname

    async def send(self, mail: RenderedMail) -> MailOutcome:
        message = self.compose(mail)
        started = time.monotonic()
        try:
            await self._deliver(message)
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
        return self._sent(started, message)

    async def _deliver(self, message: MIMEMultipart) -> None:
        client = self._reused()
        if client is not None:
            try:
                await client.send_message(message)
            except aiosmtplib.SMTPServerDisconnected:  # closed while it waited: not taken
                client.close()
            except BaseException:
                client.close()
                raise
            else:
                self._keep(client)
                return
        client = await self._connect()
        try:
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        self._keep(client)

    async def close(self) -> None:
        """Close the connections waiting for an email (the worker is stopping)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
            client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password if settings.smtp_username else None,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_s,
            local_hostname=await self._ehlo_name(),
        )
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return client

    def _reused(self) -> aiosmtplib.SMTP | None:
        """A connection that waited for this email, if one is still fresh and open."""
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and time.monotonic() - since < IDLE_S:
                return client
            client.close()
        return None

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append((client, time.monotonic()))
        else:
            client.close()

    @staticmethod
    def _sent(started: float, message: MIMEMultipart) -> MailOutcome:
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
