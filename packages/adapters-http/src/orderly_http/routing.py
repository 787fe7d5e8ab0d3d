"""The API's routers: FastAPI's, tried only for the paths under their prefix.

FastAPI matches a request against the routes of every included router in turn, each route
by its regular expression, and a router's routes are tried even when the request's path is
not under the router's prefix: a request to the eighteenth router tried every route of the
seventeen before it (a few microseconds each). Every route of a :class:`Router` starts with
its prefix, so a path that does not cannot match any of them, and the router answers "no
match" at once. Routers without a prefix are tried route by route, as before.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class Router(APIRouter):
    """An :class:`~fastapi.APIRouter` that skips its routes for paths outside its prefix."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.prefix and not get_route_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)
