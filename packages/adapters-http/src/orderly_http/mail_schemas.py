"""The JSON shapes of the mail Orderly sent. A message's token is never part of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orderly_core.mail.model import MailAttempt, MailMessage, message_view
from orderly_core.mail.reading import MailDetail
from orderly_core.shared.paging import Page


class MailMessageResource(BaseModel):
    """One email to one recipient, tried until the SMTP server accepts it or the retries run
    out."""

    model_config = ConfigDict(title="MailMessage")

    id: str
    recipient: str = Field(examples=["ann@example.com"])
    template: str = Field(description="Which email it is", examples=["order_placed"])
    event_id: str | None = Field(description="The event it tells of; null for account emails")
    status: str = Field(
        description="`pending` (waiting for its next attempt), `sent` (the SMTP server "
        "accepted it) or `dead` (every attempt failed, or the server refused it for good)",
        examples=["sent"],
    )
    attempts: int = Field(description="Tries made so far")
    next_attempt_at: datetime | None = Field(description="When it is tried next, if pending")
    last_error: str | None = Field(description="Why the last attempt failed, if it did")
    provider_message_id: str | None = Field(
        description="The Message-ID the SMTP server accepted it with"
    )
    sent_at: datetime | None
    resend_of: str | None = Field(description="The message this one sends again, if any")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, message: MailMessage) -> MailMessageResource:
        return cls.model_construct(**message_view(message))


class MailAttemptResource(BaseModel):
    """One try of a message."""

    model_config = ConfigDict(title="MailAttempt")

    number: int = Field(description="1 for the first try")
    at: datetime
    latency_ms: int
    error: str | None = Field(description="Why it failed; null when the server accepted it")

    @classmethod
    def from_domain(cls, attempt: MailAttempt) -> MailAttemptResource:
        return cls.model_construct(
            number=attempt.number, at=attempt.at, latency_ms=attempt.latency_ms, error=attempt.error
        )


class MailDetailResource(MailMessageResource):
    """A message with what it says (its template's variables) and every attempt, first
    first."""

    model_config = ConfigDict(title="MailMessageDetail")

    data: dict[str, Any] = Field(description="The template's variables (never a token)")
    attempt_log: list[MailAttemptResource]

    @classmethod
    def from_detail(cls, detail: MailDetail) -> MailDetailResource:
        log = [MailAttemptResource.from_domain(a) for a in detail.attempts]
        return cls.model_construct(
            **message_view(detail.message), data=dict(detail.message.data), attempt_log=log
        )


class MailPageResource(BaseModel):
    """One page of mail messages, newest first."""

    model_config = ConfigDict(title="MailMessagePage")

    items: list[MailMessageResource]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )

    @classmethod
    def from_domain(cls, page: Page[MailMessage]) -> MailPageResource:
        items = [MailMessageResource.from_domain(m) for m in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)
