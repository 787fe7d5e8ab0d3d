"""Orderly's payment providers, behind the core's payment port
(:class:`orderly_core.payments.ports.PaymentProvider`)."""
