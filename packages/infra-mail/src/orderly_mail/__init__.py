"""Orderly's outbound email: SMTP through aiosmtplib, Jinja2 templates, and a local mail
catcher for development and tests."""
