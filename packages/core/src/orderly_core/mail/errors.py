"""The mail context's domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class MailNotFound:
    message_id: str
    code: ClassVar[str] = "mail_not_found"

    @property
    def detail(self) -> str:
        return f"No mail message has the id '{self.message_id}'."


@dataclass(frozen=True, slots=True)
class MailNotResendable:
    """An account email carries a single-use token that is erased once sent: a new link is
    asked for instead (a new password reset, a new verification)."""

    message_id: str
    code: ClassVar[str] = "mail_not_resendable"

    @property
    def detail(self) -> str:
        return (
            f"Mail message '{self.message_id}' carried a single-use link and cannot be sent "
            "again: ask for a new link instead."
        )
