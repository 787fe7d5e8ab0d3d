"""Field rules of accounts, shared by sign-up, profile changes and user administration.

Passwords are 10-256 characters and not the account's email; emails are compared ignoring
case (:func:`~orderly_core.accounts.model.normalise_email`). Emails and display names are
single-line text (:func:`~orderly_core.shared.validation.text_problem`).
"""

from __future__ import annotations

import uuid

from orderly_core.accounts.model import (
    DISPLAY_NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    normalise_email,
)
from orderly_core.shared.validation import FieldErrors


class AccountFields(FieldErrors):
    """The accounts' field rules, each collecting its error instead of stopping."""

    def email(self, raw: str) -> str:
        if not self.text("email", raw):
            return raw
        email = normalise_email(raw)
        if email is None:
            self.fail(
                "email",
                "must be an email address of at most 254 characters, each part in one script, "
                "without invisible or control characters",
            )
            return raw
        return email

    def display_name(self, raw: str) -> str:
        name = raw.strip()
        if self.text("display_name", raw) and not 1 <= len(name) <= DISPLAY_NAME_MAX:
            self.fail("display_name", f"must be 1-{DISPLAY_NAME_MAX} characters")
        return name

    def password(self, password: str, email: str, field: str = "password") -> str:
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            self.fail(field, f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters")
        elif password.strip().lower() == email.strip().lower():
            self.fail(field, "must not be the email address")
        return password

    def user_ref(self, raw: str) -> uuid.UUID | str:
        """A user named by id, or by email (operators at the CLI know emails, not ids)."""
        try:
            return uuid.UUID(raw)
        except ValueError:
            pass
        if not self.text("user", raw):
            return raw
        email = normalise_email(raw)
        if email is None:
            self.fail("user", "must be a user id or an email address")
            return raw
        return email
