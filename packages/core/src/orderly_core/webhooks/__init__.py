"""Webhooks: endpoints that hear about Orderly's events, signed deliveries and their attempts."""
