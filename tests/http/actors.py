"""Who the HTTP tests call the API as.

Tests of what a route does choose the caller by overriding the one context dependency,
:func:`orderly_http.context.request_context`, with the same context made by another actor,
so they need no account, sign-in or token.
Who may call each route is tested with real accounts and bearer tokens in ``test_roles.py``
and ``test_auth.py``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from orderly_core.shared.context import Actor, Context, Role
from orderly_http.context import context_of, request_context

STAFF = Actor.user("5f0c1d2e-staff", Role.STAFF)
ADMIN = Actor.user("5f0c1d2e-admin", Role.ADMIN)
CUSTOMER = Actor.user("5f0c1d2e-customer", Role.CUSTOMER)
ANONYMOUS = Actor.anonymous()


def act_as(app: FastAPI, actor: Actor) -> None:
    """Every later request to ``app`` is made by ``actor``."""

    def as_actor(request: Request) -> Context:
        return context_of(request, actor)

    app.dependency_overrides[request_context] = as_actor
