"""The SMTP sender against a real SMTP server (the mail catcher of ``orderly dev``, on
127.0.0.1): what arrives is what was rendered, in any script, and a header can carry no
line break of the data into the message."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from orderly_core.mail.model import RenderedMail
from orderly_mail.catcher import Keeper, inbox
from orderly_mail.settings import MailSettings
from orderly_mail.smtp import SmtpSender
from tests.worker.mail_catcher import catching


def _settings(port: int) -> MailSettings:
    return MailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_from="Café Zoë <shop@mugs.example>",
        support_email="help@mugs.example",
    )


async def test_what_arrives_is_what_was_rendered_in_any_script(tmp_path: Path) -> None:
    mail = RenderedMail(
        id=uuid.uuid4(),
        recipient="ann@example.com",
        subject="Votre commande №7 est passée —\n  merci, Zoë",
        text="Bonjour Zoë,\n\n" + "ligne très longue " * 40 + "\n\n— Café\n",
        html="<p>Bonjour Zoë</p>\n<p>" + "é" * 500 + "</p>",
    )
    async with catching(tmp_path) as catcher:
        outcome = await SmtpSender(_settings(catcher.port)).send(mail)

    assert outcome.accepted, outcome.error
    [arrived] = inbox(tmp_path)
    assert arrived.subject == "Votre commande №7 est passée — merci, Zoë"  # on one line
    assert arrived.sender == "Café Zoë <shop@mugs.example>"
    assert arrived.recipient == "ann@example.com"
    assert arrived.message_id == f"<{mail.id}@mugs.example>"
    assert arrived.text == mail.text
    assert arrived.html == mail.html
    raw = arrived.path.read_bytes()
    assert raw.isascii()  # every part and header encoded for any SMTP server
    assert b"Auto-Submitted: auto-generated" in raw
    assert b"Reply-To: help@mugs.example" in raw


async def test_a_line_break_in_a_header_value_never_reaches_the_server(tmp_path: Path) -> None:
    forged = RenderedMail(
        id=uuid.uuid4(),
        recipient="ann@example.com\r\nBcc: eve@example.com",
        subject="Hello",
        text="x",
        html="<p>x</p>",
    )
    async with catching(tmp_path) as catcher:
        sender = SmtpSender(_settings(catcher.port))
        with pytest.raises(ValueError, match="line break"):
            await sender.send(forged)

    assert inbox(tmp_path) == []


class PeerKeeper(Keeper):
    """Keeps each email, and the client address and port it came from."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.peers: list[object] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


def _mail(n: int) -> RenderedMail:
    return RenderedMail(uuid.uuid4(), f"c{n}@example.com", f"Email {n}", "x", "<p>x</p>")


async def test_emails_one_after_another_share_a_connection(tmp_path: Path) -> None:
    keeper = PeerKeeper(tmp_path)
    async with catching(tmp_path, keeper=keeper) as catcher:
        sender = SmtpSender(_settings(catcher.port))
        outcomes = [await sender.send(_mail(n)) for n in range(3)]
        await sender.close()

    assert all(outcome.accepted for outcome in outcomes)
    assert len(inbox(tmp_path)) == 3
    assert len(set(keeper.peers)) == 1


async def test_an_email_after_the_server_restarted_goes_out_on_a_new_connection(
    tmp_path: Path,
) -> None:
    first, second = PeerKeeper(tmp_path), PeerKeeper(tmp_path)
    async with catching(tmp_path, keeper=first) as catcher:
        sender = SmtpSender(_settings(catcher.port))
        assert (await sender.send(_mail(1))).accepted
        port = catcher.port
    # The connection kept open for the next email is gone with the server.
    async with catching(tmp_path, port=port, keeper=second):
        outcome = await sender.send(_mail(2))
        await sender.close()

    assert outcome.accepted, outcome.error
    assert [m.recipient for m in inbox(tmp_path)] == ["c1@example.com", "c2@example.com"]
    assert len(first.peers) == len(second.peers) == 1


async def test_control_characters_never_reach_a_header(tmp_path: Path) -> None:
    nul_subject = RenderedMail(uuid.uuid4(), "ann@example.com", "Hi\x00 there\x1b[2J", "x", "y")
    nul_recipient = RenderedMail(uuid.uuid4(), "ann@example.com\x00", "Hello", "x", "y")
    async with catching(tmp_path) as catcher:
        sender = SmtpSender(_settings(catcher.port))
        outcome = await sender.send(nul_subject)
        with pytest.raises(ValueError, match="control character"):
            await sender.send(nul_recipient)
        await sender.close()

    assert outcome.accepted, outcome.error
    [arrived] = inbox(tmp_path)
    assert arrived.subject == "Hi there[2J"
    assert arrived.recipient == "ann@example.com"
