"""Orderly's outbound email: SMTP sending, templates and the development mail catcher."""
