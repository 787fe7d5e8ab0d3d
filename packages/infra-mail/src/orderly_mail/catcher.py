"""A local mail catcher: an SMTP server on 127.0.0.1 that keeps every email it receives as
a file, for development (``orderly dev``, ``orderly mail inbox``) and for the tests, which
use it as their real SMTP peer.

Each email is written to ``<folder>/<received time>-<random>.eml`` atomically (a partial
file is never seen). Nothing is relayed anywhere. :class:`MailCatcher` runs on the caller's
event loop; :class:`ThreadedCatcher` runs one on a loop of its own in a thread, for
synchronous callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import secrets
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
SIZE_LIMIT = 10 * 1024 * 1024
# aiosmtpd logs every step of every SMTP conversation at INFO; the catcher says only what
# goes wrong.
SMTP_SERVER_LOGGER = "mail.log"


class Keeper:
    """aiosmtpd's handler: every message's bytes to a file of its own."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        del server, session
        content = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not content:
            content = envelope.content
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self._folder / f"{stamp}-{secrets.token_hex(4)}.eml"
        partial = path.with_name(f".{path.name}.tmp")
        partial.write_bytes(content)
        partial.replace(path)
        return "250 OK: kept"


class MailCatcher:
    """The catcher on the running loop; ``port`` 0 picks a free one. ``keeper`` replaces
    the handler that keeps each email (a test may slow it down)."""

    def __init__(
        self, folder: Path, port: int = 0, host: str = HOST, keeper: Keeper | None = None
    ) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self._keeper = keeper or Keeper(folder)
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()  # connections, open or not

    async def start(self) -> None:
        logging.getLogger(SMTP_SERVER_LOGGER).setLevel(logging.WARNING)
        self.folder.mkdir(parents=True, exist_ok=True)
        keeper = self._keeper
        loop = asyncio.get_running_loop()

        def session() -> SMTP:
            made = SMTP(keeper, hostname="orderly-catcher", data_size_limit=SIZE_LIMIT)
            self._sessions.add(made)
            return made

        self._server = await loop.create_server(session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):  # a client's open connection ends with it
                if session.transport is not None:
                    session.transport.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None


class ThreadedCatcher:
    """A :class:`MailCatcher` on an event loop of its own, in a daemon thread."""

    def __init__(self, folder: Path, port: int = 0, host: str = HOST) -> None:
        self._catcher = MailCatcher(folder, port, host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mail-catcher", daemon=True
        )

    @property
    def port(self) -> int:
        return self._catcher.port

    @property
    def folder(self) -> Path:
        return self._catcher.folder

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._catcher.start(), self._loop).result(10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._catcher.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass(frozen=True, slots=True)
class CaughtMail:
    """One email the catcher kept."""

    path: Path
    received_at: datetime
    sender: str
    recipient: str
    subject: str
    message_id: str
    text: str
    html: str

    @property
    def name(self) -> str:
        return self.path.stem


def read_mail(path: Path) -> CaughtMail:
    parsed: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    message: EmailMessage = parsed
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    stamp = path.name.split("-", 1)[0]
    try:
        received = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return CaughtMail(
        path=path,
        received_at=received,
        sender=str(message.get("From", "")),
        recipient=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        message_id=str(message.get("Message-ID", "")),
        text=_lines(text_part.get_content()) if text_part is not None else "",
        html=_lines(html_part.get_content()) if html_part is not None else "",
    )


def _lines(content: str) -> str:
    """A part's text with its line breaks as Python writes them (SMTP carries CRLF)."""
    return content.replace("\r\n", "\n")


def inbox(folder: Path) -> list[CaughtMail]:
    """Every email kept in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return [read_mail(path) for path in sorted(folder.glob("*.eml"))]
