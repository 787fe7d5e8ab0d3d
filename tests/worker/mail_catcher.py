"""The mail catcher as the worker tests' SMTP peer: the real one of ``orderly dev``, on
127.0.0.1, on this test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from orderly_mail.catcher import CaughtMail, Keeper, MailCatcher, inbox

WAIT_S = 20.0


class HoldingKeeper(Keeper):
    """Keeps each email, and holds the server's answer to the first until ``release``."""

    def __init__(self, folder: Path, release: asyncio.Event) -> None:
        super().__init__(folder)
        self._release = release
        self._first = True

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self._first:
            self._first = False
            await self._release.wait()
        return answer


async def caught(folder: Path, count: int, wait_s: float = WAIT_S) -> list[CaughtMail]:
    """The emails kept so far, once at least ``count`` have arrived (fails after ``wait_s``:
    a guard against a hang, not a speed requirement)."""
    async with asyncio.timeout(wait_s):
        while True:
            found = inbox(folder)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)


@asynccontextmanager
async def catching(
    folder: Path, port: int = 0, keeper: Keeper | None = None
) -> AsyncIterator[MailCatcher]:
    catcher = MailCatcher(folder, port, keeper=keeper)
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()
