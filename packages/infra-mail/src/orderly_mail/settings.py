"""The mail settings of the processes that send or read email, as a mixin.

:class:`MailSettings` sits beside the shared infrastructure settings in the worker's
settings (which sends) and the CLI's (which reads the development catcher). SMTP goes to
``SMTP_HOST:SMTP_PORT``, with ``SMTP_STARTTLS`` (upgrade a plain connection, usually port
587) or ``SMTP_TLS`` (TLS from the first byte, usually port 465), never both, and a login
when ``SMTP_USERNAME`` is set. The shop's name, postal address and support email appear in
every email; the password reset and verification links point at the storefront's pages.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import getaddresses
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CATCHER_DIR: Final = Path(".orderly") / "mail"
_HOST: Final = re.compile(r"[A-Za-z0-9.:-]{1,253}")


class MailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    smtp_host: str = Field(default="localhost", description="The SMTP server's host name")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, max_length=255)
    smtp_password: SecretStr | None = Field(default=None)
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS")
    smtp_tls: bool = Field(default=False, description="Implicit TLS from the first byte")
    smtp_timeout_s: float = Field(default=15.0, gt=0, le=300)
    mail_from: str = Field(
        default="Orderly Shop <shop@localhost>",
        max_length=300,
        description="The From of every email: an address, with an optional display name",
    )
    shop_name: str = Field(default="Orderly Shop", min_length=1, max_length=100)
    shop_address: str = Field(default="", max_length=500, description="The shop's postal address")
    support_email: str | None = Field(
        default=None, max_length=254, description="Where customers write to; unset: MAIL_FROM"
    )
    password_reset_url: str = Field(
        default="http://localhost:3000/reset-password",
        max_length=2000,
        description="The storefront's page that sets a new password; ?token=... is appended",
    )
    email_verification_url: str = Field(
        default="http://localhost:3000/verify-email",
        max_length=2000,
        description="The storefront's page that verifies an email; ?token=... is appended",
    )
    mail_templates_dir: Path | None = Field(
        default=None,
        description="A folder of templates that replace the built-in ones of the same name",
    )
    mail_catcher_dir: Path = Field(
        default=DEFAULT_CATCHER_DIR, description="Where the development mail catcher stores mail"
    )

    @field_validator("smtp_host")
    @classmethod
    def _host(cls, host: str) -> str:
        if not _HOST.fullmatch(host):
            raise ValueError("must be a host name or an IP address")
        return host

    @field_validator("mail_from", "support_email")
    @classmethod
    def _address(cls, raw: str | None, info: ValidationInfo) -> str | None:
        if raw is None:
            return None
        if any(not char.isprintable() for char in raw):
            raise ValueError("must not contain control characters")
        found = getaddresses([raw])
        if len(found) != 1 or "@" not in found[0][1]:
            raise ValueError("must be one email address, optionally with a display name")
        if info.field_name == "support_email" and found[0][0]:
            raise ValueError("must be a bare address (no display name)")
        return raw

    @field_validator("password_reset_url", "email_verification_url")
    @classmethod
    def _link(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError("must be an absolute http(s) URL without a fragment")
        if any(char.isspace() or not char.isprintable() for char in url):
            raise ValueError("must not contain spaces or control characters")
        return url

    @model_validator(mode="after")
    def _one_tls_mode(self) -> MailSettings:
        if self.smtp_starttls and self.smtp_tls:
            raise ValueError("SMTP_STARTTLS and SMTP_TLS exclude each other: choose one")
        return self

    @property
    def sender(self) -> Address:
        name, address = getaddresses([self.mail_from])[0]
        local, _, domain = address.rpartition("@")
        return Address(display_name=name, username=local, domain=domain)

    @property
    def support_address(self) -> str:
        return self.support_email or self.sender.addr_spec
